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

import io
import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from judgebench.io import atomic_path

PAIR_REQUIRED = ("pair_id", "prompt", "response_1", "response_2")
PAIR_OPTIONAL = ("label", "model_1", "model_2", "source")
VERDICT_REQUIRED = ("pair_id", "judge", "order", "p_first", "p_1", "failed")
VERDICT_OPTIONAL = ("raw", "latency_s", "n_tokens", "len_1", "len_2")
ORDERS = ("12", "21")
FORMATS = ("parquet", "csv", "jsonl")
#: Columns that hold text whatever they look like: a response "4", "NA" or "true" is an answer,
#: not a number, a missing value or a boolean. load_table reads them verbatim.
TEXT_COLUMNS = (*PAIR_REQUIRED, "model_1", "model_2", "source", "judge", "order", "error", "raw")
#: Text columns where an empty cell is text ("" — e.g. an empty response, which validation then
#: names); in the other text columns an empty cell means "not given".
VERBATIM_COLUMNS = (*PAIR_REQUIRED, "order")


class SchemaError(ValueError):
    """A table does not follow the judgebench schema; the message names the field and the fix.

    Example:

    >>> validate_pairs(pd.DataFrame({"pair_id": ["p0"], "prompt": ["q"], "response_1": ["a"]}))
    Traceback (most recent call last):
    ...
    judgebench.verdicts.SchemaError: The pairs table is missing column(s) ['response_2']; ...
    """


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
    if missing and what == "verdicts" and set(PAIR_REQUIRED) <= set(df.columns):
        raise SchemaError(
            f"This is a pairs table (it has {list(PAIR_REQUIRED)} but no judge verdicts: "
            f"missing {missing}). Judge it first: `judgebench judge --judge SPEC --pairs FILE "
            "--out verdicts.parquet`, or audit a judge on it directly: `judgebench audit "
            "--judge SPEC --pairs FILE --out DIR`."
        )
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
    no_id = out["pair_id"].isna() | (out["pair_id"].astype(str).str.strip() == "")
    if no_id.any():
        raise SchemaError(f"pair_id is missing at {_first_bad_row(no_id, out)}; give every "
                          "pair an id (or drop the column and import with `judgebench import "
                          "generic`, which hashes the texts into ids).")
    out["pair_id"] = out["pair_id"].astype(str)
    dup = out["pair_id"].duplicated()
    if dup.any() and {"judge", "order", "p_first"} <= set(out.columns):
        raise SchemaError(
            f"pair_id must be unique in a pairs table, and {_first_bad_row(dup, out)} repeats "
            "one: this looks like a verdicts table (it has judge, order and p_first). Pass it "
            "as verdicts instead: `judgebench audit --verdicts FILE` or `judgebench calibrate "
            "--verdicts FILE`."
        )
    if dup.any():
        raise SchemaError(
            f"pair_id must be unique; {_first_bad_row(dup, out)} repeats an earlier pair_id. "
            "Drop duplicates or make the ids unique (e.g. append the source)."
        )
    for col in ("prompt", "response_1", "response_2"):
        missing = out[col].isna()
        if missing.any():
            raise SchemaError(
                f"{col} is missing at {_first_bad_row(missing, out)} (an empty cell or null); "
                "fill it in or drop the row."
            )
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
    """Check a verdicts table and return a normalised copy.

    Example:

    >>> v = pd.DataFrame({"pair_id": [1, 1], "judge": "j", "order": ["12", "21"],
    ...                   "p_first": [0.8, 0.3], "p_1": [0.8, 0.7], "failed": False})
    >>> validate_verdicts(v)[["pair_id", "order", "p_1"]].values.tolist()
    [['1', '12', 0.8], ['1', '21', 0.7]]
    """
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
    """Map P(first shown wins) back to P(response_1 wins) for orders '12'/'21'.

    Example:

    >>> p1_from_p_first(np.array([0.8, 0.3]), np.array(["12", "21"]))
    array([0.8, 0.7])
    """
    p_first = np.asarray(p_first, dtype=float)
    return np.where(np.asarray(order) == "12", p_first, 1.0 - p_first)


def text_length(texts: Iterable[str]) -> np.ndarray:
    """Lengths in characters (the unit of DESIGN §4's 30-character threshold).

    Example:

    >>> text_length(["four", "hello"])
    array([4, 5])
    """
    return np.fromiter((len(t) for t in texts), dtype=np.int64)


