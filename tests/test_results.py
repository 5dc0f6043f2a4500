"""Typed results (judgebench/results/): today's JSON unchanged, one shape, save/load, versions."""

from __future__ import annotations

import doctest
import importlib
import json
import pkgutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import judgebench.results
from judgebench.audit import run_audit
from judgebench.calibration import Pipeline, run_calibration
from judgebench.judges.simulated import simulate_verdicts
from judgebench.results import (
    AUDIT_COLUMNS,
    CALIBRATION_COLUMNS,
    MANIFEST,
    RESULT_FORMAT,
    RUN_MEASURE_COLUMNS,
    AuditResult,
    CalibrationResult,
    RunResult,
    SweepResult,
    grid_axes,
    metrics_frame,
)

STUDY = Path(__file__).resolve().parents[1] / "studies" / "smollm2-verbosity"


@pytest.fixture(scope="module")
def two_judges() -> pd.DataFrame:
    return pd.concat([simulate_verdicts(80, seed=0, position=1.0, judge="a"),
                      simulate_verdicts(80, seed=0, position=-0.3, judge="b")],
                     ignore_index=True)


def test_audit_json_is_to_dict_and_round_trips(tmp_path, two_judges):
    for name, v in (("one", simulate_verdicts(80, seed=0, position=1.0)), ("two", two_judges)):
        res = run_audit(v, n_boot=20, out_dir=tmp_path / name)
        assert isinstance(res, AuditResult)
        text = (tmp_path / name / "audit.json").read_text()
        assert text == json.dumps(res.to_dict(), indent=2) + "\n"  # the file is to_dict()
        back = AuditResult.load(tmp_path / name)
        assert back.to_dict() == res.to_dict()
        pd.testing.assert_frame_equal(back.tables["measures"], res.tables["measures"])
        assert set(back.tables) == set(res.tables)
        assert len(back.verdicts) == len(v)
        # Saving again writes the same bytes.
        back.save(tmp_path / f"{name}-again")
        assert (tmp_path / f"{name}-again" / "audit.json").read_text() == text


def test_audit_shape_does_not_depend_on_the_number_of_judges(two_judges):
    one = run_audit(two_judges[two_judges["judge"] == "a"], n_boot=20, probes=False)
    two = run_audit(two_judges, n_boot=20, probes=False)
    assert one.judge_names == ["a"] and two.judge_names == ["a", "b"]
    assert set(one.judges["a"]) == set(two.judges["a"])
    assert one.judges["a"]["position"] == two.judges["a"]["position"]
    for res in (one, two):
        m = res.tables["measures"]
        assert list(m.columns[:len(AUDIT_COLUMNS)]) == list(AUDIT_COLUMNS)
        row = m[(m["judge"] == "a") & (m["measure"] == "position.p_first")].iloc[0]
        assert row["verdict"] == "flagged" and row["q_value"] < 0.05 and row["n_failed"] == 0
        assert m.loc[m["measure"] == "self_preference.delta", "skipped"].notna().all()
    assert two.tables["measures"]["measure"].eq("panel.krippendorff_alpha").sum() == 1
    assert two.n_verdicts == len(two_judges) and two.flags == two.to_dict()["flags"]
    # Today's two JSON shapes are kept by to_dict().
    assert one.to_dict()["judge"] == "a" and "judges" not in one.to_dict()
    assert set(two.to_dict()["judges"]) == {"a", "b"}


def test_deprecated_dict_access_still_works(two_judges):
    one = run_audit(simulate_verdicts(60, seed=0, position=1.0), n_boot=20)
    assert one["position"]["offset_logit"] == one.measure("position.offset_logit")
    assert "agreement" in one and one.get("judges") is None and "judge" in dict(one)
    assert one == json.loads(json.dumps(one.to_dict()))  # compares as the dict it was
    two = run_audit(two_judges, n_boot=20)
    assert two["judges"]["b"]["position"]["p_first"] == two.measure("position.p_first", "b")
    # to_dict() is a copy: editing it leaves the result alone.
    d = one.to_dict()
    d["position"]["offset_logit"]["estimate"] = -99
    assert one.measure("position.offset_logit")["estimate"] != -99


