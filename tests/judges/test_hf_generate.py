import numpy as np
import pytest

from judgebench.judges.base import OrderedBatch
from judgebench.judges.hf import HFJudge
from judgebench.judges.hf_generate import (
    HFGenerateJudge,
    parse_final_verdict,
    parse_first_label,
    verdict_suffix,
)
from judgebench.models import load_model


@pytest.fixture(scope="module")
def tiny():
    return load_model("tiny:0")


def one_token(tok, text):
    ids = tok.encode(text, add_special_tokens=False)
    assert len(ids) == 1, (text, ids)
    return ids[0]


def forced(tiny, text, **kw):
    """A judge whose every generated token is pushed towards the single token ``text``."""
    bias = {(one_token(tiny.tokenizer, text),): 100.0}
    return HFGenerateJudge(tiny, generate_kwargs={"sequence_bias": bias}, **kw)


@pytest.mark.parametrize("text, expected", [
    ("A", 1.0), (" B", 0.0), ("B. A is worse", 0.0), ("Response A is better", 1.0),
    ("[[B]]", 0.0), ("(A)", 1.0), ("Answer: B", 0.0), ("", np.nan), ("AB BA", np.nan),
    ("a b", np.nan), ("\n\n\n", np.nan),
])
def test_parse_first_label(text, expected):
    got = parse_first_label(text)
    assert (np.isnan(got) and np.isnan(expected)) or got == expected


def test_parse_tie_and_custom_labels():
    assert parse_first_label("[[C]]", tie_label="C") == 0.5
    assert np.isnan(parse_first_label("[[C]]"))  # no tie label declared: not a verdict
    assert parse_first_label("Output (2) wins", labels=("1", "2")) == 0.0
    assert np.isnan(parse_first_label("12", labels=("1", "2")))


def test_random_model_garbage_is_failure_not_preference(tiny, small_pairs):
    v = HFGenerateJudge(tiny, max_new_tokens=4, batch_size=4).judge(small_pairs, progress=False)
    assert len(v) == 12
    # The random tiny model emits newlines: no label anywhere, so every row is a failure.
    assert v.failed.all() and v.p_1.isna().all() and v.p_first.isna().all()
    assert v.error.str.contains("no label").all()
    assert all(isinstance(r["reply"], str) and r["n_generated"] == 4 for r in v.raw)
    assert v.n_tokens.gt(10).all()


def test_forced_label_parses_to_hard_verdict(tiny, small_pairs):
    v = forced(tiny, " A", max_new_tokens=3, batch_size=4).judge(small_pairs, progress=False)
    assert not v.failed.any()
    assert (v.p_first == 1.0).all()
    # First shown always wins: response_1 wins in order 12 and loses in order 21.
    assert (v[v.order == "12"].p_1 == 1.0).all() and (v[v.order == "21"].p_1 == 0.0).all()
    vb = forced(tiny, "B", max_new_tokens=1).judge(small_pairs, orders=("12",), progress=False)
    assert (vb.p_first == 0.0).all()


def test_forced_non_label_is_failure(tiny):
    p = forced(tiny, "x", max_new_tokens=3).compare(["q", "r"], ["a", "b"], ["c", "d"])
    assert np.isnan(p).all()


def test_end_of_sequence_stops_counting(tiny, small_pairs):
    v = forced(tiny, "<|im_end|>", max_new_tokens=5).judge(small_pairs, orders=("12",),
                                                           progress=False)
    assert v.failed.all() and all(r["reply"] == "" and r["n_generated"] == 1 for r in v.raw)


def test_tie_label_with_answer_prefix(tiny):
    # mtbench-pair-v2 starts the answer with "[["; the model writes "C]]" -> a tie.
    j = forced(tiny, "C", template="mtbench-pair-v2", max_new_tokens=1)
    assert j.compare(["q"], ["a"], ["b"])[0] == 0.5
    assert j.config()["tie_label"] == "C"


def test_batched_equals_one_by_one(tiny):
    bias = {(one_token(tiny.tokenizer, " A"),): 3.0}  # a nudge, so that replies vary by prompt
    j = HFGenerateJudge(tiny, max_new_tokens=6, batch_size=3,
                        generate_kwargs={"sequence_bias": bias})
    texts = j.pairwise_prompts(OrderedBatch(["q", "a much longer question " * 4, "x y", "hi"],
                                            ["short", "long " * 10, "mid", "a"],
                                            ["other", "b", "second here", "long " * 15]))
    together, ntok, n_new, _ = j.generate(texts)
    alone = [j.generate([t])[0][0] for t in texts]
    assert together == alone
    assert ((n_new >= 1) & (n_new <= 6)).all()
    assert len(set(ntok)) == 4  # the batch really was padded


def test_too_long_prompt_fails_not_truncates(tiny, small_pairs):
    v = HFGenerateJudge(tiny, max_length=20).judge(small_pairs, orders=("12",), progress=False)
    assert v.failed.all() and v.p_1.isna().all()
    assert "max_length" in v.error.iloc[0]


@pytest.mark.parametrize("kwargs, match", [
    ({"max_new_tokens": 0}, "max_new_tokens must be >= 1"),
    ({"batch_size": 0}, "batch_size must be >= 1"),
    ({"template": "pointwise-1-9"}, "must be a pairwise template"),
    ({"template": "nope"}, "Unknown judge template 'nope'"),
])
def test_bad_arguments_raise(tiny, kwargs, match):
    with pytest.raises(ValueError, match=match):
        HFGenerateJudge(tiny, **kwargs)


