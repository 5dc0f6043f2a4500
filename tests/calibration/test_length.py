"""Length control: removes injected verbosity, keeps accuracy without bias, respects gold."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from judgebench.calibration.length import LengthControl, length_control
from judgebench.calibration.pipeline import run_calibration
from judgebench.judges.simulated import simulate_verdicts


def test_pure_length_control():
    p = np.array([0.7, 0.7, 0.7])
    out = length_control(p, np.array([0.0, 300.0, -300.0]), phi=1.0, sd_len=300.0)
    assert out[0] == pytest.approx(0.7)
    assert out[1] == pytest.approx(expit(np.log(0.7 / 0.3) - np.tanh(1.0)))
    assert out[2] == pytest.approx(expit(np.log(0.7 / 0.3) + np.tanh(1.0)))


def test_length_control_removes_injected_verbosity_on_held_out_pairs():
    covered = 0
    for seed in range(5):
        v = simulate_verdicts(3000, seed=seed, verbosity=1.0)
        r = run_calibration(v, ["swap", "length"], n_boot=200, seed=0)
        assert r["swap"]["length_slope"]["ci"][0] > 0.5  # the bias is there before
        after = r["length"]["length_slope"]
        assert abs(after["estimate"]) < 0.2, after
        covered += after["ci"][0] <= 0.0 <= after["ci"][1]
        assert r["length"]["params"]["params_"]["simulated"]["phi"] > 0.5
        # Removing a bias unrelated to quality makes the judge more accurate, not less.
        assert r["length"]["accuracy"]["estimate"] > r["swap"]["accuracy"]["estimate"]
    # A 95% CI on held-out pairs covers the truth (0) in nearly every seeded repeat.
    assert covered >= 4


def test_length_control_without_bias_changes_little():
    covered = 0
    for seed in range(5):
        v = simulate_verdicts(3000, seed=seed)
        r = run_calibration(v, ["swap", "length"], n_boot=200, seed=0)
        params = r["length"]["params"]["params_"]["simulated"]
        assert abs(params["phi"]) < 0.2
        assert r["length"]["accuracy"]["estimate"] >= r["swap"]["accuracy"]["estimate"] - 0.01
        lo, hi = r["length"]["length_slope"]["ci"]
        covered += lo <= 0.0 <= hi
    assert covered >= 4


def _quality_tracks_length(seed: int) -> pd.DataFrame:
    """An unbiased judge on pairs where the better answer is also longer (a real confound)."""
    v = simulate_verdicts(3000, seed=seed, noise=0.5)
    n = v["pair_id"].nunique()
    rng = np.random.default_rng(seed + 1)
    q = v[["quality_1", "quality_2"]].to_numpy()[:n]
    lens = np.round(np.exp(rng.normal(6.0, 0.3, size=(n, 2)) + 0.8 * q))
    # Soft gold: P(response_1 better) from the quality margin (the label carries the margin).
    return v.assign(len_1=np.tile(lens[:, 0], 2), len_2=np.tile(lens[:, 1], 2),
                    label=expit(2.0 * (v["quality_1"] - v["quality_2"])))


def test_gold_covariate_keeps_genuine_quality_length_correlation():
    v = _quality_tracks_length(seed=2)
    with_gold = LengthControl().fit(v).params_["simulated"]
    without = LengthControl(use_gold=False).fit(v).params_["simulated"]
    assert with_gold["used_gold"] and not without["used_gold"]
    assert abs(with_gold["phi"]) < 0.15  # the judge has no length bias beyond quality
    assert without["phi"] > 1.0          # ...which a gold-blind fit would wrongly remove


def test_phi_removal_exceeds_the_attenuated_lc_coefficient():
    p = LengthControl().fit(simulate_verdicts(3000, seed=3, verbosity=1.0)).params_["simulated"]
    assert 0 < p["phi_lc"] < p["phi"]


def test_model_and_instruction_terms_are_fitted_when_present():
    v = simulate_verdicts(600, seed=4, verbosity=1.0)
    v["prompt"] = "q" + (v["pair_id"].str[1:].astype(int) % 50).astype(str)
    p = LengthControl().fit(v).params_["simulated"]
    assert set(p["model_terms"]) == {"model-a", "model-b", "model-c"}
    assert p["n_instruction_terms"] == 50
    v_no = v.drop(columns=["model_1", "model_2", "prompt"])
    assert LengthControl().fit(v_no).params_["simulated"]["model_terms"] == {}


def test_controlled_preference_drops_the_length_term():
    v = simulate_verdicts(2000, seed=5, verbosity=2.0)
    step = LengthControl(use_gold=False).fit(v)
    pref = step.controlled_preference(v)
    dlen = (v["len_1"] - v["len_2"]).to_numpy()
    # The raw preference follows length; the controlled one does not depend on it at all.
    assert np.corrcoef(v["p_1"], dlen)[0, 1] > 0.3
    assert np.ptp(pref) < 0.1


# -- error paths ---------------------------------------------------------------------------


def test_missing_lengths_raise():
    v = simulate_verdicts(50, seed=6).drop(columns=["len_1", "len_2"])
    with pytest.raises(ValueError, match=r"needs response lengths in 'len_1' and 'len_2'"):
        LengthControl().fit(v)


def test_equal_lengths_raise():
    v = simulate_verdicts(50, seed=7).assign(len_1=100, len_2=100)
    with pytest.raises(ValueError, match=r"'len_1' - 'len_2' is the same on every pair"):
        LengthControl().fit(v)


def test_all_failed_and_too_few_pairs_raise():
    v = simulate_verdicts(50, seed=8)
    dead = v.assign(p_1=np.nan, p_first=np.nan, failed=True)
    with pytest.raises(ValueError, match=r"p_1 is NaN on every row of judge 'simulated'"):
        LengthControl().fit(dead)
    with pytest.raises(ValueError, match=r"at least 20 judged pairs .* 'pair_id' gives 10"):
        LengthControl().fit(simulate_verdicts(10, seed=9))


def test_unlabelled_pairs_are_not_ties():
    """10% labels give the same φ as all labels (within its interval) on a judge with no
    length bias whose better answers are longer; scoring the unlabelled 90% as ties used to
    give φ ≈ 2.2 against 0.02."""
    v = _quality_tracks_length(seed=2)
    pairs = v["pair_id"].unique()
    keep = set(np.random.default_rng(0).choice(pairs, size=len(pairs) // 10, replace=False))
    few = v.assign(label=v["label"].where(v["pair_id"].isin(keep)))
    full = LengthControl().fit(v).params_["simulated"]
    part = LengthControl().fit(few).params_["simulated"]
    assert part["used_gold"] and part["n_unlabelled_pairs_skipped"] == len(pairs) - len(keep)
    assert part["n_fit_pairs"] == len(keep)
    lo, hi = part["phi_ci"]
    assert lo <= full["phi"] <= hi
    assert full["phi_ci"][0] <= 0.0 <= full["phi_ci"][1]
    assert hi - lo < 1.0  # an interval that says something


def test_single_order_does_not_split_the_intercept():
    """One presentation order: s is the intercept's column again; the position term is not
    fitted, and the intercept carries the whole first-slot pull."""
    one = simulate_verdicts(3000, seed=11, position=1.0, orders=("12",), noise=0.0)
    p = LengthControl().fit(one).params_["simulated"]
    assert p["position"] is None
    both = LengthControl().fit(simulate_verdicts(3000, seed=11, position=1.0, noise=0.0))
    q = both.params_["simulated"]
    assert abs(q["intercept"]) < 0.1 < q["position"]
    # order 12's whole pull, not half of it (the split gave intercept ≈ position ≈ half)
    assert p["intercept"] == pytest.approx(q["intercept"] + q["position"], abs=0.1)
