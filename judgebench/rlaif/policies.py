"""The policy's checkpoints in a run folder: the iteration-0 policy saved once, any one loaded.

Policy ``i`` is RUN_DIR/checkpoints/iter-NNN/policy: full weights, or (LoRA) an adapter that
sits on the iteration-0 weights. Every step loads the policy it needs from there, never from
memory, which is what lets a killed run resume at any step.

>>> store = PolicyStore(cfg, run_dir, device=torch.device("cpu"),   # doctest: +SKIP
...                     dtype=torch.float32).ensure_initial()
>>> model = store.load(0)                                           # doctest: +SKIP
"""

from __future__ import annotations

import shutil
from typing import Any

import torch

from judgebench.rlaif.config import LoopConfig
from judgebench.rlaif.rundir import RunDir


class PolicyStore:
    """Save the iteration-0 policy, keep its tokenizer, load policy ``i`` on the run's device.

    Example:

    >>> from pathlib import Path
    >>> from types import SimpleNamespace
    >>> run_dir = RunDir(Path("runs/tiny"), LoopConfig(), SimpleNamespace(is_main_process=True))
    >>> store = PolicyStore(LoopConfig(), run_dir, device=torch.device("cpu"), dtype=torch.float32)
    >>> store.dir.policy_dir(1).as_posix(), store.tokenizer      # loaded by ensure_initial()
    ('runs/tiny/checkpoints/iter-001/policy', None)
    """

    def __init__(self, cfg: LoopConfig, run_dir: RunDir, *, device: torch.device,
                 dtype: torch.dtype):
        self.cfg, self.dir, self.device, self.dtype = cfg, run_dir, device, dtype
        self.tokenizer: Any = None

    def ensure_initial(self) -> PolicyStore:
        """Write checkpoints/iter-000/policy once (main process), then load the tokenizer."""
        target = self.dir.policy_dir(0)
        if self.dir.main and not (target / "config.json").exists():
            from judgebench.models import load_model

            # Saved in the training dtype (float32 on CPU, bf16 on CUDA): every later load
            # casts to it anyway, and a bf16 run's policies then all take the same space.
            loaded = load_model(self.cfg.policy.model, device="cpu", dtype=self.dtype)
            loaded.model.to(self.dtype)  # tiny:* specs build in float32 whatever they are asked
            tmp = target.with_name("policy.tmp")
            loaded.model.save_pretrained(tmp)
            loaded.tokenizer.save_pretrained(tmp)
            if target.exists():
                shutil.rmtree(target)
            tmp.rename(target)  # atomic: a half-saved policy is never mistaken for a whole one
        self.dir.dist.wait_for_everyone()
        from transformers import AutoTokenizer

        from judgebench.models import prepare_tokenizer

        self.tokenizer = prepare_tokenizer(AutoTokenizer.from_pretrained(target))
        return self

    def is_adapter(self, i: int) -> bool:
        """Whether policy ``i`` is saved as a LoRA adapter on the iteration-0 weights."""
        return (self.dir.policy_dir(i) / "adapter_config.json").exists()

    def load(self, i: int, trainable: bool = False) -> torch.nn.Module:
        """The iteration-``i`` policy on the run's device (base + adapter when LoRA is on)."""
        from transformers import AutoModelForCausalLM

        path = self.dir.policy_dir(i)
        if self.is_adapter(i):
            from peft import PeftModel

            base = AutoModelForCausalLM.from_pretrained(self.dir.policy_dir(0), dtype=self.dtype)
            model = PeftModel.from_pretrained(base, path, is_trainable=trainable)
        else:
            model = AutoModelForCausalLM.from_pretrained(path, dtype=self.dtype)
        model.to(self.device)
        return model.train() if trainable else model.eval()
