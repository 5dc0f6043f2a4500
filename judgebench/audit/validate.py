"""Validate the audit on your own judge and pairs: plant known biases, check they come back.

``validate_judge`` judges the user's pairs once in both orders, then replays those verdicts
through planted biases of known size and runs the audit's estimators on each copy:

* **position**: the judge's logit of P(first wins) gains δ logits (``POSITION_DOSES``: 0, 0.5,
  1). Estimator: ``position.offset_logit`` (``audit/position.py``), which should move by δ.
* **verbosity**: the logit gains v · log(len_first / len_second), lengths in characters, the
  simulated judge's verbosity term (``VERBOSITY_DOSES``: 0, 1), planted with the ``biased:``
  wrapper (``judges/biased.py``) and a log-length feature. Estimator: the OLS slope of the
  swap-averaged logit margin on log(len_1 / len_2), gold as a covariate where labelled
  (``audit/features.py``'s observational slope with log length as the feature), which should
  move by v.

The recovered bias is the estimator on the planted copy minus the estimator on the unplanted
replay, over the same pairs: the judge's own biases cancel, and so does its noise, because the
replay makes the planted term the only difference. The 95% interval resamples pairs (whole
prompts when pairs share one) jointly in both copies (``judgebench/stats.py``). ``covers`` says
whether the interval contains the planted dose (within ``TOLERANCE``, for floating-point
error). Each bias is also planted beside the largest dose of the other, so an estimator that
picks up the wrong bias shows it.

A judge whose probabilities saturate (P within 1e-4 of 0 or 1: ``probability.OFFSET_EPS``) or
that gives hard 0/1 verdicts hides part of a planted logit from the audit: recovery then falls
short and ``covers`` is False. That is the point of validating on your own judge.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit

from judgebench.audit.features import _wls_coef, logit_margin
from judgebench.audit.position import offset_logits
from judgebench.audit.verbosity import quality_covariate
from judgebench.judges.base import Judge, JudgeOutput, OrderedBatch
from judgebench.judges.biased import BiasedJudge
from judgebench.probability import safe_logit
from judgebench.stats import Estimate, bootstrap_ci, shared_clusters, weighted_mean

#: Planted position offsets (logits for the answer shown first).
POSITION_DOSES = (0.0, 0.5, 1.0)
#: Planted verbosity (logits per natural-log length ratio).
VERBOSITY_DOSES = (0.0, 1.0)
#: Slack on ``covers`` for floating-point error (an exact recovery has a zero-width interval).
TOLERANCE = 1e-6
ESTIMATORS = {"position": "position.offset_logit",
              "verbosity": "slope of the logit margin on log(len_1/len_2)"}
_COLUMNS = ["bias", "planted", "other_bias", "other_planted", "measure", "estimate", "ci_low",
            "ci_high", "covers", "planted_estimate", "unplanted_estimate", "n", "n_boot_failed",
            "method"]


def log_length(text: str) -> float:
    """log(characters), at least log(1): the per-text part of the verbosity term.

    >>> round(log_length("abc"), 3)
    1.099
    """
    return float(np.log(max(len(text), 1)))


class _Replay(Judge):
    """Answers with recorded verdicts (P(first), error) looked up by (pair_id, first, second)."""

    cacheable = False
    chunk_size = 100_000

    def __init__(self, verdicts: pd.DataFrame, pairs: pd.DataFrame, name: str):
        self._name = name
        by_id = pairs.set_index(pairs["pair_id"].astype(str))
        self._table: dict[tuple[str, str, str], tuple[float, Any]] = {}
        for row in verdicts.itertuples(index=False):
            pid = str(row.pair_id)
            r1, r2 = by_id.at[pid, "response_1"], by_id.at[pid, "response_2"]
            first, second = (r1, r2) if str(row.order) == "12" else (r2, r1)
            p = np.nan if row.failed else float(row.p_first)
            self._table[(pid, first, second)] = (p, getattr(row, "error", None))

    def config(self) -> dict[str, Any]:
        """A replay has no parameters of its own."""
        return {"kind": "replay", "name": self._name}

    def _judge_batch(self, batch: OrderedBatch) -> JudgeOutput:
        rows = [self._table[(pid, f, s)] for pid, f, s in
                zip(batch.pair_ids, batch.first, batch.second)]
        return JudgeOutput(p_first=np.array([r[0] for r in rows], dtype=float),
                           error=[r[1] for r in rows])


class _PositionOffset(Judge):
    """``inner`` with ``offset`` logits added for the answer shown first (failures stay NaN)."""

    cacheable = False
    chunk_size = 100_000

    def __init__(self, inner: Judge, offset: float):
        self.inner, self.offset = inner, float(offset)
        self._name = inner.name

    def config(self) -> dict[str, Any]:
        """The wrapped judge's config and the planted offset."""
        return {"kind": "position_offset", "inner": self.inner.config(), "offset": self.offset}

    def _judge_batch(self, batch: OrderedBatch) -> JudgeOutput:
        out = self.inner._judge_batch(batch)
        z = safe_logit(out.p_first) + self.offset
        return JudgeOutput(p_first=np.where(np.isfinite(out.p_first), expit(z), np.nan),
                           raw=out.raw, error=out.error)


