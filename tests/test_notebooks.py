"""The notebooks: public API only, figures inline, and each runs top to bottom in its small
setting (tiny model, simulated judges)."""

import ast
import importlib
import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import judgebench

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))

#: What a notebook may import besides ``judgebench``'s own names: the result types' package
#: (``judgebench.results``, their documented path), the stage packages' public names (each
#: has an ``__all__``) and the documented entry point of README's "From Python"
#: (``judgebench.rlaif.sweep.run_sweep``). Deep modules (report.plots, report.load,
#: verdicts, rlaif.config, ...) are implementation: a notebook that needs one shows a gap in
#: the public API.
PUBLIC = {"judgebench": None, "judgebench.results": None, "judgebench.audit": None,
          "judgebench.calibration": None, "judgebench.judges": None, "judgebench.importers": None,
          "judgebench.rlaif.sweep": {"run_sweep"}}
#: Reading what a run wrote, instead of asking the result for its tables.
REREADS = ("read_csv", "read_parquet", "read_json", "json.load", "load_table", "load_verdicts")


def _code(path: Path) -> list[str]:
    """The notebook's code cells, IPython magics (``%matplotlib inline``) left out."""
    nb = nbformat.read(path, as_version=4)
    return ["\n".join(line for line in c.source.splitlines()
                      if not line.lstrip().startswith(("%", "!")))
            for c in nb.cells if c.cell_type == "code"]


def _public_names(module: str) -> set[str]:
    allowed = PUBLIC[module]
    if allowed is not None:
        return allowed
    return set(importlib.import_module(module).__all__)


def _non_public(source: str) -> list[str]:
    """Every use of judgebench in ``source`` that is not public API, as text."""
    bad = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            bad += [a.name for a in node.names
                    if a.name.startswith("judgebench.") or a.name == "judgebench" and a.asname]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("judgebench"):
            if node.module not in PUBLIC:
                bad.append(f"from {node.module} import ...")
                continue
            bad += [f"{node.module}.{a.name}" for a in node.names
                    if a.name not in _public_names(node.module)]
        elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
              and node.value.id == "judgebench"):
            # judgebench.X: an exported name, or a module attribute such as __file__.
            if node.attr not in judgebench.__all__ and not node.attr.startswith("__"):
                bad.append(f"judgebench.{node.attr}")
    return bad


def test_there_are_three_notebooks():
    assert [p.name for p in NOTEBOOKS] == [
        "01_audit_a_judge.ipynb", "02_calibrate_a_judge.ipynb", "03_bias_propagation.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_uses_the_public_api_only(path):
    cells = _code(path)
    bad = [b for src in cells for b in _non_public(src)]
    assert not bad, f"{path.name} uses non-public judgebench names: {bad}"
    rereads = [r for src in cells for r in REREADS if r in src]
    assert not rereads, (f"{path.name} re-reads files a run wrote ({rereads}): use the "
                         "result's .tables, or its Display")


def test_the_public_api_check_rejects_deep_imports():
    src = ("import judgebench\nfrom judgebench import run_audit\n"
           "from judgebench.report.plots import position_figure\nimport judgebench.verdicts\n"
           "from judgebench.calibration import Pipeline, _private\n"
           "from judgebench.rlaif.sweep import summarize\nx = judgebench.verdicts\n"
           "root = judgebench.__file__\n")
    assert _non_public(src) == ["from judgebench.report.plots import ...",
                                "judgebench.verdicts", "judgebench.calibration._private",
                                "judgebench.rlaif.sweep.summarize", "judgebench.verdicts"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path, tmp_path, monkeypatch):
    nb = nbformat.read(path, as_version=4)
    # Outputs are stripped in git: a committed notebook must carry none.
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
    monkeypatch.setenv("JUDGEBENCH_NOTEBOOK_SMALL", "1")
    monkeypatch.setenv("JUDGEBENCH_NOTEBOOK_OUT", str(tmp_path / "runs"))
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute(env=dict(os.environ))
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert not errors
    # Figures show inline: a Display at the end of a cell (its _repr_png_), or pyplot's.
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if "image/png" in o.get("data", {})]
    assert len(images) >= 2, f"{path.name} shows {len(images)} figure(s) inline; expected >= 2"
