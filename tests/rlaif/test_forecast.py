"""The forecast: fits with known answers, leave-one-out coverage, extrapolation flags, errors."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from judgebench.rlaif import forecast as fc
from judgebench.rlaif import forecast_validation as fv
from judgebench.rlaif.config import dumps, load_config

STUDY_CONFIG = "configs/smollm2-study.toml"
COMMITTED = Path("studies/smollm2-verbosity")


def _curve(x):
    return -10.0 + 60.0 * np.tanh(3.0 * np.asarray(x, float))


def _table(n: int, noise: float, seed: int = 0) -> pd.DataFrame:
    """A study table of n synthetic cells: drift = -10 + 60·tanh(3x) + N(0, noise)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-0.1, 0.5, n)
    x[: max(2, n // 8)] = 0.0  # bias-0 cells: their spread is the seed noise
    return pd.DataFrame({"study": "s", "cell": [f"c{i}" for i in range(n)], "family": "length",
                         "horizon": 4, "x": x, "bias0": x == 0.0,
                         "drift": _curve(x) + rng.normal(0, noise, n),
                         "gold_change": -0.2 * x + rng.normal(0, 0.01, n)})


def _write_cell(study: Path, name: str, dose: float, share: float, drift: float,
                config: str = STUDY_CONFIG, status: str = "done") -> None:
    """A finished cell: iteration-0 labels with ``share`` picking the longer (gold ties)."""
    d = study / "cells" / name
    d.mkdir(parents=True)
    n = 40
    k = int(round(share * n))
    p = np.where(np.arange(n) < k, 0.9, 0.1)  # response_1 is always the longer one
    pd.DataFrame({"iteration": 0, "pair_id": [f"p{i}" for i in range(n)], "p_judge": p,
                  "p12": p, "p21": p, "label": 0.5, "len_1": 90, "len_2": 30,
                  "response_1": "long answer", "response_2": "short"}
                 ).to_parquet(d / "labels.parquet")
    (d / "config.toml").write_text(dumps(load_config(config, [f"judge.verbosity={dose}"])))
    rows = [{"iteration": 0, "evaluated": True, "length_drift_chars": 0.0, "gold_change": 0.0},
            {"iteration": 2, "evaluated": True, "length_drift_chars": drift / 2,
             "gold_change": -drift / 1000},
            {"iteration": 4, "evaluated": True, "length_drift_chars": drift,
             "gold_change": -drift / 500}]
    (d / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (d / "row.json").write_text(json.dumps({"cell": name, "status": status, "seed": 0,
                                            "values": {"judge.verbosity": str(dose),
                                                       "calibration": "none"}}))


def _study(tmp_path: Path, config: str = STUDY_CONFIG) -> Path:
    study = tmp_path / "study"
    for i, (dose, share) in enumerate([(0, 0.5), (0, 0.55), (1, 0.7), (1, 0.75), (3, 0.85),
                                       (3, 0.9)]):
        _write_cell(study, f"cell{i}", dose, share, float(_curve(share - 0.5) + i % 2),
                    config)
    return study


def test_saturating_fit_recovers_known_parameters():
    t = _table(60, noise=1.0)
    fit = fc.SaturatingDoseResponse().fit(t["x"], t["drift"])
    c, a, b = fit.params_
    assert c == pytest.approx(-10, abs=1.0) and a == pytest.approx(60, rel=0.1) \
        and b == pytest.approx(3, rel=0.15)
    # The linear baseline misses the plateau: a larger residual spread on the same cells.
    lin = fc.LinearDoseResponse().fit(t["x"], t["drift"])
    assert lin.resid_var_ > 4 * fit.resid_var_


def test_leave_one_out_coverage_is_near_nominal_on_synthetic_cells():
    v = fv.leave_one_out(_table(80, noise=3.0, seed=1), form="saturating", level=0.8)
    s = v.summary
    assert s["n_cells"] == 80 and 0.7 <= s["coverage"] <= 0.9
    assert s["n_large"] > 40 and s["median_rel_error_large"] < 0.25
    assert s["seed_noise_sd"] == pytest.approx(3.0, rel=0.6)


def test_refit_on_synthetic_cells_writes_model_and_validation(tmp_path):
    study = _study(tmp_path)
    _write_cell(study, "unfinished", 1, 0.6, 0.0, status="failed")  # ignored
    from judgebench.report.plots import forecast_validation_png

    model, report = fv.refit(study, tmp_path / "model.json", draw=forecast_validation_png)
    t = fc.study_table(study)
    assert sorted(t["horizon"].unique()) == [2, 4] and t["cell"].nunique() == 6
    assert t["x"].round(3).tolist()[::2] == [0.0, 0.05, 0.2, 0.25, 0.35, 0.4]
    for name in ("forecast_validation.json", "forecast_validation.md",
                 "forecast_validation.png"):
        assert (study / name).exists() and not (study / "cells" / name).exists()
    back = fc.ForecastModel.from_json(tmp_path / "model.json")
    assert len(back.cells_) == 6 and back.horizons_ == [2, 4]
    a, b = model.predict({"length": 0.3}, 4), back.predict({"length": 0.3}, 4)
    np.testing.assert_allclose(a[["estimate", "low", "high"]], b[["estimate", "low", "high"]])
    assert set(a["target"]) == {"drift", "gold_change"}
    assert report["n_cells"] == 6 and len(report["validations"]) == 8


def test_another_policy_task_mix_or_range_is_flagged_as_extrapolation(tmp_path):
    model = fc.ForecastModel().fit(fc.study_table(_study(tmp_path)))
    inside = {"x_length": 0.2, "position_label_share": None}
    assert fc.extrapolation_flags(model, load_config(STUDY_CONFIG), inside, 4) == []
    flags = fc.extrapolation_flags(model, load_config("configs/tiny.toml"), inside, 4)
    assert any(f.startswith("policy.model") for f in flags)
    mix = load_config(STUDY_CONFIG, ['tasks.kinds=["qa"]'])
    assert any(f.startswith("tasks.kinds") for f in fc.extrapolation_flags(model, mix, inside, 4))
    out = fc.extrapolation_flags(model, load_config(STUDY_CONFIG), {"x_length": 0.49}, 3)
    assert any("outside the fitted" in f for f in out) and any("3 iterations" in f for f in out)
    one_order = load_config(STUDY_CONFIG, ["labeling.orders=random"])
    out = fc.extrapolation_flags(model, one_order, {**inside, "position_label_share": 0.4}, 4)
    assert any("labeling.orders" in f for f in out) and any("position" in f for f in out)


def test_bad_input_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="not a study folder"):
        fc.study_table(tmp_path)
    study = tmp_path / "s"
    _write_cell(study, "c0", 0, 0.5, 0.0, status="failed")
    with pytest.raises(ValueError, match="no finished cell .*none with status 'done'"):
        fc.study_table(study)
    with pytest.raises(ValueError, match="needs at least 4 cells"):
        fc.SaturatingDoseResponse().fit([0, 0.1, 0.2], [1, 2, 3])
    with pytest.raises(ValueError, match="'form' parameter must be one of"):
        fc.ForecastModel(form="cubic").fit(_table(10, 1.0))
    with pytest.raises(FileNotFoundError, match="--refit"):
        fc.ForecastModel.from_json(tmp_path / "missing.json")


@pytest.mark.skipif(not COMMITTED.is_dir(), reason="no committed study")
def test_label_share_is_the_loops_label_prefers_longer_at_iteration_0():
    cell = sorted((COMMITTED / "cells").glob("*/row.json"))[0].parent
    labels = pd.read_parquet(cell / "labels.parquet")
    row0 = json.loads((cell / "metrics.jsonl").read_text().splitlines()[0])
    stats = fc.label_statistics(labels[labels["iteration"] == 0])
    assert stats["share_length"] == pytest.approx(row0["label_prefers_longer"])


def test_forecast_command_runs_iteration_0_of_the_tiny_loop(tmp_path, capsys):
    from judgebench.cli import main

    model = fc.ForecastModel().fit(fc.study_table(_study(tmp_path, "configs/tiny.toml")))
    model.to_json(tmp_path / "m.json")
    assert main(["forecast", "--config", "configs/tiny.toml", "--model",
                 str(tmp_path / "m.json"), "--iterations", "4", "--json",
                 "--work-dir", str(tmp_path / "run")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {p["target"] for p in out["predictions"]} == {"drift", "gold_change"}
    assert 0.0 <= out["audit"]["share_length"] <= 1.0
    assert not any(f.startswith(("policy.", "tasks.")) for f in out["flags"])
    assert (tmp_path / "run" / "iter-000" / "labels.parquet").exists()
    assert not (tmp_path / "run" / "iter-001").exists()  # nothing was trained


def _dosed_table(n_seeds: int, noise: float, seed: int = 0) -> pd.DataFrame:
    """Cells at doses 0..4, n_seeds each: x = 0.1·dose, drift = 50·x·10 + N(0, noise)."""
    rng = np.random.default_rng(seed)
    dose = np.repeat(np.arange(5.0), n_seeds)
    return pd.DataFrame({"study": "s", "cell": [f"c{i}" for i in range(dose.size)],
                         "family": "length", "horizon": 4, "dose": dose, "calibration": "none",
                         "x": 0.1 * dose, "bias0": dose == 0,
                         "drift": 50.0 * dose + rng.normal(0, noise, dose.size),
                         "gold_change": 0.0})


def test_the_seed_noise_floor_is_what_an_oracle_of_the_point_mean_would_miss():
    # Large-drift cells' effects are 50..200 with seed SD 10: an oracle predicting each cell by
    # its point's other seeds errs by |N(0, 10·sqrt(1 + 1/39))|, a median of ~6.8 on the
    # effect of the cell's own dose.
    v = fv.leave_one_out(_dosed_table(40, noise=10.0), form="linear")
    rng = np.random.default_rng(0)
    effect = np.repeat(50.0 * np.arange(1, 5), 40)
    expected = np.median(np.abs(rng.normal(0, 10 * np.sqrt(1 + 1 / 39), effect.size)) / effect)
    assert v.summary["oracle_rel_error_large"] == pytest.approx(expected, abs=0.02)
    # The linear curve is right, so the forecast sits at the floor, not below it.
    assert v.summary["median_rel_error_large"] >= 0.8 * v.summary["oracle_rel_error_large"]


def test_leave_one_point_out_predicts_seed_means_with_intervals_for_a_mean():
    # Over 30 synthetic studies (8 seeds a point, seed SD 20): the intervals for a point's
    # mean cover it near the nominal 80%, and a seed mean is forecast more closely than one
    # seed's run.
    coverage, point_err, cell_err = [], [], []
    for seed in range(30):
        t = _dosed_table(8, noise=20.0, seed=seed)
        points = fv.leave_one_point_out(t, form="linear")
        coverage.append(points.summary["coverage"])
        point_err.append(points.summary["median_abs_error"])
        cell_err.append(fv.leave_one_out(t, form="linear").summary["median_abs_error"])
    assert points.summary["n_points"] == 5 and points.table["n_seeds"].eq(8).all()
    assert 0.65 <= np.mean(coverage) <= 0.92
    assert np.mean(point_err) < 0.7 * np.mean(cell_err)
    with pytest.raises(ValueError, match="'dose' column"):
        fv.leave_one_point_out(t.drop(columns="dose"))
    report = fv.validation_report(t)
    assert len(report["point_validations"]) == 4  # 2 targets x 2 forms
    md = fv.validation_markdown(report)
    assert "## Grid points" in md and "floor seed noise sets" in md


def test_refit_command_writes_the_validation_where_it_is_told(tmp_path, capsys):
    from judgebench.cli import main

    study = _study(tmp_path)
    code = main(["forecast", "--refit", str(study), "--model-out", str(tmp_path / "m.json"),
                 "--validation-out", str(tmp_path / "validation"), "--form", "linear"])
    assert code == 0 and (tmp_path / "m.json").exists()
    assert (tmp_path / "validation" / "forecast_validation.md").exists()
    assert not (study / "forecast_validation.md").exists()
    assert "leave-one-out (linear, 6 cells, 4 it.)" in capsys.readouterr().out
