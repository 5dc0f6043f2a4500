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

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

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
) -> Estimate:
    """Percentile bootstrap CI of ``statistic`` over pairs (the first axis of every array)."""
    if not arrays:
        raise ValueError("bootstrap_ci needs at least one per-pair array.")
    n = len(arrays[0])
    if any(len(a) != n for a in arrays):
        raise ValueError(f"all arrays must have the same first axis; got {[len(a) for a in arrays]}.")
    if n == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0)
    point = float(np.asarray(statistic(np.ones((1, n)), *arrays))[0])
    if n_boot <= 0:
        return Estimate(point, float("nan"), float("nan"), n)
    values = np.concatenate(
        [np.asarray(statistic(w, *arrays), dtype=float) for w in bootstrap_weights(n, n_boot, seed)]
    )
    values = values[np.isfinite(values)]
    if values.size == 0:
        return Estimate(point, float("nan"), float("nan"), n)
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(values, [alpha, 1.0 - alpha])
    return Estimate(point, float(lo), float(hi), n)


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
