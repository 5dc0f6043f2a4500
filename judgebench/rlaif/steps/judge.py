"""The judge step: pair the candidates, judge them, calibrate, and turn verdicts into labels.

Training side: pairs of one prompt's candidates -> the judge (both orders, or one seeded random
order per pair) -> the failure guard -> the calibration pipeline (fitted on this iteration's
verdicts, or loaded) -> one label per pair -> prompt/chosen/rejected. Held-out side (iterations
that evaluate): policy i's response against policy 0's on every eval prompt, both orders.
The loop's judge itself is built here too, from [judge] (:func:`build_judge`).

Under ``accelerate launch`` the main process judges alone by default. With ``[labeling]
shard_judging = true`` every process builds the judge, opens the run's verdict cache (one
SQLite file in WAL mode) and judges the chunks k % world == rank of both the training pairs
and the held-out pairs; the verdicts are gathered to every process (so all of them pass or
fail the failure guard together) and the main process calibrates, labels and writes. The
verdict table is the single-process one (the orders are drawn before sharding, the rows
sorted by pair and order); ``judge_cost.json`` adds ``n_verdicts_by_process``.

>>> JudgeStep(cfg, run_dir, judge, cache=None).run(0)   # doctest: +SKIP
"""

from __future__ import annotations

import json
import time
from typing import Any

import pandas as pd

from judgebench.io import atomic_write
from judgebench.judges.base import Judge
from judgebench.probability import win_score
from judgebench.rlaif import labeling
from judgebench.rlaif.config import LoopConfig
from judgebench.rlaif.rundir import RunDir, step_seed
from judgebench.rlaif.tasks import TaskSet
from judgebench.verdicts import load_table, save_table


class JudgeFailuresError(RuntimeError):
    """Too many of a judge step's verdicts failed; the step is not marked finished.

    Example:

    >>> verdicts = pd.DataFrame({"failed": [True, True, False], "error": ["timeout"] * 2 + [None]})
    >>> check_failures(verdicts, 0.1, "Iteration 0's judge step")
    Traceback (most recent call last):
    ...
    judgebench.rlaif.steps.judge.JudgeFailuresError: Iteration 0's judge step: 2 of 3 ...
    """


