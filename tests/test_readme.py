"""README's Python examples run, as written: the five-line API and the results block after it,
the audit and the calibration blocks (in a folder holding the files they name). Not run here:
"Win rates" (it names a user's AlpacaEval models and difficulty file; tests/audit/test_winrate.py
runs the same call on the reference's own data) and "Studies" (training: the tiny loop and a
12-cell sweep, which tests/rlaif/test_loop.py and tests/test_results.py run smaller)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks(section: str) -> list[str]:
    """The ```python blocks under the README heading ``section`` (up to the next ## heading)."""
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n## {section}\n")
    end = text.find("\n## ", start + 1)
    found = re.findall(r"```python\n(.*?)```", text[start:end if end > 0 else None], re.S)
    assert found, f"README's {section!r} section has no python block"
    return found


def _block(section: str) -> str:
    """The first ```python block under the README heading ``section``."""
    return _blocks(section)[0]


def _run(code: str, where: str, scope: dict) -> dict:
    exec(compile(code, f"{README}:{where}", "exec"), scope)
    return scope


def test_five_line_api_runs(capsys):
    code = _block("Python API in five lines")
    assert "from judgebench import" in code  # the top-level API, not the stage modules
    scope: dict = {}
    exec(compile(code, f"{README}:Python API in five lines", "exec"), scope)
    audit, calib = scope["audit"], scope["calib"]
    # What the comments promise: ~1.0 logits of position offset, consistency 1.0 after swap.
    assert 0.7 < audit.measure("position.offset_logit")["estimate"] < 1.3
    assert calib.metric("swap", "position_consistency")["estimate"] == 1.0
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 2 and printed[0].startswith("{'estimate'")


def test_the_results_block_runs_after_the_five_lines(monkeypatch, capsys):
    # It uses the five lines' ``audit`` and names the committed study by its relative path.
    import matplotlib
    import matplotlib.pyplot as plt

    from judgebench import DoseResponseDisplay

    matplotlib.use("Agg")
    monkeypatch.chdir(README.parent)
    first, results = _blocks("Python API in five lines")[:2]
    try:
        scope = _run(results, "results block", _run(first, "Python API in five lines", {}))
    finally:
        plt.close("all")
    left, right = scope["left"], scope["right"]
    assert left.get_title() == "Policy length (held-out prompts)" and right.lines
    assert "dose 3 - dose 0" in set(scope["paired"]["contrast"])
    assert scope["cell"][-1]["iteration"] == 4
    assert "calibration=length" in capsys.readouterr().out
    assert isinstance(scope["study"].plot(), DoseResponseDisplay)


def _user_files(folder: Path) -> dict:
    """What the audit and calibration blocks assume a user has: verdicts and pairs files."""
    from judgebench import bundled_pairs, load_judge
    from judgebench.verdicts import save_table

    judge = load_judge("simulated:position=1.0,verbosity=0.5,seed=0")
    verdicts = judge.judge(bundled_pairs())
    save_table(verdicts, folder / "verdicts.parquet")
    bundled_pairs().to_json(folder / "pairs.jsonl", orient="records", lines=True)
    return {"new_verdicts": verdicts, "my_judge": judge, "labelled_pairs": bundled_pairs()}


def test_the_audit_block_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _user_files(tmp_path)
    scope = _run(_block("Auditing a judge"), "Auditing a judge", {})
    res = scope["res"]  # the second call: judged both orders, then probed
    assert res.measure("position.consistency")["n"] > 0 and len(res.probe_verdicts)
    assert (tmp_path / "audit" / "audit.json").exists()


def test_the_calibration_block_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    scope = _run(_block("Calibrating a judge"), "Calibrating a judge", _user_files(tmp_path))
    assert "p_1_raw" in scope["calibrated"].columns
    assert (tmp_path / "calib" / "pipeline.json").exists()
    assert scope["judge"].judge(scope["labelled_pairs"].head(3))["p_1"].between(0, 1).all()
