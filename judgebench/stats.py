"""The one uncertainty layer: the pair bootstrap every stage uses, and intervals over seeds.

**Over pairs** (audits, calibration reports, the loop's instruments): :func:`bootstrap_ci` is a
percentile bootstrap CI for any statistic, resampling pairs (not rows) one by one, or by
cluster (``clusters=``: one label per pair, e.g. its prompt) when pairs are not independent:
pairs that share a prompt move together. A resample whose statistic is undefined (NaN: an
empty subset, a fit with no optimum) is counted in ``Estimate.n_boot_failed``, never dropped
silently, and ``Estimate.method`` says how the interval was made. :func:`per_pair` builds the
unit it resamples from a verdict table.

Every statistic is written once as a function of resampling *weights*: ``statistic(w, *arrays)``
gets ``w`` of shape (B, n) (how often each of the n pairs is drawn in each of B resamples) and
per-pair arrays whose first axis has length n, and returns B values. The point estimate is the
same function with one row of ones. Means and ratios of sums are then a matrix product, so a
thousand resamples of a million pairs take seconds (rliable's design, vectorised).

>>> x = np.array([0.0, 1.0, 1.0, 1.0])
>>> est = bootstrap_ci(weighted_mean, x, n_boot=200, seed=0)
>>> est.estimate, est.n
(0.75, 4)

**Over seeds** (studies that compare runs): a study has a handful of seeds, and a percentile
bootstrap over 3 seeds has 10 distinct resamples: not an interval. So over seeds the interval
is Student's t (:func:`t_interval`, and :func:`paired_t` for the same seeds under two
settings); from 8 seeds up a seed-cluster bootstrap is added (:func:`seed_bootstrap`),
resampling whole seeds with the pair bootstrap above. Every interval carries its ``n`` and its
``method``.

>>> iv = t_interval([1.0, 2.0, 3.0])
>>> iv.estimate, iv.n, iv.method, round(iv.ci_low, 3)
(2.0, 3, 't', -0.484)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import stats as sps

Statistic = Callable[..., np.ndarray]

#: Resamples drawn per block; bounds memory at block * n_pairs counts.
_BLOCK_ELEMENTS = 20_000_000
#: ``Estimate.method`` values.
PERCENTILE = "percentile"
RECENTRED = "percentile, bias-recentred"
#: From this many seeds a seed-cluster bootstrap interval is reported beside the t-interval.
MIN_SEEDS_FOR_BOOTSTRAP = 8


def _f(x: float) -> float | None:
    """A finite float, or None (JSON has no NaN)."""
    return None if x is None or not np.isfinite(x) else float(x)


# ---------------------------------------------------------------------------------------------
# The pair bootstrap


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its 95% (or ``level``) bootstrap CI and the number of pairs.

    ``n_boot_failed``: resamples whose statistic was NaN (left out of the quantiles; the
    interval rests on the others). ``method``: ``"percentile"``, or ``"percentile,
    bias-recentred"`` when the percentile interval missed its own estimate (see
    :func:`bootstrap_ci`), with the bootstrap bias estimate in ``bias``; either followed by
    ``"; K clusters of COLUMN"`` when whole clusters were resampled. ``se``: the standard
    deviation of the finite replicates (the bootstrap standard error), which the audit's
    p-values and minimum detectable effects use (:mod:`judgebench.audit.decisions`).

    Example:

    >>> est = Estimate(0.62, 0.55, 0.7, n=200)
    >>> est.to_dict(), est.covers(0.5)
    ({'estimate': 0.62, 'ci': [0.55, 0.7], 'n': 200, 'n_boot_failed': 0, 'method': 'percentile'},
     False)
    """

    estimate: float
    ci_low: float
    ci_high: float
    n: int
    n_boot_failed: int = 0
    method: str = PERCENTILE
    bias: float = float("nan")
    se: float = float("nan")

    def to_dict(self) -> dict:
        """The JSON form used in audit.json: ``{"estimate", "ci": [lo, hi], "n",
        "n_boot_failed", "method"}``, and ``"bias"`` when the interval was recentred."""
        out = {"estimate": _f(self.estimate), "ci": [_f(self.ci_low), _f(self.ci_high)],
               "n": int(self.n), "n_boot_failed": int(self.n_boot_failed),
               "method": self.method}
        if np.isfinite(self.bias):
            out["bias"] = float(self.bias)
        return out

    def covers(self, value: float) -> bool:
        """Whether ``value`` lies inside the CI."""
        return bool(self.ci_low <= value <= self.ci_high)


