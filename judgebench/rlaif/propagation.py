"""What the judge's bias does to the policy: per-iteration measurements and the cross-run
propagation coefficient (DESIGN §6).

Per iteration, on the held-out prompts, the current policy's responses are compared with the
iteration-0 policy's responses to the same prompts (saved at iteration 0; same sampling seed,
so the comparison uses common random numbers). Pure functions on arrays and tables; the loop
collects them into one metrics row (:func:`iteration_metrics`).

Across runs, the **propagation coefficient** is the slope of the final length drift on the
injected verbosity bias (simulated judge's β), estimated per calibration setting with a
bootstrap over seeds (:func:`propagation_coefficient`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from judgebench.audit.position import position_bias
from judgebench.audit.stats import Estimate, bootstrap_ci, per_pair
from judgebench.audit.verbosity import length_slope


def win_score(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """1 where a > b, 0.5 where equal, 0 where a < b; NaN where either is NaN."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    out = np.where(a > b, 1.0, np.where(a < b, 0.0, 0.5))
    return np.where(np.isfinite(a) & np.isfinite(b), out, np.nan)


def label_accuracy(p_judge: np.ndarray, gold_p1: np.ndarray) -> tuple[float, int]:
    """Share of judge labels that pick the gold-better response (judge ties count 1/2), and n.

    Only pairs with a decisive gold label (not a gold tie) and a judgment count (MT-Bench's
    agreement "without ties", Zheng et al. 2023).
    """
    p, g = np.asarray(p_judge, float), np.asarray(gold_p1, float)
    use = np.isfinite(p) & np.isfinite(g) & (g != 0.5)
    if not use.any():
        return float("nan"), 0
    hit = np.where(p[use] == 0.5, 0.5, ((p[use] > 0.5) == (g[use] > 0.5)).astype(float))
    return float(hit.mean()), int(use.sum())


def nan_share(x: np.ndarray) -> float:
    """Mean of the finite entries (NaN when none)."""
    x = np.asarray(x, float)
    x = x[np.isfinite(x)]
    return float(x.mean()) if x.size else float("nan")


def length_explained_share(gain: np.ndarray, dlen: np.ndarray) -> dict[str, float]:
    """Share of the mean judge-score gain that a linear length term accounts for.

    OLS of the per-prompt gain on the per-prompt length change, gain = a + b·Δlen; the share is
    b·mean(Δlen) / mean(gain) (Singhal et al. 2023 report 70–90% of RLHF reward gains from
    length). NaN when the mean gain is ~0 or lengths did not change; r2 is the fit's R².
    """
    g, d = np.asarray(gain, float), np.asarray(dlen, float)
    ok = np.isfinite(g) & np.isfinite(d)
    g, d = g[ok], d[ok]
    nan = {"share": float("nan"), "slope": float("nan"), "r2": float("nan")}
    if g.size < 3 or np.std(d) == 0:
        return nan
    b, a = np.polyfit(d, g, 1)
    resid = g - (a + b * d)
    r2 = 1.0 - resid.var() / g.var() if g.var() > 0 else float("nan")
    mean_gain = g.mean()
    share = b * d.mean() / mean_gain if abs(mean_gain) > 1e-9 else float("nan")
    return {"share": float(share), "slope": float(b), "r2": float(r2)}


def judge_bias(verdicts: pd.DataFrame, *, n_boot: int, seed: int) -> dict[str, Any]:
    """The judge's own bias on these verdicts (raw p): position consistency, P(first), length
    slope (with gold as covariate where present), each {"estimate", "ci", "n"}."""
    raw = verdicts.copy()
    if "p_first_raw" in raw.columns:
        raw["p_first"] = raw["p_first_raw"]
    pp = per_pair(raw, columns=["len_1", "len_2", "label"])
    p12, p21 = pp["p_12"].to_numpy(float), pp["p_21"].to_numpy(float)
    pos = position_bias(p12, p21, n_boot=n_boot, seed=seed)
    cov = None
    if "label" in pp.columns and np.isfinite(pp["label"].to_numpy(float)).any():
        cov = 2.0 * pp["label"].to_numpy(float) - 1.0
    slope = length_slope(p12, p21, pp["len_1"].to_numpy(float), pp["len_2"].to_numpy(float),
                         cov, n_boot=n_boot, seed=seed)
    return {"position_consistency": pos["consistency"].to_dict(),
            "p_first": pos["p_first"].to_dict(), "length_slope": slope.to_dict()}


