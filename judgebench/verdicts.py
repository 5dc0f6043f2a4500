"""The one table that flows through judgebench: pairs in, verdicts out (DESIGN §1).

A *pairs* table has one row per comparison: ``pair_id, prompt, response_1, response_2`` plus
optional ``label`` (gold), ``model_1``, ``model_2``, ``source`` and any metadata columns, which are
kept, never dropped.

A *verdicts* table has one row per judge call on one ordered presentation: ``order == "12"``
shows response_1 first, ``"21"`` shows response_2 first. ``p_first`` is P(the answer shown first
wins); ``p_1`` maps it back to P(response_1 wins). A failed call has ``failed=True`` and NaN
probabilities: it is counted, never read as a preference.

Label semantics (see docs/design/labels.md): 1 means response_1 is better, 2 means response_2
is better, 0.5 is a tie, and any other value in [0, 1] is P(response_1 is better). The two
readings agree on 1 and 0.5, so :func:`label_to_p1` maps every legal label to one number.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

PAIR_REQUIRED = ("pair_id", "prompt", "response_1", "response_2")
PAIR_OPTIONAL = ("label", "model_1", "model_2", "source")
VERDICT_REQUIRED = ("pair_id", "judge", "order", "p_first", "p_1", "failed")
VERDICT_OPTIONAL = ("raw", "latency_s", "n_tokens", "len_1", "len_2")
ORDERS = ("12", "21")
FORMATS = ("parquet", "csv", "jsonl")


class SchemaError(ValueError):
    """A table does not follow the judgebench schema; the message names the field and the fix."""


def label_to_p1(label: float | int | str) -> float:
    """Map a gold label (1, 2, 0.5 or a probability) to P(response_1 is better).

    >>> label_to_p1(2), label_to_p1(1), label_to_p1(0.5), label_to_p1(0.8)
    (0.0, 1.0, 0.5, 0.8)
    """
    value = float(label)
    if np.isnan(value):
        return float("nan")
    if value == 2:
        return 0.0
    if 0.0 <= value <= 1.0:
        return value
    raise SchemaError(
        f"label must be 1, 2, 0.5 (tie) or a probability in [0, 1]; got {label!r}."
    )


def _first_bad_row(mask: pd.Series, df: pd.DataFrame) -> str:
    idx = mask[mask].index[0]
    pid = df.loc[idx, "pair_id"] if "pair_id" in df.columns else idx
    return f"row {idx} (pair_id={pid!r})"


def _require_columns(df: pd.DataFrame, required: Iterable[str], what: str) -> None:
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise SchemaError(
            f"The {what} table is missing column(s) {missing}; it has {list(df.columns)}. "
            f"Rename your columns (or pass a column mapping to `judgebench import generic`)."
        )


def validate_pairs(pairs: pd.DataFrame) -> pd.DataFrame:
    """Check a pairs table and return a normalised copy (pair_id as str, label as float).

    >>> validate_pairs(pd.DataFrame({"pair_id": [1], "prompt": ["q"],
    ...     "response_1": ["a"], "response_2": ["b"]})).pair_id.tolist()
    ['1']
    """
    if not isinstance(pairs, pd.DataFrame):
        raise SchemaError(f"pairs must be a pandas DataFrame; got {type(pairs).__name__}.")
    _require_columns(pairs, PAIR_REQUIRED, "pairs")
    if len(pairs) == 0:
        raise SchemaError("The pairs table is empty; give at least one pair.")
    out = pairs.copy()
    if out["pair_id"].isna().any():
        raise SchemaError(f"pair_id is missing at {_first_bad_row(out['pair_id'].isna(), out)}.")
    out["pair_id"] = out["pair_id"].astype(str)
    dup = out["pair_id"].duplicated()
    if dup.any():
        raise SchemaError(
            f"pair_id must be unique; {_first_bad_row(dup, out)} repeats an earlier pair_id. "
            "Drop duplicates or make the ids unique (e.g. append the source)."
        )
    for col in ("prompt", "response_1", "response_2"):
        not_str = ~out[col].map(lambda v: isinstance(v, str))
        if not_str.any():
            bad = out.loc[not_str, col].iloc[0]
            raise SchemaError(
                f"{col} must be a string at every row; {_first_bad_row(not_str, out)} holds "
                f"{type(bad).__name__} {bad!r}. Convert it to text or drop the row."
            )
        if col != "prompt":
            empty = out[col].str.strip() == ""
            if empty.any():
                raise SchemaError(
                    f"{col} is empty at {_first_bad_row(empty, out)}; a judge cannot compare "
                    "an empty response. Drop the row or fill in the response."
                )
    if "label" in out.columns:
        out["label"] = _validate_labels(out)
    return out


def _validate_labels(pairs: pd.DataFrame) -> pd.Series:
    labels = pd.to_numeric(pairs["label"], errors="coerce")
    bad_type = labels.isna() & pairs["label"].notna()
    if bad_type.any():
        raise SchemaError(
            f"label must be numeric at {_first_bad_row(bad_type, pairs)}; got "
            f"{pairs.loc[bad_type, 'label'].iloc[0]!r}. Use 1, 2, 0.5 (tie) or a probability."
        )
    bad = labels.notna() & ~(labels.between(0, 1) | (labels == 2))
    if bad.any():
        raise SchemaError(
            f"label must be 1, 2, 0.5 (tie) or a probability in [0, 1]; "
            f"{_first_bad_row(bad, pairs)} has {labels[bad].iloc[0]!r}."
        )
    return labels.astype(float)


def validate_verdicts(verdicts: pd.DataFrame) -> pd.DataFrame:
    """Check a verdicts table and return a normalised copy."""
    _require_columns(verdicts, VERDICT_REQUIRED, "verdicts")
    out = verdicts.copy()
    out["pair_id"] = out["pair_id"].astype(str)
    out["order"] = out["order"].astype(str)
    bad_order = ~out["order"].isin(ORDERS)
    if bad_order.any():
        raise SchemaError(
            f"order must be '12' or '21' at {_first_bad_row(bad_order, out)}; got "
            f"{out.loc[bad_order, 'order'].iloc[0]!r}."
        )
    out["failed"] = out["failed"].astype(bool)
    for col in ("p_first", "p_1"):
        out[col] = pd.to_numeric(out[col], errors="coerce").astype(float)
        ok = out[col].isna() | out[col].between(0, 1)
        if not ok.all():
            raise SchemaError(f"{col} must lie in [0, 1] at {_first_bad_row(~ok, out)}.")
        unexplained = out[col].isna() & ~out["failed"]
        if unexplained.any():
            raise SchemaError(
                f"{col} is NaN at {_first_bad_row(unexplained, out)} but failed is False; "
                "a judgment without a probability must be marked failed=True."
            )
    expected_p1 = np.where(out["order"] == "12", out["p_first"], 1 - out["p_first"])
    mismatch = ~(np.isclose(expected_p1, out["p_1"]) | out["p_1"].isna())
    if mismatch.any():
        raise SchemaError(
            f"p_1 must equal p_first for order '12' and 1 - p_first for '21'; "
            f"{_first_bad_row(pd.Series(mismatch, index=out.index), out)} breaks this."
        )
    dup = out.duplicated(["pair_id", "judge", "order"])
    if dup.any():
        raise SchemaError(
            f"(pair_id, judge, order) must be unique; {_first_bad_row(dup, out)} repeats one. "
            "A verdict counted twice would bias every audit."
        )
    if "label" in out.columns:
        out["label"] = _validate_labels(out)
    return out


def p1_from_p_first(p_first: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Map P(first shown wins) back to P(response_1 wins) for orders '12'/'21'."""
    p_first = np.asarray(p_first, dtype=float)
    return np.where(np.asarray(order) == "12", p_first, 1.0 - p_first)