def test_measure_errors_name_the_fix(two_judges):
    one = run_audit(simulate_verdicts(60, seed=0), n_boot=20)
    with pytest.raises(KeyError, match="skipped for judge 'simulated': judge_model not given"):
        one.measure("self_preference.delta")
    with pytest.raises(KeyError, match="No measure 'position.nope'.*position.p_first"):
        one.measure("position.nope")
    two = run_audit(two_judges, n_boot=20)
    with pytest.raises(ValueError, match=r"2 judges were audited; pass judge= one of \['a', 'b'\]"):
        two.measure("position.p_first")
    with pytest.raises(KeyError, match="No judge 'c'"):
        two.measure("position.p_first", judge="c")
    with pytest.raises(ValueError, match="needs 'judge'"):
        AuditResult.from_dict({"position": {}})


def test_repr_html_is_a_compact_table():
    res = run_audit(simulate_verdicts(60, seed=0, position=1.0), n_boot=20)
    page = res._repr_html_()
    assert "<table" in page and "position.offset_logit" in page and "AuditResult" in page
    assert "self_preference.delta" not in page  # skipped measures stay out of the table
    assert "flags: position" in repr(res)
    cal = run_calibration(simulate_verdicts(100, seed=0), ["swap"], n_boot=20)
    assert "<table" in cal._repr_html_() and "position_consistency" in cal._repr_html_()


def test_calibration_json_is_to_dict_and_round_trips(tmp_path, two_judges):
    for name, v in (("one", simulate_verdicts(200, seed=1, temperature=2.5)),
                    ("two", two_judges)):
        r = run_calibration(v, ["swap", "temperature"], n_boot=20, out_dir=tmp_path / name)
        assert isinstance(r, CalibrationResult)
        text = (tmp_path / name / "calibration.json").read_text()
        assert text == json.dumps(r.to_dict(), indent=2, allow_nan=False)
        assert (tmp_path / name / "pipeline.json").read_text() == \
            Pipeline.from_dict(r.pipeline).to_json()
        back = CalibrationResult.load(tmp_path / name)
        assert back.to_dict() == r.to_dict()
        pd.testing.assert_frame_equal(back.tables["metrics"], r.tables["metrics"])
        pd.testing.assert_frame_equal(back.split, r.split)
        assert back.split["pair_id"].map(type).eq(str).all()
        # The same rows for every judge, one judge as well as several.
        m = r.tables["metrics"]
        assert list(m.columns[:len(CALIBRATION_COLUMNS)]) == list(CALIBRATION_COLUMNS)
        judges = sorted(v["judge"].unique())
        per = m[(m["stage"] == "raw") & (m["judge"] != "all")]
        assert sorted(per["judge"].unique()) == judges
        assert set(per["measure"]) == {"accuracy", "nll", "brier", "ece", "ece_adaptive"}
        assert r.metric("swap", "ece") == r["swap"]["ece"]  # deprecated access kept
    with pytest.raises(KeyError, match="No stage 'platt'"):
        r.metric("platt", "ece")
    with pytest.raises(KeyError, match="No metric 'eec'.*ece"):
        r.metric("swap", "eec")


def test_hurts_is_a_column():
    r = run_calibration(simulate_verdicts(200, seed=0), ["swap"], n_boot=20)
    r.stages["swap"]["hurts"] = ["ece"]
    m = r.tables["metrics"].set_index(["stage", "judge", "measure"])
    assert m.loc[("swap", "all", "ece"), "hurts"] and not m.loc[("swap", "all", "nll"), "hurts"]


