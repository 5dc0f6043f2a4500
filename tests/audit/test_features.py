"""Feature audit: the injected β is recovered with coverage, β = 0 is not flagged."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from judgebench.audit import run_audit
from judgebench.audit.features import (
    features_table,
    logit_margin,
    observational_slope,
    probe_effect,
    run_feature_probes,
)
from judgebench.judges.simulated import SimulatedJudge
from judgebench.verdicts import load_table

_WORDS = ["alpha", "beta", "gamma", "delta", "omega", "river", "stone"]


def _pairs(n: int, seed: int, tics: bool = False) -> pd.DataFrame:
    """Plain word-salad pairs; with ``tics``, each response gets 0-2 'delve's at random."""
    rng = np.random.default_rng(seed)

    def text() -> str:
        words = list(rng.choice(_WORDS, rng.integers(3, 12)))
        for _ in range(rng.integers(0, 3) if tics else 0):
            words.insert(rng.integers(0, len(words) + 1), "delve")
        return " ".join(words) + "."

    return pd.DataFrame({"pair_id": [f"p{i}" for i in range(n)],
                         "prompt": [f"q{i}" for i in range(n)],
                         "response_1": [text() for _ in range(n)],
                         "response_2": [text() for _ in range(n)],
                         "label": rng.choice([1.0, 2.0], n)})


def _effect(tab: pd.DataFrame, name: str = "lexical", dose: str = "all") -> pd.Series:
    return tab[(tab["measure"] == f"features.{name}.effect_logit") & (tab["dose"] == dose)].iloc[0]


def test_pure_estimators():
    m = logit_margin(np.array([0.9, np.nan]), np.array([0.1, 0.2]))
    assert m[0] == pytest.approx(np.log(9)) and m[1] == pytest.approx(np.log(4))
    p12, p21 = 1 / (1 + np.exp(-np.array([2.0, 4.0]))), 1 / (1 + np.exp(np.array([2.0, 4.0])))
    est = probe_effect(p12, p21, np.array([1.0, 2.0]), np.array(["a", "a"]), n_boot=0, seed=0)
    assert est.estimate == pytest.approx(2.0) and est.n == 1  # one source pair
    assert np.isnan(observational_slope(p12, p21, np.zeros(2), n_boot=0, seed=0).estimate)


@pytest.mark.parametrize("beta", [1.0, 0.0])
def test_injected_beta_is_recovered_with_coverage_and_zero_is_not_flagged(beta):
    # 40 seeded repeats, each a fresh noisy judge (noise 1, position and verbosity on too)
    # probed on 40 pairs at doses 1, 2, 3: the 95% interval must cover the truth >= 90%.
    covered, estimates = 0, []
    for seed in range(40):
        judge = SimulatedJudge(lexical=beta, noise=1.0, position=0.5, verbosity=0.5, seed=seed)
        _, tab = run_feature_probes(judge, _pairs(40, seed), ["lexical"], seed=seed,
                                    n_boot=200)
        row = _effect(tab)
        covered += row["ci_low"] <= beta <= row["ci_high"]
        estimates.append(row["estimate"])
        assert set(tab["dose"]) == {"all", "1", "2", "3"}
    assert covered >= 36, covered  # measured: 38 of 40 for both β = 1 and β = 0
    assert np.mean(estimates) == pytest.approx(beta, abs=0.03)


def test_win_rate_follows_the_dose():
    judge = SimulatedJudge(tone=1.0, noise=2.0, seed=0)
    _, tab = run_feature_probes(judge, _pairs(60, 0), ["tone"], seed=0, n_boot=50)
    win = tab[tab["measure"] == "features.tone.win_rate"].set_index("dose")["estimate"]
    assert win["1"] < win["2"] < win["3"] and win["1"] > 0.6
    # format rewrites ignore the dose: one dose only
    _, tab = run_feature_probes(SimulatedJudge(format=2.0), _pairs(10, 0), ["format"], seed=0,
                                n_boot=0)
    assert set(tab["dose"]) == {"all", "1"}
    assert _effect(tab, "format")["estimate"] == pytest.approx(2.0)


def test_observational_slope_adjusts_for_gold_and_length():
    judge = SimulatedJudge(lexical=1.0, verbosity=1.0, noise=0.5, seed=1)
    v = judge.judge(_pairs(400, 1, tics=True), progress=False)
    tab = features_table(v, ["lexical", "tone"], n_boot=200, seed=0).set_index("measure")
    slope = tab.loc["features.lexical.observational_slope"]
    assert slope["ci_low"] <= 1.0 <= slope["ci_high"] and slope["ci_high"] - slope["ci_low"] < 0.3
    assert slope["covariates"] == "label+log_length_ratio"
    assert tab.loc["features.lexical.p_prefer_feature", "estimate"] > 0.6
    assert 0.35 < tab.loc["features.lexical.gold_prefer_feature", "estimate"] < 0.65
    # tone never appears in these texts: reported, not fitted to zero
    assert "never fires" in tab.loc["features.tone.observational_slope", "note"]


def test_run_audit_writes_features(tmp_path):
    judge = SimulatedJudge(lexical=1.0, noise=0.3, seed=0)
    res = run_audit(judge=judge, pairs=_pairs(30, 2, tics=True), out_dir=tmp_path, n_boot=50,
                    seed=0, probe_sample=20, features=["lexical", "tone"])
    feats = res["features"]
    assert feats["lexical"]["effect_logit"]["ci"][0] > 0.5
    assert feats["lexical"]["observational_slope"]["n"] == 30
    assert "never fires" in feats["skipped"]["tone.observational_slope"]
    lo, hi = feats["tone"]["effect_logit"]["ci"]
    assert lo <= 0.0 <= hi  # the judge has no tone bias: not flagged
    assert res["settings"]["features"] == ["lexical", "tone"]
    assert json.loads((tmp_path / "audit.json").read_text())["features"] == \
        json.loads(json.dumps(feats))
    probes = load_table(tmp_path / "feature_probe_verdicts.parquet")
    assert set(probes["probe"]) == {"feature:lexical", "feature:tone"}
    assert {"dose", "mean_dfeat"} <= set(pd.read_csv(tmp_path / "features.csv").columns)
    # verdicts only, no judge: observational measures, probes skipped with a reason
    res = run_audit(verdicts=load_table(tmp_path / "verdicts.parquet"), n_boot=20,
                    features=["lexical"])
    assert "effect_logit" not in res["features"]["lexical"]
    assert res["features"]["skipped"]["probes"]
    assert "features" not in run_audit(verdicts=load_table(tmp_path / "verdicts.parquet"),
                                       n_boot=20, features=())


def test_a_raising_detector_names_the_feature_and_pair():
    def boom(text: str) -> float:
        raise RuntimeError("bad detector")

    v = SimulatedJudge().judge(_pairs(5, 0), progress=False)
    with pytest.raises(ValueError, match=r"feature 'boom' raised RuntimeError.*pair 'p0'"):
        features_table(v, {"boom": boom}, n_boot=0, seed=0)
    with pytest.raises(ValueError, match="Unknown feature 'nope'"):
        features_table(v, ["nope"], n_boot=0, seed=0)