def eval_metrics(current: pd.DataFrame, initial: pd.DataFrame,
                 eval_labels: pd.DataFrame | None) -> dict[str, Any]:
    """Policy measurements on held-out prompts vs iteration 0.

    ``current`` / ``initial``: one row per eval task (task_id, response, n_tokens, gold);
    ``eval_labels``: :func:`labeling.preference_labels` of (current = response_1,
    initial = response_2) pairs, or None when nothing was judged.
    """
    cur = current.set_index("task_id")
    ini = initial.set_index("task_id").reindex(cur.index)
    chars = cur["response"].str.len().to_numpy(float)
    chars0 = ini["response"].str.len().to_numpy(float)
    toks, toks0 = cur["n_tokens"].to_numpy(float), ini["n_tokens"].to_numpy(float)
    gold, gold0 = cur["gold"].to_numpy(float), ini["gold"].to_numpy(float)
    out: dict[str, Any] = {
        "n_eval": int(len(cur)),
        "length_chars_mean": float(chars.mean()), "length_chars_median": float(np.median(chars)),
        "length_tokens_mean": float(toks.mean()), "length_tokens_median": float(np.median(toks)),
        "length_drift_chars": float(chars.mean() - chars0.mean()),
        "length_drift_tokens": float(toks.mean() - toks0.mean()),
        "length_drift_rel": float(chars.mean() / chars0.mean() - 1.0) if chars0.mean() else None,
        "truncated_share": float(cur["truncated"].mean()) if "truncated" in cur else None,
        "gold_mean": nan_share(gold), "gold_change": nan_share(gold) - nan_share(gold0),
        "gold_win_rate": nan_share(win_score(gold, gold0)),
    }
    if eval_labels is not None and len(eval_labels):
        lab = eval_labels.set_index("task_id").reindex(cur.index)
        p_cal, p_raw = lab["p_judge"].to_numpy(float), lab["p_judge_raw"].to_numpy(float)
        out.update({
            "judge_score_raw": nan_share(p_raw),
            "judge_score_calibrated": nan_share(p_cal),
            "judge_win_rate_raw": nan_share(win_score(p_raw, 0.5)),
            "judge_win_rate_calibrated": nan_share(win_score(p_cal, 0.5)),
        })
        out["proxy_gold_gap"] = out["judge_win_rate_calibrated"] - out["gold_win_rate"]
        out["proxy_gold_gap_raw"] = out["judge_win_rate_raw"] - out["gold_win_rate"]
        expl = length_explained_share(p_cal - 0.5, chars - chars0)
        out.update({"length_explained_share": expl["share"],
                    "length_gain_slope": expl["slope"], "length_gain_r2": expl["r2"]})
    return out


def rollout_metrics(samples: pd.DataFrame, initial: pd.DataFrame) -> dict[str, Any]:
    """The training candidates of this iteration vs iteration 0's: free, every iteration.

    The candidates are sampled from the current policy on prompts it has not been trained on
    yet (consecutive slices of the train split), so their length and gold score track the
    policy between held-out evaluations; being different prompts each iteration, the drift
    is noisier than the held-out one (which compares the same prompts).
    """
    chars = samples["response"].str.len().to_numpy(float)
    chars0 = initial["response"].str.len().to_numpy(float)
    return {
        "rollout_n": int(len(samples)),
        "rollout_length_chars_mean": float(chars.mean()),
        "rollout_length_drift_chars": float(chars.mean() - chars0.mean()),
        "rollout_length_tokens_mean": float(samples["n_tokens"].to_numpy(float).mean()),
        "rollout_gold_mean": nan_share(samples["gold"].to_numpy(float)),
        "rollout_gold_change": nan_share(samples["gold"].to_numpy(float))
        - nan_share(initial["gold"].to_numpy(float)),
        "rollout_truncated_share": nan_share(samples["truncated"].to_numpy(float)),
    }


