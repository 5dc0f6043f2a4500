"""The uncertainty layer (judgebench/stats.py): the pair bootstrap (compressed resampling is
the pair bootstrap; per_pair builds the units) and intervals over seeds (known answers on
hand-made numbers, checked against scipy)."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from judgebench.stats import (
    MIN_SEEDS_FOR_BOOTSTRAP,
    bootstrap_ci,
    bootstrap_weights,
    cluster_weights,
    compressed_weights,
    lack_of_fit,
    ols_slope,
    paired_t,
    per_pair,
    seed_bootstrap,
    t_interval,
    unique_rows,
    weighted_mean,
    weighted_ratio,
)
from judgebench.verdicts import SchemaError


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


# ---------------------------------------------------------------------------------------------
# The pair bootstrap


def test_unique_rows_counts_and_nan_equality():
    a = np.array([1.0, 0.0, 1.0, np.nan, np.nan, 1.0])
    b = np.array([2, 2, 2, 5, 5, 3])
    counts, (ua, ub) = unique_rows(a, b)
    got = sorted(zip(np.nan_to_num(ua, nan=-1).tolist(), ub.tolist(), counts.tolist()))
    assert got == [(-1.0, 5, 2), (0.0, 2, 1), (1.0, 2, 2), (1.0, 3, 1)]


def test_compressed_weights_are_multinomial_over_pairs():
    counts = np.array([3, 1])
    w = np.concatenate(list(compressed_weights(counts, 20_000, seed=0)))
    assert (w.sum(axis=1) == 4).all()
    # Row 0 holds 3 of 4 pairs: its resampled count is Binomial(4, 3/4).
    assert w[:, 0].mean() == pytest.approx(3.0, abs=0.03)
    assert w[:, 0].var() == pytest.approx(4 * 0.75 * 0.25, abs=0.03)


@pytest.mark.parametrize("stat,arrays", [
    (weighted_mean, (np.r_[np.ones(70), np.zeros(130)],)),
    (weighted_ratio, (np.r_[np.ones(50), np.zeros(100), 2 * np.ones(50)],
                      np.r_[np.ones(50), np.ones(100), 2 * np.ones(50)])),
])
def test_compress_gives_the_same_bootstrap_distribution(stat, arrays):
    a = bootstrap_ci(stat, *arrays, n_boot=4000, seed=0)
    b = bootstrap_ci(stat, *arrays, n_boot=4000, seed=1, compress=True)
    assert a.estimate == pytest.approx(b.estimate)
    assert a.n == b.n == len(arrays[0])
    assert b.ci_low == pytest.approx(a.ci_low, abs=0.012)
    assert b.ci_high == pytest.approx(a.ci_high, abs=0.012)


def test_compressed_ci_matches_the_binomial_standard_error():
    x = np.r_[np.ones(300_000), np.zeros(200_000)]
    est = bootstrap_ci(weighted_mean, x, n_boot=1000, seed=0, compress=True)
    half = 1.96 * np.sqrt(0.6 * 0.4 / len(x))
    assert (est.ci_high - est.ci_low) / 2 == pytest.approx(half, rel=0.1)


def test_per_pair_pivots_orders_and_blanks_failures():
    v = pd.DataFrame({"pair_id": ["a", "a", "b", "b", "a"], "judge": ["j", "j", "j", "j", "k"],
                      "order": ["12", "21", "12", "21", "12"],
                      "p_first": [0.9, 0.4, 1.0, 0.3, 0.2],
                      "failed": [False, False, True, False, False], "label": [1, 1, 2, 2, 1]})
    pp = per_pair(v, ["label", "absent"]).set_index(["judge", "pair_id"])
    assert pp.loc[("j", "a"), "p_12"] == 0.9 and pp.loc[("j", "a"), "p_21"] == 0.4
    assert np.isnan(pp.loc[("j", "b"), "p_12"])  # failed: its 1.0 is not a verdict
    assert np.isnan(pp.loc[("k", "a"), "p_21"])  # never judged in that order
    assert pp.loc[("j", "b"), "label"] == 2 and "absent" not in pp.columns


def test_per_pair_errors():
    v = pd.DataFrame({"pair_id": ["a", "a"], "judge": "j", "order": ["12", "12"],
                      "p_first": [0.9, 0.8], "failed": False})
    with pytest.raises(SchemaError, match=r"\(judge, pair_id, order\) must be unique"):
        per_pair(v)
    with pytest.raises(SchemaError, match=r"missing column\(s\) \['failed'\]"):
        per_pair(v.drop(columns="failed"))
    with pytest.raises(ValueError, match="seed is required"):
        list(compressed_weights(np.array([1, 2]), 10, seed=None))


# ---------------------------------------------------------------------------------------------
# Failed resamples, clusters, recentring


def test_nan_resamples_are_counted_not_hidden():
    # The mean over pairs with x > 0 is NaN in a resample that draws only the x = 0 pair(s).
    x = np.array([0.0, 0.0, 0.0, 1.0])

    def mean_of_positive(w, x):
        with np.errstate(invalid="ignore", divide="ignore"):
            return (w @ x) / (w @ (x > 0).astype(float))

    est = bootstrap_ci(mean_of_positive, x, n_boot=2000, seed=0)
    # P(no draw of the one positive pair in 4 draws) = (3/4)^4 = 0.316.
    assert est.n_boot_failed == pytest.approx(0.316 * 2000, rel=0.1)
    assert est.to_dict()["n_boot_failed"] == est.n_boot_failed
    assert est.to_dict()["method"] == "percentile"


def test_cluster_bootstrap_moves_pairs_of_a_prompt_together():
    # 20 prompts x 10 pairs; pairs of one prompt share their outcome: the effective sample
    # is 20, so the clustered interval is ~sqrt(10) wider than the pair interval.
    rng = np.random.default_rng(0)
    prompt_outcome = rng.uniform(size=20) < 0.5
    x = np.repeat(prompt_outcome.astype(float), 10)
    clusters = np.repeat([f"q{i}" for i in range(20)], 10)
    pairs = bootstrap_ci(weighted_mean, x, n_boot=2000, seed=0, compress=True)
    clus = bootstrap_ci(weighted_mean, x, n_boot=2000, seed=0, compress=True,
                        clusters=clusters, cluster_name="prompt")
    width = lambda e: e.ci_high - e.ci_low  # noqa: E731
    assert clus.estimate == pairs.estimate
    assert 2.5 < width(clus) / width(pairs) < 4.0
    assert clus.method == "percentile; 20 clusters of prompt"
    # Uncompressed gives the same distribution (same seed, same draws over clusters).
    plain = bootstrap_ci(weighted_mean, x, n_boot=2000, seed=0, clusters=clusters)
    assert plain.ci_low == pytest.approx(clus.ci_low) and plain.ci_high == pytest.approx(clus.ci_high)
    with pytest.raises(ValueError, match="clusters needs one label per pair"):
        bootstrap_ci(weighted_mean, x, n_boot=10, seed=0, clusters=clusters[:5])


def test_an_interval_that_misses_its_estimate_is_recentred():
    # A statistic whose replicates are biased upwards: |mean| of values centred at 0.
    rng = np.random.default_rng(1)
    x = rng.normal(size=30)
    x -= x.mean()  # plug-in |mean| = 0; every replicate |N(0, 0.18)| > 0: biased up

    def abs_mean(w, x):
        return np.abs(w @ x) / w.sum(axis=1)

    est = bootstrap_ci(abs_mean, x, n_boot=2000, seed=0)
    assert est.method == "percentile, bias-recentred"
    assert est.ci_low <= est.estimate <= est.ci_high
    assert est.bias > 0.1 and est.to_dict()["bias"] == est.bias


def test_every_weight_generator_needs_a_seed_and_keeps_its_stream_across_blocks():
    # The block size bounds memory only: one seed gives the same resamples in any blocking.
    from judgebench import stats

    whole = np.concatenate(list(bootstrap_weights(5, 7, seed=3)))
    old, stats._BLOCK_ELEMENTS = stats._BLOCK_ELEMENTS, 10  # 2 resamples of 5 pairs a block
    try:
        blocks = list(bootstrap_weights(5, 7, seed=3))
    finally:
        stats._BLOCK_ELEMENTS = old
    assert [len(b) for b in blocks] == [2, 2, 2, 1]
    np.testing.assert_array_equal(np.concatenate(blocks), whole)
    for gen in (bootstrap_weights(3, 2, None), compressed_weights(np.array([1, 2]), 2, None),
                cluster_weights(np.array([0, 1]), np.ones(2), 2, 2, None)):
        with pytest.raises(ValueError, match="seed is required"):
            next(gen)
