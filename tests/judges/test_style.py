"""The simulated judge's own style: a detector or reference answers, with a dose."""

from __future__ import annotations

import pandas as pd
import pytest
from scipy.special import logit

from judgebench.judges.simulated import SimulatedJudge
from judgebench.judges.spec import load_judge
from judgebench.judges.style import ReferenceStyle, make_style, word_cosine


def test_word_cosine():
    assert word_cosine("The cat", "the CAT") == pytest.approx(1.0)
    assert word_cosine("a b", "c d") == 0.0 and word_cosine("", "a") == 0.0


def test_detector_style_is_a_preference_for_the_feature():
    j = load_judge("simulated:style=tone,style_preference=2.0")
    assert logit(j.compare(["q"], ["Yes. Happy to help!"], ["Yes."]))[0] == pytest.approx(2.0)
    assert j.config()["style_preference"] == 2.0
    assert "style" not in SimulatedJudge().config()  # unchanged cache keys without a style


def test_reference_style_prefers_answers_close_to_the_judges_own(tmp_path):
    refs = tmp_path / "refs.jsonl"
    pd.DataFrame({"prompt": ["q"], "response": ["Paris is the capital"]}).to_json(
        refs, orient="records", lines=True)
    j = SimulatedJudge(style=refs, style_preference=1.0)
    p = j.compare(["q", "other"], ["Paris is the capital", "x"], ["Lyon", "y"])
    assert logit(p[0]) == pytest.approx(1.0) and logit(p[1]) == pytest.approx(0.0)
    assert isinstance(make_style({"q": "a"}), ReferenceStyle)


def test_bad_styles_are_named():
    with pytest.raises(ValueError, match="style_preference needs style"):
        SimulatedJudge(style_preference=1.0)
    with pytest.raises(ValueError, match="style 'pirate' is neither"):
        SimulatedJudge(style="pirate", style_preference=1.0)
    with pytest.raises(FileNotFoundError, match="No reference answers"):
        make_style("missing.jsonl")
