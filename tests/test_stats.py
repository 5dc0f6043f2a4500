"""Intervals over seeds: known answers on hand-made numbers, checked against scipy."""

import numpy as np
import pytest
from scipy import stats as sps

from judgebench.stats import (
    MIN_SEEDS_FOR_BOOTSTRAP,
    lack_of_fit,
    ols_slope,
    paired_t,
    seed_bootstrap,
    t_interval,
)


def test_t_interval_matches_scipy():
    x = [2.0, 4.0, 9.0, 1.0, 5.5]
    iv = t_interval(x)
    lo, hi = sps.t.interval(0.95, len(x) - 1, loc=np.mean(x), scale=sps.sem(x))
    assert iv.estimate == pytest.approx(np.mean(x))
    assert (iv.ci_low, iv.ci_high) == (pytest.approx(lo), pytest.approx(hi))
    assert iv.n == 5 and iv.method == "t" and iv.se == pytest.approx(sps.sem(x))
    assert "n = 5, t" in iv.text()
    # NaNs are dropped, one value has no interval, none has no estimate.
    assert t_interval([1.0, np.nan, 3.0]).n == 2
    one = t_interval([4.0])
    assert one.estimate == 4.0 and np.isnan(one.ci_low) and not one.excludes(0.0)
    assert t_interval([]).n == 0


def test_paired_t_is_the_t_interval_of_the_differences():
    a, b = np.array([5.0, 7.0, 6.0, 9.0]), np.array([1.0, 4.0, 2.0, 3.0])
    iv = paired_t(a, b)
    res = sps.ttest_rel(a, b)
    lo, hi = res.confidence_interval(0.95)
    assert iv.estimate == pytest.approx(4.25) and iv.method == "paired t"
    assert (iv.ci_low, iv.ci_high) == (pytest.approx(lo), pytest.approx(hi))
    assert iv.excludes(0.0)
    with pytest.raises(ValueError, match="matched"):
        paired_t([1.0, 2.0], [1.0])


def test_seed_bootstrap_only_from_eight_seeds():
    few = seed_bootstrap([1.0, 2.0, 3.0])
    assert np.isnan(few.ci_low) and "needs >= 8" in few.method
    many = seed_bootstrap(np.arange(MIN_SEEDS_FOR_BOOTSTRAP, dtype=float), n_boot=500)
    assert many.method == "seed-cluster bootstrap" and many.ci_low < 3.5 < many.ci_high


def test_lack_of_fit_tells_a_line_from_a_saturating_curve():
    dose = np.repeat([0.0, 1.0, 2.0, 4.0, 6.0], 8)
    rng = np.random.default_rng(0)
    # On true lines the test rejects at its nominal rate (5% at p < 0.05), ...
    p_line = [lack_of_fit(dose, 2.0 * dose + rng.normal(0, 1.0, dose.size)).p_value
              for _ in range(300)]
    assert 0.02 < np.mean(np.array(p_line) < 0.05) < 0.09
    fit = lack_of_fit(dose, 2.0 * dose + rng.normal(0, 1.0, dose.size))
    assert fit.slope == pytest.approx(2.0, abs=0.2) and (fit.df_lack, fit.df_pure) == (3, 35)
    # ... and a saturating curve (what hard DPO labels give) is told from a line.
    saturating = 12.0 * (1 - np.exp(-dose)) + rng.normal(0, 1.0, dose.size)
    assert lack_of_fit(dose, saturating).p_value < 1e-6
    # Hand-checkable: two doses cannot test a line; exact replicates with a bend give F = inf.
    assert np.isnan(lack_of_fit([0, 0, 1, 1], [0, 1, 2, 3]).p_value)
    bent = lack_of_fit([0, 0, 1, 1, 2, 2], [0, 0, 2, 2, 2, 2])
    assert bent.p_value == 0.0 and bent.f == np.inf


def test_lack_of_fit_f_by_hand():
    # doses 0, 1, 2 with two replicates: means 0, 2, 2 -> line 1/3 + d; SS_resid = 4/3 + 2,
    # SS_pure = 3 * 0.5 = 1.5 (each pair differs by 1), SS_lack = 4/3 + 2 - 1.5.
    d = [0, 0, 1, 1, 2, 2]
    y = [-0.5, 0.5, 1.5, 2.5, 1.5, 2.5]
    fit = lack_of_fit(d, y)
    ss_resid = sum((yi - (1 / 3 + di)) ** 2 for di, yi in zip(d, y))
    ss_lack = ss_resid - 1.5
    assert fit.slope == pytest.approx(1.0)
    assert fit.f == pytest.approx((ss_lack / 1) / (1.5 / 3))
    assert fit.p_value == pytest.approx(sps.f.sf(fit.f, 1, 3))


def test_ols_slope():
    assert ols_slope([0, 1, 2], [1.0, 3.0, 5.0]) == pytest.approx(2.0)
    assert np.isnan(ols_slope([1, 1], [0.0, 3.0]))
