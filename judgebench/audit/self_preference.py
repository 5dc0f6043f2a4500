"""Self-preference: does the judge favour responses written by its own model? (DESIGN §4)

On pairs where exactly one response comes from the judge's model (``model_1``/``model_2``
equal to ``judge_model``), the judge's win rate for that response minus the win rate the
reference gives it: the gold labels by default, or another judge's verdicts on the same pairs
(Panickssery et al. 2024 measure self-preference against human and other-judge baselines;
Zheng et al. 2023 §3.3).

* judge win: the own response's swap-averaged win (1 win, 0.5 tie or split orders, 0 loss).
* gold win: P(own response is better) from the label (1, 0.5 tie, 0, or the probability).
* reference judge win: that judge's swap-averaged win, as for the judge.
* **delta** = mean over pairs of (judge win - reference win); resampled by pair.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from judgebench.audit.position import TABLE_COLUMNS, estimate_rows, pairs_of, swap_averaged_win
from judgebench.probability import gold_p1
from judgebench.stats import Estimate, bootstrap_ci, weighted_mean

SELF_MEASURES = ("delta", "judge_win_rate", "reference_win_rate")


def own_slot(model_1: np.ndarray, model_2: np.ndarray, judge_model: str) -> np.ndarray:
    """1 or 2 where exactly one response is by ``judge_model``, else 0 (pair not used).

    Example:

    >>> own_slot(np.array(["me", "x", "me"]), np.array(["y", "me", "me"]), "me").tolist()
    [1, 2, 0]
    """
    m1 = np.asarray(model_1, dtype=object) == judge_model
    m2 = np.asarray(model_2, dtype=object) == judge_model
    return np.where(m1 & ~m2, 1, np.where(m2 & ~m1, 2, 0))


def self_preference(
    p_12: np.ndarray, p_21: np.ndarray, model_1: np.ndarray, model_2: np.ndarray,
    judge_model: str, reference_p1: np.ndarray, *, n_boot: int = 1000, seed: int,
) -> dict[str, Estimate]:
    """Judge's win rate for its own model's responses minus the reference's, with CIs.

    ``reference_p1`` is the reference P(response_1 wins) per pair: gold labels through
    :func:`~judgebench.probability.gold_p1`, or another judge's swap-averaged win.

    >>> sp = self_preference(np.array([0.9, 0.8]), np.array([0.3, 0.1]), np.array(["me", "x"]),
    ...                      np.array(["y", "me"]), "me", np.array([0.0, 0.0]), seed=0, n_boot=0)
    >>> sp["judge_win_rate"].estimate, sp["reference_win_rate"].estimate, sp["delta"].estimate
    (0.5, 0.5, 0.0)
    """
    if not isinstance(judge_model, str) or not judge_model:
        raise ValueError(f"judge_model must be the model name used in model_1/model_2; got "
                         f"{judge_model!r}.")
    slot = own_slot(model_1, model_2, judge_model)
    r1 = swap_averaged_win(p_12, p_21)
    ref = np.asarray(reference_p1, dtype=float)
    # Flip both to the own response's point of view.
    judge_win = np.where(slot == 1, r1, 1.0 - r1)
    ref_win = np.where(slot == 1, ref, 1.0 - ref)
    keep = (slot > 0) & np.isfinite(judge_win) & np.isfinite(ref_win)
    kw = {"n_boot": n_boot, "seed": seed, "compress": True}
    return {
        "delta": bootstrap_ci(weighted_mean, judge_win[keep] - ref_win[keep], **kw),
        "judge_win_rate": bootstrap_ci(weighted_mean, judge_win[keep], **kw),
        "reference_win_rate": bootstrap_ci(weighted_mean, ref_win[keep], **kw),
    }


def self_preference_table(
    verdicts: pd.DataFrame, judge_model: str | None, *, reference: str | None = None,
    n_boot: int = 1000, seed: int, pp: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Self-preference per judge as a long table; the reference is gold unless ``reference``.

    ``reference`` names another judge in the table whose verdicts stand in for gold. Skipped
    (with a note) without ``judge_model``, model columns, a reference, or own-model pairs.
    ``pp``: this table's :func:`~judgebench.stats.per_pair` when already built (run_audit).

    Example:

    >>> from judgebench.judges.simulated import simulate_verdicts
    >>> v = simulate_verdicts(200, seed=0, self_preference=1.0)   # the judge is model-a
    >>> t = self_preference_table(v, "model-a", n_boot=50, seed=0)
    >>> t[["measure", "estimate", "n", "reference"]].round(3).values.tolist()
    [['self_preference.delta', 0.2, 90, 'gold'],
     ['self_preference.judge_win_rate', 0.667, 90, 'gold'],
     ['self_preference.reference_win_rate', 0.467, 90, 'gold']]
    """
    pp = pairs_of(verdicts, ["model_1", "model_2", "label"], pp)
    if reference is not None and reference not in set(pp["judge"].unique()):
        raise ValueError(f"reference judge {reference!r} is not in the verdicts table; judges "
                         f"present: {sorted(pp['judge'].unique())}.")
    ref_p1 = None
    if reference is not None:
        r = pp[pp["judge"] == reference]
        ref_p1 = pd.Series(swap_averaged_win(r["p_12"], r["p_21"]), index=r["pair_id"])
    rows: list[dict] = []
    empty = Estimate(np.nan, np.nan, np.nan, 0)
    for judge, grp in pp.groupby("judge", sort=True):
        if judge == reference:
            continue
        why = _skip_reason(grp, judge_model, reference)
        if why:
            rows += estimate_rows(judge, "self_preference", dict.fromkeys(SELF_MEASURES, empty),
                                  dict.fromkeys(SELF_MEASURES, why))
            continue
        ref = (gold_p1(grp["label"]) if ref_p1 is None
               else ref_p1.reindex(grp["pair_id"]).to_numpy(dtype=float))
        est = self_preference(grp["p_12"].to_numpy(), grp["p_21"].to_numpy(),
                              grp["model_1"].to_numpy(), grp["model_2"].to_numpy(), judge_model,
                              ref, n_boot=n_boot, seed=seed)
        notes = {}
        if est["delta"].n == 0:
            notes = dict.fromkeys(SELF_MEASURES, f"no pair has exactly one response by "
                                                 f"{judge_model!r} with a verdict and a reference")
        rows += estimate_rows(judge, "self_preference", est, notes,
                              reference=reference or "gold")
    return pd.DataFrame(rows, columns=TABLE_COLUMNS + ["reference"])


def _skip_reason(grp: pd.DataFrame, judge_model: str | None, reference: str | None) -> str:
    if not judge_model:
        return "judge_model not given: name the judge's own model (as in model_1/model_2)"
    if not {"model_1", "model_2"} <= set(grp.columns):
        return "needs model_1 and model_2 columns naming who wrote each response"
    if reference is None and ("label" not in grp.columns or grp["label"].isna().all()):
        return "no reference: no gold labels and no reference judge"
    return ""
