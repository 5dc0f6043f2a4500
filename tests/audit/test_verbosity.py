"""Verbosity bias: AlpacaEval's P(prefer longer), the length slope, padding dose-response."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from judgebench.audit.perturb import padded_pairs
from judgebench.audit.verbosity import (
    length_bins_table,
    length_slope,
    p_prefer_longer,
    padding_table,
    padding_win_rate,
    prefer_longer_counts,
    verbosity_table,
)
from judgebench.judges.simulated import SimulatedJudge, simulate_verdicts


def _row(table: pd.DataFrame, measure: str) -> pd.Series:
    return table.set_index("measure").loc[measure]


def test_prefer_longer_threshold_and_ties_by_hand():
    # lengths differ by 31 (counts), 30 (does not: AlpacaEval's "> 30"), 100 with a tie.
    p12 = np.array([0.9, 0.9, 0.5])
    p21 = np.array([0.9, 0.1, 0.8])
    len_1 = np.array([131, 130, 10])
    len_2 = np.array([100, 100, 110])
    num, den = prefer_longer_counts(p12, p21, len_1, len_2)
    # pair 1: order 12 picks r1 (longer), order 21 picks r2 -> 1 of 2.
    # pair 3: order 12 tie (not decisive); order 21 shows r2 first and it wins -> 1 of 1.
    np.testing.assert_array_equal(num, [1, 0, 1])
    np.testing.assert_array_equal(den, [2, 0, 1])
    est = p_prefer_longer(p12, p21, len_1, len_2, n_boot=0, seed=0)
    assert est.estimate == pytest.approx(2 / 3) and est.n == 2


def test_slope_positive_for_verbose_judge_and_zero_for_fair_one():
    biased = verbosity_table(simulate_verdicts(2000, seed=11, verbosity=1.0), n_boot=300, seed=0)
    row = _row(biased, "verbosity.length_slope")
    assert row.ci_low > 0.3 and row.covariate == "label"
    assert _row(biased, "verbosity.p_prefer_longer").ci_low > 0.55
    fair = verbosity_table(simulate_verdicts(2000, seed=12, verbosity=0.0), n_boot=300, seed=0)
    row = _row(fair, "verbosity.length_slope")
    assert row.ci_low <= 0.0 <= row.ci_high
    p = _row(fair, "verbosity.p_prefer_longer")
    assert p.ci_low <= 0.5 <= p.ci_high


def test_slope_covariate_removes_quality_confounding():
    # Longer answers are better here, and the judge looks only at quality: without the
    # covariate the slope is positive; with it the length slope vanishes.
    rng = np.random.default_rng(0)
    n = 3000
    dlen = rng.normal(0, 200, n)
    quality = dlen / 200 + rng.normal(0, 0.5, n)
    len_1, len_2 = 500 + dlen / 2, 500 - dlen / 2
    p12 = expit(2 * quality + rng.normal(0, 0.3, n))
    p21 = expit(-2 * quality + rng.normal(0, 0.3, n))
    naive = length_slope(p12, p21, len_1, len_2, n_boot=200, seed=0)
    adjusted = length_slope(p12, p21, len_1, len_2, quality, n_boot=200, seed=0)
    assert naive.ci_low > 0.5
    assert adjusted.ci_low <= 0.0 <= adjusted.ci_high


def test_slope_is_the_exact_fractional_logit_mle():
    # Independent fit: scikit-learn's unpenalised logistic regression with each fractional
    # outcome y split into a y-weighted 1 and a (1 - y)-weighted 0.
    from sklearn.linear_model import LogisticRegression

    from judgebench.probability import swap_average

    v = simulate_verdicts(800, seed=3, verbosity=0.5)
    p12, p21 = (v[v.order == o]["p_first"].to_numpy() for o in ("12", "21"))
    len_1, len_2 = (v[v.order == "12"][c].to_numpy(float) for c in ("len_1", "len_2"))
    gold = 2.0 * (v[v.order == "12"]["label"].to_numpy() == 1.0) - 1.0
    est = length_slope(p12, p21, len_1, len_2, gold, n_boot=200, seed=0)
    y = swap_average(p12, 1.0 - p21)  # P(response_1 wins) in each order
    x = np.column_stack([np.tanh((len_1 - len_2) / np.std(len_1 - len_2)), gold])
    fit = LogisticRegression(C=np.inf, tol=1e-10, max_iter=1000).fit(
        np.vstack([x, x]), np.r_[np.ones(len(y)), np.zeros(len(y))],
        sample_weight=np.r_[y, 1.0 - y])
    assert est.estimate == pytest.approx(fit.coef_[0][0], rel=1e-4)
    assert est.ci_low < est.estimate < est.ci_high and est.n == 800


def test_length_bins_rise_with_the_gap_for_a_verbose_judge():
    t = length_bins_table(simulate_verdicts(3000, seed=1, verbosity=1.0), n_boot=50, seed=0)
    ests = t["p_prefer_longer"].to_numpy()
    assert ests[-2] > ests[1] > 0.5
    assert t["n"].sum() <= 3000 and np.isfinite(t["gold_p_longer_better"]).all()


def test_padding_win_rate_by_hand():
    # padded copy in slot 2: order 12 it wins if P(first) < 0.5; order 21 if > 0.5.
    est = padding_win_rate(np.array([0.2, 0.5, 0.9]), np.array([0.7, 0.5, np.nan]), n_boot=0,
                           seed=0)
    # pair 1: 2 wins of 2; pair 2: two ties (not wins) of 2; pair 3: 0 of 1.
    assert est.estimate == pytest.approx(2 / 5) and est.n == 3


def test_padding_dose_response_for_verbose_and_fair_judges():
    rng = np.random.default_rng(0)
    n = 40
    pairs = pd.DataFrame({
        "pair_id": [f"q{i}" for i in range(n)], "prompt": [f"What is item {i}?" for i in range(n)],
        "response_1": [f"Item {i} is a thing. It has {rng.integers(2, 9)} parts." for i in range(n)],
        "response_2": [f"Item {i} is something else entirely." for i in range(n)]})
    padded = padded_pairs(pairs, added_chars=(20, 100, 400))
    verbose = SimulatedJudge(verbosity=1.0, noise=0.3, seed=0).judge(padded, progress=False)
    t = padding_table(verbose, n_boot=200, seed=0)
    dose = t[(t.perturbation == "all") & (t.added_chars != "all")].set_index("added_chars")
    assert list(dose.index) == [20, 100, 400]
    assert dose["estimate"].is_monotonic_increasing
    assert dose.loc[400, "estimate"] > 0.9
    overall = t[(t.perturbation == "all") & (t.added_chars == "all")].iloc[0]
    assert overall.n == n  # resampled by original pair, not by padded copy
    fair = SimulatedJudge(verbosity=0.0, noise=0.0, seed=0).judge(padded, progress=False)
    t = padding_table(fair, n_boot=50, seed=0)
    # No gold, no bias, no noise: P = 0.5 exactly, a tie every time, never a padded win.
    assert (t["estimate"] == 0.0).all()


def test_missing_lengths_skip_with_a_reason():
    v = simulate_verdicts(30, seed=0).drop(columns=["len_1", "len_2"])
    t = verbosity_table(v, n_boot=10, seed=0)
    assert t["estimate"].isna().all() and t["note"].str.contains("len_1/len_2").all()


def test_one_order_still_gives_observational_measures():
    t = verbosity_table(simulate_verdicts(300, seed=0, orders=("12",)), n_boot=20, seed=0)
    assert t["estimate"].notna().all()


def test_errors():
    with pytest.raises(ValueError, match="padded must be 1 or 2"):
        padding_win_rate(np.ones(2), np.ones(2), padded=3, seed=0)
    with pytest.raises(ValueError, match="perturbation.*padded_pairs"):
        padding_table(simulate_verdicts(5, seed=0), seed=0)
    with pytest.raises(ValueError, match="equal lengths"):
        p_prefer_longer(np.ones(2), np.ones(2), np.ones(3), np.ones(2), seed=0)
