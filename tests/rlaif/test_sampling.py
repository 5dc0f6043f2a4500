"""Generation: seeded, batched, k candidates per prompt; the vLLM path is import-guarded
(the vLLM engine itself, against a fake vllm module: test_vllm_engine.py)."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from judgebench.models import load_model
from judgebench.rlaif.sampling import generate, generate_vllm, render_prompt


@pytest.fixture(scope="module")
def tiny():
    torch.set_num_threads(1)
    return load_model("tiny:0")


def test_seeded_and_batch_independent_of_call(tiny):
    prompts = ["Say hi.", "What is 2+2?", "Name a colour."]
    a = generate(tiny.model, tiny.tokenizer, prompts, n=3, max_new_tokens=8, seed=1,
                 batch_size=4)
    b = generate(tiny.model, tiny.tokenizer, prompts, n=3, max_new_tokens=8, seed=1,
                 batch_size=4)
    c = generate(tiny.model, tiny.tokenizer, prompts, n=3, max_new_tokens=8, seed=2,
                 batch_size=4)
    assert a == b and a != c
    assert [(r["prompt_index"], r["candidate"]) for r in a] == [(i, j) for i in range(3)
                                                                for j in range(3)]
    assert all(r["n_tokens"] <= 8 for r in a)
    assert all(r["truncated"] == (r["n_tokens"] == 8) for r in a)


def test_greedy_candidates_are_identical(tiny):
    out = generate(tiny.model, tiny.tokenizer, ["Say hi."], n=2, max_new_tokens=6,
                   temperature=0, seed=0)
    assert out[0]["response"] == out[1]["response"]


def test_render_prompt_uses_chat_template(tiny):
    text = render_prompt(tiny.tokenizer, "Say hi.")
    assert text.startswith("<|im_start|>user\nSay hi.") and text.endswith("assistant\n")


def test_vllm_backend_is_import_guarded(tiny):
    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vLLM is installed here")
    with pytest.raises(ImportError, match=r"backend = 'vllm' needs vLLM"):
        generate_vllm(None, tiny.tokenizer, ["q"], seed=0)  # the engine: tests/rlaif/test_vllm_engine.py
