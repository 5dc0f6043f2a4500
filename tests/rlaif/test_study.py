"""A study's statistics on hand-made sweep tables with known answers."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from judgebench.rlaif import study


def _table(drift: dict, label: dict, seeds=(0, 1, 2, 3)) -> pd.DataFrame:
    """drift/label: {(calibration, dose): f(seed)}."""
    rows = []
    for (cal, dose), f in drift.items():
        for s in seeds:
            rows.append({"judge.verbosity": str(dose), "calibration": cal, "seed": s,
                         "final_length_drift_chars": f(s),
                         "final_gold_change": -0.01 * f(s),
                         "mean_label_prefers_longer": label[(cal, dose)](s),
                         "mean_label_accuracy": 0.7, "run_position_channel": "none"})
    return pd.DataFrame(rows)


def _known():
    # Uncalibrated: drift = 10 * label-level bias above dose 0 + a seed effect (cancels in
    # every paired contrast); label bias saturates with the dose. Length control: labels at
    # chance whatever the dose, drift at the dose-0 level.
    sat = {0: 0.5, 1: 0.8, 3: 0.9}
    drift = {("none", d): (lambda s, d=d: 100 * (sat[d] - 0.5) + s) for d in sat}
    drift.update({("length", d): (lambda s: 0.0 + s) for d in sat})
    label = {("none", d): (lambda s, d=d: sat[d]) for d in sat}
    label.update({("length", d): (lambda s: 0.5) for d in sat})
    return _table(drift, label)


def test_cells_and_paired_tests_give_the_known_contrasts():
    res = study.analyse(_known(), ["judge.verbosity", "calibration"])
    assert res["n_seeds"] == 4 and res["dose_axis"] == "judge.verbosity"
    cell = next(c for c in res["cells"] if c["cell"] == {"judge.verbosity": "3",
                                                         "calibration": "none"})
    assert cell["drift"]["estimate"] == pytest.approx(40 + 1.5) and cell["drift"]["n"] == 4
    assert cell["drift"]["method"] == "t" and "bootstrap" not in cell["drift"]
    paired = {(t["arm"]["calibration"], t["contrast"]): t for t in res["paired"]}
    d3 = paired[("none", "dose 3 - dose 0")]
    assert d3["drift"]["estimate"] == pytest.approx(40.0)  # the seed effect cancels exactly
    assert d3["drift"]["method"] == "paired t" and d3["drift"]["n"] == 4
    back = paired[("length", "dose 3 calibrated - dose 0 uncalibrated")]
    assert back["drift"]["estimate"] == pytest.approx(0.0) and not back["drift_excludes_zero"]
    removed = paired[("length", "dose 3 calibrated - dose 3 uncalibrated")]
    assert removed["drift"]["estimate"] == pytest.approx(-40.0)
    assert res["cells"][0]["cell"]["calibration"] == "none"  # the uncalibrated arm first
    assert "no channel" in res["position_note"]


def test_propagation_is_stable_on_the_label_scale_and_not_on_the_dose_scale():
    table = _known()
    prop = study.propagation_table(table, ["judge.verbosity", "calibration"])
    by = {tuple(s["setting"].items()): s for s in prop["settings"]}
    none = by[(("calibration", "none"),)]
    # per label-level unit: exactly 100 chars (drift = 100 * Δlabel + seed effect)
    assert none["length_drift_per_label_bias"]["estimate"] == pytest.approx(100.0)
    assert none["length_drift_per_label_bias"]["n"] == 4
    assert "per-seed slopes" in none["length_drift_per_label_bias"]["method"]
    # per dose unit the slope depends on the design: the dose curve saturates.
    slope = none["length_drift_per_unit_bias"]["estimate"]
    assert slope == pytest.approx(np.polyfit([0, 1, 3], [0, 30, 40], 1)[0])
    pooled = by[(("pooled", "all arms"),)]["length_drift_per_label_bias"]
    assert pooled["estimate"] == pytest.approx(100.0, rel=0.05)
    curve = next(d for d in study.analyse(table, ["judge.verbosity", "calibration"])
                 ["dose_response"] if d["arm"] == {"calibration": "none"} and
                 d["metric"] == "drift")
    assert [p["dose"] for p in curve["points"]] == [0.0, 1.0, 3.0]
    assert [p["n"] for p in curve["points"]] == [4, 4, 4]
    assert curve["lack_of_fit"]["p_value"] < 0.01  # saturation is not a line


def test_eight_seeds_add_a_seed_bootstrap_and_markdown_prints_n_and_method():
    table = _table({("none", 0): lambda s: float(s), ("none", 3): lambda s: 5.0 + s},
                   {("none", 0): lambda s: 0.5, ("none", 3): lambda s: 0.9}, seeds=range(8))
    res = study.analyse(table, ["judge.verbosity", "calibration"])
    assert res["cells"][0]["drift"]["bootstrap"]["method"] == "seed-cluster bootstrap"
    md = study.to_markdown(res)
    assert "(n = 8, t)" in md and "paired t" in md and "lack of fit" in md


def test_empty_study_says_so():
    res = study.analyse(pd.DataFrame(), ["judge.verbosity"])
    assert res["note"] == "no finished cell yet"
    assert "no finished cell" in study.to_markdown(res)


def test_summarize_reads_cells_of_earlier_versions(tmp_path):
    import json

    from judgebench.report.load import grid_axes
    from judgebench.rlaif.sweep import summarize

    for seed, dose in ((0, "0"), (0, "3"), (1, "0"), (1, "3")):
        rec = {"judge.verbosity": dose, "seed": seed, "n_iterations": 4,
               "final_length_drift_chars": float(dose) * 10 + seed,
               "final_gold_change": 0.0, "mean_label_prefers_longer": 0.5,
               "position_channel": "none"}  # the key's name before the run_ prefix
        cell = tmp_path / "cells" / f"verbosity={dose}__seed={seed}"
        cell.mkdir(parents=True)
        (cell / "row.json").write_text(json.dumps({
            "cell": cell.name, "values": {"judge.verbosity": dose}, "seed": seed,
            "status": "done", "record": rec, "wall_s": 60.0}))
    summarize(tmp_path)
    table = pd.read_csv(tmp_path / "sweep.csv")
    assert "position_channel" not in table and grid_axes(list(table)) == ["judge.verbosity"]
    study = json.loads((tmp_path / "study.json").read_text())
    assert study["n_cells"] == 4 and "no channel" in study["position_note"]


def test_a_feature_dose_reports_that_feature_not_length():
    # judge.listness: the cells, paired tests and study.md speak of the listness rate, with the
    # length drift kept beside it, never the length drift under the feature's name.
    from judgebench.rlaif.study import analyse, to_markdown

    t = pd.DataFrame({"judge.listness": ["0", "3"] * 3, "seed": [0, 0, 1, 1, 2, 2],
                      "final_feature_rate_change_listness": [0.0, 0.1, 0.02, 0.12, 0.0, 0.09],
                      "final_length_drift_chars": [5.0, -5.0, 4.0, -4.0, 6.0, -6.0],
                      "final_gold_change": [0.0] * 6,
                      "mean_label_prefers_listness": [0.5, 0.95, 0.5, 0.9, 0.55, 0.9]})
    res = analyse(t, ["judge.listness"])
    cells = {c["cell"]["judge.listness"]: c for c in res["cells"]}
    assert cells["3"]["drift"]["estimate"] == pytest.approx(0.31 / 3)
    assert cells["3"]["length_drift"]["estimate"] == pytest.approx(-5.0)
    assert cells["3"]["label_prefers_longer"]["estimate"] == pytest.approx(2.75 / 3)
    assert res["paired"][0]["drift"]["estimate"] == pytest.approx(0.29 / 3)
    md = to_markdown(res)
    assert "showing listness" in md and "more listness" in md and "characters" not in md


def test_study_md_names_metrics_in_words_and_counts_onsets():
    # The dose-response rows say what they measure, and the onset table counts the runs where
    # hacking of the dose's family started, with the median onset iteration over those runs.
    from judgebench.rlaif.study import analyse, to_markdown

    t = pd.DataFrame({"judge.listness": ["0", "3"] * 3, "seed": [0, 0, 1, 1, 2, 2],
                      "final_feature_rate_change_listness": [0.0, 0.1, 0.02, 0.12, 0.0, 0.09],
                      "final_gold_change": [0.0] * 6,
                      "mean_label_prefers_listness": [0.5, 0.95, 0.5, 0.9, 0.55, 0.9],
                      "final_onset_listness": [-1, 2, -1, 4, -1, -1]})
    md = to_markdown(analyse(t, ["judge.listness"]))
    assert "| listness=3 | 2 of 3 | 3 |" in md and "| listness=0 | 0 of 3 | — |" in md
    assert "label_prefers_longer" not in md and "| share of labels picking" in md


def test_a_feature_cell_reports_its_own_rate_change_when_it_finishes():
    from judgebench.rlaif.sweep import _say_cell

    said: list[str] = []
    rec = {"final_feature_rate_change_listness": 0.125, "final_length_drift_chars": -3.0,
           "final_gold_change": 0.01}
    for values in ({"judge.listness": "3"}, {"judge.verbosity": "3"}):
        _say_cell(said.append, {"status": "done", "cell": "c", "values": values,
                                "wall_s": 60.0, "record": rec}, [], Path("."))
    assert "(listness rate change +0.125, drift -3.0 chars" in said[0]
    assert "rate change" not in said[1] and "(drift -3.0 chars" in said[1]
