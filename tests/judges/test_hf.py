import numpy as np
import pytest
import torch

from judgebench.judges.base import OrderedBatch
from judgebench.judges.cache import VerdictCache
from judgebench.judges.hf import HFJudge, label_token_ids
from judgebench.judges.templates import PairwiseTemplate, get_template
from judgebench.models import load_model


@pytest.fixture(scope="module")
def tiny():
    return load_model("tiny:0")


@pytest.fixture(scope="module")
def judge(tiny):
    return HFJudge(tiny, batch_size=3)


def test_probability_is_softmax_of_label_logits(judge, tiny):
    batch = OrderedBatch(["What is 2+2?"], ["4"], ["5"])
    text = judge.pairwise_prompts(batch)[0]
    ids = torch.tensor([tiny.tokenizer.encode(text, add_special_tokens=False)])
    with torch.no_grad():
        logp = torch.log_softmax(tiny.model(ids).logits[0, -1].float(), -1)
    a = torch.logsumexp(logp[label_token_ids(tiny.tokenizer, "A")], 0)
    b = torch.logsumexp(logp[label_token_ids(tiny.tokenizer, "B")], 0)
    expected = torch.sigmoid(a - b).item()
    assert judge.compare(["What is 2+2?"], ["4"], ["5"])[0] == pytest.approx(expected, abs=1e-5)


def test_batched_equals_one_by_one(judge):
    prompts = ["q", "a much longer question about many things", "x y", "hello", "z"]
    first = ["short", "a long first response " * 5, "mid length", "a", "b b b b b b b b"]
    second = ["other", "b", "second response here", "long " * 20, "c"]
    together = judge.compare(prompts, first, second)
    alone = np.concatenate([judge.compare([p], [f], [s]) for p, f, s in zip(prompts, first, second)])
    np.testing.assert_allclose(together, alone, atol=1e-5)
    unsorted = HFJudge(judge.loaded, batch_size=2, sort_by_length=False)
    np.testing.assert_allclose(unsorted.compare(prompts, first, second), together, atol=1e-5)


def test_judge_table_both_orders(judge, small_pairs):
    v = judge.judge(small_pairs, progress=False)
    assert len(v) == 12 and set(v.order) == {"12", "21"}
    assert not v.failed.any() and v.n_tokens.gt(10).all()
    assert {"A", "B"} <= set(v.raw.iloc[0]["logprobs"])


def test_pointwise_expected_score(judge):
    s = judge.score(["q", "r"], ["a", "b"])
    assert ((s >= 1) & (s <= 9)).all()


def test_tie_label_template(tiny):
    j = HFJudge(tiny, template="mtbench-pair-v2")
    p = j.compare(["q"], ["a"], ["b"])
    assert 0 < p[0] < 1
    assert j.config()["tie_label"] == "C"


def test_too_long_prompt_fails_not_truncates(tiny, small_pairs):
    j = HFJudge(tiny, max_length=20)
    v = j.judge(small_pairs, orders=("12",), progress=False)
    assert v.failed.all() and v.p_1.isna().all()
    assert "max_length" in v.error.iloc[0]


def test_split_label_raises(tiny):
    tpl = PairwiseTemplate("odd", "s", "{question}{answer_a}{answer_b}",
                           labels=("Zebraword", "Qxqxq"))
    with pytest.raises(ValueError, match="is not a single token"):
        HFJudge(tiny, template=tpl)


def test_unknown_template():
    with pytest.raises(ValueError, match="Unknown judge template 'nope'"):
        get_template("nope")


def test_cache_avoids_second_forward(tiny, small_pairs, tmp_path):
    calls = {"n": 0}

    class Counting(HFJudge):
        def _judge_batch(self, batch):
            calls["n"] += len(batch)
            return super()._judge_batch(batch)

    j = Counting(tiny)
    cache = VerdictCache(tmp_path / "c.sqlite")
    first = j.judge(small_pairs, cache=cache, progress=False)
    assert calls["n"] == 12 and len(cache) == 12
    second = j.judge(small_pairs, cache=cache, progress=False)
    assert calls["n"] == 12
    np.testing.assert_allclose(first.p_1, second.p_1)
    # A different template is a different judge: no hits.
    Counting(tiny, template="mtbench-pair-v2").judge(small_pairs, cache=cache, progress=False)
    assert calls["n"] == 24
