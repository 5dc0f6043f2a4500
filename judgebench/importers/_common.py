"""Shared helpers of the importers: file checks, the column order, failure text."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

from judgebench.verdicts import (
    p1_from_p_first,
    read_text,
    validate_verdicts,
)

LEAD = ["pair_id", "judge", "order", "p_first", "p_1", "failed", "error", "raw", "latency_s",
         "n_tokens", "len_1", "len_2", "prompt", "response_1", "response_2", "label", "model_1",
         "model_2", "source"]


# Shared helpers


def _existing(path: str | Path, what: str) -> Path:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No {what} at {str(path)!r}; check the path.")
    return path


def _split(value: str | list[str] | None) -> list[str]:
    """Options arrive as 'a,b,c' from the command line; a Python caller may pass a list."""
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    return [s.strip() for s in items if s.strip()]


def _require(df: pd.DataFrame, columns: list[str], where: Path | str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{str(where)!r} lacks column(s) {missing}; available columns: "
                         f"{list(df.columns)}.")


def _read_records(path: Path) -> pd.DataFrame:
    """A JSON array or JSON lines file as a DataFrame (logs come in both shapes)."""
    text = read_text(path)  # a non-UTF-8 file: an error naming the file and the fix
    if text.lstrip().startswith("["):
        return pd.DataFrame(json.loads(text))
    return pd.DataFrame([json.loads(line) for line in text.splitlines() if line.strip()])


def read_table(path: Path) -> pd.DataFrame:
    """A log table as load_table reads it (Parquet, CSV, JSON lines or a JSON array), also
    gzip-compressed: ``.csv.gz``, ``.jsonl.gz``, ``.json.gz``.

    >>> read_table(Path("log.jsonl.gz")).columns.tolist()  # doctest: +SKIP
    """
    import gzip
    import shutil
    import tempfile

    from judgebench.verdicts import load_table

    if path.suffix.lower() != ".gz":
        return load_table(path)
    # load_table knows formats by suffix: decompress beside a copy named without ".gz"
    with tempfile.TemporaryDirectory() as tmp:
        inner = Path(tmp) / path.with_suffix("").name
        try:
            with gzip.open(path, "rb") as src, inner.open("wb") as dst:
                shutil.copyfileobj(src, dst)
        except (OSError, EOFError) as err:
            raise ValueError(f"{str(path)!r} is not a readable gzip file ({err}); check the "
                             "file, or drop the .gz suffix if it is not compressed.") from None
        return load_table(inner)


def _hash_id(*texts: object) -> str:
    """A stable pair_id from the pair's texts, so both orders of one pair share it."""
    return hashlib.sha1("\x1f".join(map(str, texts)).encode("utf-8")).hexdigest()[:16]


def _text_len(texts: pd.Series) -> np.ndarray:
    return np.array([len(t) if isinstance(t, str) else np.nan for t in texts], dtype=float)


def _finish(frame: pd.DataFrame) -> pd.DataFrame:
    """Fill p_first from p_1 and the order, mark failures, order the columns and validate.

    ``frame`` holds p_1 (NaN where the judgment failed), order and failed; the mapping
    p_1 -> p_first is the same involution as p_first -> p_1.
    """
    out = frame.reset_index(drop=True)
    failed = out["failed"].astype(bool).to_numpy() | out["p_1"].isna().to_numpy()
    p1 = np.where(failed, np.nan, pd.to_numeric(out["p_1"], errors="coerce"))
    out["failed"], out["p_1"] = failed, p1
    out["p_first"] = p1_from_p_first(p1, out["order"].astype(str).to_numpy())
    for col in ("prompt", "response_1", "response_2"):
        if col in out.columns:  # e.g. PandaLM has JSON `true` as a response: keep it as text
            out[col] = out[col].map(lambda t: t if isinstance(t, str) or pd.isna(t) else str(t))
    defaults = {"error": None, "raw": None, "latency_s": np.nan, "n_tokens": np.nan}
    for col, value in defaults.items():
        if col not in out.columns:
            out[col] = value
    for k in ("1", "2"):
        if f"len_{k}" not in out.columns:
            col = f"response_{k}"
            out[f"len_{k}"] = _text_len(out[col]) if col in out.columns else np.nan
    lead = [c for c in LEAD if c in out.columns]
    out = out[lead + [c for c in out.columns if c not in lead]]
    return validate_verdicts(out)


def _error_text(p1: pd.Series, winner: pd.Series, field: str) -> pd.Series:
    return pd.Series(np.where(p1.isna(), [f"{field}={w!r}" for w in winner], None),
                     index=winner.index, dtype=object)

