"""Bytes the LoRA DPO reference takes: a second full model (before) vs none / a frozen adapter.

    python -m bench.ref_memory PATH_WITH_A_SMOLLM2_CONFIG_JSON

Counts parameters and buffers (SmolLM2 built on the meta device from its config.json: no
weights loaded, nothing trained). bench/NOTES.md has the figures.
"""

import json
import sys

import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoConfig, AutoModelForCausalLM

from judgebench.models import load_model


def nbytes(m):
    """Parameter and buffer bytes of a module."""
    return (sum(p.numel() * p.element_size() for p in m.parameters())
            + sum(b.numel() * b.element_size() for b in m.buffers()))


def report(name, model, lora_r=8):
    """One JSON line: a full reference copy's bytes, and the adapter copy's ("previous")."""
    full = nbytes(model)
    n = sum(p.numel() for p in model.parameters())
    peft = get_peft_model(model, LoraConfig(r=lora_r, lora_alpha=16, task_type="CAUSAL_LM",
                                            target_modules="all-linear"))
    adapter = sum(p.numel() * p.element_size() for k, p in peft.named_parameters()
                  if "lora_" in k)
    print(json.dumps({"model": name, "params": n, "dtype": str(next(model.parameters()).dtype),
                      "ref_copy_bytes_before": full, "ref_bytes_initial_after": 0,
                      "ref_bytes_previous_after": adapter}))


if __name__ == "__main__":
    report("tiny:0", load_model("tiny:0").model)
    cfg = AutoConfig.from_pretrained(sys.argv[1])
    for dt in (torch.float32, torch.bfloat16):
        with torch.device("meta"):
            meta = AutoModelForCausalLM.from_config(cfg, dtype=dt)
        report("SmolLM2-135M", meta)