def paired(verdicts: pd.DataFrame, column: str = "p_first") -> pd.DataFrame:
    """One row per (judge, pair_id) with ``column`` for each order: columns '12' and '21'.

    Pairs judged in one order only get NaN in the other column.

    Example:

    >>> v = pd.DataFrame({"pair_id": ["p0", "p0"], "judge": "j", "order": ["12", "21"],
    ...                   "p_first": [0.8, 0.3], "p_1": [0.8, 0.7], "failed": False})
    >>> paired(v).values.tolist(), paired(v, "p_1").values.tolist()
    ([[0.8, 0.3]], [[0.8, 0.7]])
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
    """The file format from an explicit name or the path's suffix.

    Example:

    >>> table_format("runs/verdicts.pq"), table_format("pairs.ndjson"), table_format("x", "csv")
    ('parquet', 'jsonl', 'csv')
    """
    if fmt is None:
        suffix = Path(path).suffix.lower().lstrip(".")
        fmt = {"pq": "parquet", "json": "jsonl", "ndjson": "jsonl"}.get(suffix, suffix)
    if fmt not in FORMATS:
        raise SchemaError(
            f"Cannot tell the table format of {str(path)!r}; use a .parquet, .csv or .jsonl "
            f"suffix (allowed formats: {FORMATS})."
        )
    return fmt


def read_text(path: str | Path, encoding: str = "utf-8") -> str:
    """The text of ``path``; a file in another encoding is an error naming the file and the fix.

    >>> read_text("pairs.jsonl")  # doctest: +SKIP
    """
    path = Path(path)
    try:
        return path.read_text(encoding=encoding)
    except UnicodeDecodeError as err:
        raise ValueError(_decode_message(path, err, encoding)) from None


def _decode_message(path: Path, err: UnicodeDecodeError, encoding: str) -> str:
    byte = err.object[err.start:err.start + 1]
    return (
        f"{str(path)!r} is not {encoding} text: byte {byte!r} at offset {err.start} cannot be "
        f"decoded (the file is probably Latin-1/Windows-1252). Re-save it as UTF-8 (e.g. "
        f"`iconv -f latin1 -t utf-8 {path.name} > utf8-{path.name}`), or pass its encoding "
        "(--encoding latin-1 on the command line, encoding='latin-1' in Python)."
    )


def load_table(path: str | Path, fmt: str | None = None, *, encoding: str = "utf-8"
               ) -> pd.DataFrame:
    """Read a pairs or verdicts table from Parquet, CSV or JSONL (a JSON array also works).

    Text columns (:data:`TEXT_COLUMNS`) are read as text whatever they hold: a response "4",
    "NA" or "true" stays that string; in a CSV an empty response stays "" (so validation names
    it). ``encoding`` applies to CSV and JSONL.

    >>> load_table("pairs.jsonl").columns.tolist()  # doctest: +SKIP
    ['pair_id', 'prompt', 'response_1', 'response_2', 'label']
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No table at {str(path)!r}; check the path.")
    if path.is_dir():
        raise SchemaError(f"{str(path)!r} is a directory; give a table file (.parquet, .csv or "
                          ".jsonl).")
    fmt = table_format(path, fmt)
    if fmt == "parquet":
        try:
            df = pd.read_parquet(path)
        except Exception as err:  # pyarrow raises several types for a file that is not Parquet
            raise SchemaError(f"{str(path)!r} is not a readable Parquet file ({err}); check the "
                              "file, or give it the suffix of its real format.") from None
    elif fmt == "csv":
        df = _read_csv(path, encoding)
    else:
        df = _read_jsonl(path, encoding)
    df = _text_as_text(df)
    if "raw" in df.columns:
        df["raw"] = df["raw"].astype(object).where(df["raw"].notna(), None)
    return df


def load_pairs(path: str | Path, *, encoding: str = "utf-8") -> pd.DataFrame:
    """Read and validate a pairs table; an error names the file as well as the row and field.

    Example:

    >>> import tempfile, os
    >>> with tempfile.TemporaryDirectory() as d:
    ...     path = os.path.join(d, "pairs.csv")
    ...     pd.DataFrame({"pair_id": ["p0"], "prompt": ["2+2?"], "response_1": ["4"],
    ...                   "response_2": ["5"], "label": [1]}).to_csv(path, index=False)
    ...     pairs = load_pairs(path)
    >>> pairs[["pair_id", "response_1", "label"]].values.tolist()
    [['p0', '4', 1.0]]
    """
    try:
        return validate_pairs(load_table(path, encoding=encoding))
    except SchemaError as err:
        raise SchemaError(_in_file(path, err)) from None


def load_verdicts(path: str | Path, *, encoding: str = "utf-8") -> pd.DataFrame:
    """Read and validate a verdicts table; an error names the file as well as the row and field.

    A pairs table given here is an error that says so and names the command that judges it.

    Example:

    >>> import tempfile, os
    >>> v = pd.DataFrame({"pair_id": ["p0", "p0"], "judge": "j", "order": ["12", "21"],
    ...                   "p_first": [0.8, 0.3], "p_1": [0.8, 0.7], "failed": False})
    >>> with tempfile.TemporaryDirectory() as d:
    ...     loaded = load_verdicts(save_table(v, os.path.join(d, "verdicts.csv")))
    >>> loaded[["order", "p_1"]].values.tolist()
    [['12', 0.8], ['21', 0.7]]
    """
    try:
        return validate_verdicts(load_table(path, encoding=encoding))
    except SchemaError as err:
        raise SchemaError(_in_file(path, err)) from None


