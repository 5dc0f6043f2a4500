"""Which policy each trainer is anchored to: [optimize] reference for DPO, GRPO and RLOO, with
and without LoRA, checked by comparing the trainer's reference log-probs with each policy's.

One tiny run trains policy 1 from policy 0 (full weights, and LoRA); the test then builds the
trainer of the next update (the one that makes policy 2) and reads its reference: "initial"
must give policy 0's log-probs, "previous" policy 1's.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from judgebench.rlaif.config import load_config
from judgebench.rlaif.loop import Run, run_from_config
from judgebench.rlaif.optimize import REF_ADAPTER, reference_logprobs

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "configs" / "tiny.toml"
SMALL = ["run.n_iterations=1", "tasks.n_train_prompts=4", "tasks.n_eval_prompts=4",
         "sampling.max_new_tokens=12", "instrument.n_boot=0", "optimize.learning_rate=0.05",
         "optimize.batch_size=8", "optimize.num_generations=4"]


@pytest.fixture(scope="module", params=[False, True], ids=["full", "lora"])
def trained_once(request, tmp_path_factory):
    torch.set_num_threads(1)
    sets = SMALL + (["policy.lora=true"] if request.param else [])
    out = tmp_path_factory.mktemp("lora" if request.param else "full")
    run_from_config(CONFIG, out, sets)
    return out, sets, request.param


def _logprobs(model: torch.nn.Module, ids: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        logits = model(input_ids=ids).logits.float()
    return torch.log_softmax(logits[:, :-1], -1).gather(-1, ids[:, 1:, None])[..., 0]


@pytest.mark.parametrize("reference", ["initial", "previous"])
@pytest.mark.parametrize("algorithm", ["dpo", "direct", "rm+rloo"])  # DPO, GRPO, RLOO
def test_the_reference_is_the_policy_it_names(trained_once, algorithm, reference):
    out, sets, lora = trained_once
    cfg = load_config(CONFIG, [*sets, f"optimize.algorithm={algorithm}",
                               f"optimize.reference={reference}"])
    run = Run(cfg, out)
    trainer, _ = run.steps["train"].build_trainer(1)  # the update from policy 1 to policy 2
    ids = run.policies.tokenizer(["Name three colours of the rainbow, briefly."],
                        return_tensors="pt")["input_ids"]
    ref = reference_logprobs(trainer, ids)
    policy = {j: _logprobs(run.policies.load(j), ids) for j in (0, 1)}
    want, other = (0, 1) if reference == "initial" else (1, 0)
    assert torch.allclose(ref, policy[want], atol=1e-6, rtol=0)
    assert not torch.allclose(ref, policy[other], atol=1e-3)  # policy 1 moved away from 0
    model = trainer.accelerator.unwrap_model(trainer.model)
    if lora:
        assert trainer.ref_model is None  # no second model: the base or a frozen adapter copy
        assert (REF_ADAPTER in model.peft_config) == (reference == "previous")
        trainable = [n for n, p in model.named_parameters() if p.requires_grad]
        assert trainable and all(".default." in n for n in trainable)
        # The policy being trained starts at policy 1 either way.
        assert torch.allclose(_logprobs(model, ids), policy[1], atol=1e-6, rtol=0)
    else:
        assert isinstance(trainer.ref_model, torch.nn.Module)


def test_the_initial_policy_is_saved_in_the_training_dtype(tmp_path):
    from safetensors import safe_open

    run = Run(load_config(CONFIG, ["run.dtype=bfloat16", "run.device=cpu"]), tmp_path)
    with safe_open(str(run.dir.policy_dir(0) / "model.safetensors"), "pt") as f:
        dtypes = {f.get_tensor(k).dtype for k in f.keys()}
    assert dtypes == {torch.bfloat16}
