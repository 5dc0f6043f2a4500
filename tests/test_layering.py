"""The import walk: no judgebench module imports a later stage (DESIGN §2, issue 16).

The flow is judges -> verdicts -> audit, calibration -> rlaif -> report -> cli/quickstart, and
"nothing imports backwards (report may import everything; judges import nothing above them)".
Every ``import`` in every module counts, the ones inside functions too (a lazy import is still
a dependency). The verdict table's schema (verdicts.py) and the other neutral modules are the
floor that every stage stands on: judges write the table, so they import its schema.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import judgebench

ROOT = Path(judgebench.__file__).parent

#: Rank of each stage (a sub-package, or a top-level module); a module may import its own
#: rank and lower ranks only, and never a peer stage of PEERS.
RANKS = {
    # the floor: the table's schema, the uncertainty layer, model loading, the result types,
    # the shared probability arithmetic (clips, labels, two-order average) and atomic writes
    "verdicts": 0, "stats": 0, "models": 0, "results": 0, "probability": 0, "io": 0,
    "judges": 1, "importers": 1,          # make the verdict table
    "audit": 2,                           # reads it
    # The calibration stands on the audit: it scores calibrated verdicts with the audit's own
    # position and length estimators (calibration.pipeline.evaluate), so the two reports
    # measure the same thing. The audit never imports the calibration (issue 16).
    "calibration": 3,
    "rlaif": 4, "serve": 4,               # train on it (serve: the loop's reward server)
    "report": 5,                          # may import everything below
    "cli": 6, "quickstart": 6, "__main__": 6,
}

#: Stages of one rank that import neither way.
PEERS: set[frozenset[str]] = set()

#: Today's known violations, (importer, imported): each is a finding of issue 16 and goes
#: when it is fixed. A new violation fails the test; so does an entry here that is fixed.
#: (The bootstrap, per_pair, the gold-label map and the swap average moved to the floor:
#: judgebench/stats.py and judgebench/probability.py.)
KNOWN: set[tuple[str, str]] = set()


def _module_name(path: Path) -> str:
    parts = ["judgebench", *path.relative_to(ROOT).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every judgebench module that ``path`` imports, anywhere in the file."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the importing package
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, *([base] if base else [])])
            found.add(base)
    return {m for m in found if m == "judgebench" or m.startswith("judgebench.")}


def _stage(module: str) -> str:
    return module.split(".")[1] if "." in module else ""


def _violations() -> set[tuple[str, str]]:
    bad = set()
    for path in sorted(ROOT.rglob("*.py")):
        importer = _module_name(path)
        if importer == "judgebench":
            # The package root only re-exports the public API, lazily (its imports of the
            # stages are for type checkers); everyone may import it for __version__.
            continue
        src = _stage(importer)
        assert src in RANKS, (f"{importer} is in no stage: give {src!r} a rank in RANKS "
                              "(tests/test_layering.py), per DESIGN §2.")
        for imported in _imports(path):
            dst = _stage(imported)
            if imported == "judgebench" or dst == src:
                continue
            assert dst in RANKS, f"{importer} imports {imported}, which is in no stage"
            if RANKS[dst] > RANKS[src] or frozenset({src, dst}) in PEERS:
                bad.add((importer, imported))
    return bad


def test_no_module_imports_a_later_stage():
    found = _violations()
    new = sorted(found - KNOWN)
    assert not new, ("Imports of a later (or peer) stage, against DESIGN §2's layering: "
                     + "; ".join(f"{a} imports {b}" for a, b in new)
                     + ". Move the shared code down a stage (e.g. into judgebench/stats.py).")
    fixed = sorted(KNOWN - found)
    assert not fixed, f"Fixed, so remove from KNOWN in tests/test_layering.py: {fixed}"


def test_the_floor_imports_only_the_floor():
    # The neutral modules every stage stands on import no stage at all, lazily or not: the
    # uncertainty layer and the shared arithmetic are what audit/ and calibration/ share.
    # A floor stage may be a package (judgebench/results/): every module in it counts.
    floor = {name for name, rank in RANKS.items() if rank == 0}
    checked = set()
    for path in sorted(ROOT.rglob("*.py")):
        name = _module_name(path)
        if _stage(name) in floor:
            checked.add(_stage(name))
            above = sorted(m for m in _imports(path) if _stage(m) not in floor | {""})
            assert not above, f"{name} (the floor) imports {above}"
    assert checked == floor, f"floor stages without a module: {sorted(floor - checked)}"


def test_the_walk_sees_lazy_and_relative_imports(tmp_path):
    src = tmp_path / "judgebench" / "audit" / "x.py"
    src.parent.mkdir(parents=True)
    src.write_text("def f():\n    from judgebench.rlaif import loop\n"
                   "from ..report import plots\nfrom . import position\n")
    global ROOT
    old, ROOT = ROOT, tmp_path / "judgebench"
    try:
        assert _imports(src) == {"judgebench.rlaif", "judgebench.report", "judgebench.audit"}
    finally:
        ROOT = old


def test_import_judgebench_pulls_neither_torch_nor_the_stages():
    code = ("import sys, judgebench; heavy = [m for m in sys.modules if m == 'torch' or "
            "m.startswith(('judgebench.', 'transformers', 'pandas'))]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"
    # The five-line API is there, on first use.
    assert set(judgebench.__all__) == {"__version__", *judgebench._EXPORTS}
    assert {"load_judge", "bundled_pairs", "run_audit", "run_calibration", "AuditResult",
            "CalibrationResult"} <= set(dir(judgebench))
    assert judgebench.run_audit is __import__("judgebench.audit.suite",
                                              fromlist=["run_audit"]).run_audit
