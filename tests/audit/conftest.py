"""Shared fixtures for the audit tests: the real judge logs in shared/realdata."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REALDATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "realdata"


@pytest.fixture(scope="session")
def realdata() -> Path:
    if not REALDATA.exists():
        pytest.skip("shared/realdata is not available")
    return REALDATA


@pytest.fixture(scope="session")
def llmbar_compact(realdata: Path) -> pd.DataFrame:
    return pd.read_csv(realdata / "llmbar" / "llmbar_all_evaluator_results_compact.csv.gz")


def _llmbar_table(compact: pd.DataFrame, subset: str, evaluator: str,
                  strategy: str) -> pd.DataFrame:
    """LLMBar verdicts built straight from the compact csv (winners already mapped to 1/2).

    Order "12" (noswap) shows output_1 first: P(first) = 1 if winner_noswap == 1. Order "21"
    (swap) shows output_2 first: P(first) = 1 if winner_swap == 2. A missing winner is failed.
    """
    sel = compact[(compact.subset == subset) & (compact.evaluator == evaluator)
                  & (compact.strategy == strategy)]
    frames = []
    for order, col, first in (("12", "winner_noswap", 1), ("21", "winner_swap", 2)):
        w = sel[col].to_numpy(dtype=float)
        p_first = np.where(np.isnan(w), np.nan, (w == first).astype(float))
        frames.append(pd.DataFrame({
            "pair_id": sel["idx"].astype(str).to_numpy(), "judge": f"{evaluator}/{strategy}",
            "order": order, "p_first": p_first,
            "p_1": p_first if order == "12" else 1.0 - p_first, "failed": np.isnan(w),
            "label": sel["label"].astype(float).to_numpy(),
            "len_1": sel["len_output_1"].to_numpy(), "len_2": sel["len_output_2"].to_numpy(),
        }))
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="session")
def llmbar_table(llmbar_compact: pd.DataFrame):
    """Builder: llmbar_table(subset, evaluator, strategy=None) -> verdict table."""

    def build(subset: str, evaluator: str, strategy: str | None = None) -> pd.DataFrame:
        return _llmbar_table(llmbar_compact, subset, evaluator,
                             strategy or _vanilla_strategy(subset))

    return build


@pytest.fixture(scope="session")
def vanilla_summary(realdata: Path) -> pd.DataFrame:
    """The published per-(subset, evaluator) numbers of llmbar/vanilla_summary.txt."""
    rows, subset = [], None
    lines = (realdata / "llmbar" / "vanilla_summary.txt").read_text().splitlines()[2:]
    for line in lines:
        parts = line.split()
        if not parts:
            continue
        if len(parts) == 7:
            subset = parts.pop(0)
        evaluator, n, acc12, acc21, cons, pfirst = parts
        rows.append({"subset": subset, "evaluator": evaluator, "n": int(n),
                     "acc_noswap": float(acc12), "acc_swap": float(acc21),
                     "consistency": float(cons), "p_first": float(pfirst)})
    return pd.DataFrame(rows)


def _vanilla_strategy(subset: str) -> str:
    """LLMBar's own subsets were run with 'Vanilla'; the Processed ones with 'Vanilla_NoRules'."""
    return "Vanilla_NoRules" if subset.startswith("Processed/") else "Vanilla"