class JudgeStep:
    """Label iteration ``i``'s candidates; judge the held-out responses against iteration 0's.

    Example:

    >>> from pathlib import Path
    >>> from types import SimpleNamespace
    >>> cfg = LoopConfig()
    >>> run_dir = RunDir(Path("runs/tiny"), cfg, SimpleNamespace(is_main_process=True))
    >>> step = JudgeStep(cfg, run_dir, build_judge(cfg, TaskSet(train=[], eval=[])), cache=None)
    >>> step.name, type(step.judge).__name__
    ('judge', 'SimulatedJudge')
    """

    name = "judge"

    def __init__(self, cfg: LoopConfig, run_dir: RunDir, judge: Judge | None, cache: Any):
        self.cfg, self.dir, self.judge, self.cache = cfg, run_dir, judge, cache

    @property
    def sharded(self) -> bool:
        """Whether every process judges its share (:func:`shards_judging`)."""
        return shards_judging(self.cfg, self.dir.dist)

    def _judge(self, pairs: pd.DataFrame, **kw: Any) -> pd.DataFrame:
        """labeling.judge_pairs on this process's share of the chunks, gathered when sharded."""
        chunk = self.cfg.labeling.judge_chunk
        if not self.sharded:
            return labeling.judge_pairs(self.judge, pairs, cache=self.cache, chunk=chunk, **kw)
        world = self.dir.dist.num_processes
        # Chunks small enough that every process gets some: the table does not depend on it.
        chunk = min(chunk, -(-len(pairs) // world))
        return labeling.judge_pairs(self.judge, pairs, cache=self.cache, chunk=chunk,
                                    shard=(self.dir.dist.process_index, world),
                                    gather=self.dir.gather, **kw)

    def run(self, i: int) -> None:
        """Pair the candidates, judge both orders, calibrate, label; held-out vs iteration 0."""
        if not self.dir.main and not self.sharded:
            return
        cfg, d = self.cfg, self.dir.iter_dir(i)
        samples = load_table(d / "samples.parquet")
        pairs = labeling.make_pairs(samples, cfg.labeling.pairing, iteration=i)
        if len(pairs) == 0:
            raise ValueError(f"Iteration {i}: no usable pair (all {pairs.attrs['n_dropped']} "
                             "had an empty or duplicate response). Raise [sampling] "
                             "max_new_tokens or temperature.")
        if self.dir.main:
            save_table(pairs, d / "pairs.parquet")
        n_cached = len(self.cache) if self.cache is not None else 0
        verdicts = self._judge(
            pairs, orders=cfg.labeling.orders, seed=step_seed(cfg.run.seed, i, "judge"),
            progress=cfg.run.progress,
            on_chunk=lambda k: self.dir.maybe_kill(i, "judge", mid=True) if k == 0 else None)
        # Every process holds the gathered verdicts, so all of them stop together here.
        check_failures(verdicts, cfg.labeling.max_failed_share, f"Iteration {i}'s judge step")
        if not self.dir.main:  # a sharded worker: its share is judged; it helps with held-out
            if (d / "eval.parquet").exists():
                self._judge_eval(i, None)
            return
        pipeline = labeling.fit_calibration(verdicts, cfg.calibration)
        if pipeline is not None:
            pipeline.to_json(d / "pipeline.json")
        cal = labeling.apply_calibration(verdicts, pipeline).assign(iteration=i, phase="train")
        save_table(cal, d / "verdicts_train.parquet")
        labels = labeling.preference_labels(cal)
        save_table(labels, d / "labels.parquet")
        save_table(labeling.training_pairs(labels, cfg.labeling.min_margin,
                                           soft_labels=cfg.labeling.soft_labels,
                                           seed=step_seed(cfg.run.seed, i, "labels")),
                   d / "train_pairs.parquet")
        stats = {"n_pairs_dropped": int(pairs.attrs["n_dropped"])}
        # Cost accounting, not a result: kept out of metrics.jsonl (a resumed run pays less).
        cost = {"n_verdicts_new": (len(self.cache) - n_cached) if self.cache else None,
                "n_verdicts": int(len(verdicts))}
        if self.sharded:
            cost["n_verdicts_by_process"] = verdicts.attrs["n_by_process"]
        atomic_write(d / "judge_cost.json", json.dumps(cost))
        (d / "verdicts_eval.parquet").unlink(missing_ok=True)  # stale if the schedule changed
        if (d / "eval.parquet").exists():
            stats["n_eval_unjudged"] = self._judge_eval(i, pipeline)
        atomic_write(d / "judge_stats.json", json.dumps(stats))
        self.dir.write_verdicts()

    def after(self, i: int) -> None:
        """Nothing follows a judge step."""

    def _judge_eval(self, i: int, pipeline: Any) -> int:
        """Held-out: current policy's response (response_1) vs iteration 0's (response_2).

        Writes verdicts_eval.parquet; returns how many prompts had an empty response (unjudged).
        """
        d = self.dir.iter_dir(i)
        t0 = time.perf_counter()
        cur = load_table(d / "eval.parquet")
        ini = load_table(self.dir.iter_dir(0) / "eval.parquet")
        ep = pd.DataFrame({"pair_id": [f"eval-it{i}-{t}" for t in cur["task_id"]],
                           "prompt": cur["prompt"], "response_1": cur["response"],
                           "response_2": ini.set_index("task_id").loc[cur["task_id"], "response"
                                                                      ].to_numpy(),
                           "task_id": cur["task_id"], "model_1": "policy",
                           "model_2": "policy", "iteration": i})
        # Both sides are the policy (at iterations i and 0; pair_id and iteration say which):
        # a judge's name-based self-preference must not tilt the held-out win rate. A judge's
        # preference for its own *style* still applies, through the texts.
        ep["label"] = win_score(cur["gold"].to_numpy(),
                                ini.set_index("task_id").loc[cur["task_id"], "gold"])
        ok = (ep["response_1"].str.strip() != "") & (ep["response_2"].str.strip() != "")
        if ok.any():
            ev = self._judge(ep[ok], orders="both", seed=0)
            if not self.dir.main:
                return 0  # a sharded worker: the main process calibrates and writes
            ev = labeling.apply_calibration(ev, pipeline).assign(iteration=i, phase="eval")
            save_table(ev, d / "verdicts_eval.parquet")
        if self.dir.main:
            self.dir.add_timing(i, "eval_judge", time.perf_counter() - t0)
        return int((~ok).sum())


def shards_judging(cfg: LoopConfig, dist: Any) -> bool:
    """Whether every process judges its share: [labeling] shard_judging, more than 1 process.

    >>> from types import SimpleNamespace
    >>> shards_judging(LoopConfig(), SimpleNamespace(num_processes=2))
    False
    """
    return cfg.labeling.shard_judging and dist.num_processes > 1


def check_failures(verdicts: pd.DataFrame, max_share: float, what: str) -> None:
    """Stop before a step is recorded when more than ``max_share`` of its verdicts failed.

    The message gives the count and the most common errors. Failed verdicts are never
    cached, so rerunning the same command retries exactly those and pays nothing for the rest.

    >>> check_failures(pd.DataFrame({"failed": [False, True], "error": [None, "x"]}), 0.5, "s")
    """
    failed = verdicts["failed"].to_numpy(bool)
    if not len(failed) or failed.mean() <= max_share:
        return
    errors = verdicts.loc[failed, "error"].fillna("no error text").astype(str).str[:120]
    common = "; ".join(f"{n} x {e!r}" for e, n in errors.value_counts().head(3).items())
    raise JudgeFailuresError(
        f"{what}: {int(failed.sum())} of {len(failed)} verdicts failed (more than "
        f"[labeling] max_failed_share = {max_share:g}); most common: {common}. The step is not "
        "marked finished: fix the judge (is its server up?) and rerun the same command, which "
        "retries only the failed verdicts.")


def build_judge(cfg: LoopConfig, tasks: TaskSet) -> Judge:
    """The loop's judge from [judge]; a simulated judge's gold term is the task verifier.

    The verifier also reaches a simulated judge wrapped in planted biases
    (``biased:(simulated:noise=0.5),listness=1.0``): the wrapper adds its doses to a judge
    that still knows which answer is correct.

    >>> judge = build_judge(load_config("configs/tiny.toml"), tasks)   # doctest: +SKIP
    """
    from judgebench.judges.spec import load_judge

    spec = cfg.judge.spec
    try:
        if spec.endswith(".toml"):
            return load_judge(spec)
        merged = ",".join([spec] + [f"{k}={v}" for k, v in cfg.judge.options.items()])
        return _judge_with_verifier(merged, tasks if cfg.judge.quality == "verifier" else None)
    except (OSError, ValueError, ImportError, RuntimeError) as err:
        raise ValueError(f"[judge] spec {spec!r} failed to load: {err} Nothing was run; fix the "
                         "spec and rerun the same command.") from err


def _judge_with_verifier(spec: str, tasks: TaskSet | None) -> Judge:
    """``spec``'s judge; every simulated judge in it (bare or wrapped) scores with the verifier."""
    from judgebench.judges.spec import build_judge as build
    from judgebench.judges.spec import parse_spec

    kind, target, options = parse_spec(spec)
    if tasks is not None and kind == "simulated":
        from judgebench.judges.simulated import SimulatedJudge

        def verifier_quality(prompt: str, response: str) -> float:
            return float(tasks.gold([prompt], [response])[0])

        return SimulatedJudge(quality=verifier_quality, **options)
    if tasks is not None and kind == "biased" and target is not None:
        from judgebench.judges.biased import BiasedJudge

        opts = dict(options)
        return BiasedJudge(_judge_with_verifier(target, tasks), name=opts.pop("name", None),
                           **opts)
    return build(kind, target, options)
