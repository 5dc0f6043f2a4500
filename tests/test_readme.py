"""README's Python examples run: the "Python API in five lines" block, as written."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _block(section: str) -> str:
    """The first ```python block under the README heading ``section``."""
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n## {section}\n")
    end = text.find("\n## ", start + 1)
    found = re.search(r"```python\n(.*?)```", text[start:end if end > 0 else None], re.S)
    assert found, f"README's {section!r} section has no python block"
    return found.group(1)


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