def _in_file(path: str | Path, err: Exception) -> str:
    """The message with the file named in front, unless it names the file already."""
    text = str(err)
    return text if str(path) in text else f"{path}: {text}"


def _read_csv(path: Path, encoding: str) -> pd.DataFrame:
    kw = {"encoding": encoding}
    try:
        df = pd.read_csv(path, dtype={c: str for c in TEXT_COLUMNS}, **kw)
        text = [c for c in TEXT_COLUMNS if c in df.columns]
        if text:
            # Again without NA parsing: "NA", "null" or "" in a text column is text.
            verbatim = pd.read_csv(path, usecols=text, dtype=str, keep_default_na=False, **kw)
            for col in text:
                values = verbatim[col]
                df[col] = (values if col in VERBATIM_COLUMNS
                           else values.astype(object).where(values != "", None))
    except UnicodeDecodeError as err:
        raise SchemaError(_decode_message(path, err, encoding)) from None
    except pd.errors.EmptyDataError:
        raise SchemaError(f"{str(path)!r} is empty; a CSV table needs a header row and at least "
                          "one row.") from None
    except pd.errors.ParserError as err:
        raise SchemaError(f"{str(path)!r} is not a well-formed CSV file ({err}); quote cells "
                          "that hold commas or newlines.") from None
    return df


def _read_jsonl(path: Path, encoding: str) -> pd.DataFrame:
    try:
        text = read_text(path, encoding)
    except ValueError as err:
        raise SchemaError(str(err)) from None
    if not text.strip():
        return pd.DataFrame()
    array = text.lstrip().startswith("[")
    try:
        # dtype=False: JSON types as written, so a quoted "4" stays a string.
        return pd.read_json(io.StringIO(text), lines=not array, dtype=False)
    except ValueError as err:
        where = "" if array else _bad_json_line(text)
        raise SchemaError(f"{str(path)!r} is not valid JSON{' lines' if not array else ''}"
                          f"{where} ({err}); write one JSON object per line.") from None


def _bad_json_line(text: str) -> str:
    for n, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                if not isinstance(json.loads(line), dict):
                    return f": line {n} is not a JSON object"
            except json.JSONDecodeError:
                return f": line {n} does not parse"
    return ""


def _text_as_text(df: pd.DataFrame) -> pd.DataFrame:
    """Scalars in text columns as text: JSON 4 -> "4", true -> "true"; missing stays missing."""
    for col in TEXT_COLUMNS:
        if col in df.columns and not _all_text(df[col]):
            df[col] = df[col].map(_scalar_text).astype(object)
    return df


def _all_text(values: pd.Series) -> bool:
    if isinstance(values.dtype, pd.StringDtype):  # pandas' string dtype: text or missing
        return True
    return bool(values.map(lambda v: isinstance(v, str) or v is None or v is pd.NA
                           or (isinstance(v, float) and np.isnan(v))).all())


def _scalar_text(value: object) -> object:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return None if np.isnan(value) else repr(value)
    return value  # str, None, or a list/dict (chat messages), kept as is


def save_table(df: pd.DataFrame, path: str | Path, fmt: str | None = None) -> Path:
    """Write a table atomically: a crash mid-write leaves the previous file intact.

    The file gets the permissions any new file gets (0o666 minus the umask), so with the
    usual umask 022 a collaborator can read it.

    Example:

    >>> import tempfile, os
    >>> with tempfile.TemporaryDirectory() as d:
    ...     path = save_table(pd.DataFrame({"pair_id": ["p0"], "raw": [{"score": 9}]}),
    ...                       os.path.join(d, "out.csv"))
    ...     print(path.name, load_table(path)["raw"].tolist())
    out.csv ['{"score": 9}']
    """
    path = Path(path)
    fmt = table_format(path, fmt)
    with atomic_path(path) as tmp:
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
    return path


def _raw_to_text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str)


def bundled_pairs() -> pd.DataFrame:
    """The bundled pairs with gold labels (regenerate with scripts/make_data.py).

    >>> pairs = bundled_pairs()
    >>> {"pair_id", "prompt", "response_1", "response_2", "label"} <= set(pairs.columns)
    True
    """
    from importlib import resources

    path = resources.files("judgebench.data").joinpath("pairs.jsonl")
    return validate_pairs(load_table(Path(str(path))))
