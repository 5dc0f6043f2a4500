"""The RLAIF loop's configuration sections: one dataclass per TOML section, each field once.

A config file has the sections below; every key is optional (the defaults are the tiny test
loop). Cross-field checks live in one place, :meth:`LoopConfig.check`. Reading and writing
TOML, ``--set`` overrides and the resume check are in ``rlaif/config.py``, which re-exports
everything here: ``from judgebench.rlaif.config import LoopConfig`` is the import to use.

>>> LoopConfig().optimize.algorithm, LabelingConfig().orders
('dpo', 'both')
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from typing import Any

ALGORITHMS = ("dpo", "rm+grpo", "rm+rloo", "direct")
STEPS = ("generate", "judge", "instrument", "train")


@dataclass
class RunConfig:
    """[run]: the run as a whole.

    Example:

    >>> from judgebench.rlaif.config import loads
    >>> run = loads("[run]\\nseed = 3\\nn_iterations = 4").run
    >>> run.seed, run.n_iterations, run.report_to
    (3, 4, 'none')
    """

    seed: int = 0  #: seeds everything; each step re-derives its RNG from (seed, iteration, step)
    n_iterations: int = 2  #: training iterations; metrics has rows 0..n_iterations (0 = untrained)
    device: str = ""  #: "" = models.pick_device (cuda, then mps, then cpu)
    dtype: str = ""  #: "" = models.pick_dtype (bf16 on CUDA, float32 elsewhere)
    num_threads: int = 0  #: torch CPU threads (0 = torch's default); 1 is fastest for tiny models
    progress: bool = True  #: tqdm bars for generation, judging and training
    #: experiment tracker for the whole loop, one tracker run per run directory: "none",
    #: "tensorboard" (RUN_DIR/tracker/tensorboard), "wandb" or "trackio". It receives TRL's
    #: training logs (train/*, reward_model/*) and every iteration's propagation metrics
    #: (propagation/*), on one step axis: the policy's optimizer steps summed over iterations
    report_to: str = "none"
    #: checkpoint retention: keep checkpoints/iter-000 and the newest keep_last policies (with
    #: their reward models); 0 keeps all. Never deletes what an unfinished step still reads
    keep_last: int = 0
    #: TEST ONLY: "iterN:STEP" SIGKILLs the process after that step is recorded; "iterN:STEP:mid"
    #: kills it halfway through the step (judge: after the first chunk; train: after one step).
    debug_kill_after: str = ""


@dataclass
class PolicyConfig:
    """[policy]: the model being trained.

    Example:

    >>> from judgebench.rlaif.config import loads
    >>> policy = loads("[policy]\\nlora = true\\nlora_r = 16").policy
    >>> policy.model, policy.lora, policy.lora_r, policy.lora_alpha
    ('tiny:0', True, 16, 16)
    """

    model: str = "tiny:0"  #: models.load_model spec: "tiny:SEED", "bundled:smollm2", path, hub id
    lora: bool = False  #: train a LoRA adapter (peft) instead of all weights
    lora_r: int = 8  #: LoRA rank
    lora_alpha: int = 16  #: LoRA scaling numerator
    lora_dropout: float = 0.0  #: LoRA dropout
    lora_target_modules: list[str] = field(default_factory=list)  #: [] = "all-linear"


@dataclass
class TasksConfig:
    """[tasks]: prompts with verifiable gold (data/tasks.jsonl when path is "").

    Example:

    >>> from judgebench.rlaif.config import loads
    >>> loads("[tasks]\\nkinds = 'qa+arithmetic'").tasks.kinds    # a string is split on + or ,
    ['qa', 'arithmetic']
    >>> TasksConfig(n_eval_prompts=20).n_train_prompts
    16
    """

    path: str = ""  #: a tasks JSONL file; "" = the bundled 144 tasks
    kinds: list[str] = field(default_factory=list)  #: keep only these kinds ([] = all)
    n_train_prompts: int = 16  #: training prompts per iteration (cycling through the train split)
    n_eval_prompts: int = 0  #: held-out prompts measured each iteration (0 = the whole eval split)
    require_gold: bool = True  #: refuse tasks without a verifier (gold metrics need them)


#: [sampling] seeding: one RNG stream through all batches, or one seed per batch (shardable).
SEEDINGS = ("stream", "per_batch")


@dataclass
class SamplingConfig:
    """[sampling]: how the policy generates.

    Example:

    >>> SamplingConfig(k=8, temperature=0.7).backend
    'hf'
    >>> from judgebench.rlaif.config import loads
    >>> loads("[sampling]\\nk = 1")
    Traceback (most recent call last):
    ...
    ValueError: [sampling] k must be >= 2 to form pairs; got 1.
    """

    k: int = 4  #: candidates per training prompt
    max_new_tokens: int = 32  #: generation budget per response
    temperature: float = 1.0  #: sampling temperature of training candidates
    top_p: float = 1.0  #: nucleus sampling
    eval_temperature: float = 1.0  #: temperature on held-out prompts (0 = greedy)
    batch_size: int = 64  #: prompts per generate() call
    #: "hf" (transformers generate) or "vllm": one vLLM engine for the run, each iteration's
    #: policy as a LoRA adapter on it or its weights reloaded into it (rlaif/vllm_engine.py);
    #: GRPO/RLOO then also generate their rollouts with vLLM (TRL's colocate mode)
    backend: str = "hf"
    #: "stream": one torch seed per generate call, its RNG stream running through every batch
    #: (the loop's numbers since the start; under accelerate launch only the main process
    #: samples). "per_batch": batch b seeded by step_seed(seed, i, "generate/b") (held out:
    #: "eval/b"), so the batches are shared out across processes: other numbers than
    #: "stream", the same ones for any number of processes (backend "hf" only)
    seeding: str = "stream"


@dataclass
class JudgeConfig:
    """[judge]: who labels the pairs. Extra keys are options of the spec (e.g. verbosity = 2.0).

    Example:

    >>> from judgebench.rlaif.config import loads
    >>> judge = loads("[judge]\\nspec = 'simulated:noise=0.5'\\nverbosity = 2.0").judge
    >>> judge.spec, judge.options
    ('simulated:noise=0.5', {'verbosity': 2.0})
    """

    spec: str = "simulated:verbosity=1.0"  #: judges.spec string or a judge .toml file
    #: "verifier": a simulated judge's gold term is the task verifier's score; "none": no gold term
    quality: str = "verifier"
    options: dict[str, Any] = field(default_factory=dict)  #: spec options set as TOML keys


@dataclass
class CalibrationConfig:
    """[calibration]: the pipeline the judge's verdicts pass through before they become labels.

    Example:

    >>> CalibrationConfig(steps=["swap", "length"]).fit_with_gold
    False
    >>> LoopConfig(calibration=CalibrationConfig(steps=["swap"], pipeline="p.json")).check()
    Traceback (most recent call last):
    ...
    ValueError: [calibration] give either steps (fitted each iteration) or pipeline ...
    """

    #: step names (calibration.base registry), fitted anew on each iteration's verdicts
    steps: list[str] = field(default_factory=list)
    pipeline: str = ""  #: a fitted pipeline.json, applied as is (mutually exclusive with steps)
    #: fit the steps with the verifier's labels in the table (an oracle upper bound); off = no gold
    fit_with_gold: bool = False


@dataclass
class LabelingConfig:
    """[labeling]: from candidates to preference labels.

    Example:

    >>> LabelingConfig(pairing="disjoint").orders
    'both'
    >>> from judgebench.rlaif.config import loads
    >>> loads("[labeling]\\nmin_margin = 0.6")
    Traceback (most recent call last):
    ...
    ValueError: [labeling] min_margin must lie in [0, 0.5); got 0.6.
    """

    orders: str = "both"  #: "both" presentation orders per pair, or one "random" order per pair
    pairing: str = "all"  #: "all" k(k-1)/2 pairs per prompt, or "disjoint" k/2 pairs
    min_margin: float = 0.0  #: drop pairs with |P(response_1 wins) - 0.5| below this (near-ties)
    #: "hard": chosen = the judge's preferred response; "sampled": each pair's direction drawn
    #: from the judge's probability (an unbiased estimate of the soft-label loss, DPO and RM);
    #: "robust": hard labels, robust DPO (TRL loss_type "robust") with its flip rate set to the
    #: mean P(label is wrong) (DPO only)
    soft_labels: str = "hard"
    judge_chunk: int = 256  #: pairs per judge call (the resume granularity of the judge step)
    #: a judge step whose failed verdicts exceed this share stops the run unfinished (a rerun
    #: retries exactly the failed verdicts: successes are cached, failures never are)
    max_failed_share: float = 0.1
    #: under ``accelerate launch``, every process judges its share of the chunks (and builds
    #: the judge, sharing the run's verdict cache); false: the main process judges alone
    shard_judging: bool = False


@dataclass
class OptimizeConfig:
    """[optimize]: the policy update. TRL's own knobs go in [trainer].

    Each iteration builds a fresh TRL trainer, so the optimizer (AdamW moments) and the
    learning-rate schedule (TRL's default: linear decay to 0 over that iteration's steps, no
    warmup; change it with [trainer] lr_scheduler_type) start anew every iteration: each
    iteration is a new problem (new labels, and with "previous" a new reference), and the
    checkpoint alone is then the whole state a resume needs.

    Example:

    >>> from judgebench.rlaif.config import loads
    >>> opt = loads("[optimize]\\nalgorithm = 'rm+grpo'\\nbeta = 0.05").optimize
    >>> opt.algorithm, opt.beta, opt.num_generations
    ('rm+grpo', 0.05, 4)
    """

    algorithm: str = "dpo"  #: "dpo", "rm+grpo", "rm+rloo" or "direct" (judge score as reward)
    learning_rate: float = 1e-5  #: policy learning rate
    epochs: float = 1.0  #: passes over each iteration's data
    batch_size: int = 8  #: per-device batch size of the policy trainer
    beta: float = 0.1  #: KL / DPO temperature (GRPO/RLOO with beta > 0 load the reference)
    #: the KL reference: "initial" (iteration-0 policy, always) or "previous" (the policy the
    #: update starts from). With LoRA neither loads a second model: "initial" is the base with
    #: the adapter disabled, "previous" a frozen copy of the adapter (docs/design/rlaif-loop.md)
    reference: str = "initial"
    num_generations: int = 4  #: completions per prompt for GRPO/RLOO
    #: reward-model backbone: "policy" (the iteration-0 policy) or a load_model spec ("tiny:0")
    reward_model: str = "policy"
    rm_learning_rate: float = 1e-4  #: reward-model learning rate
    rm_epochs: float = 1.0  #: reward-model epochs over all labels collected so far


@dataclass
class InstrumentConfig:
    """[instrument]: the per-iteration propagation measurements.

    Example:

    >>> InstrumentConfig(n_boot=0).features
    ['lexical', 'tone', 'self_praise', 'format', 'listness']
    """

    n_boot: int = 200  #: bootstrap resamples for the judge-bias estimates (0 = point only)
    #: held-out evaluation at iteration 0, every eval_every-th iteration and the last; the
    #: rollout metrics (from the candidates, free) are recorded every iteration regardless
    eval_every: int = 1
    #: surface features traced per iteration (judges/features.py names), besides any feature
    #: the judge itself has a dose for
    features: list[str] = field(default_factory=lambda: ["lexical", "tone", "self_praise",
                                                         "format", "listness"])
    #: hacking onset: the first evaluated iteration where the proxy–gold gap G(t) reaches
    #: onset_gap and the share of judge-preferred held-out responses showing the feature
    #: exceeds its iteration-0 rate by onset_share (docs/design/studies.md)
    onset_gap: float = 0.1
    onset_share: float = 0.1


_SECTIONS: dict[str, type] = {
    "run": RunConfig, "policy": PolicyConfig, "tasks": TasksConfig, "sampling": SamplingConfig,
    "judge": JudgeConfig, "calibration": CalibrationConfig, "labeling": LabelingConfig,
    "optimize": OptimizeConfig, "instrument": InstrumentConfig,
}
_PASSTHROUGH = ("trainer", "reward_trainer", "vllm")
#: Sections that may change when a run resumes: they only shape steps not yet run.
RESUMABLE_CHANGES = {"run.debug_kill_after", "run.progress", "run.n_iterations",
                     "run.report_to", "run.keep_last", "labeling.shard_judging"}
TRACKERS = ("none", "tensorboard", "wandb", "trackio")
RESUMABLE_SECTIONS = {"optimize", "trainer", "reward_trainer", "instrument", "vllm"}
#: The largest LoRA rank any vLLM release takes as max_lora_rank (vllm.config.lora).
VLLM_MAX_LORA_RANK = 512
#: [vllm] keys the loop sets itself, and where they come from.
VLLM_OWN_KEYS = {"model": "the run's checkpoints", "tokenizer": "the run's checkpoints",
                 "seed": "[run] seed", "dtype": "[run] dtype", "enable_lora": "[policy] lora",
                 "max_lora_rank": "[policy] lora_r", "max_loras": "[policy] lora",
                 "worker_extension_cls": "the loop's weight reload"}


@dataclass
class LoopConfig:
    """The whole loop: one attribute per section, plus the TRL pass-through tables.

    Example:

    >>> cfg = LoopConfig(optimize=OptimizeConfig(algorithm="rm+rloo")).check()
    >>> cfg.optimize.algorithm, cfg.to_dict()["judge"]
    ('rm+rloo', {'spec': 'simulated:verbosity=1.0', 'quality': 'verifier'})
    """

    run: RunConfig = field(default_factory=RunConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    tasks: TasksConfig = field(default_factory=TasksConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    judge: JudgeConfig = field(default_factory=JudgeConfig)
    calibration: CalibrationConfig = field(default_factory=CalibrationConfig)
    labeling: LabelingConfig = field(default_factory=LabelingConfig)
    optimize: OptimizeConfig = field(default_factory=OptimizeConfig)
    instrument: InstrumentConfig = field(default_factory=InstrumentConfig)
    trainer: dict[str, Any] = field(default_factory=dict)  #: extra kwargs of the TRL config
    reward_trainer: dict[str, Any] = field(default_factory=dict)  #: extra RewardConfig kwargs
    vllm: dict[str, Any] = field(default_factory=dict)  #: extra vllm.LLM kwargs (backend vllm)

    def check(self) -> LoopConfig:
        """Every cross-field rule, in one place; returns self or raises ValueError."""
        _choice("optimize", "algorithm", self.optimize.algorithm, ALGORITHMS)
        _choice("optimize", "reference", self.optimize.reference, ("initial", "previous"))
        _choice("labeling", "orders", self.labeling.orders, ("both", "random"))
        _choice("labeling", "pairing", self.labeling.pairing, ("all", "disjoint"))
        if self.labeling.soft_labels == "smoothing":
            raise ValueError(
                "[labeling] soft_labels = 'smoothing' is gone: under TRL 1.16 DPO's sigmoid loss "
                "ignores label_smoothing, so it changed nothing. Use 'sampled' (labels drawn "
                "from the judge's probability) or 'robust' (robust DPO with the judge's flip "
                "rate).")
        _choice("labeling", "soft_labels", self.labeling.soft_labels,
                ("hard", "sampled", "robust"))
        if self.labeling.soft_labels == "robust" and self.optimize.algorithm != "dpo":
            raise ValueError("[labeling] soft_labels = 'robust' is a DPO loss; with [optimize] "
                             f"algorithm = {self.optimize.algorithm!r} use 'sampled' or 'hard'.")
        _choice("judge", "quality", self.judge.quality, ("verifier", "none"))
        _choice("sampling", "backend", self.sampling.backend, ("hf", "vllm"))
        _choice("sampling", "seeding", self.sampling.seeding, SEEDINGS)
        if self.sampling.seeding == "per_batch" and self.sampling.backend == "vllm":
            raise ValueError("[sampling] seeding = 'per_batch' seeds transformers' generate "
                             "batches (backend = 'hf'); vLLM seeds each request itself. Use "
                             "seeding = 'stream' with backend = 'vllm'.")
        _choice("run", "report_to", self.run.report_to, TRACKERS)
        _positive("run", "n_iterations", self.run.n_iterations, allow_zero=True)
        _positive("run", "keep_last", self.run.keep_last, allow_zero=True)
        _positive("tasks", "n_train_prompts", self.tasks.n_train_prompts)
        _positive("sampling", "max_new_tokens", self.sampling.max_new_tokens)
        _positive("sampling", "batch_size", self.sampling.batch_size)
        _positive("optimize", "batch_size", self.optimize.batch_size)
        _positive("labeling", "judge_chunk", self.labeling.judge_chunk)
        _positive("instrument", "eval_every", self.instrument.eval_every)
        from judgebench.judges.features import FEATURES

        unknown = sorted(set(self.instrument.features) - set(FEATURES))
        if unknown:
            raise ValueError(f"[instrument] features {unknown} are not built-in features; "
                             f"choose from {sorted(FEATURES)}.")
        if self.sampling.k < 2:
            raise ValueError(f"[sampling] k must be >= 2 to form pairs; got {self.sampling.k}.")
        if self.labeling.pairing == "disjoint" and self.sampling.k % 2:
            raise ValueError(f"[labeling] pairing = 'disjoint' needs an even [sampling] k; got "
                             f"k = {self.sampling.k}. Use an even k or pairing = 'all'.")
        if not 0.0 <= self.labeling.max_failed_share <= 1.0:
            raise ValueError(f"[labeling] max_failed_share must lie in [0, 1]; got "
                             f"{self.labeling.max_failed_share}.")
        if not 0.0 <= self.labeling.min_margin < 0.5:
            raise ValueError(f"[labeling] min_margin must lie in [0, 0.5); got "
                             f"{self.labeling.min_margin}.")
        if self.calibration.steps and self.calibration.pipeline:
            raise ValueError("[calibration] give either steps (fitted each iteration) or "
                             "pipeline (a fitted pipeline.json), not both.")
        if self.optimize.algorithm in ("rm+grpo", "rm+rloo", "direct") \
                and self.optimize.num_generations < 2:
            raise ValueError(f"[optimize] num_generations must be >= 2 for GRPO/RLOO (advantages "
                             f"compare completions); got {self.optimize.num_generations}.")
        if self.optimize.algorithm == "direct" and self.calibration.pipeline:
            # A pointwise score has no pair to calibrate; say so rather than ignore the file.
            raise ValueError("[optimize] algorithm = 'direct' rewards with the judge's pointwise "
                             "score, which a pairwise calibration pipeline cannot transform; "
                             "remove [calibration] pipeline or use 'dpo' / 'rm+grpo'.")
        if self.run.debug_kill_after:
            parse_kill_point(self.run.debug_kill_after)
        for section in _PASSTHROUGH:
            if "report_to" in getattr(self, section):
                # A TRL trainer's own tracker opens a run per iteration and restarts its steps.
                raise ValueError(f"[{section}] report_to would open a tracker run per iteration; "
                                 "set [run] report_to instead (one run for the whole loop).")
        for key in ("bf16", "fp16") if self.run.device == "cpu" else ():
            if self.trainer.get(key):
                raise ValueError(f"[trainer] {key} = true needs a GPU but [run] device = 'cpu'.")
        self._check_vllm()
        return self

    def _check_vllm(self) -> None:
        """The combinations [sampling] backend = "vllm" cannot sample, refused before a run."""
        if self.sampling.backend != "vllm":
            if self.vllm:
                raise ValueError(f"[vllm] {sorted(self.vllm)} configures the vLLM sampling "
                                 "engine, but [sampling] backend = 'hf'; set backend = 'vllm' "
                                 "or remove the [vllm] table.")
            return
        if self.policy.model.startswith("tiny"):
            raise ValueError(
                f"[sampling] backend = 'vllm' cannot sample [policy] model = "
                f"{self.policy.model!r}: the tiny random models are test fixtures for the hf "
                "backend, not models vLLM serves. Use backend = 'hf', or a real policy (a "
                "model folder, a hub id, bundled:smollm2).")
        if self.policy.lora and self.policy.lora_r > VLLM_MAX_LORA_RANK:
            raise ValueError(
                f"[policy] lora_r = {self.policy.lora_r} is above the largest LoRA rank vLLM "
                f"serves ({VLLM_MAX_LORA_RANK}), so [sampling] backend = 'vllm' cannot load the "
                f"adapters. Lower lora_r to <= {VLLM_MAX_LORA_RANK} or use backend = 'hf'.")
        own = sorted(set(self.vllm) & set(VLLM_OWN_KEYS))
        if own:
            raise ValueError(f"[vllm] {own} are set by the loop (" + "; ".join(
                f"{k}: {VLLM_OWN_KEYS[k]}" for k in own) + "); remove them from [vllm].")

    def to_dict(self) -> dict[str, Any]:
        """Nested plain dict (the TOML layout; judge options flattened into [judge])."""
        out = {name: dataclasses.asdict(getattr(self, name)) for name in _SECTIONS}
        options = out["judge"].pop("options")
        out["judge"].update(options)
        for name in _PASSTHROUGH:
            out[name] = copy.deepcopy(getattr(self, name))
        return out


def _choice(section: str, key: str, value: Any, allowed: tuple) -> None:
    if value not in allowed:
        raise ValueError(f"[{section}] {key} must be one of {list(allowed)}; got {value!r}.")


def _positive(section: str, key: str, value: int, allow_zero: bool = False) -> None:
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"[{section}] {key} must be {bound}; got {value!r}.")


def parse_kill_point(text: str) -> tuple[int, str, bool]:
    """'iter1:judge' -> (1, 'judge', False); 'iter0:train:mid' -> (0, 'train', True).

    Example:

    >>> parse_kill_point("iter1:judge"), parse_kill_point("iter0:train:mid")
    ((1, 'judge', False), (0, 'train', True))
    """
    parts = text.split(":")
    ok = (len(parts) in (2, 3) and parts[0].startswith("iter") and parts[0][4:].isdigit()
          and parts[1] in STEPS and (len(parts) == 2 or parts[2] == "mid"))
    if not ok:
        raise ValueError(f"[run] debug_kill_after must look like 'iter1:judge' or "
                         f"'iter0:train:mid' (steps: {list(STEPS)}); got {text!r}.")
    return int(parts[0][4:]), parts[1], len(parts) == 3
