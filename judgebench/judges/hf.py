"""A local Hugging Face causal LM as a judge, read from the label-token logits.

One forward pass per ordered pair, no generation: the prompt ends where the answer starts (the
chat template's assistant turn plus the template's ``answer_prefix``), and P(first wins) is the
softmax over the logits of the two label tokens there — Lee et al. 2023's soft label. Each label
may be spelled with or without a leading space ("A" / " A"); the variants that are single tokens
are pooled with logsumexp. Pointwise: the expected score sum_i i * P(i) over the score tokens,
normalised over those tokens (d-RLAIF).

Batches are sorted by length to cut padding, padded on the left so that the answer position is
the last one, and only the last position's logits are computed (``logits_to_keep=1``). The
tokens that every prompt of a call starts with (the system prompt and the template's opening:
about a third of a short pairwise prompt) are run once, and their key/value cache is reused by
every batch (``share_prefix``); causal attention makes this exact up to float rounding.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from judgebench.judges.base import Judge, JudgeOutput, OrderedBatch
from judgebench.judges.templates import PairwiseTemplate, PointwiseTemplate, get_template
from judgebench.models import LoadedModel, load_model


def _cache_argument(model: Any) -> str:
    """The forward() keyword for a key/value cache: ``cache`` in new transformers, else the old
    ``past_key_values`` (which new versions still accept, with a FutureWarning per call)."""
    import inspect

    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def label_token_ids(tokenizer: Any, label: str) -> list[int]:
    """Token ids that spell ``label`` as one token (bare and with a leading space).

    Example:

    >>> from judgebench.models import tiny_tokenizer
    >>> tok = tiny_tokenizer()
    >>> [len(label_token_ids(tok, label)) for label in ("A", "Paris", "zebra")]
    [2, 1, 0]
    """
    ids = []
    for variant in (label, " " + label):
        enc = tokenizer.encode(variant, add_special_tokens=False)
        if len(enc) == 1 and enc[0] not in ids:
            ids.append(enc[0])
    return ids


class LocalJudge(Judge):
    """What every pairwise judge over a local causal LM shares: the model, the template, the
    batching settings, the prompt text and the identifying config. Subclasses read a verdict
    from it (logits in :class:`HFJudge`, generated text in ``HFGenerateJudge``).

    Example:

    >>> from judgebench.models import tiny_tokenizer
    >>> toy = torch.nn.Linear(1, 1)   # a stand-in model: prompts need only the tokenizer
    >>> judge = HFJudge(LoadedModel(toy, tiny_tokenizer(), "toy"))
    >>> isinstance(judge, LocalJudge), judge.name, judge.config()["template"]
    (True, 'hf:toy', 'default')
    >>> judge.pairwise_prompts(OrderedBatch(["2+2?"], ["4"], ["5"]))[0][-40:]
    'A or B.<|im_end|>\\n<|im_start|>assistant\\n'
    """

    kind = "local"

    def __init__(self, model: str | LoadedModel, template: str | PairwiseTemplate,
                 batch_size: int, max_length: int, device: str | None,
                 dtype: str | torch.dtype | None, sort_by_length: bool, name: str | None):
        self.loaded = model if isinstance(model, LoadedModel) else load_model(
            model, device=device, dtype=dtype)
        self.model = self.loaded.model.eval()
        self.tokenizer = self.loaded.tokenizer
        self.template = get_template(template)
        if not isinstance(self.template, PairwiseTemplate):
            raise ValueError(f"template must be a pairwise template; {self.template.name!r} is not.")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1; got {batch_size}.")
        self.batch_size = batch_size
        self.max_length = max_length
        self.sort_by_length = sort_by_length
        self._name = name or f"{self.kind}:{self.loaded.spec}"
        self.chunk_size = max(64, 8 * batch_size)

    def config(self) -> dict[str, Any]:
        """Model, template and labels: what changes the output."""
        return {"kind": self.kind, "model": self.loaded.spec, "template": self.template.name,
                "template_text": [self.template.system, self.template.user,
                                  self.template.answer_prefix],
                "labels": list(self.template.labels), "tie_label": self.template.tie_label,
                "dtype": str(next(self.model.parameters()).dtype)}

    def _render(self, messages: list[dict[str, str]], prefix: str) -> str:
        text = self.tokenizer.apply_chat_template(messages, tokenize=False,
                                                  add_generation_prompt=True)
        return text + prefix

    def pairwise_prompts(self, batch: OrderedBatch, answer_prefix: bool = True) -> list[str]:
        """The full prompt text of each ordered presentation, ending where the label goes.

        With ``answer_prefix=False`` the prompt ends at the start of the assistant turn, without
        the template's answer prefix (for a judge that writes an explanation first).
        """
        prefix = self.template.answer_prefix if answer_prefix else ""
        return [self._render(self.template.messages(q, a, b), prefix)
                for q, a, b in zip(batch.prompts, batch.first, batch.second)]


class HFJudge(LocalJudge):
    """A pairwise (and pointwise) judge over any local causal LM, read from label logits.

    >>> judge = HFJudge("tiny:0")          # doctest: +SKIP
    >>> judge.compare(["2+2?"], ["4"], ["5"])  # doctest: +SKIP
    array([0.51])
    """

    kind = "hf"

    def __init__(
        self,
        model: str | LoadedModel,
        template: str | PairwiseTemplate = "default",
        pointwise_template: str | PointwiseTemplate = "pointwise-1-9",
        batch_size: int = 16,
        max_length: int = 4096,
        device: str | None = None,
        dtype: str | torch.dtype | None = None,
        sort_by_length: bool = True,
        name: str | None = None,
        share_prefix: bool = True,
    ):
        super().__init__(model, template, batch_size, max_length, device, dtype, sort_by_length,
                         name)
        self.pointwise_template = get_template(pointwise_template)
        if not isinstance(self.pointwise_template, PointwiseTemplate):
            raise ValueError(
                f"pointwise_template must be a pointwise template; "
                f"{self.pointwise_template.name!r} is not.")
        self.share_prefix = share_prefix
        labels = list(self.template.labels) + (
            [self.template.tie_label] if self.template.tie_label else [])
        self._label_ids = [self._ids_or_raise(lab, self.template.name) for lab in labels]
        self._score_ids = [self._ids_or_raise(s, self.pointwise_template.name)
                           for s in self.pointwise_template.scores]

    def _ids_or_raise(self, label: str, template: str) -> list[int]:
        ids = label_token_ids(self.tokenizer, label)
        if not ids:
            pieces = self.tokenizer.tokenize(label)
            raise ValueError(
                f"Label {label!r} of template {template!r} is not a single token for "
                f"{self.loaded.spec} (it splits into {pieces}); choose a template whose labels "
                "are single tokens for this tokenizer, e.g. labels ('A', 'B') or digits."
            )
        return ids

    # -- forward ----------------------------------------------------------------------------

    @torch.inference_mode()
    def label_logprobs(self, texts: Sequence[str], label_ids: list[list[int]]):
        """Log-probabilities of each label at the last position: (n, n_labels), n_tokens, errors."""
        enc = [self.tokenizer.encode(t, add_special_tokens=False) for t in texts]
        n = len(enc)
        out = np.full((n, len(label_ids)), np.nan)
        n_tokens = np.array([len(e) for e in enc], dtype=np.int64)
        errors: list[str | None] = [None] * n
        ok = [i for i in range(n) if 0 < n_tokens[i] <= self.max_length]
        for i in set(range(n)) - set(ok):
            errors[i] = (f"prompt has {n_tokens[i]} tokens; max_length is {self.max_length} "
                         "(raise max_length or shorten the responses)")
        order = sorted(ok, key=lambda i: n_tokens[i]) if self.sort_by_length else ok
        device = next(self.model.parameters()).device
        flat_ids = [i for ids in label_ids for i in ids]
        pad = self.tokenizer.pad_token_id or 0
        k, prefix_cache = self._shared_prefix([enc[i] for i in ok], device)
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            width = max(n_tokens[i] for i in idx) - k  # the part after the shared prefix
            ids = torch.full((len(idx), width), pad, dtype=torch.long)
            mask = torch.zeros((len(idx), k + width), dtype=torch.long)
            mask[:, :k] = 1
            for row, i in enumerate(idx):  # left padding: the answer position is the last one
                tail = n_tokens[i] - k
                ids[row, width - tail:] = torch.tensor(enc[i][k:])
                mask[row, k + width - tail:] = 1
            # Positions count real tokens only; padding sits between prefix and suffix.
            position_ids = (mask.cumsum(-1) - 1).clamp(min=0)[:, k:]
            extra = {}
            if prefix_cache is not None:
                cache = copy.deepcopy(prefix_cache)  # the forward appends to it
                cache.batch_repeat_interleave(len(idx))
                extra = {_cache_argument(self.model): cache, "use_cache": True}
            logits = self.model(
                input_ids=ids.to(device), attention_mask=mask.to(device),
                position_ids=position_ids.to(device), logits_to_keep=1, **extra,
            ).logits[:, -1, :].float()  # (batch, vocab)
            logp = torch.log_softmax(logits, dim=-1)[:, flat_ids]  # (batch, n_label_tokens)
            cols, j = [], 0
            for ids_of_label in label_ids:  # pool the spellings of each label
                cols.append(torch.logsumexp(logp[:, j : j + len(ids_of_label)], dim=-1))
                j += len(ids_of_label)
            out[idx] = torch.stack(cols, dim=-1).cpu().numpy()
        return out, n_tokens, errors

    #: A shared prefix shorter than this is not worth a separate forward pass.
    min_shared_prefix: int = 16

    def _shared_prefix(self, enc: list[list[int]], device: torch.device):
        """(k, cache): the first k tokens common to every prompt, run once; (0, None) if none.

        At least one token of every prompt is left out of the prefix, so that each row still
        has its answer position to read.
        """
        if not self.share_prefix or len(enc) < 2:
            return 0, None
        first, limit = enc[0], min(len(e) for e in enc) - 1
        k = 0
        while k < limit and all(e[k] == first[k] for e in enc):
            k += 1
        if k < self.min_shared_prefix:
            return 0, None
        out = self.model(input_ids=torch.tensor([first[:k]], device=device), use_cache=True,
                         logits_to_keep=1)
        # transformers >= 5.2x names the cache `cache` (the old name warns); older ones do not.
        cache = out["cache"] if "cache" in out.keys() else getattr(out, "past_key_values", None)
        if cache is None or not hasattr(cache, "batch_repeat_interleave"):
            return 0, None  # a model without a reusable cache object: run every token
        return k, cache

    def _judge_batch(self, batch: OrderedBatch) -> JudgeOutput:
        logp, n_tokens, errors = self.label_logprobs(self.pairwise_prompts(batch), self._label_ids)
        prob = np.exp(logp)  # (n, 2 or 3): unnormalised label probabilities
        total = prob.sum(axis=1)
        with np.errstate(invalid="ignore"):
            if self.template.tie_label:
                p_first = (prob[:, 0] + 0.5 * prob[:, 2]) / total
            else:
                p_first = prob[:, 0] / total
        labels = list(self.template.labels) + (
            [self.template.tie_label] if self.template.tie_label else [])
        raw = [None if errors[i] else {"logprobs": dict(zip(labels, logp[i].round(4).tolist())),
                                       "label_mass": round(float(total[i]), 4)}
               for i in range(len(batch))]
        return JudgeOutput(p_first=p_first, raw=raw, n_tokens=n_tokens, error=errors)

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        """Expected pointwise score sum_i s_i * P(s_i) over the template's score tokens."""
        tpl = self.pointwise_template
        texts = [self._render(tpl.messages(q, r), tpl.answer_prefix)
                 for q, r in zip(prompts, responses)]
        logp, _, _ = self.label_logprobs(texts, self._score_ids)
        prob = np.exp(logp)
        prob = prob / prob.sum(axis=1, keepdims=True)
        values = np.array([float(s) for s in tpl.scores])
        return prob @ values
