"""Any CSV/JSONL/Parquet log with a column mapping, and TRL prompt/chosen/rejected sets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from judgebench.importers._common import (
    _error_text,
    _existing,
    _finish,
    _hash_id,
    _require,
    _split,
    read_table,
)
from judgebench.importers.codes import (
    apply_recode,
    decision_p1,
    is_recode,
    label_values,
    normalise,
    parse_recode,
    warn_other_coding,
)
from judgebench.verdicts import (
    ORDERS,
    p1_from_p_first,
    validate_pairs,
)

# ---------------------------------------------------------------------------------------------
# Generic tables and TRL preference sets

_GENERIC_TARGETS = ("pair_id", "prompt", "response_1", "response_2", "label", "model_1",
                    "model_2", "source", "judge", "order", "p_first", "p_1", "winner",
                    "failed", "raw", "latency_s", "n_tokens")
_GENERIC_SETTINGS = ("judge_name", "default_order")
#: The fields that identify a pair; a hashed pair_id covers all of them.
_ID_FIELDS = ("prompt", "response_1", "response_2", "model_1", "model_2")
_TRUE = {"true", "1", "1.0", "yes"}  # a CSV round trip turns booleans into text


def import_generic(path: str | Path, *, recode: dict[str, str | dict] | None = None,
                   drop: str | list[str] | None = None, explode: str | None = None,
                   **options: str) -> pd.DataFrame:
    """A CSV/JSON/JSONL/Parquet (optionally .gz) of verdicts or judged pairs, mapped by
    ``target=column``.

    Targets: pair_id, prompt, response_1, response_2, label, model_1, model_2, source, judge,
    order, p_first, p_1, winner, failed, raw, latency_s, n_tokens (an unmapped target is read
    from a column of the same name when there is one). The judgment comes from ``p_first``,
    else ``p_1``, else ``winner``: 1/2 (model_1/model_2, model_a/model_b, response_1/response_2)
    name the winning response; A/B, "A>B"/"B>A"/"A=B" and [[A]]/[[B]]/[[C]] the winning
    *position* (A = shown first); tie/draw/C/0/0.5 a tie; any other winner fails. A winner
    column holding only 0/1/2 is read as 0 = tie, with a warning giving the recode for a 0-based
    coding. Labels may be spelled A/B/tie or "A>B" (A = response_1).

    ``recode``: per target, value replacements "OLD:NEW,..." (or a dict), applied before
    reading, e.g. ``{"winner": "0:1,1:2,2:tie"}``; an option value in that form is a recode too.
    ``drop``: source columns to ignore (e.g. a ``label`` column that is not gold).
    ``explode``: a column whose cells hold a list of records, one per game of the pair (e.g.
    both presentation orders); each becomes a row with its fields as columns over the parent's,
    and games without an order field get "12", "21" by their place in the list.
    Settings: ``judge_name`` (default: the file stem) when no judge column is mapped,
    ``default_order`` ("12") when no order column is. Without pair_id the id hashes prompt,
    responses and model ids; a repeated pair with conflicting labels is an error.

    >>> import_generic("log.csv", prompt="question", response_1="answer_a",
    ...                response_2="answer_b", winner="choice")  # doctest: +SKIP
    """
    path = _existing(path, "table")
    recodes = {k: (parse_recode(k, v) if isinstance(v, str) else
                   {normalise(pd.Series([o])).iloc[0]: str(n) for o, n in v.items()})
               for k, v in (recode or {}).items()}
    for key in [k for k, v in options.items() if is_recode(v)]:
        recodes[key] = parse_recode(key, options.pop(key))
    unknown = sorted((set(options) | set(recodes)) - set(_GENERIC_TARGETS)
                     - set(_GENERIC_SETTINGS))
    if unknown:
        raise ValueError(f"Unknown generic option(s) {unknown}; map a target with target=column "
                         f"(targets: {list(_GENERIC_TARGETS)}) or set {list(_GENERIC_SETTINGS)}.")
    df = read_table(path)
    dropped = _split(drop)
    gone = [c for c in dropped if c not in df.columns]
    if gone:
        raise ValueError(f"Cannot drop column(s) {gone}: not in {path.name}; available columns: "
                         f"{list(df.columns)}.")
    df = df.drop(columns=dropped)
    if explode:
        df = _explode(df, explode, path, order_given="order" in options or "order" in df)
    cols = {}
    for target in _GENERIC_TARGETS:
        source = options.get(target, target if target in df.columns else None)
        if source is None:
            continue
        if source not in df.columns:
            raise ValueError(f"Column {source!r} (mapped to {target}) is not in {path.name}; "
                             f"available columns: {list(df.columns)}.")
        cols[target] = df[source]
    out = pd.DataFrame(cols, index=df.index)
    stray = sorted(set(recodes) - set(out.columns))
    if stray:
        raise ValueError(f"Recode for {stray}, but no column is mapped to it; map one first "
                         "(target=column) or drop the recode.")
    for target, mapping in recodes.items():
        out[target] = apply_recode(out[target], mapping)
    order = out["order"].astype(str) if "order" in out else pd.Series(
        options.get("default_order", "12"), index=df.index)
    order = order.str.replace(r"\.0$", "", regex=True)
    bad = ~order.isin(ORDERS)
    if bad.any():
        raise ValueError(f"order must be '12' or '21'; {path.name} row {bad.idxmax()} has "
                         f"{order[bad].iloc[0]!r}. Map the right column, recode it (e.g. "
                         "--map order=0:12,1:21) or set default_order.")
    out["order"] = order
    if "label" in out:
        out["label"] = label_values(out["label"], options.get("label", "label"))
    failed = (out["failed"].astype(str).str.strip().str.lower().isin(_TRUE) if "failed" in out
              else pd.Series(False, index=df.index))
    given = next((c for c in ("p_first", "p_1") if c in out), None)
    if given:
        p = pd.to_numeric(out[given], errors="coerce")
        bad = ~(p.between(0, 1) | p.isna())
        if bad.any():
            raise ValueError(f"{given} (column {options.get(given, given)!r}) must lie in [0, 1]; "
                             f"{path.name} row {bad.idxmax()} has {p[bad].iloc[0]!r}.")
        p1 = pd.Series(p1_from_p_first(p, order) if given == "p_first" else p, index=df.index)
    elif "winner" in out:
        if "winner" not in recodes:
            warn_other_coding(out["winner"], options.get("winner", "winner"))
        p1 = decision_p1(out["winner"], order)
        out["error"] = _error_text(p1, out["winner"], "winner")
        if "raw" not in out:
            out["raw"] = out["winner"].map(lambda w: w if pd.isna(w) else str(w))
    else:
        raise ValueError(f"{path.name} has no judgment: map p_first=, p_1= or winner= to a "
                         f"column; available columns: {list(df.columns)}. (For pairs without "
                         "verdicts, load them with load_table and judge them.)")
    out["p_1"], out["failed"] = p1.where(~failed), failed | p1.isna()
    if "judge" not in out:
        out["judge"] = options.get("judge_name") or path.stem
    if "pair_id" not in out:
        out["pair_id"] = _hashed_ids(out, path)
    used = {options.get(t, t) for t in cols}
    meta = df[[c for c in df.columns if c not in used and c not in out.columns]]
    return _finish(pd.concat([out.drop(columns=["winner"], errors="ignore"), meta], axis=1))


def _explode(df: pd.DataFrame, column: str, path: Path, order_given: bool) -> pd.DataFrame:
    """One row per game: the records in ``column`` spread over their parent's fields."""
    if column not in df.columns:
        raise ValueError(f"Cannot explode {column!r}: not a column of {path.name}; available "
                         f"columns: {list(df.columns)}.")
    rows = []
    for i, rec in enumerate(df.to_dict("records")):
        games = rec.pop(column)
        if not isinstance(games, (list, np.ndarray)) or not all(isinstance(g, dict)
                                                                for g in games):
            raise ValueError(f"{path.name} row {i}: {column!r} holds {type(games).__name__}, "
                             "not a list of records (one per game); give the column whose cells"
                             " list the games, or import without explode.")
        for k, game in enumerate(games):
            row = {**rec, **game, "game": k}
            if not order_given and "order" not in game:
                if len(games) > 2:
                    raise ValueError(f"{path.name} row {i} has {len(games)} games and no "
                                     "'order' field: the order of a third game is unknown. Add"
                                     " an order field ('12'/'21') to each game.")
                row["order"] = ORDERS[k]
            rows.append(row)
    return pd.DataFrame(rows)