def planted_judge(inner: Judge, position: float = 0.0, verbosity: float = 0.0) -> Judge:
    """``inner`` with a known position offset and verbosity planted on its logit.

    >>> from judgebench.judges.simulated import SimulatedJudge
    >>> j = planted_judge(SimulatedJudge(), position=1.0, verbosity=1.0)
    >>> float(j.compare(["q"], ["ab"], ["a"])[0].round(3))  # expit(1 + log 2)
    0.845
    """
    biased = BiasedJudge(inner, name=inner.name,
                         features={"log_length": (log_length, float(verbosity))})
    return _PositionOffset(biased, position) if position else biased


def _paired_difference(stat_one, planted: np.ndarray, base: np.ndarray, *extra: np.ndarray,
                       n_boot: int, seed: int, clusters: np.ndarray | None
                       ) -> tuple[Estimate, float, float]:
    """stat(planted) − stat(unplanted) with pairs resampled jointly; and both point values."""

    def diff(w: np.ndarray, a: np.ndarray, b: np.ndarray, *x: np.ndarray) -> np.ndarray:
        return stat_one(w, a, *x) - stat_one(w, b, *x)

    kw = {} if clusters is None else {"clusters": clusters, "cluster_name": "prompt"}
    est = bootstrap_ci(diff, planted, base, *extra, n_boot=n_boot, seed=seed, **kw)
    ones = np.ones((1, len(planted)))
    return (est, float(stat_one(ones, planted, *extra)[0]), float(stat_one(ones, base, *extra)[0]))


def recovery(planted: pd.DataFrame, unplanted: pd.DataFrame, pairs: pd.DataFrame, bias: str,
             *, n_boot: int = 1000, seed: int) -> tuple[Estimate, float, float]:
    """The audit's estimate of ``bias`` ('position' or 'verbosity') on ``planted`` verdicts
    minus that on ``unplanted`` verdicts of the same pairs: (difference, planted, unplanted).

    Pairs count where both orders are valid in both tables.

    Example:

    >>> from judgebench.judges.simulated import SimulatedJudge
    >>> pairs = pd.DataFrame({"pair_id": ["a", "b", "c"], "prompt": ["q1", "q2", "q3"],
    ...                       "response_1": ["x", "yy", "zzzz"], "response_2": ["xx", "y", "z"]})
    >>> base = SimulatedJudge().judge(pairs, progress=False)
    >>> planted = planted_judge(SimulatedJudge(), position=1.0).judge(pairs, progress=False)
    >>> est, with_bias, without = recovery(planted, base, pairs, "position", n_boot=50, seed=0)
    >>> round(est.estimate, 3), round(with_bias - without, 3), est.n
    (1.0, 1.0, 3)
    """
    if bias not in ESTIMATORS:
        raise ValueError(f"bias must be one of {sorted(ESTIMATORS)}; got {bias!r}.")
    p = {}
    for name, v in (("planted", planted), ("unplanted", unplanted)):
        wide = v.assign(p=np.where(v["failed"], np.nan, v["p_first"])).pivot(
            index="pair_id", columns="order", values="p")
        p[name] = wide.reindex(pairs["pair_id"].astype(str))
    ok = np.all([np.isfinite(p[k][o].to_numpy(float)) for k in p for o in ("12", "21")], axis=0)
    sub = pairs[ok].reset_index(drop=True)
    clusters = shared_clusters(sub)
    a12, a21, b12, b21 = (p[k][o].to_numpy(float)[ok] for k in ("planted", "unplanted")
                          for o in ("12", "21"))
    if bias == "position":
        return _paired_difference(weighted_mean, offset_logits(a12, a21), offset_logits(b12, b21),
                                  n_boot=n_boot, seed=seed, clusters=clusters)
    x_len = np.log(np.maximum(sub["response_1"].str.len().to_numpy(float), 1)
                   / np.maximum(sub["response_2"].str.len().to_numpy(float), 1))
    cov, _ = quality_covariate(sub)
    cols = [x_len] if cov is None or not np.isfinite(cov).all() else [x_len, cov]
    x = np.column_stack([np.ones(len(sub)), *cols])
    return _paired_difference(_wls_coef(1), logit_margin(a12, a21), logit_margin(b12, b21), x,
                              n_boot=n_boot, seed=seed, clusters=clusters)