def label_metrics(labels: pd.DataFrame, kept: pd.DataFrame) -> dict[str, Any]:
    """This iteration's training labels: accuracy vs gold, position-decided share, lengths.

    ``labels``: :func:`labeling.preference_labels` of the training pairs; ``kept``: the rows
    that became training pairs (after dropping failures and near-ties).
    """
    gold = labels["label"].to_numpy(float) if "label" in labels else np.full(len(labels), np.nan)
    acc, n_acc = label_accuracy(labels["p_judge"].to_numpy(float), gold)
    acc_raw, _ = label_accuracy(labels["p_judge_raw"].to_numpy(float), gold)
    longer = np.sign(labels["len_1"].to_numpy(float) - labels["len_2"].to_numpy(float))
    p = labels["p_judge"].to_numpy(float)
    picks_longer = np.where((longer != 0) & np.isfinite(p) & (p != 0.5),
                            ((p > 0.5) == (longer > 0)).astype(float), np.nan)
    return {
        "n_pairs": int(len(labels)), "n_train_pairs": int(len(kept)),
        "label_accuracy": acc, "label_accuracy_raw": acc_raw, "label_accuracy_n": n_acc,
        "gold_tie_share": nan_share((gold == 0.5).astype(float)) if len(gold) else None,
        "position_decided_raw": nan_share(labels["flipped_raw"].to_numpy(float)),
        "position_decided": nan_share(labels["flipped"].to_numpy(float)),
        "label_prefers_longer": nan_share(picks_longer),
        "p_chosen_mean": nan_share(kept["p_chosen"].to_numpy(float)) if len(kept) else None,
    }


# ---------------------------------------------------------------------------------------------
# Across runs


def weighted_slope(w: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """OLS slope of y on x per resample; ``w`` (B, n_seeds) weights whole seeds, ``x``/``y``
    (n_seeds, n_runs) hold each run in its seed's row (NaN in the other rows)."""
    ok = np.isfinite(x) & np.isfinite(y)
    x0, y0 = np.where(ok, x, 0.0), np.where(ok, y, 0.0)
    ww = w[:, :, None] * ok[None]  # (B, n_seeds, n_grid): each run weighted by its seed's draw
    tot = ww.sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        mx = (ww * x0).sum(axis=(1, 2)) / tot
        my = (ww * y0).sum(axis=(1, 2)) / tot
        dx = x0[None] - mx[:, None, None]
        cov = (ww * dx * (y0[None] - my[:, None, None])).sum(axis=(1, 2))
        var = (ww * dx * dx).sum(axis=(1, 2))
        return np.where(var > 1e-12, cov / var, np.nan)


def propagation_coefficient(bias: np.ndarray, drift: np.ndarray, seeds: np.ndarray, *,
                            n_boot: int = 2000, seed: int = 0) -> Estimate:
    """Slope of policy length drift on injected verbosity bias, with a bootstrap CI over seeds.

    OLS slope of ``drift`` on ``bias`` over every run; the CI (audit.stats.bootstrap_ci, 95%
    percentile) resamples whole seeds, since the runs of one seed share prompts and initial
    weights and are not independent. ``n`` is the number of seeds; with one seed the CI is NaN.

    >>> est = propagation_coefficient([0, 1, 0, 1], [0.0, 2.0, 1.0, 3.0], [0, 0, 1, 1])
    >>> est.estimate, est.n
    (2.0, 2)
    """
    bias, drift, seeds = (np.asarray(x) for x in (bias, drift, seeds))
    uniq = list(dict.fromkeys(seeds.tolist()))
    grid = list(dict.fromkeys(bias.astype(float).tolist()))
    # (n_seeds, n_runs): run j sits in its seed's row, so resampling a seed takes all its runs.
    x = np.full((len(uniq), len(bias)), np.nan)
    y = np.full((len(uniq), len(bias)), np.nan)
    for j, (b, d, s) in enumerate(zip(bias.astype(float), drift.astype(float), seeds)):
        x[uniq.index(s), j], y[uniq.index(s), j] = b, d
    if len(grid) < 2:
        return Estimate(float("nan"), float("nan"), float("nan"), len(uniq))
    if len(uniq) < 2:
        point = float(weighted_slope(np.ones((1, 1)), x, y)[0])
        return Estimate(point, float("nan"), float("nan"), 1)
    return bootstrap_ci(weighted_slope, x, y, n_boot=n_boot, seed=seed)
