"""Finding and reading result directories (judgebench/report/load.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from judgebench.report.load import (
    agreement_matrix,
    dir_kind,
    find_sections,
    read_train,
)


def test_kinds_are_detected_by_files(results: Path, sweep_dir: Path) -> None:
    assert dir_kind(results / "audit-sim") == "audit"
    assert dir_kind(results / "calibration-sim") == "calibration"
    assert dir_kind(results / "runs" / "biased") == "train"
    assert dir_kind(sweep_dir) == "sweep"
    assert dir_kind(results) is None and dir_kind(results / "runs") is None


def test_parent_is_searched_two_levels(results: Path) -> None:
    found = {(s.kind, s.name) for s in find_sections(results)}
    assert found == {("audit", "audit-sim"), ("audit", "audit-multi"),
                     ("calibration", "calibration-sim"), ("train", "runs/biased"),
                     ("train", "runs/calibrated")}


def test_a_result_dir_deeper_than_two_levels_is_not_found(tmp_path: Path, make_run) -> None:
    make_run(tmp_path / "a" / "b" / "c", n_rows=1, n_iterations=1, drift=1.0)
    with pytest.raises(ValueError, match="holds no judgebench results"):
        find_sections(tmp_path)
    assert [s.name for s in find_sections(tmp_path / "a")] == ["b/c"]


def test_killed_run_before_metrics_is_a_train_dir(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("[run]\nn_iterations = 3\n")
    (tmp_path / "state.json").write_text("{}")
    (sec,) = find_sections(tmp_path)
    assert sec.kind == "train" and sec.tables["metrics"].empty
    assert any("metrics.jsonl: not written" in m for m in sec.missing)


def test_missing_directory_is_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope.*does not exist.*audit\.json"):
        find_sections(tmp_path / "nope")


def test_empty_directory_names_expected_files(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"holds no judgebench results.*calibration\.json.*"
                                         r"metrics\.jsonl.*sweep\.csv"):
        find_sections(tmp_path)


def test_a_file_is_not_a_report_directory(tmp_path: Path) -> None:
    f = tmp_path / "x.txt"
    f.write_text("hi")
    with pytest.raises(ValueError, match="is a file"):
        find_sections(f)


def test_partial_run_lists_missing_iterations(tmp_path: Path, make_run) -> None:
    make_run(tmp_path, n_rows=2, n_iterations=3, drift=5.0)
    sec = read_train(tmp_path, "killed")
    assert list(sec.tables["metrics"]["iteration"]) == [0, 1]
    assert sec.data["n_expected"] == 4
    assert any("iterations 2-3 of 0-3 are missing (2 of 4 measured)" in m for m in sec.missing)


def test_cut_off_metrics_line_is_skipped_and_listed(tmp_path: Path, make_run) -> None:
    make_run(tmp_path, n_rows=2, n_iterations=1, drift=5.0)
    with (tmp_path / "metrics.jsonl").open("a") as f:
        f.write('{"iteration": 2, "length_ch')
    sec = read_train(tmp_path, "cut")
    assert len(sec.tables["metrics"]) == 2
    assert any("line 3 is not valid JSON" in m for m in sec.missing)


def test_run_table_flattens_estimates_and_keeps_numbers_only(make_run, tmp_path) -> None:
    # The flattening is the results layer's metrics_frame; the report keeps numbers only.
    rows = [{"iteration": 1, "gold_mean": None, "position_channel": "none",
             "judge_p_first": {"estimate": 0.6, "ci": [0.5, None], "n": 9}},
            {"iteration": 0, "gold_mean": 0.5, "note": "text is dropped"}]
    run = make_run(tmp_path / "run", n_rows=0, n_iterations=1, drift=0.0)
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    m = read_train(run, "run").tables["metrics"]
    assert list(m["iteration"]) == [0, 1]  # sorted
    assert np.isnan(m.loc[1, "gold_mean"]) and m.loc[1, "judge_p_first"] == 0.6
    assert np.isnan(m.loc[1, "judge_p_first_ci_high"])
    assert "note" not in m and "position_channel" not in m


def test_unreadable_audit_json_is_listed(results: Path, copy_of) -> None:
    d = copy_of(results / "audit-sim")
    (d / "audit.json").write_text("{not json")
    (sec,) = find_sections(d)
    assert any(m.startswith("audit.json: could not be read") for m in sec.missing)
    assert "position" in sec.tables  # the CSV tables are still read


def test_agreement_matrix_by_hand() -> None:
    # Pair p0: a and b both pick response_1 in both orders; p1: a picks r1, b splits (tie).
    v = pd.DataFrame({"pair_id": ["p0", "p0", "p1", "p1"] * 2,
                      "judge": ["a"] * 4 + ["b"] * 4,
                      "order": ["12", "21"] * 4,
                      "p_first": [0.9, 0.1, 0.9, 0.1, 0.9, 0.1, 0.9, 0.9],
                      "failed": False, "label": [1, 1, 2, 2] * 2})
    m = agreement_matrix(v, n_boot=0, seed=0).set_index(["row", "col"])["estimate"]
    assert m["a", "b"] == m["b", "a"] == 0.5
    assert m["a", "a"] == m["gold", "gold"] == 1.0
    assert m["a", "gold"] == 0.5   # p0 right, p1 wrong
    assert m["b", "gold"] == 0.5   # p0 right, p1 tie vs r2


def test_agreement_matrix_gold_cell_is_the_audits_s1(results: Path) -> None:
    (sec,) = [s for s in find_sections(results) if s.name == "audit-multi"]
    m = sec.tables["agreement_matrix"].set_index(["row", "col"])
    s1 = sec.tables["agreement"].set_index(["judge", "measure"])
    for judge in ("a", "b"):
        ours = m.loc[(judge, "gold")]
        theirs = s1.loc[(judge, "agreement.s1_agreement")]
        assert ours["estimate"] == pytest.approx(theirs["estimate"])
        assert ours["n"] == theirs["n"]
    settings = json.loads((results / "audit-multi" / "audit.json").read_text())["settings"]
    assert settings["n_boot"] > 0
