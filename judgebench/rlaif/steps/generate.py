"""The generate step: the policy's candidates for training and its held-out responses.

Candidates: k per training prompt of this iteration, seeded by (seed, i, "generate").
Held-out: one response per eval prompt on the iterations that evaluate, with the same seed
every iteration (common random numbers: drift is not masked by sampling noise), timed apart
as instrumentation. The hf backend loads policy i for the step; the vllm backend keeps one
engine for the run and points it at policy i (rlaif/vllm_engine.py).

Under ``accelerate launch`` with ``[sampling] seeding = "stream"`` (the default) only the main
process samples: one RNG stream runs through all batches and cannot be split. With
``seeding = "per_batch"`` batch b is seeded by ``step_seed(seed, i, f"generate/{b}")`` (held
out: ``step_seed(seed, 0, f"eval/{b}")``), every process samples batches b % world == rank,
and the rows are gathered to every process in batch order; the main process writes the
files. The numbers then do not depend on the number of processes.

>>> GenerateStep(cfg, run_dir, policies, tasks).run(0)   # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pandas as pd

from judgebench.rlaif.config import LoopConfig
from judgebench.rlaif.policies import PolicyStore
from judgebench.rlaif.rundir import RunDir, step_seed
from judgebench.rlaif.tasks import TaskSet, train_prompts
from judgebench.verdicts import save_table


class GenerateStep:
    """Sample policy ``i``: iter-NNN/samples.parquet and (when it evaluates) eval.parquet.

    Example:

    >>> from pathlib import Path
    >>> from types import SimpleNamespace
    >>> run_dir = RunDir(Path("runs/tiny"), LoopConfig(), SimpleNamespace(is_main_process=True))
    >>> step = GenerateStep(LoopConfig(), run_dir, policies=None, tasks=None)
    >>> step.name, step.engine               # backend vllm: the engine is made at the first step
    ('generate', None)
    """

    name = "generate"

    def __init__(self, cfg: LoopConfig, run_dir: RunDir, policies: PolicyStore, tasks: TaskSet):
        self.cfg, self.dir, self.policies, self.tasks = cfg, run_dir, policies, tasks
        self.engine: Any = None  # backend vllm: the run's VLLMEngine, made at the first step
        self._told = False  # the run log's one line on why other processes idle (stream)

    def run(self, i: int) -> None:
        """k candidates per training prompt, and one response per held-out prompt."""
        cfg, s = self.cfg, self.cfg.sampling
        world = self.dir.dist.num_processes
        if s.seeding == "stream" and world > 1 and not self._told:
            self._told = True
            if self.dir.main:
                from judgebench.rlaif import runlog

                runlog.note("[sampling] seeding = 'stream': only the main process of %d "
                            "samples (one RNG stream runs through all batches); the others "
                            "wait. Set [sampling] seeding = 'per_batch' to share the generation "
                            "batches out across processes (other numbers than 'stream', the "
                            "same for any number of processes).", world)
        sharded = s.seeding == "per_batch"
        if not self.dir.main and not sharded:
            return
        gen = self._sampler(i)
        tasks = train_prompts(self.tasks, cfg.tasks.n_train_prompts, i, seed=cfg.run.seed)
        out = gen([t.prompt for t in tasks], s.k, s.temperature,
                  step_seed(cfg.run.seed, i, "generate"), f"iter {i} candidates",
                  (cfg.run.seed, i, "generate"))
        if not self.dir.main:  # a per_batch worker: its share is gathered; the main one writes
            if self.dir.evaluates(i):
                held = self.tasks.eval
                gen([t.prompt for t in held], 1, s.eval_temperature,
                    step_seed(cfg.run.seed, 0, "eval"), f"iter {i} eval", (cfg.run.seed, 0, "eval"))
            return
        samples = pd.DataFrame(out).rename(columns={"prompt_index": "slot"})
        samples["task_id"] = [tasks[j].task_id for j in samples["slot"]]
        samples["prompt"] = [tasks[j].prompt for j in samples["slot"]]
        samples["kind"] = [tasks[j].kind for j in samples["slot"]]
        samples["gold"] = self.tasks.gold(samples["prompt"], samples["response"])
        samples["iteration"] = i
        save_table(samples, self.dir.iter_dir(i) / "samples.parquet")
        self.dir.maybe_kill(i, "generate", mid=True)
        eval_path = self.dir.iter_dir(i) / "eval.parquet"
        if not self.dir.evaluates(i):
            eval_path.unlink(missing_ok=True)  # a stale file from a run with another schedule
            return
        t0 = time.perf_counter()
        held = self.tasks.eval
        out = gen([t.prompt for t in held], 1, s.eval_temperature,
                  step_seed(cfg.run.seed, 0, "eval"), f"iter {i} eval", (cfg.run.seed, 0, "eval"))
        ev = pd.DataFrame(out)
        ev["task_id"] = [held[j].task_id for j in ev["prompt_index"]]
        ev["prompt"] = [held[j].prompt for j in ev["prompt_index"]]
        ev["kind"] = [held[j].kind for j in ev["prompt_index"]]
        ev["gold"] = self.tasks.gold(ev["prompt"], ev["response"])
        checks = self.tasks.checks(ev["prompt"], ev["response"])
        for name in checks.columns:  # per-check pass (1/0; NaN where the task has no such check)
            ev[f"check_{name}"] = checks[name].to_numpy()
        ev["iteration"] = i
        save_table(ev, eval_path)
        self.dir.add_timing(i, "eval_generate", time.perf_counter() - t0)

    def after(self, i: int) -> None:
        """The vLLM engine sleeps until the next generate step ([vllm] enable_sleep_mode)."""
        if self.engine is not None:
            self.engine.sleep()

    def close(self) -> None:
        """Release the vLLM engine (the hf backend holds nothing between steps)."""
        if self.engine is not None:
            self.engine.close()

    def _sampler(self, i: int) -> Callable[..., list[dict[str, Any]]]:
        """gen(prompts, n, temperature, seed, desc, key) -> generate()'s rows, for policy ``i``.

        ``key`` = (seed, iteration, step) names the per-batch seeds of ``seeding =
        "per_batch"``: batch b gets ``step_seed(seed, iteration, f"{step}/{b}")``, this
        process samples the batches b % world == rank, and every process gets all rows back.
        """
        from judgebench.rlaif.sampling import generate

        cfg, s = self.cfg, self.cfg.sampling
        tokenizer = self.policies.tokenizer
        if s.backend == "vllm":
            return self._vllm_sampler(i)
        model = self.policies.load(i)
        if hasattr(model, "merge_and_unload"):
            # Sampling with the LoRA update folded into the weights skips the adapter's extra
            # matmuls per layer: ~10% faster generation on CPU, equal up to float rounding.
            model = model.merge_and_unload()

        dist = self.dir.dist

        def gen_hf(prompts: list[str], n: int, temperature: float, seed: int,
                   desc: str, key: tuple[int, int, str]) -> list[dict[str, Any]]:
            extra: dict[str, Any] = {}
            if s.seeding == "per_batch":
                base, it, step = key
                n_batches = -(-len(prompts) * n // s.batch_size)
                extra["batch_seeds"] = lambda b: step_seed(base, it, f"{step}/{b}")
                extra["batches"] = set(range(dist.process_index, n_batches,
                                             dist.num_processes))
            rows = generate(model, tokenizer, prompts, n=n, max_new_tokens=s.max_new_tokens,
                            temperature=temperature, top_p=s.top_p, seed=seed,
                            batch_size=s.batch_size, progress=cfg.run.progress, desc=desc,
                            **extra)
            if s.seeding == "per_batch" and dist.num_processes > 1:
                rows = _merge_rows(self.dir.gather(rows))
            return rows
        return gen_hf

    def _vllm_sampler(self, i: int) -> Callable[..., list[dict[str, Any]]]:
        """gen() through the run's one vLLM engine, pointed at policy ``i``."""
        from judgebench.rlaif.sampling import generate_vllm
        from judgebench.rlaif.vllm_engine import VLLMEngine

        cfg, s = self.cfg, self.cfg.sampling
        if self.engine is None:
            # The engine loads the run's own iteration-0 checkpoint (a safetensors folder
            # whatever [policy] model named), so a resumed run builds the same one.
            self.engine = VLLMEngine(
                self.dir.policy_dir(0), dtype=str(self.policies.dtype).removeprefix("torch."),
                seed=cfg.run.seed, lora_rank=cfg.policy.lora_r if cfg.policy.lora else None,
                options=cfg.vllm)
        request = self.engine.use_policy(i, self.dir.policy_dir(i),
                                         adapter=self.policies.is_adapter(i))
        tokenizer, engine = self.policies.tokenizer, self.engine

        def gen_vllm(prompts: list[str], n: int, temperature: float, seed: int,
                     desc: str, key: tuple[int, int, str]) -> list[dict[str, Any]]:
            return generate_vllm(engine.llm, tokenizer, prompts, n=n,
                                 max_new_tokens=s.max_new_tokens, temperature=temperature,
                                 top_p=s.top_p, seed=seed, lora_request=request,
                                 progress=cfg.run.progress)
        return gen_vllm


def _merge_rows(parts: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Every process's generate() rows (``RunDir.gather``), in job order (prompt, candidate).

    Each process holds the rows of its own batches; job order is batch order, so the result
    is the single-process list whatever the number of processes.
    """
    merged = [r for part in parts for r in part]
    return sorted(merged, key=lambda r: (r["prompt_index"], r["candidate"]))
