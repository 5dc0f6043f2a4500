"""Feature detectors, feature doses in the simulated judge, and the biased: wrapper."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from scipy.special import logit

from judgebench.judges.base import Judge, JudgeOutput
from judgebench.judges.biased import BiasedJudge
from judgebench.judges.features import (
    FEATURES,
    Feature,
    as_feature,
    detect,
    feature_bias,
    format_,
    lexical,
    listness,
    make_feature,
    regex,
    self_praise,
    tone,
)
from judgebench.judges.simulated import SimulatedJudge
from judgebench.judges.spec import load_judge, parse_spec


def test_lexical_counts_whole_words_phrases_and_suffixes():
    f = lexical()
    assert f("Let us DELVE in; feel   free to ask. Unlocking empowers you.") == 4
    assert f("delved? no: 'delve' yes, shelve no, model no") == 2  # delved, delve
    assert f("nothing here") == 0
    assert lexical(cap=1)("delve delve delve") == 1  # presence


def test_tone_self_praise_format_listness():
    assert tone()("Done. I hope this helps! Great question, by the way.") == 2
    assert tone(phrases=["cheers"])("Cheers! cheers.") == 2
    assert self_praise()("42.\nThis response fully addresses the question.") == 1
    three = "- a\n- b\n* c"
    assert format_()(three) == 1 and format_(n=2)(three) == 0
    assert format_(n=1, marker="header")("# Title\ntext\n## Sub") == 0
    assert format_(n=2, marker="header")("# Title\ntext\n## Sub") == 1
    assert listness()("intro\n- a\n2. b\n\n") == pytest.approx(2 / 3)
    assert listness()("") == 0


def test_each_feature_adds_itself_and_its_control_does_not():
    base = "The capital is Paris. It is in France."
    for name in FEATURES:
        f = make_feature(name, pattern=r"\bzz\b", insert="zz.") if name == "regex" \
            else make_feature(name)
        added, control = f.add(base, 1), f.control(base, 1)
        assert f(added) > f(control), name
        assert abs(len(added) - len(control)) < 25, name  # about the same length


def test_user_regex_and_callable_features():
    assert regex(r"\bperhaps\b", name="hedge")("Perhaps, perhaps") == 1  # case-sensitive
    assert regex(re.compile(r"perhaps", re.I))("Perhaps, perhaps") == 2
    assert as_feature("n_excl", lambda t: t.count("!"))("a!!") == 2
    assert as_feature("tone").name == "tone"
    with pytest.raises(ValueError, match=r"feature 'bad'.*does not compile"):
        regex(r"(unclosed", name="bad")
    with pytest.raises(TypeError, match="feature 'x'"):
        as_feature("x", 3)


def test_bad_feature_names_and_parameters_are_named():
    with pytest.raises(ValueError, match="Unknown feature 'sarcasm'"):
        make_feature("sarcasm")
    with pytest.raises(ValueError, match="Unknown parameter.*'lexical'"):
        make_feature("lexical", phrases=("a",))
    with pytest.raises(ValueError, match="marker must be one of"):
        format_(marker="table")
    with pytest.raises(ValueError, match="needs at least one word"):
        lexical(words=())
    with pytest.raises(ValueError, match="no dose: add lexical=BETA"):
        feature_bias({"lexical_words": "delve"})
    with pytest.raises(ValueError, match="Unknown feature option"):
        feature_bias({"sarcasm": 1.0})


def test_a_detector_that_raises_names_the_feature_and_the_pair():
    def boom(text: str) -> float:
        if text == "b":
            raise KeyError("oops")
        return 0.0

    with pytest.raises(ValueError, match=r"feature 'boom' raised KeyError.*pair 'p1'.*response_2"):
        detect(["a", "b"], Feature("boom", boom), ids=["p0", "p1"], where="response_2")
    nan = Feature("nan", lambda t: float("nan"))
    with pytest.raises(ValueError, match=r"feature .nan. returned nan .*on row 0"):
        detect(["a"], nan)
    j = SimulatedJudge(features={"boom": (boom, 1.0)})
    assert logit(j.compare(["q"], ["a"], ["a"]))[0] == 0.0
    pairs = pd.DataFrame({"pair_id": ["x7"], "prompt": ["q"], "response_1": ["a"],
                          "response_2": ["b"]})
    with pytest.raises(ValueError, match=r"feature 'boom'.*pair 'x7'"):
        j.judge(pairs, progress=False)


def test_simulated_feature_doses_are_exact():
    j = SimulatedJudge(lexical=1.0, tone=0.5, format=2.0, strength=2.0)
    p = j.compare(["q"] * 3, ["delve delve unlock", "I hope this helps", "- a\n- b\n- c"],
                  ["delve", "x", "a b c"])
    np.testing.assert_allclose(logit(p), [2.0, 0.5, 2.0])
    assert [c["name"] for c in j.config()["features"]] == ["lexical", "tone", "format"]
    assert "features" not in SimulatedJudge().config()  # unchanged cache keys without features
    custom = SimulatedJudge(features={"hedge": (r"\bperhaps\b", -1.0)})
    assert logit(custom.compare(["q"], ["perhaps so"], ["so"]))[0] == pytest.approx(-1.0)


def test_spec_strings_and_toml(tmp_path):
    kind, _, opts = parse_spec("simulated:lexical=1.0,lexical_words=delve|unlock,tone=0.5")
    assert kind == "simulated" and opts["lexical_words"] == ("delve", "unlock")
    j = load_judge("simulated:lexical=1.0,lexical_words=delve|unlock,tone=0.5,format=1,"
                   "format_n=2")
    assert j.features.doses() == {"lexical": 1.0, "tone": 0.5, "format": 1.0}
    assert j.features.features[0].params["words"] == ("delve", "unlock")
    toml = tmp_path / "judge.toml"
    toml.write_text('[judge]\nkind = "simulated"\nlexical = 2.0\n'
                    'lexical_words = ["delve", "feel free"]\nregex = 1.0\n'
                    'regex_pattern = "\\\\b(?:yes|no){1,2}\\\\b"\n')
    j = load_judge(toml)
    assert j.features.doses() == {"lexical": 2.0, "regex": 1.0}
    assert j.features.features[0]("feel free to delve") == 2
    assert j.features.features[1]("yes no") == 2
    with pytest.raises(ValueError, match="does not compile"):
        load_judge("simulated:regex=1,regex_pattern=[a")


class _Failing(Judge):
    """Fails every other row; P(first) = 0.5 elsewhere."""

    cacheable = False

    def config(self):
        return {"kind": "failing"}

    def _judge_batch(self, batch):
        p = np.where(np.arange(len(batch)) % 2 == 0, 0.5, np.nan)
        return JudgeOutput(p_first=p, error=[None if np.isfinite(x) else "timeout" for x in p])

    def score(self, prompts, responses):
        return np.zeros(len(responses))


def test_biased_judge_adds_terms_and_keeps_failures():
    j = BiasedJudge(_Failing(), lexical=1.0, self_praise=2.0)
    pairs = pd.DataFrame({"pair_id": ["a", "b"], "prompt": "q",
                          "response_1": ["delve. This answer is complete and accurate.", "delve"],
                          "response_2": ["plain", "plain"]})
    v = j.judge(pairs, progress=False)
    r = v.set_index(["pair_id", "order"])
    assert logit(r.loc[("a", "12"), "p_first"]) == pytest.approx(3.0)
    assert logit(r.loc[("a", "21"), "p_first"]) == pytest.approx(-3.0)
    assert r.loc[("b", "12"), "failed"] and r.loc[("b", "12"), "error"] == "timeout"
    assert np.isnan(r.loc[("b", "21"), "p_first"])
    np.testing.assert_allclose(j.score(["q", "q"], ["delve delve", "x"]), [2.0, 0.0])
    assert j.name == "biased:_Failing" and j.config()["inner"] == {"kind": "failing"}
    with pytest.raises(ValueError, match="at least one feature dose"):
        BiasedJudge(_Failing())


def test_biased_specs_nest_unambiguously():
    j = load_judge("biased:(simulated:position=1.0,lexical=0.5,seed=3),lexical=1.0,name=b")
    assert isinstance(j, BiasedJudge) and j.name == "b"
    assert j.inner.position == 1.0 and j.inner.features.doses() == {"lexical": 0.5}
    assert j.features.doses() == {"lexical": 1.0}
    # inner 0.5 + outer 1.0 per tic, plus the inner position offset 1.0
    assert logit(j.compare(["q"], ["delve"], ["x"]))[0] == pytest.approx(2.5)
    bare = load_judge("biased:verifier,tone=2")
    assert bare.inner.name == "verifier"
    panel = load_judge("ensemble:(simulated:lexical=1,lexical_words=delve|unlock,name=a)|"
                       "biased:(simulated:seed=2),tone=1,name=b")
    assert [m.name for m in panel.members] == ["a", "b"]
    with pytest.raises(ValueError, match="Unknown key 'seed' for a biased judge"):
        load_judge("biased:simulated:noise=1,seed=2,lexical=1")
    with pytest.raises(ValueError, match="needs the judge it wraps first"):
        load_judge("biased:lexical=1.0")
    with pytest.raises(ValueError, match="Unbalanced parentheses"):
        load_judge("biased:(simulated:seed=1,lexical=1")


def test_biased_wraps_a_local_hf_judge_exactly():
    j = load_judge("biased:(tiny:0,batch_size=4),lexical=1.5")
    prompts, first, second = ["q", "q"], ["We delve.", "plain"], ["plain", "plain"]
    inner = j.inner.compare(prompts, first, second)
    outer = j.compare(prompts, first, second)
    np.testing.assert_allclose(logit(outer) - logit(inner), [1.5, 0.0], atol=1e-6)
    assert j.cacheable and j.config()["inner"] == j.inner.config()
