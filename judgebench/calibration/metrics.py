"""Calibration metrics: pure functions on arrays (p, y) and table wrappers with bootstrap CIs.

``p`` is the judge's P(response_1 wins) and ``y`` the gold P(response_1 better) from
:func:`~judgebench.verdicts.label_to_p1` (1, 0, 0.5 for a tie, or a soft probability).

Tie semantics (docs/design/calibration.md): a gold tie (y = 0.5) has no right answer, so it is
left out of accuracy, ECE and the reliability diagram, and kept as a soft target in NLL and
Brier (where predicting 0.5 is optimal). A judge's own tie (p = 0.5) scores 0.5 "correct" (the
expected accuracy of breaking it by a coin). Failed verdicts (NaN p) are left out of every
metric and counted separately. ECE is top-label (Guo et al. 2017, eq. 3): confidence =
max(p, 1 - p); for two classes it never falls below 0.5, so the bins span [0.5, 1].

The table wrappers resample pairs (both orders and every judge of a pair move together) through
:func:`judgebench.stats.bootstrap_ci`; each statistic is a closed form in the resampling
weights, so 1000 resamples cost a few matrix products.

>>> accuracy(np.array([0.9, 0.2, 0.5]), np.array([1.0, 1.0, 0.5]))
0.5
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from judgebench.calibration.base import row_gold
from judgebench.probability import PROB_EPS
from judgebench.stats import Estimate, bootstrap_ci, weighted_ratio

N_BINS = 15


# ---------------------------------------------------------------------------------------------
# Pure per-row quantities


def correctness(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Expected correctness of the judge's pick: y if p > .5, 1 - y if p < .5, .5 if p == .5.

    Example:

    >>> correctness(np.array([0.9, 0.2, 0.5, 0.7]), np.array([1.0, 1.0, 1.0, 0.5]))
    array([1. , 0. , 0.5, 0.5])
    """
    p, y = np.asarray(p, float), np.asarray(y, float)
    return np.where(p > 0.5, y, np.where(p < 0.5, 1.0 - y, 0.5))


def confidence(p: np.ndarray) -> np.ndarray:
    """Top-label confidence max(p, 1 - p) (Guo et al. 2017).

    Example:

    >>> confidence(np.array([0.9, 0.2, 0.5]))
    array([0.9, 0.8, 0.5])
    """
    p = np.asarray(p, float)
    return np.maximum(p, 1.0 - p)


def row_nll(p: np.ndarray, y: np.ndarray, eps: float = PROB_EPS) -> np.ndarray:
    """Cross-entropy -[y log p + (1 - y) log(1 - p)] per row, p clipped to [eps, 1 - eps].

    Example:

    >>> row_nll(np.array([0.9, 0.2, 0.5]), np.array([1.0, 1.0, 0.5])).round(3)
    array([0.105, 1.609, 0.693])
    """
    p = np.clip(np.asarray(p, float), eps, 1.0 - eps)
    y = np.asarray(y, float)
    return -(y * np.log(p) + (1.0 - y) * np.log1p(-p))


def _usable(p: np.ndarray, y: np.ndarray, decisive: bool) -> np.ndarray:
    ok = np.isfinite(p) & np.isfinite(y)
    return ok & (y != 0.5) if decisive else ok


# ---------------------------------------------------------------------------------------------
# Pure metrics on arrays


def accuracy(p: np.ndarray, y: np.ndarray) -> float:
    """Share of decisive gold labels the judge picks (judge ties count 0.5; gold ties left out).

    Example:

    >>> accuracy(np.array([0.9, 0.2, 0.5, 0.7]), np.array([1.0, 1.0, 1.0, 0.5]))  # a gold tie: out
    0.5
    """
    p, y = np.asarray(p, float), np.asarray(y, float)
    ok = _usable(p, y, decisive=True)
    return float(correctness(p[ok], y[ok]).mean()) if ok.any() else float("nan")


def brier_score(p: np.ndarray, y: np.ndarray) -> float:
    """Mean squared error (p - y)^2 (Brier 1950); gold ties kept as the soft target 0.5.

    Example:

    >>> round(brier_score(np.array([0.9, 0.2, 0.5]), np.array([1.0, 1.0, 0.5])), 3)
    0.217
    """
    p, y = np.asarray(p, float), np.asarray(y, float)
    ok = _usable(p, y, decisive=False)
    return float(((p[ok] - y[ok]) ** 2).mean()) if ok.any() else float("nan")


def log_loss(p: np.ndarray, y: np.ndarray, eps: float = PROB_EPS) -> float:
    """Mean negative log-likelihood (cross-entropy with soft targets; gold ties kept).

    Example:

    >>> round(log_loss(np.array([0.9, 0.2, 0.5]), np.array([1.0, 1.0, 0.5])), 3)
    0.803
    """
    p, y = np.asarray(p, float), np.asarray(y, float)
    ok = _usable(p, y, decisive=False)
    return float(row_nll(p[ok], y[ok], eps).mean()) if ok.any() else float("nan")


