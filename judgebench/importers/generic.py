"""Any CSV/JSONL/Parquet log with a column mapping, and TRL prompt/chosen/rejected sets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from judgebench.importers._common import _error_text, _existing, _finish, _hash_id, _require
from judgebench.verdicts import (
    ORDERS,
    load_table,
    p1_from_p_first,
    validate_pairs,
)

# ---------------------------------------------------------------------------------------------
# Generic tables and TRL preference sets

_GENERIC_TARGETS = ("pair_id", "prompt", "response_1", "response_2", "label", "model_1",
                    "model_2", "source", "judge", "order", "p_first", "p_1", "winner",
                    "failed", "raw", "latency_s", "n_tokens")
_GENERIC_SETTINGS = ("judge_name", "default_order")
# Winner codes: response index (1/2, model_1/model_2, tie) or position (A/B = shown first/second).
_BY_RESPONSE = {"1": 1.0, "2": 0.0, "response_1": 1.0, "response_2": 0.0, "model_1": 1.0,
                "model_2": 0.0, "tie": 0.5, "draw": 0.5, "0": 0.5, "0.5": 0.5, "c": 0.5}
_BY_POSITION = {"a": 1.0, "b": 0.0}
_TRUE = {"true", "1", "1.0", "yes"}  # a CSV round trip turns booleans into text


def import_generic(path: str | Path, **options: str) -> pd.DataFrame:
    """A CSV/JSONL/Parquet of verdicts or judged pairs, columns mapped by ``target=column``.

    Targets: pair_id, prompt, response_1, response_2, label, model_1, model_2, source, judge,
    order, p_first, p_1, winner, failed, raw, latency_s, n_tokens (an unmapped target is read
    from a column of the same name when there is one). The judgment comes from ``p_first``,
    else ``p_1``, else ``winner``: 1/2 (or model_1/model_2, response_1/response_2) name the
    winning response, A/B the winning position, tie/draw/C/0/0.5 a tie; any other winner
    fails. Settings: ``judge_name`` (default: the file stem) when no judge column is mapped,
    ``default_order`` ("12") when no order column is. Without pair_id, the id hashes the texts.

    >>> import_generic("log.csv", prompt="question", response_1="answer_a",
    ...                response_2="answer_b", winner="choice")  # doctest: +SKIP
    """
    path = _existing(path, "table")
    unknown = sorted(set(options) - set(_GENERIC_TARGETS) - set(_GENERIC_SETTINGS))
    if unknown:
        raise ValueError(f"Unknown generic option(s) {unknown}; map a target with target=column "
                         f"(targets: {list(_GENERIC_TARGETS)}) or set {list(_GENERIC_SETTINGS)}.")
    df = load_table(path)
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
    order = out["order"].astype(str) if "order" in out else pd.Series(
        options.get("default_order", "12"), index=df.index)
    order = order.str.replace(r"\.0$", "", regex=True)
    bad = ~order.isin(ORDERS)
    if bad.any():
        raise ValueError(f"order must be '12' or '21'; {path.name} row {bad.idxmax()} has "
                         f"{order[bad].iloc[0]!r}. Map the right column or set default_order.")
    out["order"] = order
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
        code = out["winner"].astype(str).str.strip().str.lower().str.replace(
            r"\.0$", "", regex=True)
        by_pos = pd.Series(p1_from_p_first(code.map(_BY_POSITION).astype(float), order),
                           index=df.index)
        p1 = code.map(_BY_RESPONSE).astype(float).fillna(by_pos)
        out["error"] = _error_text(p1, out["winner"], "winner")
        if "raw" not in out:
            out["raw"] = out["winner"]
    else:
        raise ValueError(f"{path.name} has no judgment: map p_first=, p_1= or winner= to a "
                         f"column; available columns: {list(df.columns)}. (For pairs without "
                         "verdicts, load them with load_table and judge them.)")
    out["p_1"], out["failed"] = p1.where(~failed), failed | p1.isna()
    if "judge" not in out:
        out["judge"] = options.get("judge_name") or path.stem
    if "pair_id" not in out:
        texts = [out.get(c, pd.Series("", index=df.index)) for c in
                 ("prompt", "response_1", "response_2")]
        has_text = any(c in out for c in ("prompt", "response_1", "response_2"))
        out["pair_id"] = ([_hash_id(*t) for t in zip(*texts, strict=True)] if has_text
                          else [f"{path.stem}/{i}" for i in range(len(df))])
    used = {options.get(t, t) for t in cols}
    meta = df[[c for c in df.columns if c not in used and c not in out.columns]]
    return _finish(pd.concat([out.drop(columns=["winner"], errors="ignore"), meta], axis=1))


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
    df = load_table(path)
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


