"""Sampling through vLLM, against a fake ``vllm`` module (vLLM itself needs CUDA; never run here).

The fake records what the loop asks of vLLM — each ``LLM(...)`` built, every ``generate`` call
with its sampling params and LoRA request, the weight reloads (``collective_rpc``), cache
resets, sleeps and the cleanup — and answers with deterministic token ids. What it shows:
one engine per run, built lazily; with LoRA the engine holds the base and each iteration
samples through its own adapter; without LoRA each iteration's weights are loaded into the
same engine; the rows have generate()'s schema; the hf backend never builds an engine.
What it cannot show: that a real vLLM accepts these calls on a GPU.
"""

from __future__ import annotations

import dataclasses
import hashlib
import sys
import types
from pathlib import Path
from typing import Literal

import pandas as pd
import pytest
import torch

from judgebench.rlaif.config import load_config
from judgebench.rlaif.loop import run_loop
from judgebench.rlaif.sampling import generate, generate_vllm
from judgebench.rlaif.vllm_engine import RELOAD_METHOD, VLLMEngine, lora_rank_for_vllm

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "configs" / "tiny.toml"
SMALL = ["run.n_iterations=2", "tasks.n_train_prompts=4", "tasks.n_eval_prompts=4",
         "sampling.max_new_tokens=12", "instrument.n_boot=0", "sampling.backend=vllm"]


class FakeVLLM:
    """The parts of vLLM the loop uses, recording every call."""

    def __init__(self, *, worker_extension: bool = True):
        self.engines: list[FakeLLM] = []
        self.destroyed: list[str] = []
        fake = self

        class LLM(FakeLLM):
            def __init__(self, **kwargs):
                super().__init__(fake, **kwargs)

        @dataclasses.dataclass
        class EngineArgs:
            model: str = ""
            if worker_extension:
                worker_extension_cls: str = ""

        class LoRARequest:
            def __init__(self, lora_name: str, lora_int_id: int, lora_path: str):
                self.lora_name, self.lora_int_id, self.lora_path = lora_name, lora_int_id, \
                    lora_path

        class SamplingParams:
            def __init__(self, **kwargs):
                self.__dict__.update(kwargs)

        parallel_state = types.SimpleNamespace(
            destroy_model_parallel=lambda: fake.destroyed.append("model_parallel"),
            destroy_distributed_environment=lambda: fake.destroyed.append("environment"))
        self.modules = {
            "vllm": types.SimpleNamespace(LLM=LLM, SamplingParams=SamplingParams),
            "vllm.lora": types.ModuleType("vllm.lora"),
            "vllm.lora.request": types.SimpleNamespace(LoRARequest=LoRARequest),
            "vllm.engine": types.ModuleType("vllm.engine"),
            "vllm.engine.arg_utils": types.SimpleNamespace(EngineArgs=EngineArgs),
            "vllm.config": types.ModuleType("vllm.config"),
            "vllm.config.lora": types.SimpleNamespace(
                MaxLoRARanks=Literal[1, 8, 16, 32, 64, 128, 256, 320, 512]),
            "vllm.distributed": types.SimpleNamespace(parallel_state=parallel_state),
        }

    def install(self, monkeypatch: pytest.MonkeyPatch) -> FakeVLLM:
        # TRL asks importlib whether vLLM is installed when these modules are first imported;
        # they must ask the real environment, not the fake (which has no import spec).
        import trl.trainer.dpo_trainer  # noqa: F401
        import trl.trainer.grpo_trainer  # noqa: F401
        import trl.trainer.rloo_trainer  # noqa: F401

        for name, module in self.modules.items():
            monkeypatch.setitem(sys.modules, name, module)
        return self

    def calls(self, kind: str) -> list[tuple]:
        return [c for e in self.engines for c in e.calls if c[0] == kind]