def uniform_bins(conf: np.ndarray, n_bins: int = N_BINS) -> np.ndarray:
    """Bin index of each confidence in ``n_bins`` equal-width bins over [0.5, 1].

    Example:

    >>> uniform_bins(np.array([0.5, 0.74, 0.75, 1.0]), n_bins=2)
    array([0, 0, 1, 1])
    """
    edges = np.linspace(0.5, 1.0, n_bins + 1)
    return np.clip(np.searchsorted(edges, conf, side="right") - 1, 0, n_bins - 1)


def equal_mass_bins(conf: np.ndarray, n_bins: int = N_BINS) -> np.ndarray:
    """Bin index by rank: ``n_bins`` bins of (nearly) equal count (Nixon et al. 2019, ACE).

    Example:

    >>> equal_mass_bins(np.array([0.9, 0.6, 0.8, 0.7]), n_bins=2)
    array([1, 0, 1, 0])
    """
    conf = np.asarray(conf, float)
    idx = np.empty(len(conf), dtype=np.int64)
    # A stable sort keeps equal confidences in input order, so the split is deterministic.
    order = np.argsort(conf, kind="stable")
    for b, chunk in enumerate(np.array_split(order, min(n_bins, max(len(conf), 1)))):
        idx[chunk] = b
    return idx


def _ece_binned(p: np.ndarray, y: np.ndarray, bins_of) -> float:
    p, y = np.asarray(p, float), np.asarray(y, float)
    ok = _usable(p, y, decisive=True)
    if not ok.any():
        return float("nan")
    conf, corr = confidence(p[ok]), correctness(p[ok], y[ok])
    idx = bins_of(conf)
    gap = np.bincount(idx, weights=conf - corr)
    return float(np.abs(gap).sum() / ok.sum())


def ece(p: np.ndarray, y: np.ndarray, n_bins: int = N_BINS) -> float:
    """Expected calibration error, equal-width bins (Guo et al. 2017; Naeini et al. 2015).

    >>> round(ece(np.array([0.9, 0.9]), np.array([1.0, 0.0])), 3)
    0.4
    """
    return _ece_binned(p, y, lambda c: uniform_bins(c, n_bins))


def adaptive_ece(p: np.ndarray, y: np.ndarray, n_bins: int = N_BINS) -> float:
    """ECE with equal-mass bins (adaptive calibration error, Nixon et al. 2019).

    Example:

    >>> p = np.array([0.95, 0.9, 0.6, 0.55, 0.52, 0.58])
    >>> y = np.array([1.0, 1.0, 0.0, 1.0, 0.0, 0.0])
    >>> round(ece(p, y, n_bins=2), 3), round(adaptive_ece(p, y, n_bins=2), 3)
    (0.233, 0.183)
    """
    return _ece_binned(p, y, lambda c: equal_mass_bins(c, n_bins))


def reliability_diagram(p: np.ndarray, y: np.ndarray, bins: np.ndarray | None = None,
                        n_bins: int = N_BINS) -> pd.DataFrame:
    """Per bin: lower/upper confidence, mean confidence, accuracy, count (Guo et al. 2017 Fig. 1).

    ``bins`` gives each usable row's bin (default: equal-width); empty bins have count 0.

    Example:

    >>> p, y = np.array([0.9, 0.8, 0.6, 0.3]), np.array([1.0, 0.0, 1.0, 0.0])
    >>> reliability_diagram(p, y, n_bins=2)
       bin  lower  upper  mean_confidence  accuracy  count
    0    0   0.50   0.75             0.65       1.0      2
    1    1   0.75   1.00             0.85       0.5      2
    """
    p, y = np.asarray(p, float), np.asarray(y, float)
    ok = _usable(p, y, decisive=True)
    conf, corr = confidence(p[ok]), correctness(p[ok], y[ok])
    idx = uniform_bins(conf, n_bins) if bins is None else np.asarray(bins)[ok]
    count = np.bincount(idx, minlength=n_bins)[:n_bins]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(idx, weights=conf, minlength=n_bins)[:n_bins] / count
        acc = np.bincount(idx, weights=corr, minlength=n_bins)[:n_bins] / count
    edges = np.linspace(0.5, 1.0, n_bins + 1)
    lower = edges[:-1] if bins is None else _bin_extreme(idx, conf, n_bins, np.minimum, np.inf)
    upper = edges[1:] if bins is None else _bin_extreme(idx, conf, n_bins, np.maximum, -np.inf)
    return pd.DataFrame({"bin": np.arange(n_bins), "lower": lower, "upper": upper,
                         "mean_confidence": mean_conf, "accuracy": acc, "count": count})


def _bin_extreme(idx, conf, n_bins, ufunc, init) -> np.ndarray:
    out = np.full(n_bins, init)
    ufunc.at(out, idx, conf)
    return np.where(np.isfinite(out), out, np.nan)


# ---------------------------------------------------------------------------------------------
# Table wrappers: per-pair sums, then a ratio of weighted sums per bootstrap resample