def _hashed_ids(out: pd.DataFrame, path: Path) -> list[str]:
    """pair_id = hash of every identifying field; a repeated pair is numbered (#2, #3...) and
    a repeated pair with conflicting labels is an error naming both rows."""
    fields = [c for c in _ID_FIELDS if c in out]
    if not any(c in out for c in ("prompt", "response_1", "response_2")):
        return [f"{path.stem}/{i}" for i in range(len(out))]
    base = pd.Series([_hash_id(*t) for t in zip(*(out[c] for c in fields), strict=True)],
                     index=out.index)
    if "label" in out:
        lab = out["label"]
        for _, grp in lab.groupby(base, sort=False):
            vals = grp.dropna()
            if vals.nunique() > 1:
                i, j = vals.index[0], vals.index[(vals != vals.iloc[0]).to_numpy()][0]
                raise ValueError(
                    f"{path.name} rows {i} and {j} are the same pair ({', '.join(fields)} all "
                    f"equal) with conflicting labels {lab[i]:g} and {lab[j]:g}. Drop or fix one "
                    "of them, or map a pair_id column (--map pair_id=COLUMN) that tells them "
                    "apart.")
    # The k-th repeat of (pair, judge, order) becomes pair "#k": two logs of one text pair
    # stay two pairs, and the k-th of each order still pair up.
    key = [base] + [out[c].astype(str) for c in ("judge", "order") if c in out]
    rep = base.groupby(key, sort=False).cumcount()
    return [b if r == 0 else f"{b}#{r + 1}" for b, r in zip(base, rep, strict=True)]


