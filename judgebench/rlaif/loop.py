"""The RLAIF loop: generate -> judge (both orders, calibrated) -> instrument -> train, resumable.

Every step reads its inputs from the run directory and writes its outputs there before the
state file records it as finished, and re-derives its random seed from (seed, iteration,
step). So a run killed at any point and started again with the same command repeats only the
unfinished step and ends with the same numbers as an uninterrupted run (docs/design/rlaif-loop.md).

    RUN_DIR/config.toml        the resolved config          RUN_DIR/state.json   finished steps
    RUN_DIR/metrics.jsonl      one row per iteration         RUN_DIR/cache.sqlite verdict cache
    RUN_DIR/verdicts.parquet   every verdict, with iteration and phase (train / eval / reward)
    RUN_DIR/iter-NNN/          samples, pairs, labels, eval responses, pipeline.json, timing
    RUN_DIR/checkpoints/iter-NNN/policy   the policy measured at iteration NNN (or its adapter)

This module only assembles and drives the units that do the work, one job each:
rlaif/rundir.py (the folder's bookkeeping: state, timing, metrics, pruning), rlaif/policies.py
(the policy checkpoints) and the four steps in rlaif/steps/ (generate, judge, instrument,
train). Under ``accelerate launch`` every process trains; only the main process generates,
judges, measures and writes files, and the others wait at a barrier. With ``[sampling]
seeding = "per_batch"`` every process generates its share of the batches (steps/generate.py),
and with ``[labeling] shard_judging = true`` judges its share of the chunks (steps/judge.py).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from judgebench.judges.base import Judge
from judgebench.rlaif.config import LoopConfig, check_trainer_keys, dumps, load_config
from judgebench.rlaif.policies import PolicyStore
from judgebench.rlaif.rundir import RunDir, step_seed
from judgebench.rlaif.steps.generate import GenerateStep
from judgebench.rlaif.steps.instrument import InstrumentStep
from judgebench.rlaif.steps.judge import (
    JudgeFailuresError,
    JudgeStep,
    build_judge,
    shards_judging,
)
from judgebench.rlaif.steps.train import TrainStep
from judgebench.rlaif.tasks import TaskSet, load_task_set

if TYPE_CHECKING:
    from judgebench.results import RunResult

# What judgebench and its users import from here (step_seed, build_judge and JudgeFailuresError
# live in rundir.py and steps/judge.py since the loop was split into its steps).
__all__ = ["JudgeFailuresError", "Run", "build_judge", "run_from_config", "run_loop",
           "step_seed"]


def run_from_config(config_path: str | Path, out_dir: str | Path,
                    overrides: list[str] | tuple[str, ...] = ()) -> RunResult:
    """Run (or resume) the loop of a TOML config in ``out_dir``; returns the metrics rows.

    >>> rows = run_from_config("configs/tiny.toml", "runs/tiny")   # doctest: +SKIP
    >>> rows[-1]["length_drift_chars"]                               # doctest: +SKIP
    """
    return run_loop(load_config(config_path, overrides), out_dir)


def run_loop(cfg: LoopConfig, out_dir: str | Path, *, judge: Judge | None = None
             ) -> RunResult:
    """Run (or resume) the loop of ``cfg`` in ``out_dir``; ``judge`` overrides [judge] spec.

    Returns a :class:`~judgebench.results.RunResult`: the metrics rows (it is still the list
    of rows it returned before: ``len``, ``rows[-1]["length_drift_chars"]``, iteration), the
    config, ``.tables`` and ``.plot()``.

    >>> rows = run_loop(load_config("configs/tiny.toml"), "runs/tiny")   # doctest: +SKIP
    """
    cfg.check()  # a config built in Python goes through the same checks as a TOML one
    from judgebench.rlaif import runlog

    # What the libraries say (the loss of every step, their warnings and bars) goes to
    # RUN_DIR/train.log, and to the terminal only when verbose (rlaif/runlog.py).
    with runlog.library_output(runlog.log_path(out_dir)):
        run = Run(cfg, Path(out_dir), judge=judge)
        try:
            last = cfg.run.n_iterations
            for i in range(last + 1):
                for name, step in run.steps.items():
                    if (name == "train" and i == last) or run.dir.is_done(i, name):
                        continue
                    t0 = time.perf_counter()
                    step.run(i)
                    run.dir.finish(i, name, time.perf_counter() - t0)
                    if run.main:
                        step.after(i)
                run.dir.write_metrics()
            run.tracker.close()
        finally:
            run.close()
    from judgebench.results import RunResult
    return RunResult.from_rows(run.dir.read_metrics(), config_text=dumps(cfg),
                               name=run.root.name)


class Run:
    """One run directory's pieces, assembled: its bookkeeping, policies, judge and steps.

    Building it checks everything that can fail before a run starts (trainer keys, tracker
    package, tasks, judge) before the first file is written, then opens the folder (state.json,
    config.toml), the verdict cache, the iteration-0 policy and the tracker, in that order.

    >>> run = Run(load_config("configs/tiny.toml"), Path("runs/tiny"))   # doctest: +SKIP
    >>> trainer, reward = run.steps["train"].build_trainer(0)             # doctest: +SKIP
    """

    def __init__(self, cfg: LoopConfig, root: Path, judge: Judge | None = None):
        from accelerate import PartialState

        from judgebench.models import pick_device, pick_dtype

        self.cfg, self.root = cfg, Path(root)
        wanted = pick_device(cfg.run.device or None)
        # cpu=True is what makes a torchrun/accelerate launch on CPU a MULTI_CPU (gloo) group;
        # without it accelerate reports a single process while the Trainer sees WORLD_SIZE.
        self.dist = PartialState(cpu=wanted.type == "cpu")
        self.main = self.dist.is_main_process
        if cfg.run.num_threads:
            torch.set_num_threads(cfg.run.num_threads)
        if not cfg.run.progress:
            _silence_progress_bars()
        check_trainer_keys(cfg)  # fail on a bad [trainer] key before anything is written
        from judgebench.rlaif.tracking import require

        require(cfg.run.report_to)  # and on a tracker whose package is missing
        if cfg.sampling.backend == "vllm":
            from judgebench.rlaif.vllm_engine import import_vllm

            import_vllm()  # and on a missing vLLM (the engine itself is built at first use)
        self.device = self.dist.device if self.dist.num_processes > 1 else wanted
        self.dtype = pick_dtype(self.device, cfg.run.dtype or None)
        self.tasks: TaskSet = load_task_set(cfg.tasks, seed=cfg.run.seed)
        self.dir = RunDir(self.root, cfg, self.dist)
        self.judge = judge
        # Sharded judging: every process judges its share, with the same judge and cache.
        judges_here = self.main or shards_judging(cfg, self.dist)
        if self.judge is None and (judges_here or cfg.optimize.algorithm == "direct"):
            self.judge = build_judge(cfg, self.tasks)
        self.dir.open()  # the first write: everything above can fail with nothing written
        self.cache = None
        if judges_here and self.judge.cacheable:
            from judgebench.judges.cache import VerdictCache

            self.cache = VerdictCache(self.root / "cache.sqlite")
        self.policies = PolicyStore(cfg, self.dir, device=self.device,
                                    dtype=self.dtype).ensure_initial()
        from judgebench.rlaif.tracking import NoTracker, open_tracker

        # One tracker run for the whole loop (a resume reopens the same one): main process only.
        self.tracker: Any = (open_tracker(cfg.run.report_to, self.root, cfg.to_dict())
                             if self.main else NoTracker())
        # In the order every iteration runs them (config.STEPS).
        self.steps: dict[str, Any] = {
            "generate": GenerateStep(cfg, self.dir, self.policies, self.tasks),
            "judge": JudgeStep(cfg, self.dir, self.judge, self.cache),
            "instrument": InstrumentStep(cfg, self.dir, self.judge, self.tracker),
            "train": TrainStep(cfg, self.dir, self.policies, self.tasks, self.judge, self.cache,
                               self.tracker),
        }

    def close(self) -> None:
        """Release what the steps hold beyond one step (a sampling engine), even on error."""
        self.steps["generate"].close()


def _silence_progress_bars() -> None:
    # Global switches of the libraries (their own API): with [run] progress = false a run
    # prints nothing per step, which is what tests and sweeps want.
    import datasets
    from transformers.utils import logging as hf_logging

    datasets.disable_progress_bars()
    hf_logging.disable_progress_bar()