def _rows(verdicts: pd.DataFrame):
    """(p, y, pair index, pair ids) per row; failed rows have p = NaN."""
    p = verdicts["p_1"].to_numpy(dtype=float).copy()
    p[verdicts["failed"].to_numpy(bool)] = np.nan
    pair_codes, pair_ids = pd.factorize(verdicts["pair_id"].astype(str), sort=True)
    return p, row_gold(verdicts), pair_codes, len(pair_ids)


def _per_pair(codes: np.ndarray, n_pairs: int, values: np.ndarray) -> np.ndarray:
    return np.bincount(codes, weights=values, minlength=n_pairs)


def _ratio_estimate(num: np.ndarray, den: np.ndarray, n_boot: int, seed: int) -> Estimate:
    keep = den > 0  # n counts the pairs that contribute, not every pair in the table
    return bootstrap_ci(weighted_ratio, num[keep], den[keep], n_boot=n_boot, seed=seed)


def _binned_ece_estimate(conf, corr, idx, codes, n_pairs, n_bins, n_boot, seed) -> Estimate:
    # (n_pairs, n_bins) sums of confidence - correctness, and row counts.
    gap = np.zeros((n_pairs, n_bins))
    cnt = np.zeros(n_pairs)
    np.add.at(gap, (codes, idx), conf - corr)
    np.add.at(cnt, codes, 1.0)
    keep = cnt > 0
    gap, cnt = gap[keep], cnt[keep]

    def stat(w: np.ndarray, gap: np.ndarray, cnt: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.abs(w @ gap).sum(axis=1) / (w @ cnt)

    return bootstrap_ci(stat, gap, cnt, n_boot=n_boot, seed=seed)


def calibration_metrics(verdicts: pd.DataFrame, *, n_boot: int = 1000, seed: int,
                        n_bins: int = N_BINS) -> dict[str, Estimate]:
    """accuracy, nll, brier, ece, ece_adaptive of a verdict table's p_1 against its labels.

    Every row (order, judge) is one prediction; the bootstrap resamples pairs. Adaptive bin
    edges are set on the whole sample and held fixed across resamples.

    Example:

    >>> from judgebench.judges.simulated import simulate_verdicts
    >>> m = calibration_metrics(simulate_verdicts(100, seed=0, temperature=2.0), n_boot=100, seed=0)
    >>> {name: round(est.estimate, 3) for name, est in m.items()}
    {'accuracy': 0.775, 'nll': 0.567, 'brier': 0.171, 'ece': 0.125, 'ece_adaptive': 0.129}
    """
    p, y, codes, n_pairs = _rows(verdicts)
    out: dict[str, Estimate] = {}
    soft = _usable(p, y, decisive=False)
    dec = _usable(p, y, decisive=True)
    c_dec, c_soft = codes[dec], codes[soft]
    ones_dec, ones_soft = np.ones(dec.sum()), np.ones(soft.sum())
    out["accuracy"] = _ratio_estimate(
        _per_pair(c_dec, n_pairs, correctness(p[dec], y[dec])),
        _per_pair(c_dec, n_pairs, ones_dec), n_boot, seed)
    out["nll"] = _ratio_estimate(
        _per_pair(c_soft, n_pairs, row_nll(p[soft], y[soft])),
        _per_pair(c_soft, n_pairs, ones_soft), n_boot, seed)
    out["brier"] = _ratio_estimate(
        _per_pair(c_soft, n_pairs, (p[soft] - y[soft]) ** 2),
        _per_pair(c_soft, n_pairs, ones_soft), n_boot, seed)
    conf, corr = confidence(p[dec]), correctness(p[dec], y[dec])
    for key, bins in (("ece", uniform_bins(conf, n_bins)),
                      ("ece_adaptive", equal_mass_bins(conf, n_bins))):
        if not dec.any():
            out[key] = Estimate(float("nan"), float("nan"), float("nan"), 0)
            continue
        out[key] = _binned_ece_estimate(conf, corr, bins, c_dec, n_pairs, n_bins, n_boot, seed)
    return out


def reliability_table(verdicts: pd.DataFrame, n_bins: int = N_BINS) -> pd.DataFrame:
    """Reliability-diagram rows for equal-width and equal-mass bins (column ``binning``).

    Example:

    >>> from judgebench.judges.simulated import simulate_verdicts
    >>> t = reliability_table(simulate_verdicts(100, seed=0, temperature=2.0), n_bins=3)
    >>> t.groupby("binning")["count"].sum().to_dict(), t["count"].tolist()
    ({'adaptive': 200, 'uniform': 200}, [22, 25, 153, 67, 67, 66])
    """
    p, y, _, _ = _rows(verdicts)
    ok = _usable(p, y, decisive=True)
    mass = np.zeros(len(p), dtype=np.int64)
    mass[ok] = equal_mass_bins(confidence(p[ok]), n_bins)
    return pd.concat([
        reliability_diagram(p, y, n_bins=n_bins).assign(binning="uniform"),
        reliability_diagram(p, y, bins=mass, n_bins=n_bins).assign(binning="adaptive"),
    ], ignore_index=True)
