"""One uncertainty layer: a bootstrap CI for any statistic, resampling pairs (not rows).

Every statistic is written once as a function of resampling *weights*: ``statistic(w, *arrays)``
gets ``w`` of shape (B, n) (how often each of the n pairs is drawn in each of B resamples) and
per-pair arrays whose first axis has length n, and returns B values. The point estimate is the
same function with one row of ones. Means and ratios of sums are then a matrix product, so a
thousand resamples of a million pairs take seconds (rliable's design, vectorised).

>>> x = np.array([0.0, 1.0, 1.0, 1.0])
>>> est = bootstrap_ci(weighted_mean, x, n_boot=200, seed=0)
>>> est.estimate, est.n
(0.75, 4)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

Statistic = Callable[..., np.ndarray]

#: Resamples drawn per block; bounds memory at block * n_pairs counts.
_BLOCK_ELEMENTS = 20_000_000


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its 95% (or ``level``) bootstrap CI and the number of pairs."""

    estimate: float
    ci_low: float
    ci_high: float
    n: int

    def to_dict(self) -> dict:
        """The JSON form used in audit.json: ``{"estimate", "ci": [lo, hi], "n"}``."""
        return {"estimate": _f(self.estimate), "ci": [_f(self.ci_low), _f(self.ci_high)],
                "n": int(self.n)}

    def covers(self, value: float) -> bool:
        """Whether ``value`` lies inside the CI."""
        return bool(self.ci_low <= value <= self.ci_high)


