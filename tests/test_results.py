"""Typed results (judgebench/results.py): today's JSON unchanged, one shape, save/load, versions."""

from __future__ import annotations

import doctest
import importlib
import json

import pandas as pd
import pytest

from judgebench.audit import run_audit
from judgebench.calibration import Pipeline, run_calibration
from judgebench.judges.simulated import simulate_verdicts
from judgebench.results import (
    AUDIT_COLUMNS,
    CALIBRATION_COLUMNS,
    MANIFEST,
    RESULT_FORMAT,
    AuditResult,
    CalibrationResult,
)


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


@pytest.mark.parametrize("module", ["judgebench", "judgebench.results", "judgebench.audit.suite",
                                    "judgebench.calibration.pipeline"])
def test_doctests(module):
    """The examples in the docstrings of the result types and the five-line API run."""
    failed, _ = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert failed == 0
