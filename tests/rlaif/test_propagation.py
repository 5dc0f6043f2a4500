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


def test_position_channel_both_orders_vs_one_random_order():
    both = pd.DataFrame({"p12": [0.9, 0.2], "p21": [0.7, 0.4]})
    assert pr._position_channel(both)["position_channel"] == "none"
    # One order per pair: P(first wins) is p12 where response_1 was first, 1 - p21 otherwise.
    one = pd.DataFrame({"p12": [0.9, np.nan, 0.8, np.nan], "p21": [np.nan, 0.3, np.nan, 0.6]})
    m = pr._position_channel(one)
    assert m["position_channel"] == "label_noise"
    assert m["label_picks_first"] == 0.75 and m["position_label_share"] == 0.5


def test_gold_per_kind_and_check_pass_rates():
    cur = pd.DataFrame({"task_id": ["a", "b", "c"], "kind": ["qa", "qa", "oneword"],
                        "gold": [1.0, 0.5, 0.0], "check_max_words": [1.0, 0.0, np.nan]})
    ini = cur.assign(gold=[1.0, 1.0, 1.0], check_max_words=[1.0, 1.0, np.nan])
    m = pr._breakdown(cur.set_index("task_id"), ini.set_index("task_id"))
    assert m["gold_mean_kind_qa"] == 0.75 and m["gold_change_kind_qa"] == -0.25
    assert m["gold_change_kind_oneword"] == -1.0 and m["n_eval_kind_qa"] == 2
    assert m["pass_max_words"] == 0.5 and m["pass_change_max_words"] == -0.5


def test_onset_found_at_the_known_iteration_and_absent_without_bias():
    def series(gaps, shares, base=0.1):
        rows = [{"iteration": 0, "proxy_gold_gap": 0.0, "feature_rate_lexical": base,
                 "hack_share_lexical": None}]
        rows += [{"iteration": t, "proxy_gold_gap": g, "hack_share_lexical": m}
                 for t, (g, m) in enumerate(zip(gaps, shares), start=1)]
        return rows

    hacked = series([0.02, 0.08, 0.15, 0.3], [0.12, 0.3, 0.35, 0.6])
    assert pr.onset_iteration(hacked, "lexical") == 3  # gap reaches 0.1 only at t = 3
    assert pr.onset_iteration(hacked, "lexical", gap=0.05) == 2
    unbiased = series([0.01, -0.02, 0.03, 0.0], [0.1, 0.12, 0.08, 0.11])
    assert pr.onset_iteration(unbiased, "lexical") is None
    gap_only = series([0.2, 0.3, 0.3, 0.4], [0.1, 0.11, 0.12, 0.1])  # gold falls, no feature
    assert pr.onset_iteration(gap_only, "lexical") is None
    # length: by chance half the preferred responses are longer, so the base is 0.5
    length = [{"iteration": 0, "proxy_gold_gap": 0.0},
              {"iteration": 1, "proxy_gold_gap": 0.2, "hack_share_length": 0.55},
              {"iteration": 2, "proxy_gold_gap": 0.2, "hack_share_length": 0.7}]
    assert pr.onset_iteration(length, "length") == 2


def test_feature_metrics_on_hand_made_tables():
    from judgebench.judges.features import make_feature

    feats = {"lexical": make_feature("lexical")}
    cur = pd.DataFrame({"task_id": ["a", "b", "c", "d"],
                        "response": ["delve in", "plain", "feel free", "plain"]})
    ini = cur.assign(response=["plain"] * 4)
    samples = pd.DataFrame({"response": ["delve", "x", "y", "z"]})
    labels = pd.DataFrame({"response_1": ["delve here", "a", "b"],
                           "response_2": ["no tic", "unlock it", "c"],
                           "p_judge": [0.8, 0.3, 0.9]})
    ev = pd.DataFrame({"task_id": ["a", "b", "c", "d"], "p_judge": [0.9, 0.2, 0.7, 0.6]})
    m = pr.feature_metrics(feats, cur, ini, samples, labels, ev)
    assert m["feature_rate_lexical"] == 0.5 and m["feature_rate_change_lexical"] == 0.5
    assert m["rollout_feature_rate_lexical"] == 0.25
    # pairs 1 and 2 differ in the tic; both labels pick the tic-bearing response
    assert m["label_prefers_lexical"] == 1.0
    assert m["hack_share_lexical"] == pytest.approx(2 / 3)  # preferred: a, c, d
    none = pr.feature_metrics(feats, None, None, samples, labels, None)
    assert "feature_rate_lexical" not in none and "rollout_feature_rate_lexical" in none
