"""Agreement with gold labels: accuracy per order and averaged, Cohen's kappa, S1/S2 (DESIGN §4).

Classes: each verdict and each gold label is *response_1 wins*, *response_2 wins* or *tie*
(P = 0.5 exactly). Definitions (docs/design/audit-definitions.md):

* **accuracy_12 / accuracy_21**: share of verdicts in that order whose winner is the gold
  winner, over pairs with a decisive gold label; a judge tie is not correct (LLMBar's
  ``acc_noswap`` / ``acc_swap``, Zeng et al. 2024).
* **accuracy**: per pair, the mean of those over its valid orders, averaged over pairs (equals
  (accuracy_12 + accuracy_21) / 2 when every pair has both orders; LLMBar's "average").
* **combined verdict** (Zheng et al. 2023): the class both orders agree on, a tie when they
  disagree, the one valid order's class when the other failed or was not run.
* **s1_agreement** (MT-Bench S1): combined verdict == gold class, ties included as a class.
  **s2_agreement** (S2): the same over pairs where neither is a tie.
* **kappa** (Cohen 1960): on the S1 table (3 classes); **kappa_s2** on the S2 table.

Published scoring rules, under ``protocols`` (pairs with both orders valid; see
docs/design/audit-definitions.md for each rule's source):

* **pair_score**: each order scores +1 if its winner is the gold winner, -1 if it is the other
  response, 0 for a judge tie; a pair is correct if the sum is > 0 (both right, or one right
  and one tie). Pairs with a decisive gold label.
* **both_orders_correct**: both orders' classes equal the gold class, ties a class (a gold tie
  needs a tie in both orders); LLMBar's ``correct_both``.
* **mtbench_s1** / **mtbench_s2**: Zheng et al. 2023's agreement with / without ties (the
  same numbers as s1_agreement / s2_agreement, under the names a benchmark reports).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from judgebench.audit.position import TABLE_COLUMNS, estimate_rows, pairs_of, response1_wins
from judgebench.probability import gold_p1
from judgebench.stats import (
    Estimate,
    bootstrap_ci,
    shared_clusters,
    weighted_ratio,
)

#: Class codes: response_1 wins, response_2 wins, tie.
R1, R2, TIE = 0, 1, 2
AGREEMENT_MEASURES = ("accuracy_12", "accuracy_21", "accuracy", "s1_agreement", "s2_agreement",
                      "kappa", "kappa_s2")
#: Published scoring rules, reported as agreement.protocols.<name>.
PROTOCOL_MEASURES = ("pair_score", "both_orders_correct", "mtbench_s1", "mtbench_s2")


def label_class(p1: np.ndarray) -> np.ndarray:
    """Class code (R1, R2, TIE) of P(response_1 wins or is better); NaN where missing.

    Example:

    >>> label_class(np.array([0.9, 0.2, 0.5, np.nan])).tolist()   # R1, R2, TIE, missing
    [0.0, 1.0, 2.0, nan]
    """
    p1 = np.asarray(p1, dtype=float)
    out = np.where(p1 > 0.5, R1, np.where(p1 < 0.5, R2, TIE)).astype(float)
    out[np.isnan(p1)] = np.nan
    return out


def combined_class(p_12: np.ndarray, p_21: np.ndarray) -> np.ndarray:
    """Zheng et al.'s combined verdict: the agreed class, TIE if the orders disagree.

    Example:

    >>> combined_class(np.array([0.9, 0.9, np.nan]), np.array([0.2, 0.8, 0.7])).tolist()
    [0.0, 2.0, 1.0]
    """
    c12, c21 = (label_class(r) for r in response1_wins(p_12, p_21))
    out = np.where(c12 == c21, c12, TIE)
    out = np.where(np.isnan(c12), c21, np.where(np.isnan(c21), c12, out))
    return out


def kappa_from_counts(counts: np.ndarray, k: int) -> np.ndarray:
    """Cohen's kappa per row of flattened k x k contingency counts, shape (B, k*k) -> (B,).

    Example:

    >>> kappa_from_counts(np.array([[8, 2, 1, 9]]), 2).round(3)   # one 2 x 2 table
    array([0.7])
    """
    t = counts.reshape(-1, k, k)
    n = t.sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        po = np.trace(t, axis1=1, axis2=2) / n
        pe = (t.sum(axis=2) * t.sum(axis=1)).sum(axis=1) / n**2
        return np.where(pe < 1.0, (po - pe) / (1.0 - pe), np.nan)


def _kappa_estimate(judge_cls: np.ndarray, gold_cls: np.ndarray, k: int, n_boot: int,
                    seed: int, clusters: np.ndarray | None = None) -> Estimate:
    ok = np.isfinite(judge_cls) & np.isfinite(gold_cls)
    cell = (judge_cls[ok] * k + gold_cls[ok]).astype(int)  # each pair's contingency cell

    def stat(w: np.ndarray, c: np.ndarray) -> np.ndarray:
        return kappa_from_counts(w @ np.eye(k * k)[c], k)  # (B, k*k) resampled tables

    return bootstrap_ci(stat, cell, n_boot=n_boot, seed=seed, compress=True,
                        **_cluster_kw(clusters, ok))


def _cluster_kw(clusters: np.ndarray | None, keep: np.ndarray) -> dict:
    if clusters is None:
        return {}
    return {"clusters": np.asarray(clusters, dtype=object)[keep], "cluster_name": "prompt"}


def _share(num: np.ndarray, den: np.ndarray, n_boot: int, seed: int,
           clusters: np.ndarray | None = None) -> Estimate:
    keep = den > 0
    return bootstrap_ci(weighted_ratio, num[keep], den[keep], n_boot=n_boot, seed=seed,
                        compress=True, **_cluster_kw(clusters, keep))


def protocol_outcomes(p_12: np.ndarray, p_21: np.ndarray, gold: np.ndarray
                      ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per pair (correct, counted) 0/1 arrays of ``pair_score`` and ``both_orders_correct``.

    ``gold`` is P(response_1 is better) per pair. Only pairs with both orders valid count.

    >>> o = protocol_outcomes(np.array([0.9, 0.9, 0.5]), np.array([0.2, 0.8, 0.2]),
    ...                       np.array([1.0, 1.0, 1.0]))
    >>> o["pair_score"][0].tolist(), o["both_orders_correct"][0].tolist()
    ([1.0, 0.0, 1.0], [1.0, 0.0, 0.0])
    """
    g = label_class(np.asarray(gold, dtype=float))
    c12, c21 = (label_class(r) for r in response1_wins(p_12, p_21))
    both = np.isfinite(c12) & np.isfinite(c21) & np.isfinite(g)
    decisive_gold = both & (g != TIE)
    # +1 right, -1 the other response, 0 a judge tie (only defined for a decisive gold).
    score = sum(np.where(c == g, 1.0, np.where(c == TIE, 0.0, -1.0)) for c in (c12, c21))
    return {
        "pair_score": ((decisive_gold & (score > 0)).astype(float), decisive_gold.astype(float)),
        "both_orders_correct": ((both & (c12 == g) & (c21 == g)).astype(float),
                                both.astype(float)),
    }


