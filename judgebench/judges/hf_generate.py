"""A local Hugging Face causal LM as a generate-and-parse judge: the common baseline.

Most judge code asks the model to *write* its verdict: ``generate()`` a few tokens for each
ordered pair, then look for a label in the text. This module does exactly that, with the same
templates and chat formatting as :class:`~judgebench.judges.hf.HFJudge`, so that the two can be
compared on equal terms (bench/judge_throughput.py). The verdict is hard: P(first wins) is 1, 0,
or 0.5 for the template's tie label. A reply that names no label is a failure (NaN,
``failed=True``), never a preference — a generate-and-parse judge has no probability to fall
back on, which is one reason to prefer the logit readout.

Two modes. Plain (the default): the prompt ends with the template's answer prefix (e.g. "[["),
the model writes ``max_new_tokens=8`` tokens and the first label in them decides. Explain
(``explain=True``, MT-Bench / FastChat style): the prompt stops at the assistant turn, the model
writes an explanation and then its verdict (``max_new_tokens=256``), and the *last*
``[[A]]``/``[[B]]``/``[[C]]`` (the answer prefix, the label and the matching closer) decides
(:func:`parse_final_verdict`).

Generation is greedy, batched, on left-padded prompts sorted by length, and stops at EOS.
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

#: Characters that make a label part of a longer word ("A" in "Answer", "1" in "12").
_WORD = "A-Za-z0-9_"

#: The closer that matches an answer prefix: "[[A" is read as "[[A]]".
_CLOSERS = {"[[": "]]", "[": "]", "(": ")"}


def _values(labels: Sequence[str], tie_label: str | None) -> tuple[dict[str, float], str]:
    """Each label's P(first wins), and a regex alternation over the labels (longest first)."""
    value = {labels[0]: 1.0, labels[1]: 0.0}
    if tie_label:
        value[tie_label] = 0.5
    alt = "|".join(re.escape(x) for x in sorted(value, key=len, reverse=True))
    return value, alt


def verdict_suffix(prefix: str) -> str:
    """The closer that matches an answer prefix: "]]" for "[[", "]" for "[", ")" for "(", else "".

    >>> verdict_suffix("[["), verdict_suffix("("), verdict_suffix("Verdict: ")
    (']]', ')', '')
    """
    return _CLOSERS.get(prefix, "")


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
    value, alt = _values(labels, tie_label)
    found = re.search(rf"(?<![{_WORD}])({alt})(?![{_WORD}])", text)
    return value[found.group(1)] if found else float("nan")


def parse_final_verdict(
    text: str, labels: Sequence[str] = ("A", "B"), tie_label: str | None = None,
    prefix: str = "[[", suffix: str | None = None,
) -> float:
    """P(first wins) from the last ``prefix + label + suffix`` in ``text``; NaN if none.

    An explanation may quote a verdict before it concludes ("unlike [[A]], ... [[B]]"): the
    last one is the final verdict, as FastChat's judge reads it. ``suffix`` defaults to
    :func:`verdict_suffix` of the prefix. With no prefix, the last label that stands alone
    (the whole-word rule of :func:`parse_first_label`) decides.

    >>> parse_final_verdict("A mentions [[A]] wrongly. Final verdict: [[B]]")
    0.0
    >>> parse_final_verdict("It is a tie: [[C]]", tie_label="C"), parse_final_verdict("B. A")
    (0.5, nan)
    >>> parse_final_verdict("B is worse, so A", prefix="")
    1.0
    """
    value, alt = _values(labels, tie_label)
    if suffix is None:
        suffix = verdict_suffix(prefix)
    left = re.escape(prefix) if prefix else f"(?<![{_WORD}])"
    # With no closer the label must still end the word ("[[AB" is not "[[A").
    right = re.escape(suffix) if suffix else f"(?![{_WORD}])"
    found = list(re.finditer(rf"{left}({alt}){right}", text))
    return value[found[-1].group(1)] if found else float("nan")


class HFGenerateJudge(LocalJudge):
    """Greedy-generate per ordered pair and parse the verdict: the first label after the answer
    prefix, or with ``explain=True`` the final ``[[label]]`` after an explanation.

    >>> judge = HFGenerateJudge("tiny:0", max_new_tokens=4)   # doctest: +SKIP
    >>> judge.compare(["2+2?"], ["4"], ["5"])                  # doctest: +SKIP
    array([nan])
    >>> HFGenerateJudge("tiny:0", "mtbench-pair-v2", explain=True).max_new_tokens  # doctest: +SKIP
    256
    """

    kind = "hf-generate"

    def __init__(
        self,
        model: str | LoadedModel,
        template: str | PairwiseTemplate = "default",
        max_new_tokens: int | None = None,
        batch_size: int = 16,
        max_length: int = 4096,
        device: str | None = None,
        dtype: str | torch.dtype | None = None,
        sort_by_length: bool = True,
        generate_kwargs: dict[str, Any] | None = None,
        name: str | None = None,
        explain: bool = False,
    ):
        super().__init__(model, template, batch_size, max_length, device, dtype, sort_by_length,
                         name)
        self.explain = bool(explain)
        if max_new_tokens is None:  # room for an explanation, or just the label
            max_new_tokens = 256 if self.explain else 8
        if max_new_tokens < 1:
            raise ValueError(
                f"max_new_tokens must be >= 1 (the verdict is generated); got {max_new_tokens}.")
        self.max_new_tokens = max_new_tokens
        # Extra arguments for model.generate (e.g. sequence_bias); greedy decoding is fixed.
        self.generate_kwargs = dict(generate_kwargs or {})

    def config(self) -> dict[str, Any]:
        """Model, template, mode, generation length and extra generate arguments."""
        return {**super().config(), "explain": self.explain, "max_new_tokens": self.max_new_tokens,
                "generate_kwargs": repr(sorted(self.generate_kwargs.items()))}

    def pairwise_prompts(self, batch: OrderedBatch, answer_prefix: bool | None = None
                         ) -> list[str]:
        """The prompts this judge runs: in explain mode, without the template's answer prefix."""
        if answer_prefix is None:
            answer_prefix = not self.explain
        return super().pairwise_prompts(batch, answer_prefix=answer_prefix)

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
            if self.explain:
                # The model writes its own prefix (e.g. "[[") after the explanation.
                p_first[i] = parse_final_verdict(reply, tpl.labels, tpl.tie_label,
                                                 tpl.answer_prefix)
            else:
                # The answer prefix (e.g. "[[") was given to the model; parse it with the reply.
                p_first[i] = parse_first_label(tpl.answer_prefix + reply, tpl.labels,
                                               tpl.tie_label)
            if np.isnan(p_first[i]):
                errors[i] = self._no_verdict(reply)
        raw = [None if r is None else {"reply": r, "n_generated": int(k)}
               for r, k in zip(replies, n_new)]
        return JudgeOutput(p_first=p_first, raw=raw, n_tokens=n_tokens, error=errors)

    def _no_verdict(self, reply: str) -> str:
        """The error for a reply with no verdict in it."""
        tpl = self.template
        if not self.explain:
            return f"no label {list(tpl.labels)} in the reply {reply[:80]!r}"
        names = [*tpl.labels, tpl.tie_label] if tpl.tie_label else list(tpl.labels)
        close = verdict_suffix(tpl.answer_prefix)
        forms = [tpl.answer_prefix + x + close for x in names]
        # An explanation ends with its verdict: show the end of the reply.
        return f"no final verdict {forms} in the reply ...{reply[-80:]!r}"