def test_load_names_the_version_and_what_changed(tmp_path):
    res = run_audit(simulate_verdicts(40, seed=0), n_boot=10, out_dir=tmp_path / "a")
    manifest = json.loads((tmp_path / "a" / MANIFEST).read_text())
    assert manifest["kind"] == "audit" and manifest["format"] == RESULT_FORMAT
    # A result from a newer judgebench: its own manifest says what changed.
    newer = {**manifest, "format": RESULT_FORMAT + 1, "judgebench": "9.0",
             "changes": {**manifest["changes"], str(RESULT_FORMAT + 1): "audit.json split"}}
    (tmp_path / "a" / MANIFEST).write_text(json.dumps(newer))
    with pytest.raises(ValueError, match=rf"judgebench 9.0 in result format {RESULT_FORMAT + 1}"
                                         r".*What changed: .*audit.json split.*Upgrade"):
        AuditResult.load(tmp_path / "a")
    # An old directory (no manifest) still loads, with a warning saying what changed.
    (tmp_path / "a" / MANIFEST).unlink()
    with pytest.warns(UserWarning, match="format 0.*format 1: manifest"):
        assert AuditResult.load(tmp_path / "a").to_dict() == res.to_dict()
    run_calibration(simulate_verdicts(60, seed=0), ["swap"], n_boot=10, out_dir=tmp_path / "c")
    (tmp_path / "c" / "audit.json").write_text((tmp_path / "a" / "audit.json").read_text())
    with pytest.raises(ValueError, match="holds a 'calibration' result.*reads 'audit'"):
        AuditResult.load(tmp_path / "c")
    with pytest.raises(FileNotFoundError, match="holds no calibration.json.*judgebench calibrate"):
        CalibrationResult.load(tmp_path / "a")
    (tmp_path / "c" / MANIFEST).write_text("{not json")
    with pytest.raises(ValueError, match="not readable JSON"):
        CalibrationResult.load(tmp_path / "c")


# ---------------------------------------------------------------------------------------------
# RunResult: a loop run folder


def _loop_rows() -> list[dict]:
    """Three metrics.jsonl rows with what the loop writes: intervals (one without a CI), None,
    text, booleans, an iteration without a held-out evaluation."""
    rows = []
    for i in range(3):
        row = {"iteration": i, "evaluated": i != 1, "position_channel": "none", "n_pairs": 28,
               "label_accuracy": 1.0 - 0.1 * i, "label_prefers_longer": 0.5 + 0.1 * i,
               "judge_p_first": {"estimate": 0.46 + 0.01 * i, "ci": [None, None], "n": 28},
               "judge_length_slope": {"estimate": 0.1 * i, "ci": [-0.2, 0.3 + 0.1 * i], "n": 28,
                                      "method": "percentile"},
               "time_train_s": 1.5}
        if i != 1:  # held-out metrics only where the policy was evaluated
            row.update(length_chars_mean=80.0 + 10 * i, length_drift_chars=10.0 * i,
                       gold_mean=0.2, gold_change=-0.05 * i, length_explained_share=None)
        rows.append(row)
    return rows


CONFIG_TOML = ('[run]\nseed = 0\nn_iterations = 2\n\n[judge]\nspec = "simulated:verbosity=3"\n\n'
               '[calibration]\nsteps = []\n')


def _loop_folder(path: Path) -> Path:
    """A run folder as the loop leaves it: config.toml, metrics.jsonl, state.json, no manifest."""
    path.mkdir(parents=True)
    (path / "config.toml").write_text(CONFIG_TOML)
    (path / "metrics.jsonl").write_text("".join(json.dumps(r, allow_nan=False) + "\n"
                                                for r in _loop_rows()))
    (path / "state.json").write_text(json.dumps({"finished": [], "config_changes": []}))
    return path


