"""Policy updates through TRL 1.16: iterated online DPO, and GRPO / RLOO with any reward function.

Each iteration builds a fresh TRL trainer on that iteration's data. What the adapters set, and
why (each is a silent failure otherwise; docs/design/rlaif-loop.md):

* ``bf16`` follows the device (TRL configs default to bf16=True, which fails or crawls on CPU)
  and gradient checkpointing is off (TRL defaults it on; pointless for small models).
* ``save_strategy="no"``, ``report_to="none"``: the loop saves its own checkpoints, and a
  trainer inside a loop must not open a tracker run per iteration (the loop's one tracker run
  gets TRL's logs through a callback instead: judgebench/rlaif/tracking.py).
* DPOTrainer rebuilds the reference from ``model.config._name_or_path`` unless it is given
  ``ref_model=``; in an iterated loop that path is the *previous* iteration's checkpoint, a
  silently moving reference. Without LoRA the loop always passes ``ref_model`` explicitly.
* GRPO/RLOO take no ``ref_model``: with beta > 0 they load it from ``_name_or_path``, so the
  adapter points that at the chosen reference checkpoint (RLOO's default beta is 0.05).
* With LoRA no trainer loads a second model. Every TRL 1.16 trainer computes a PEFT model's
  reference log-probs on the model itself, with the adapter named ``"ref"`` active if there is
  one, else with adapters disabled (the base); and DPO, GRPO and RLOO (beta > 0) all add that
  ``"ref"`` adapter themselves, a frozen copy of the adapter they are given, whenever they get
  a PEFT model. In the loop that copy is the *previous* policy, whatever ``reference`` says.
  The loop's adapters all sit on the iteration-0 weights, so the base *is* the initial policy:
  for ``reference = "initial"`` the copy is removed again (:func:`use_base_reference`).
* A non-finite loss stops training with :class:`NonFiniteLossError` before any checkpoint is
  written, so the run directory stays resumable.
* ``[sampling] backend = "vllm"``: GRPO/RLOO generate their rollouts with vLLM too
  (``use_vllm=True``, ``vllm_mode="colocate"``: TRL's own engine in the training process,
  whose weights TRL syncs each step; :func:`vllm_rollout_args`), and that engine is dropped
  when the update ends (:func:`release_rollout_engine`), not whenever the trainer is collected.
* Every trainer's logs (``logging_steps=1``: each step's loss dict) go to the run's log file,
  RUN_DIR/train.log, and reach the terminal only with ``--verbose`` (:func:`quiet`,
  rlaif/runlog.py).

TRL 1.16 has no PPOTrainer (removed from the library); ``rm+grpo`` / ``rm+rloo`` are the
reward-model routes.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from transformers import TrainerCallback
from transformers.trainer_callback import PrinterCallback, ProgressCallback

from judgebench.rlaif import runlog
from judgebench.rlaif.config import LoopConfig


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN/inf loss; the message gives the step and what to change.

    Example:

    >>> net = torch.nn.Linear(2, 2)
    >>> with torch.no_grad():
    ...     _ = net.weight.fill_(float("nan"))
    >>> try:
    ...     check_finite(net, "iteration 0 training")
    ... except NonFiniteLossError as err:
    ...     print(type(err).__name__, isinstance(err, RuntimeError))
    NonFiniteLossError True
    """


class NonFiniteGuard(TrainerCallback):
    """Stop at the first logged non-finite loss (logging_steps=1 makes that every step).

    Example:

    >>> from types import SimpleNamespace
    >>> guard = NonFiniteGuard("DPO")
    >>> guard.on_log(SimpleNamespace(learning_rate=1e-5), SimpleNamespace(global_step=3), None,
    ...              logs={"loss": float("nan")})
    Traceback (most recent call last):
    ...
    judgebench.rlaif.optimize.NonFiniteLossError: DPO loss became nan at step 3 ...
    """

    def __init__(self, what: str):
        self.what = what

    def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: D102
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise NonFiniteLossError(
                f"{self.what} loss became {loss} at step {state.global_step} (learning_rate = "
                f"{args.learning_rate:g}). Nothing of this step was saved; lower "
                "[optimize] learning_rate (or set [trainer] max_grad_norm) and rerun the same "
                "command: the run resumes before this training step.")


