"""A local Hugging Face causal LM as a generate-and-parse judge: the common baseline.

Most judge code asks the model to *write* its verdict: ``generate()`` a few tokens for each
ordered pair, then look for a label in the text. This module does exactly that, with the same
templates and chat formatting as :class:`~judgebench.judges.hf.HFJudge`, so that the two can be
compared on equal terms (bench/judge_throughput.py). The verdict is hard: P(first wins) is 1, 0,
or 0.5 for the template's tie label. A reply that names no label is a failure (NaN,
``failed=True``), never a preference — a generate-and-parse judge has no probability to fall
back on, which is one reason to prefer the logit readout.

Generation is greedy, batched, on left-padded prompts sorted by length.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from judgebench.judges.base import JudgeOutput, OrderedBatch
from judgebench.judges.hf import LocalJudge
from judgebench.judges.templates import PairwiseTemplate
from judgebench.models import LoadedModel


def parse_first_label(
    text: str, labels: Sequence[str] = ("A", "B"), tie_label: str | None = None
) -> float:
    """P(first wins) from the first label that stands alone in ``text``; NaN if none does.

    Labels are case-sensitive whole words ("A" in "Answer" does not count); the first one
    found decides, as a reader of the reply would take it.

    >>> parse_first_label(" A. Because"), parse_first_label("[[B]]"), parse_first_label("xyz")
    (1.0, 0.0, nan)
    >>> parse_first_label("C]]", tie_label="C")
    0.5
    """
    names = [*labels, tie_label] if tie_label else list(labels)
    value = {labels[0]: 1.0, labels[1]: 0.0}
    if tie_label:
        value[tie_label] = 0.5
    alt = "|".join(re.escape(x) for x in sorted(names, key=len, reverse=True))
    found = re.search(rf"(?<![A-Za-z0-9_])({alt})(?![A-Za-z0-9_])", text)
    return value[found.group(1)] if found else float("nan")


class HFGenerateJudge(LocalJudge):
    """Greedy-generate ``max_new_tokens`` per ordered pair and parse the first label.

    >>> judge = HFGenerateJudge("tiny:0", max_new_tokens=4)   # doctest: +SKIP
    >>> judge.compare(["2+2?"], ["4"], ["5"])                  # doctest: +SKIP
    array([nan])
    """

    kind = "hf-generate"

    def __init__(
        self,
        model: str | LoadedModel,
        template: str | PairwiseTemplate = "default",
        max_new_tokens: int = 8,
        batch_size: int = 16,
        max_length: int = 4096,
        device: str | None = None,
        dtype: str | torch.dtype | None = None,
        sort_by_length: bool = True,
        generate_kwargs: dict[str, Any] | None = None,
        name: str | None = None,
    ):
        super().__init__(model, template, batch_size, max_length, device, dtype, sort_by_length,
                         name)
        if max_new_tokens < 1:
            raise ValueError(
                f"max_new_tokens must be >= 1 (the verdict is generated); got {max_new_tokens}.")
        self.max_new_tokens = max_new_tokens
        # Extra arguments for model.generate (e.g. sequence_bias); greedy decoding is fixed.
        self.generate_kwargs = dict(generate_kwargs or {})

    def config(self) -> dict[str, Any]:
        """Model, template, generation length and extra generate arguments."""
        return {**super().config(), "max_new_tokens": self.max_new_tokens,
                "generate_kwargs": repr(sorted(self.generate_kwargs.items()))}

    @torch.inference_mode()
    def generate(self, texts: Sequence[str]) -> tuple[list[str | None], np.ndarray, np.ndarray,
                                                       list[str | None]]:
        """Greedy continuations of ``texts``: (replies, prompt tokens, generated tokens, errors).

        A reply is None where the prompt could not be run; its error says why.
        """
        enc = [self.tokenizer.encode(t, add_special_tokens=False) for t in texts]
        n = len(enc)
        n_tokens = np.array([len(e) for e in enc], dtype=np.int64)
        replies: list[str | None] = [None] * n
        n_new = np.zeros(n, dtype=np.int64)
        errors: list[str | None] = [None] * n
        ok = [i for i in range(n) if 0 < n_tokens[i] <= self.max_length]
        for i in sorted(set(range(n)) - set(ok)):
            errors[i] = (f"prompt has {n_tokens[i]} tokens; max_length is {self.max_length} "
                         "(raise max_length or shorten the responses)")
        order = sorted(ok, key=lambda i: n_tokens[i]) if self.sort_by_length else ok
        device = next(self.model.parameters()).device
        pad = self.tokenizer.pad_token_id
        pad = pad if pad is not None else (self.tokenizer.eos_token_id or 0)
        eos = self.model.generation_config.eos_token_id
        eos = {pad} | set(eos if isinstance(eos, list) else [] if eos is None else [eos])
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            width = int(max(n_tokens[i] for i in idx))
            ids = torch.full((len(idx), width), pad, dtype=torch.long)
            mask = torch.zeros((len(idx), width), dtype=torch.long)
            for row, i in enumerate(idx):  # left padding: every prompt ends at the same column
                ids[row, width - n_tokens[i]:] = torch.tensor(enc[i])
                mask[row, width - n_tokens[i]:] = 1
            out = self.model.generate(
                input_ids=ids.to(device), attention_mask=mask.to(device), do_sample=False,
                max_new_tokens=self.max_new_tokens, pad_token_id=pad,
                **self.generate_kwargs,
            )  # (batch, width + generated)
            new = out[:, width:].cpu()  # (batch, generated); finished rows are padded
            texts_out = self.tokenizer.batch_decode(new, skip_special_tokens=True)
            stop = torch.isin(new, torch.tensor(sorted(eos), dtype=new.dtype))
            # Tokens generated up to and including the first end-of-sequence token.
            lengths = torch.where(stop.any(1), stop.int().argmax(1) + 1, new.shape[1])
            for row, i in enumerate(idx):
                replies[i] = texts_out[row]
                n_new[i] = int(lengths[row])
        return replies, n_tokens, n_new, errors

    def _judge_batch(self, batch: OrderedBatch) -> JudgeOutput:
        replies, n_tokens, n_new, errors = self.generate(self.pairwise_prompts(batch))
        tpl = self.template
        p_first = np.full(len(batch), np.nan)
        for i, reply in enumerate(replies):
            if reply is None:
                continue
            # The answer prefix (e.g. "[[") was given to the model; parse it with the reply.
            p_first[i] = parse_first_label(tpl.answer_prefix + reply, tpl.labels, tpl.tie_label)
            if np.isnan(p_first[i]):
                errors[i] = f"no label {list(tpl.labels)} in the reply {reply[:80]!r}"
        raw = [None if r is None else {"reply": r, "n_generated": int(k)}
               for r, k in zip(replies, n_new)]
        return JudgeOutput(p_first=p_first, raw=raw, n_tokens=n_tokens, error=errors)
