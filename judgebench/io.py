"""Writing files so that a crash never leaves half of one, and values that JSON can hold.

Every stage that writes a result (the loop's per-iteration files, a sweep's summaries, the
report, the verdict tables) goes through :func:`atomic_path`: the file is written beside its
target and moved over it in one ``os.replace``, so a reader (or a resumed run) sees the old
file or the new one, never a torn one. :func:`to_jsonable` turns numpy scalars and arrays in
nested results into plain JSON types, NaN into ``None``.

>>> to_jsonable({"n": np.int64(3), "x": np.float64("nan"), "v": np.array([1.5, 2.0])})
{'n': 3, 'x': None, 'v': [1.5, 2.0]}
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A new temporary file beside ``path``, moved over ``path`` when the block succeeds.

    The parent folders are created. If the block raises, ``path`` is left as it was and the
    temporary file is removed.

    >>> with atomic_path("out/table.parquet") as tmp:  # doctest: +SKIP
    ...     df.to_parquet(tmp)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _new_temp_beside(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path.

    >>> import tempfile
    >>> p = atomic_write(Path(tempfile.mkdtemp()) / "a" / "state.json", "{}")
    >>> p.read_text()
    '{}'
    """
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def _new_temp_beside(path: Path) -> Path:
    """A new empty file in ``path``'s folder, so os.replace is atomic (same filesystem).

    Not tempfile.mkstemp: it creates mode 0600 whatever the umask, and the rename would carry
    that mode to the output. A random name, so two writers of one path never share a temp file.
    """
    for _ in range(100):
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp
    raise FileExistsError(f"Could not create a temporary file beside {str(path)!r}.")


def to_jsonable(value: Any) -> Any:
    """Numpy scalars/arrays and nested containers -> plain JSON types (NaN and ±inf -> None).

    >>> to_jsonable([np.bool_(True), (1, np.float32(0.5)), float("inf")])
    [True, [1, 0.5], None]
    """
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else None
    return value
