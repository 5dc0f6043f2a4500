"""One vLLM engine for a whole run: each iteration's policy served as a LoRA adapter on it, or
its full weights reloaded into it (``[sampling] backend = "vllm"``).

A policy checkpoint of the loop is either an adapter on the iteration-0 weights (LoRA) or a
full set of weights. Building ``vllm.LLM`` on each iteration's folder, as the loop used to,
fails on an adapter (there is no model in that folder) and leaks the GPU memory of every
engine it drops. Instead, built lazily on the first generate step of a process:

* **LoRA**: the engine holds the iteration-0 weights (checkpoints/iter-000/policy) with
  ``enable_lora=True`` and ``max_lora_rank`` = ``[policy] lora_r`` rounded up to a rank vLLM
  takes; iteration i samples with ``LoRARequest("policy-i", i, checkpoints/iter-i/policy)``,
  iteration 0 with no adapter.
* **Full weights**: the engine is built on the iteration-0 weights, and from iteration 1 on
  each checkpoint's safetensors are loaded into the running model, as TRL's colocate mode
  syncs weights (``model.load_weights``; TRL reaches the model through the in-process
  executor, here a worker extension does it in the worker, wherever vLLM runs it), then the
  prefix cache is reset (it holds keys and values of the old weights). A vLLM too old for
  ``worker_extension_cls`` gets a new engine per iteration instead, the old one released
  first (:meth:`VLLMEngine.close`).

``[vllm]`` is passed to ``vllm.LLM`` as is (gpu_memory_utilization defaults to 0.3 here: the
engine shares the GPU with training). With ``enable_sleep_mode = true`` the engine sleeps
between generate steps (its weights in CPU memory, its cache freed) and wakes for the next.

Tested only against a fake ``vllm`` module (tests/rlaif/test_vllm_engine.py): never on a GPU.

>>> engine = VLLMEngine("runs/x/checkpoints/iter-000/policy", dtype="bfloat16",  # doctest: +SKIP
...                     seed=0, lora_rank=8)
>>> request = engine.use_policy(1, "runs/x/checkpoints/iter-001/policy", adapter=True)  # doctest: +SKIP
>>> engine.llm.generate(prompts, params, lora_request=request)                 # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

#: Ranks vLLM takes as max_lora_rank when the installed one does not list its own
#: (vllm.config.lora.MaxLoRARanks; older releases stop at 64 or 256).
FALLBACK_LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)
#: What the engine gets unless [vllm] says otherwise: it shares the GPU with training.
DEFAULT_OPTIONS = {"gpu_memory_utilization": 0.3}
#: The worker method the weight reload calls by name (vLLM's collective_rpc).
RELOAD_METHOD = "judgebench_load_checkpoint"


def import_vllm() -> Any:
    """The ``vllm`` module, or an ImportError that says how to get it or what to use instead.

    >>> vllm = import_vllm()   # doctest: +SKIP
    """
    try:
        import vllm
    except ImportError:
        raise ImportError(
            "[sampling] backend = 'vllm' needs vLLM: pip install vllm (CUDA only). Or use "
            "backend = 'hf'."
        ) from None
    return vllm


def supported_lora_ranks() -> tuple[int, ...]:
    """The max_lora_rank values the installed vLLM accepts (its own list where it has one).

    >>> 8 in supported_lora_ranks()   # doctest: +SKIP
    True
    """
    import typing

    try:
        from vllm.config.lora import MaxLoRARanks

        ranks = tuple(sorted(int(r) for r in typing.get_args(MaxLoRARanks)))
    except (ImportError, AttributeError, TypeError, ValueError):
        ranks = ()
    return ranks or FALLBACK_LORA_RANKS


def lora_rank_for_vllm(r: int, supported: tuple[int, ...] = FALLBACK_LORA_RANKS) -> int:
    """The smallest rank in ``supported`` that holds a rank-``r`` adapter.

    >>> lora_rank_for_vllm(8), lora_rank_for_vllm(12), lora_rank_for_vllm(300)
    (8, 16, 320)
    """
    fits = [x for x in sorted(supported) if x >= r]
    if not fits:
        raise ValueError(f"[policy] lora_r = {r} is above the largest LoRA rank this vLLM "
                         f"serves ({max(supported)}); lower lora_r or use [sampling] "
                         "backend = 'hf'.")
    return fits[0]


def can_reload_weights() -> bool:
    """Whether the installed vLLM takes ``worker_extension_cls`` (the in-place weight reload).

    >>> can_reload_weights()   # doctest: +SKIP
    True
    """
    try:
        from vllm.engine.arg_utils import EngineArgs
    except ImportError:
        return False
    return dataclasses.is_dataclass(EngineArgs) and \
        "worker_extension_cls" in {f.name for f in dataclasses.fields(EngineArgs)}


def checkpoint_tensors(path: str | Path) -> Iterator[tuple[str, Any]]:
    """(name, tensor) of every safetensors file of a checkpoint folder, on CPU, one at a time.

    >>> names = [n for n, _ in checkpoint_tensors("runs/x/checkpoints/iter-001/policy")]  # doctest: +SKIP
    """
    from safetensors import safe_open

    files = sorted(Path(path).glob("*.safetensors"))
    if not files:
        raise FileNotFoundError(f"No *.safetensors in {str(path)!r}: not a full checkpoint.")
    for file in files:
        with safe_open(str(file), framework="pt", device="cpu") as handle:
            for name in handle.keys():
                yield name, handle.get_tensor(name)


class CheckpointLoader:
    """vLLM worker extension (``worker_extension_cls``): load a saved checkpoint into the model.

    vLLM mixes this class into its worker, in whatever process it runs the model, and
    ``llm.collective_rpc(RELOAD_METHOD, args=(path,))`` calls the method there: only the path
    crosses the process boundary, never the tensors. ``load_weights`` takes the checkpoint's
    Hugging Face names (vLLM's own loader maps them onto its fused layers) and copies each
    tensor into the parameter already on the GPU, as TRL's colocate sync does.

    Example:

    >>> import tempfile, torch
    >>> from types import SimpleNamespace
    >>> from safetensors.torch import save_file
    >>> model = SimpleNamespace(load_weights=lambda weights: list(weights))
    >>> class Worker(CheckpointLoader):        # vLLM mixes the class into its worker like this
    ...     model_runner = SimpleNamespace(model=model)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     save_file({"lm_head.weight": torch.zeros(2, 2)}, f"{tmp}/model.safetensors")
    ...     print(Worker().judgebench_load_checkpoint(tmp))
    1
    """

    def judgebench_load_checkpoint(self, path: str) -> int:
        """Load every tensor of ``path`` into the worker's model; returns how many."""
        count = 0

        def counted() -> Iterator[tuple[str, Any]]:
            nonlocal count
            for item in checkpoint_tensors(path):
                count += 1
                yield item

        runner = self.model_runner  # type: ignore[attr-defined]  (set by vLLM's worker)
        # get_model() is the bare module on V0 and V1 (V1 may wrap .model for CUDA graphs).
        model = runner.get_model() if hasattr(runner, "get_model") else runner.model
        model.load_weights(weights=counted())
        return count


class VLLMEngine:
    """The run's sampling engine: built on first use, then pointed at each iteration's policy.

    ``base`` is the iteration-0 checkpoint (what the engine loads); ``lora_rank`` is
    ``[policy] lora_r`` with LoRA on, else None; ``options`` is the [vllm] table.

    Example:

    >>> engine = VLLMEngine("runs/x/checkpoints/iter-000/policy", dtype="bfloat16", seed=0,
    ...                     lora_rank=8, options={"enable_sleep_mode": True})
    >>> engine.built, engine.options                        # nothing is built before first use
    (False, {'gpu_memory_utilization': 0.3, 'enable_sleep_mode': True})
    >>> engine.close()                                      # a no-op without an engine
    """

    def __init__(self, base: str | Path, *, dtype: str, seed: int, lora_rank: int | None,
                 options: Mapping[str, Any] | None = None):
        self.base, self.dtype, self.seed, self.lora_rank = Path(base), dtype, seed, lora_rank
        self.options = {**DEFAULT_OPTIONS, **dict(options or {})}
        self._llm: Any = None
        self._loaded: Path | None = None  # whose full weights the engine holds now
        self._reload: bool | None = None  # in place (worker extension) or by a new engine
        self._asleep = False
        self._group_before = False  # a torch.distributed group (accelerate's) predates vLLM

    @property
    def llm(self) -> Any:
        """The ``vllm.LLM`` (built on the iteration-0 weights at first use)."""
        if self._llm is None:
            self._build(self.base)
        return self._llm

    @property
    def built(self) -> bool:
        """Whether an engine is up (it is built at the first :meth:`use_policy` or ``llm``)."""
        return self._llm is not None

    def use_policy(self, i: int, path: str | Path, *, adapter: bool) -> Any:
        """Make the engine sample policy ``i`` (saved at ``path``); returns its LoRARequest or None.

        An adapter is served through a LoRARequest with id ``i`` (ids are unique within a run,
        as vLLM's adapter cache requires); full weights are loaded into the engine unless it
        already holds them.
        """
        path = Path(path)
        self.wake_up()
        if adapter:
            if self.lora_rank is None:
                raise ValueError(f"Policy {i} at {str(path)!r} is a LoRA adapter, but the vLLM "
                                 "engine was built without LoRA ([policy] lora = false).")
            if self._llm is None:
                self._build(self.base)
            from vllm.lora.request import LoRARequest

            # Policy 0 is never an adapter, so the ids start at 1 as vLLM requires.
            return LoRARequest(lora_name=f"policy-{i}", lora_int_id=i, lora_path=str(path))
        if self._llm is None:
            self._build(self.base)
        if self._loaded != path:
            if self._reload:
                self._llm.collective_rpc(RELOAD_METHOD, args=(str(path),))
                self._llm.reset_prefix_cache()  # its keys and values came from the old weights
                self._loaded = path
            else:
                self.close()
                self._build(path)
        return None

    def sleep(self) -> None:
        """Free the engine's GPU memory until the next generate step ([vllm] enable_sleep_mode)."""
        if self._llm is not None and self.options.get("enable_sleep_mode") and not self._asleep:
            # Level 1 keeps the weights in CPU memory: the LoRA base, or the weights a reload
            # is about to replace anyway.
            self._llm.sleep(level=1)
            self._asleep = True

    def wake_up(self) -> None:
        """Undo :meth:`sleep` (a no-op when awake)."""
        if self._asleep:
            self._llm.wake_up()
            self._asleep = False

    def close(self) -> None:
        """Drop the engine and give its GPU memory back (gc, vLLM's groups, the CUDA cache).

        A torch.distributed group that existed before the engine (accelerate's) is left
        alone: vLLM's cleanup would destroy it under the trainer.
        """
        if self._llm is None:
            return
        import gc

        import torch

        self._llm, self._loaded, self._asleep = None, None, False
        gc.collect()  # the engine (and, on vLLM's V1, its core process) goes with its last ref
        try:
            from vllm.distributed import parallel_state
        except ImportError:
            parallel_state = None
        if parallel_state is not None:
            parallel_state.destroy_model_parallel()
            if not self._group_before and hasattr(parallel_state,
                                                  "destroy_distributed_environment"):
                parallel_state.destroy_distributed_environment()
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def _build(self, model: Path) -> None:
        vllm = import_vllm()
        import torch

        self._group_before = torch.distributed.is_available() and \
            torch.distributed.is_initialized()
        if self._reload is None:
            self._reload = can_reload_weights()
        kwargs: dict[str, Any] = {"model": str(model), "dtype": self.dtype, "seed": self.seed}
        if self._reload:
            kwargs["worker_extension_cls"] = f"{__name__}.CheckpointLoader"
        if self.lora_rank is not None:
            kwargs.update(enable_lora=True, max_loras=1,
                          max_lora_rank=lora_rank_for_vllm(self.lora_rank,
                                                           supported_lora_ranks()))
        kwargs.update(self.options)
        self._llm = vllm.LLM(**kwargs)
        self._loaded = model
