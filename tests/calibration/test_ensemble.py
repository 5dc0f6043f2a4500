"""Ensembles: combiners by hand, a panel beating its best member, Dawid–Skene recovery."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from judgebench.calibration.base import make_step
from judgebench.calibration.ensemble import (
    DawidSkene,
    MajorityVote,
    MeanLogit,
    ReliabilityWeighted,
    majority_vote,
    mean_logit,
    mean_probability,
)
from judgebench.calibration.pipeline import run_calibration
from judgebench.judges.simulated import simulate_verdicts
from judgebench.verdicts import validate_verdicts

from .conftest import noisy_panel


def test_pure_combiners_by_hand():
    p = np.array([[0.9, 0.2, 0.6], [0.5, np.nan, 0.7], [np.nan, np.nan, np.nan]])
    assert majority_vote(p) == pytest.approx([2 / 3, 0.75, np.nan], nan_ok=True)
    assert mean_probability(p) == pytest.approx([17 / 30, 0.6, np.nan], nan_ok=True)
    z = np.log(p / (1 - p))
    assert mean_logit(p)[:2] == pytest.approx(1 / (1 + np.exp(-np.nanmean(z[:2], axis=1))))
    assert np.isnan(mean_logit(p)[2])


@pytest.mark.parametrize("spec", ["ensemble", "ensemble:majority", "ensemble:mean_prob",
                                  "ensemble:weighted"])
def test_panel_of_independent_judges_beats_best_member(spec):
    v = noisy_panel(2000, noises=(1.5, 2.0, 2.5), seed=0)
    r = run_calibration(v, [spec], n_boot=100, seed=0)
    members = r["raw"]["by_judge"]
    best = max(m["accuracy"]["estimate"] for m in members.values())
    name = make_step(spec).name
    assert r[name]["judges"] == [name]
    assert r[name]["accuracy"]["estimate"] > best + 0.01


def test_weighted_ensemble_trusts_the_better_member():
    v = noisy_panel(2000, noises=(0.5, 4.0), seed=1)
    step = ReliabilityWeighted().fit(v)
    assert step.weights_["judge0"] > 5 * step.weights_["judge1"]


def _dawid_skene_world(n: int, seed: int, sens, spec, prior=0.6) -> tuple[pd.DataFrame, np.ndarray]:
    """Hard votes drawn from the Dawid–Skene model itself: truth, then each member's confusion."""
    rng = np.random.default_rng(seed)
    truth = (rng.uniform(size=n) < prior).astype(float)
    frames = []
    for j, (se, sp) in enumerate(zip(sens, spec)):
        correct = rng.uniform(size=n) < np.where(truth == 1, se, sp)
        p1 = np.where(correct, truth, 1 - truth)
        frames.append(pd.DataFrame({"pair_id": [f"p{i}" for i in range(n)], "judge": f"m{j}",
                                    "order": "12", "p_first": p1, "p_1": p1, "failed": False}))
    return pd.concat(frames, ignore_index=True), truth


def test_dawid_skene_recovers_member_accuracies_without_labels():
    sens, spec = (0.9, 0.75, 0.65, 0.9), (0.85, 0.7, 0.6, 0.55)
    v, truth = _dawid_skene_world(4000, seed=2, sens=sens, spec=spec)
    assert "label" not in v.columns  # unlabelled
    step = DawidSkene().fit(v)
    for j in range(4):
        votes = v.loc[v["judge"] == f"m{j}", "p_1"].to_numpy()
        true_acc = (votes == truth).mean()
        # Annotators are (judge, order); these votes are all in order 12.
        assert step.accuracy_[f"m{j}@12"] == pytest.approx(true_acc, abs=0.03)
        assert step.sensitivity_[f"m{j}@12"] == pytest.approx(sens[j], abs=0.04)
        assert step.specificity_[f"m{j}@12"] == pytest.approx(spec[j], abs=0.04)
    assert step.prior_ == pytest.approx(0.6, abs=0.03)
    # Posterior on fresh items (fit once, apply to another draw) beats the best member.
    v2, truth2 = _dawid_skene_world(4000, seed=3, sens=sens, spec=spec)
    out = step.transform(v2)
    truth_by_id = pd.Series(truth2, index=[f"p{i}" for i in range(len(truth2))])
    ds_acc = ((out["p_1"] > 0.5).to_numpy() == truth_by_id[out["pair_id"]].to_numpy()).mean()
    best = max((v2.loc[v2["judge"] == f"m{j}", "p_1"].to_numpy() == truth2).mean()
               for j in range(4))
    assert ds_acc > best


