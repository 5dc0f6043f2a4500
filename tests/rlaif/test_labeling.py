"""Pairing, judging in both orders, calibration, labels; label accuracy vs the judge's noise."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from scipy.stats import norm

from judgebench.judges.simulated import SimulatedJudge
from judgebench.rlaif import labeling
from judgebench.rlaif.config import CalibrationConfig, TasksConfig, loads
from judgebench.rlaif.loop import build_judge
from judgebench.rlaif.propagation import label_accuracy
from judgebench.rlaif.tasks import load_task_set


def _samples(responses: list[list[str]], gold: list[list[float]] | None = None):
    rows = []
    for slot, cands in enumerate(responses):
        for c, r in enumerate(cands):
            rows.append({"slot": slot, "task_id": f"t{slot}", "prompt": f"q{slot}",
                         "candidate": c, "response": r, "n_tokens": len(r),
                         "gold": np.nan if gold is None else gold[slot][c]})
    return pd.DataFrame(rows)


def test_make_pairs_all_disjoint_and_drops():
    s = _samples([["a", "bb", "", "bb"]], [[1.0, 0.0, 0.5, 0.0]])
    pairs = labeling.make_pairs(s, "all", iteration=3)
    # 6 pairs minus 3 with the empty response minus the identical (1, 3) pair
    assert pairs["pair_id"].tolist() == ["it3-s0-0-1", "it3-s0-0-3"]
    assert pairs.attrs["n_dropped"] == 4 and pairs["label"].tolist() == [1.0, 1.0]
    disjoint = labeling.make_pairs(_samples([["a", "b", "c", "d"]]), "disjoint", iteration=0)
    assert disjoint["pair_id"].tolist() == ["it0-s0-0-1", "it0-s0-2-3"]
    assert disjoint["label"].isna().all()  # no verifier, no gold


def test_judge_never_sees_gold_and_random_orders():
    pairs = labeling.make_pairs(_samples([["a", "b"]] * 40, [[1.0, 0.0]] * 40), "all",
                                iteration=0)
    # A simulated judge without a quality function would read 'label' as its gold term.
    v = labeling.judge_pairs(SimulatedJudge(seed=0), pairs, orders="both", seed=0)
    assert np.allclose(v["p_1"], 0.5) and (v["label"] == 1.0).all() and len(v) == 80
    one = labeling.judge_pairs(SimulatedJudge(seed=0), pairs, orders="random", seed=1, chunk=7)
    assert len(one) == 40 and one["pair_id"].is_unique and set(one["order"]) == {"12", "21"}


def test_chunks_call_hook_and_keep_order():
    pairs = labeling.make_pairs(_samples([["a", "bbb"]] * 10), "all", iteration=0)
    seen = []
    v = labeling.judge_pairs(SimulatedJudge(verbosity=1.0, seed=0), pairs, orders="both", seed=0,
                             chunk=3, on_chunk=seen.append)
    assert seen == [0, 1, 2, 3]
    assert v["pair_id"].tolist() == [p for p in pairs["pair_id"] for _ in range(2)]


@pytest.mark.parametrize("orders", ["both", "random"])
def test_sharded_judging_gives_the_single_process_table(orders):
    # Three processes, each judging chunks k % 3 == rank and gathering the others' frames:
    # the table equals one process's, row for row, and each process judged its share.
    pairs = labeling.make_pairs(_samples([[f"a{i}", "b" * (i % 5 + 1)] for i in range(20)]),
                                "all", iteration=0)
    judge = SimulatedJudge(verbosity=1.0, noise=0.5, seed=0)
    one = labeling.judge_pairs(judge, pairs, orders=orders, seed=4, chunk=3)
    shares = [labeling.judge_pairs(judge, pairs, orders=orders, seed=4, chunk=3,
                                   shard=(r, 3), gather=lambda f: [f]) for r in range(3)]
    frames = [[part] for part in shares]
    merged = labeling.judge_pairs(judge, pairs, orders=orders, seed=4, chunk=3, shard=(0, 3),
                                  gather=lambda f: [f, *frames[1:]])
    pd.testing.assert_frame_equal(merged.drop(columns="latency_s"),
                                  one.drop(columns="latency_s"))
    # 20 pairs in chunks of 3: ranks 0, 1, 2 judge chunks 0,3,6 | 1,4 | 2,5 (a row per order).
    per_pair = 2 if orders == "both" else 1
    assert merged.attrs["n_by_process"] == [len(s) for s in shares] == \
        [per_pair * n for n in (8, 6, 6)]


def test_labels_flip_with_position_and_swap_removes_it():
    pairs = labeling.make_pairs(_samples([["same", "sam3"]] * 20), "all", iteration=0)
    v = labeling.judge_pairs(SimulatedJudge(position=2.0, seed=0), pairs, orders="both", seed=0)
    raw = labeling.preference_labels(labeling.apply_calibration(v, None))
    assert raw["flipped_raw"].mean() == 1.0  # first slot always wins: position decides
    assert np.allclose(raw["p_judge"], 0.5)  # averaging both orders cancels it
    pipe = labeling.fit_calibration(v, CalibrationConfig(steps=["swap"]))
    cal = labeling.preference_labels(labeling.apply_calibration(v, pipe))
    assert cal["flipped"].max() == 0.0 and cal["flipped_raw"].mean() == 1.0
    assert labeling.training_pairs(cal).empty  # exact ties never become preferences


def test_length_control_removes_pure_length_preference():
    rng = np.random.default_rng(0)
    resp = [["x" * int(a), "y" * int(b)] for a, b in rng.integers(5, 200, size=(60, 2))]
    pairs = labeling.make_pairs(_samples(resp), "all", iteration=0)
    v = labeling.judge_pairs(SimulatedJudge(verbosity=2.0, seed=0), pairs, orders="both",
                             seed=0)
    raw = labeling.preference_labels(labeling.apply_calibration(v, None))
    longer = (raw["len_1"] > raw["len_2"]) == (raw["p_judge"] > 0.5)
    assert longer.mean() == 1.0
    pipe = labeling.fit_calibration(v, CalibrationConfig(steps=["length"]))
    cal = labeling.preference_labels(labeling.apply_calibration(v, pipe))
    # The judge's log-ratio bias is not LC's tanh form, so the fit is not exact; what must go
    # is the systematic win of the longer response.
    picks_longer = ((cal["len_1"] > cal["len_2"]) == (cal["p_judge"] > 0.5)).mean()
    assert 0.2 < picks_longer < 0.7
    assert (cal["p_judge"] - 0.5).abs().mean() < (raw["p_judge"] - 0.5).abs().mean()


def test_training_pairs_margin_and_robust_flip_rate():
    labels = pd.DataFrame({"pair_id": ["a", "b", "c", "d"], "prompt": "q",
                           "response_1": ["r1", "s1", "t1", "u1"],
                           "response_2": ["r2", "s2", "t2", "u2"],
                           "p_judge": [0.9, 0.2, 0.55, np.nan]})
    rows = labeling.training_pairs(labels, min_margin=0.1)
    assert rows["chosen"].tolist() == ["r1", "s2"] and rows["rejected"].tolist() == ["r2", "s1"]
    assert labeling.label_smoothing_from(rows["p_chosen"]) == pytest.approx(0.15)
    assert labeling.label_smoothing_from([0.5, 0.5]) < 0.5  # robust DPO needs < 0.5
    with pytest.raises(ValueError, match="soft_labels must be"):
        labeling.training_pairs(labels, soft_labels="smooth")


def _pairs_with_gold(n: int, seed: int = 0) -> pd.DataFrame:
    """n pairs of distinct same-length texts; response_1 is gold-better in a random half."""
    rng = np.random.default_rng(seed)
    better_first = rng.random(n) < 0.5
    good, poor = [f"good{i:04d}" for i in range(n)], [f"poor{i:04d}" for i in range(n)]
    return pd.DataFrame({"pair_id": [f"p{i}" for i in range(n)], "prompt": "q",
                         "response_1": np.where(better_first, good, poor),
                         "response_2": np.where(better_first, poor, good),
                         "label": np.where(better_first, 1.0, 0.0)})


def _is_good(prompt: str, response: str) -> float:
    return float(response.startswith("good"))


@pytest.mark.parametrize("orders", ["random", "both"])
def test_position_bias_is_label_noise_with_one_random_order_and_none_with_both(orders):
    pairs = _pairs_with_gold(1500)
    accuracy, picks_first = [], []
    for offset in (0.0, 1.0, 2.5):
        judge = SimulatedJudge(position=offset, noise=1.0, strength=1.0, seed=3,
                               quality=_is_good)
        v = labeling.judge_pairs(judge, pairs, orders=orders, seed=5)
        lab = labeling.preference_labels(labeling.apply_calibration(v, None))
        accuracy.append(label_accuracy(lab["p_judge"], lab["label"])[0])
        from judgebench.rlaif.propagation import _position_channel

        picks_first.append(_position_channel(lab)["label_picks_first"])
    if orders == "random":
        # One order per pair: the offset decides more labels, so accuracy falls with it, and
        # the labels pick the first-shown response more often.
        assert accuracy[0] > accuracy[1] + 0.03 > accuracy[2] + 0.06
        assert abs(picks_first[0] - 0.5) < 0.04 and picks_first[2] > 0.75
    else:
        # Both orders, hard labels: the two-order mean keeps the content's sign, whatever the
        # offset (the noise draws differ per order, so accuracy moves only within noise).
        assert max(accuracy) - min(accuracy) < 0.03 and picks_first == [None] * 3


def test_sampled_soft_labels_follow_the_judges_probability():
    labels = pd.DataFrame({"pair_id": [f"p{i}" for i in range(4000)], "prompt": "q",
                           "response_1": "x", "response_2": "y",
                           "p_judge": np.repeat([0.95, 0.7, 0.55, 0.2], 1000)})
    rows = labeling.training_pairs(labels, soft_labels="sampled", seed=0)
    chosen_first = (rows["chosen"] == "x").to_numpy().reshape(4, 1000).mean(axis=1)
    # response_1 is chosen at the judge's rate: soft labels, not its sign
    assert np.allclose(chosen_first, [0.95, 0.7, 0.55, 0.2], atol=0.04)
    against = rows["sampled_against"].to_numpy().reshape(4, 1000).mean(axis=1)
    assert np.allclose(against, [0.05, 0.3, 0.45, 0.2], atol=0.04)
    hard = labeling.training_pairs(labels)
    assert (hard["chosen"] == "x").to_numpy().reshape(4, 1000).mean(axis=1).tolist() == \
        [1.0, 1.0, 1.0, 0.0]
    # seeded: the same seed draws the same labels
    again = labeling.training_pairs(labels, soft_labels="sampled", seed=0)
    assert again["chosen"].equals(rows["chosen"])


def test_bad_calibration_inputs(tmp_path):
    v = labeling.judge_pairs(SimulatedJudge(seed=0), labeling.make_pairs(
        _samples([["a", "b"]] * 30, [[1.0, 0.0]] * 30), "all", iteration=0), orders="both",
        seed=0)
    with pytest.raises(ValueError, match=r"could not be fitted.*fit_with_gold"):
        labeling.fit_calibration(v, CalibrationConfig(steps=["temperature"]))
    with pytest.raises(FileNotFoundError, match=r"pipeline file .* does not exist"):
        labeling.fit_calibration(v, CalibrationConfig(pipeline=str(tmp_path / "p.json")))


# -- label accuracy vs the judge's configured noise --------------------------------------------

def _qa_pairs(n_variants: int):
    """Pairs on the bundled QA tasks: the right answer (gold 1) vs a wrong one (gold 0.5)."""
    ts = load_task_set(TasksConfig(kinds=["qa"]), seed=0)
    rows = []
    for t in ts.train + ts.eval:
        for v in range(n_variants):
            right, wrong = f"{t.answer[0]} ({v}).", f"Nothing ({v})."
            first = v % 2 == 0  # alternate which slot holds the right answer
            rows.append({"slot": len(rows), "prompt": t.prompt, "task_id": t.task_id,
                         "r": (right, wrong) if first else (wrong, right)})
    samples = pd.DataFrame([
        {"slot": r["slot"], "task_id": r["task_id"], "prompt": r["prompt"], "candidate": c,
         "response": r["r"][c], "n_tokens": 1,
         "gold": float(ts.gold([r["prompt"]], [r["r"][c]])[0])}
        for r in rows for c in range(2)])
    return ts, labeling.make_pairs(samples, "all", iteration=0)


@pytest.mark.parametrize("noise, orders", [(1.0, "random"), (2.0, "random"), (2.0, "both")])
def test_label_accuracy_matches_configured_noise(noise, orders):
    ts, pairs = _qa_pairs(n_variants=40)
    gold_gap = (pairs["gold_1"] - pairs["gold_2"]).abs()
    assert (gold_gap == 0.5).all()  # every pair: right answer (1.0) vs wrong (0.5)
    cfg = loads(f"[judge]\nspec = 'simulated:noise={noise},seed=7'")
    judge = build_judge(cfg, ts)  # quality = the task verifier, strength 2
    v = labeling.judge_pairs(judge, pairs, orders=orders, seed=0)
    labels = labeling.preference_labels(labeling.apply_calibration(v, None))
    acc, n = label_accuracy(labels["p_judge"], labels["label"])
    margin = 2.0 * 0.5  # strength * gold difference: the logit a noiseless judge reports
    if orders == "random":
        expected = norm.cdf(margin / noise)  # one order: correct iff margin + noise*eps > 0
    else:
        # Two orders averaged: correct iff sigmoid(m + s e1) + sigmoid(m - s e2) > 1.
        e = np.random.default_rng(0).standard_normal((2, 1_000_000))
        expected = np.mean(expit(margin + noise * e[0]) + expit(margin - noise * e[1]) > 1.0)
    se = np.sqrt(expected * (1 - expected) / n)
    assert n == len(pairs) > 1000
    assert abs(acc - expected) < 4 * se, (acc, expected, se)


def test_name_based_self_preference_never_fires_inside_the_loop():
    # Every pair the loop makes holds two responses of the one policy: a judge that favours a
    # model by name cannot tilt its labels (its style still can, through the texts).
    pairs = labeling.make_pairs(_samples([["a", "bb", "ccc", "dddd"]] * 5), "all", iteration=2)
    assert set(pairs["model_1"]) == set(pairs["model_2"]) == {"policy"}
    plain = SimulatedJudge(noise=1.0, seed=0)
    partial = SimulatedJudge(noise=1.0, seed=0, self_preference=3.0, self_model="policy")
    a = labeling.judge_pairs(plain, pairs, orders="both", seed=0)
    b = labeling.judge_pairs(partial, pairs, orders="both", seed=0)
    assert np.allclose(a["p_1"], b["p_1"])


def test_a_wrapped_simulated_judge_keeps_the_verifier_gold_term():
    # biased:(simulated…) in the loop: the planted dose sits on a judge that still knows the
    # right answer. Without the verifier, its labels would be coin flips on these pairs.
    ts, pairs = _qa_pairs(n_variants=40)
    bare = build_judge(loads("[judge]\nspec = 'simulated:noise=0.5,seed=7'"), ts)
    wrapped = build_judge(loads(
        "[judge]\nspec = 'biased:(simulated:noise=0.5,seed=7),listness=1.0'"), ts)
    blind = build_judge(loads(
        "[judge]\nspec = 'biased:(simulated:noise=0.5,seed=7),listness=1.0'\n"
        "quality = 'none'"), ts)
    accs = {}
    for name, judge in {"bare": bare, "wrapped": wrapped, "blind": blind}.items():
        v = labeling.judge_pairs(judge, pairs, orders="both", seed=0)
        labels = labeling.preference_labels(labeling.apply_calibration(v, None))
        accs[name] = label_accuracy(labels["p_judge"], labels["label"])[0]
    # No response here is a list, so the listness dose changes no label.
    assert accs["wrapped"] == pytest.approx(accs["bare"])
    assert accs["wrapped"] > 0.85 and abs(accs["blind"] - 0.5) < 0.1, accs