# -- explain-then-verdict (MT-Bench / FastChat style) ---------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("Assistant A says [[A]] is right, but it is wrong. Final verdict: [[B]]", 0.0),
    ("B is shorter; A is correct. [[A]]", 1.0),
    ("Both are equally good. [[C]]", 0.5),
    ("[[B]] at first, then [[C]]", 0.5),
    ("A is better.", np.nan),          # a bare label is not a final verdict
    ("[A] and (B)", np.nan),           # other brackets are not "[[...]]"
    ("[[a]]", np.nan), ("[[AB]]", np.nan), ("", np.nan),
])
def test_parse_final_verdict_last_wins(text, expected):
    got = parse_final_verdict(text, ("A", "B"), "C", "[[")
    assert (np.isnan(got) and np.isnan(expected)) or got == expected


def test_parse_final_verdict_prefixes_and_fallback():
    assert [verdict_suffix(p) for p in ("[[", "[", "(", "Verdict: ")] == ["]]", "]", ")", ""]
    assert parse_final_verdict("(A) is long, (B) is right", prefix="(") == 0.0
    assert parse_final_verdict("[A] ... [B] ... [A]", prefix="[") == 1.0
    assert parse_final_verdict("Verdict: B, no, Verdict: A", prefix="Verdict: ") == 1.0
    assert np.isnan(parse_final_verdict("Verdict: AB", prefix="Verdict: "))
    assert parse_final_verdict("<<B>>", prefix="<<", suffix=">>") == 0.0
    # No prefix: the last standalone label, by parse_first_label's whole-word rule.
    assert parse_final_verdict("A looks fine but B wins", prefix="") == 0.0
    assert parse_final_verdict("B has a typo; A", prefix="") == 1.0
    assert parse_final_verdict("A vs B: Both Are Bad", prefix="") == 0.0  # not "Both"/"Are"
    assert np.isnan(parse_final_verdict("Answers: Bob, Alice", prefix=""))
    assert parse_final_verdict("1 or 2? 2", labels=("1", "2"), prefix="") == 0.0
    assert np.isnan(parse_final_verdict("12 21", labels=("1", "2"), prefix=""))


def test_explain_prompt_has_no_answer_prefix(tiny):
    batch = OrderedBatch(["q"], ["a"], ["b"])
    plain = HFGenerateJudge(tiny, template="mtbench-pair-v2")
    explain = HFGenerateJudge(tiny, template="mtbench-pair-v2", explain=True)
    p, e = plain.pairwise_prompts(batch)[0], explain.pairwise_prompts(batch)[0]
    assert p.endswith("[[") and not e.endswith("[[")
    assert p == e + "[["
    assert plain.pairwise_prompts(batch, answer_prefix=False) == [e]
    # The logit judge's prompt is unchanged: it still ends with the answer prefix.
    assert HFJudge(tiny, template="mtbench-pair-v2").pairwise_prompts(batch) == [p]


def test_explain_defaults_and_config(tiny):
    plain = HFGenerateJudge(tiny)
    explain = HFGenerateJudge(tiny, explain=True)
    assert (plain.explain, plain.max_new_tokens) == (False, 8)
    assert (explain.explain, explain.max_new_tokens) == (True, 256)
    assert HFGenerateJudge(tiny, explain=True, max_new_tokens=12).max_new_tokens == 12
    assert HFGenerateJudge(tiny, max_new_tokens=3).max_new_tokens == 3
    assert plain.config()["explain"] is False and explain.config()["explain"] is True
    # Same length, different mode: the verdict cache must still tell them apart.
    same = HFGenerateJudge(tiny, explain=True, max_new_tokens=8)
    assert same.config() != plain.config()
    with pytest.raises(ValueError, match="max_new_tokens must be >= 1"):
        HFGenerateJudge(tiny, explain=True, max_new_tokens=0)


def test_explain_random_model_is_failure_not_preference(tiny, small_pairs):
    j = HFGenerateJudge(tiny, template="mtbench-pair-v2", explain=True, max_new_tokens=6,
                        batch_size=4)
    v = j.judge(small_pairs, progress=False)
    assert len(v) == 12
    assert v.failed.all() and v.p_1.isna().all() and v.p_first.isna().all()
    assert v.error.str.contains("no final verdict").all()
    assert v.error.str.contains(r"\[\[C\]\]").all()
    assert all(isinstance(r["reply"], str) and 1 <= r["n_generated"] <= 6 for r in v.raw)


def test_explain_needs_the_written_verdict(tiny):
    # Plain mode gives the model "[[" and reads "C" as a tie; explain mode gives no prefix, so
    # a bare "C" is no verdict.
    assert forced(tiny, "C", template="mtbench-pair-v2", max_new_tokens=1).compare(
        ["q"], ["a"], ["b"])[0] == 0.5
    assert np.isnan(forced(tiny, "C", template="mtbench-pair-v2", explain=True,
                           max_new_tokens=3).compare(["q"], ["a"], ["b"])[0])
    # A template with no answer prefix: the last standalone label decides.
    p = forced(tiny, " B", explain=True, max_new_tokens=3).compare(["q", "r"], ["a", "b"],
                                                                   ["c", "d"])
    assert (p == 0.0).all()