def test_dawid_skene_items_are_pairs_and_annotators_are_judge_and_order():
    # Each judge votes response_1 far more often when it is shown first (order 12): a
    # position bias that makes its two orders two different annotators.
    rng = np.random.default_rng(4)
    n = 3000
    truth = (rng.uniform(size=n) < 0.5).astype(float)
    frames = []
    for j in range(3):
        for order, (se, sp) in (("12", (0.95, 0.55)), ("21", (0.55, 0.95))):
            correct = rng.uniform(size=n) < np.where(truth == 1, se, sp)
            p1 = np.where(correct, truth, 1 - truth)
            frames.append(pd.DataFrame({
                "pair_id": [f"p{i}" for i in range(n)], "judge": f"m{j}", "order": order,
                "p_1": p1, "p_first": p1 if order == "12" else 1 - p1, "failed": False}))
    v = pd.concat(frames, ignore_index=True)
    step = DawidSkene().fit(v)
    assert sorted(step.sensitivity_) == sorted(f"m{j}@{o}" for j in range(3) for o in ("12", "21"))
    assert step.sensitivity_["m0@12"] == pytest.approx(0.95, abs=0.04)
    assert step.sensitivity_["m0@21"] == pytest.approx(0.55, abs=0.04)
    assert step.specificity_["m0@21"] == pytest.approx(0.95, abs=0.04)
    out = step.transform(v).pivot(index="pair_id", columns="order", values="p_1")
    # One posterior per pair, the same on both of its rows.
    assert np.allclose(out["12"], out["21"])


def test_failed_members_abstain_and_all_failed_stays_failed():
    v = noisy_panel(100, noises=(1.0, 1.0, 1.0), seed=3)
    # p0: judge0 fails in both orders; p1: every judge fails in order 12.
    fail = ((v["judge"] == "judge0") & (v["pair_id"] == "p0")) | (
        (v["pair_id"] == "p1") & (v["order"] == "12"))
    v.loc[fail, ["p_1", "p_first"]] = np.nan
    v.loc[fail, "failed"] = True
    out = MeanLogit().fit(v).transform(v).set_index(["pair_id", "order"])
    validate_verdicts(out.reset_index())
    assert len(out) == 200 and (out["judge"] == "ensemble:mean_logit").all()
    assert out.loc[("p0", "12"), "n_members"] == 2 and not out.loc[("p0", "12"), "failed"]
    ok = v[(v["pair_id"] == "p0") & (v["order"] == "12") & ~v["failed"]]["p_1"].to_numpy()
    assert out.loc[("p0", "12"), "p_1"] == pytest.approx(mean_logit(ok[None, :])[0])
    assert out.loc[("p1", "12"), "failed"] and np.isnan(out.loc[("p1", "12"), "p_1"])
    assert out.loc[("p1", "21"), "n_members"] == 3
    # Pair columns are carried over, per-judge ones dropped.
    assert {"label", "len_1", "model_1"} <= set(out.columns) and "p_1_raw" not in out.columns


def test_majority_tie_is_half():
    v = noisy_panel(50, noises=(1.0, 1.0), seed=4)
    out = MajorityVote().fit(v).transform(v)
    wide = v.pivot_table(index=["pair_id", "order"], columns="judge", values="p_1")
    split = ((wide["judge0"] > 0.5) != (wide["judge1"] > 0.5)).to_numpy()
    assert np.all(out.set_index(["pair_id", "order"]).loc[wide.index, "p_1"].to_numpy()[split]
                  == 0.5)


# -- error paths ---------------------------------------------------------------------------


def test_single_judge_raises():
    with pytest.raises(ValueError, match=r"at least two judges in 'judge'; got \['simulated'\]"):
        MeanLogit().fit(simulate_verdicts(30, seed=5))


def test_members_without_overlap_raise():
    a = simulate_verdicts(30, seed=6, judge="a")
    b = simulate_verdicts(30, seed=6, judge="b").assign(pair_id=lambda d: "q" + d["pair_id"])
    with pytest.raises(ValueError, match=r"member 'a' shares no judged \(pair_id, order\)"):
        MeanLogit().fit(pd.concat([a, b]))


def test_unknown_member_and_unseen_judge_raise():
    v = noisy_panel(30, noises=(1.0, 1.0), seed=7)
    with pytest.raises(ValueError, match=r"member\(s\) \['nobody'\] have no rows in 'judge'"):
        MeanLogit(members=["judge0", "nobody"]).fit(v)
    step = MeanLogit().fit(v)
    extra = v[v["judge"] == "judge0"].assign(judge="judge9")
    with pytest.raises(ValueError, match=r"fitted on judges .* \['judge9'\]"):
        step.transform(pd.concat([v, extra]))


def test_weighted_needs_labels_and_a_member_better_than_a_coin():
    v = noisy_panel(30, noises=(1.0, 1.0), seed=8)
    with pytest.raises(ValueError, match=r"at least 20 labelled items in 'label'; got 0"):
        ReliabilityWeighted().fit(v.drop(columns="label"))
    coin = noisy_panel(200, noises=(1.0, 1.0), seed=9)
    coin["label"] = np.where(coin["p_1"] > 0.5, 2.0, 1.0)  # gold contradicts every member
    with pytest.raises(ValueError, match=r"No ensemble member beats a coin"):
        ReliabilityWeighted().fit(coin)
