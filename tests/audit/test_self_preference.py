"""Self-preference: injected truth, a reference judge, and the reasons for skipping."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from judgebench.audit.self_preference import (
    own_slot,
    self_preference,
    self_preference_table,
)
from judgebench.judges.simulated import simulate_verdicts


def _row(t: pd.DataFrame, judge: str = "simulated") -> pd.Series:
    return t[t.judge == judge].set_index("measure").loc["self_preference.delta"]


def test_own_slot_needs_exactly_one_own_response():
    slot = own_slot(np.array(["me", "x", "me", "x"]), np.array(["y", "me", "me", "y"]), "me")
    np.testing.assert_array_equal(slot, [1, 2, 0, 0])


def test_hand_example_counts_ties_and_split_orders_as_half():
    # own response in slot 1 each time; judge: wins both, split orders, tie.
    p12, p21 = np.array([0.9, 0.9, 0.5]), np.array([0.1, 0.9, 0.5])
    gold = np.array([0.0, 1.0, 0.5])
    sp = self_preference(p12, p21, np.array(["me"] * 3), np.array(["o"] * 3), "me", gold,
                         n_boot=0, seed=0)
    assert sp["judge_win_rate"].estimate == pytest.approx((1 + 0.5 + 0.5) / 3)
    assert sp["reference_win_rate"].estimate == pytest.approx(0.5)
    assert sp["delta"].estimate == pytest.approx(2 / 3 - 0.5)


def test_injected_self_preference_is_found_and_absence_is_not_flagged():
    biased = self_preference_table(simulate_verdicts(3000, seed=4, self_preference=1.5),
                                   "model-a", n_boot=300, seed=0)
    row = _row(biased)
    assert row.ci_low > 0.05 and row.reference == "gold"
    assert 1000 < row.n < 1700  # about 4/9 of the pairs have exactly one model-a response
    covered = 0
    for seed in range(10):
        fair = self_preference_table(simulate_verdicts(1000, seed=seed, self_preference=0.0),
                                     "model-a", n_boot=200, seed=seed)
        r = _row(fair)
        covered += r.ci_low <= 0.0 <= r.ci_high
    assert covered >= 8


def test_reference_judge_instead_of_gold():
    a = simulate_verdicts(2000, seed=8, self_preference=2.0, judge="biased")
    b = simulate_verdicts(2000, seed=8, self_preference=0.0, judge="fair")
    t = self_preference_table(pd.concat([a, b]).drop(columns="label"), "model-a",
                              reference="fair", n_boot=200, seed=0)
    assert list(t["judge"].unique()) == ["biased"]
    row = _row(t, "biased")
    assert row.ci_low > 0.1 and row.reference == "fair"


def test_skip_reasons():
    v = simulate_verdicts(50, seed=0)
    t = self_preference_table(v, None, n_boot=10, seed=0)
    assert t["note"].str.contains("judge_model not given").all()
    t = self_preference_table(v.drop(columns=["model_1", "model_2"]), "model-a", n_boot=10,
                              seed=0)
    assert t["note"].str.contains("model_1 and model_2").all()
    t = self_preference_table(v.drop(columns="label"), "model-a", n_boot=10, seed=0)
    assert t["note"].str.contains("no reference").all()
    t = self_preference_table(v, "gpt-99", n_boot=10, seed=0)
    assert t["note"].str.contains("no pair has exactly one response by 'gpt-99'").all()


def test_errors():
    v = simulate_verdicts(20, seed=0)
    with pytest.raises(ValueError, match="reference judge 'ghost' is not in the verdicts"):
        self_preference_table(v, "model-a", reference="ghost", seed=0)
    with pytest.raises(ValueError, match="judge_model must be the model name"):
        self_preference(np.ones(1), np.ones(1), np.array(["a"]), np.array(["b"]), "",
                        np.ones(1), seed=0)
