"""CALM probes: which response is edited, slot-aware injection, robustness against known judges."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from judgebench.audit.perturb import EDITS
from judgebench.audit.probes import (
    baseline_loser,
    judge_probe_pairs,
    probe_pairs,
    probe_table,
)
from judgebench.judges.simulated import SimulatedJudge


def _pairs(n: int = 30, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "pair_id": [f"q{i}" for i in range(n)], "prompt": [f"Question {i}?" for i in range(n)],
        "response_1": ["An answer. " * int(k) for k in rng.integers(1, 6, n)],
        "response_2": ["Another answer. " * int(k) for k in rng.integers(1, 6, n)],
        "label": rng.choice([1.0, 2.0], n)})


def test_baseline_loser_is_the_response_the_judge_did_not_prefer():
    v = pd.DataFrame({"pair_id": ["a", "a", "b", "b", "c", "c"], "judge": "j",
                      "order": ["12", "21"] * 3,
                      # a: r1 wins both; b: r2 wins both; c: split -> tie -> 2
                      "p_first": [0.9, 0.1, 0.2, 0.8, 0.9, 0.9],
                      "failed": False})
    assert baseline_loser(v).to_dict() == {"a": 2, "b": 1, "c": 2}


def test_injection_names_the_slot_the_edited_response_occupies():
    pairs = _pairs(2)
    out = probe_pairs(pairs, ["injection"], target={"q0": 1, "q1": 2})
    got = {(r.source_pair_id, r.probe_order): (r.response_1, r.response_2)
           for r in out.itertuples()}
    # q0 edits response_1: shown first (A) in order 12, second (B) in order 21.
    assert got["q0", "12"][0].endswith("answer A.") and got["q0", "21"][0].endswith("answer B.")
    # q1 edits response_2: second (B) in order 12, first (A) in order 21.
    assert got["q1", "12"][1].endswith("answer B.") and got["q1", "21"][1].endswith("answer A.")
    assert set(out["edited"]) == {1, 2}
    assert out["pair_id"].is_unique


def test_probe_pairs_keep_gold_and_edit_only_the_target():
    pairs = _pairs(5)
    out = probe_pairs(pairs, ["authority", "bandwagon", "sentiment"], target="response_1")
    merged = out.merge(pairs, left_on="source_pair_id", right_on="pair_id", suffixes=("", "_o"))
    assert (merged["response_2"] == merged["response_2_o"]).all()
    assert (merged["response_1"] != merged["response_1_o"]).all()
    assert (merged["label"] == merged["label_o"]).all()
    assert (out["probe_order"] == "both").all()


def test_a_judge_blind_to_length_is_fully_robust():
    # No noise, no verbosity: P(first) depends on gold and position only, which no cue changes.
    pairs = _pairs()
    judge = SimulatedJudge(position=0.5, noise=0.0, seed=0)
    base = judge.judge(pairs, progress=False)
    probed = probe_pairs(pairs, tuple(EDITS), target=baseline_loser(base))
    t = probe_table(base, judge_probe_pairs(judge, probed), n_boot=50, seed=0)
    rob = t[t.measure.str.endswith("robustness")]
    assert len(rob) == len(EDITS) and (rob["estimate"] == 1.0).all()
    assert (rob["n"] == len(pairs)).all()


def test_a_verbose_judge_is_moved_by_cues_that_lengthen_the_loser():
    pairs = _pairs()
    judge = SimulatedJudge(verbosity=3.0, noise=0.0, strength=0.5, seed=0)
    base = judge.judge(pairs, progress=False)
    probed = probe_pairs(pairs, tuple(EDITS), target=baseline_loser(base))
    pv = judge_probe_pairs(judge, probed)
    # Injection pairs are judged once, in their own order; the others in both orders.
    assert len(pv) == len(pairs) * (2 * 3 + 2)
    t = probe_table(base, pv, n_boot=100, seed=0).set_index("measure")
    assert t.loc["probes.authority.robustness", "estimate"] < 0.9
    assert t.loc["probes.authority.edited_win_rate", "estimate"] > 0.1


def test_failed_probe_verdicts_are_excluded():
    pairs = _pairs(10)
    judge = SimulatedJudge(noise=0.0, seed=0)
    base = judge.judge(pairs, progress=False)
    pv = judge_probe_pairs(judge, probe_pairs(pairs, ["bandwagon"], target=baseline_loser(base)))
    pv.loc[pv.index[:5], ["p_first", "p_1"]] = np.nan
    pv.loc[pv.index[:5], "failed"] = True
    t = probe_table(base, pv, n_boot=0, seed=0).set_index("measure")
    assert t.loc["probes.bandwagon.robustness", "estimate"] == 1.0
    assert t.loc["probes.bandwagon.robustness", "n"] == 10


def test_errors():
    pairs = _pairs(3)
    with pytest.raises(ValueError, match=r"Unknown probe\(s\) \['flattery'\]"):
        probe_pairs(pairs, ["flattery"])
    with pytest.raises(ValueError, match="target must give 1 or 2 for every pair_id"):
        probe_pairs(pairs, ["bandwagon"], target={"q0": 1})
    with pytest.raises(ValueError, match="target must be 'response_1', 'response_2'"):
        probe_pairs(pairs, ["bandwagon"], target="loser")
    v = SimulatedJudge(seed=0).judge(pairs, progress=False)
    two = pd.concat([v, v.assign(judge="other")])
    with pytest.raises(ValueError, match="one judge"):
        baseline_loser(two)
    with pytest.raises(ValueError, match="probe_verdicts lacks"):
        probe_table(v, v, seed=0)