def test_run_result_is_the_list_of_rows_it_replaces(tmp_path):
    run = RunResult.load(_loop_folder(tmp_path / "run"))
    rows = _loop_rows()
    assert run == rows and rows == run.rows and len(run) == 3 and run[-1] == rows[-1]
    assert run[1:] == rows[1:] and isinstance(run[1:], list)
    assert [r["iteration"] for r in run] == [0, 1, 2] and rows[0] in run
    assert run[-1]["length_drift_chars"] == 20.0 and run.final is run[-1]
    assert run.iterations == [0, 1, 2] and run.n_planned == 3 and run.complete
    assert run.name == "run" and run.config["judge"]["spec"] == "simulated:verbosity=3"
    # What the sweep's summary_record does with it (rows[-1], filters, comprehensions).
    assert [r for r in run if r.get("evaluated", True)][-1]["iteration"] == 2


def test_run_result_tables(tmp_path):
    run = RunResult.from_rows(_loop_rows(), config_text=CONFIG_TOML, name="r")
    m = run.tables["metrics"]
    assert list(m["iteration"]) == [0, 1, 2] and m["length_drift_chars"].isna().tolist() == [
        False, True, False]
    assert m["length_explained_share"].isna().all() and m["length_explained_share"].dtype == float
    assert m["position_channel"].tolist() == ["none"] * 3  # text is kept
    np.testing.assert_allclose(m["judge_length_slope_ci_high"], [0.3, 0.4, 0.5])
    assert m["judge_p_first_ci_low"].isna().all()
    # The one rule for a run's rows: the report reads runs through the same function.
    pd.testing.assert_frame_equal(m, metrics_frame(_loop_rows()))
    ms = run.tables["measures"]
    assert list(ms.columns[:len(RUN_MEASURE_COLUMNS)]) == list(RUN_MEASURE_COLUMNS)
    assert len(ms) == 6 and set(ms["measure"]) == {"judge_p_first", "judge_length_slope"}
    slope = ms[(ms["measure"] == "judge_length_slope") & (ms["iteration"] == 2)].iloc[0]
    assert (slope["estimate"], slope["ci_low"], slope["n"]) == (pytest.approx(0.2), -0.2, 28)
    page = run._repr_html_()
    assert "<table" in page and "RunResult" in page and "final length drift +20.0 chars" in page
    json.dumps(run.to_dict(), allow_nan=False)  # JSON as it stands


def test_run_result_round_trip_writes_the_loops_bytes(tmp_path):
    src = _loop_folder(tmp_path / "loop")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a loop folder has no manifest: no format-0 warning
        run = RunResult.load(src)
    out = run.save(tmp_path / "saved")
    for name in ("config.toml", "metrics.jsonl"):
        assert (out / name).read_bytes() == (src / name).read_bytes()
    assert json.loads((out / MANIFEST).read_text())["kind"] == "run"
    back = RunResult.load(out)
    assert back == run and back.config_text == run.config_text
    pd.testing.assert_frame_equal(back.tables["metrics"], run.tables["metrics"])
    pd.testing.assert_frame_equal(back.tables["measures"], run.tables["measures"])
    # A run killed before its first metrics row: config only, no rows.
    (tmp_path / "killed").mkdir()
    (tmp_path / "killed" / "config.toml").write_text(CONFIG_TOML)
    killed = RunResult.load(tmp_path / "killed")
    assert len(killed) == 0 and not killed.complete
    with pytest.raises(ValueError, match="no metrics row yet"):
        _ = killed.final
    (tmp_path / "cut").mkdir()
    (tmp_path / "cut" / "metrics.jsonl").write_text('{"iteration": 0}\n{"iter')
    with pytest.raises(ValueError, match="line 2, is not JSON"):
        RunResult.load(tmp_path / "cut")
    with pytest.raises(FileNotFoundError, match="holds no metrics.jsonl.*judgebench train"):
        RunResult.load(tmp_path / "nothing-here")


