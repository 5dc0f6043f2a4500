"""Position swapping: average a judge's P over both presentation orders (DESIGN §5).

:func:`~judgebench.probability.swap_average` (the one two-order average, shared with the audit)
is Lee et al. 2023's two-order average and Wang et al. 2023's balanced position calibration:
p̄_1 = (p_1[12] + p_1[21]) / 2. Any additive first-slot preference enters the two orders with
opposite signs, so it cancels to first order. :func:`swap_tie` is FastChat's
rule (Zheng et al. 2023): when the two orders pick different winners (a tie in one order and a
winner in the other also disagrees) the pair becomes a tie, p = 0.5.

The table keeps its shape: both order rows of a pair get the combined p_1 and their p_first is
recomputed (p̄_1 for order 12, 1 - p̄_1 for 21), so every audit still reads the result and
position consistency is 1 by construction. Where one order failed or is missing, the other
order's p_1 is kept as it is (nothing to average) and ``n_orders`` records 1; a pair with both
orders failed stays failed.

>>> swap_average(np.array([0.8]), np.array([0.4]))
array([0.6])
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from judgebench.calibration.base import Step, prepare, register, with_p1
from judgebench.probability import swap_average
from judgebench.verdicts import paired


def swap_tie(p1_12: np.ndarray, p1_21: np.ndarray) -> np.ndarray:
    """FastChat's rule: the swap average where both orders pick the same winner, else 0.5.

    >>> swap_tie(np.array([0.8, 0.8]), np.array([0.6, 0.3])).tolist()
    [0.7, 0.5]
    """
    a, b = np.asarray(p1_12, float), np.asarray(p1_21, float)
    mean = swap_average(a, b)
    both = np.isfinite(a) & np.isfinite(b)
    agree = np.sign(a - 0.5) == np.sign(b - 0.5)
    return np.where(both & ~agree, 0.5, mean)


class _SwapStep(Step):
    """Shared machinery: combine the two orders of each (judge, pair) with ``_combine``."""

    needs_both_orders = True

    def __init__(self) -> None:
        pass

    @staticmethod
    def _combine(p1_12: np.ndarray, p1_21: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def fit(self, verdicts: pd.DataFrame) -> _SwapStep:
        """Nothing is learned; checks that both orders are present and records the count."""
        table = prepare(verdicts)
        self.n_pairs_both_orders_ = _n_both(table, self.name)
        return self

    def transform(self, verdicts: pd.DataFrame) -> pd.DataFrame:
        """Give both order rows of every pair the combined p_1 (see module doc)."""
        self.check_fitted()
        table = prepare(verdicts)
        _n_both(table, self.name)
        # (judge, pair_id) x order: p_1, NaN where that order failed or is missing.
        wide = paired(table.assign(_p=table["p_1"].where(~table["failed"])), "_p")
        combined = pd.Series(self._combine(wide["12"].to_numpy(), wide["21"].to_numpy()),
                             index=wide.index)
        n_orders = wide[["12", "21"]].notna().sum(axis=1)
        key = pd.MultiIndex.from_frame(table[["judge", "pair_id"]])
        out = with_p1(table, combined.reindex(key).to_numpy())
        out["n_orders"] = n_orders.reindex(key).to_numpy()
        return out


def _n_both(table: pd.DataFrame, step: str) -> int:
    counts = table.groupby(["judge", "pair_id"])["order"].nunique()
    n = int((counts == 2).sum())
    if n == 0:
        raise ValueError(
            f"The {step!r} step needs verdicts in both orders ('12' and '21') for the same "
            f"pair; 'order' holds only {sorted(table['order'].unique())}. Judge with "
            "judge.judge(pairs, orders=('12', '21'))."
        )
    return n


@register("swap")
class SwapAverage(_SwapStep):
    """Average p_1 over both orders (Lee et al. 2023; Wang et al. 2023 balanced calibration).

    Example:

    >>> v = pd.DataFrame({"pair_id": ["a", "a", "b", "b"], "judge": "j", "order": ["12", "21"] * 2,
    ...                   "p_first": [0.8, 0.4, 0.7, 0.2], "p_1": [0.8, 0.6, 0.7, 0.8],
    ...                   "failed": False})
    >>> out = SwapAverage().fit_transform(v)
    >>> out[["pair_id", "order", "p_1", "p_first"]].round(3).values.tolist()
    [['a', '12', 0.7, 0.7], ['a', '21', 0.7, 0.3], ['b', '12', 0.75, 0.75], ['b', '21', 0.75, 0.25]]
    """

    name = "swap"
    _combine = staticmethod(swap_average)


@register("swap_tie")
class SwapTie(_SwapStep):
    """Swap average, and a tie (0.5) where the two orders disagree (FastChat, Zheng et al. 2023).

    Example:

    >>> v = pd.DataFrame({"pair_id": ["a", "a", "b", "b"], "judge": "j", "order": ["12", "21"] * 2,
    ...                   "p_first": [0.8, 0.4, 0.7, 0.8], "p_1": [0.8, 0.6, 0.7, 0.2],
    ...                   "failed": False})
    >>> SwapTie().fit_transform(v)[["pair_id", "p_1"]].round(3).values.tolist()  # b: orders differ
    [['a', 0.7], ['a', 0.7], ['b', 0.5], ['b', 0.5]]
    """

    name = "swap_tie"
    _combine = staticmethod(swap_tie)
