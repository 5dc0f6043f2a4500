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

Under ``accelerate launch`` every process trains; only the main process generates, judges,
measures and writes files, and the others wait at a barrier.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch

# The package's one atomic writer and JSON converter, under the names the loop's code uses.
from judgebench.io import atomic_write, to_jsonable
from judgebench.judges.base import Judge
from judgebench.probability import win_score
from judgebench.rlaif import labeling, propagation
from judgebench.rlaif.config import (
    LoopConfig,
    check_resume_compatible,
    check_trainer_keys,
    dumps,
    load_config,
    loads,
    parse_kill_point,
)
from judgebench.rlaif.sampling import render_prompt
from judgebench.rlaif.tasks import TaskSet, load_task_set, train_prompts
from judgebench.verdicts import load_table, save_table

if TYPE_CHECKING:
    from judgebench.results import RunResult


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
    """
    cfg.check()  # a config built in Python goes through the same checks as a TOML one
    from judgebench.rlaif import runlog

    # What the libraries say (the loss of every step, their warnings and bars) goes to
    # RUN_DIR/train.log, and to the terminal only when verbose (rlaif/runlog.py).
    with runlog.library_output(runlog.log_path(out_dir)):
        run = Run(cfg, Path(out_dir), judge=judge)
        steps: dict[str, Callable[[int], None]] = {
            "generate": run.step_generate, "judge": run.step_judge,
            "instrument": run.step_instrument, "train": run.step_train}
        last = cfg.run.n_iterations
        for i in range(last + 1):
            for name, fn in steps.items():
                if (name == "train" and i == last) or run.is_done(i, name):
                    continue
                t0 = time.perf_counter()
                fn(i)
                run.finish(i, name, time.perf_counter() - t0)
                run.after_step(i, name)
            run.write_metrics()
        run.tracker.close()
    from judgebench.results import RunResult
    return RunResult.from_rows(run.read_metrics(), config_text=dumps(cfg), name=run.root.name)


def step_seed(seed: int, iteration: int, step: str) -> int:
    """A 31-bit seed for one step of one iteration (stable across processes and resumes)."""
    digest = hashlib.blake2b(f"{seed}:{iteration}:{step}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "little") & 0x7FFFFFFF


class Run:
    """One run directory: its config, state, judge, policy checkpoints and step functions."""

    def __init__(self, cfg: LoopConfig, root: Path, judge: Judge | None = None):
        from accelerate import PartialState

        from judgebench.models import pick_device, pick_dtype

        self.cfg, self.root = cfg, root
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
        self.device = self.dist.device if self.dist.num_processes > 1 else wanted
        self.dtype = pick_dtype(self.device, cfg.run.dtype or None)
        self.tasks: TaskSet = load_task_set(cfg.tasks, seed=cfg.run.seed)
        self.kill = parse_kill_point(cfg.run.debug_kill_after) if cfg.run.debug_kill_after \
            else None
        self.judge = judge
        if self.judge is None and (self.main or cfg.optimize.algorithm == "direct"):
            self.judge = build_judge(cfg, self.tasks)
        self.state = self._open_state()
        self.cache = None
        if self.main and self.judge.cacheable:
            from judgebench.judges.cache import VerdictCache

            self.cache = VerdictCache(self.root / "cache.sqlite")
        self.tokenizer = None
        self._ensure_initial_policy()
        from judgebench.rlaif.tracking import NoTracker, open_tracker

        # One tracker run for the whole loop (a resume reopens the same one): main process only.
        self.tracker = (open_tracker(cfg.run.report_to, self.root, cfg.to_dict()) if self.main
                        else NoTracker())

    # -- state ------------------------------------------------------------------------------

    def _open_state(self) -> dict[str, Any]:
        state_path, cfg_path = self.root / "state.json", self.root / "config.toml"
        self.dist.wait_for_everyone()
        state = json.loads(state_path.read_text()) if state_path.exists() else \
            {"finished": [], "config_changes": []}
        if self.main:
            self.root.mkdir(parents=True, exist_ok=True)
            if cfg_path.exists() and state["finished"]:
                changed = check_resume_compatible(loads(cfg_path.read_text(), str(cfg_path)),
                                                  self.cfg)
                if changed:
                    state["config_changes"].append({"after": state["finished"][-1],
                                                    "changed": changed})
            atomic_write(cfg_path, dumps(self.cfg))
            atomic_write(state_path, json.dumps(state, indent=1))
        self.dist.wait_for_everyone()
        return state

    def is_done(self, i: int, step: str) -> bool:
        """Whether ``step`` of iteration ``i`` finished in this or an earlier process."""
        return [i, step] in self.state["finished"]

    def finish(self, i: int, step: str, seconds: float) -> None:
        """Record a finished step (after its outputs are on disk), then maybe the test kill."""
        if self.main:
            timing_path = self.iter_dir(i) / "timing.json"
            timing = json.loads(timing_path.read_text()) if timing_path.exists() else {}
            timing[step] = seconds
            atomic_write(timing_path, json.dumps(timing))
            self.state["finished"].append([i, step])
            atomic_write(self.root / "state.json", json.dumps(self.state, indent=1))
        else:
            self.state["finished"].append([i, step])
        self.dist.wait_for_everyone()
        self._maybe_kill(i, step, mid=False)

    def _maybe_kill(self, i: int, step: str, mid: bool) -> None:
        # TEST ONLY ([run] debug_kill_after): die like a preempted job, no cleanup at all.
        if self.kill == (i, step, mid):
            os.kill(os.getpid(), signal.SIGKILL)

    # -- paths and models ---------------------------------------------------------------------

    def evaluates(self, i: int) -> bool:
        """Whether iteration ``i`` runs the held-out evaluation ([instrument] eval_every)."""
        return i == 0 or i == self.cfg.run.n_iterations or i % self.cfg.instrument.eval_every == 0

    def iter_dir(self, i: int) -> Path:
        """RUN_DIR/iter-NNN (created on first use)."""
        path = self.root / f"iter-{i:03d}"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def policy_dir(self, i: int) -> Path:
        """The checkpoint of the policy measured at iteration ``i``."""
        return self.root / "checkpoints" / f"iter-{i:03d}" / "policy"

    def _ensure_initial_policy(self) -> None:
        target = self.policy_dir(0)
        if self.main and not (target / "config.json").exists():
            from judgebench.models import load_model

            # Saved in the training dtype (float32 on CPU, bf16 on CUDA): every later load
            # casts to it anyway, and a bf16 run's policies then all take the same space.
            loaded = load_model(self.cfg.policy.model, device="cpu", dtype=self.dtype)
            loaded.model.to(self.dtype)  # tiny:* specs build in float32 whatever they are asked
            tmp = target.with_name("policy.tmp")
            loaded.model.save_pretrained(tmp)
            loaded.tokenizer.save_pretrained(tmp)
            if target.exists():
                import shutil

                shutil.rmtree(target)
            tmp.rename(target)  # atomic: a half-saved policy is never mistaken for a whole one
        self.dist.wait_for_everyone()
        from transformers import AutoTokenizer

        from judgebench.models import prepare_tokenizer

        self.tokenizer = prepare_tokenizer(AutoTokenizer.from_pretrained(target))

    def load_policy(self, i: int, trainable: bool = False) -> torch.nn.Module:
        """The iteration-``i`` policy on the run's device (base + adapter when LoRA is on)."""
        from transformers import AutoModelForCausalLM

        path = self.policy_dir(i)
        if (path / "adapter_config.json").exists():
            from peft import PeftModel

            base = AutoModelForCausalLM.from_pretrained(self.policy_dir(0), dtype=self.dtype)
            model = PeftModel.from_pretrained(base, path, is_trainable=trainable)
        else:
            model = AutoModelForCausalLM.from_pretrained(path, dtype=self.dtype)
        model.to(self.device)
        return model.train() if trainable else model.eval()

    # -- steps --------------------------------------------------------------------------------

    def step_generate(self, i: int) -> None:
        """k candidates per training prompt, and one response per held-out prompt."""
        if not self.main:
            return
        from judgebench.rlaif.sampling import generate, generate_vllm

        cfg, s = self.cfg, self.cfg.sampling
        model = None if s.backend == "vllm" else self.load_policy(i)
        if hasattr(model, "merge_and_unload"):
            # Sampling with the LoRA update folded into the weights skips the adapter's extra
            # matmuls per layer: ~10% faster generation on CPU, equal up to float rounding.
            model = model.merge_and_unload()

        def gen(prompts: list[str], n: int, temperature: float, seed: int, desc: str):
            if s.backend == "vllm":
                return generate_vllm(str(self.policy_dir(i)), self.tokenizer, prompts, n=n,
                                     max_new_tokens=s.max_new_tokens, temperature=temperature,
                                     top_p=s.top_p, seed=seed)
            return generate(model, self.tokenizer, prompts, n=n, max_new_tokens=s.max_new_tokens,
                            temperature=temperature, top_p=s.top_p, seed=seed,
                            batch_size=s.batch_size, progress=cfg.run.progress, desc=desc)

        tasks = train_prompts(self.tasks, cfg.tasks.n_train_prompts, i, seed=cfg.run.seed)
        out = gen([t.prompt for t in tasks], s.k, s.temperature,
                  step_seed(cfg.run.seed, i, "generate"), f"iter {i} candidates")
        samples = pd.DataFrame(out).rename(columns={"prompt_index": "slot"})
        samples["task_id"] = [tasks[j].task_id for j in samples["slot"]]
        samples["prompt"] = [tasks[j].prompt for j in samples["slot"]]
        samples["kind"] = [tasks[j].kind for j in samples["slot"]]
        samples["gold"] = self.tasks.gold(samples["prompt"], samples["response"])
        samples["iteration"] = i
        save_table(samples, self.iter_dir(i) / "samples.parquet")
        self._maybe_kill(i, "generate", mid=True)
        # Held-out responses are instrumentation: timed apart. The eval seed is the same every
        # iteration (common random numbers), so drift is not masked by sampling noise.
        eval_path = self.iter_dir(i) / "eval.parquet"
        if not self.evaluates(i):
            eval_path.unlink(missing_ok=True)  # a stale file from a run with another schedule
            return
        t0 = time.perf_counter()
        held = self.tasks.eval
        out = gen([t.prompt for t in held], 1, s.eval_temperature,
                  step_seed(cfg.run.seed, 0, "eval"), f"iter {i} eval")
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
        self._add_timing(i, "eval_generate", time.perf_counter() - t0)

    def step_judge(self, i: int) -> None:
        """Pair the candidates, judge both orders, calibrate, label; held-out vs iteration 0."""
        if not self.main:
            return
        cfg, d = self.cfg, self.iter_dir(i)
        samples = load_table(d / "samples.parquet")
        pairs = labeling.make_pairs(samples, cfg.labeling.pairing, iteration=i)
        if len(pairs) == 0:
            raise ValueError(f"Iteration {i}: no usable pair (all {pairs.attrs['n_dropped']} "
                             "had an empty or duplicate response). Raise [sampling] "
                             "max_new_tokens or temperature.")
        save_table(pairs, d / "pairs.parquet")
        n_cached = len(self.cache) if self.cache is not None else 0
        verdicts = labeling.judge_pairs(
            self.judge, pairs, orders=cfg.labeling.orders, seed=step_seed(cfg.run.seed, i, "judge"),
            cache=self.cache, chunk=cfg.labeling.judge_chunk, progress=cfg.run.progress,
            on_chunk=lambda k: self._maybe_kill(i, "judge", mid=True) if k == 0 else None)
        _check_failures(verdicts, cfg.labeling.max_failed_share, f"Iteration {i}'s judge step")
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
        atomic_write(d / "judge_cost.json", json.dumps(cost))
        (d / "verdicts_eval.parquet").unlink(missing_ok=True)  # stale if the schedule changed
        if (d / "eval.parquet").exists():
            stats["n_eval_unjudged"] = self._judge_eval(i, pipeline)
        atomic_write(d / "judge_stats.json", json.dumps(stats))
        self._write_verdicts()

    def _judge_eval(self, i: int, pipeline) -> int:
        """Held-out: current policy's response (response_1) vs iteration 0's (response_2).

        Writes verdicts_eval.parquet; returns how many prompts had an empty response (unjudged).
        """
        cfg, d = self.cfg, self.iter_dir(i)
        t0 = time.perf_counter()
        cur, ini = load_table(d / "eval.parquet"), load_table(self.iter_dir(0) / "eval.parquet")
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
            ev = labeling.judge_pairs(self.judge, ep[ok], orders="both", seed=0,
                                      cache=self.cache, chunk=cfg.labeling.judge_chunk)
            ev = labeling.apply_calibration(ev, pipeline).assign(iteration=i, phase="eval")
            save_table(ev, d / "verdicts_eval.parquet")
        self._add_timing(i, "eval_judge", time.perf_counter() - t0)
        return int((~ok).sum())

    def step_instrument(self, i: int) -> None:
        """The propagation measurements of iteration ``i`` -> iter-NNN/metrics.json."""
        if not self.main:
            return
        d = self.iter_dir(i)
        row: dict[str, Any] = {"iteration": i, "evaluated": (d / "eval.parquet").exists()}
        cur = ini = eval_labels = None
        if row["evaluated"]:
            cur = load_table(d / "eval.parquet")
            ini = load_table(self.iter_dir(0) / "eval.parquet")
            if (d / "verdicts_eval.parquet").exists():
                eval_labels = labeling.preference_labels(load_table(d / "verdicts_eval.parquet"))
            row.update(propagation.eval_metrics(cur, ini, eval_labels))
        samples = load_table(d / "samples.parquet")
        row.update(propagation.rollout_metrics(samples,
                                               load_table(self.iter_dir(0) / "samples.parquet")))
        labels, kept = load_table(d / "labels.parquet"), load_table(d / "train_pairs.parquet")
        row.update(propagation.label_metrics(labels, kept))
        row.update(propagation.feature_metrics(self.traced_features(), cur, ini, samples, labels,
                                               eval_labels))
        style = getattr(self.judge, "style", None)
        if style is not None and cur is not None:
            # Self-preference that can propagate: how close the policy's held-out responses
            # are to the judge's own style (judges/style.py), now and vs iteration 0.
            now = style.score(cur["prompt"].tolist(), cur["response"].tolist())
            then = style.score(ini["prompt"].tolist(), ini["response"].tolist())
            row.update({"style_score": float(np.mean(now)),
                        "style_score_change": float(np.mean(now) - np.mean(then))})
        bias = propagation.judge_bias(load_table(d / "verdicts_train.parquet"),
                                      n_boot=self.cfg.instrument.n_boot,
                                      seed=step_seed(self.cfg.run.seed, i, "instrument"))
        row.update({f"judge_{k}": v for k, v in bias.items()})
        row.update(json.loads((d / "judge_stats.json").read_text()))
        atomic_write(d / "metrics.json", json.dumps(to_jsonable(row)))

    def traced_features(self) -> dict[str, Any]:
        """The features traced per iteration: [instrument] features plus the judge's own."""
        from judgebench.judges.features import make_feature

        out = {name: make_feature(name) for name in self.cfg.instrument.features}
        bias = getattr(self.judge, "features", None)  # a simulated or biased: judge's doses
        for feat in getattr(bias, "features", ()):
            out[feat.name] = feat  # the judge's own definition (its word list, its regex)
        return out

    def step_train(self, i: int) -> None:
        """Update the policy on iteration ``i``'s labels -> checkpoint of iteration i + 1."""
        from judgebench.rlaif import optimize

        trainer, reward = self.build_trainer(i)
        trainer.train()
        optimize.check_finite(trainer.model, f"iteration {i} training")
        d = self.iter_dir(i)
        if getattr(reward, "verdicts", None) and self.main:  # direct: the reward verdicts
            save_table(pd.concat(reward.verdicts, ignore_index=True),
                       d / "verdicts_reward.parquet")
            self._write_verdicts()
        target = self.policy_dir(i + 1)
        trainer.save_model(str(target))  # main process only; gathers sharded weights
        if self.main:
            self.tokenizer.save_pretrained(target)
            losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
            atomic_write(d / "train_stats.json", json.dumps(to_jsonable({
                "train_steps": trainer.state.global_step,
                "train_loss_first": losses[0] if losses else None,
                "train_loss_last": losses[-1] if losses else None})))
        self.dist.wait_for_everyone()

    def build_trainer(self, i: int):
        """(TRL trainer, reward function or None) for iteration ``i``'s update, not yet trained.

        The reference is the iteration-0 policy ([optimize] reference = "initial") or policy
        ``i``, the one being updated ("previous"). Without LoRA it is that checkpoint, loaded
        (DPO) or named by path (GRPO/RLOO, beta > 0). With LoRA every adapter sits on the
        iteration-0 weights, so "initial" is the adapter switched off and "previous" a frozen
        copy of policy ``i``'s adapter: no second model in memory (optimize module doc).
        Under TRL 1.16 a LoRA policy given to any of the three trainers gets that copy as its
        reference unless it is removed, so "initial" had meant "previous" with LoRA.
        """
        from judgebench.rlaif import optimize, runlog

        cfg, d = self.cfg, self.iter_dir(i)
        seed = step_seed(cfg.run.seed, i, "train")
        runlog.note("iteration %d: %s update of policy %d", i, cfg.optimize.algorithm, i)
        callbacks = [optimize.StepHook(lambda: self._maybe_kill(i, "train", mid=True))]
        if self.main and self.cfg.run.report_to != "none":
            from judgebench.rlaif.tracking import TrackerCallback

            callbacks.append(TrackerCallback(self.tracker, "train/", self.tracker_step(i)))
        ref_i = 0 if cfg.optimize.reference == "initial" else i
        model = self.load_policy(i, trainable=True)
        if cfg.policy.lora and not hasattr(model, "peft_config"):
            from peft import get_peft_model

            torch.manual_seed(seed)  # the adapter's random initialisation
            model = get_peft_model(model, optimize.peft_config(cfg))
        work = self.root / "checkpoints" / f"iter-{i:03d}" / "trainer"
        kw = {"seed": seed, "device": self.device, "dtype": self.dtype, "callbacks": callbacks,
              # LoRA: policy i's adapter copied ("previous"; at i = 0 a fresh adapter, which
              # is the base anyway) or switched off ("initial")
              "lora_reference": "adapter" if ref_i > 0 else "base"}
        if cfg.optimize.algorithm == "dpo":
            pairs = load_table(d / "train_pairs.parquet")
            rows = [{"prompt": render_prompt(self.tokenizer, r.prompt), "chosen": r.chosen,
                     "rejected": r.rejected} for r in pairs.itertuples()]
            smoothing = (labeling.label_smoothing_from(pairs["p_chosen"].to_numpy())
                         if cfg.labeling.soft_labels == "robust" else 0.0)
            # With LoRA, ref_model=None: the trainer's frozen adapter copy or the base.
            ref = None if optimize.is_peft(model) else self.load_policy(ref_i)
            trainer = optimize.build_dpo_trainer(model, ref, self.tokenizer, rows, cfg, work,
                                                 label_smoothing=smoothing, **kw)
            return trainer, None
        return self._build_rl(i, model, work, ref_i, kw)

    def _build_rl(self, i: int, model, work: Path, ref_i: int, kw: dict):
        from judgebench.rlaif import optimize, reward_model

        cfg = self.cfg
        tasks = train_prompts(self.tasks, cfg.tasks.n_train_prompts, i, seed=cfg.run.seed)
        prompts = [{"prompt": render_prompt(self.tokenizer, t.prompt), "task_prompt": t.prompt}
                   for t in tasks]
        if cfg.optimize.algorithm == "direct":
            samples = load_table(self.iter_dir(i) / "samples.parquet")
            anchors = (samples[samples["response"].str.strip() != ""].sort_values("candidate")
                       .drop_duplicates("prompt").set_index("prompt")["response"].to_dict())
            reward = reward_model.JudgeReward(self.judge, anchors, cache=self.cache,
                                              iteration=i)
        else:
            # Bradley-Terry RM on every label so far, from a fresh head each iteration.
            rows = pd.concat([load_table(self.iter_dir(j) / "train_pairs.parquet")
                              for j in range(i + 1)], ignore_index=True)
            backbone = reward_model.reward_backbone(cfg.optimize.reward_model, self.policy_dir(0),
                                                    self.root / "checkpoints")
            rm_dir = self.root / "checkpoints" / f"iter-{i:03d}" / "reward_model"
            rm_callbacks = []
            if self.main and cfg.run.report_to != "none":
                from judgebench.rlaif.tracking import TrackerCallback

                rm_callbacks.append(TrackerCallback(self.tracker, "reward_model/",
                                                    self.tracker_step(i), fixed_step=True))
            rm, rm_tok = reward_model.train_reward_model(
                backbone, rows, cfg, rm_dir, seed=kw["seed"], device=self.device,
                dtype=self.dtype, callbacks=rm_callbacks)
            if self.main:
                rm.save_pretrained(rm_dir)
                rm_tok.save_pretrained(rm_dir)
            reward = reward_model.RewardModelScorer(rm, rm_tok)
        algo = "rloo" if cfg.optimize.algorithm == "rm+rloo" else "grpo"
        trainer = optimize.build_rl_trainer(algo, model, self.tokenizer, prompts, reward, cfg,
                                            work, ref_path=self.policy_dir(ref_i), **kw)
        return trainer, reward

    def tracker_step(self, i: int) -> int:
        """The tracker's step at the start of iteration ``i``: policy optimizer steps before it."""
        total = 0
        for j in range(i):
            path = self.iter_dir(j) / "train_stats.json"
            if path.exists():
                total += int(json.loads(path.read_text()).get("train_steps") or 0)
        return total

    def after_step(self, i: int, step: str) -> None:
        """What follows a recorded step: tracking (instrument) and checkpoint retention (train)."""
        if not self.main:
            return
        if step == "instrument" and self.cfg.run.report_to != "none":
            from judgebench.rlaif.tracking import scalars

            row = json.loads((self.iter_dir(i) / "metrics.json").read_text())
            self.tracker.log(scalars(row, "propagation/"), step=self.tracker_step(i))
        if step == "train" and self.cfg.run.keep_last:
            self.prune_checkpoints(i + 1)

    def prune_checkpoints(self, newest: int) -> list[int]:
        """Delete checkpoints/iter-j for 0 < j <= newest - keep_last; returns the j deleted.

        Called only once policy ``newest`` is saved and its training step recorded. From then
        on the unfinished steps read policy ``newest`` (generate, train and a "previous"
        reference) and policy 0 (the LoRA base, the "initial" reference, the reward-model
        backbone), never an older one, so any keep_last >= 1 leaves a resume all it needs.
        """
        import shutil

        gone = []
        for j in range(1, newest - self.cfg.run.keep_last + 1):
            path = self.root / "checkpoints" / f"iter-{j:03d}"
            if path.exists():
                shutil.rmtree(path)
                gone.append(j)
        return gone

    # -- outputs ------------------------------------------------------------------------------

    def _add_timing(self, i: int, key: str, seconds: float) -> None:
        path = self.iter_dir(i) / "timing.json"
        timing = json.loads(path.read_text()) if path.exists() else {}
        timing[key] = seconds
        atomic_write(path, json.dumps(timing))

    def _write_verdicts(self) -> None:
        files = sorted(self.root.glob("iter-*/verdicts_*.parquet"))
        if files:
            save_table(pd.concat([load_table(f) for f in files], ignore_index=True),
                       self.root / "verdicts.parquet")

    def write_metrics(self) -> None:
        """Rebuild metrics.jsonl from every complete iteration (idempotent, atomic)."""
        if not self.main:
            return
        rows = []
        for i in range(self.cfg.run.n_iterations + 1):
            last = i == self.cfg.run.n_iterations
            if not (self.is_done(i, "instrument") and (last or self.is_done(i, "train"))):
                break
            d = self.iter_dir(i)
            row = json.loads((d / "metrics.json").read_text())
            if (d / "train_stats.json").exists():
                row.update(json.loads((d / "train_stats.json").read_text()))
            t = json.loads((d / "timing.json").read_text())
            eval_t = t.get("eval_generate", 0.0) + t.get("eval_judge", 0.0)
            row.update({
                "time_generate_s": t.get("generate", 0.0) - t.get("eval_generate", 0.0),
                "time_judge_s": t.get("judge", 0.0) - t.get("eval_judge", 0.0),
                "time_train_s": t.get("train", 0.0),
                "time_instrument_s": t.get("instrument", 0.0) + eval_t,
            })
            rows.append(row)
        atomic_write(self.root / "metrics.jsonl",
                      "".join(json.dumps(r, allow_nan=False) + "\n" for r in rows))

    def read_metrics(self) -> list[dict[str, Any]]:
        """The rows of metrics.jsonl."""
        path = self.root / "metrics.jsonl"
        self.dist.wait_for_everyone()
        return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


# ---------------------------------------------------------------------------------------------


def build_judge(cfg: LoopConfig, tasks: TaskSet) -> Judge:
    """The loop's judge from [judge]; a simulated judge's gold term is the task verifier.

    The verifier also reaches a simulated judge wrapped in planted biases
    (``biased:(simulated:noise=0.5),listness=1.0``): the wrapper adds its doses to a judge
    that still knows which answer is correct.
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


class JudgeFailuresError(RuntimeError):
    """Too many of a judge step's verdicts failed; the step is not marked finished."""


def _check_failures(verdicts: pd.DataFrame, max_share: float, what: str) -> None:
    """Stop before a step is recorded when more than ``max_share`` of its verdicts failed.

    The message gives the count and the most common errors. Failed verdicts are never
    cached, so rerunning the same command retries exactly those and pays nothing for the rest.
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


def _silence_progress_bars() -> None:
    # Global switches of the libraries (their own API): with [run] progress = false a run
    # prints nothing per step, which is what tests and sweeps want.
    import datasets
    from transformers.utils import logging as hf_logging

    datasets.disable_progress_bars()
    hf_logging.disable_progress_bar()
