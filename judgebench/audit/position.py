"""Position bias: does the judge's verdict depend on which answer it sees first? (DESIGN §4)

Every measure here is computed on the two ordered verdicts of one pair and resampled by pair.
Definitions (docs/design/audit-definitions.md):

* **winner** of a verdict: the first shown answer if P(first) > 0.5, the second if < 0.5, a
  **tie** if exactly 0.5; a failed verdict has no winner. A verdict is **decisive** unless it
  is a tie or failed.
* **consistency** (Zheng et al. 2023): share of pairs whose winner, mapped back to
  response_1/response_2, is the same in both orders (a tie in both orders is consistent).
* **conflict rate** (Wang et al. 2023): 1 - consistency.
* **P(first)**: share of all decisive verdicts, both orders pooled, won by the first slot.
* **same position preferred** (Lee et al. 2023): share of pairs where the same *slot* wins in
  both orders (first twice or second twice).
* **offset_logit**: mean over pairs of (logit P(first|12) + logit P(first|21)) / 2, with P
  clipped to [eps, 1 - eps] (eps = :data:`~judgebench.probability.OFFSET_EPS`, 1e-4). The
  quality term flips sign between the orders and cancels, so for a judge with
  P(first) = sigmoid(T * (quality + b + noise)) it estimates T * b.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from judgebench.probability import OFFSET_EPS, safe_logit, swap_average
from judgebench.stats import (
    Estimate,
    bootstrap_ci,
    per_pair,
    shared_clusters,
    shifted,
    weighted_mean,
    weighted_ratio,
)

#: Offsets are resampled on a grid of sd/OFFSET_GRID (estimate and CI shift stay exact).
OFFSET_GRID = 100
TABLE_COLUMNS = ["judge", "measure", "estimate", "ci_low", "ci_high", "n", "note",
                 "n_boot_failed", "method", "se"]
POSITION_MEASURES = ("consistency", "conflict_rate", "p_first", "same_position_preferred",
                     "offset_logit")


def pairs_of(verdicts: pd.DataFrame, columns: Sequence[str] = (),
             pp: pd.DataFrame | None = None) -> pd.DataFrame:
    """``per_pair(verdicts, columns)``, or ``pp`` when the caller has built it already.

    ``pp`` is :func:`~judgebench.stats.per_pair` of this same ``verdicts`` table (run_audit
    builds it once, with the columns of every measure, and hands it to each). It must hold
    each of ``columns`` that ``verdicts`` has; the extra columns it may carry change nothing.

    >>> v = pd.DataFrame({"pair_id": ["a", "a"], "judge": "j", "order": ["12", "21"],
    ...                   "p_first": [0.9, 0.3], "failed": False, "label": 1})
    >>> pp = per_pair(v, ["label"])
    >>> pairs_of(v, ["label"], pp) is pp, pairs_of(v, ["label"]).equals(pp)
    (True, True)
    """
    if pp is None:
        return per_pair(verdicts, columns)
    missing = [c for c in columns if c in verdicts.columns and c not in pp.columns]
    if missing:
        raise ValueError(f"the per-pair table passed as pp= lacks column(s) {missing} of the "
                         f"verdicts table; build it with per_pair(verdicts, {list(columns)}).")
    return pp


def winner(p: np.ndarray) -> np.ndarray:
    """The winner of each verdict from P(first): 1.0 first, 0.0 second, 0.5 tie, NaN failed.

    >>> winner(np.array([0.9, 0.1, 0.5, np.nan])).tolist()
    [1.0, 0.0, 0.5, nan]
    """
    p = np.asarray(p, dtype=float)
    out = np.where(p > 0.5, 1.0, np.where(p < 0.5, 0.0, 0.5))
    out[np.isnan(p)] = np.nan
    return out


def response1_wins(p_12: np.ndarray, p_21: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Winners in response_1 terms per order: 1.0 response_1, 0.0 response_2, 0.5 tie, NaN.

    Example:

    >>> w12, w21 = response1_wins(np.array([0.9, 0.8]), np.array([0.2, 0.7]))
    >>> w12.tolist(), w21.tolist()
    ([1.0, 1.0], [1.0, 0.0])
    """
    # Order 12 shows response_1 first; order 21 shows it second, so its winner flips.
    return winner(p_12), 1.0 - winner(p_21)


def swap_averaged_win(p_12: np.ndarray, p_21: np.ndarray) -> np.ndarray:
    """Per pair, response_1's win (1, 0.5 tie, 0) averaged over the valid orders; NaN if none.

    >>> swap_averaged_win(np.array([0.9, 0.9, np.nan]), np.array([0.2, 0.7, 0.4])).tolist()
    [1.0, 0.5, 1.0]
    """
    return swap_average(*response1_wins(p_12, p_21))


