"""Rewards for GRPO/RLOO: a Bradley–Terry reward model trained on the judge's labels, or the
judge's own score (d-RLAIF, Lee et al. 2023).

Both are TRL reward functions: ``f(prompts, completions, **columns) -> list[float | None]``;
``None`` means "no reward for this completion" (TRL skips it), which is what a failed judgment
becomes — never a preference.

The reward model is a one-logit sequence-classification head over the iteration-0 policy (or
any model spec), trained with TRL's RewardTrainer on prompt + chosen / prompt + rejected; the
scorer feeds text in exactly the training format (prompt rendered with the chat template,
response, EOS) so that training and scoring read the same final token.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from judgebench.judges.base import Judge
from judgebench.rlaif.config import LoopConfig
from judgebench.rlaif.optimize import NonFiniteGuard, common_args, quiet
from judgebench.rlaif.sampling import render_prompt


def reward_backbone(spec: str, policy_path: str | Path, work_dir: str | Path) -> str:
    """A path or hub id to load the reward model's backbone from.

    ``"policy"`` is the iteration-0 policy checkpoint; ``tiny:*`` / ``bundled:*`` specs are
    materialised once under ``work_dir`` (they have no hub id to load a head onto).

    Example:

    >>> reward_backbone("policy", "runs/x/checkpoints/iter-000/policy", "runs/x/checkpoints")
    'runs/x/checkpoints/iter-000/policy'
    >>> reward_backbone("Qwen/Qwen2.5-0.5B-Instruct", "unused", "unused")   # a hub id, as is
    'Qwen/Qwen2.5-0.5B-Instruct'
    """
    if spec == "policy":
        return str(policy_path)
    if spec.startswith(("tiny", "bundled:")):
        target = Path(work_dir) / "rm-backbone"
        if not (target / "config.json").exists():
            from judgebench.models import load_model

            loaded = load_model(spec, device="cpu")
            loaded.model.save_pretrained(target)
            loaded.tokenizer.save_pretrained(target)
        return str(target)
    return spec


def load_reward_model(path: str | Path, *, device: torch.device, dtype: torch.dtype):
    """(model, tokenizer) with a one-logit classification head from ``path``.

    Example:

    With the tiny test backbone (about 0.1M parameters, built in process):

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     backbone = reward_backbone("tiny:0", "unused", tmp)      # written under tmp
    ...     model, tok = load_reward_model(backbone, device=torch.device("cpu"),
    ...                                    dtype=torch.float32)
    >>> type(model).__name__, model.config.num_labels, model.config.pad_token_id == tok.pad_token_id
    ('LlamaForSequenceClassification', 1, True)
    """
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from judgebench.models import prepare_tokenizer

    tok = prepare_tokenizer(AutoTokenizer.from_pretrained(path))
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1, dtype=dtype)
    model.config.pad_token_id = tok.pad_token_id
    return model.to(device), tok


def train_reward_model(
    backbone: str | Path,
    rows: pd.DataFrame,
    cfg: LoopConfig,
    out_dir: str | Path,
    *,
    seed: int,
    device: torch.device,
    dtype: torch.dtype,
    callbacks: Sequence[Any] = (),
):
    """Fit a Bradley–Terry reward model on ``rows`` (prompt = raw task prompt, chosen,
    rejected) from a fresh head on ``backbone``; returns (model, tokenizer). ``callbacks``
    are extra TrainerCallbacks (the loop's tracker).

    Example:

    Training needs labelled pairs (prompt, chosen, rejected); an iteration without any is refused:

    >>> train_reward_model("tiny:0", pd.DataFrame(), LoopConfig(), "runs/x/rm", seed=0,
    ...                    device=torch.device("cpu"), dtype=torch.float32)
    Traceback (most recent call last):
    ...
    ValueError: The reward model got no labelled pairs (all failed, tied or under [labeling] ...
    """
    from datasets import Dataset
    from trl import RewardConfig, RewardTrainer

    if len(rows) == 0:
        raise ValueError("The reward model got no labelled pairs (all failed, tied or under "
                         "[labeling] min_margin).")
    torch.manual_seed(seed)  # the fresh head's initialisation
    model, tok = load_reward_model(backbone, device=device, dtype=dtype)
    data = [{"prompt": render_prompt(tok, r.prompt), "chosen": r.chosen, "rejected": r.rejected}
            for r in rows.itertuples()]
    args = RewardConfig(**common_args(
        cfg, out_dir, seed=seed, device=device, dtype=dtype,
        learning_rate=cfg.optimize.rm_learning_rate, epochs=cfg.optimize.rm_epochs,
        batch_size=cfg.optimize.batch_size, extra=dict(cfg.reward_trainer)))
    trainer = RewardTrainer(model=model, args=args, processing_class=tok,
                            train_dataset=Dataset.from_list(data),
                            callbacks=[NonFiniteGuard("reward model"), *callbacks])
    quiet(trainer, cfg).train()
    return trainer.model, tok


class RewardModelScorer:
    """A TRL reward function over a trained reward model; also scores eval responses.

    Example:

    >>> from types import SimpleNamespace
    >>> from judgebench.models import tiny_tokenizer
    >>> rm = torch.nn.Linear(1, 1)       # stands in for a reward model: reward = number of tokens
    >>> rm.forward = lambda attention_mask, **kw: SimpleNamespace(
    ...     logits=attention_mask.sum(-1, keepdim=True).float())
    >>> RewardModelScorer(rm, tiny_tokenizer())(["Say hi."] * 2, ["Hi.", "Hello there, friend!"])
    [22.0, 32.0]
    """

    __name__ = "reward_model"  # TRL names reward columns after the function

    def __init__(self, model: torch.nn.Module, tokenizer: Any, batch_size: int = 32):
        self.model = model
        self.tokenizer = tokenizer
        self.batch_size = batch_size

    @torch.no_grad()
    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        """Reward per (raw prompt, response), in the RewardTrainer's text format."""
        tok = self.tokenizer
        texts = [render_prompt(tok, p) + r + tok.eos_token for p, r in zip(prompts, responses)]
        device = next(self.model.parameters()).device
        self.model.eval()
        out = []
        for start in range(0, len(texts), self.batch_size):
            enc = tok(texts[start : start + self.batch_size], return_tensors="pt",
                      padding=True, padding_side="right", add_special_tokens=False).to(device)
            out.append(self.model(**enc).logits[:, 0].float().cpu().numpy())
        return np.concatenate(out) if out else np.zeros(0)

    def __call__(self, prompts, completions, task_prompt=None, **kwargs) -> list[float]:
        """TRL's reward-function signature; ``task_prompt`` is the raw prompt column."""
        raw = task_prompt if task_prompt is not None else prompts
        return self.score(list(raw), list(completions)).tolist()


class JudgeReward:
    """The judge's score as reward (direct RLAIF).

    Judges with a pointwise mode (``judge.score``) score each completion. A pairwise-only judge
    (e.g. the simulated one) rewards P(completion beats the prompt's anchor), averaged over both
    presentation orders, where the anchor is the iteration-0 policy's response to that prompt:
    a fixed baseline, so rewards are comparable across iterations. Every pairwise verdict is
    kept in ``verdicts`` (the loop writes them to verdicts.parquet) and cached.
    An empty completion cannot be shown to a judge and gets reward 0 (it loses to any anchor).

    Example:

    >>> from judgebench.judges.simulated import SimulatedJudge
    >>> reward = JudgeReward(SimulatedJudge(verbosity=1.0), anchors={"Say hi.": "Hello!"})
    >>> [round(r, 2) for r in reward(["Say hi."] * 3, ["Hi", "Hello there, my friend!", ""])]
    [0.25, 0.79, 0.0]
    """

    __name__ = "judge_score"

    def __init__(self, judge: Judge, anchors: dict[str, str], *, cache: Any = None,
                 iteration: int = 0):
        self.judge = judge
        self.anchors = anchors
        self.cache = cache
        self.iteration = iteration
        self.verdicts: list[pd.DataFrame] = []
        self._pointwise: bool | None = None

    def __call__(self, prompts, completions, task_prompt=None, **kwargs) -> list[float | None]:
        """TRL's reward-function signature; ``task_prompt`` is the raw prompt column."""
        raw = list(task_prompt if task_prompt is not None else prompts)
        completions = list(completions)
        if self._pointwise is None:
            try:
                self.judge.score(raw[:1], completions[:1])
                self._pointwise = True
            except NotImplementedError:
                self._pointwise = False
        if self._pointwise:
            scores = np.asarray(self.judge.score(raw, completions), dtype=float)
            return [None if not np.isfinite(s) else float(s) for s in scores]
        return self._pairwise(raw, completions)

    def _pairwise(self, prompts: list[str], completions: list[str]) -> list[float | None]:
        rewards: list[float | None] = [0.0] * len(prompts)
        rows = []
        for i, (p, c) in enumerate(zip(prompts, completions)):
            if p not in self.anchors:
                raise ValueError(f"JudgeReward has no anchor response for prompt {p[:60]!r}; "
                                 "anchors come from the iteration-0 candidates.")
            if c.strip():
                digest = hashlib.blake2b(f"{p}\x00{c}".encode(), digest_size=6).hexdigest()
                rows.append({"pair_id": f"reward-it{self.iteration}-{i}-{digest}", "prompt": p,
                             "response_1": c, "response_2": self.anchors[p], "_i": i})
        if not rows:
            return rewards
        pairs = pd.DataFrame(rows).drop_duplicates("pair_id")
        verdicts = self.judge.judge(pairs.drop(columns="_i"), orders=("12", "21"),
                                    cache=self.cache, progress=False)
        verdicts["iteration"] = self.iteration
        verdicts["phase"] = "reward"
        self.verdicts.append(verdicts)
        ok = ~verdicts["failed"].to_numpy(bool)
        p1 = verdicts[ok].groupby("pair_id")["p_1"].mean()
        for row in rows:
            value = p1.get(row["pair_id"])
            rewards[row["_i"]] = None if value is None or not np.isfinite(value) else float(value)
        return rewards
