"""Calibrate-and-apply (calibration/apply.py) and the flags on steps that hurt (pipeline.py)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from judgebench.calibration.apply import fit_and_apply
from judgebench.calibration.pipeline import Pipeline, flag_harmful_stages, run_calibration
from judgebench.cli import main
from judgebench.judges.simulated import simulate_verdicts
from judgebench.verdicts import load_table, save_table


def test_fit_and_apply_calibrates_every_row_and_keeps_the_raw_numbers(tmp_path):
    labelled = simulate_verdicts(400, seed=0, temperature=3.0)
    new = simulate_verdicts(100, seed=1, temperature=3.0).drop(columns="label")
    new.loc[new.index[:3], ["p_first", "p_1"]] = np.nan
    new.loc[new.index[:3], "failed"] = True
    out, info = fit_and_apply(labelled, new, ["swap", "temperature"], out_dir=tmp_path)
    assert len(out) == len(new) == info["n_rows_out"] == 200
    assert info["n_failed_out"] == 3 and out["failed"].sum() == 3  # failures stay failures
    key = ["pair_id", "order"]
    merged = out.merge(new[key + ["p_1"]], on=key, suffixes=("", "_given"))
    np.testing.assert_allclose(merged["p_1_raw"], merged["p_1_given"])  # raw kept
    # The same numbers as the pipeline fitted on all of the labelled table.
    want = Pipeline(["swap", "temperature"]).fit(labelled).transform(new)
    np.testing.assert_allclose(out["p_1"], want["p_1"])
    assert info["params"]["temperature"]["params_"]["simulated"]["temperature"] > 2
    written = load_table(tmp_path / "verdicts.parquet")
    assert len(written) == 200 and "p_1_raw" in written
    assert json.loads((tmp_path / "apply.json").read_text())["steps"] == ["swap", "temperature"]
    assert (tmp_path / "pipeline.json").exists()


def test_fit_and_apply_errors_name_the_problem():
    unlabelled = simulate_verdicts(50, seed=0).drop(columns="label")
    with pytest.raises(ValueError, match=r"\['temperature'\] learn from gold"):
        fit_and_apply(unlabelled, unlabelled, ["swap", "temperature"])
    other = simulate_verdicts(50, seed=0).assign(judge="other")
    with pytest.raises(ValueError, match="fitted on judge"):
        fit_and_apply(simulate_verdicts(100, seed=0), other, ["temperature"])


def test_cli_calibrate_apply_mode(tmp_path, capsys):
    lab = save_table(simulate_verdicts(200, seed=0), tmp_path / "lab.parquet")
    new = save_table(simulate_verdicts(40, seed=1), tmp_path / "new.parquet")
    assert main(["calibrate", "--fit-on", str(lab), "--apply-to", str(new),
                 "--steps", "swap,temperature", "--out", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    assert "Calibrated 80 verdicts" in out and "verdicts.parquet" in out
    assert len(load_table(tmp_path / "o" / "verdicts.parquet")) == 80
    assert main(["calibrate", "--fit-on", str(lab), "--out", str(tmp_path / "o")]) == 2
    assert "--fit-on and --apply-to go together" in capsys.readouterr().err
    assert main(["calibrate", "--out", str(tmp_path / "o")]) == 2
    assert "give --verdicts FILE" in capsys.readouterr().err


def test_flag_harmful_stages_on_a_hand_made_report():
    r = {"raw": {"ece": {"estimate": 0.10}, "nll": {"estimate": 0.60}},
         "swap": {"ece": {"estimate": 0.08}, "nll": {"estimate": 0.65}},
         "length": {"ece": {"estimate": 0.16}, "nll": {"estimate": None}}}
    warnings = flag_harmful_stages(r, ["raw", "swap", "length"])
    assert r["raw"]["hurts"] == [] and r["swap"]["hurts"] == ["nll"]
    assert r["length"]["hurts"] == ["ece"]  # compared with swap, the stage before it
    assert len(warnings) == 2 and warnings[1].startswith("length raised held-out ECE 0.08")


def test_a_step_that_hurts_held_out_calibration_is_flagged_and_said(tmp_path, capsys):
    # The fit split's judge is under-confident (T fitted < 1); the eval split's is already
    # calibrated, so temperature scaling makes it over-confident there: ECE and NLL rise.
    fit = simulate_verdicts(300, seed=0, temperature=0.3, noise=0.0).assign(split="fit")
    ev = simulate_verdicts(300, seed=1, noise=0.0).assign(split="eval")
    ev["pair_id"] = "e" + ev["pair_id"].astype(str)
    v = pd.concat([fit, ev], ignore_index=True)
    r = run_calibration(v, ["temperature"], split_col="split", n_boot=50, out_dir=tmp_path)
    assert set(r["temperature"]["hurts"]) == {"ece", "nll"}
    assert any(w.startswith("temperature raised held-out ECE") for w in r["warnings"])
    assert json.loads((tmp_path / "calibration.json").read_text())["warnings"] == r["warnings"]
    save_table(v, tmp_path / "v.parquet")
    assert main(["calibrate", "--verdicts", str(tmp_path / "v.parquet"), "--steps",
                 "temperature", "--split-col", "split", "--n-boot", "20",
                 "--out", str(tmp_path / "c")]) == 0
    assert "warning: temperature raised held-out ECE" in capsys.readouterr().out


def test_ece_intervals_contain_their_estimate():
    from judgebench.calibration.metrics import calibration_metrics

    # A small, well-calibrated eval set: ECE's plug-in is biased up, its replicates more so.
    v = simulate_verdicts(60, seed=2, noise=0.0)
    m = calibration_metrics(v, n_boot=500, seed=0)
    for key in ("ece", "ece_adaptive"):
        est = m[key]
        assert est.ci_low <= est.estimate <= est.ci_high, (key, est)
        if est.method != "percentile":
            assert est.method == "percentile, bias-recentred" and est.bias > 0
