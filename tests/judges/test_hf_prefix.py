"""The shared-prefix path of HFJudge: the same numbers as running every token, less work."""

import numpy as np
import pytest
import torch

from judgebench.judges.base import OrderedBatch
from judgebench.judges.hf import HFJudge
from judgebench.judges.templates import PairwiseTemplate
from judgebench.models import load_model

PROMPTS = ["q", "a much longer question about many things", "x y", "hello", "z", "why?"]
FIRST = ["short", "a long first response " * 5, "mid length", "a", "b b b b b b b b", "no"]
SECOND = ["other", "b", "second response here", "long " * 20, "c", "because " * 3]


@pytest.fixture(scope="module")
def tiny():
    return load_model("tiny:0")


@pytest.mark.parametrize("batch_size", [1, 2, 4, 16])
def test_shared_prefix_matches_full_forward(tiny, batch_size):
    shared = HFJudge(tiny, batch_size=batch_size).compare(PROMPTS, FIRST, SECOND)
    full = HFJudge(tiny, batch_size=batch_size, share_prefix=False).compare(PROMPTS, FIRST,
                                                                            SECOND)
    np.testing.assert_allclose(shared, full, atol=1e-5)


def test_shared_prefix_matches_for_pointwise_and_tie_template(tiny):
    a, b = HFJudge(tiny, batch_size=3), HFJudge(tiny, batch_size=3, share_prefix=False)
    np.testing.assert_allclose(a.score(PROMPTS, FIRST), b.score(PROMPTS, FIRST), atol=1e-4)
    a, b = (HFJudge(tiny, template="mtbench-pair-v2", share_prefix=s) for s in (True, False))
    np.testing.assert_allclose(a.compare(PROMPTS, FIRST, SECOND),
                               b.compare(PROMPTS, FIRST, SECOND), atol=1e-5)


def test_prefix_is_run_once_and_cut_from_every_batch(tiny):
    judge = HFJudge(tiny, batch_size=2)
    texts = judge.pairwise_prompts(
        OrderedBatch(PROMPTS, FIRST, SECOND))
    enc = [tiny.tokenizer.encode(t, add_special_tokens=False) for t in texts]
    k, cache = judge._shared_prefix(enc, torch.device("cpu"))
    assert k >= judge.min_shared_prefix and cache.get_seq_length() == k
    assert all(e[:k] == enc[0][:k] for e in enc)
    widths = []
    hook = tiny.model.register_forward_pre_hook(
        lambda mod, args, kw: widths.append(kw["input_ids"].shape[1]), with_kwargs=True)
    try:
        judge.compare(PROMPTS, FIRST, SECOND)
    finally:
        hook.remove()
    lengths = sorted(len(e) for e in enc)
    # One prefix pass, then batches of 2 whose width is the longest prompt minus the prefix.
    assert widths == [k] + [lengths[i + 1] - k for i in range(0, len(lengths), 2)]


def test_no_sharing_when_little_or_nothing_is_shared(tiny):
    judge = HFJudge(tiny, template=PairwiseTemplate("bare", "s", "{question}|{answer_a}|{answer_b}"))
    enc = [tiny.tokenizer.encode(t, add_special_tokens=False) for t in judge.pairwise_prompts(
        OrderedBatch(["alpha", "beta"], ["a", "b"], ["c", "d"]))]
    assert judge._shared_prefix(enc, torch.device("cpu")) == (0, None)  # a short system turn
    one = HFJudge(tiny)._shared_prefix(enc[:1], torch.device("cpu"))
    assert one == (0, None)  # a single prompt has nothing to share
    off = HFJudge(tiny, share_prefix=False)
    assert off._shared_prefix(enc + enc, torch.device("cpu")) == (0, None)