def text_length(texts: Iterable[str]) -> np.ndarray:
    """Lengths in characters (the unit of DESIGN §4's 30-character threshold)."""
    return np.fromiter((len(t) for t in texts), dtype=np.int64)


def paired(verdicts: pd.DataFrame, column: str = "p_first") -> pd.DataFrame:
    """One row per (judge, pair_id) with ``column`` for each order: columns '12' and '21'.

    Pairs judged in one order only get NaN in the other column.
    """
    wide = verdicts.pivot_table(
        index=["judge", "pair_id"], columns="order", values=column, aggfunc="first", dropna=False
    )
    for order in ORDERS:
        if order not in wide.columns:
            wide[order] = np.nan
    wide.columns.name = None
    return wide[list(ORDERS)]


# ---------------------------------------------------------------------------------------------
# Files


def table_format(path: str | Path, fmt: str | None = None) -> str:
    """The file format from an explicit name or the path's suffix."""
    if fmt is None:
        suffix = Path(path).suffix.lower().lstrip(".")
        fmt = {"pq": "parquet", "json": "jsonl", "ndjson": "jsonl"}.get(suffix, suffix)
    if fmt not in FORMATS:
        raise SchemaError(
            f"Cannot tell the table format of {str(path)!r}; use a .parquet, .csv or .jsonl "
            f"suffix (allowed formats: {FORMATS})."
        )
    return fmt


def load_table(path: str | Path, fmt: str | None = None) -> pd.DataFrame:
    """Read a pairs or verdicts table from Parquet, CSV or JSONL."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No table at {str(path)!r}.")
    fmt = table_format(path, fmt)
    if fmt == "parquet":
        df = pd.read_parquet(path)
    elif fmt == "csv":
        df = pd.read_csv(path, dtype={"pair_id": str, "order": str}, keep_default_na=True)
    else:
        df = pd.read_json(path, lines=True, dtype={"pair_id": str, "order": str})
    if "raw" in df.columns:
        df["raw"] = df["raw"].astype(object).where(df["raw"].notna(), None)
    return df


def save_table(df: pd.DataFrame, path: str | Path, fmt: str | None = None) -> Path:
    """Write a table atomically: a crash mid-write leaves the previous file intact."""
    path = Path(path)
    fmt = table_format(path, fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        out = df.copy()
        if "raw" in out.columns:
            # raw holds strings, dicts or lists; store one JSON-able string per cell.
            out["raw"] = out["raw"].map(_raw_to_text)
        if fmt == "parquet":
            out.to_parquet(tmp, index=False)
        elif fmt == "csv":
            out.to_csv(tmp, index=False)
        else:
            out.to_json(tmp, orient="records", lines=True, force_ascii=False)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def _raw_to_text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str)


def bundled_pairs() -> pd.DataFrame:
    """The bundled pairs with gold labels (regenerate with scripts/make_data.py)."""
    from importlib import resources

    path = resources.files("judgebench").joinpath("data/pairs.jsonl")
    return validate_pairs(pd.read_json(path, lines=True, dtype={"pair_id": str}))
