"""Atomic writes and JSON-able values (judgebench/io.py), shared by every stage that writes."""

import json
import os
import stat

import numpy as np
import pytest

from judgebench.io import atomic_path, atomic_write, to_jsonable


def test_atomic_write_creates_folders_and_leaves_no_temp_file(tmp_path):
    path = atomic_write(tmp_path / "a" / "b" / "state.json", "{\"é\": 1}")
    assert path.read_text(encoding="utf-8") == "{\"é\": 1}"
    assert sorted(p.name for p in path.parent.iterdir()) == ["state.json"]


def test_a_failed_write_keeps_the_old_file(tmp_path):
    path = atomic_write(tmp_path / "x.txt", "old")
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_path(path) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["x.txt"]


def test_the_file_gets_the_usual_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        path = atomic_write(tmp_path / "x.txt", "text")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # not mkstemp's 0o600


def test_to_jsonable_gives_plain_json_types():
    value = {1: np.int64(2), "f": np.float32(0.5), "nan": float("nan"), "b": np.bool_(False),
             "a": np.array([1.0, np.inf]), "t": (np.int8(1), "s"), "none": None}
    out = to_jsonable(value)
    assert out == {"1": 2, "f": 0.5, "nan": None, "b": False, "a": [1.0, None], "t": [1, "s"],
                   "none": None}
    assert type(out["1"]) is int and type(out["b"]) is bool
    json.dumps(out, allow_nan=False)
