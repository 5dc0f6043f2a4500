"""The policy writes: k seeded candidates per prompt, batched (transformers) or through vLLM.

Prompts are rendered with the tokenizer's chat template (one user turn, generation prompt on),
left-padded and generated in batches. The same seed, prompts and batch size give the same
responses, which is what makes a resumed run match an uninterrupted one. By default one
``torch.manual_seed(seed)`` starts an RNG stream that runs through every batch; with
``batch_seeds`` each batch is seeded on its own, so any subset of the batches (``batches``:
one process's share under ``accelerate launch``) gives the same rows as the full run does. vLLM is an optional
backend for large runs (``[sampling] backend = "vllm"``; the engine's lifetime and each
iteration's policy on it: rlaif/vllm_engine.py); it is imported only when asked for.

>>> from judgebench.models import load_model
>>> m = load_model("tiny:0")
>>> out = generate(m.model, m.tokenizer, ["Say hi."], n=2, max_new_tokens=4, seed=0)
>>> len(out), sorted(out[0])
(2, ['candidate', 'n_tokens', 'prompt_index', 'response', 'truncated'])
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any

import torch
from tqdm.auto import tqdm


def render_prompt(tokenizer: Any, prompt: str) -> str:
    """The prompt as the policy sees it: one user turn through the chat template.

    Example:

    >>> from judgebench.models import tiny_tokenizer
    >>> render_prompt(tiny_tokenizer(), "Say hi.")                  # ChatML template
    '<|im_start|>user\\nSay hi.<|im_end|>\\n<|im_start|>assistant\\n'
    """
    return tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                         add_generation_prompt=True)


@torch.no_grad()
def generate(
    model: torch.nn.Module,
    tokenizer: Any,
    prompts: Sequence[str],
    *,
    n: int = 1,
    max_new_tokens: int = 32,
    temperature: float = 1.0,
    top_p: float = 1.0,
    seed: int,
    batch_size: int = 64,
    progress: bool = False,
    desc: str = "generate",
    batch_seeds: Callable[[int], int] | None = None,
    batches: Collection[int] | None = None,
) -> list[dict[str, Any]]:
    """``n`` responses per prompt: dicts with prompt_index, candidate, response, n_tokens, truncated.

    ``temperature == 0`` is greedy decoding (then all ``n`` candidates are identical).
    ``n_tokens`` counts generated tokens up to and excluding the end-of-sequence token;
    ``truncated`` marks responses cut at ``max_new_tokens``.

    ``batch_seeds(b)``, if given, seeds batch ``b`` (jobs ``b * batch_size`` onwards) instead
    of one stream from ``seed``; ``batches`` then runs only those batch indices (rows keep
    their global prompt_index), which without ``batch_seeds`` would change the numbers and is
    refused.

    Example:

    A sampling run with the tiny test model is in the module docstring; the seed is required:

    >>> generate(None, None, ["Say hi."], n=2, seed=None)
    Traceback (most recent call last):
    ...
    ValueError: generate needs an int seed (no silent random default).
    """
    if seed is None:
        raise ValueError("generate needs an int seed (no silent random default).")
    if batches is not None and batch_seeds is None:
        raise ValueError("generate: batches (a subset of the batches) needs batch_seeds; "
                         "the single RNG stream cannot be split.")
    rendered = [render_prompt(tokenizer, p) for p in prompts]
    # (len(prompts) * n,): each prompt repeated n times, candidates adjacent
    jobs = [(i, c) for i in range(len(prompts)) for c in range(n)]
    device = next(model.parameters()).device
    eos = tokenizer.eos_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
    old_side = tokenizer.padding_side
    tokenizer.padding_side = "left"  # decoder-only models continue from the right edge
    was_training = model.training
    model.eval()
    if batch_seeds is None:
        torch.manual_seed(seed)
    starts = list(range(0, len(jobs), batch_size))
    if batches is not None:
        starts = [st for b, st in enumerate(starts) if b in batches]
    out: list[dict[str, Any]] = []
    bar = tqdm(total=sum(len(jobs[st : st + batch_size]) for st in starts), desc=desc,
               disable=not progress, leave=False)
    try:
        for start in starts:
            if batch_seeds is not None:
                torch.manual_seed(batch_seeds(start // batch_size))
            chunk = jobs[start : start + batch_size]
            enc = tokenizer([rendered[i] for i, _ in chunk], return_tensors="pt", padding=True,
                            add_special_tokens=False).to(device)
            kwargs: dict[str, Any] = {"max_new_tokens": max_new_tokens, "pad_token_id": pad,
                                      "eos_token_id": eos}
            if temperature > 0:
                # top_k=0 overrides a checkpoint's generation_config default (often 50), so
                # temperature/top_p alone define the sampling distribution.
                kwargs.update(do_sample=True, temperature=temperature, top_p=top_p, top_k=0)
            else:
                kwargs.update(do_sample=False)
            ids = model.generate(**enc, **kwargs)[:, enc["input_ids"].shape[1]:]
            for (i, c), row in zip(chunk, ids.tolist()):
                n_tok = row.index(eos) if eos in row else len(row)
                if eos not in row:  # no EOS: strip right padding only
                    while n_tok and row[n_tok - 1] == pad and pad != eos:
                        n_tok -= 1
                text = tokenizer.decode(row[:n_tok], skip_special_tokens=True)
                out.append({"prompt_index": i, "candidate": c, "response": text,
                            "n_tokens": n_tok, "truncated": eos not in row})
            bar.update(len(chunk))
    finally:
        bar.close()
        tokenizer.padding_side = old_side
        model.train(was_training)
    return out


def generate_vllm(
    llm: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    *,
    n: int = 1,
    max_new_tokens: int = 32,
    temperature: float = 1.0,
    top_p: float = 1.0,
    seed: int,
    lora_request: Any = None,
    progress: bool = False,
) -> list[dict[str, Any]]:
    """The same rows as :func:`generate`, from a vLLM engine (``vllm.LLM``, if installed).

    ``lora_request`` (a ``vllm.lora.request.LoRARequest``) samples with that adapter on the
    engine's weights; rlaif/vllm_engine.py keeps one engine per run and gives each iteration's.
    The prompts go in as token ids rendered exactly as :func:`generate` renders them (chat
    template, no added special tokens), and the responses are cut at the tokenizer's EOS and
    decoded with the same tokenizer, so both backends count and decode alike.

    >>> rows = generate_vllm(engine.llm, tok, ["Say hi."], n=2, seed=0)   # doctest: +SKIP
    """
    if seed is None:
        raise ValueError("generate_vllm needs an int seed (no silent random default).")
    from judgebench.rlaif.vllm_engine import import_vllm

    vllm = import_vllm()
    eos = tokenizer.eos_token_id
    params = vllm.SamplingParams(n=n, temperature=temperature, top_p=top_p,
                                 max_tokens=max_new_tokens, seed=seed,
                                 stop_token_ids=None if eos is None else [eos])
    inputs = [{"prompt_token_ids": tokenizer(render_prompt(tokenizer, p),
                                             add_special_tokens=False)["input_ids"]}
              for p in prompts]
    results = llm.generate(inputs, params, lora_request=lora_request, use_tqdm=progress)
    out = []
    for i, res in enumerate(results):
        for c, comp in enumerate(res.outputs):
            ids = list(comp.token_ids)
            n_tok = ids.index(eos) if eos in ids else len(ids)  # vLLM may keep the EOS token
            out.append({"prompt_index": i, "candidate": c,
                        "response": tokenizer.decode(ids[:n_tok], skip_special_tokens=True),
                        "n_tokens": n_tok, "truncated": comp.finish_reason == "length"})
    return out