class FakeLLM:
    """vllm.LLM: deterministic completions from a hash of (weights, adapter, prompt, seed)."""

    def __init__(self, fake: FakeVLLM, **kwargs):
        from transformers import AutoTokenizer

        self.kwargs, self.calls = kwargs, []
        self.weights = kwargs["model"]  # what a completion depends on besides the adapter
        tok = AutoTokenizer.from_pretrained(kwargs["model"])
        self.eos = tok.eos_token_id
        self.allowed = [t for t in range(len(tok)) if t not in set(tok.all_special_ids)]
        fake.engines.append(self)

    def generate(self, inputs, params, lora_request=None, use_tqdm=True):
        self.calls.append(("generate", len(inputs), params, lora_request))
        adapter = lora_request.lora_path if lora_request is not None else ""
        results = []
        for item in inputs:
            outs = []
            for c in range(params.n):
                key = f"{self.weights}|{adapter}|{item['prompt_token_ids']}|{params.seed}|{c}"
                h = hashlib.shake_256(key.encode()).digest(params.max_tokens + 2)
                ids = [self.allowed[b % len(self.allowed)] for b in h[2:]]
                if h[0] % 3 == 0:  # a third stop early, at EOS, which vLLM keeps in token_ids
                    ids = [*ids[: 2 + h[1] % 5], self.eos]
                reason = "stop" if ids and ids[-1] == self.eos else "length"
                outs.append(types.SimpleNamespace(token_ids=ids, finish_reason=reason,
                                                  text="(vLLM's own text: not used)"))
            results.append(types.SimpleNamespace(outputs=outs))
        return results

    def collective_rpc(self, method, args=(), kwargs=None):
        self.calls.append(("rpc", method, args))
        # Run the named method of the worker extension, as vLLM's worker would.
        module, _, name = self.kwargs["worker_extension_cls"].rpartition(".")
        loaded: list[str] = []
        model = types.SimpleNamespace(
            load_weights=lambda weights: loaded.extend(n for n, _ in weights))
        worker = type("Worker", (getattr(__import__(module, fromlist=[name]), name),), {})()
        worker.model_runner = types.SimpleNamespace(get_model=lambda: model)
        count = getattr(worker, method)(*args)
        assert count == len(loaded) > 0
        self.weights = args[0]
        return [count]

    def reset_prefix_cache(self):
        self.calls.append(("reset_prefix_cache",))

    def sleep(self, level=1):
        self.calls.append(("sleep", level))

    def wake_up(self):
        self.calls.append(("wake_up",))


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory) -> Path:
    """The tiny policy saved as a model folder (config.check refuses tiny: specs with vLLM)."""
    from judgebench.models import load_model

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("tiny-policy")
    loaded = load_model("tiny:0")
    loaded.model.save_pretrained(out)
    loaded.tokenizer.save_pretrained(out)
    return out


def _cfg(tiny_folder: Path, *sets: str):
    return load_config(CONFIG, [*SMALL, f'policy.model="{tiny_folder}"', *sets])


def _policy(run: Path, i: int) -> str:
    return str(run / "checkpoints" / f"iter-{i:03d}" / "policy")


