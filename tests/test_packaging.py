"""The wheel ships every package and the bundled data (issue 16: a top-level data/ folder).

pyproject.toml lists the packages by hand (the data folder is mapped to ``judgebench.data``,
which discovery cannot see): a new sub-package missing from the list would be left out of the
wheel, so the list is checked against the tree here, and a built wheel is checked for the data.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from importlib import resources
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_is_listed_for_the_wheel():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    tree = {".".join(p.parent.relative_to(ROOT).parts)
            for p in (ROOT / "judgebench").rglob("__init__.py")}
    assert set(cfg["packages"]) == tree | {"judgebench.data"}, (
        "pyproject.toml [tool.setuptools] packages must list every folder with an __init__.py")
    assert cfg["package-dir"] == {"judgebench.data": "data"}


def test_the_data_are_read_through_the_package():
    data = resources.files("judgebench.data")
    for name in ("tasks.jsonl", "pairs.jsonl", "forecast.json"):
        assert data.joinpath(name).is_file(), name
    assert not (ROOT / "judgebench" / "data").exists()  # one home: the top-level data/


@pytest.mark.slow
def test_a_built_wheel_carries_the_data(tmp_path):
    # Built from a copy: a build writes build/ and *.egg-info next to pyproject.toml.
    src = tmp_path / "src"
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in ("judgebench", "data"):
        shutil.copytree(ROOT / name, src / name, ignore=skip)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "--no-build-isolation", str(src), "-w", str(tmp_path)], check=True)
    (wheel,) = tmp_path.glob("judgebench-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in ("tasks.jsonl", "pairs.jsonl", "forecast.json"):
        assert f"judgebench/data/{name}" in names
    assert "judgebench/rlaif/steps/__init__.py" in names


def test_the_product_never_names_the_test_only_real_data():
    # ../shared/realdata is for tests: the package (code, help text, examples) must not need it.
    hits = [str(p.relative_to(ROOT)) for p in (ROOT / "judgebench").rglob("*.py")
            if "realdata" in p.read_text(encoding="utf-8")]
    assert not hits, f"judgebench/ mentions realdata in {hits}"
