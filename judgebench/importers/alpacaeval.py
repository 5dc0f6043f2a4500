"""AlpacaEval annotations.json: preference in [1, 2], output_1 is the baseline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from judgebench.importers._common import (
    _error_text,
    _existing,
    _finish,
    _hash_id,
    _read_records,
    _require,
)

# ---------------------------------------------------------------------------------------------
# AlpacaEval (Dubois et al. 2024)


def import_alpacaeval(path: str | Path, *, judge: str | None = None) -> pd.DataFrame:
    """An AlpacaEval annotations.json: one verdict per record, p_1 = 2 - preference.

    preference 1 = output_1 preferred, 2 = output_2, 1.5 = tie, a float in between =
    1 + P(output_2); 0 (AlpacaEval's code for identical outputs) is a tie; missing, -1 or
    out-of-range values are failed. AlpacaEval randomises the presented order and maps the
    preference back before saving, so the order is recorded as "12" unless a record carries
    ``is_switched_outputs``; ``order_known`` says which (position audits need it True).
    Judge = ``judge`` option, else the record's ``annotator``, else the file stem.

    >>> import_alpacaeval("annotations.json").groupby("judge").p_1.mean()  # doctest: +SKIP
    """
    path = _existing(path, "AlpacaEval annotations file")
    df = _read_records(path)
    _require(df, ["instruction", "output_1", "output_2", "preference"], path)
    pref = pd.to_numeric(df["preference"], errors="coerce")
    p1 = (2.0 - pref).where(pref.between(1, 2)).mask(pref == 0, 0.5)
    prompt = df["instruction"].astype(str)
    if "input" in df.columns:  # AlpacaEval joins a non-empty input to the instruction
        extra = df["input"].fillna("").astype(str)
        prompt = prompt.where(extra == "", prompt + "\n\n" + extra)
    names = df["annotator"] if "annotator" in df.columns else pd.Series(None, index=df.index)
    switched = df["is_switched_outputs"] if "is_switched_outputs" in df.columns else None
    # The id hashes the generators too: pooled logs of several models share baseline texts.
    gens = [df[c] if c in df.columns else pd.Series("", index=df.index)
            for c in ("generator_1", "generator_2")]
    out = pd.DataFrame({
        "pair_id": [_hash_id(*t) for t in zip(prompt, df["output_1"], df["output_2"], *gens,
                                               strict=True)],
        "judge": judge or names.fillna(path.stem).astype(str),
        "order": "12" if switched is None else np.where(switched.fillna(False).astype(bool),
                                                        "21", "12"),
        "order_known": switched is not None,
        "p_1": p1, "failed": p1.isna(), "error": _error_text(p1, df["preference"], "preference"),
        "prompt": prompt, "response_1": df["output_1"], "response_2": df["output_2"],
        "source": "alpacaeval",
    })
    renames = {"raw_completion": "raw", "time_per_example": "latency_s",
               "generator_1": "model_1", "generator_2": "model_2"}
    for src, dst in renames.items():
        if src in df.columns:
            out[dst] = df[src]
    used = {"instruction", "input", "output_1", "output_2", "preference", "annotator",
            "is_switched_outputs", *renames}
    meta = df[[c for c in df.columns if c not in used and c not in out.columns]]
    return _finish(pd.concat([out, meta], axis=1))