def validate_judge(
    pairs: str | Path | pd.DataFrame,
    judge: Any,
    *,
    position_doses: tuple[float, ...] = POSITION_DOSES,
    verbosity_doses: tuple[float, ...] = VERBOSITY_DOSES,
    n_boot: int = 1000,
    seed: int = 0,
    out_dir: str | Path | None = None,
    progress: bool = True,
) -> dict:
    """Plant known position and verbosity biases in ``judge`` on ``pairs``; report recovery.

    ``judge`` is a Judge or a spec string; ``pairs`` a table or file. The judge sees each pair
    once per order (cached under ``out_dir``); every planted copy replays those verdicts.
    Returns validate.json's dict: ``recovery`` (one row per planted bias and dose: the
    estimate, its ``ci``, ``covers``, and the audit's raw estimates on the planted and unplanted
    copies), ``all_covered``, ``settings``. With ``out_dir`` it writes ``validate.json``,
    ``validate.csv`` and ``verdicts.parquet`` (the unplanted verdicts).

    >>> from judgebench.judges.simulated import SimulatedJudge
    >>> pairs = pd.DataFrame({"pair_id": ["a", "b", "c"], "prompt": "q",
    ...                       "response_1": ["x", "yy", "zzzz"], "response_2": ["xx", "y", "z"]})
    >>> res = validate_judge(pairs, SimulatedJudge(noise=1.0), n_boot=50, progress=False)
    >>> res["all_covered"], len(res["recovery"])
    (True, 8)
    """
    from judgebench.audit.suite import _as_pairs, _cache, _resolve_judge
    from judgebench.verdicts import save_table

    pairs_df = _as_pairs(pairs).assign(pair_id=lambda d: d["pair_id"].astype(str))
    judge_obj = _resolve_judge(judge)
    if judge_obj is None:
        raise ValueError("validate_judge needs judge=JUDGE_OR_SPEC (e.g. 'bundled:smollm2').")
    for name, doses in (("position_doses", position_doses), ("verbosity_doses", verbosity_doses)):
        if not doses or not all(np.isfinite(d) for d in doses):
            raise ValueError(f"{name} must be a non-empty tuple of finite logits; got {doses!r}.")
    out = None if out_dir is None else Path(out_dir)
    base = judge_obj.judge(pairs_df, cache=_cache(out, judge_obj), progress=progress)
    replay = _Replay(base, pairs_df, judge_obj.name)
    unplanted = planted_judge(replay).judge(pairs_df, progress=False)

    def verdicts(pos: float, verb: float) -> pd.DataFrame:
        return planted_judge(replay, pos, verb).judge(pairs_df, progress=False)

    top = {"position": max(position_doses, key=abs), "verbosity": max(verbosity_doses, key=abs)}
    rows = []
    for bias, doses in (("position", position_doses), ("verbosity", verbosity_doses)):
        other = "verbosity" if bias == "position" else "position"
        plan = [(d, 0.0) for d in doses] + [(d, top[other]) for d in doses if d and top[other]]
        for dose, other_dose in plan:
            doses_now = {bias: dose, other: other_dose}
            v = verdicts(doses_now["position"], doses_now["verbosity"])
            # The unplanted reference carries the other bias too, so only `bias` differs.
            ref_doses = {bias: 0.0, other: other_dose}
            ref = verdicts(ref_doses["position"], ref_doses["verbosity"]) if other_dose \
                else unplanted
            est, raw, raw_ref = recovery(v, ref, pairs_df, bias, n_boot=n_boot, seed=seed)
            rows.append({"bias": bias, "planted": float(dose), "other_bias": other,
                         "other_planted": float(other_dose), "measure": ESTIMATORS[bias],
                         "estimate": est.estimate, "ci_low": est.ci_low, "ci_high": est.ci_high,
                         "covers": _covers(est, dose), "planted_estimate": raw,
                         "unplanted_estimate": raw_ref, "n": est.n,
                         "n_boot_failed": est.n_boot_failed, "method": est.method})
    table = pd.DataFrame(rows, columns=_COLUMNS)
    result = {"judge": judge_obj.name, "n_pairs": int(len(pairs_df)),
              "n_failed": int(base["failed"].sum()),
              "all_covered": bool(table["covers"].all()),
              "recovery": [_json_row(r) for r in table.to_dict("records")],
              "settings": {"seed": seed, "n_boot": n_boot, "level": 0.95,
                           "position_doses": list(map(float, position_doses)),
                           "verbosity_doses": list(map(float, verbosity_doses)),
                           "tolerance": TOLERANCE, "estimators": ESTIMATORS}}
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "validate.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        table.to_csv(out / "validate.csv", index=False)
        save_table(base, out / "verdicts.parquet")
    return result