@pytest.mark.slow
def test_run_loop_returns_a_run_result(tmp_path):
    """The tiny loop, iteration 0 only: what run_loop returns is what the folder holds."""
    from judgebench.rlaif.loop import run_from_config

    rows = run_from_config(Path(__file__).resolve().parents[1] / "configs" / "tiny.toml",
                           tmp_path / "tiny", ["run.n_iterations=0", "tasks.n_eval_prompts=4"])
    assert isinstance(rows, RunResult) and rows.name == "tiny" and len(rows) == 1
    on_disk = [json.loads(x) for x in (tmp_path / "tiny" / "metrics.jsonl").read_text()
               .splitlines()]
    assert rows == on_disk and rows.config_text == (tmp_path / "tiny" / "config.toml").read_text()
    assert RunResult.load(tmp_path / "tiny") == rows
    assert not (tmp_path / "tiny" / MANIFEST).exists()  # the loop's folder is left as it was


# ---------------------------------------------------------------------------------------------
# SweepResult: a sweep (study) folder


def _sweep_folder(out: Path) -> Path:
    """A sweep folder made by the sweep's own summarize() from hand-made cells/*/row.json."""
    from judgebench.rlaif.sweep import summarize

    for bias, drift in (("0", 1.0), ("3", 30.0)):
        for cal, factor in (("none", 1.0), ("length", 0.2)):
            for seed in (0, 1, 2):
                name = f"verbosity={bias}__calibration={cal}__seed={seed}"
                record = {"judge.verbosity": bias, "calibration": cal, "seed": seed,
                          "n_iterations": 2,
                          "final_length_drift_chars": drift * factor + seed,
                          "final_gold_change": -0.01 * drift * factor,
                          "mean_label_prefers_longer": 0.5 + 0.01 * drift * factor,
                          "mean_label_accuracy": 0.9, "run_position_channel": "none"}
                (out / "cells" / name).mkdir(parents=True)
                (out / "cells" / name / "row.json").write_text(json.dumps(
                    {"cell": name, "values": {"judge.verbosity": bias, "calibration": cal},
                     "seed": seed, "status": "done", "record": record, "wall_s": 60.0}))
    summarize(out, ["judge.verbosity", "calibration"], n_boot=100)
    return out


def test_sweep_result_reads_a_sweep_folder(tmp_path):
    out = _sweep_folder(tmp_path / "sweep")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # run_sweep writes no manifest: no warning for it
        res = SweepResult.load(out)
    prop = json.loads((out / "propagation.json").read_text())
    assert res == prop and res["bias_axis"] == "judge.verbosity"  # the dict run_sweep returned
    assert res.grid == ["judge.verbosity", "calibration"] and res.dose_axis == "judge.verbosity"
    assert res.n_cells == 12 and res.failed == []
    t = res.tables
    assert set(t) == {"sweep", "cells", "dose_response", "propagation", "paired"}
    assert t["sweep"]["judge.verbosity"].tolist().count("3") == 6  # grid values stay text
    cells = t["cells"]
    drift = cells[(cells["metric"] == "drift") & (cells["cell"] == "verbosity=3, calibration=none")]
    assert drift["estimate"].tolist() == [31.0] and drift["n"].tolist() == [3]
    assert list(cells.columns[:3]) == ["judge.verbosity", "calibration", "cell"]
    dr = t["dose_response"]
    assert set(dr["metric"]) == {"drift", "gold_change", "label_prefers_longer"}
    assert dr[(dr["arm"] == "calibration=length") & (dr["metric"] == "drift")]["dose"].tolist() \
        == [0.0, 3.0]
    paired = t["paired"]
    row = paired[(paired["contrast"] == "dose 3 - dose 0") & (paired["arm"] == "calibration=none")
                 & (paired["metric"] == "drift")].iloc[0]
    assert row["estimate"] == pytest.approx(29.0) and row["n"] == 3 and row["excludes_zero"]
    coef = t["propagation"]
    assert {"length_drift_per_unit_bias", "length_drift_per_label_bias"} <= set(
        coef["coefficient"])
    study = json.loads((out / "study.json").read_text())
    assert res.to_dict() == json.loads(json.dumps(res.to_dict(), allow_nan=False))
    assert res.to_dict()["study"] == study and len(res.to_dict()["sweep"]) == 12
    page = res._repr_html_()
    assert "<table" in page and "12 finished cells over 3 seed(s)" in page
    assert "verbosity=3, calibration=none" in page
    assert not (out / MANIFEST).exists()  # read, never written


