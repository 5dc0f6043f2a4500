"""Intervals over independent replicates (seeds), for studies that compare runs.

The audit's bootstrap (:mod:`judgebench.audit.stats`) resamples pairs, of which there are
hundreds. A study has a handful of seeds, and a percentile bootstrap over 3 seeds has 10
distinct resamples: not an interval. So over seeds the interval is Student's t
(:func:`t_interval`, and :func:`paired_t` for the same seeds under two settings); from 8 seeds
up a seed-cluster bootstrap is added (:func:`seed_bootstrap`), resampling whole seeds with the
audit's bootstrap layer. Every interval carries its ``n`` and its ``method``.

>>> iv = t_interval([1.0, 2.0, 3.0])
>>> iv.estimate, iv.n, iv.method, round(iv.ci_low, 3)
(2.0, 3, 't', -0.484)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

#: From this many seeds a seed-cluster bootstrap interval is reported beside the t-interval.
MIN_SEEDS_FOR_BOOTSTRAP = 8


@dataclass(frozen=True)
class Interval:
    """An estimate with its interval, the number of replicates and the method that made it."""

    estimate: float
    ci_low: float
    ci_high: float
    n: int
    method: str
    se: float = float("nan")

    def to_dict(self) -> dict:
        """``{"estimate", "ci": [lo, hi], "n", "method", "se"}`` (NaN written as None)."""
        return {"estimate": _f(self.estimate), "ci": [_f(self.ci_low), _f(self.ci_high)],
                "n": int(self.n), "method": self.method, "se": _f(self.se)}

    def excludes(self, value: float = 0.0) -> bool:
        """Whether the interval lies wholly on one side of ``value`` (False when undefined)."""
        return bool(np.isfinite(self.ci_low) and np.isfinite(self.ci_high)
                    and (self.ci_low > value or self.ci_high < value))

    def text(self, digits: int = 2) -> str:
        """'7.4 [2.1, 12.7] (n = 6, t)': the form every printed interval takes."""
        def fmt(x: float) -> str:
            return "nan" if not np.isfinite(x) else f"{x:.{digits}f}"
        return (f"{fmt(self.estimate)} [{fmt(self.ci_low)}, {fmt(self.ci_high)}] "
                f"(n = {self.n}, {self.method})")


def _f(x: float) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def t_interval(values: Sequence[float], level: float = 0.95) -> Interval:
    """Mean of independent replicates with Student's t interval (NaNs dropped).

    With one replicate the interval is undefined (NaN); ``se`` is the standard error.
    """
    x = np.asarray(values, float)
    x = x[np.isfinite(x)]
    n = int(x.size)
    if n == 0:
        return Interval(float("nan"), float("nan"), float("nan"), 0, "t")
    mean = float(x.mean())
    if n < 2:
        return Interval(mean, float("nan"), float("nan"), n, "t")
    se = float(x.std(ddof=1) / np.sqrt(n))
    half = float(sps.t.ppf(0.5 + level / 2, n - 1)) * se
    return Interval(mean, mean - half, mean + half, n, "t", se)


def paired_t(a: Sequence[float], b: Sequence[float], level: float = 0.95) -> Interval:
    """Mean of a - b over matched replicates (same seeds), with its t interval.

    Pairs where either value is NaN are dropped.

    >>> paired_t([3.0, 5.0, 4.0], [1.0, 2.0, 2.0]).estimate
    2.3333333333333335
    """
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape != b.shape:
        raise ValueError(f"paired_t needs matched replicates; got {a.shape} and {b.shape}.")
    iv = t_interval(a - b, level)
    return Interval(iv.estimate, iv.ci_low, iv.ci_high, iv.n, "paired t", iv.se)


def seed_bootstrap(values: Sequence[float], *, n_boot: int = 2000, seed: int = 0,
                   level: float = 0.95) -> Interval:
    """Percentile bootstrap of the mean over seeds (each seed a cluster of runs).

    Only from :data:`MIN_SEEDS_FOR_BOOTSTRAP` seeds up; below that it returns NaN bounds
    with ``method`` saying why, rather than an interval with a handful of distinct resamples.
    """
    from judgebench.audit.stats import bootstrap_ci, weighted_mean

    x = np.asarray(values, float)
    x = x[np.isfinite(x)]
    if x.size < MIN_SEEDS_FOR_BOOTSTRAP:
        return Interval(float(x.mean()) if x.size else float("nan"), float("nan"),
                        float("nan"), int(x.size),
                        f"seed bootstrap needs >= {MIN_SEEDS_FOR_BOOTSTRAP} seeds")
    est = bootstrap_ci(weighted_mean, x, n_boot=n_boot, seed=seed, level=level)
    return Interval(est.estimate, est.ci_low, est.ci_high, est.n, "seed-cluster bootstrap")


def ols_slope(x: Sequence[float], y: Sequence[float]) -> float:
    """OLS slope of y on x (NaN when x does not vary or fewer than 2 finite points)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size < 2 or np.ptp(x) == 0:
        return float("nan")
    dx = x - x.mean()
    return float((dx * (y - y.mean())).sum() / (dx * dx).sum())


@dataclass(frozen=True)
class LackOfFit:
    """The F test of a straight line against the dose means (replicates at each dose)."""

    f: float
    p_value: float
    df_lack: int
    df_pure: int
    slope: float
    intercept: float

    def to_dict(self) -> dict:
        """JSON form."""
        return {"f": _f(self.f), "p_value": _f(self.p_value), "df_lack_of_fit": self.df_lack,
                "df_pure_error": self.df_pure, "slope": _f(self.slope),
                "intercept": _f(self.intercept)}


def lack_of_fit(dose: Sequence[float], y: Sequence[float]) -> LackOfFit:
    """Lack-of-fit F test of y = a + b·dose, with pure error from replicates at each dose.

    SS_lack = SS_resid(line) - SS_pure, df k - 2; SS_pure from the spread within doses,
    df N - k (Draper & Smith, Applied Regression Analysis, §2.1). Needs >= 3 doses and
    replicates; otherwise the F and p are NaN. A small p says the dose-response is not a line.

    >>> r = lack_of_fit([0, 0, 1, 1, 2, 2], [0.0, 0.2, 1.0, 1.2, 2.0, 2.2])
    >>> round(r.slope, 3), r.p_value > 0.5
    (1.0, True)
    """
    d, v = np.asarray(dose, float), np.asarray(y, float)
    ok = np.isfinite(d) & np.isfinite(v)
    d, v = d[ok], v[ok]
    slope = ols_slope(d, v)
    intercept = float(v.mean() - slope * d.mean()) if np.isfinite(slope) else float("nan")
    levels = np.unique(d)
    k, n = levels.size, d.size
    if k < 3 or n <= k or not np.isfinite(slope):
        return LackOfFit(float("nan"), float("nan"), max(k - 2, 0), max(n - k, 0), slope,
                         intercept)
    ss_resid = float(((v - (intercept + slope * d)) ** 2).sum())
    ss_pure = float(sum(((v[d == lv] - v[d == lv].mean()) ** 2).sum() for lv in levels))
    ss_lack = max(ss_resid - ss_pure, 0.0)
    df_lack, df_pure = k - 2, n - k
    if ss_pure <= 0:
        return LackOfFit(float("inf") if ss_lack > 0 else float("nan"),
                         0.0 if ss_lack > 0 else float("nan"), df_lack, df_pure, slope, intercept)
    f = (ss_lack / df_lack) / (ss_pure / df_pure)
    return LackOfFit(float(f), float(sps.f.sf(f, df_lack, df_pure)), df_lack, df_pure, slope,
                     intercept)