def _blocks(n_boot: int, width: int, seed: int,
            draw: Callable[[np.random.Generator, int], np.ndarray]) -> Iterator[np.ndarray]:
    """Yield ``draw(rng, b)`` for blocks of b resamples, ``n_boot`` in all, b * width bounded.

    The one random stream of every weight generator below: the same seed gives the same
    resamples whatever the block size, and no seed is an error (no silent random default).
    """
    if seed is None:
        raise ValueError("seed is required (no silent random default); pass an int.")
    rng = np.random.default_rng(seed)
    block = max(1, min(n_boot, _BLOCK_ELEMENTS // max(width, 1)))
    done = 0
    while done < n_boot:
        b = min(block, n_boot - done)
        yield draw(rng, b)
        done += b


def bootstrap_weights(n: int, n_boot: int, seed: int) -> Iterator[np.ndarray]:
    """Yield blocks of multinomial resampling counts, shape (b, n), summing to n per row.

    >>> [w.sum(axis=1).tolist() for w in bootstrap_weights(3, 2, seed=0)]
    [[3.0, 3.0]]
    """
    # Sampling n indices with replacement == multinomial counts with equal probabilities.
    return _blocks(n_boot, n, seed, lambda rng, b: rng.multinomial(
        n, np.full(n, 1.0 / n), size=b).astype(np.float64))


def bootstrap_ci(
    statistic: Statistic,
    *arrays: np.ndarray,
    n_boot: int = 1000,
    seed: int,
    level: float = 0.95,
    compress: bool = False,
    clusters: np.ndarray | None = None,
    cluster_name: str = "cluster",
) -> Estimate:
    """Percentile bootstrap CI of ``statistic`` over pairs (the first axis of every array).

    ``compress=True`` first collapses pairs whose rows are identical in every array (see
    :func:`unique_rows`) and resamples the distinct rows with multinomial counts: the same
    bootstrap distribution, at a cost that grows with the number of distinct rows instead of
    the number of pairs. Valid for any statistic of the weighted pairs (all of judgebench's).

    ``clusters`` (one label per pair, e.g. the prompt) resamples whole clusters with
    replacement: each pair's weight is the number of times its cluster is drawn (Davison &
    Hinkley 1997, §3.8). ``cluster_name`` only labels ``method``.

    Resamples with a NaN statistic are counted in ``n_boot_failed``. When the percentile
    interval does not contain the point estimate (a statistic whose bootstrap replicates are
    biased, like ECE, which noise inflates once in the sample and again in each resample), the
    interval is recentred by the bootstrap bias b = mean(replicates) - estimate: [lo - b, hi - b]
    (Efron & Tibshirani 1993, §10), ``method`` says so and ``bias`` holds b.

    >>> est = bootstrap_ci(weighted_mean, np.array([0., 1., 1., 1.]), n_boot=50, seed=0,
    ...                    clusters=np.array(["a", "a", "b", "b"]), cluster_name="prompt")
    >>> est.method, est.n_boot_failed
    ('percentile; 2 clusters of prompt', 0)
    """
    if not arrays:
        raise ValueError("bootstrap_ci needs at least one per-pair array.")
    n = len(arrays[0])
    if any(len(a) != n for a in arrays):
        raise ValueError(f"all arrays must have the same first axis; got {[len(a) for a in arrays]}.")
    if clusters is not None and len(clusters) != n:
        raise ValueError(f"clusters needs one label per pair ({n}); got {len(clusters)}. Pass "
                         "the cluster column of the same per-pair rows as the arrays.")
    if n == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0)
    method = PERCENTILE
    if clusters is not None:
        codes, uniq = pd.factorize(pd.Series(np.asarray(clusters, dtype=object)),
                                   use_na_sentinel=False)
        method = f"{PERCENTILE}; {len(uniq)} clusters of {cluster_name}"
        if compress:
            counts, rows = unique_rows(codes.astype(np.float64), *arrays)
            row_code, arrays = rows[0].astype(np.int64), rows[1:]
        else:
            counts, row_code = np.ones(n, dtype=np.int64), codes
        point = float(np.asarray(statistic(counts[None, :].astype(float), *arrays))[0])
        blocks = cluster_weights(row_code, counts, len(uniq), n_boot, seed)
    elif compress:
        counts, arrays = unique_rows(*arrays)
        point = float(np.asarray(statistic(counts[None, :].astype(float), *arrays))[0])
        blocks = compressed_weights(counts, n_boot, seed)
    else:
        point = float(np.asarray(statistic(np.ones((1, n)), *arrays))[0])
        blocks = bootstrap_weights(n, n_boot, seed)
    if n_boot <= 0:
        return Estimate(point, float("nan"), float("nan"), n, 0, method)
    values = np.concatenate([np.asarray(statistic(w, *arrays), dtype=float) for w in blocks])
    finite = np.isfinite(values)
    n_failed = int((~finite).sum())
    values = values[finite]
    if values.size == 0:
        return Estimate(point, float("nan"), float("nan"), n, n_failed, method)
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(values, [alpha, 1.0 - alpha])
    se = float(np.std(values, ddof=1)) if values.size > 1 else float("nan")
    est = Estimate(point, float(lo), float(hi), n, n_failed, method, se=se)
    return recentre(est, values)


def recentre(est: Estimate, values: np.ndarray) -> Estimate:
    """The interval shifted by the bootstrap bias when it misses its own estimate; else as is.

    >>> round(recentre(Estimate(0.2, 0.25, 0.45, 10), np.array([0.25, 0.35, 0.45])).ci_low, 3)
    0.1
    """
    if not (np.isfinite(est.estimate) and np.isfinite(est.ci_low)) or \
            est.ci_low <= est.estimate <= est.ci_high:
        return est
    bias = float(np.mean(values)) - est.estimate
    return replace(est, ci_low=est.ci_low - bias, ci_high=est.ci_high - bias,
                   method=est.method.replace(PERCENTILE, RECENTRED, 1), bias=bias)


def shifted(est: Estimate, exact: float) -> Estimate:
    """``est`` moved so its point estimate is ``exact`` (for statistics bootstrapped on a grid).

    >>> shifted(Estimate(1.0, 0.5, 1.5, 10), 1.25).ci_low
    0.75
    """
    shift = exact - est.estimate
    return replace(est, estimate=exact, ci_low=est.ci_low + shift, ci_high=est.ci_high + shift)


def cluster_weights(row_cluster: np.ndarray, counts: np.ndarray, n_clusters: int, n_boot: int,
                    seed: int) -> Iterator[np.ndarray]:
    """Yield blocks of per-row weights, shape (b, R), from resampling whole clusters.

    ``row_cluster`` (R,) is each row's cluster code in [0, n_clusters), ``counts`` (R,) how many
    pairs the row stands for. A resample draws n_clusters clusters with replacement; a row's
    weight is its count times the number of draws of its cluster.

    >>> next(cluster_weights(np.array([0, 0, 1]), np.ones(3), 2, 1, seed=0)).shape
    (1, 3)
    """
    row_cluster = np.asarray(row_cluster, dtype=np.int64)
    counts = np.asarray(counts, dtype=np.float64)

    def draw(rng: np.random.Generator, b: int) -> np.ndarray:
        draws = rng.multinomial(n_clusters, np.full(n_clusters, 1.0 / n_clusters), size=b)
        return draws[:, row_cluster].astype(np.float64) * counts[None, :]

    return _blocks(n_boot, max(len(row_cluster), n_clusters), seed, draw)


def shared_clusters(pp: pd.DataFrame, column: str = "prompt") -> np.ndarray | None:
    """``pp[column]`` as cluster labels when some pairs share a value, else None (pairs are
    the clusters). What the audits use to resample pairs that share a prompt together.

    >>> shared_clusters(pd.DataFrame({"prompt": ["a", "a", "b"]})).tolist()
    ['a', 'a', 'b']
    >>> shared_clusters(pd.DataFrame({"prompt": ["a", "b"]})) is None
    True
    """
    if column not in pp.columns:
        return None
    values = pp[column]
    if values.isna().any() or values.nunique() >= len(values):
        return None
    return values.to_numpy(dtype=object)


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


def compressed_weights(counts: np.ndarray, n_boot: int, seed: int) -> Iterator[np.ndarray]:
    """Yield blocks of resampling counts over K distinct rows, shape (b, K), each summing to n.

    Drawing n pairs with replacement and counting how many land on each distinct row is one
    multinomial draw with probabilities counts / n: this is the pair bootstrap, exactly.

    >>> next(compressed_weights(np.array([3, 1]), 2, seed=0)).sum(axis=1).tolist()
    [4.0, 4.0]
    """
    counts = np.asarray(counts, dtype=np.int64)
    n = int(counts.sum())
    return _blocks(n_boot, len(counts), seed,
                   lambda rng, b: rng.multinomial(n, counts / n, size=b).astype(np.float64))


def weighted_mean(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Mean of per-pair values under each row of weights; NaN values are left out.

    >>> weighted_mean(np.array([[1.0, 1.0, 1.0], [0.0, 2.0, 1.0]]), np.array([0., 1., np.nan]))
    array([0.5, 1. ])
    """
    x = np.asarray(x, dtype=float)
    ok = np.isfinite(x)
    num = w @ np.where(ok, x, 0.0)
    den = w @ ok.astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return num / den


def weighted_ratio(w: np.ndarray, num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """sum(w * num) / sum(w * den): a share over a subset that varies per pair.

    >>> weighted_ratio(np.ones((1, 2)), np.array([1.0, 0.0]), np.array([2.0, 2.0]))
    array([0.25])
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        return (w @ np.asarray(num, float)) / (w @ np.asarray(den, float))


def per_resample(fn: Callable[..., float]) -> Statistic:
    """Lift a scalar statistic of (weights, *arrays) to the (B, n) form, one resample at a time.

    For statistics with no closed weighted form (Cohen's kappa, a logistic slope): slower, so
    callers choose ``n_boot`` with the data size in mind.

    >>> per_resample(lambda w, x: float(w @ x))(np.ones((2, 2)), np.array([1.0, 2.0]))
    array([3., 3.])
    """

    def lifted(w: np.ndarray, *arrays: np.ndarray) -> np.ndarray:
        return np.array([fn(row, *arrays) for row in w])

    return lifted


# ---------------------------------------------------------------------------------------------
# The resampling unit


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


# ---------------------------------------------------------------------------------------------
# Intervals over seeds


@dataclass(frozen=True)
class Interval:
    """An estimate with its interval, the number of replicates and the method that made it.

    Example:

    >>> iv = Interval(2.0, 1.0, 3.0, n=3, method="t")
    >>> iv.text(), iv.excludes(0.0)
    ('2.00 [1.00, 3.00] (n = 3, t)', True)
    """

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


def t_interval(values: Sequence[float], level: float = 0.95) -> Interval:
    """Mean of independent replicates with Student's t interval (NaNs dropped).

    With one replicate the interval is undefined (NaN); ``se`` is the standard error.

    >>> t_interval([1.0, np.nan, 3.0]).n
    2
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

    >>> seed_bootstrap([1.0, 2.0, 3.0]).method
    'seed bootstrap needs >= 8 seeds'
    """
    x = np.asarray(values, float)
    x = x[np.isfinite(x)]
    if x.size < MIN_SEEDS_FOR_BOOTSTRAP:
        return Interval(float(x.mean()) if x.size else float("nan"), float("nan"),
                        float("nan"), int(x.size),
                        f"seed bootstrap needs >= {MIN_SEEDS_FOR_BOOTSTRAP} seeds")
    est = bootstrap_ci(weighted_mean, x, n_boot=n_boot, seed=seed, level=level)
    return Interval(est.estimate, est.ci_low, est.ci_high, est.n, "seed-cluster bootstrap")


def ols_slope(x: Sequence[float], y: Sequence[float]) -> float:
    """OLS slope of y on x (NaN when x does not vary or fewer than 2 finite points).

    >>> ols_slope([0, 1, 2], [1.0, 3.0, 5.0])
    2.0
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size < 2 or np.ptp(x) == 0:
        return float("nan")
    dx = x - x.mean()
    return float((dx * (y - y.mean())).sum() / (dx * dx).sum())


@dataclass(frozen=True)
class LackOfFit:
    """The F test of a straight line against the dose means (replicates at each dose).

    Example:

    >>> r = lack_of_fit([0, 0, 1, 1, 2, 2], [0.0, 0.2, 1.0, 1.2, 2.0, 2.2])
    >>> r.df_lack, r.df_pure, r.to_dict()["p_value"]
    (1, 3, 1.0)
    """

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