def test_full_weights_one_engine_reloaded_each_iteration(tiny_folder, tmp_path, monkeypatch):
    fake = FakeVLLM().install(monkeypatch)
    run = tmp_path / "run"
    rows = run_loop(_cfg(tiny_folder), run)
    assert [r["iteration"] for r in rows] == [0, 1, 2]
    assert len(fake.engines) == 1  # one engine for the whole run
    kwargs = fake.engines[0].kwargs
    assert kwargs["model"] == _policy(run, 0) and kwargs["dtype"] == "float32"
    assert kwargs["seed"] == 0 and kwargs["gpu_memory_utilization"] == 0.3
    assert kwargs["worker_extension_cls"] == "judgebench.rlaif.vllm_engine.CheckpointLoader"
    assert "enable_lora" not in kwargs
    # Iteration 0 samples the weights the engine was built on; 1 and 2 load their own.
    assert fake.calls("rpc") == [("rpc", RELOAD_METHOD, (_policy(run, i),)) for i in (1, 2)]
    assert len(fake.calls("reset_prefix_cache")) == 2
    gens = fake.calls("generate")
    assert len(gens) == 6 and all(g[3] is None for g in gens)  # candidates + held-out, x3
    assert [g[2].seed for g in gens][1::2] == [gens[1][2].seed] * 3  # held-out: same seed
    assert all(g[2].stop_token_ids == [fake.engines[0].eos] for g in gens)
    assert fake.destroyed[:1] == ["model_parallel"]  # released when the run ended
    # The iterations' samples differ: each was drawn from its own policy's weights.
    texts = [tuple(pd.read_parquet(run / f"iter-{i:03d}" / "eval.parquet")["response"])
             for i in range(3)]
    assert len(set(texts)) == 3
    # A resumed (here: extended) run builds the same engine and loads the policy it samples.
    run_loop(_cfg(tiny_folder, "run.n_iterations=3"), run)
    assert len(fake.engines) == 2 and fake.engines[1].kwargs == kwargs
    assert [c[2] for c in fake.engines[1].calls if c[0] == "rpc"] == [(_policy(run, 3),)]
    # A finished run is found finished: no engine is built for nothing.
    run_loop(_cfg(tiny_folder, "run.n_iterations=3"), run)
    assert len(fake.engines) == 2


def test_lora_one_engine_on_the_base_and_an_adapter_per_iteration(tiny_folder, tmp_path,
                                                                  monkeypatch):
    fake = FakeVLLM().install(monkeypatch)
    run = tmp_path / "run"
    run_loop(_cfg(tiny_folder, "policy.lora=true", "policy.lora_r=12",
                  "optimize.learning_rate=0.05"), run)
    assert len(fake.engines) == 1
    kwargs = fake.engines[0].kwargs
    assert kwargs["model"] == _policy(run, 0)  # the base: the adapters' weights
    assert kwargs["enable_lora"] is True and kwargs["max_loras"] == 1
    assert kwargs["max_lora_rank"] == 16  # lora_r = 12 rounded up to a rank vLLM takes
    assert fake.calls("rpc") == []  # the base never changes
    requests = [g[3] for g in fake.calls("generate")]
    assert requests[:2] == [None, None]  # iteration 0: no adapter
    for i, (cand, held) in zip((1, 2), zip(requests[2::2], requests[3::2])):
        for req in (cand, held):
            assert (req.lora_name, req.lora_int_id, req.lora_path) == \
                (f"policy-{i}", i, _policy(run, i))
            assert (Path(req.lora_path) / "adapter_config.json").exists()


def test_generate_vllm_rows_have_generate_s_schema(tiny_folder, monkeypatch):
    from judgebench.models import load_model
    from judgebench.rlaif.sampling import render_prompt

    fake = FakeVLLM().install(monkeypatch)
    tiny = load_model(str(tiny_folder))
    llm = fake.modules["vllm"].LLM(model=str(tiny_folder))
    prompts = ["Say hi.", "What is 2+2?"]
    rows = generate_vllm(llm, tiny.tokenizer, prompts, n=3, max_new_tokens=8, seed=1)
    ref = generate(tiny.model, tiny.tokenizer, prompts, n=3, max_new_tokens=8, seed=1)
    a, b = pd.DataFrame(rows), pd.DataFrame(ref)
    assert list(a.columns) == list(b.columns) and list(a.dtypes) == list(b.dtypes)
    assert a[["prompt_index", "candidate"]].equals(b[["prompt_index", "candidate"]])
    _, n_inputs, params, _ = llm.calls[0]
    assert n_inputs == 2 and params.n == 3 and params.max_tokens == 8 and params.seed == 1
    assert (a["truncated"] == (a["n_tokens"] == 8)).all() and (~a["truncated"]).any()
    # The same prompt tokens as the hf backend (chat template, no added special tokens).
    want = tiny.tokenizer(render_prompt(tiny.tokenizer, prompts[0]),
                          add_special_tokens=False)["input_ids"]
    key = llm.generate([{"prompt_token_ids": want}], params)[0].outputs[0]
    assert rows[0]["n_tokens"] == len([t for t in key.token_ids if t != fake.engines[0].eos])