class LogLines(TrainerCallback):
    """Every Trainer log (a step's loss, grad_norm, ...; the summary at the end) as one JSON line
    in the run's log file (rlaif/runlog.py), whatever the terminal shows.

    Example:

    >>> import tempfile
    >>> from types import SimpleNamespace
    >>> state = SimpleNamespace(global_step=1, max_steps=4)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     with runlog.library_output(Path(tmp) / "train.log") as log:
    ...         LogLines("DPOTrainer").on_log(None, state, None, logs={"loss": 0.69})
    ...     print(log.read_text().splitlines()[-1].split(": ", 1)[1])
    DPOTrainer step 1/4: {"loss": 0.69}
    """

    def __init__(self, what: str):
        self.what = what

    def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: D102
        runlog.note("%s step %d/%d: %s", self.what, state.global_step, state.max_steps,
                    json.dumps(logs or {}, default=str))


class StepBar(ProgressCallback):
    """The Trainer's bar of training steps without the log dict it prints at every step.

    Example:

    >>> bar = StepBar()                                   # a ProgressCallback that prints no dicts
    >>> isinstance(bar, ProgressCallback), bar.on_log(None, None, None, logs={"loss": 0.69})
    (True, None)
    """

    def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: D102
        return None


def quiet(trainer: Any, cfg: LoopConfig) -> Any:
    """Send the trainer's logs to the run's log file; the terminal gets them only when verbose.

    Quiet (the default; rlaif/runlog.py) drops the printer of one dict per step, and with
    [run] progress keeps the bar of steps without the dicts. Verbose leaves the trainer as
    transformers builds it: the dicts under the bar, or printed when disable_tqdm is set.

    Example:

    >>> import tempfile
    >>> from transformers import Trainer, TrainingArguments
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     trainer = Trainer(model=torch.nn.Linear(2, 2),
    ...                       args=TrainingArguments(output_dir=tmp, report_to="none"))
    >>> [type(c).__name__ for c in quiet(trainer, LoopConfig()).callback_handler.callbacks]
    ['LogLines', 'DefaultFlowCallback', 'StepBar']
    """
    # First of the callbacks, so that a log the NaN guard stops on is in the file as well.
    trainer.callback_handler.callbacks.insert(0, LogLines(type(trainer).__name__))
    if runlog.is_verbose():
        return trainer
    trainer.remove_callback(PrinterCallback)  # what disable_tqdm=True swaps in for the bar
    if trainer.pop_callback(ProgressCallback) is not None:
        trainer.add_callback(StepBar())
    return trainer


class StepHook(TrainerCallback):
    """Call ``fn()`` after the first optimizer step (the loop's test-only kill point).

    Example:

    >>> from types import SimpleNamespace
    >>> hook = StepHook(lambda: print("kill point reached"))
    >>> for step in (1, 2):
    ...     hook.on_step_end(None, SimpleNamespace(global_step=step), None)
    kill point reached
    """

    def __init__(self, fn: Callable[[], None]):
        self.fn = fn

    def on_step_end(self, args, state, control, **kwargs):  # noqa: D102
        if state.global_step == 1:
            self.fn()


