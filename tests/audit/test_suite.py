"""run_audit end to end: the documented audit.json, the tables, skips, failures and the CLI."""

from __future__ import annotations

import json
import sys
import types

import numpy as np
import pandas as pd
import pytest

from judgebench.audit.perturb import EDITS
from judgebench.audit.suite import run_audit
from judgebench.judges.simulated import SimulatedJudge, simulate_verdicts
from judgebench.verdicts import load_table, save_table

REQUIRED = {
    "position": ["consistency", "p_first", "offset_logit", "conflict_rate",
                 "same_position_preferred"],
    "verbosity": ["p_prefer_longer", "length_slope", "padding_win_rate"],
    "self_preference": ["delta"],
    "agreement": ["accuracy", "kappa"],
}


def _pairs(n: int = 40, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu".split()

    def text(k: int) -> str:
        return " ".join(" ".join(rng.choice(words, 7)).capitalize() + "." for _ in range(k))

    return pd.DataFrame({
        "pair_id": [f"q{i}" for i in range(n)], "prompt": [f"Question {i}?" for i in range(n)],
        "response_1": [text(int(k)) for k in rng.integers(1, 6, n)],
        "response_2": [text(int(k)) for k in rng.integers(1, 6, n)],
        "label": rng.choice([1.0, 2.0], n), "model_1": rng.choice(["me", "other"], n),
        "model_2": rng.choice(["me", "other"], n)})


def _is_estimate(obj: object) -> bool:
    return (isinstance(obj, dict) and {"estimate", "ci", "n"} <= set(obj)
            and isinstance(obj["n"], int) and len(obj["ci"]) == 2)


def test_run_audit_with_a_judge_writes_every_documented_measure(tmp_path):
    judge = SimulatedJudge(position=0.5, verbosity=1.0, self_preference=1.0, self_model="me",
                           noise=0.3, seed=0)
    res = run_audit(judge=judge, pairs=_pairs(), out_dir=tmp_path, n_boot=100, seed=0,
                    judge_model="me")
    on_disk = json.loads((tmp_path / "audit.json").read_text())
    assert on_disk == json.loads(json.dumps(res.to_dict()))  # AuditResult: to_dict() is audit.json
    for group, names in REQUIRED.items():
        for name in names:
            assert _is_estimate(res[group][name]), f"{group}.{name}"
    for probe in EDITS:
        assert _is_estimate(res["probes"][probe]["robustness"]), probe
    assert res["n_verdicts"] == 80 and res["n_failed"] == 0 and res["judge"] == "simulated"
    assert res["skipped"] == {}
    assert res["position"]["offset_logit"]["ci"][0] > 0  # injected position 0.5
    assert res["verbosity"]["padding_win_rate"]["estimate"] > 0.5  # injected verbosity
    for name in ("measures.csv", "position.csv", "verbosity_bins.csv", "padding.csv",
                 "probes.csv", "agreement.csv", "self_preference.csv", "verdicts.parquet",
                 "probe_verdicts.parquet"):
        assert (tmp_path / name).exists(), name
    probes = load_table(tmp_path / "probe_verdicts.parquet")
    assert set(probes["probe"]) == {"padding", *EDITS, "placebo", "repeat"}
    assert set(probes.loc[probes["identical"], "probe"]) == {*EDITS, "placebo"}
    dose = pd.read_csv(tmp_path / "padding.csv")
    assert {"50", "200", "800", "all"} <= set(dose["added_chars"].astype(str))
    assert len(load_table(tmp_path / "verdicts.parquet")) == 80


def test_one_order_and_no_gold_skip_with_reasons():
    v = simulate_verdicts(100, seed=0, orders=("12",)).drop(columns="label")
    res = run_audit(verdicts=v, n_boot=20)
    assert res["position"] == {} and res["agreement"] == {}
    for name in REQUIRED["position"]:
        assert "needs both orders" in res["skipped"][f"position.{name}"]
    assert "no gold labels" in res["skipped"]["agreement.accuracy"]
    assert "no judge" in res["skipped"]["probes"]
    assert "judge_model not given" in res["skipped"]["self_preference.delta"]
    assert _is_estimate(res["verbosity"]["p_prefer_longer"])


def test_failed_verdicts_are_counted_and_excluded():
    v = simulate_verdicts(100, seed=0)
    v.loc[v.index[:10], ["p_first", "p_1"]] = np.nan
    v.loc[v.index[:10], "failed"] = True
    res = run_audit(verdicts=v, n_boot=20, probes=False)
    assert res["n_failed"] == 10 and res["n_verdicts"] == 200
    assert res["position"]["consistency"]["n"] == 90
    assert res["agreement"]["accuracy_12"]["n"] == 90
    assert res["skipped"]["probes"] == "probes=False"


def test_several_judges_get_one_block_each():
    v = pd.concat([simulate_verdicts(80, seed=0, judge="a", position=1.0),
                   simulate_verdicts(80, seed=1, judge="b")], ignore_index=True)
    res = run_audit(verdicts=v, n_boot=20, judge_model="model-a")
    assert set(res["judges"]) == {"a", "b"} and "position" not in res
    assert res["n_verdicts"] == 320 and res["n_failed"] == 0
    assert res["judges"]["a"]["position"]["offset_logit"]["estimate"] > 0.5
    assert _is_estimate(res["judges"]["b"]["self_preference"]["delta"])


def test_judge_spec_string_is_resolved_lazily(monkeypatch):
    fake = types.ModuleType("judgebench.judges.spec")
    fake.load_judge = lambda spec: SimulatedJudge(position=float(spec.split("=")[1]), seed=0)
    monkeypatch.setitem(sys.modules, "judgebench.judges.spec", fake)
    res = run_audit(judge="simulated:position=1.5", pairs=_pairs(30), n_boot=50, probes=False)
    assert res["position"]["offset_logit"]["estimate"] == pytest.approx(1.5)


def test_verdicts_with_texts_and_a_judge_run_the_probes_without_pairs(tmp_path):
    judge = SimulatedJudge(verbosity=1.0, noise=0.0, seed=0)
    verdicts = judge.judge(_pairs(20), progress=False)
    res = run_audit(verdicts=verdicts, judge=judge, n_boot=50)
    assert _is_estimate(res["probes"]["injection"]["robustness"])
    assert _is_estimate(res["verbosity"]["padding_win_rate"])


def test_pairs_add_missing_columns_to_a_verdict_file(tmp_path):
    pairs = _pairs(30)
    v = SimulatedJudge(seed=0).judge(pairs, progress=False).drop(columns=["label"])
    path = save_table(v, tmp_path / "v.parquet")
    res = run_audit(verdicts=path, pairs=pairs, n_boot=20, probes=False)
    assert _is_estimate(res["agreement"]["accuracy"])


def test_cli_audit_calls_run_audit(tmp_path, capsys):
    from judgebench.cli import main

    path = save_table(simulate_verdicts(60, seed=0), tmp_path / "v.parquet")
    rc = main(["audit", "--verdicts", str(path), "--out", str(tmp_path / "out"),
               "--n-boot", "30", "--no-probes", "--json"])
    assert rc == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["position"]["consistency"]["n"] == 60
    assert (tmp_path / "out" / "audit.json").exists()


def test_errors(tmp_path):
    with pytest.raises(ValueError, match="needs verdicts=TABLE_OR_FILE, or judge=JUDGE"):
        run_audit()
    with pytest.raises(ValueError, match="needs pairs=TABLE_OR_FILE"):
        run_audit(judge=SimulatedJudge(seed=0))
    with pytest.raises(TypeError, match="verdicts must be a DataFrame or a path"):
        run_audit(verdicts=123)
    with pytest.raises(TypeError, match="judge must be a Judge or a spec string"):
        run_audit(judge=42, pairs=_pairs(3))
    with pytest.raises(FileNotFoundError, match="No table at"):
        run_audit(verdicts=tmp_path / "missing.parquet")
    bare = simulate_verdicts(10, seed=0)  # no prompt/response texts to edit
    with pytest.raises(ValueError, match="need the pair texts"):
        run_audit(verdicts=bare, judge=SimulatedJudge(seed=0, name="simulated"))
