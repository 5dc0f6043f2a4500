"""How logs spell a decision, and the user's recodes: "A>B", "tie", 0/1/2, "winner=0:1,1:2,2:tie".

Decisions (a judge's winner) and gold labels come in many spellings. A *decision* is read by
position when it names a slot (A/B: the answer shown first/second; "A>B", "A=B", "B>A") and by
response otherwise (1/2, response_1/response_2, model_1/model_2, model_a/model_b; tie/draw/C).
A *label* has no presentation order, so A and "A>B" there mean response_1.

>>> decision_p1(pd.Series(["A>B", "B>A", "A=B", "2"]), pd.Series(["12", "21", "12", "12"])).tolist()
[1.0, 1.0, 0.5, 0.0]
"""

from __future__ import annotations

import re
import warnings

import pandas as pd

from judgebench.verdicts import p1_from_p_first

#: Winner codes that name the winning response (P(response_1 wins)).
BY_RESPONSE = {"1": 1.0, "2": 0.0, "response_1": 1.0, "response_2": 0.0, "model_1": 1.0,
               "model_2": 0.0, "model_a": 1.0, "model_b": 0.0, "tie": 0.5, "draw": 0.5,
               "tie (bothbad)": 0.5, "0": 0.5, "0.5": 0.5, "c": 0.5}
#: Winner codes that name the winning position (P(first shown wins)).
BY_POSITION = {"a": 1.0, "b": 0.0, "a>b": 1.0, "b>a": 0.0, "a>>b": 1.0, "b>>a": 0.0,
               "a=b": 0.5, "b=a": 0.5, "[[a]]": 1.0, "[[b]]": 0.0, "[[c]]": 0.5}
#: Gold label spellings -> the label scale (1, 2, 0.5 for a tie).
LABELS = {"a": 1.0, "b": 2.0, "a>b": 1.0, "b>a": 2.0, "a>>b": 1.0, "b>>a": 2.0, "a=b": 0.5,
          "b=a": 0.5, "1": 1.0, "2": 2.0, "response_1": 1.0, "response_2": 2.0, "model_1": 1.0,
          "model_2": 2.0, "model_a": 1.0, "model_b": 2.0, "tie": 0.5, "draw": 0.5, "0.5": 0.5,
          "tie (bothbad)": 0.5, "c": 0.5}

_RECODE = re.compile(r"^[^,:]*:[^,]*(,[^,:]*:[^,]*)*$")


def normalise(values: pd.Series) -> pd.Series:
    """Codes as lower-case stripped text, "1.0" -> "1"; missing stays missing.

    Example:

    >>> normalise(pd.Series([" Tie", "A>B", "1.0", 2])).tolist()
    ['tie', 'a>b', '1', '2']
    """
    text = values.map(lambda v: v if pd.isna(v) else str(v)).astype(object)
    return text.where(text.isna(), text.astype(str).str.strip().str.lower().str.replace(
        r"^(-?\d+)\.0$", r"\1", regex=True))


def decision_p1(codes: pd.Series, order: pd.Series) -> pd.Series:
    """P(response_1 wins) from winner codes (see module doc); an unknown code is NaN.

    Example:

    >>> codes, order = pd.Series(["A", "A", "tie", "model_b"]), pd.Series(["12", "21", "12", "12"])
    >>> decision_p1(codes, order).tolist()   # "A" is the slot shown first
    [1.0, 0.0, 0.5, 0.0]
    """
    code = normalise(codes)
    by_pos = pd.Series(p1_from_p_first(code.map(BY_POSITION).astype(float).to_numpy(),
                                       order.astype(str).to_numpy()), index=codes.index)
    return code.map(BY_RESPONSE).astype(float).fillna(by_pos)


def label_values(labels: pd.Series, column: str) -> pd.Series:
    """Gold labels on judgebench's scale: numbers kept, spellings such as "A>B" mapped.

    An unknown spelling is an error naming the column, the row and the recode that fixes it.

    Example:

    >>> label_values(pd.Series(["A>B", "tie", 2, 0.8]), "label").tolist()
    [1.0, 0.5, 2.0, 0.8]
    """
    num = pd.to_numeric(labels, errors="coerce")
    text = normalise(labels)
    mapped = text.map(LABELS).astype(float)
    out = num.where(num.notna(), mapped)
    bad = labels.notna() & out.isna()
    if bad.any():
        i = bad.idxmax()
        raise ValueError(f"Label column {column!r} row {i} holds {labels[i]!r}, which is no "
                         "label spelling (1/2/0.5, A/B/tie, A>B/A=B/B>A, model_a/model_b); "
                         f"recode it, e.g. --map label={labels[i]}:1, or --drop {column}.")
    return out


def is_recode(value: str) -> bool:
    """Whether a ``--map`` value is a value recode ("0:1,1:2,2:tie") rather than a column.

    Example:

    >>> is_recode("0:1,1:2,2:tie"), is_recode("preference")
    (True, False)
    """
    return isinstance(value, str) and bool(_RECODE.match(value))


def parse_recode(target: str, value: str) -> dict[str, str]:
    """"0:1,1:2,2:tie" -> {"0": "1", "1": "2", "2": "tie"} (keys normalised like the codes).

    Example:

    >>> parse_recode("winner", "0:1, 1:2, 2:tie")
    {'0': '1', '1': '2', '2': 'tie'}
    """
    pairs = [item.split(":", 1) for item in value.split(",") if item.strip()]
    out = {}
    for old, new in pairs:
        if not old.strip():
            raise ValueError(f"Recode {target}={value!r} has an empty old value; write "
                             f"OLD:NEW pairs, e.g. {target}=0:1,1:2,2:tie.")
        out[normalise(pd.Series([old])).iloc[0]] = new.strip()
    return out


def apply_recode(values: pd.Series, mapping: dict[str, str]) -> pd.Series:
    """Replace the codes named in ``mapping``; other values pass unchanged.

    Example:

    >>> apply_recode(pd.Series([0, 1, 2, "A"]), {"0": "1", "1": "2", "2": "tie"}).tolist()
    ['1', '2', 'tie', 'A']
    """
    code = normalise(values)
    return code.map(mapping).where(code.isin(list(mapping)), values)


def warn_other_coding(values: pd.Series, column: str, target: str = "winner") -> None:
    """Warn when a winner column holds only 0/1/2 (or 0/1): probably 0-based, not 0 = tie.

    Example:

    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn_other_coding(pd.Series([0, 1, 2, 1]), "winner")
    >>> print(caught[0].message)
    Column 'winner' (winner) holds only ['0', '1', '2']: read as 0 = tie, ...
    recode it: --map winner=0:1,1:2,2:tie (Python: ...).
    """
    seen = set(normalise(values).dropna().unique())
    if seen and seen <= {"0", "1", "2"} and "0" in seen:
        coded = "0 = tie, 1 = response_1, 2 = response_2"
        fix = "0:1,1:2,2:tie" if "2" in seen else "0:1,1:2"
        warnings.warn(f"Column {column!r} ({target}) holds only {sorted(seen)}: read as {coded}. "
                      f"If it is 0-based (0 = response 1, 1 = response 2"
                      f"{', 2 = tie' if '2' in seen else ''}), recode it: --map "
                      f"{target}={fix} (Python: recode={{'{target}': '{fix}'}}).",
                      UserWarning, stacklevel=3)

