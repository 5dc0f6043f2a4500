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
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from judgebench.audit.position import TABLE_COLUMNS, estimate_rows, response1_wins
from judgebench.audit.stats import Estimate, bootstrap_ci, per_pair, weighted_ratio
from judgebench.verdicts import SchemaError

#: Class codes: response_1 wins, response_2 wins, tie.
R1, R2, TIE = 0, 1, 2
AGREEMENT_MEASURES = ("accuracy_12", "accuracy_21", "accuracy", "s1_agreement", "s2_agreement",
                      "kappa", "kappa_s2")


def gold_p1(labels: pd.Series | np.ndarray) -> np.ndarray:
    """P(response_1 is better) from labels 1, 2, 0.5 (tie) or a probability; NaN stays NaN.

    The vectorised form of :func:`judgebench.verdicts.label_to_p1`.

    >>> gold_p1(np.array([1, 2, 0.5, 0.8, np.nan])).tolist()
    [1.0, 0.0, 0.5, 0.8, nan]
    """
    raw = pd.Series(np.asarray(labels, dtype=object))
    x = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    bad = (np.isnan(x) & raw.notna().to_numpy()) | (
        np.isfinite(x) & ~(((x >= 0) & (x <= 1)) | (x == 2)))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise SchemaError(f"label must be 1, 2, 0.5 (tie) or a probability in [0, 1]; entry {i} "
                          f"is {raw.iloc[i]!r}. Fix or drop that label.")
    return np.where(x == 2, 0.0, x)


def label_class(p1: np.ndarray) -> np.ndarray:
    """Class code (R1, R2, TIE) of P(response_1 wins or is better); NaN where missing."""
    p1 = np.asarray(p1, dtype=float)
    out = np.where(p1 > 0.5, R1, np.where(p1 < 0.5, R2, TIE)).astype(float)
    out[np.isnan(p1)] = np.nan
    return out


def combined_class(p_12: np.ndarray, p_21: np.ndarray) -> np.ndarray:
    """Zheng et al.'s combined verdict: the agreed class, TIE if the orders disagree."""
    c12, c21 = (label_class(r) for r in response1_wins(p_12, p_21))
    out = np.where(c12 == c21, c12, TIE)
    out = np.where(np.isnan(c12), c21, np.where(np.isnan(c21), c12, out))
    return out


def kappa_from_counts(counts: np.ndarray, k: int) -> np.ndarray:
    """Cohen's kappa per row of flattened k x k contingency counts, shape (B, k*k) -> (B,)."""
    t = counts.reshape(-1, k, k)
    n = t.sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        po = np.trace(t, axis1=1, axis2=2) / n
        pe = (t.sum(axis=2) * t.sum(axis=1)).sum(axis=1) / n**2
        return np.where(pe < 1.0, (po - pe) / (1.0 - pe), np.nan)


def _kappa_estimate(judge_cls: np.ndarray, gold_cls: np.ndarray, k: int, n_boot: int,
                    seed: int) -> Estimate:
    ok = np.isfinite(judge_cls) & np.isfinite(gold_cls)
    cell = (judge_cls[ok] * k + gold_cls[ok]).astype(int)  # each pair's contingency cell

    def stat(w: np.ndarray, c: np.ndarray) -> np.ndarray:
        return kappa_from_counts(w @ np.eye(k * k)[c], k)  # (B, k*k) resampled tables

    return bootstrap_ci(stat, cell, n_boot=n_boot, seed=seed, compress=True)


def _share(num: np.ndarray, den: np.ndarray, n_boot: int, seed: int) -> Estimate:
    keep = den > 0
    return bootstrap_ci(weighted_ratio, num[keep], den[keep], n_boot=n_boot, seed=seed,
                        compress=True)


def agreement(
    p_12: np.ndarray, p_21: np.ndarray, gold: np.ndarray, *, n_boot: int = 1000, seed: int,
) -> dict[str, Estimate]:
    """Accuracy per order and averaged, S1/S2 agreement and Cohen's kappa against gold P(1).

    ``gold`` is P(response_1 is better) per pair (see :func:`gold_p1`); NaN = unlabelled.

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
    kw = {"n_boot": n_boot, "seed": seed}
    return {
        "accuracy_12": _share(c12, v12, **kw),
        "accuracy_21": _share(c21, v21, **kw),
        # Per pair: mean correctness over its valid orders (num/den both per pair).
        "accuracy": _share(np.where(v12 + v21 > 0, (c12 + c21) / np.maximum(v12 + v21, 1), 0),
                           (v12 + v21 > 0).astype(float), **kw),
        "s1_agreement": _share((s1 & (comb == g)).astype(float), s1.astype(float), **kw),
        "s2_agreement": _share((s2 & (comb == g)).astype(float), s2.astype(float), **kw),
        "kappa": _kappa_estimate(np.where(s1, comb, np.nan), g, 3, **kw),
        "kappa_s2": _kappa_estimate(np.where(s2, comb, np.nan), np.where(s2, g, np.nan), 2,
                                    **kw),
    }


def agreement_table(verdicts: pd.DataFrame, *, n_boot: int = 1000, seed: int) -> pd.DataFrame:
    """Agreement measures per judge as a long table; skipped (with a note) without gold labels."""
    pp = per_pair(verdicts, ["label"])
    rows: list[dict] = []
    for judge, grp in pp.groupby("judge", sort=True):
        if "label" not in grp.columns or grp["label"].isna().all():
            why = "no gold labels (the label column is absent or empty)"
            empty = Estimate(np.nan, np.nan, np.nan, 0)
            rows += estimate_rows(judge, "agreement", dict.fromkeys(AGREEMENT_MEASURES, empty),
                                  dict.fromkeys(AGREEMENT_MEASURES, why))
            continue
        est = agreement(grp["p_12"].to_numpy(), grp["p_21"].to_numpy(), gold_p1(grp["label"]),
                        n_boot=n_boot, seed=seed)
        orders = set(verdicts.loc[verdicts["judge"] == judge, "order"].astype(str).unique())
        notes = {f"accuracy_{o}": f"order '{o}' was not judged" for o in ("12", "21")
                 if o not in orders}
        rows += estimate_rows(judge, "agreement", est, notes)
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)
