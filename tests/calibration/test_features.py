"""Feature control: removes an injected lexical bias on held-out pairs, harmless without one."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from judgebench.audit.features import features_table
from judgebench.calibration.base import Step, make_step
from judgebench.calibration.features import FeatureControl, feature_control
from judgebench.calibration.pipeline import Pipeline, run_calibration, split_pairs
from judgebench.judges.simulated import SimulatedJudge

_WORDS = ["alpha", "beta", "gamma", "delta", "omega", "river", "stone"]


def _pairs(n: int, seed: int, tone: bool = False) -> pd.DataFrame:
    """Word-salad pairs; each response gets 0-2 'delve's (and, with ``tone``, maybe a phrase)."""
    rng = np.random.default_rng(seed)

    def text() -> str:
        words = list(rng.choice(_WORDS, rng.integers(3, 30)))
        for _ in range(rng.integers(0, 3)):
            words.insert(rng.integers(0, len(words) + 1), "delve")
        out = " ".join(words) + "."
        return out + " I hope this helps!" if tone and rng.random() < 0.4 else out

    return pd.DataFrame({"pair_id": [f"p{i}" for i in range(n)],
                         "prompt": [f"q{i}" for i in range(n)],
                         "response_1": [text() for _ in range(n)],
                         "response_2": [text() for _ in range(n)],
                         "label": rng.choice([1.0, 2.0], n)})


def _held_out(v: pd.DataFrame, steps: list[str], seed: int = 0):
    fit_ids, eval_ids = split_pairs(v, fit_frac=0.5, seed=seed)
    pipe = Pipeline(steps).fit(v[v["pair_id"].isin(fit_ids)])
    return pipe, v[v["pair_id"].isin(eval_ids)]


def _slope(v: pd.DataFrame, name: str = "lexical") -> pd.Series:
    tab = features_table(v, [name], n_boot=200, seed=0).set_index("measure")
    return tab.loc[f"features.{name}.observational_slope"]


def test_pure_feature_control():
    out = feature_control(np.array([0.5, 0.5]), np.array([[1.0, 0.0], [0.0, 2.0]]),
                          np.array([1.0, 0.5]))
    np.testing.assert_allclose(out, 1 / (1 + np.exp([1.0, 1.0])))


def test_feature_control_removes_an_injected_lexical_bias_on_held_out_pairs():
    v = SimulatedJudge(lexical=2.0, noise=0.5, seed=0).judge(_pairs(600, 3), progress=False)
    pipe, held = _held_out(v, ["swap", "feature:lexical"])
    before = _slope(pipe.steps_[0].transform(held))
    after = _slope(pipe.transform(held))
    assert before["ci_low"] > 1.5                            # the bias is there...
    assert after["ci_low"] <= 0.0 <= after["ci_high"]        # ...and gone on held-out pairs
    assert abs(after["estimate"]) < 0.1
    r = run_calibration(v, ["swap", "feature:lexical"], n_boot=50, seed=0)
    params = r["feature:lexical"]["params"]["params_"]["simulated"]
    assert params["phi"]["lexical"] == pytest.approx(2.0, abs=0.15)
    # measured: held-out accuracy 0.82 -> 1.00 (the planted bias was the only error source)
    assert r["feature:lexical"]["accuracy"]["estimate"] > r["swap"]["accuracy"]["estimate"] + 0.1


def test_feature_control_does_not_hurt_an_unbiased_judge():
    v = SimulatedJudge(noise=1.0, strength=1.0, seed=1).judge(_pairs(600, 4), progress=False)
    r = run_calibration(v, ["swap", "feature:lexical"], n_boot=50, seed=0)
    params = r["feature:lexical"]["params"]["params_"]["simulated"]
    assert abs(params["phi"]["lexical"]) < 0.1
    assert r["feature:lexical"]["accuracy"]["estimate"] >= r["swap"]["accuracy"]["estimate"] - 0.01


def test_several_features_and_length_are_removed_jointly():
    judge = SimulatedJudge(lexical=1.0, tone=1.5, verbosity=1.0, noise=0.5, seed=2)
    v = judge.judge(_pairs(800, 5, tone=True), progress=False)
    pipe, held = _held_out(v, ["swap", "feature:length/lexical/tone"])
    params = pipe.steps_[1].params_["simulated"]
    assert set(params["phi"]) == {"lexical", "tone", "length"}
    assert params["phi"]["tone"] == pytest.approx(1.5, abs=0.25)
    out = pipe.transform(held)
    for name in ("lexical", "tone"):
        s = _slope(out, name)
        assert s["ci_low"] <= 0.0 <= s["ci_high"], name
    # Saved and rebuilt from JSON: the same predictions.
    step = Step.from_dict(json.loads(json.dumps(pipe.steps_[1].to_dict())))
    assert step.name == "feature:length/lexical/tone"
    np.testing.assert_allclose(step.transform(held)["p_1"], pipe.steps_[1].transform(held)["p_1"])


def test_a_feature_that_never_fires_is_reported_not_fitted():
    v = SimulatedJudge(lexical=1.0, seed=0).judge(_pairs(100, 6), progress=False)
    with pytest.warns(UserWarning, match="'self_praise' never fires on the fit split"):
        step = FeatureControl(features=("lexical", "self_praise")).fit(v)
    params = step.params_["simulated"]
    assert params["not_fired"] == ["self_praise"] and "self_praise" not in params["phi"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = run_calibration(v, ["feature:self_praise"], n_boot=20, seed=0)
    assert any("never fires" in w for w in r["warnings"])
    # nothing removed: p_1 unchanged
    assert r["feature:self_praise"]["accuracy"] == r["raw"]["accuracy"]


def test_bad_specs_and_inputs_name_the_problem():
    assert make_step("feature:lexical/tone").features == ("lexical", "tone")
    v = SimulatedJudge().judge(_pairs(40, 7), progress=False)
    with pytest.raises(ValueError, match="Unknown feature 'sarcasm'"):
        make_step("feature:sarcasm").fit(v)
    with pytest.raises(ValueError, match="needs the response texts"):
        make_step("feature:lexical").fit(v.drop(columns=["response_1", "response_2"]))
    with pytest.raises(ValueError, match="names a feature twice"):
        make_step("feature:tone/tone").fit(v)
