import numpy as np
import pytest
from scipy.special import expit, logit

from judgebench.judges import SimulatedJudge, simulate_verdicts
from judgebench.verdicts import validate_verdicts


def test_position_offset_is_exact_without_noise():
    j = SimulatedJudge(position=1.3, seed=0)
    p = j.compare(["q", "r"], ["same", "x"], ["same", "x"])
    np.testing.assert_allclose(logit(p), 1.3)


def test_verbosity_is_per_log_length_ratio():
    j = SimulatedJudge(verbosity=0.7, seed=0)
    p = j.compare(["q"], ["a" * 200], ["a" * 100])[0]
    assert logit(p) == pytest.approx(0.7 * np.log(2))


def test_gold_and_self_preference(small_pairs):
    j = SimulatedJudge(self_preference=1.0, self_model="a", strength=2.0, seed=0)
    v = j.judge(small_pairs, progress=False)
    validate_verdicts(v)
    row = v[(v.pair_id == "p0") & (v.order == "12")].iloc[0]  # label 1, model_1 == "a"
    assert logit(row.p_first) == pytest.approx(2.0 + 1.0)
    row = v[(v.pair_id == "p0") & (v.order == "21")].iloc[0]
    assert logit(row.p_first) == pytest.approx(-3.0)


def test_noise_is_deterministic_and_order_free():
    j = SimulatedJudge(noise=1.0, seed=4)
    a = j.compare(["q1", "q2", "q3"], ["a", "b", "c"], ["d", "e", "f"])
    b = j.compare(["q3", "q1"], ["c", "a"], ["f", "d"])
    np.testing.assert_allclose(a[[2, 0]], b)
    assert not np.allclose(a, SimulatedJudge(noise=1.0, seed=5).compare(
        ["q1", "q2", "q3"], ["a", "b", "c"], ["d", "e", "f"]))


def test_temperature_scales_logit():
    p = SimulatedJudge(position=0.5, temperature=3.0).compare(["q"], ["x"], ["x"])[0]
    assert p == pytest.approx(expit(1.5))


@pytest.mark.parametrize("kwargs, match", [
    (dict(temperature=0), "temperature must be > 0"),
    (dict(noise=-1), "noise must be >= 0"),
    (dict(self_preference=1.0), "needs self_model"),
])
def test_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SimulatedJudge(**kwargs)


def test_simulate_verdicts_table():
    v = simulate_verdicts(1000, seed=0, position=0.8, noise=0.0)
    validate_verdicts(v)
    wide = v.pivot(index="pair_id", columns="order", values="p_first")
    # Without noise the paired logit average is exactly the position offset.
    np.testing.assert_allclose((logit(wide["12"]) + logit(wide["21"])) / 2, 0.8, atol=1e-9)
    # Labels are drawn from the true probability: accuracy of a calibrated judge ~ mean max(p, 1-p).
    p1 = v[v.order == "12"]
    p_true = expit(2.0 * (p1.quality_1 - p1.quality_2))
    assert abs((p1.label == 1).mean() - p_true.mean()) < 0.05
