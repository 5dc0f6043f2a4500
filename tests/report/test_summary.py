"""Plain-language findings (judgebench/report/summary.py)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from judgebench.report import summary
from judgebench.report.load import Section, read_train


def test_pct_and_num_formatting() -> None:
    est = {"estimate": 0.853, "ci": [0.804, 0.889], "n": 120}
    assert summary.pct(est, " pairs") == "85% (95% CI 80–89%, n = 120 pairs)"
    assert summary.num({"estimate": 1.4346, "ci": [1.37, 1.51], "n": 7}, unit=" logits") == \
        "1.43 logits (95% CI 1.37 to 1.51, n = 7)"
    assert summary.num({"estimate": -0.02, "ci": [None, None], "n": 3}, 3, signed=True) == \
        "-0.020 (n = 3)"
    assert summary.pct(None) == summary.pct({"estimate": None}) == "n/a"


def _audit(p_first: dict, slope: dict) -> Section:
    sec = Section("audit", Path("."), "a")
    sec.data["audit"] = {"judge": "j", "n_verdicts": 10, "n_failed": 2,
                         "position": {"p_first": p_first},
                         "verbosity": {"length_slope": slope},
                         "skipped": {"self_preference.delta": "judge_model not given",
                                     "self_preference.judge_win_rate": "judge_model not given"}}
    return sec


def test_direction_words_follow_the_ci() -> None:
    (title, lines), = summary.audit_findings(_audit(
        {"estimate": 0.3, "ci": [0.2, 0.4], "n": 5}, {"estimate": 0.1, "ci": [-0.2, 0.4]}))
    text = " ".join(lines)
    assert title == "judge j" and "10 verdicts, 2 failed" in text
    assert "a second-position bias" in text and "no clear length effect" in text
    # The three self-preference measures share one reason: one line, not three.
    assert sum("Not measured: self_preference" in x for x in lines) == 1
    (_, lines), = summary.audit_findings(_audit(
        {"estimate": 0.55, "ci": [0.45, 0.65], "n": 5}, {"estimate": 1.0, "ci": [0.5, 1.5]}))
    assert "no clear position bias" in " ".join(lines)
    assert "favours longer answers beyond what gold explains" in " ".join(lines)


def test_calibration_without_labels_says_so() -> None:
    sec = Section("calibration", Path("."), "c")
    sec.data["calibration"] = {
        "raw": {"position_consistency": {"estimate": 0.6, "ci": [0.5, 0.7], "n": 9},
                "ece": {"estimate": None, "ci": [None, None], "n": 0},
                "notes": ["no gold labels in the eval split: ECE is empty (n = 0)"],
                "split": {"n_fit_pairs": 9, "n_eval_pairs": 9}, "params": {}},
        "swap": {"position_consistency": {"estimate": 1.0, "ci": [1.0, 1.0], "n": 9},
                 "params": {"n_pairs_both_orders_": 9}}}
    (_, lines), = summary.calibration_findings(sec)
    assert "Position consistency: 0.60 (raw) → 1.00 (swap)." in lines
    assert not any(x.startswith("ECE") for x in lines)  # no numbers to compare
    assert any("no gold labels" in x for x in lines)
    assert not any(x.startswith("Fitted by swap") for x in lines)  # counts are not params


def test_fitted_params_are_flattened() -> None:
    params = {"params_": {"judge-a": {"temperature": 2.318, "n_fit_rows": 400}}}
    assert summary._flat_params(params) == ["judge-a.temperature = 2.32"]


def test_train_findings(tmp_path: Path, make_run) -> None:
    make_run(tmp_path, n_rows=3, n_iterations=2, drift=10.0)
    title, lines = summary.train_findings(read_train(tmp_path, "r"))
    assert title == "r"
    assert "3 of 3 iterations measured (0–2)" in lines[0]
    assert "changed by +20.0 characters (56.0 → 76.0)" in lines[1]
    assert "gold score changed by -0.020" in lines[1]
    empty = Section("train", tmp_path, "e", tables={"metrics": pd.DataFrame()})
    assert summary.train_findings(empty) == ("e", ["No iteration was measured yet."])


def test_runs_comparison_and_sweep_note() -> None:
    runs = [Section("train", Path("."), n, tables={"metrics": pd.DataFrame(
        {"iteration": [0, 1], "length_drift_chars": [0.0, d], "gold_change": [0.0, -0.1]})})
        for n, d in (("biased", 30.0), ("calibrated", 3.0))]
    (_, (line,)), = summary.runs_comparison(runs)
    assert "biased +30.0 characters / gold -0.100; calibrated +3.0 characters" in line
    assert summary.runs_comparison(runs[:1]) == []
    sweep = Section("sweep", Path("."), "s", data={"propagation": {
        "note": "no judge.verbosity axis in the grid: no propagation coefficient.",
        "settings": []}})
    assert summary.sweep_findings(sweep) == [
        ("", ["no judge.verbosity axis in the grid: no propagation coefficient."])]


def test_train_findings_say_when_position_bias_had_no_channel(tmp_path: Path) -> None:
    # A run labelled from both orders (position_channel "none" on every iteration) says so;
    # one labelled from one random order reports the share of labels picking the first.
    def findings(channel: str, picks: float | None) -> str:
        m = pd.DataFrame({"iteration": [0, 1], "length_drift_chars": [0.0, 5.0],
                          "position_channel": [channel, channel],
                          "label_picks_first": [picks, picks]})
        return " ".join(summary.train_findings(
            Section("train", tmp_path, "r", tables={"metrics": m}))[1])

    assert "Position bias could not reach this policy" in findings("none", None)
    noisy = findings("label_noise", 0.8)
    assert "could not reach" not in noisy and "80% of decisive labels picked" in noisy