def test_sweep_result_loads_the_committed_study():
    """studies/smollm2-verbosity as committed (read only; a running study may add cells)."""
    res = SweepResult.load(STUDY)
    assert res.name == "smollm2-verbosity" and res.n_cells >= 18
    assert set(res.table["calibration"]) == {"none", "length"}
    assert res.table["judge.verbosity"].map(type).eq(str).all()
    cells = res.tables["cells"]
    assert set(cells["cell"]) <= {f"verbosity={b}, calibration={c}" for b in "013"
                                  for c in ("none", "length")}
    assert (cells["n"] >= 3).all() and cells["ci_low"].le(cells["estimate"]).all()
    dr = res.tables["dose_response"]
    assert sorted(dr["dose"].unique()) == [0.0, 1.0, 3.0]
    assert res["settings"] == res.propagation["settings"]
    assert not (STUDY / MANIFEST).exists()


def test_run_and_sweep_loads_name_the_version(tmp_path):
    run = RunResult.from_rows(_loop_rows(), config_text=CONFIG_TOML)
    out = run.save(tmp_path / "run")
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["format"] == RESULT_FORMAT and manifest["kind"] == "run"
    newer = {**manifest, "format": RESULT_FORMAT + 1, "judgebench": "9.1",
             "changes": {**manifest["changes"], str(RESULT_FORMAT + 1): "metrics split"}}
    (out / MANIFEST).write_text(json.dumps(newer))
    with pytest.raises(ValueError, match=rf"judgebench 9.1 in result format {RESULT_FORMAT + 1}"
                                         r".*metrics split.*Upgrade"):
        RunResult.load(out)
    (out / MANIFEST).write_text(json.dumps({**manifest, "kind": "audit"}))
    with pytest.raises(ValueError, match="holds a 'audit' result.*RunResult.load reads 'run'"):
        RunResult.load(out)
    sweep = _sweep_folder(tmp_path / "sweep")
    (sweep / MANIFEST).write_text(json.dumps({**newer, "kind": "sweep"}))
    with pytest.raises(ValueError, match=rf"judgebench 9.1 in result format {RESULT_FORMAT + 1}"):
        SweepResult.load(sweep)
    with pytest.raises(FileNotFoundError, match="holds no sweep.csv.*Run judgebench sweep"):
        SweepResult.load(tmp_path / "run")


#: Every module of the results package (one per result type, and _base), found, not listed.
RESULT_MODULES = ["judgebench.results", *(f"judgebench.results.{m.name}" for m in
                                           pkgutil.iter_modules(judgebench.results.__path__))]


def test_results_package_has_one_module_per_result_type():
    assert RESULT_MODULES[1:] == ["judgebench.results._base", "judgebench.results.audit",
                                  "judgebench.results.calibration", "judgebench.results.run",
                                  "judgebench.results.sweep"]
    # The public path is the package (and the top level): each type lives in its own module.
    for name, module in (("AuditResult", "audit"), ("CalibrationResult", "calibration"),
                         ("RunResult", "run"), ("SweepResult", "sweep")):
        cls = getattr(judgebench.results, name)
        assert cls.__module__ == f"judgebench.results.{module}"
        assert getattr(importlib.import_module("judgebench"), name) is cls
    assert set(judgebench.results.__all__) <= set(dir(judgebench.results))
    assert grid_axes(["judge.verbosity", "seed", "run_dir", "final_gold_change"]) == [
        "judge.verbosity"]


@pytest.mark.parametrize("module", ["judgebench", *RESULT_MODULES, "judgebench.audit.suite",
                                    "judgebench.calibration.pipeline"])
def test_doctests(module):
    """The examples in the docstrings of the result types and the five-line API run."""
    failed, tried = doctest.testmod(importlib.import_module(module),
                                    optionflags=doctest.ELLIPSIS)
    assert failed == 0 and tried > 0
