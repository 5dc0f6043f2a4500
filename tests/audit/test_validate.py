"""judgebench validate: planted position/verbosity biases come back, and a broken estimator fails."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import judgebench.audit.validate as validate_mod
from judgebench.audit.validate import planted_judge, validate_judge
from judgebench.judges.base import Judge, JudgeOutput
from judgebench.judges.simulated import SimulatedJudge


def _pairs(n: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    words = "alpha beta gamma delta epsilon zeta eta theta iota kappa".split()

    def text(k: int) -> str:
        return " ".join(rng.choice(words, 4 * k))

    return pd.DataFrame({
        "pair_id": [f"q{i}" for i in range(n)], "prompt": [f"Question {i % 20}?" for i in range(n)],
        "response_1": [text(int(k)) for k in rng.integers(1, 12, n)],
        "response_2": [text(int(k)) for k in rng.integers(1, 12, n)],
        "label": rng.choice([1.0, 2.0], n)})


def _rows(res: dict, bias: str) -> list[dict]:
    return [r for r in res["recovery"] if r["bias"] == bias]


def test_simulated_judge_recovers_every_planted_dose(tmp_path):
    # The judge has biases of its own (position 0.4, verbosity 0.3) and noise: they cancel.
    judge = SimulatedJudge(position=0.4, verbosity=0.3, noise=1.0, seed=0)
    res = validate_judge(_pairs(), judge, n_boot=100, out_dir=tmp_path, progress=False)
    assert res["all_covered"] and res["n_pairs"] == 60
    pos, verb = _rows(res, "position"), _rows(res, "verbosity")
    assert sorted({r["planted"] for r in pos}) == [0.0, 0.5, 1.0]
    assert sorted({r["planted"] for r in verb}) == [0.0, 1.0]
    for r in res["recovery"]:
        assert r["estimate"] == pytest.approx(r["planted"], abs=1e-6)
        assert r["ci"][0] - 1e-6 <= r["planted"] <= r["ci"][1] + 1e-6 and r["n"] == 60
    # The audit's own estimate on the unplanted copy is the judge's position bias (plus the
    # mean of its noise: SE ~ 0.09 on 60 pairs).
    assert pos[0]["unplanted_estimate"] == pytest.approx(0.4, abs=0.3)
    # Each bias is also planted beside the other, which must not leak into its estimate.
    assert {(r["planted"], r["other_planted"]) for r in pos} >= {(1.0, 1.0), (0.5, 1.0)}
    saved = json.loads((tmp_path / "validate.json").read_text())
    assert saved["recovery"] == res["recovery"]
    assert len(pd.read_csv(tmp_path / "validate.csv")) == len(res["recovery"])


def test_a_broken_estimator_fails_validation(monkeypatch):
    # Sign error in the offset (the quality term no longer cancels; the offset does).
    monkeypatch.setattr(validate_mod, "offset_logits",
                        lambda a, b: (np.log(a / (1 - a)) - np.log(b / (1 - b))) / 2)
    res = validate_judge(_pairs(), SimulatedJudge(noise=1.0), n_boot=50, progress=False)
    assert not res["all_covered"]
    assert not any(r["covers"] for r in _rows(res, "position") if r["planted"])
    assert all(r["covers"] for r in _rows(res, "verbosity"))
    # A margin in probability units instead of logits: the verbosity slope is off.
    monkeypatch.undo()
    monkeypatch.setattr(validate_mod, "logit_margin", lambda a, b: (a + 1 - b) / 2)
    res = validate_judge(_pairs(), SimulatedJudge(noise=1.0), n_boot=50, progress=False)
    assert not any(r["covers"] for r in _rows(res, "verbosity") if r["planted"])


def test_a_saturated_judge_is_reported_as_not_recovered():
    # Over-confident (P within 1e-4 of 0/1): the audit's offset clips and misses the plant.
    judge = SimulatedJudge(noise=0.5, temperature=20.0, seed=0)
    res = validate_judge(_pairs(), judge, n_boot=50, progress=False)
    top = [r for r in _rows(res, "position") if r["planted"] == 1.0 and not r["other_planted"]]
    assert not top[0]["covers"] and top[0]["estimate"] < 0.5


class _Flaky(Judge):
    """A judge that fails on every third pair (both orders)."""

    cacheable = False

    def config(self):
        return {"kind": "flaky"}

    def _judge_batch(self, batch):
        p = np.array([np.nan if int(i[1:]) % 3 == 0 else 0.6 for i in batch.pair_ids])
        return JudgeOutput(p_first=p, error=[None if np.isfinite(x) else "timeout" for x in p])


def test_failures_stay_failures_and_are_left_out():
    res = validate_judge(_pairs(), _Flaky(), n_boot=50, progress=False)
    assert res["n_failed"] == 40 and res["all_covered"]
    assert {r["n"] for r in res["recovery"]} == {40}
    # A planted judge never turns a failure into a verdict.
    j = planted_judge(_Flaky(), position=1.0, verbosity=1.0)
    out = j.judge(_pairs(6), progress=False)
    assert out["failed"].sum() == 4 and out.loc[out["failed"], "p_first"].isna().all()


def test_errors():
    with pytest.raises(ValueError, match="position_doses must be a non-empty tuple"):
        validate_judge(_pairs(5), SimulatedJudge(), position_doses=(), progress=False)
    with pytest.raises(ValueError, match="needs judge=JUDGE_OR_SPEC"):
        validate_judge(_pairs(5), None, progress=False)
    with pytest.raises(ValueError, match="bias must be one of"):
        validate_mod.recovery(pd.DataFrame(), pd.DataFrame(), _pairs(5), "tone", seed=0)


def test_cli_validate_writes_validate_json(tmp_path, capsys):
    from judgebench.cli import main

    path = tmp_path / "pairs.jsonl"
    _pairs(30).to_json(path, orient="records", lines=True)
    rc = main(["validate", "--pairs", str(path), "--judge", "simulated:noise=1,seed=0",
               "--out", str(tmp_path / "v"), "--n-boot", "50"])
    assert rc == 0
    assert "covers" in capsys.readouterr().out
    assert json.loads((tmp_path / "v" / "validate.json").read_text())["all_covered"]
