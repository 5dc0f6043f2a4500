"""What the judge's bias does to the policy: per-iteration measurements and the cross-run
propagation coefficient (DESIGN §6).

Per iteration, on the held-out prompts, the current policy's responses are compared with the
iteration-0 policy's responses to the same prompts (saved at iteration 0; same sampling seed,
so the comparison uses common random numbers). Pure functions on arrays and tables; the loop
collects them into one metrics row (:func:`iteration_metrics`).

Across runs (a study), the statistics over seeds live in :mod:`judgebench.rlaif.study`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from judgebench.audit.position import position_bias
from judgebench.audit.verbosity import length_slope
from judgebench.probability import win_score
from judgebench.stats import per_pair


def label_accuracy(p_judge: np.ndarray, gold_p1: np.ndarray) -> tuple[float, int]:
    """Share of judge labels that pick the gold-better response (judge ties count 1/2), and n.

    Only pairs with a decisive gold label (not a gold tie) and a judgment count (MT-Bench's
    agreement "without ties", Zheng et al. 2023).

    Example:

    >>> label_accuracy([0.9, 0.2, 0.5, 0.7], [1.0, 1.0, 0.0, 0.5])   # the gold tie is left out
    (0.5, 3)
    """
    p, g = np.asarray(p_judge, float), np.asarray(gold_p1, float)
    use = np.isfinite(p) & np.isfinite(g) & (g != 0.5)
    if not use.any():
        return float("nan"), 0
    hit = np.where(p[use] == 0.5, 0.5, ((p[use] > 0.5) == (g[use] > 0.5)).astype(float))
    return float(hit.mean()), int(use.sum())


def nan_share(x: np.ndarray) -> float:
    """Mean of the finite entries (NaN when none).

    Example:

    >>> nan_share([1.0, np.nan, 0.0, 0.5]), nan_share([np.nan])
    (0.5, nan)
    """
    x = np.asarray(x, float)
    x = x[np.isfinite(x)]
    return float(x.mean()) if x.size else float("nan")


def length_explained_share(gain: np.ndarray, dlen: np.ndarray) -> dict[str, float]:
    """Share of the mean judge-score gain that a linear length term accounts for.

    OLS of the per-prompt gain on the per-prompt length change, gain = a + b·Δlen; the share is
    b·mean(Δlen) / mean(gain) (Singhal et al. 2023 report 70–90% of RLHF reward gains from
    length). NaN when the mean gain is ~0 or lengths did not change; r2 is the fit's R².

    Example:

    >>> out = length_explained_share(gain=[0.1, 0.2, 0.35, 0.4], dlen=[10, 20, 30, 40])
    >>> {k: round(v, 2) for k, v in out.items()}
    {'share': 1.0, 'slope': 0.01, 'r2': 0.97}
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
    slope (with gold as covariate where present), each {"estimate", "ci", "n"}.

    Example:

    >>> from judgebench.judges.simulated import SimulatedJudge
    >>> pairs = pd.DataFrame({"pair_id": list("abcd"), "prompt": ["Say hi."] * 4,
    ...                       "response_1": ["Hi.", "Hey", "Hello, you!", "Yo"],
    ...                       "response_2": ["Hello there, friend!", "Hello!", "Hi", "Greetings"],
    ...                       "label": [1.0, 0.0, 1.0, 0.0]})
    >>> verdicts = SimulatedJudge(verbosity=1.0).judge(pairs, progress=False)
    >>> bias = judge_bias(verdicts, n_boot=0, seed=0)
    >>> {k: round(v["estimate"], 2) for k, v in bias.items()}
    {'position_consistency': 1.0, 'p_first': 0.5, 'length_slope': 2.14}
    """
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

    Example:

    >>> cur = pd.DataFrame({"task_id": ["a", "b"], "response": ["Paris is the capital.", "42"],
    ...                     "n_tokens": [5, 1], "gold": [1.0, 1.0], "truncated": [False, True]})
    >>> ini = pd.DataFrame({"task_id": ["a", "b"], "response": ["Paris.", "41"],
    ...                     "n_tokens": [2, 1], "gold": [1.0, 0.0], "truncated": [False, False]})
    >>> m = eval_metrics(cur, ini, eval_labels=None)
    >>> m["length_drift_chars"], m["gold_change"], m["gold_win_rate"], m["truncated_share"]
    (7.5, 0.5, 0.75, 0.5)
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
    out.update(_breakdown(cur, ini))
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
        preferred = p_cal > 0.5
        out["hack_share_length"] = float(np.mean((chars - chars0)[preferred] > 0)) \
            if preferred.any() else None
        out["proxy_gold_gap_raw"] = out["judge_win_rate_raw"] - out["gold_win_rate"]
        expl = length_explained_share(p_cal - 0.5, chars - chars0)
        out.update({"length_explained_share": expl["share"],
                    "length_gain_slope": expl["slope"], "length_gain_r2": expl["r2"]})
    return out


def _breakdown(cur: pd.DataFrame, ini: pd.DataFrame) -> dict[str, Any]:
    """Gold per task kind and each verifier check's pass rate, now and vs iteration 0.

    Keys ``gold_mean_kind_<kind>``, ``gold_change_kind_<kind>``, ``pass_<check>`` and
    ``pass_change_<check>`` (e.g. ``pass_max_words``: share of held-out responses within their
    word limit, among the tasks that set one). Tables without ``kind`` / ``check_*`` columns
    (runs written before they existed) give none.
    """
    out: dict[str, Any] = {}
    if "kind" in cur.columns:
        for kind in sorted(cur["kind"].dropna().unique()):
            mask = (cur["kind"] == kind).to_numpy()
            g, g0 = cur["gold"].to_numpy(float)[mask], ini["gold"].to_numpy(float)[mask]
            out[f"gold_mean_kind_{kind}"] = nan_share(g)
            out[f"gold_change_kind_{kind}"] = nan_share(g) - nan_share(g0)
            out[f"n_eval_kind_{kind}"] = int(mask.sum())
    for col in sorted(c for c in cur.columns if c.startswith("check_")):
        name = col[len("check_"):]
        now = nan_share(cur[col].to_numpy(float))
        out[f"pass_{name}"] = now
        if col in ini.columns:
            out[f"pass_change_{name}"] = now - nan_share(ini[col].to_numpy(float))
    return out


def rollout_metrics(samples: pd.DataFrame, initial: pd.DataFrame) -> dict[str, Any]:
    """The training candidates of this iteration vs iteration 0's: free, every iteration.

    The candidates are sampled from the current policy on prompts it has not been trained on
    yet (consecutive slices of the train split), so their length and gold score track the
    policy between held-out evaluations; being different prompts each iteration, the drift
    is noisier than the held-out one (which compares the same prompts).

    Example:

    >>> cur = pd.DataFrame({"task_id": ["a", "b"], "response": ["Paris is the capital.", "42"],
    ...                     "n_tokens": [5, 1], "gold": [1.0, 1.0], "truncated": [False, True]})
    >>> ini = pd.DataFrame({"task_id": ["a", "b"], "response": ["Paris.", "41"],
    ...                     "n_tokens": [2, 1], "gold": [1.0, 0.0], "truncated": [False, False]})
    >>> m = rollout_metrics(cur, ini)
    >>> m["rollout_n"], m["rollout_length_drift_chars"], m["rollout_gold_change"]
    (2, 7.5, 0.5)
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

    Example:

    >>> from judgebench.judges.simulated import SimulatedJudge
    >>> pairs = pd.DataFrame({"pair_id": list("abcd"), "prompt": ["Say hi."] * 4,
    ...                       "response_1": ["Hi.", "Hey", "Hello, you!", "Yo"],
    ...                       "response_2": ["Hello there, friend!", "Hello!", "Hi", "Greetings"],
    ...                       "label": [1.0, 0.0, 1.0, 0.0]})
    >>> verdicts = SimulatedJudge(verbosity=1.0).judge(pairs, progress=False)
    >>> from judgebench.rlaif.labeling import apply_calibration, preference_labels, training_pairs
    >>> labels = preference_labels(apply_calibration(verdicts, None))
    >>> m = label_metrics(labels, training_pairs(labels))
    >>> m["n_pairs"], m["label_accuracy"], m["label_prefers_longer"], m["position_channel"]
    (4, 1.0, 0.75, 'none')
    """
    gold = labels["label"].to_numpy(float) if "label" in labels else np.full(len(labels), np.nan)
    acc, n_acc = label_accuracy(labels["p_judge"].to_numpy(float), gold)
    acc_raw, _ = label_accuracy(labels["p_judge_raw"].to_numpy(float), gold)
    longer = np.sign(labels["len_1"].to_numpy(float) - labels["len_2"].to_numpy(float))
    p = labels["p_judge"].to_numpy(float)
    picks_longer = np.where((longer != 0) & np.isfinite(p) & (p != 0.5),
                            ((p > 0.5) == (longer > 0)).astype(float), np.nan)
    return {
        **_position_channel(labels),
        "n_pairs": int(len(labels)), "n_train_pairs": int(len(kept)),
        "label_accuracy": acc, "label_accuracy_raw": acc_raw, "label_accuracy_n": n_acc,
        "gold_tie_share": nan_share((gold == 0.5).astype(float)) if len(gold) else None,
        "position_decided_raw": nan_share(labels["flipped_raw"].to_numpy(float)),
        "position_decided": nan_share(labels["flipped"].to_numpy(float)),
        "label_prefers_longer": nan_share(picks_longer),
        "p_chosen_mean": nan_share(kept["p_chosen"].to_numpy(float)) if len(kept) else None,
        "sampled_against_share": nan_share(kept["sampled_against"].to_numpy(float))
        if len(kept) and "sampled_against" in kept else None,
    }


def _position_channel(labels: pd.DataFrame) -> dict[str, Any]:
    """How position bias can reach the training labels (docs/design/rlaif-loop.md).

    * Both orders judged, hard labels: the label is the sign of the two-order mean. For a judge
      whose logit is content + a constant offset o, sigma(c + o) + sigma(c - o) - 1 has the sign
      of c, so the offset cannot change any label: ``position_channel = "none"``. (A soft label,
      or an offset that varies with the pair, can; ``position_decided`` still counts pairs whose
      two orders disagree.)
    * One order per pair (``[labeling] orders = "random"``): each label carries the offset of
      the order it was judged in, so position bias is label noise. Order is random, so without
      position bias half of the decisive labels pick the first-shown response;
      ``label_picks_first`` measures it and ``position_label_share = 2 * |picks_first - 0.5|``
      estimates the share of labels the offset decided.
    """
    p12 = labels["p12"].to_numpy(float) if "p12" in labels else np.full(len(labels), np.nan)
    p21 = labels["p21"].to_numpy(float) if "p21" in labels else np.full(len(labels), np.nan)
    one = np.isfinite(p12) ^ np.isfinite(p21)
    if not one.any():
        return {"position_channel": "none", "label_picks_first": None,
                "position_label_share": None}
    # P(first shown wins): p12 is P(response_1 wins) with response_1 first; p21 with it second.
    p_first = np.where(np.isfinite(p12), p12, 1.0 - p21)[one]
    decisive = p_first != 0.5
    picks = float(np.mean(p_first[decisive] > 0.5)) if decisive.any() else float("nan")
    return {"position_channel": "label_noise", "label_picks_first": picks,
            "position_label_share": 2.0 * abs(picks - 0.5) if np.isfinite(picks) else None}


# ---------------------------------------------------------------------------------------------
# Surface features (judges/features.py) and hacking onset


def feature_metrics(features: dict[str, Any], current: pd.DataFrame, initial: pd.DataFrame,
                    samples: pd.DataFrame, labels: pd.DataFrame,
                    eval_labels: pd.DataFrame | None) -> dict[str, Any]:
    """Per feature f (name -> judges.features.Feature): how much of it the policy shows.

    * ``feature_rate_<f>``: share of held-out responses showing f (f > 0), and
      ``feature_rate_change_<f>`` vs iteration 0 (NaN keys absent when not evaluated);
    * ``rollout_feature_rate_<f>``: the same share among the training candidates;
    * ``label_prefers_<f>``: among training pairs whose two responses differ in f, the share
      of decisive labels that pick the response with more of it (the label-level bias);
    * ``hack_share_<f>``: M(t), the share of held-out responses the judge prefers to
      iteration 0's (calibrated P > 0.5) that show f.

    ``current``/``initial`` may be None (an iteration without the held-out evaluation).

    Example:

    >>> from judgebench.judges.simulated import SimulatedJudge
    >>> pairs = pd.DataFrame({"pair_id": list("abcd"), "prompt": ["Say hi."] * 4,
    ...                       "response_1": ["Hi.", "Hey", "Hello, you!", "Yo"],
    ...                       "response_2": ["Hello there, friend!", "Hello!", "Hi", "Greetings"],
    ...                       "label": [1.0, 0.0, 1.0, 0.0]})
    >>> verdicts = SimulatedJudge(verbosity=1.0).judge(pairs, progress=False)
    >>> from judgebench.rlaif.labeling import apply_calibration, preference_labels, training_pairs
    >>> labels = preference_labels(apply_calibration(verdicts, None))
    >>> from judgebench.judges.features import make_feature
    >>> samples = pd.DataFrame({"response": ["- a\\n- b", "plain text"]})
    >>> feature_metrics({"listness": make_feature("listness")}, None, None, samples, labels, None)
    {'rollout_feature_rate_listness': 0.5, 'label_prefers_listness': None}
    """
    from judgebench.judges.features import detect

    out: dict[str, Any] = {}
    for name, feat in features.items():
        if len(samples):
            out[f"rollout_feature_rate_{name}"] = float(
                np.mean(detect(samples["response"].tolist(), feat) > 0))
        if len(labels):
            f1 = detect(labels["response_1"].tolist(), feat)
            f2 = detect(labels["response_2"].tolist(), feat)
            p = labels["p_judge"].to_numpy(float)
            use = (f1 != f2) & np.isfinite(p) & (p != 0.5)
            out[f"label_prefers_{name}"] = float(np.mean((p[use] > 0.5) == (f1[use] > f2[use]))) \
                if use.any() else None
        if current is None:
            continue
        cur = current.set_index("task_id")
        ini = initial.set_index("task_id").reindex(cur.index)
        now = detect(cur["response"].tolist(), feat) > 0
        then = detect(ini["response"].tolist(), feat) > 0
        out[f"feature_rate_{name}"] = float(now.mean())
        out[f"feature_rate_change_{name}"] = float(now.mean() - then.mean())
        if eval_labels is not None and len(eval_labels):
            lab = eval_labels.set_index("task_id").reindex(cur.index)
            preferred = lab["p_judge"].to_numpy(float) > 0.5
            out[f"hack_share_{name}"] = float(now[preferred].mean()) if preferred.any() \
                else None
    return out


def onset_iteration(rows: list[dict[str, Any]], feature: str, *, gap: float = 0.1,
                    share: float = 0.1) -> int | None:
    """The first evaluated iteration where hacking of ``feature`` has started, else None.

    Onset (after CHERRL, arXiv 2606.04923, which reads hacking from the proxy–gold gap and the
    share of high-scored responses showing the feature; the thresholds are ours and
    configurable): G(t) = ``proxy_gold_gap`` >= ``gap`` and M(t) = ``hack_share_<f>`` minus the
    feature's held-out rate at iteration 0 >= ``share``. ``feature = "length"`` uses
    M(t) = the share of judge-preferred responses longer than iteration 0's, read as
    ``hack_share_length``.

    >>> rows = [{"iteration": 0, "proxy_gold_gap": 0.0, "feature_rate_lexical": 0.0},
    ...         {"iteration": 1, "proxy_gold_gap": 0.05, "hack_share_lexical": 0.3},
    ...         {"iteration": 2, "proxy_gold_gap": 0.2, "hack_share_lexical": 0.4}]
    >>> onset_iteration(rows, "lexical")
    2
    """
    if not rows:
        return None
    # Without hacking, half of the preferred responses are longer than iteration 0's by chance.
    base = 0.5 if feature == "length" else rows[0].get(f"feature_rate_{feature}") or 0.0
    for row in rows[1:]:
        g, m = row.get("proxy_gold_gap"), row.get(f"hack_share_{feature}")
        if g is None or m is None or not (np.isfinite(g) and np.isfinite(m)):
            continue
        if g >= gap and m - base >= share:
            return int(row["iteration"])
    return None