def agreement(
    p_12: np.ndarray, p_21: np.ndarray, gold: np.ndarray, *, n_boot: int = 1000, seed: int,
    clusters: np.ndarray | None = None,
) -> dict[str, Estimate]:
    """Accuracy per order and averaged, S1/S2 agreement, Cohen's kappa and the published
    protocols (keys ``protocols.<name>``, see the module doc) against gold P(1).

    ``gold`` is P(response_1 is better) per pair (see :func:`gold_p1`); NaN = unlabelled.
    ``clusters`` (one label per pair, e.g. the prompt) resamples whole clusters.

    >>> a = agreement(np.array([0.9, 0.9]), np.array([0.2, 0.8]), np.array([1.0, 1.0]),
    ...               seed=0, n_boot=0)
    >>> a["accuracy_12"].estimate, a["accuracy_21"].estimate, a["s1_agreement"].estimate
    (1.0, 0.5, 0.5)
    """
    p_12, p_21 = np.asarray(p_12, dtype=float), np.asarray(p_21, dtype=float)
    gold = np.asarray(gold, dtype=float)
    if not (len(p_12) == len(p_21) == len(gold)):
        raise ValueError(f"p_12, p_21 and gold need one entry per pair; got lengths "
                         f"{len(p_12)}, {len(p_21)}, {len(gold)}.")
    g = label_class(gold)
    decisive_gold = (g == R1) | (g == R2)
    per_order = []
    for r in response1_wins(p_12, p_21):
        c = label_class(r)
        valid = decisive_gold & np.isfinite(c)
        per_order.append(((valid & (c == g)).astype(float), valid.astype(float)))
    (c12, v12), (c21, v21) = per_order
    comb = combined_class(p_12, p_21)
    s1 = np.isfinite(comb) & np.isfinite(g)
    s2 = s1 & (comb != TIE) & (g != TIE)
    kw = {"n_boot": n_boot, "seed": seed, "clusters": clusters}
    proto = protocol_outcomes(p_12, p_21, gold)
    s1_share = _share((s1 & (comb == g)).astype(float), s1.astype(float), **kw)
    s2_share = _share((s2 & (comb == g)).astype(float), s2.astype(float), **kw)
    return {
        "accuracy_12": _share(c12, v12, **kw),
        "accuracy_21": _share(c21, v21, **kw),
        # Per pair: mean correctness over its valid orders (num/den both per pair).
        "accuracy": _share(np.where(v12 + v21 > 0, (c12 + c21) / np.maximum(v12 + v21, 1), 0),
                           (v12 + v21 > 0).astype(float), **kw),
        "s1_agreement": s1_share,
        "s2_agreement": s2_share,
        "kappa": _kappa_estimate(np.where(s1, comb, np.nan), g, 3, **kw),
        "kappa_s2": _kappa_estimate(np.where(s2, comb, np.nan), np.where(s2, g, np.nan), 2,
                                    **kw),
        "protocols.pair_score": _share(*proto["pair_score"], **kw),
        "protocols.both_orders_correct": _share(*proto["both_orders_correct"], **kw),
        "protocols.mtbench_s1": s1_share,
        "protocols.mtbench_s2": s2_share,
    }


