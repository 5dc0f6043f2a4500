"""From candidates to preference labels: pair, judge in both orders, calibrate, decide.

A pair's judge label is P(response_1 wins) after calibration, averaged over the orders it was
judged in (docs/design/rlaif-loop.md). Gold labels come from the task verifiers: 1 when
response_1 passes more checks, 0 when fewer, 0.5 when equal (a gold tie), NaN without a
verifier; they are written to the verdicts' ``label`` column so every audit can read them, but
the calibration steps are fitted without them unless ``fit_with_gold`` is set.

>>> import pandas as pd
>>> s = pd.DataFrame({"slot": [0, 0], "task_id": ["t", "t"], "prompt": ["q", "q"],
...                   "candidate": [0, 1], "response": ["a", "bb"], "n_tokens": [1, 2],
...                   "gold": [1.0, 0.0]})
>>> make_pairs(s, "all", iteration=0)[["pair_id", "label"]].values.tolist()
[['it0-s0-0-1', 1.0]]
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from judgebench.judges.base import Judge
from judgebench.probability import win_score
from judgebench.rlaif.config import CalibrationConfig


def make_pairs(samples: pd.DataFrame, pairing: str, *, iteration: int) -> pd.DataFrame:
    """Pairs of candidates of the same prompt slot, as a pairs table (verdicts.py schema).

    ``pairing="all"`` takes every unordered pair, ``"disjoint"`` pairs candidates (0,1), (2,3)...
    Pairs with an empty response or two identical responses are dropped: a judge cannot prefer
    either, and the schema refuses empty responses. ``n_dropped`` is in ``attrs``.

    Example:

    >>> s = pd.DataFrame({"slot": [0] * 3, "task_id": ["t"] * 3, "prompt": ["q"] * 3,
    ...                   "candidate": [0, 1, 2], "response": ["a", "bb", "a"],
    ...                   "n_tokens": [1, 2, 1], "gold": [1.0, 0.0, 1.0]})
    >>> pairs = make_pairs(s, "all", iteration=1)      # candidates 0 and 2 are identical
    >>> pairs["pair_id"].tolist(), pairs.attrs["n_dropped"]
    (['it1-s0-0-1', 'it1-s0-1-2'], 1)
    """
    rows, dropped = [], 0
    for slot, group in samples.groupby("slot", sort=True):
        group = group.sort_values("candidate")
        cands = group.to_dict("records")
        if pairing == "all":
            idx = list(combinations(range(len(cands)), 2))
        else:
            idx = [(a, a + 1) for a in range(0, len(cands) - 1, 2)]
        for a, b in idx:
            c1, c2 = cands[a], cands[b]
            if not c1["response"].strip() or not c2["response"].strip() \
                    or c1["response"] == c2["response"]:
                dropped += 1
                continue
            rows.append({
                "pair_id": f"it{iteration}-s{slot}-{c1['candidate']}-{c2['candidate']}",
                "prompt": c1["prompt"], "response_1": c1["response"],
                "response_2": c2["response"], "model_1": "policy",
                "model_2": "policy", "task_id": c1["task_id"], "slot": int(slot),
                "n_tokens_1": int(c1["n_tokens"]), "n_tokens_2": int(c2["n_tokens"]),
                "gold_1": float(c1["gold"]), "gold_2": float(c2["gold"]),
            })
    pairs = pd.DataFrame(rows)
    if len(pairs):
        pairs["label"] = win_score(pairs["gold_1"], pairs["gold_2"])
        pairs["iteration"] = iteration
    pairs.attrs["n_dropped"] = dropped
    return pairs


def judge_pairs(
    judge: Judge,
    pairs: pd.DataFrame,
    *,
    orders: str,
    seed: int,
    cache: Any = None,
    chunk: int = 256,
    on_chunk: Callable[[int], None] | None = None,
    progress: bool = False,
    shard: tuple[int, int] = (0, 1),
    gather: Callable[[list[pd.DataFrame]], list[list[pd.DataFrame]]] | None = None,
) -> pd.DataFrame:
    """The verdict table of ``pairs``: both orders, or one seeded random order per pair.

    Pairs are judged ``chunk`` at a time; with a cache, each finished chunk is on disk before
    the next starts, so a killed run pays only for the chunk it was in. ``on_chunk(k)`` runs
    after chunk k (the test hook that kills a run halfway).

    Sharded (``[labeling] shard_judging``): with ``shard = (rank, world)`` this process judges
    the chunks k with k % world == rank, and ``gather`` (``RunDir.gather``) brings every
    process's verdict frames back; the orders are drawn for all pairs before sharding and the
    rows are sorted by (pair, order), so the table is the single-process one for any world
    size. ``attrs["n_by_process"]`` counts the verdicts each process judged.

    Example:

    >>> from judgebench.judges.simulated import SimulatedJudge
    >>> pairs = pd.DataFrame({"pair_id": ["p", "q"], "prompt": ["Say hi."] * 2,
    ...                       "response_1": ["Hi.", "Hey"],
    ...                       "response_2": ["Hello there!", "Hello!"]})
    >>> v = judge_pairs(SimulatedJudge(verbosity=1.0), pairs, orders="random", seed=0)
    >>> v[["pair_id", "order"]].values.tolist()
    [['p', '21'], ['q', '12']]
    """
    if orders == "both":
        order_of = np.full(len(pairs), "both", dtype=object)
    else:
        order_of = np.where(np.random.default_rng(seed).random(len(pairs)) < 0.5, "12", "21")
    # The judge never sees gold: a simulated judge without a quality function would read it.
    gold = pairs.set_index("pair_id")["label"] if "label" in pairs.columns else None
    blind = pairs.drop(columns=["label"], errors="ignore")
    rank, world = shard
    frames = []
    for k, start in enumerate(range(0, len(blind), chunk)):
        if k % world != rank:
            continue
        part = blind.iloc[start : start + chunk]
        part_orders = order_of[start : start + chunk]
        for which in ("both", "12", "21"):
            sub = part[part_orders == which]
            if len(sub):
                todo = ("12", "21") if which == "both" else (which,)
                frames.append(judge.judge(sub, orders=todo, cache=cache, progress=progress))
        if on_chunk is not None:
            on_chunk(k)
    parts = gather(frames) if gather is not None else [frames]
    frames = [f for part in parts for f in part]
    verdicts = pd.concat(frames, ignore_index=True)
    if gold is not None:
        verdicts["label"] = verdicts["pair_id"].map(gold).to_numpy(float)
    # Row order by (pair, order) so the table does not depend on the chunking.
    verdicts["_pos"] = verdicts["pair_id"].map({p: i for i, p in enumerate(pairs["pair_id"])})
    verdicts = verdicts.sort_values(["_pos", "order"]).drop(columns="_pos").reset_index(drop=True)
    verdicts.attrs["n_by_process"] = [int(sum(len(f) for f in part)) for part in parts]
    return verdicts


def fit_calibration(verdicts: pd.DataFrame, cfg: CalibrationConfig):
    """The calibration pipeline for this iteration: fitted on ``verdicts``, loaded, or None.

    Example:

    >>> from judgebench.judges.simulated import SimulatedJudge
    >>> pairs = pd.DataFrame({"pair_id": ["p"], "prompt": ["Say hi."], "response_1": ["Hi."],
    ...                       "response_2": ["Hello there, friend!"]})
    >>> verdicts = judge_pairs(SimulatedJudge(verbosity=1.0), pairs, orders="both", seed=0)
    >>> fit_calibration(verdicts, CalibrationConfig()) is None     # no [calibration] steps
    True
    >>> fit_calibration(verdicts, CalibrationConfig(steps=["swap"]))
    Pipeline([SwapAverage()])
    """
    if cfg.pipeline:
        from judgebench.calibration.pipeline import Pipeline

        try:
            pipe = Pipeline.from_json(cfg.pipeline)
        except FileNotFoundError:
            raise FileNotFoundError(f"[calibration] pipeline file {cfg.pipeline!r} does not "
                                    "exist; write one with `judgebench calibrate`.") from None
        if not hasattr(pipe, "steps_"):
            raise ValueError(f"[calibration] pipeline {cfg.pipeline!r} is not fitted; save it "
                             "after .fit() (judgebench calibrate writes a fitted one).")
        return pipe
    if not cfg.steps:
        return None
    from judgebench.calibration.pipeline import Pipeline

    table = verdicts if cfg.fit_with_gold else verdicts.drop(columns=["label"], errors="ignore")
    try:
        return Pipeline(list(cfg.steps)).fit(table)
    except ValueError as err:
        raise ValueError(
            f"[calibration] steps {list(cfg.steps)} could not be fitted on this iteration's "
            f"verdicts: {err} Steps that learn from gold need a fitted pipeline.json "
            "([calibration] pipeline) or fit_with_gold = true (an oracle upper bound).") from None


def apply_calibration(verdicts: pd.DataFrame, pipeline: Any) -> pd.DataFrame:
    """Calibrated verdicts: p_1/p_first calibrated, p_1_raw/p_first_raw the judge's own.

    Example:

    >>> from judgebench.judges.simulated import SimulatedJudge
    >>> pairs = pd.DataFrame({"pair_id": ["p"], "prompt": ["Say hi."], "response_1": ["Hi."],
    ...                       "response_2": ["Hello there, friend!"]})
    >>> verdicts = judge_pairs(SimulatedJudge(verbosity=1.0), pairs, orders="both", seed=0)
    >>> out = apply_calibration(verdicts, None)      # no pipeline: the judge's own p
    >>> out[["order", "p_1", "p_1_raw"]].round(2).values.tolist()
    [['12', 0.13, 0.13], ['21', 0.13, 0.13]]
    """
    if pipeline is None:
        out = verdicts.copy()
        for col in ("p_1", "p_first"):
            out[f"{col}_raw"] = out[col]
        out["p_1_calibrated"] = out["p_1"]
        return out
    label = verdicts["label"] if "label" in verdicts.columns else None
    table = verdicts.drop(columns=["label"], errors="ignore")
    try:
        out = pipeline.transform(table)
    except ValueError as err:
        raise ValueError(f"The calibration pipeline could not transform the loop's verdicts: "
                         f"{err}") from None
    out = out.reset_index(drop=True)
    if label is not None:
        out["label"] = label.to_numpy()
    # A step may rename the judge (e.g. an ensemble); keep the judge's own name for the audits.
    out["judge"] = verdicts["judge"].to_numpy()
    return out


def preference_labels(verdicts: pd.DataFrame) -> pd.DataFrame:
    """One row per pair: the judge's label and the per-order numbers behind it.

    Columns: pair_id, p_judge (calibrated P(response_1 wins), mean over judged orders),
    p_judge_raw, p12/p21 and p12_raw/p21_raw (P(response_1 wins) per order; NaN where not
    judged or failed), flipped / flipped_raw (both orders judged and their winners differ:
    the label was decided by position), n_orders, and the pair's columns.

    Example:

    >>> from judgebench.judges.simulated import SimulatedJudge
    >>> pairs = pd.DataFrame({"pair_id": ["p"], "prompt": ["Say hi."], "response_1": ["Hi."],
    ...                       "response_2": ["Hello there, friend!"]})
    >>> verdicts = judge_pairs(SimulatedJudge(verbosity=1.0), pairs, orders="both", seed=0)
    >>> labels = preference_labels(apply_calibration(verdicts, None))
    >>> labels[["pair_id", "p_judge", "n_orders", "flipped"]].round(2).values.tolist()
    [['p', 0.13, 2, 0.0]]
    """
    v = verdicts.copy()
    ok = ~v["failed"].to_numpy(bool)
    v["_p"] = np.where(ok, v["p_1"], np.nan)
    v["_praw"] = np.where(ok, v["p_1_raw"], np.nan)
    wide = v.pivot_table(index="pair_id", columns="order", values=["_p", "_praw"],
                         aggfunc="first", dropna=False)
    out = pd.DataFrame(index=wide.index)
    for order in ("12", "21"):
        for src, name in (("_p", f"p{order}"), ("_praw", f"p{order}_raw")):
            out[name] = wide[(src, order)] if (src, order) in wide.columns else np.nan
    out["p_judge"] = out[["p12", "p21"]].mean(axis=1, skipna=True)
    out["p_judge_raw"] = out[["p12_raw", "p21_raw"]].mean(axis=1, skipna=True)
    out["n_orders"] = out[["p12_raw", "p21_raw"]].notna().sum(axis=1)
    out["flipped"] = _flipped(out["p12"], out["p21"])
    out["flipped_raw"] = _flipped(out["p12_raw"], out["p21_raw"])
    meta = verdicts.drop_duplicates("pair_id").set_index("pair_id")
    keep = [c for c in meta.columns if c in ("prompt", "response_1", "response_2", "label",
                                             "len_1", "len_2", "gold_1", "gold_2", "task_id",
                                             "slot", "n_tokens_1", "n_tokens_2", "iteration")]
    out = out.join(meta[keep])
    return out.reset_index()


def _flipped(p12: pd.Series, p21: pd.Series) -> np.ndarray:
    a, b = p12.to_numpy(float), p21.to_numpy(float)
    both = np.isfinite(a) & np.isfinite(b)
    differ = np.sign(a - 0.5) != np.sign(b - 0.5)
    return np.where(both, differ.astype(float), np.nan)


def training_pairs(labels: pd.DataFrame, min_margin: float = 0.0, *, soft_labels: str = "hard",
                   seed: int = 0) -> pd.DataFrame:
    """prompt/chosen/rejected rows from the judge's labels; near-ties and failures dropped.

    ``p_chosen`` is the judge's P(chosen wins). ``soft_labels``:

    * ``"hard"`` (and ``"robust"``, whose softness enters the loss instead): the chosen
      response is the one the judge prefers, so ``p_chosen >= 0.5``;
    * ``"sampled"``: each pair's direction is drawn from the judge's probability (response_1
      is chosen with probability P(response_1 wins), seeded). DPO's loss on a drawn label is
      an unbiased estimate of the soft-label (conservative-DPO) loss
      p·ℓ(h) + (1 - p)·ℓ(-h), and a reward model fitted on drawn labels fits the judge's
      Bradley–Terry probability in expectation; ``p_chosen`` may then be < 0.5 and
      ``sampled_against`` marks the pairs drawn against the judge's preference.

    >>> lab = pd.DataFrame({"pair_id": ["a", "b"], "prompt": ["q", "q"], "p_judge": [0.9, 0.2],
    ...                     "response_1": ["x", "y"], "response_2": ["xx", "yy"]})
    >>> training_pairs(lab)[["chosen", "p_chosen"]].values.tolist()
    [['x', 0.9], ['yy', 0.8]]
    """
    if soft_labels not in ("hard", "robust", "sampled"):
        raise ValueError(f"soft_labels must be 'hard', 'robust' or 'sampled'; got {soft_labels!r}.")
    p = labels["p_judge"].to_numpy(float)
    keep = np.isfinite(p) & (np.abs(p - 0.5) >= min_margin) & (p != 0.5)
    sub = labels[keep]
    p1 = sub["p_judge"].to_numpy(float)
    first = p1 > 0.5
    against = np.zeros(len(sub), bool)
    if soft_labels == "sampled":
        draw = np.random.default_rng(seed).random(len(sub)) < p1
        against = draw != first
        first = draw
    return pd.DataFrame({
        "pair_id": sub["pair_id"].to_numpy(),
        "prompt": sub["prompt"].to_numpy(),
        "chosen": np.where(first, sub["response_1"], sub["response_2"]),
        "rejected": np.where(first, sub["response_2"], sub["response_1"]),
        "p_chosen": np.where(first, p1, 1.0 - p1),
        "sampled_against": against,
    })


def label_smoothing_from(p_chosen: np.ndarray) -> float:
    """The label-flip rate for robust DPO: mean P(the chosen response is not the better one).

    Bounded below 0.5 (robust DPO's loss is undefined at 0.5; hard labels have p >= 0.5).

    >>> label_smoothing_from([0.9, 0.7])
    0.2
    """
    p = np.asarray(p_chosen, float)
    return float(min(np.mean(1.0 - p), 0.49)) if p.size else 0.0
