"""The command line's short summaries: three significant digits and the path written."""

from __future__ import annotations

import pytest

from judgebench.audit.summary import audit_summary, calibration_summary, fmt_estimate, fmt_num


@pytest.mark.parametrize("x, text", [
    (0.43612, "0.436"), (1.0, "1.00"), (0.5, "0.500"), (125.4, "125"), (1307.2, "1,310"),
    (2.46e-18, "0"), (-0.0549, "-0.0549"), (None, "n/a"), (float("nan"), "n/a"),
])
def test_fmt_num(x, text):
    assert fmt_num(x) == text


def test_fmt_estimate():
    assert fmt_estimate({"estimate": 0.87, "ci": [0.84, 0.9012], "n": 997}) == \
        "0.870 [0.840, 0.901] (n=997)"
    assert fmt_estimate(None) == "n/a"


def _entry(x: float) -> dict:
    return {"estimate": x, "ci": [x - 0.01, x + 0.01], "n": 100}


def test_audit_summary_one_judge(tmp_path):
    (tmp_path / "audit.json").write_text("{}")
    (tmp_path / "measures.csv").write_text("")
    result = {"judge": "j", "n_verdicts": 200, "n_failed": 3,
              "position": {"consistency": _entry(0.4361234)}, "verbosity": {},
              "agreement": {"accuracy": _entry(0.7)}, "probes": {},
              "skipped": {"probes": "probes=False", "agreement.kappa_s2": "no ties"}}
    text = audit_summary(result, tmp_path)
    assert "Judge j: 200 verdicts, 3 failed" in text
    assert "position consistency" in text and "0.436 [0.426, 0.446] (n=100)" in text
    assert "not measured: agreement.kappa_s2, probes" in text
    assert text.splitlines()[-1] == f"Wrote {tmp_path / 'audit.json'} (also measures.csv)"


def test_audit_summary_many_judges_is_one_line_each():
    block = {"n_verdicts": 2, "n_failed": 0, "position": {"consistency": _entry(0.9)},
             "agreement": {}}
    result = {"judges": {f"judge{i}": block for i in range(30)}, "n_verdicts": 60,
              "n_failed": 0}
    lines = audit_summary(result).splitlines()
    assert len(lines) == 1 + 1 + 20 + 1 and "and 10 more judges" in lines[-1]


def test_calibration_summary():
    result = {"raw": {"ece": _entry(0.198), "accuracy": _entry(0.7), "params": {},
                      "split": {"n_fit_pairs": 50, "n_eval_pairs": 50, "seed": 0}},
              "temperature": {"ece": _entry(0.00712), "params": {"t": 2.5}}}
    lines = calibration_summary(result).splitlines()
    assert "fitted on 50 pairs, evaluated on 50 held-out pairs" in lines[0]
    assert lines[2].split()[:2] == ["raw", "0.198"]
    assert lines[3].split()[:2] == ["temperature", "0.00712"]