def agreement_table(verdicts: pd.DataFrame, *, n_boot: int = 1000, seed: int,
                    pp: pd.DataFrame | None = None) -> pd.DataFrame:
    """Agreement measures per judge as a long table; skipped (with a note) without gold labels.

    ``pp``: this table's :func:`~judgebench.stats.per_pair` when already built (run_audit).

    Example:

    >>> from judgebench.judges.simulated import simulate_verdicts
    >>> t = agreement_table(simulate_verdicts(40, seed=0), n_boot=50, seed=0)
    >>> t.set_index("measure")["estimate"].round(3).head(3).to_dict()
    {'agreement.accuracy_12': 0.675, 'agreement.accuracy_21': 0.75, 'agreement.accuracy': 0.712}
    """
    pp = pairs_of(verdicts, ["label", "prompt"], pp)
    names = AGREEMENT_MEASURES + tuple(f"protocols.{m}" for m in PROTOCOL_MEASURES)
    rows: list[dict] = []
    for judge, grp in pp.groupby("judge", sort=True):
        if "label" not in grp.columns or grp["label"].isna().all():
            why = "no gold labels (the label column is absent or empty)"
            empty = Estimate(np.nan, np.nan, np.nan, 0)
            rows += estimate_rows(judge, "agreement", dict.fromkeys(names, empty),
                                  dict.fromkeys(names, why))
            continue
        # Pairs that share a prompt are resampled together (audit-definitions.md).
        est = agreement(grp["p_12"].to_numpy(), grp["p_21"].to_numpy(), gold_p1(grp["label"]),
                        n_boot=n_boot, seed=seed, clusters=shared_clusters(grp))
        orders = set(verdicts.loc[verdicts["judge"] == judge, "order"].astype(str).unique())
        notes = {f"accuracy_{o}": f"order '{o}' was not judged" for o in ("12", "21")
                 if o not in orders}
        if not {"12", "21"} <= orders:
            notes.update({f"protocols.{m}": f"needs both orders ('12' and '21'); judge "
                                            f"{judge!r} has only {sorted(orders)}"
                          for m in ("pair_score", "both_orders_correct")})
        rows += estimate_rows(judge, "agreement", est, notes)
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


