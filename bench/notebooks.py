"""Item 6 (opt-in): run notebooks top to bottom at full size and time them.

The test suite runs every notebook in its small setting (``JUDGEBENCH_NOTEBOOK_SMALL=1``: a
random tiny model, fewer pairs, a small tiny-model study); the full setting (the bundled
SmolLM2 judge, every bundled pair, the committed SmolLM2 study) is what a reader runs, and it
takes minutes, so it is timed here rather than tested. Each notebook runs in a fresh kernel in
a temporary folder (``JUDGEBENCH_NOTEBOOK_OUT`` points there: nothing is written into the
repository; notebook 03 only reads the committed study). One run per notebook: a notebook is
minutes of mixed work, so its wall time is reported with the machine's load before and after,
not as a spread.

    python -m bench.run notebooks --notebook 03      # one notebook (a name or its prefix)
    python -m bench.run notebooks                    # all three
    python -m bench.notebooks 01_audit_a_judge      # the same, without the summary
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def log(msg: str) -> None:
    print(f"[notebooks] {msg}", file=sys.stderr, flush=True)


def select(names: list[str] | None) -> list[Path]:
    """The notebooks named (a file name, a stem or a prefix such as ``03``); all when None."""
    every = sorted(NOTEBOOKS.glob("*.ipynb"))
    if not names:
        return every
    chosen = []
    for name in names:
        hits = [p for p in every if p.name == name or p.stem.startswith(name.removesuffix(
            ".ipynb"))]
        if len(hits) != 1:
            raise ValueError(f"--notebook {name!r} matches {len(hits)} notebooks; give one of "
                             f"{[p.stem for p in every]} (or a prefix unique to one).")
        chosen += hits
    return chosen


def run_one(path: Path, *, small: bool = False, timeout_s: int = 3600) -> dict[str, Any]:
    """Execute one notebook in a fresh kernel; its wall time, figures shown and any error."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    env = {k: v for k, v in os.environ.items() if k != "JUDGEBENCH_NOTEBOOK_SMALL"}
    if small:
        env["JUDGEBENCH_NOTEBOOK_SMALL"] = "1"
    with tempfile.TemporaryDirectory(prefix="bench-notebook-") as tmp:
        env["JUDGEBENCH_NOTEBOOK_OUT"] = str(Path(tmp) / "runs")
        client = NotebookClient(nb, timeout=timeout_s, kernel_name="python3",
                                resources={"metadata": {"path": tmp}})
        log(f"{path.name}: running at {'small' if small else 'full'} size")
        t0 = time.perf_counter()
        error = None
        try:
            client.execute(env=env)
        except CellExecutionError as err:
            error = str(err).strip().splitlines()[-1][:300]
        wall = time.perf_counter() - t0
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    res = {"notebook": path.name, "size": "small" if small else "full", "wall_s": wall,
           "figures": sum("image/png" in o.get("data", {}) for o in outputs),
           "code_cells": sum(c.cell_type == "code" for c in nb.cells), "error": error}
    log(f"{path.name}: {wall:.0f} s" + (f", failed: {error}" if error else ""))
    return res


def run(names: list[str] | None = None, *, small: bool = False) -> dict[str, Any]:
    """Every selected notebook, one after the other."""
    return {"notebooks": [run_one(p, small=small) for p in select(names)]}


def table(res: dict[str, Any]) -> list[str]:
    """The summary.md rows of this item."""
    rows = ["| notebook | size | wall time | figures shown | result |", "|---|---|---|---|---|"]
    for r in res["notebooks"]:
        rows.append(f"| {r['notebook']} | {r['size']} | {r['wall_s']:.0f} s | {r['figures']} | "
                    + (f"failed: {r['error']}" if r["error"] else "ran top to bottom") + " |")
    return rows + ["", "One run each, in a fresh kernel, in a temporary folder."]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.notebooks", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("names", nargs="*", help="notebooks (name or prefix); default all")
    p.add_argument("--small", action="store_true", help="the test suite's small setting")
    args = p.parse_args(argv)
    res = run(args.names or None, small=args.small)
    print(json.dumps(res, indent=1))
    return 1 if any(r["error"] for r in res["notebooks"]) else 0


if __name__ == "__main__":
    sys.exit(main())
