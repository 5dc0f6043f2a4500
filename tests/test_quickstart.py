"""The quickstart end to end in its quick setting (tiny model instead of SmolLM2)."""

import json
import shutil
from pathlib import Path

from judgebench.cli import main
from judgebench.rlaif.sweep import summarize

REPO = Path(__file__).resolve().parents[1]


def _small_study(tmp_path: Path) -> Path:
    """A committed-study stand-in: two finished cells' small files (from the tiny sweep)."""
    from judgebench.rlaif.sweep import run_cell

    study = tmp_path / "study"
    for verbosity in ("0", "3"):
        run_cell(str(REPO / "configs" / "tiny.toml"), str(study),
                 {"judge.verbosity": verbosity, "calibration": "none"}, 0,
                 keep_checkpoints=False)
    summarize(study)
    shutil.rmtree(study / "runs", ignore_errors=True)
    return study


def test_quickstart_writes_a_report_and_resumes(tmp_path, capsys):
    study = _small_study(tmp_path)
    out = tmp_path / "qs"
    assert main(["quickstart", "--out", str(out), "--quick", "--study", str(study)]) == 0
    captured = capsys.readouterr()
    printed = captured.out.strip().splitlines()
    # A quiet default: numbered steps and findings, no library noise (issue: a 67 KB demo log).
    assert len(captured.out) + len(captured.err) < 20_000, captured.err[-2000:]
    assert any("step 7/7: report" in line for line in printed)
    report = out / "report" / "report.html"
    assert printed[-1] == str(report)  # the last line is the report's path
    html = report.read_text()
    for section in ("audit-judge", "audit-simulated", "calibration-judge", "calibration-simulated",
                    "study-smollm2", "study-cell"):
        assert section in html, section
    result = json.loads((out / "study-smollm2" / "study.json").read_text())
    assert result["n_cells"] == 2 and result["paired"][0]["contrast"] == "dose 3 - dose 0"
    assert not (study / "study-smollm2").exists()  # the committed folder is left alone
    assert any("n = 1 seeds, paired t" in line for line in printed)
    audit = json.loads((out / "audit-simulated" / "audit.json").read_text())
    # The simulated judge's injected position offset (1.0 logits) is found.
    lo, hi = audit["position"]["offset_logit"]["ci"]
    assert lo < 1.0 < hi
    rows = (out / "runs" / "study-cell" / "metrics.jsonl").read_text().splitlines()
    assert len(rows) == 2  # iteration 0 and 1
    # The libraries' output is kept, off the terminal: the live cell's losses in its own log.
    assert "'loss'" not in captured.out
    cell_log = (out / "runs" / "study-cell" / "train.log").read_text()
    assert "DPOTrainer step 1/" in cell_log and '"loss": ' in cell_log
    rest = out / "quickstart.log"  # written only when the audits' libraries said something
    assert not rest.exists() or "DPOTrainer step" not in rest.read_text()
    timings = json.loads((out / "timings.json").read_text())
    # A second call finds every step done and only redraws the report.
    assert main(["quickstart", "--out", str(out), "--quick", "--study", str(study)]) == 0
    assert "already done" in capsys.readouterr().out
    assert json.loads((out / "timings.json").read_text())["total"] < timings["total"]
