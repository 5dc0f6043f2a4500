import numpy as np
import pytest
from scipy.special import expit

from judgebench.judges.base import Judge, JudgeOutput
from judgebench.judges.ensemble import EnsembleJudge, majority, mean_logit, mean_probability
from judgebench.judges.simulated import SimulatedJudge
from judgebench.judges.spec import load_judge
from judgebench.verdicts import bundled_pairs, validate_verdicts


class Failing(Judge):
    """Fails on rows whose prompt contains 'x'; otherwise says 0.9."""

    def __init__(self, name):
        self._name = name

    def config(self):
        return {"kind": "failing", "name": self._name}

    def _judge_batch(self, batch):
        p = np.array([np.nan if "x" in q else 0.9 for q in batch.prompts])
        return JudgeOutput(p_first=p, error=["boom" if np.isnan(v) else None for v in p])


def test_combination_rules_by_hand():
    p = np.array([[0.9, 0.6, np.nan], [0.2, 0.4, 0.5]])
    np.testing.assert_allclose(mean_probability(p), [0.75, 1.1 / 3])
    np.testing.assert_allclose(mean_logit(p)[0], expit((np.log(9) + np.log(1.5)) / 2))
    np.testing.assert_allclose(majority(p), [1.0, 0.5 / 3])


def test_failed_member_abstains_and_all_failed_is_failed():
    panel = EnsembleJudge([Failing("a"), Failing("b")])
    p = panel.compare(["ok", "x"], ["r", "r"], ["s", "s"])
    assert p[0] == pytest.approx(0.9) and np.isnan(p[1])
    mixed = EnsembleJudge([Failing("a"), SimulatedJudge(position=0.0, name="sim")])
    assert mixed.compare(["x"], ["r"], ["r"])[0] == pytest.approx(0.5)  # only sim answered


def test_panel_of_noisy_judges_beats_its_members():
    pairs = bundled_pairs()
    members = [SimulatedJudge(noise=3.0, strength=1.0, seed=s, name=f"j{s}") for s in range(5)]
    acc = lambda v: float(((v.p_1 > 0.5) == (v.label == 1)).mean())  # noqa: E731
    singles = [acc(m.judge(pairs, progress=False)) for m in members]
    panel = EnsembleJudge(members).judge(pairs, progress=False)
    validate_verdicts(panel)
    assert acc(panel) > max(singles)
    assert set(panel.raw.iloc[0]) == {f"j{s}" for s in range(5)}


def test_ensemble_spec():
    j = load_judge("ensemble:simulated:seed=1,name=a|simulated:seed=2,name=b|combine=majority")
    assert isinstance(j, EnsembleJudge) and j.combine == "majority" and len(j.members) == 2
    with pytest.raises(ValueError, match="Unknown ensemble option"):
        load_judge("ensemble:simulated:name=a|simulated:name=b|weights=1")
    with pytest.raises(ValueError, match="at least 2 member"):
        load_judge("ensemble:simulated")
    with pytest.raises(ValueError, match="distinct names"):
        load_judge("ensemble:simulated|simulated")
    with pytest.raises(ValueError, match="combine must be one of"):
        EnsembleJudge([SimulatedJudge(name="a"), SimulatedJudge(name="b")], combine="vote")