def import_trl(path: str | Path, *, prompt: str = "prompt", chosen: str = "chosen",
               rejected: str = "rejected") -> pd.DataFrame:
    """A TRL preference set (prompt/chosen/rejected, JSONL/Parquet/CSV) as a *pairs* table.

    These files hold no judge verdicts, so this importer returns pairs (validate_pairs), not
    verdicts: response_1 = chosen, response_2 = rejected, label = 1; judge them to get
    verdicts. Conversational rows (lists of {role, content}) are rendered as "role: content"
    lines; with no prompt column, the messages chosen and rejected share form the prompt.

    >>> import_trl("prefs.jsonl", chosen="better", rejected="worse")  # doctest: +SKIP
    """
    path = _existing(path, "preference file")
    df = read_table(path)
    # An explicitly mapped prompt column must exist; the default one may be implicit (chat data).
    _require(df, [chosen, rejected] + ([prompt] if prompt != "prompt" else []), path)
    rows = []
    for i, rec in enumerate(df.to_dict("records")):
        p, c, r = rec.get(prompt), rec[chosen], rec[rejected]
        if _is_chat(c) and _is_chat(r):
            c, r = list(c), list(r)
            shared = 0
            if p is None:  # implicit prompt: the messages both conversations start with
                while shared < min(len(c), len(r)) - 1 and c[shared] == r[shared]:
                    shared += 1
                p = c[:shared]
            c, r = _render(c[shared:]), _render(r[shared:])
        ids = [rec.get(k) for k in ("pair_id", "id") if pd.notna(rec.get(k))]
        rows.append({"pair_id": str(ids[0]) if ids else f"{path.stem}/{i}",
                     "prompt": _render(p) if _is_chat(p) else (p if isinstance(p, str) else ""),
                     "response_1": c, "response_2": r, "label": 1.0, "source": "trl"})
    out = pd.DataFrame(rows)
    meta = df[[c for c in df.columns
               if c not in {prompt, chosen, rejected, "pair_id", "id"} | set(out.columns)]]
    return validate_pairs(pd.concat([out, meta], axis=1))


def _is_chat(value: object) -> bool:
    return isinstance(value, (list, np.ndarray)) and all(isinstance(m, dict) for m in value)


def _render(messages: object) -> str:
    if isinstance(messages, str):
        return messages
    return "\n\n".join(f"{m.get('role', '')}: {m.get('content', '')}" for m in messages)