def test_the_hf_backend_builds_no_engine(tiny_folder, tmp_path, monkeypatch):
    fake = FakeVLLM().install(monkeypatch)
    cfg = _cfg(tiny_folder, "sampling.backend=hf", "run.n_iterations=1")
    run_loop(cfg, tmp_path / "run")
    assert fake.engines == []


def test_without_worker_extensions_the_engine_is_rebuilt_and_released(tiny_folder, tmp_path,
                                                                       monkeypatch):
    fake = FakeVLLM(worker_extension=False).install(monkeypatch)
    run = tmp_path / "run"
    run_loop(_cfg(tiny_folder), run)
    assert [e.kwargs["model"] for e in fake.engines] == [_policy(run, i) for i in range(3)]
    assert all("worker_extension_cls" not in e.kwargs for e in fake.engines)
    # Each engine is released (vLLM's groups, then the environment) before the next is built.
    assert fake.destroyed == ["model_parallel", "environment"] * 3


def test_sleep_mode_frees_the_engine_between_generate_steps(tiny_folder, tmp_path, monkeypatch):
    fake = FakeVLLM().install(monkeypatch)
    run_loop(_cfg(tiny_folder, "vllm.enable_sleep_mode=true"), tmp_path / "run")
    kinds = [c[0] for c in fake.engines[0].calls if c[0] != "reset_prefix_cache"]
    step = ["generate", "generate", "sleep"]
    assert kinds == step + ["wake_up", "rpc"] + step + ["wake_up", "rpc"] + step


def test_lora_rank_rounding():
    assert [lora_rank_for_vllm(r) for r in (1, 8, 9, 64, 65, 512)] == [8, 8, 16, 64, 128, 512]
    assert lora_rank_for_vllm(1, (1, 8, 16)) == 1
    with pytest.raises(ValueError, match=r"lora_r = 600 is above the largest LoRA rank"):
        lora_rank_for_vllm(600)


def test_an_adapter_on_an_engine_without_lora_is_an_error(tmp_path, monkeypatch):
    FakeVLLM().install(monkeypatch)
    engine = VLLMEngine(tmp_path, dtype="float32", seed=0, lora_rank=None)
    with pytest.raises(ValueError, match=r"is a LoRA adapter, but the vLLM engine was built "
                                         r"without LoRA"):
        engine.use_policy(1, tmp_path / "adapter", adapter=True)


def test_grpo_and_rloo_roll_out_with_vllm_when_the_loop_samples_with_it(tmp_path):
    from trl import DPOConfig, GRPOConfig, RLOOConfig

    from judgebench.rlaif.optimize import common_args, vllm_rollout_args

    cfg = load_config(CONFIG, ["optimize.algorithm=rm+grpo", 'policy.model="some/model"',
                               "sampling.backend=vllm"])
    for cls in (GRPOConfig, RLOOConfig):
        extra = vllm_rollout_args(cfg, cls)
        assert extra == {"use_vllm": True, "vllm_mode": "colocate"}
        args = cls(**common_args(cfg, tmp_path, seed=0, device=torch.device("cpu"),
                                 dtype=torch.float32, learning_rate=1e-5, epochs=1.0,
                                 batch_size=4, extra={**extra, "num_generations": 4}))
        assert args.use_vllm and args.vllm_mode == "colocate"
    assert vllm_rollout_args(cfg, DPOConfig) == {}  # a config without the field gets nothing
    assert vllm_rollout_args(load_config(CONFIG), GRPOConfig) == {}  # backend hf


def test_a_missing_vllm_fails_before_anything_is_written(tiny_folder, tmp_path):
    import importlib.util

    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vLLM is installed here")
    with pytest.raises(ImportError, match=r"backend = 'vllm' needs vLLM: pip install vllm"):
        run_loop(_cfg(tiny_folder), tmp_path / "run")
    assert not (tmp_path / "run").exists()
