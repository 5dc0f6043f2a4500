"""Verbosity bias: does the judge prefer longer answers? (DESIGN §4)

Observational (on any verdict table):

* **p_prefer_longer** (AlpacaEval, Dubois et al. 2023, ``analyze.get_length_biases``): share
  of decisive verdicts that pick the longer response, over pairs whose lengths differ by more
  than 30 characters. Per verdict, both orders pooled (resampled by pair).
* **length_slope**: the slope phi of a fractional logistic regression (Papke & Wooldridge
  1996) of the judge's swap-averaged win for response_1 on tanh(dlen / sd(dlen)) (the length
  feature of AlpacaEval's length control, Dubois et al. 2024), with the gold label (or the
  quality difference) as a covariate where available.

Counterfactual (on verdicts of :func:`judgebench.audit.perturb.padded_pairs`):

* **padding_win_rate** (Zheng et al. 2023, "repetitive list" attack): share of verdicts in
  which the padded copy beats the original; a tie is not a win. Reported overall and per
  added length (the dose-response).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit

from judgebench.audit.position import TABLE_COLUMNS, estimate_rows, pairs_of, response1_wins
from judgebench.probability import gold_p1, swap_average
from judgebench.stats import (
    Estimate,
    bootstrap_ci,
    per_pair,
    shifted,
    unique_rows,
    weighted_ratio,
)

#: AlpacaEval's threshold: lengths must differ by more than this many characters.
LENGTH_MARGIN = 30
#: tanh(dlen/sd) is resampled on a grid of this step (estimate and CI shift stay exact).
_X_STEP = 1.0 / 200
#: the soft outcome is resampled on a grid of this step (same exact-shift treatment).
_Y_STEP = 1.0 / 200
LENGTH_BINS = (0, 30, 100, 300, 1000, np.inf)


def _check_same_length(**arrays: np.ndarray) -> None:
    sizes = {k: len(v) for k, v in arrays.items() if v is not None}
    if len(set(sizes.values())) > 1:
        raise ValueError(f"per-pair arrays must have equal lengths; got {sizes}.")


def prefer_longer_counts(
    p_12: np.ndarray, p_21: np.ndarray, len_1: np.ndarray, len_2: np.ndarray,
    margin: float = LENGTH_MARGIN,
) -> tuple[np.ndarray, np.ndarray]:
    """Per pair: (decisive verdicts picking the longer response, decisive verdicts), 0-2 each.

    Pairs whose lengths differ by ``margin`` characters or less count (0, 0).

    Example:

    >>> num, den = prefer_longer_counts(np.array([0.9, 0.2, 0.6]), np.array([0.1, 0.7, 0.4]),
    ...                                 np.array([100, 100, 50]), np.array([10, 10, 40]))
    >>> num.tolist(), den.tolist()   # the third pair's lengths differ by only 10 characters
    ([2.0, 0.0, 0.0], [2.0, 2.0, 0.0])
    """
    len_1, len_2 = np.asarray(len_1, dtype=float), np.asarray(len_2, dtype=float)
    longer_is_1 = len_1 - len_2 > margin
    longer_is_2 = len_2 - len_1 > margin
    num = np.zeros(len(len_1))
    den = np.zeros(len(len_1))
    for r1 in response1_wins(p_12, p_21):  # (n,) per order, in response_1 terms
        decisive = (r1 == 0.0) | (r1 == 1.0)
        picks_longer = np.where(longer_is_1, r1 == 1.0, np.where(longer_is_2, r1 == 0.0, False))
        use = decisive & (longer_is_1 | longer_is_2)
        num += use & picks_longer
        den += use
    return num, den


def p_prefer_longer(
    p_12: np.ndarray, p_21: np.ndarray, len_1: np.ndarray, len_2: np.ndarray,
    *, margin: float = LENGTH_MARGIN, n_boot: int = 1000, seed: int,
) -> Estimate:
    """P(judge prefers the longer response) over decisive verdicts, |dlen| > margin (AlpacaEval).

    >>> p_prefer_longer(np.array([0.9, 0.2]), np.array([0.1, 0.7]), np.array([100, 100]),
    ...                 np.array([10, 10]), seed=0, n_boot=0).estimate
    0.5
    """
    _check_same_length(p_12=p_12, p_21=p_21, len_1=len_1, len_2=len_2)
    num, den = prefer_longer_counts(p_12, p_21, len_1, len_2, margin)
    keep = den > 0
    return bootstrap_ci(weighted_ratio, num[keep], den[keep], n_boot=n_boot, seed=seed,
                        compress=True)


def _fit_logit(w: np.ndarray, x: np.ndarray, y: np.ndarray, theta0: np.ndarray | None = None,
               iters: int = 50) -> np.ndarray:
    """Weighted fractional-logit MLE for every row of weights at once: theta of shape (B, p).

    Newton-Raphson vectorised over resamples: w (B, K) weights, x (K, p) design, y (K,) in
    [0, 1]. A resample without a finite optimum (separation) gives NaN, which the bootstrap
    drops rather than reporting a huge slope.
    """
    b, p = w.shape[0], x.shape[1]
    xx = (x[:, :, None] * x[:, None, :]).reshape(len(x), p * p)  # (K, p*p) outer products
    # Starting resamples at the full-data fit saves half the Newton steps.
    theta = np.zeros((b, p)) if theta0 is None else np.tile(theta0, (b, 1))
    ridge = 1e-9 * np.eye(p)
    for _ in range(iters):
        mu = expit(theta @ x.T)  # (B, K)
        grad = (w * (y - mu)) @ x  # (B, p)
        hess = ((w * mu * (1.0 - mu)) @ xx).reshape(b, p, p) + ridge
        step = np.linalg.solve(hess, grad[:, :, None])[:, :, 0]
        theta += step
        if np.nanmax(np.abs(step), initial=0.0) < 1e-8:
            break
    theta[np.abs(theta).max(axis=1) > 50] = np.nan  # diverged: separated data
    return theta




def length_slope(
    p_12: np.ndarray, p_21: np.ndarray, len_1: np.ndarray, len_2: np.ndarray,
    covariate: np.ndarray | None = None, *, n_boot: int = 1000, seed: int,
) -> Estimate:
    """Logistic slope of the judge's preference on tanh(dlen / sd(dlen)), dlen = len_1 - len_2.

    The outcome is the judge's soft preference: P(response_1 wins) averaged over both orders
    (a fractional logit, as AlpacaEval's length-controlled GLM; for a judge that only says
    0/1 it is the swap-averaged win, 0.5 for a split); ``covariate``
    (e.g. 2 * P(gold prefers response_1) - 1) absorbs quality so that phi measures length alone
    when quality and length are correlated. Pairs without a verdict or covariate are left out.
    Positive phi: the judge favours the longer response (AlpacaEval-LC's length term).

    Example:

    >>> from judgebench.judges.simulated import simulate_verdicts
    >>> pp = per_pair(simulate_verdicts(200, seed=0, verbosity=1.0), ["len_1", "len_2", "label"])
    >>> gold = np.where(pp["label"] == 1.0, 1.0, -1.0)      # 2 * P(gold prefers response_1) - 1
    >>> est = length_slope(pp["p_12"], pp["p_21"], pp["len_1"], pp["len_2"], gold,
    ...                    n_boot=50, seed=0)
    >>> round(est.estimate, 3), est.n
    (0.945, 200)
    """
    _check_same_length(p_12=p_12, p_21=p_21, len_1=len_1, len_2=len_2, covariate=covariate)
    # P(response_1 wins) in each order, averaged: the soft preference AlpacaEval's GLM models.
    y = swap_average(p_12, 1.0 - np.asarray(p_21, dtype=float))
    dlen = np.asarray(len_1, dtype=float) - np.asarray(len_2, dtype=float)
    cols = [dlen] + ([] if covariate is None else [np.asarray(covariate, dtype=float)])
    keep = np.isfinite(y) & np.all([np.isfinite(c) for c in cols], axis=0)
    y, cols = y[keep], [c[keep] for c in cols]
    sd = float(np.std(cols[0])) if keep.any() else 0.0
    if sd == 0.0:
        return Estimate(float("nan"), float("nan"), float("nan"), int(keep.sum()))
    feats = [np.tanh(cols[0] / sd)] + cols[1:]
    counts, (x_u, y_u) = unique_rows(_design(feats), y)
    theta = _fit_logit(counts[None, :].astype(float), x_u, y_u)[0]
    # Round features onto fine grids so a million pairs collapse to a few thousand rows.
    coarse = [np.round(feats[0] / _X_STEP) * _X_STEP]
    for c in feats[1:]:
        step = (np.std(c) or 1.0) / 100
        coarse.append(np.round(c / step) * step)
    y_coarse = np.round(y / _Y_STEP) * _Y_STEP  # soft outcomes collapse onto a grid as well

    def slope(w: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return _fit_logit(w, x, y, theta0=theta)[:, 1]

    est = bootstrap_ci(slope, _design(coarse), y_coarse, n_boot=n_boot, seed=seed,
                       compress=True)
    return shifted(est, float(theta[1]))  # keeps n_boot_failed (separated resamples)


def _design(features: list[np.ndarray]) -> np.ndarray:
    return np.column_stack([np.ones(len(features[0]))] + features)


def padding_win_counts(p_12: np.ndarray, p_21: np.ndarray, padded: int = 2
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Per pair: (valid verdicts won by the padded response, valid verdicts), 0-2 each.

    Example:

    >>> num, den = padding_win_counts(np.array([0.3, 0.5, np.nan]), np.array([0.8, 0.5, 0.6]))
    >>> num.tolist(), den.tolist()   # padded copy in response_2; a tie is not a win
    ([2.0, 0.0, 1.0], [2.0, 2.0, 1.0])
    """
    num = np.zeros(len(p_12))
    den = np.zeros(len(p_12))
    for r1 in response1_wins(p_12, p_21):
        valid = np.isfinite(r1)
        num += valid & (r1 == (1.0 if padded == 1 else 0.0))
        den += valid
    return num, den


def padding_win_rate(p_12: np.ndarray, p_21: np.ndarray, *, padded: int = 2,
                     n_boot: int = 1000, seed: int) -> Estimate:
    """P(padded copy beats the original) over valid verdicts, ties not wins (Zheng et al. 2023).

    >>> padding_win_rate(np.array([0.3, 0.5]), np.array([0.8, 0.5]), seed=0, n_boot=0).estimate
    0.5
    """
    if padded not in (1, 2):
        raise ValueError(f"padded must be 1 or 2 (the slot holding the padded copy); got "
                         f"{padded!r}.")
    _check_same_length(p_12=p_12, p_21=p_21)
    num, den = padding_win_counts(p_12, p_21, padded)
    keep = den > 0
    return bootstrap_ci(weighted_ratio, num[keep], den[keep], n_boot=n_boot, seed=seed,
                        compress=True)


# ---------------------------------------------------------------------------------------------
# Tables


def pair_lengths(pp: pd.DataFrame) -> tuple[np.ndarray, np.ndarray] | None:
    """len_1, len_2 per pair from the length columns, else from the texts; None if neither.

    Example:

    >>> len_1, len_2 = pair_lengths(pd.DataFrame({"response_1": ["abc"], "response_2": ["a"]}))
    >>> len_1.tolist(), len_2.tolist()
    ([3.0], [1.0])
    >>> pair_lengths(pd.DataFrame({"prompt": ["q"]})) is None
    True
    """
    if {"len_1", "len_2"} <= set(pp.columns):
        return (pd.to_numeric(pp["len_1"], errors="coerce").to_numpy(float),
                pd.to_numeric(pp["len_2"], errors="coerce").to_numpy(float))
    if {"response_1", "response_2"} <= set(pp.columns):
        return (pp["response_1"].str.len().to_numpy(float),
                pp["response_2"].str.len().to_numpy(float))
    return None


def quality_covariate(pp: pd.DataFrame) -> tuple[np.ndarray | None, str]:
    """2 * P(gold prefers response_1) - 1 from ``label``, else quality_1 - quality_2.

    Example:

    >>> cov, name = quality_covariate(pd.DataFrame({"label": [1.0, 2.0, 0.5]}))
    >>> cov.tolist(), name
    ([1.0, -1.0, 0.0], 'label')
    >>> quality_covariate(pd.DataFrame({"quality_1": [0.75], "quality_2": [0.25]}))[1]
    'quality'
    """
    if "label" in pp.columns and pp["label"].notna().any():
        return 2.0 * gold_p1(pp["label"]) - 1.0, "label"
    if {"quality_1", "quality_2"} <= set(pp.columns):
        return (pp["quality_1"].to_numpy(float) - pp["quality_2"].to_numpy(float)), "quality"
    return None, "none"


_PAIR_COLS = ["len_1", "len_2", "response_1", "response_2", "label", "quality_1", "quality_2"]


def verbosity_table(verdicts: pd.DataFrame, *, margin: float = LENGTH_MARGIN,
                    n_boot: int = 1000, seed: int, pp: pd.DataFrame | None = None
                    ) -> pd.DataFrame:
    """p_prefer_longer and length_slope per judge, as a long table (see position_table).

    ``pp``: this table's :func:`~judgebench.stats.per_pair` when already built (run_audit).

    Example:

    >>> from judgebench.judges.simulated import simulate_verdicts
    >>> t = verbosity_table(simulate_verdicts(200, seed=0, verbosity=1.0), n_boot=50, seed=0)
    >>> t[["measure", "estimate", "n", "covariate"]].round(3).values.tolist()
    [['verbosity.p_prefer_longer', 0.62, 184, 'label'],
     ['verbosity.length_slope', 0.945, 200, 'label']]
    """
    pp = pairs_of(verdicts, _PAIR_COLS, pp)
    rows: list[dict] = []
    for judge, grp in pp.groupby("judge", sort=True):
        lens = pair_lengths(grp)
        a, b = grp["p_12"].to_numpy(), grp["p_21"].to_numpy()
        if lens is None:
            why = "needs len_1/len_2 or response_1/response_2 columns"
            rows += estimate_rows(judge, "verbosity", {m: Estimate(np.nan, np.nan, np.nan, 0)
                                  for m in ("p_prefer_longer", "length_slope")},
                                  {"p_prefer_longer": why, "length_slope": why})
            continue
        cov, cov_name = quality_covariate(grp)
        est = {"p_prefer_longer": p_prefer_longer(a, b, *lens, margin=margin, n_boot=n_boot,
                                                  seed=seed),
               "length_slope": length_slope(a, b, *lens, cov, n_boot=n_boot, seed=seed)}
        notes = {}
        if est["length_slope"].n and not np.isfinite(est["length_slope"].estimate):
            notes["length_slope"] = "no spread in length differences (or separated data)"
        rows += estimate_rows(judge, "verbosity", est, notes, covariate=cov_name)
    return pd.DataFrame(rows, columns=TABLE_COLUMNS + ["covariate"])


def length_bins_table(verdicts: pd.DataFrame, *, edges: tuple = LENGTH_BINS,
                      n_boot: int = 1000, seed: int, pp: pd.DataFrame | None = None
                      ) -> pd.DataFrame:
    """P(judge prefers the longer response) per |dlen| bin, beside the gold's, per judge.

    ``pp``: this table's :func:`~judgebench.stats.per_pair` when already built (run_audit).

    Example:

    >>> from judgebench.judges.simulated import simulate_verdicts
    >>> t = length_bins_table(simulate_verdicts(200, seed=0, verbosity=1.0), n_boot=20, seed=0)
    >>> t[["bin", "p_prefer_longer", "n", "gold_p_longer_better"]].round(3).head(2).values.tolist()
    [['(0, 30]', 0.219, 16, 0.375], ['(30, 100]', 0.483, 29, 0.483]]
    """
    pp = pairs_of(verdicts, _PAIR_COLS, pp)
    rows = []
    for judge, grp in pp.groupby("judge", sort=True):
        lens = pair_lengths(grp)
        if lens is None:
            continue
        gap = np.abs(lens[0] - lens[1])
        gold = None
        if "label" in grp.columns and grp["label"].notna().any():
            gold = gold_p1(grp["label"])
        for lo, hi in zip(edges[:-1], edges[1:]):
            sel = (gap > lo) & (gap <= hi) if lo > 0 else (gap <= hi)
            a, b = grp["p_12"].to_numpy()[sel], grp["p_21"].to_numpy()[sel]
            l1, l2 = lens[0][sel], lens[1][sel]
            # margin 0: every pair with unequal lengths inside the bin counts.
            est = p_prefer_longer(a, b, l1, l2, margin=0, n_boot=n_boot, seed=seed)
            row = {"judge": judge, "bin": f"({lo:g}, {hi:g}]", "abs_dlen_low": lo,
                   "abs_dlen_high": hi, "p_prefer_longer": est.estimate, "ci_low": est.ci_low,
                   "ci_high": est.ci_high, "n": est.n, "gold_p_longer_better": np.nan}
            if gold is not None:
                longer_1 = l1 > l2
                gl = np.where(longer_1, gold[sel], 1.0 - gold[sel])[l1 != l2]
                row["gold_p_longer_better"] = float(np.nanmean(gl)) if np.isfinite(gl).any() \
                    else np.nan
            rows.append(row)
    return pd.DataFrame(rows)


def padding_table(verdicts: pd.DataFrame, *, n_boot: int = 1000, seed: int) -> pd.DataFrame:
    """Dose-response of P(padded wins): overall, per added length, per (perturbation, length).

    ``verdicts`` are a judge's verdicts on :func:`~judgebench.audit.perturb.padded_pairs`
    (original in response_1, padded copy in response_2, columns perturbation, added_chars).
    Rows with perturbation == added_chars == 'all' give ``verbosity.padding_win_rate``. The
    resampling unit is the original pair (``source_pair_id``), and ``n`` counts originals.

    Example:

    >>> from judgebench.audit.perturb import padded_pairs
    >>> from judgebench.judges.simulated import SimulatedJudge
    >>> p = pd.DataFrame({"pair_id": ["a", "b"], "prompt": "Why?",
    ...                   "response_1": ["Because.", "So."], "response_2": ["No.", "Yes."]})
    >>> padded = padded_pairs(p, ["filler"], [50, 200])
    >>> v = SimulatedJudge(verbosity=2.0).judge(padded, progress=False)
    >>> padding_table(v, n_boot=0, seed=0)[["perturbation", "added_chars", "estimate", "n"]].head(3)
      perturbation added_chars  estimate  n
    0          all         all       1.0  2
    1          all          50       1.0  2
    2          all         200       1.0  2
    """
    need = ["perturbation", "added_chars"]
    missing = [c for c in need if c not in verdicts.columns]
    if missing:
        raise ValueError(f"padding_table needs verdicts on padded pairs with columns {need}; "
                         f"missing {missing}. Build the pairs with perturb.padded_pairs().")
    pp = per_pair(verdicts, [*need, "source_pair_id"])
    if "source_pair_id" not in pp.columns:
        pp["source_pair_id"] = pp["pair_id"]
    num, den = padding_win_counts(pp["p_12"].to_numpy(), pp["p_21"].to_numpy())
    pp = pp.assign(num=num, den=den)
    rows: list[dict] = []
    for judge, grp in pp.groupby("judge", sort=True):
        groups = [("all", "all", grp)]
        groups += [("all", n, g) for n, g in grp.groupby("added_chars", sort=True)]
        groups += [(p, n, g) for (p, n), g in grp.groupby(["perturbation", "added_chars"],
                                                          sort=True)]
        for pert, added, g in groups:
            # Padded copies of one original are not independent: resample original pairs.
            per_src = g.groupby("source_pair_id")[["num", "den"]].sum()
            per_src = per_src[per_src["den"] > 0]
            est = bootstrap_ci(weighted_ratio, per_src["num"].to_numpy(float),
                               per_src["den"].to_numpy(float), n_boot=n_boot, seed=seed,
                               compress=True)
            rows += estimate_rows(judge, "verbosity", {"padding_win_rate": est},
                                  perturbation=pert, added_chars=added)
    return pd.DataFrame(rows, columns=TABLE_COLUMNS + ["perturbation", "added_chars"])