def pair_outcomes(p_12: np.ndarray, p_21: np.ndarray) -> dict[str, np.ndarray]:
    """Per-pair indicators behind every position measure (pairs with a NaN order give NaN).

    ``consistent`` and ``same_position`` are 0/1 per pair; ``first_wins`` and ``decisive``
    count verdicts (0-2) per pair, over whichever orders are valid.

    Example:

    >>> o = pair_outcomes(np.array([0.9, 0.8]), np.array([0.2, 0.7]))
    >>> o["consistent"].tolist(), o["same_position"].tolist(), o["first_wins"].tolist()
    ([1.0, 0.0], [0.0, 1.0], [1.0, 2.0])
    """
    w12, w21 = winner(p_12), winner(p_21)
    both = ~(np.isnan(w12) | np.isnan(w21))
    # In response_1 terms: order 12 shows response_1 first, order 21 shows it second.
    consistent = np.where(both, (w12 == 1.0 - w21).astype(float), np.nan)
    same = np.where(both, ((w12 == w21) & (w12 != 0.5)).astype(float), np.nan)
    first_wins = (w12 == 1.0).astype(float) + (w21 == 1.0)
    decisive = np.isin(w12, (0.0, 1.0)).astype(float) + np.isin(w21, (0.0, 1.0))
    return {"consistent": consistent, "same_position": same, "first_wins": first_wins,
            "decisive": decisive}


def offset_logits(p_12: np.ndarray, p_21: np.ndarray, eps: float = OFFSET_EPS) -> np.ndarray:
    """Per-pair position offset (logit P(first|12) + logit P(first|21)) / 2, clipped at eps.

    >>> offset_logits(np.array([0.5, 1.0]), np.array([0.5, 1.0])).round(2).tolist()
    [0.0, 9.21]
    """
    return (safe_logit(p_12, eps) + safe_logit(p_21, eps)) / 2.0


def _mean_on_grid(x: np.ndarray, n_boot: int, seed: int,
                  clusters: np.ndarray | None = None) -> Estimate:
    """Bootstrap mean of a continuous per-pair value, resampled on a fine grid for speed.

    Rounding to sd/OFFSET_GRID lets identical values share one multinomial draw (a million
    pairs collapse to ~1000 distinct values). The rounding adds variance of (sd/100)^2/12
    per pair (1e-5 of the total) and its mean shift is removed, so the CI is exact to ~1e-5.
    """
    ok = np.isfinite(x)
    x = x[ok]
    kw = {"n_boot": n_boot, "seed": seed, "compress": True, **_cluster_kw(clusters, ok)}
    sd = float(np.std(x)) if x.size else 0.0
    if sd == 0.0:
        return bootstrap_ci(weighted_mean, x, **kw)
    step = sd / OFFSET_GRID
    coarse = np.round(x / step) * step
    return shifted(bootstrap_ci(weighted_mean, coarse, **kw), float(np.mean(x)))


def _cluster_kw(clusters: np.ndarray | None, keep: np.ndarray) -> dict:
    """bootstrap_ci's cluster arguments for the pairs in ``keep`` (none without clusters)."""
    if clusters is None:
        return {}
    return {"clusters": np.asarray(clusters, dtype=object)[keep], "cluster_name": "prompt"}


def position_bias(
    p_12: np.ndarray,
    p_21: np.ndarray,
    *,
    n_boot: int = 1000,
    seed: int,
    eps: float = OFFSET_EPS,
    clusters: np.ndarray | None = None,
) -> dict[str, Estimate]:
    """All position measures from P(first) per pair in orders 12 and 21 (NaN = no verdict).

    Consistency (Zheng et al. 2023, Table 2), conflict rate (Wang et al. 2023), P(first) over
    decisive verdicts, % same position preferred (Lee et al. 2023, Table 4), and the mean logit
    offset. Paired measures use the pairs valid in both orders; P(first) uses every decisive
    verdict. ``n`` is the number of pairs behind each estimate. ``clusters`` (one label per
    pair, e.g. the prompt) resamples whole clusters instead of pairs.

    >>> est = position_bias(np.array([0.9, 0.8, 0.3]), np.array([0.2, 0.7, 0.6]), seed=0)
    >>> est["consistency"].estimate, est["p_first"].estimate
    (0.6666666666666666, 0.6666666666666666)
    """
    p_12, p_21 = np.asarray(p_12, dtype=float), np.asarray(p_21, dtype=float)
    if p_12.shape != p_21.shape:
        raise ValueError(f"p_12 and p_21 must have the same shape (one entry per pair); got "
                         f"{p_12.shape} and {p_21.shape}.")
    o = pair_outcomes(p_12, p_21)
    both = np.isfinite(o["consistent"])
    kw = {"n_boot": n_boot, "seed": seed, "compress": True}
    dec = o["decisive"] > 0
    kb, kd = {**kw, **_cluster_kw(clusters, both)}, {**kw, **_cluster_kw(clusters, dec)}
    return {
        "consistency": bootstrap_ci(weighted_mean, o["consistent"][both], **kb),
        "conflict_rate": bootstrap_ci(weighted_mean, 1.0 - o["consistent"][both], **kb),
        "p_first": bootstrap_ci(weighted_ratio, o["first_wins"][dec], o["decisive"][dec], **kd),
        "same_position_preferred": bootstrap_ci(weighted_mean, o["same_position"][both], **kb),
        "offset_logit": _mean_on_grid(offset_logits(p_12[both], p_21[both], eps), n_boot, seed,
                                      None if clusters is None
                                      else np.asarray(clusters, dtype=object)[both]),
    }


