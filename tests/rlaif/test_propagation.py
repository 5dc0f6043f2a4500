"""Propagation metrics on hand-checkable inputs and against injected truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from judgebench.judges.simulated import simulate_verdicts
from judgebench.rlaif import propagation as pr


def test_win_score_and_label_accuracy():
    assert pr.win_score([1, 0, 0.5, np.nan], [0, 1, 0.5, 1]).tolist()[:3] == [1.0, 0.0, 0.5]
    # gold ties and failures are left out; a judge tie counts one half
    acc, n = pr.label_accuracy([0.9, 0.2, 0.5, 0.7, np.nan], [1.0, 1.0, 0.0, 0.5, 1.0])
    assert (acc, n) == (pytest.approx(0.5), 3)
    assert pr.label_accuracy([0.9], [0.5]) == (pytest.approx(np.nan, nan_ok=True), 0)


def test_length_explained_share_recovers_linear_truth():
    rng = np.random.default_rng(0)
    dlen = rng.normal(20, 10, 200)
    gain = 0.01 * dlen  # all of the gain comes from length
    out = pr.length_explained_share(gain, dlen)
    assert out["share"] == pytest.approx(1.0) and out["r2"] == pytest.approx(1.0)
    half = pr.length_explained_share(0.01 * dlen + 0.2, dlen)  # mean gain 0.4, length 0.2
    assert half["share"] == pytest.approx(0.5, abs=0.01)
    assert np.isnan(pr.length_explained_share(gain, np.zeros(200))["share"])


def test_judge_bias_recovers_injected_position_and_verbosity():
    v = simulate_verdicts(3000, seed=0, position=1.5, verbosity=0.0, noise=0.5)
    v["p_first_raw"] = v["p_first"]
    out = pr.judge_bias(v, n_boot=50, seed=0)
    assert out["p_first"]["estimate"] > 0.7 and out["position_consistency"]["estimate"] < 0.7
    assert out["length_slope"]["ci"][0] < 0 < out["length_slope"]["ci"][1]
    long = simulate_verdicts(3000, seed=0, verbosity=2.0, noise=0.5)
    assert pr.judge_bias(long, n_boot=50, seed=0)["length_slope"]["ci"][0] > 0.5


def test_eval_metrics_against_iteration_zero():
    initial = pd.DataFrame({"task_id": ["a", "b"], "response": ["x" * 10, "y" * 20],
                            "n_tokens": [2, 4], "gold": [1.0, 0.5], "truncated": False})
    current = pd.DataFrame({"task_id": ["a", "b"], "response": ["x" * 30, "y" * 40],
                            "n_tokens": [6, 8], "gold": [0.5, 0.5], "truncated": True})
    labels = pd.DataFrame({"task_id": ["a", "b"], "p_judge": [0.9, 0.8],
                           "p_judge_raw": [0.9, 0.6]})
    m = pr.eval_metrics(current, initial, labels)
    assert m["length_drift_chars"] == 20 and m["length_drift_tokens"] == 4
    assert m["gold_change"] == pytest.approx(-0.25) and m["gold_win_rate"] == 0.25
    assert m["judge_win_rate_calibrated"] == 1.0 and m["proxy_gold_gap"] == 0.75
    assert m["judge_score_raw"] == pytest.approx(0.75)


def test_rollout_metrics_compare_candidates_with_iteration_zero():
    ini = pd.DataFrame({"response": ["ab", "abcd"], "n_tokens": [1, 2], "gold": [1.0, 0.0],
                        "truncated": [False, False]})
    cur = pd.DataFrame({"response": ["abcdef", "abcdefgh", "x"], "n_tokens": [3, 4, 1],
                        "gold": [0.0, np.nan, 1.0], "truncated": [True, False, False]})
    m = pr.rollout_metrics(cur, ini)
    assert m["rollout_n"] == 3 and m["rollout_length_chars_mean"] == 5.0
    assert m["rollout_length_drift_chars"] == 2.0 and m["rollout_length_tokens_mean"] == 8 / 3
    assert m["rollout_gold_mean"] == 0.5 and m["rollout_gold_change"] == 0.0  # NaN gold skipped
    assert m["rollout_truncated_share"] == pytest.approx(1 / 3)
    assert pr.rollout_metrics(ini, ini)["rollout_length_drift_chars"] == 0.0


def test_propagation_coefficient_covers_true_slope():
    rng = np.random.default_rng(1)
    bias = np.tile([0.0, 0.5, 1.0, 2.0], 6)
    seeds = np.repeat(np.arange(6), 4)
    drift = 5.0 * bias + rng.normal(0, 1.0, 6)[seeds] + rng.normal(0, 1.0, bias.size)
    est = pr.propagation_coefficient(bias, drift, seeds, n_boot=500, seed=0)
    assert est.n == 6 and est.ci_low < 5.0 < est.ci_high and est.ci_high - est.ci_low < 3
    one = pr.propagation_coefficient([0, 1], [0.0, 3.0], [0, 0])
    assert one.estimate == pytest.approx(3.0) and np.isnan(one.ci_low)
    flat = pr.propagation_coefficient([1, 1], [0.0, 3.0], [0, 1])
    assert np.isnan(flat.estimate)
