"""The quickstart end to end in its quick setting (tiny model instead of SmolLM2)."""

import json

from judgebench.cli import main


def test_quickstart_writes_a_report_and_resumes(tmp_path, capsys):
    out = tmp_path / "qs"
    assert main(["quickstart", "--out", str(out), "--quick"]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    report = out / "report" / "report.html"
    assert printed[-1] == str(report)  # the last line is the report's path
    html = report.read_text()
    for section in ("audit-judge", "audit-simulated", "calibration-judge", "calibration-simulated",
                    "biased", "calibrated", "sweep-tiny"):
        assert section in html, section
    prop = json.loads((out / "sweep-tiny" / "propagation.json").read_text())
    coef = {s["setting"]["calibration"]: s["length_drift_per_unit_bias"] for s in prop["settings"]}
    assert set(coef) == {"none", "length"} and all(c["n"] == 2 for c in coef.values())
    assert any("length drift per unit of verbosity bias" in line for line in printed)
    audit = json.loads((out / "audit-simulated" / "audit.json").read_text())
    # The simulated judge's injected position offset (1.0 logits) is found.
    lo, hi = audit["position"]["offset_logit"]["ci"]
    assert lo < 1.0 < hi
    for run in ("biased", "calibrated"):
        rows = (out / "runs" / run / "metrics.jsonl").read_text().splitlines()
        assert len(rows) == 2  # iteration 0 and 1
    timings = json.loads((out / "timings.json").read_text())
    # A second call finds every step done and only redraws the report.
    assert main(["quickstart", "--out", str(out), "--quick"]) == 0
    assert "already done" in capsys.readouterr().out
    assert json.loads((out / "timings.json").read_text())["total"] < timings["total"]