def is_hard(p: np.ndarray) -> bool:
    """Whether every valid probability is 0, 0.5 or 1 (parsed verdicts, not probabilities).

    Example:

    >>> is_hard(np.array([1.0, 0.5, np.nan])), is_hard(np.array([0.9, 1.0]))
    (True, False)
    """
    p = np.asarray(p, dtype=float)
    p = p[np.isfinite(p)]
    return bool(np.isin(p, (0.0, 0.5, 1.0)).all())


def estimate_rows(judge: str, prefix: str, estimates: dict[str, Estimate],
                  notes: dict[str, str] | None = None, **extra: object) -> list[dict]:
    """Long-table rows (TABLE_COLUMNS + extra) for a dict of estimates and skip notes.

    Example:

    >>> rows = estimate_rows("j", "position", {"p_first": Estimate(0.6, 0.5, 0.7, 10),
    ...                                         "consistency": Estimate(np.nan, np.nan, np.nan, 0)})
    >>> [(r["measure"], r["estimate"], r["note"]) for r in rows]
    [('position.p_first', 0.6, ''),
     ('position.consistency', nan, 'no pairs qualify for this measure')]
    """
    rows = []
    for name, est in estimates.items():
        note = (notes or {}).get(name, "")
        if not note and est.n == 0:
            note = "no pairs qualify for this measure"
        if note:
            rows.append({"judge": judge, "measure": f"{prefix}.{name}", "estimate": np.nan,
                         "ci_low": np.nan, "ci_high": np.nan, "n": int(est.n), "note": note,
                         "n_boot_failed": 0, "method": "", "se": np.nan, **extra})
        else:
            rows.append({"judge": judge, "measure": f"{prefix}.{name}", "estimate": est.estimate,
                         "ci_low": est.ci_low, "ci_high": est.ci_high, "n": int(est.n),
                         "note": "", "n_boot_failed": int(est.n_boot_failed),
                         "method": est.method, "se": est.se, **extra})
    return rows


def position_table(
    verdicts: pd.DataFrame,
    by: str | Sequence[str] | None = None,
    *,
    n_boot: int = 1000,
    seed: int,
    eps: float = OFFSET_EPS,
    pp: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Position measures per judge (and per value of each ``by`` column) as a long table.

    Columns: judge, measure ('position.<name>'), estimate, ci_low, ci_high, n, note, then the
    ``by`` columns. A measure the data cannot support has NaN and its reason in ``note``: every
    measure needs both orders in the judge's table; offset_logit also needs probabilities.
    ``pp``: ``per_pair(verdicts, [*by, "prompt"])`` when already built (see :func:`pairs_of`).

    >>> from judgebench.judges.simulated import simulate_verdicts
    >>> t = position_table(simulate_verdicts(300, seed=0, position=1.0), n_boot=100, seed=0)
    >>> bool(t.set_index("measure").loc["position.offset_logit", "ci_low"] > 0.5)
    True
    """
    by = [by] if isinstance(by, str) else list(by or [])
    missing = [c for c in by if c not in verdicts.columns]
    if missing:
        raise ValueError(f"position_table: grouping column(s) {missing} are not in the verdicts "
                         f"table; available: {list(verdicts.columns)}.")
    pp = pairs_of(verdicts, [*by, "prompt"], pp)
    rows: list[dict] = []
    for keys, grp in pp.groupby(["judge", *by], sort=True, dropna=False):
        keys = keys if isinstance(keys, tuple) else (keys,)
        judge, extra = keys[0], dict(zip(by, keys[1:]))
        orders = verdicts.loc[verdicts["judge"] == judge, "order"].astype(str).unique()
        # Pairs that share a prompt are not independent: resample prompts (audit-definitions).
        est = position_bias(grp["p_12"].to_numpy(), grp["p_21"].to_numpy(), n_boot=n_boot,
                            seed=seed, eps=eps,
                            clusters=None if "prompt" in by else shared_clusters(grp))
        notes: dict[str, str] = {}
        if not {"12", "21"} <= set(orders):
            notes = {m: f"needs both orders ('12' and '21'); judge {judge!r} has only "
                        f"{sorted(orders)}" for m in POSITION_MEASURES}
        elif is_hard(np.concatenate([grp["p_12"], grp["p_21"]])):
            notes["offset_logit"] = ("verdicts are hard (0, 0.5 or 1): a logit offset needs "
                                     "probabilities; see consistency and p_first instead")
        rows += estimate_rows(judge, "position", est, notes, **extra)
    return pd.DataFrame(rows, columns=TABLE_COLUMNS + by)
