"""LLMBar (Zeng et al. 2024): dataset.json texts plus the compact both-order results."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from judgebench.importers._common import (
    _error_text,
    _existing,
    _finish,
    _require,
    _split,
    _text_len,
)

# ---------------------------------------------------------------------------------------------
# LLMBar (Zeng et al. 2024)

_LLMBAR_CSV = "llmbar_all_evaluator_results_compact.csv.gz"


def import_llmbar(path: str | Path, *, subset: str | None = None, evaluator: str | None = None,
                  strategy: str | None = None) -> pd.DataFrame:
    """LLMBar's compact results (both orders per pair) joined with its dataset texts.

    ``path`` is the LLMBar directory (holding ``datasets/<subset>/dataset.json`` and the
    compact csv) or the csv itself. ``winner_noswap`` gives order "12", ``winner_swap`` order
    "21"; both are already expressed as the original output index (1/2). A missing winner is a
    failed verdict. Judge = "evaluator/strategy"; pair_id = "subset/idx", where idx is the
    instance's position in dataset.json (checked against the csv's output lengths).
    ``subset``, ``evaluator``, ``strategy``: comma-separated filters.

    >>> v = import_llmbar("LLMBar", subset="LLMBar/Natural", evaluator="GPT-4")  # doctest: +SKIP
    """
    root = _existing(path, "LLMBar directory")
    csv = root if root.is_file() else root / _LLMBAR_CSV
    root = csv.parent
    res = pd.read_csv(_existing(csv, "LLMBar compact results csv"))
    _require(res, ["subset", "evaluator", "strategy", "idx", "label", "winner_noswap",
                   "winner_swap"], csv)
    for col, wanted in (("subset", subset), ("evaluator", evaluator), ("strategy", strategy)):
        names = _split(wanted)
        if names:
            unknown = sorted(set(names) - set(res[col]))
            if unknown:
                raise ValueError(f"LLMBar {col} {unknown} not found in {csv.name}; available: "
                                 f"{sorted(set(res[col]))}.")
            res = res[res[col].isin(names)]
    texts = _llmbar_texts(root, sorted(res["subset"].unique()))
    res = res.merge(texts, on=["subset", "idx"], how="left", validate="many_to_one")
    _check_llmbar_join(res, set(texts["subset"]))
    base = pd.DataFrame({
        "pair_id": res["subset"] + "/" + res["idx"].astype(str),
        "judge": res["evaluator"] + "/" + res["strategy"],
        "prompt": res["prompt"], "response_1": res["response_1"],
        "response_2": res["response_2"], "label": res["label"].astype(float),
        "source": "llmbar", "len_1": res["len_output_1"].astype(float),
        "len_2": res["len_output_2"].astype(float),
    })
    keep = [c for c in ("subset", "evaluator", "strategy", "idx", "score_1", "score_2")
            if c in res.columns]
    base = pd.concat([base, res[keep]], axis=1)
    parts = []
    for order, col in (("12", "noswap"), ("21", "swap")):
        winner = res[f"winner_{col}"]
        p1 = winner.map({1: 1.0, 2: 0.0}).astype(float)
        part = base.assign(order=order, p_1=p1.to_numpy(), failed=p1.isna().to_numpy(),
                           error=_error_text(p1, winner, f"winner_{col}").to_numpy())
        if f"winner_final_{col}" in res.columns:
            # The Swap strategies' synthesised final winner, for this order.
            part["winner_final"] = res[f"winner_final_{col}"].to_numpy()
        parts.append(part)
    return _finish(pd.concat(parts, ignore_index=True).sort_values(
        ["judge", "pair_id", "order"], kind="stable"))


def _llmbar_texts(root: Path, subsets: list[str]) -> pd.DataFrame:
    """(subset, idx) -> texts from each subset's dataset.json, idx = position in the file."""
    frames = []
    for name in subsets:
        file = root / "datasets" / name / "dataset.json"
        if not file.exists():
            continue  # verdicts are kept without texts; len_1/len_2 still come from the csv
        inst = pd.DataFrame(json.loads(file.read_text(encoding="utf-8")))
        frames.append(pd.DataFrame({
            "subset": name, "idx": np.arange(len(inst)), "prompt": inst["input"],
            "response_1": inst["output_1"], "response_2": inst["output_2"],
            "_label": inst["label"]}))
    if not frames:
        return pd.DataFrame(columns=["subset", "idx", "prompt", "response_1", "response_2",
                                     "_label"])
    return pd.concat(frames, ignore_index=True)


def _check_llmbar_join(res: pd.DataFrame, with_texts: set[str]) -> None:
    """The csv's idx must index dataset.json; its lengths and labels must match the texts."""
    bad = res["subset"].isin(with_texts) & (
        res["prompt"].isna() | (_text_len(res["response_1"]) != res["len_output_1"])
        | (_text_len(res["response_2"]) != res["len_output_2"]) | (res["_label"] != res["label"]))
    if bad.any():
        row = res[bad].iloc[0]
        raise ValueError(f"LLMBar results do not match dataset.json for subset {row['subset']!r} "
                         f"idx {row['idx']} (no such instance, or output lengths or label "
                         "differ); the csv and the "
                         "datasets folder come from different versions.")


