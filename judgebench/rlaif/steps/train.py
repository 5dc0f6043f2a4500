"""The train step: update policy i on iteration i's labels -> checkpoints/iter-(i+1)/policy.

``dpo`` trains on the labelled pairs; ``rm+grpo`` / ``rm+rloo`` first fit a Bradley–Terry
reward model on every label so far (from a fresh head), then run GRPO / RLOO on it; ``direct``
runs GRPO on the judge's own score. Every process trains (TRL and accelerate shard the data);
only the main process writes. A non-finite loss or weight stops before anything is saved.

>>> trainer, reward = TrainStep(cfg, run_dir, policies, tasks, judge, cache,   # doctest: +SKIP
...                             tracker).build_trainer(1)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from judgebench.io import atomic_write, to_jsonable
from judgebench.judges.base import Judge
from judgebench.rlaif import labeling
from judgebench.rlaif.config import LoopConfig
from judgebench.rlaif.policies import PolicyStore
from judgebench.rlaif.rundir import RunDir, step_seed
from judgebench.rlaif.sampling import render_prompt
from judgebench.rlaif.tasks import TaskSet, train_prompts
from judgebench.verdicts import load_table, save_table


class TrainStep:
    """Build iteration ``i``'s TRL trainer, train it, save policy i + 1 and its stats.

    Example:

    >>> from types import SimpleNamespace
    >>> cfg = LoopConfig()
    >>> run_dir = RunDir(Path("runs/tiny"), cfg, SimpleNamespace(is_main_process=True))
    >>> step = TrainStep(cfg, run_dir, policies=None, tasks=None, judge=None, cache=None,
    ...                  tracker=None)
    >>> step.name, step.after(0)                 # [run] keep_last = 0: no checkpoint is pruned
    ('train', None)
    """

    name = "train"

    def __init__(self, cfg: LoopConfig, run_dir: RunDir, policies: PolicyStore, tasks: TaskSet,
                 judge: Judge | None, cache: Any, tracker: Any):
        self.cfg, self.dir, self.policies, self.tasks = cfg, run_dir, policies, tasks
        self.judge, self.cache, self.tracker = judge, cache, tracker

    def run(self, i: int) -> None:
        """Update the policy on iteration ``i``'s labels -> checkpoint of iteration i + 1."""
        from judgebench.rlaif import optimize

        trainer, reward = self.build_trainer(i)
        trainer.train()
        optimize.check_finite(trainer.model, f"iteration {i} training")
        d = self.dir.iter_dir(i)
        if getattr(reward, "verdicts", None) and self.dir.main:  # direct: the reward verdicts
            save_table(pd.concat(reward.verdicts, ignore_index=True),
                       d / "verdicts_reward.parquet")
            self.dir.write_verdicts()
        target = self.dir.policy_dir(i + 1)
        trainer.save_model(str(target))  # main process only; gathers sharded weights
        optimize.release_rollout_engine(trainer)  # GRPO/RLOO with vLLM rollouts: TRL's engine
        if self.dir.main:
            self.policies.tokenizer.save_pretrained(target)
            losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
            atomic_write(d / "train_stats.json", json.dumps(to_jsonable({
                "train_steps": trainer.state.global_step,
                "train_loss_first": losses[0] if losses else None,
                "train_loss_last": losses[-1] if losses else None})))
        self.dir.dist.wait_for_everyone()

    def after(self, i: int) -> None:
        """Checkpoint retention ([run] keep_last), now that policy i + 1 is recorded."""
        if self.cfg.run.keep_last:
            self.dir.prune_checkpoints(i + 1)

    def build_trainer(self, i: int) -> tuple[Any, Any]:
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

        cfg, d = self.cfg, self.dir.iter_dir(i)
        seed = step_seed(cfg.run.seed, i, "train")
        runlog.note("iteration %d: %s update of policy %d", i, cfg.optimize.algorithm, i)
        callbacks = [optimize.StepHook(lambda: self.dir.maybe_kill(i, "train", mid=True))]
        if self.dir.main and cfg.run.report_to != "none":
            from judgebench.rlaif.tracking import TrackerCallback

            callbacks.append(TrackerCallback(self.tracker, "train/", self.dir.tracker_step(i)))
        ref_i = 0 if cfg.optimize.reference == "initial" else i
        model = self.policies.load(i, trainable=True)
        if cfg.policy.lora and not hasattr(model, "peft_config"):
            from peft import get_peft_model

            torch.manual_seed(seed)  # the adapter's random initialisation
            model = get_peft_model(model, optimize.peft_config(cfg))
        work = self.dir.checkpoint_dir(i) / "trainer"
        kw = {"seed": seed, "device": self.policies.device, "dtype": self.policies.dtype,
              "callbacks": callbacks,
              # LoRA: policy i's adapter copied ("previous"; at i = 0 a fresh adapter, which
              # is the base anyway) or switched off ("initial")
              "lora_reference": "adapter" if ref_i > 0 else "base"}
        if cfg.optimize.algorithm == "dpo":
            pairs = load_table(d / "train_pairs.parquet")
            tok = self.policies.tokenizer
            rows = [{"prompt": render_prompt(tok, r.prompt), "chosen": r.chosen,
                     "rejected": r.rejected} for r in pairs.itertuples()]
            smoothing = (labeling.label_smoothing_from(pairs["p_chosen"].to_numpy())
                         if cfg.labeling.soft_labels == "robust" else 0.0)
            # With LoRA, ref_model=None: the trainer's frozen adapter copy or the base.
            ref = None if optimize.is_peft(model) else self.policies.load(ref_i)
            trainer = optimize.build_dpo_trainer(model, ref, tok, rows, cfg, work,
                                                 label_smoothing=smoothing, **kw)
            return trainer, None
        return self._build_rl(i, model, work, ref_i, kw)

    def _build_rl(self, i: int, model: torch.nn.Module, work: Path, ref_i: int,
                  kw: dict[str, Any]) -> tuple[Any, Any]:
        from judgebench.rlaif import optimize, reward_model

        cfg, tok = self.cfg, self.policies.tokenizer
        tasks = train_prompts(self.tasks, cfg.tasks.n_train_prompts, i, seed=cfg.run.seed)
        prompts = [{"prompt": render_prompt(tok, t.prompt), "task_prompt": t.prompt}
                   for t in tasks]
        if cfg.optimize.algorithm == "direct":
            samples = load_table(self.dir.iter_dir(i) / "samples.parquet")
            anchors = (samples[samples["response"].str.strip() != ""].sort_values("candidate")
                       .drop_duplicates("prompt").set_index("prompt")["response"].to_dict())
            reward = reward_model.JudgeReward(self.judge, anchors, cache=self.cache,
                                              iteration=i)
        else:
            # Bradley-Terry RM on every label so far, from a fresh head each iteration.
            rows = pd.concat([load_table(self.dir.iter_dir(j) / "train_pairs.parquet")
                              for j in range(i + 1)], ignore_index=True)
            backbone = reward_model.reward_backbone(cfg.optimize.reward_model,
                                                    self.dir.policy_dir(0),
                                                    self.dir.root / "checkpoints")
            rm_dir = self.dir.checkpoint_dir(i) / "reward_model"
            rm_callbacks = []
            if self.dir.main and cfg.run.report_to != "none":
                from judgebench.rlaif.tracking import TrackerCallback

                rm_callbacks.append(TrackerCallback(self.tracker, "reward_model/",
                                                    self.dir.tracker_step(i), fixed_step=True))
            rm, rm_tok = reward_model.train_reward_model(
                backbone, rows, cfg, rm_dir, seed=kw["seed"], device=self.policies.device,
                dtype=self.policies.dtype, callbacks=rm_callbacks)
            if self.dir.main:
                rm.save_pretrained(rm_dir)
                rm_tok.save_pretrained(rm_dir)
            reward = reward_model.RewardModelScorer(rm, rm_tok)
        algo = "rloo" if cfg.optimize.algorithm == "rm+rloo" else "grpo"
        trainer = optimize.build_rl_trainer(algo, model, tok, prompts, reward, cfg, work,
                                            ref_path=self.dir.policy_dir(ref_i), **kw)
        return trainer, reward
