"""Position swapping on simulated position bias and on LLMBar's both-order verdicts."""

from __future__ import annotations

import numpy as np
import pytest

from judgebench.calibration.pipeline import run_calibration
from judgebench.calibration.swap import SwapAverage, SwapTie, swap_average, swap_tie
from judgebench.judges.simulated import simulate_verdicts
from judgebench.verdicts import validate_verdicts


def test_pure_swap_functions():
    a = np.array([0.8, 0.9, np.nan, np.nan, 0.7, 0.5])
    b = np.array([0.4, 0.7, 0.3, np.nan, 0.2, 0.9])
    assert swap_average(a, b) == pytest.approx([0.6, 0.8, 0.3, np.nan, 0.45, 0.7], nan_ok=True)
    # FastChat: disagreeing winners (incl. tie vs winner) -> tie; one order only -> kept
    assert swap_tie(a, b) == pytest.approx([0.5, 0.8, 0.3, np.nan, 0.5, 0.5], nan_ok=True)


def test_swap_removes_injected_position_bias_on_held_out_pairs():
    v = simulate_verdicts(2000, seed=0, position=1.5)
    r = run_calibration(v, ["swap"], n_boot=200, seed=0)
    raw, swapped = r["raw"], r["swap"]
    assert raw["position_consistency"]["ci"][1] < 0.7
    assert raw["p_first_wins"]["ci"][0] > 0.7
    assert swapped["position_consistency"]["estimate"] == 1.0
    assert swapped["p_first_wins"]["estimate"] == pytest.approx(0.5)
    # Averaging cancels the offset, so held-out accuracy rises.
    assert swapped["accuracy"]["estimate"] > raw["accuracy"]["estimate"] + 0.02


def test_swap_keeps_table_shape_and_schema():
    v = simulate_verdicts(100, seed=1, position=1.0)
    out = SwapAverage().fit_transform(v)
    assert len(out) == len(v)
    validate_verdicts(out)
    both = out.pivot(index="pair_id", columns="order", values="p_1")
    assert np.allclose(both["12"], both["21"])
    assert (out["n_orders"] == 2).all()


def test_swap_tie_turns_inconsistent_pairs_into_ties():
    v = simulate_verdicts(500, seed=2, position=2.0)
    wide = v.pivot(index="pair_id", columns="order", values="p_1")
    inconsistent = set(wide.index[(wide["12"] > 0.5) != (wide["21"] > 0.5)])
    out = SwapTie().fit_transform(v)
    assert len(inconsistent) > 50
    tied = set(out.loc[out["p_1"] == 0.5, "pair_id"])
    assert tied == inconsistent


def test_one_failed_order_keeps_the_other_and_both_failed_stays_failed():
    v = simulate_verdicts(30, seed=3)
    fail = (v["pair_id"] == "p0") | ((v["pair_id"] == "p1") & (v["order"] == "21"))
    v.loc[fail, ["p_1", "p_first"]] = np.nan
    v.loc[fail, "failed"] = True
    out = SwapAverage().fit_transform(v).set_index(["pair_id", "order"])
    assert out.loc[("p0", "12"), "failed"] and np.isnan(out.loc[("p0", "12"), "p_1"])
    kept = v.set_index(["pair_id", "order"]).loc[("p1", "12"), "p_1"]
    assert out.loc[("p1", "12"), "p_1"] == pytest.approx(kept)
    assert out.loc[("p1", "12"), "n_orders"] == 1 and out.loc[("p1", "21"), "failed"]


def test_swap_needs_both_orders():
    v = simulate_verdicts(30, seed=4, orders=("12",))
    with pytest.raises(ValueError, match=r"both orders \('12' and '21'\).*only \['12'\]"):
        SwapAverage().fit(v)


def test_llmbar_chatgpt_swap(realdata):
    """LLMBar ChatGPT/Vanilla, both orders: consistency -> 1 by construction; accuracy kept.

    On hard (0/1) verdicts the swap average gives 1, 0 or 0.5 per pair, so its accuracy is the
    mean of the two orders' accuracies: swapping removes inconsistency without changing it.
    """
    from judgebench.importers import import_llmbar

    v = import_llmbar(realdata / "llmbar", evaluator="ChatGPT", strategy="Vanilla",
                      subset="LLMBar/Natural,LLMBar/Adversarial/Neighbor,"
                             "LLMBar/Adversarial/GPTInst,LLMBar/Adversarial/GPTOut,"
                             "LLMBar/Adversarial/Manual")
    assert v["pair_id"].nunique() == 419
    # The audit layer reproduces the published raw consistency (Natural, ChatGPT: 0.71).
    from judgebench.calibration.pipeline import evaluate

    natural = v[v["pair_id"].str.startswith("LLMBar/Natural/")]
    assert evaluate(natural, n_boot=0, seed=0)["position_consistency"]["estimate"] == \
        pytest.approx(0.71, abs=0.005)
    r = run_calibration(v, ["swap"], n_boot=200, seed=0)
    raw, sw = r["raw"], r["swap"]
    assert raw["position_consistency"]["estimate"] < 0.8
    assert sw["position_consistency"]["estimate"] == 1.0
    assert sw["p_first_wins"]["estimate"] == pytest.approx(0.5)
    assert sw["accuracy"]["estimate"] == pytest.approx(raw["accuracy"]["estimate"])
    # On hard verdicts FastChat's rule and the average coincide.
    tie = run_calibration(v, ["swap_tie"], n_boot=200, seed=0)["swap_tie"]
    assert tie["accuracy"]["estimate"] == pytest.approx(sw["accuracy"]["estimate"])
    # ...but the average is better calibrated: a coin (0.5) on conflicts instead of 0/1.
    assert sw["nll"]["estimate"] < raw["nll"]["estimate"]