def common_args(cfg: LoopConfig, out_dir: str | Path, *, seed: int, device: torch.device,
                dtype: torch.dtype, learning_rate: float, epochs: float, batch_size: int,
                extra: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments every TRL config gets from the loop (see module doc), then ``extra``.

    Example:

    >>> args = common_args(LoopConfig(), "runs/x/trainer", seed=0, device=torch.device("cpu"),
    ...                    dtype=torch.float32, learning_rate=1e-5, epochs=1.0, batch_size=8,
    ...                    extra={"beta": 0.2})               # [trainer] keys win
    >>> args["use_cpu"], args["bf16"], args["report_to"], args["save_strategy"], args["beta"]
    (True, False, 'none', 'no', 0.2)
    """
    args = {
        "output_dir": str(out_dir), "seed": seed, "data_seed": seed,
        "bf16": device.type == "cuda" and dtype == torch.bfloat16,
        "fp16": device.type == "cuda" and dtype == torch.float16,
        "gradient_checkpointing": False, "save_strategy": "no", "report_to": "none",
        "logging_steps": 1, "use_cpu": device.type == "cpu",
        "disable_tqdm": not cfg.run.progress, "dataloader_num_workers": 0,
        "learning_rate": learning_rate, "num_train_epochs": epochs,
        "per_device_train_batch_size": batch_size,
    }
    args.update(extra)  # [trainer] wins: it is the user's explicit TRL setting
    return args


def peft_config(cfg: LoopConfig):
    """A peft LoraConfig from [policy], or None when LoRA is off.

    Example:

    >>> from judgebench.rlaif.config import loads
    >>> peft_config(LoopConfig()) is None                      # [policy] lora = false
    True
    >>> lora = peft_config(loads("[policy]\\nlora = true\\nlora_r = 4"))
    >>> lora.r, lora.lora_alpha, lora.target_modules
    (4, 16, 'all-linear')
    """
    if not cfg.policy.lora:
        return None
    from peft import LoraConfig

    return LoraConfig(r=cfg.policy.lora_r, lora_alpha=cfg.policy.lora_alpha,
                      lora_dropout=cfg.policy.lora_dropout, task_type="CAUSAL_LM",
                      target_modules=list(cfg.policy.lora_target_modules) or "all-linear")


REF_ADAPTER = "ref"  #: the adapter name TRL's trainers use as a PEFT model's reference


def is_peft(model: Any) -> bool:
    """Whether ``model`` is a peft model (its adapters can be switched off).

    Example:

    >>> from peft import LoraConfig, get_peft_model
    >>> net = torch.nn.Sequential(torch.nn.Linear(2, 2))
    >>> is_peft(net), is_peft(get_peft_model(net, LoraConfig(target_modules=["0"])))
    (False, True)
    """
    return hasattr(model, "peft_config")


def use_base_reference(trainer: Any) -> None:
    """Make a PEFT trainer's reference the base (adapters off): drop TRL's ``"ref"`` copy.

    Example:

    >>> from types import SimpleNamespace
    >>> from peft import LoraConfig, get_peft_model
    >>> lora = LoraConfig(target_modules=["0"])
    >>> model = get_peft_model(torch.nn.Sequential(torch.nn.Linear(2, 2)), lora)
    >>> model.add_adapter(REF_ADAPTER, lora)                 # the frozen copy TRL adds
    >>> use_base_reference(SimpleNamespace(model=model,
    ...                                    accelerator=SimpleNamespace(unwrap_model=lambda m: m)))
    >>> sorted(model.peft_config)
    ['default']
    """
    model = trainer.accelerator.unwrap_model(trainer.model)
    if REF_ADAPTER in getattr(model, "peft_config", {}):
        model.delete_adapter(REF_ADAPTER)


def build_dpo_trainer(
    model: torch.nn.Module,
    ref_model: torch.nn.Module | None,
    tokenizer: Any,
    rows: Sequence[dict[str, str]],
    cfg: LoopConfig,
    out_dir: str | Path,
    *,
    seed: int,
    device: torch.device,
    dtype: torch.dtype,
    label_smoothing: float = 0.0,
    callbacks: Sequence[TrainerCallback] = (),
    lora_reference: str = "base",
):
    """A DPOTrainer for one round of DPO on ``rows`` (prompt rendered, chosen, rejected).

    The reference is ``ref_model`` (see module doc). With a PEFT ``model`` and
    ``ref_model=None`` it is the model itself: ``lora_reference="base"`` with the adapter
    disabled (the weights the adapter sits on), ``"adapter"`` a frozen copy of the adapter as it
    is now. ``label_smoothing`` > 0 selects robust DPO (Chowdhury et al. 2024; TRL
    ``loss_type="robust"``) with that label-flip rate: TRL 1.16's default sigmoid loss ignores
    ``label_smoothing``.

    Example:

    Building one needs a policy and a reference model; an empty iteration is refused first:

    >>> build_dpo_trainer(None, None, None, [], LoopConfig(), "runs/x/trainer", seed=0,
    ...                   device=torch.device("cpu"), dtype=torch.float32)
    Traceback (most recent call last):
    ...
    ValueError: DPO got no training pairs this iteration (every pair was a failure, a tie, or ...
    """
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    if not rows:
        raise ValueError("DPO got no training pairs this iteration (every pair was a failure, "
                         "a tie, or under [labeling] min_margin). Lower min_margin or raise k.")
    if ref_model is None and not is_peft(model):
        raise ValueError("build_dpo_trainer needs ref_model unless model is a PEFT model: TRL "
                         "would reload the reference from model.config._name_or_path.")
    if lora_reference not in ("base", "adapter"):
        raise ValueError(f"lora_reference must be 'base' or 'adapter'; got {lora_reference!r}.")
    extra = dict(cfg.trainer)
    extra.setdefault("beta", cfg.optimize.beta)
    if label_smoothing:
        extra.setdefault("label_smoothing", label_smoothing)
        extra.setdefault("loss_type", ["robust"])
    args = DPOConfig(**common_args(cfg, out_dir, seed=seed, device=device, dtype=dtype,
                                   learning_rate=cfg.optimize.learning_rate,
                                   epochs=cfg.optimize.epochs,
                                   batch_size=cfg.optimize.batch_size, extra=extra))
    trainer = DPOTrainer(
        model=model, ref_model=ref_model, args=args, processing_class=tokenizer,
        train_dataset=Dataset.from_list([dict(r) for r in rows]),
        callbacks=[NonFiniteGuard("DPO"), *callbacks],
    )
    if ref_model is None and lora_reference == "base":
        use_base_reference(trainer)
    return quiet(trainer, cfg)


def train_dpo(*args, **kwargs):
    """:func:`build_dpo_trainer`, trained; returns the trainer.

    Example:

    >>> train_dpo(None, None, None, [], LoopConfig(), "runs/x/trainer", seed=0,
    ...           device=torch.device("cpu"), dtype=torch.float32)
    Traceback (most recent call last):
    ...
    ValueError: DPO got no training pairs this iteration ...
    """
    trainer = build_dpo_trainer(*args, **kwargs)
    trainer.train()
    return trainer


def build_rl_trainer(
    algorithm: str,
    model: torch.nn.Module,
    tokenizer: Any,
    prompts: Sequence[dict[str, str]],
    reward_funcs: Callable | list[Callable],
    cfg: LoopConfig,
    out_dir: str | Path,
    *,
    seed: int,
    device: torch.device,
    dtype: torch.dtype,
    ref_path: str | Path | None,
    callbacks: Sequence[TrainerCallback] = (),
    lora_reference: str = "base",
):
    """A GRPO (``"grpo"``) or RLOO (``"rloo"``) trainer; ``prompts`` rows hold "prompt"
    (rendered) plus columns passed to the reward functions.

    The reference (beta > 0) of a full model is loaded from ``ref_path``; a PEFT model's is the
    model itself: ``lora_reference="base"`` with its adapter disabled, ``"adapter"`` a frozen
    copy of the adapter as it is now (module doc).

    Example:

    >>> build_rl_trainer("ppo", None, None, [], None, LoopConfig(), "runs/x/trainer",
    ...                  seed=0, device=torch.device("cpu"), dtype=torch.float32, ref_path=None)
    Traceback (most recent call last):
    ...
    ValueError: algorithm must be 'grpo' or 'rloo'; got 'ppo'.
    """
    from datasets import Dataset

    if algorithm == "grpo":
        from trl import GRPOConfig as Config
        from trl import GRPOTrainer as Trainer
    elif algorithm == "rloo":
        from trl import RLOOConfig as Config
        from trl import RLOOTrainer as Trainer
    else:
        raise ValueError(f"algorithm must be 'grpo' or 'rloo'; got {algorithm!r}.")
    g = cfg.optimize.num_generations
    # The generation batch must hold whole groups of num_generations completions.
    batch = g * max(1, cfg.optimize.batch_size // g)
    extra = dict(cfg.trainer)
    extra.setdefault("beta", cfg.optimize.beta)
    extra.setdefault("num_generations", g)
    extra.setdefault("max_completion_length", cfg.sampling.max_new_tokens)
    extra.setdefault("temperature", cfg.sampling.temperature)
    for key, value in vllm_rollout_args(cfg, Config).items():
        extra.setdefault(key, value)  # [trainer] use_vllm = false still wins
    args = Config(**common_args(cfg, out_dir, seed=seed, device=device, dtype=dtype,
                                learning_rate=cfg.optimize.learning_rate,
                                epochs=cfg.optimize.epochs, batch_size=batch, extra=extra))
    if lora_reference not in ("base", "adapter"):
        raise ValueError(f"lora_reference must be 'base' or 'adapter'; got {lora_reference!r}.")
    if args.beta > 0 and ref_path is not None and not is_peft(model):
        # TRL loads the KL reference from this path (module doc); point it at our choice.
        model.config._name_or_path = str(ref_path)
    trainer = Trainer(
        model=model, reward_funcs=reward_funcs, args=args, processing_class=tokenizer,
        train_dataset=Dataset.from_list([dict(p) for p in prompts]),
        callbacks=[NonFiniteGuard(algorithm.upper()), *callbacks],
    )
    if is_peft(model) and lora_reference == "base":
        use_base_reference(trainer)
    return quiet(trainer, cfg)


def vllm_rollout_args(cfg: LoopConfig, config_class: type) -> dict[str, Any]:
    """TRL config keys that make GRPO/RLOO roll out with vLLM when the loop samples with it.

    Empty with ``[sampling] backend = "hf"``, or when the installed TRL's config has no
    ``use_vllm`` field. Colocate mode: TRL builds its engine in the training process and syncs
    the policy's weights into it (merged adapters with LoRA) before generating.

    >>> from trl import GRPOConfig
    >>> vllm_rollout_args(LoopConfig(), GRPOConfig)
    {}
    """
    import dataclasses

    if cfg.sampling.backend != "vllm":
        return {}
    names = {f.name for f in dataclasses.fields(config_class)}
    if "use_vllm" not in names:
        return {}
    out: dict[str, Any] = {"use_vllm": True}
    if "vllm_mode" in names:
        out["vllm_mode"] = "colocate"
    return out


def release_rollout_engine(trainer: Any) -> None:
    """Drop a GRPO/RLOO trainer's colocated vLLM engine and give its GPU memory back now.

    A no-op for a trainer without one (DPO, or rollouts with transformers).

    >>> release_rollout_engine(object())
    """
    generation = getattr(trainer, "vllm_generation", None)
    if getattr(generation, "llm", None) is None:
        return
    import gc

    generation.llm = None
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def train_rl(*args, **kwargs):
    """:func:`build_rl_trainer`, trained; returns the trainer.

    Example:

    >>> train_rl("ppo", None, None, [], None, LoopConfig(), "runs/x/trainer",
    ...          seed=0, device=torch.device("cpu"), dtype=torch.float32, ref_path=None)
    Traceback (most recent call last):
    ...
    ValueError: algorithm must be 'grpo' or 'rloo'; got 'ppo'.
    """
    trainer = build_rl_trainer(*args, **kwargs)
    trainer.train()
    return trainer


@torch.no_grad()
def reference_logprobs(trainer: Any, input_ids: torch.Tensor) -> torch.Tensor:
    """Per-token log-probs of ``input_ids`` (batch, seq) under the trainer's KL reference.

    The reference is chosen as TRL 1.16's DPO/GRPO/RLOO trainers choose it in their loss
    (``ref_model`` if they hold one, else the PEFT model with its ``"ref"`` adapter active or
    its adapters disabled), so a test can check which policy a run is anchored to.
    Returns (batch, seq - 1): log P(token t+1 | tokens <= t).

    Example:

    >>> from types import SimpleNamespace
    >>> ref = torch.nn.Embedding(5, 5)       # stands in for a causal LM with 5 tokens
    >>> ref.forward = lambda input_ids: SimpleNamespace(logits=torch.zeros(*input_ids.shape, 5))
    >>> trainer = SimpleNamespace(ref_model=ref, model=ref,
    ...                           accelerator=SimpleNamespace(unwrap_model=lambda m: m))
    >>> reference_logprobs(trainer, torch.tensor([[1, 2, 3]])).round(decimals=3)  # log(1/5)
    tensor([[-1.6090, -1.6090]])
    """
    ref = getattr(trainer, "ref_model", None)
    model = trainer.accelerator.unwrap_model(trainer.model)
    if ref is None and not is_peft(model):
        raise ValueError("This trainer has no reference model (beta = 0, or a full model "
                         "without ref_model).")
    context: Any = contextlib.nullcontext()
    if ref is None:
        from trl.trainer.utils import use_adapter

        context = use_adapter(model, REF_ADAPTER if REF_ADAPTER in model.peft_config else None)
        ref = model
    with context:
        logits = ref(input_ids=input_ids.to(next(ref.parameters()).device)).logits.float()
    logp = torch.log_softmax(logits[:, :-1], dim=-1)
    return logp.gather(-1, input_ids[:, 1:, None].to(logp.device))[..., 0].cpu()


def check_finite(model: torch.nn.Module, what: str) -> None:
    """Raise NonFiniteLossError if any trainable parameter is NaN/inf (never save such weights).

    Example:

    >>> net = torch.nn.Linear(2, 2)
    >>> check_finite(net, "iteration 0 training")          # finite: nothing happens
    >>> with torch.no_grad():
    ...     _ = net.bias.fill_(float("inf"))
    >>> check_finite(net, "iteration 0 training")
    Traceback (most recent call last):
    ...
    judgebench.rlaif.optimize.NonFiniteLossError: iteration 0 training: parameter bias ...
    """
    for name, param in model.named_parameters():
        if param.requires_grad and not torch.isfinite(param).all():
            raise NonFiniteLossError(
                f"{what}: parameter {name} holds NaN/inf after training; nothing was saved. "
                "Lower [optimize] learning_rate and rerun the same command to resume.")