def _covers(est: Estimate, planted: float) -> bool:
    if not (np.isfinite(est.ci_low) and np.isfinite(est.ci_high)):
        return False
    return bool(est.ci_low - TOLERANCE <= planted <= est.ci_high + TOLERANCE)


def _json_row(row: dict) -> dict:
    num = lambda x: float(x) if x is not None and np.isfinite(x) else None  # noqa: E731
    return {"bias": row["bias"], "planted": row["planted"], "other_bias": row["other_bias"],
            "other_planted": row["other_planted"], "measure": row["measure"],
            "estimate": num(row["estimate"]), "ci": [num(row["ci_low"]), num(row["ci_high"])],
            "covers": bool(row["covers"]), "planted_estimate": num(row["planted_estimate"]),
            "unplanted_estimate": num(row["unplanted_estimate"]), "n": int(row["n"]),
            "n_boot_failed": int(row["n_boot_failed"]), "method": row["method"]}


def format_recovery(result: dict) -> str:
    """validate.json's recovery rows as a plain-text table (what ``judgebench validate`` prints).

    >>> print(format_recovery({"judge": "j", "n_pairs": 2, "recovery": [{"bias": "position",
    ...     "planted": 0.5, "other_bias": "verbosity", "other_planted": 0.0, "estimate": 0.5,
    ...     "ci": [0.5, 0.5], "covers": True}]}).splitlines()[2])
    position    0.50  verbosity=0.00      0.500 [0.500, 0.500]    yes
    """
    lines = [f"judge {result['judge']} on {result['n_pairs']} pairs: planted bias -> recovered",
             f"{'bias':<10} {'dose':>5}  {'with':<15} {'estimate':>9} {'95% CI':<16}  covers"]
    for r in result["recovery"]:
        lo, hi = (f"{x:.3f}" if x is not None else "nan" for x in r["ci"])
        est = f"{r['estimate']:.3f}" if r["estimate"] is not None else "nan"
        lines.append(f"{r['bias']:<10} {r['planted']:>5.2f}  "
                     f"{r['other_bias'] + '=' + format(r['other_planted'], '.2f'):<15} "
                     f"{est:>9} {'[' + lo + ', ' + hi + ']':<16}  "
                     f"{'yes' if r['covers'] else 'NO'}")
    return "\n".join(lines)