def _f(x: float) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def bootstrap_weights(n: int, n_boot: int, seed: int):
    """Yield blocks of multinomial resampling counts, shape (b, n), summing to n per row."""
    if seed is None:
        raise ValueError("seed is required (no silent random default); pass an int.")
    rng = np.random.default_rng(seed)
    block = max(1, min(n_boot, _BLOCK_ELEMENTS // max(n, 1)))
    done = 0
    while done < n_boot:
        b = min(block, n_boot - done)
        # Sampling n indices with replacement == multinomial counts with equal probabilities.
        yield rng.multinomial(n, np.full(n, 1.0 / n), size=b).astype(np.float64)
        done += b


def bootstrap_ci(
    statistic: Statistic,
    *arrays: np.ndarray,
    n_boot: int = 1000,
    seed: int,
    level: float = 0.95,
    compress: bool = False,
) -> Estimate:
    """Percentile bootstrap CI of ``statistic`` over pairs (the first axis of every array).

    ``compress=True`` first collapses pairs whose rows are identical in every array (see
    :func:`unique_rows`) and resamples the distinct rows with multinomial counts: the same
    bootstrap distribution, at a cost that grows with the number of distinct rows instead of
    the number of pairs. Valid for any statistic of the weighted pairs (all of judgebench's).
    """
    if not arrays:
        raise ValueError("bootstrap_ci needs at least one per-pair array.")
    n = len(arrays[0])
    if any(len(a) != n for a in arrays):
        raise ValueError(f"all arrays must have the same first axis; got {[len(a) for a in arrays]}.")
    if n == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0)
    if compress:
        counts, arrays = unique_rows(*arrays)
        point = float(np.asarray(statistic(counts[None, :].astype(float), *arrays))[0])
        blocks = compressed_weights(counts, n_boot, seed)
    else:
        point = float(np.asarray(statistic(np.ones((1, n)), *arrays))[0])
        blocks = bootstrap_weights(n, n_boot, seed)
    if n_boot <= 0:
        return Estimate(point, float("nan"), float("nan"), n)
    values = np.concatenate([np.asarray(statistic(w, *arrays), dtype=float) for w in blocks])
    values = values[np.isfinite(values)]
    if values.size == 0:
        return Estimate(point, float("nan"), float("nan"), n)
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(values, [alpha, 1.0 - alpha])
    return Estimate(point, float(lo), float(hi), n)


def unique_rows(*arrays: np.ndarray) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """Collapse pairs that are identical in every array: (counts (K,), the K distinct rows).

    Rows keep the order of their first appearance; NaN equals NaN here.

    >>> counts, (x,) = unique_rows(np.array([1.0, 0.0, 1.0, np.nan, np.nan]))
    >>> counts.tolist(), x.tolist()
    ([2, 1, 2], [1.0, 0.0, nan])
    """
    n = len(arrays[0])
    key = np.zeros(n, dtype=np.int64)
    for a in arrays:
        for col in np.asarray(a, dtype=np.float64).reshape(n, -1).T:
            code, uniq = pd.factorize(col, use_na_sentinel=False)
            # Mixed-radix key, re-factorised each time so it never overflows: O(n) hashing,
            # no sort, even for a million pairs.
            key, _ = pd.factorize(key * len(uniq) + code)
    counts = np.bincount(key)
    first = np.empty(len(counts), dtype=np.int64)
    first[key[::-1]] = np.arange(n - 1, -1, -1)  # any row of a group will do; these are equal
    return counts, tuple(np.asarray(a)[first] for a in arrays)


def compressed_weights(counts: np.ndarray, n_boot: int, seed: int):
    """Yield blocks of resampling counts over K distinct rows, shape (b, K), each summing to n.

    Drawing n pairs with replacement and counting how many land on each distinct row is one
    multinomial draw with probabilities counts / n: this is the pair bootstrap, exactly.
    """
    if seed is None:
        raise ValueError("seed is required (no silent random default); pass an int.")
    counts = np.asarray(counts, dtype=np.int64)
    n, k = int(counts.sum()), len(counts)
    rng = np.random.default_rng(seed)
    block = max(1, min(n_boot, _BLOCK_ELEMENTS // max(k, 1)))
    done = 0
    while done < n_boot:
        b = min(block, n_boot - done)
        yield rng.multinomial(n, counts / n, size=b).astype(np.float64)
        done += b


def weighted_mean(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Mean of per-pair values under each row of weights; NaN values are left out."""
    x = np.asarray(x, dtype=float)
    ok = np.isfinite(x)
    num = w @ np.where(ok, x, 0.0)
    den = w @ ok.astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return num / den


def weighted_ratio(w: np.ndarray, num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """sum(w * num) / sum(w * den): a share over a subset that varies per pair."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return (w @ np.asarray(num, float)) / (w @ np.asarray(den, float))


def per_resample(fn: Callable[..., float]) -> Statistic:
    """Lift a scalar statistic of (weights, *arrays) to the (B, n) form, one resample at a time.

    For statistics with no closed weighted form (Cohen's kappa, a logistic slope): slower, so
    callers choose ``n_boot`` with the data size in mind.
    """

    def lifted(w: np.ndarray, *arrays: np.ndarray) -> np.ndarray:
        return np.array([fn(row, *arrays) for row in w])

    return lifted


def per_pair(verdicts: pd.DataFrame, columns: Sequence[str] = ()) -> pd.DataFrame:
    """One row per (judge, pair_id), the unit every audit resamples: P(first) in each order.

    Columns ``judge, pair_id, p_12, p_21`` (P(first shown wins) in orders '12' and '21'; NaN
    where that order failed or was not judged), then each of ``columns`` present in the table,
    taken from the pair's first row (pair metadata is the same in both orders).

    >>> v = pd.DataFrame({"pair_id": ["a", "a"], "judge": "j", "order": ["12", "21"],
    ...                   "p_first": [0.9, np.nan], "failed": [False, True]})
    >>> per_pair(v)[["p_12", "p_21"]].values.tolist()
    [[0.9, nan]]
    """
    from judgebench.verdicts import SchemaError

    need = ["pair_id", "judge", "order", "p_first", "failed"]
    missing = [c for c in need if c not in verdicts.columns]
    if missing:
        raise SchemaError(f"The verdicts table is missing column(s) {missing}; an audit needs "
                          f"{need}. Build it with Judge.judge() or judgebench.importers.")
    j_code, j_names = pd.factorize(verdicts["judge"].astype(str))
    p_code, p_names = pd.factorize(verdicts["pair_id"].astype(str))
    n_p = max(len(p_names), 1)
    unit, unit_keys = pd.factorize(j_code.astype(np.int64) * n_p + p_code)
    n_units = len(unit_keys)
    unit_keys = np.asarray(unit_keys, dtype=np.int64)
    order = verdicts["order"].astype(str)
    is_12, is_21 = (order == "12").to_numpy(), (order == "21").to_numpy()
    # A pair judged twice in one order would be counted twice by every statistic.
    slot = unit * 2 + is_21
    if np.bincount(slot[is_12 | is_21], minlength=2 * n_units).max(initial=0) > 1:
        raise SchemaError("(judge, pair_id, order) must be unique in the verdicts table; drop "
                          "repeated judgments (e.g. verdicts.drop_duplicates(['judge', "
                          "'pair_id', 'order'])) before auditing.")
    # Failed rows count as no judgment, whatever number they carry.
    p = np.where(verdicts["failed"].to_numpy(dtype=bool), np.nan,
                 pd.to_numeric(verdicts["p_first"], errors="coerce").to_numpy(dtype=float))
    # Any row of a unit will do for pair metadata: it is the same in both orders.
    row = np.empty(n_units, dtype=np.int64)
    row[unit] = np.arange(len(unit))
    out = {"judge": j_names.take(unit_keys // n_p), "pair_id": p_names.take(unit_keys % n_p)}
    for name, mask in (("p_12", is_12), ("p_21", is_21)):
        col = np.full(n_units, np.nan)
        col[unit[mask]] = p[mask]
        out[name] = col
    for c in columns:
        if c in verdicts.columns and c not in out:
            out[c] = verdicts[c].iloc[row].to_numpy() if verdicts[c].dtype.kind in "biuf" \
                else verdicts[c].iloc[row].reset_index(drop=True)
    return pd.DataFrame(out)