# ---------------------------------------------------------------------------------------------
# Panels of judges: Krippendorff's alpha


def panel_classes(verdicts: pd.DataFrame, pp: pd.DataFrame | None = None
                  ) -> tuple[pd.DataFrame, np.ndarray | None]:
    """Each judge's combined verdict class per pair: (table pair_id x judge, prompt clusters).

    The table holds R1, R2, TIE (:func:`combined_class`: both orders agree, else a tie; one
    valid order gives its class) and NaN where the judge has no valid verdict on the pair. The
    clusters are the pairs' prompts when some pairs share one (else None), in the table's row
    order. ``pp``: ``per_pair(verdicts, ["prompt"])`` when already built.

    >>> v = pd.DataFrame({"pair_id": ["a", "a", "a", "a"], "judge": ["j", "j", "k", "k"],
    ...                   "order": ["12", "21"] * 2, "p_first": [0.9, 0.2, 0.5, np.nan],
    ...                   "failed": [False, False, False, True]})
    >>> panel_classes(v)[0].values.tolist()
    [[0.0, 2.0]]
    """
    pp = pairs_of(verdicts, ["prompt"], pp)
    pp = pp.assign(cls=combined_class(pp["p_12"].to_numpy(), pp["p_21"].to_numpy()))
    table = pp.pivot(index="pair_id", columns="judge", values="cls").sort_index(axis=1)
    clusters = None
    if "prompt" in pp.columns:
        prompts = pp.drop_duplicates("pair_id").set_index("pair_id")["prompt"]
        clusters = shared_clusters(prompts.reindex(table.index).to_frame())
    return table, clusters


def unit_coincidences(values: np.ndarray, k: int) -> np.ndarray:
    """Each unit's coincidences (Krippendorff 2011, §3): shape (n_units, k*k).

    ``values`` (n_units, n_coders) holds class codes 0..k-1 or NaN (missing). A unit with m
    values adds (n_c n_k - [c = k] n_c) / (m - 1) to cell (c, k); a unit with fewer than two
    values is not pairable and adds nothing.

    >>> unit_coincidences(np.array([[0, 0, 1]]), 2).tolist()
    [[1.0, 1.0, 1.0, 0.0]]
    """
    values = np.asarray(values, dtype=float)
    ok = np.isfinite(values)
    counts = np.stack([((values == c) & ok).sum(axis=1) for c in range(k)], axis=1).astype(float)
    m = counts.sum(axis=1)
    outer = counts[:, :, None] * counts[:, None, :] - counts[:, :, None] * np.eye(k)[None]
    with np.errstate(invalid="ignore", divide="ignore"):
        o = np.where((m >= 2)[:, None, None], outer / (m - 1)[:, None, None], 0.0)
    return o.reshape(len(values), k * k)


