"""Decisions: p-values, BH q-values, McNemar, MDE, noise baselines, flags and --fail-on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest, false_discovery_control

from judgebench.audit.decisions import (
    FAIL_EXIT,
    benjamini_hochberg,
    check_fail_on,
    decide,
    matching_flags,
    mcnemar_position,
    minimum_detectable_effect,
    wald_p_value,
)
from judgebench.audit.probes import identical_table
from judgebench.audit.suite import run_audit
from judgebench.cli import main
from judgebench.judges.simulated import simulate_verdicts

PAIRS = Path(__file__).resolve().parents[2] / "data" / "pairs.jsonl"


def test_bh_q_values_match_scipy_and_skip_nan():
    p = np.array([0.001, 0.2, 0.03, np.nan, 0.04, 0.9, 0.011])
    q = benjamini_hochberg(p)
    ok = np.isfinite(p)
    np.testing.assert_allclose(q[ok], false_discovery_control(p[ok], method="bh"))
    assert np.isnan(q[3])
    assert np.isnan(benjamini_hochberg(np.array([np.nan]))).all()


def test_wald_p_and_mde_by_hand():
    assert wald_p_value(0.5 + 1.959964 * 0.1, 0.5, 0.1) == pytest.approx(0.05, abs=1e-6)
    assert wald_p_value(0.5, 0.5, 0.0) == 1.0 and wald_p_value(0.7, 0.5, 0.0) == 0.0
    assert np.isnan(wald_p_value(0.7, 0.5, float("nan")))
    # z_0.975 + z_0.8 = 1.960 + 0.842 = 2.802
    assert minimum_detectable_effect(1.0) == pytest.approx(2.8016, abs=1e-4)


def test_mcnemar_is_an_exact_binomial_test_on_the_discordant_pairs():
    # 6 pairs first-first, 2 second-second, 3 consistent, 1 with a tie in one order.
    p12 = np.array([0.9] * 6 + [0.2] * 2 + [0.8] * 3 + [0.5])
    p21 = np.array([0.7] * 6 + [0.4] * 2 + [0.3] * 3 + [0.9])
    r = mcnemar_position(p12, p21)
    assert (r["first_first"], r["second_second"], r["n"]) == (6, 2, 8)
    assert r["p_value"] == pytest.approx(binomtest(6, 8, 0.5).pvalue)
    assert r["estimate"] == 0.75 and r["ci_low"] < 0.75 < r["ci_high"]
    assert mcnemar_position(np.array([0.9]), np.array([0.1]))["n"] == 0  # consistent only


def test_decide_flags_by_q_value_and_calls_small_audits_underpowered():
    block = {"position": {"p_first": {"estimate": 0.53, "se": 0.01},        # z = 3
                          "offset_logit": {"estimate": 0.05, "se": 0.2}},   # MDE 0.56 > 0.2
             "verbosity": {"length_slope": {"estimate": 0.01, "se": 0.02}},  # MDE 0.056 < 0.2
             "agreement": {"accuracy": {"estimate": 0.8, "se": 0.01}}}      # not a bias test
    assert decide(block) == ["position.p_first"]
    assert block["position"]["p_first"]["verdict"] == "flagged"
    assert block["position"]["offset_logit"]["verdict"] == "underpowered"
    assert block["verbosity"]["length_slope"]["verdict"] == "not detected"
    assert "p_value" not in block["agreement"]["accuracy"]
    q = block["position"]["p_first"]["q_value"]
    assert q == pytest.approx(false_discovery_control(
        [block[g][m]["p_value"] for g, m in (("position", "p_first"),
                                             ("position", "offset_logit"),
                                             ("verbosity", "length_slope"))])[0])


def test_flags_from_a_verdict_table_find_the_injected_position_bias_only():
    biased = run_audit(simulate_verdicts(400, seed=1, position=0.6), n_boot=300)
    fair = run_audit(simulate_verdicts(400, seed=1), n_boot=300)
    assert {"position.p_first", "position.offset_logit", "position.mcnemar"} <= \
        set(biased["flags"])
    assert not [f for f in fair["flags"] if f.startswith("position")]
    mc = biased["position"]["mcnemar"]
    assert mc["first_first"] > mc["second_second"] and mc["p_value"] < 1e-3
    entry = fair["position"]["p_first"]
    assert {"null", "p_value", "q_value", "mde", "verdict", "se"} <= set(entry)
    assert entry["null"] == 0.5 and entry["mde"] == pytest.approx(2.8016 * entry["se"], 1e-3)
    # Existing keys stay; observational measures say so.
    assert {"estimate", "ci", "n", "n_boot_failed", "method"} <= set(entry)
    assert fair["verbosity"]["p_prefer_longer"]["note"].startswith("observational")
    assert "adjusted for the gold label" in fair["verbosity"]["length_slope"]["note"]


def test_tiny_audit_is_underpowered_not_clean():
    res = run_audit(simulate_verdicts(20, seed=0, position=0.2), n_boot=200)
    assert res["position"]["offset_logit"]["verdict"] == "underpowered"
    assert res["position"]["offset_logit"]["mde"] > 0.2


def test_noise_only_judge_reads_swayed_raw_but_not_after_the_placebo_baseline():
    # Issue 14: a noise-only judge (no cue sensitivity) read 0.71-0.74 CALM robustness.
    res = run_audit(judge="simulated:noise=2.0,seed=0", pairs=PAIRS, n_boot=300,
                    progress=False)
    for edit, m in res["probes"].items():
        assert 0.70 <= m["robustness"]["estimate"] <= 0.75, edit
        corrected = m["robustness_corrected"]
        assert corrected["ci"][0] <= 1.0 <= corrected["ci"][1] + 0.02, edit
        assert corrected["verdict"] != "flagged" and m["identical_win_rate"]["verdict"] != \
            "flagged", edit
    assert 0.70 <= res["noise"]["placebo"]["robustness"]["estimate"] <= 0.78
    assert res["noise"]["repeat"]["robustness"]["estimate"] == 1.0  # deterministic judge
    assert not [f for f in res["flags"] if f.startswith("probes")]


def test_a_cue_sensitive_judge_is_flagged_against_the_baseline():
    # The CALM edits add length and the placebo does not: a verbosity judge is swayed by them.
    res = run_audit(judge="simulated:noise=2.0,verbosity=1.0,seed=0", pairs=PAIRS,
                    n_boot=300, probe_sample=100, progress=False)
    for edit in ("authority", "sentiment"):
        assert res["probes"][edit]["robustness_corrected"]["ci"][1] < 0.95
        assert f"probes.{edit}.robustness_corrected" in res["flags"]
        assert f"probes.{edit}.identical_win_rate" in res["flags"]


def test_identical_win_rate_counts_a_tie_as_half():
    v = pd.DataFrame({"judge": "j", "source_pair_id": ["a", "a", "b", "b"],
                      "probe": "bandwagon", "order": ["12", "21"] * 2,
                      "p_1": [0.5, 0.5, 0.1, 0.1], "failed": [False, False, False, True]})
    t = identical_table(v, n_boot=0, seed=0)
    # a: two ties (1/2 each); b: one valid verdict won by the copy (response_2).
    assert t["estimate"].iloc[0] == pytest.approx(2.0 / 3.0)
    assert t["measure"].iloc[0] == "probes.bandwagon.identical_win_rate"


def test_matching_and_checking_fail_on_names():
    flags = ["position.p_first", "probes.injection.robustness_corrected"]
    assert matching_flags(flags, ["any"]) == flags
    assert matching_flags(flags, ["probes.injection"]) == flags[1:]
    assert matching_flags(flags, ["verbosity", "position.offset_logit"]) == []
    assert check_fail_on(["position", "", "probes.*.identical_win_rate"]) == \
        ["position", "probes.*.identical_win_rate"]
    with pytest.raises(ValueError, match="--fail-on 'postion' is not a flag; choose from"):
        check_fail_on(["postion"])


def test_cli_fail_on_exits_3_when_a_named_flag_is_raised(tmp_path, capsys):
    v = tmp_path / "v.parquet"
    simulate_verdicts(300, seed=0, position=0.8).to_parquet(v)
    args = ["audit", "--verdicts", str(v), "--out", str(tmp_path / "a"), "--n-boot", "200"]
    assert main([*args, "--fail-on", "position"]) == FAIL_EXIT == 3
    assert "flag(s) raised" in capsys.readouterr().err
    assert main([*args, "--fail-on", "self_preference"]) == 0
    assert main(args) == 0
    assert main([*args, "--fail-on", "nope"]) == 2
    assert "is not a flag" in capsys.readouterr().err