def alpha_from_coincidences(o: np.ndarray, k: int) -> np.ndarray:
    """Nominal alpha per row of summed coincidences, shape (B, k*k) -> (B,); NaN when every
    value is the same class (no expected disagreement).

    alpha = 1 - (n - 1) * sum_{c != k} o_ck / sum_{c != k} n_c n_k, n_c the margins.

    Example:

    >>> o = unit_coincidences(np.array([[0, 0], [1, 1], [0, 1]]), 2).sum(axis=0)
    >>> alpha_from_coincidences(o, 2).round(3)
    array([0.444])
    """
    t = np.asarray(o, dtype=float).reshape(-1, k, k)
    n_c = t.sum(axis=2)
    n = n_c.sum(axis=1)
    observed = n - np.trace(t, axis1=1, axis2=2)  # off-diagonal coincidences
    expected = n**2 - (n_c**2).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(expected > 0, 1.0 - (n - 1) * observed / expected, np.nan)


def krippendorff_alpha(values: np.ndarray, *, k: int = 3, n_boot: int = 1000, seed: int,
                       clusters: np.ndarray | None = None) -> Estimate:
    """Krippendorff's nominal alpha, units as rows and coders as columns, with a unit bootstrap.

    ``values`` (n_units, n_coders): class codes 0..k-1, NaN where a coder gave no value. The CI
    resamples units (pairs), or whole ``clusters`` (one label per unit, e.g. the prompt); ``n``
    counts pairable units (two or more values). Equals the ``krippendorff`` package's
    ``alpha(level_of_measurement="nominal")`` (with coders as its rows).

    >>> krippendorff_alpha(np.array([[0, 0], [1, 1], [2, np.nan]]), n_boot=0, seed=0).estimate
    1.0
    """
    values = np.asarray(values, dtype=float)
    if values.ndim != 2:
        raise ValueError(f"values must be a (units, coders) table; got shape {values.shape}.")
    bad = np.isfinite(values) & ~np.isin(values, np.arange(k))
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise ValueError(f"values must be class codes 0..{k - 1} or NaN; unit {i}, coder {j} "
                         f"is {values[i, j]!r}.")
    o = unit_coincidences(values, k)
    pairable = np.isfinite(values).sum(axis=1) >= 2

    def stat(w: np.ndarray, cells: np.ndarray) -> np.ndarray:
        return alpha_from_coincidences(w @ cells, k)

    return bootstrap_ci(stat, o[pairable], n_boot=n_boot, seed=seed, compress=True,
                        **_cluster_kw(clusters, pairable))


def panel_agreement(verdicts: pd.DataFrame, *, n_boot: int = 1000, seed: int,
                    pp: pd.DataFrame | None = None) -> dict:
    """Krippendorff's alpha of a panel: pairs as units, judges as coders, classes R1/R2/TIE.

    Returns audit.json's ``panel`` block: ``krippendorff_alpha`` (an Estimate's dict), the
    ``judges`` and ``n_pairs``; with fewer than two judges, ``skipped`` says why. ``pp``:
    ``per_pair(verdicts, ["prompt"])`` when already built.

    >>> from judgebench.judges.simulated import simulate_verdicts
    >>> v = pd.concat([simulate_verdicts(50, seed=0, judge=j) for j in "ab"])
    >>> panel_agreement(v, n_boot=0, seed=0)["krippendorff_alpha"]["estimate"] > 0.5
    True
    """
    table, clusters = panel_classes(verdicts, pp)
    out: dict = {"judges": [str(j) for j in table.columns], "n_pairs": int(len(table)),
                 "classes": ["response_1", "response_2", "tie"]}
    if table.shape[1] < 2:
        out["skipped"] = {"krippendorff_alpha": "needs two or more judges in the table"}
        return out
    est = krippendorff_alpha(table.to_numpy(dtype=float), n_boot=n_boot, seed=seed,
                             clusters=clusters)
    out["krippendorff_alpha"] = est.to_dict()
    out["krippendorff_alpha"]["se"] = None if not np.isfinite(est.se) else float(est.se)
    if not np.isfinite(est.estimate):
        out["skipped"] = {"krippendorff_alpha": "fewer than two pairable pairs, or every "
                                                "verdict is the same class"}
    return out
