"""Agreement with gold labels: hand-checked tables, sklearn's kappa, LLMBar's published numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from judgebench.audit.agreement import (
    R1,
    R2,
    TIE,
    agreement,
    agreement_table,
    combined_class,
    kappa_from_counts,
)
from judgebench.audit.position import position_table
from judgebench.judges.simulated import simulate_verdicts
from judgebench.probability import gold_p1
from judgebench.stats import per_pair

THIRD = 5e-4 + 1e-12


def test_combined_verdict_inconsistent_is_tie():
    # P(first) per order -> classes: agree, disagree, one order failed, tie in one order.
    p12 = np.array([0.9, 0.9, 0.9, 0.9])
    p21 = np.array([0.1, 0.9, np.nan, 0.5])
    np.testing.assert_array_equal(combined_class(p12, p21), [R1, TIE, R1, TIE])


def test_accuracy_s1_s2_by_hand():
    # gold: r1, r1, r2, tie, r2 ; judge orders as P(first).
    p12 = np.array([0.9, 0.9, 0.2, 0.5, 0.9])
    p21 = np.array([0.1, 0.8, 0.9, 0.5, np.nan])
    gold = np.array([1.0, 1.0, 0.0, 0.5, 0.0])
    a = agreement(p12, p21, gold, n_boot=0, seed=0)
    # order 12 winners (r1 terms): r1, r1, r2, tie, r1 -> correct on pairs 1, 2, 3 of 4 decisive.
    assert a["accuracy_12"].estimate == pytest.approx(3 / 4)
    # order 21: r1, r2, r2, tie, (failed) -> correct on 1 and 3 of 3 decisive-gold valid.
    assert a["accuracy_21"].estimate == pytest.approx(2 / 3)
    # per pair: 1, 0.5, 1, 0 (pair 5 has only order 12, wrong) over the 4 decisive-gold pairs.
    assert a["accuracy"].estimate == pytest.approx((1 + 0.5 + 1 + 0) / 4)
    # combined: r1, tie, r2, tie, r1 vs gold r1, r1, r2, tie, r2 -> S1 agree on 1, 3, 4.
    assert a["s1_agreement"].estimate == pytest.approx(3 / 5)
    # S2 keeps pairs with no tie on either side: 1, 3, 5 -> agree on 1, 3.
    assert a["s2_agreement"].estimate == pytest.approx(2 / 3)
    assert a["s2_agreement"].n == 3
    comb = combined_class(p12, p21)
    g = np.array([R1, R1, R2, TIE, R2])
    assert a["kappa"].estimate == pytest.approx(cohen_kappa_score(comb, g))


def test_kappa_matches_sklearn_on_random_tables():
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 3, 500), rng.integers(0, 3, 500)
    b[:200] = a[:200]
    counts = np.bincount(a * 3 + b, minlength=9)[None, :].astype(float)
    assert kappa_from_counts(counts, 3)[0] == pytest.approx(cohen_kappa_score(a, b))


def test_simulated_judge_accuracy_matches_its_design():
    # Unbiased, noise-free, calibrated: P(label = 1) = P(first) in order 12, so the judge is
    # right with probability E[max(p, 1 - p)] (Bayes accuracy).
    v = simulate_verdicts(20_000, seed=0, noise=0.0)
    pp = per_pair(v, ["label"])
    p = pp["p_12"].to_numpy()
    a = agreement(pp["p_12"].to_numpy(), pp["p_21"].to_numpy(), gold_p1(pp["label"]),
                  n_boot=200, seed=0)
    bayes = np.mean(np.maximum(p, 1 - p))
    assert a["accuracy_12"].ci_low - 0.005 <= bayes <= a["accuracy_12"].ci_high + 0.005
    assert a["accuracy"].estimate == pytest.approx(a["accuracy_12"].estimate, abs=1e-12)


def test_llmbar_mtbench_gpt4(llmbar_table):
    table = llmbar_table("Processed/MT-Bench", "GPT-4")
    a = agreement_table(table, n_boot=100, seed=0).set_index("measure")["estimate"]
    assert a["agreement.accuracy_12"] == pytest.approx(0.795, abs=THIRD)
    assert a["agreement.accuracy_21"] == pytest.approx(0.825, abs=THIRD)
    assert a["agreement.accuracy"] == pytest.approx(0.81, abs=THIRD)
    p = position_table(table, n_boot=100, seed=0).set_index("measure")["estimate"]
    assert p["position.consistency"] == pytest.approx(0.87, abs=THIRD)


def test_llmbar_every_published_accuracy(llmbar_table, vanilla_summary):
    """Per-order accuracy for all 42 rows; LLMBar counts a failed verdict as wrong, so the
    groups with failures match after rescaling by the valid share (see test_position)."""
    for row in vanilla_summary.itertuples():
        table = llmbar_table(row.subset, row.evaluator)
        pp = per_pair(table, ["label"])
        a = agreement(pp["p_12"].to_numpy(), pp["p_21"].to_numpy(), gold_p1(pp["label"]),
                      n_boot=0, seed=0)
        for key, published in (("accuracy_12", row.acc_noswap), ("accuracy_21", row.acc_swap)):
            est = a[key]
            assert est.estimate * est.n / row.n == pytest.approx(published, abs=THIRD), \
                (row.subset, row.evaluator, key)


def test_no_gold_skips_agreement_with_a_reason():
    v = simulate_verdicts(50, seed=0).drop(columns="label")
    t = agreement_table(v, n_boot=10, seed=0)
    assert t["estimate"].isna().all()
    assert t["note"].str.contains("no gold labels").all()


def test_one_order_notes_the_missing_order_only():
    t = agreement_table(simulate_verdicts(50, seed=0, orders=("12",)), n_boot=10, seed=0)
    t = t.set_index("measure")
    assert "order '21' was not judged" in t.loc["agreement.accuracy_21", "note"]
    assert np.isfinite(t.loc["agreement.accuracy_12", "estimate"])


def test_failed_verdicts_are_not_wrong_answers():
    v = simulate_verdicts(200, seed=1, noise=0.0)
    v.loc[v.index[:50], ["p_first", "p_1"]] = np.nan
    v.loc[v.index[:50], "failed"] = True
    t = agreement_table(v, n_boot=0, seed=0).set_index("measure")
    assert t.loc["agreement.accuracy_12", "n"] == 150
    assert t.loc["agreement.accuracy_21", "n"] == 200


def test_errors():
    with pytest.raises(ValueError, match="one entry per pair"):
        agreement(np.ones(2), np.ones(2), np.ones(3), seed=0)


# ---------------------------------------------------------------------------------------------
# Published scoring rules (agreement.protocols)


def test_protocols_on_a_hand_checked_table():
    # gold: response_1 better in pairs 0-4, a tie in pair 5.
    # pair: 0 right/right, 1 right/reversed, 2 right/tie, 3 tie/tie, 4 reversed/reversed,
    #       5 tie/tie (gold tie), 6 right/failed (not counted: a paired rule).
    p_12 = np.array([0.9, 0.9, 0.9, 0.5, 0.1, 0.5, 0.9])
    p_21 = np.array([0.1, 0.9, 0.5, 0.5, 0.9, 0.5, np.nan])
    gold = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 1.0])
    a = agreement(p_12, p_21, gold, n_boot=0, seed=0)
    # Scores +2, 0, +1, 0, -2 over the decisive-gold pairs 0-4: correct are 0 and 2.
    assert a["protocols.pair_score"].estimate == pytest.approx(2 / 5)
    assert a["protocols.pair_score"].n == 5
    # Both orders equal the gold class: pairs 0 and 5 (a gold tie judged a tie twice).
    assert a["protocols.both_orders_correct"].estimate == pytest.approx(2 / 6)
    assert a["protocols.both_orders_correct"].n == 6
    # MT-Bench S1: combined classes R1, tie, tie, tie, R2, tie, R1 vs gold -> 0, 5, 6 agree.
    assert a["protocols.mtbench_s1"].estimate == pytest.approx(3 / 7)
    assert a["protocols.mtbench_s1"] == a["s1_agreement"]
    # S2 drops ties on either side: pairs 0, 4, 6 -> 0 and 6 agree.
    assert a["protocols.mtbench_s2"].estimate == pytest.approx(2 / 3)


def test_protocols_are_nested_in_audit_json_and_need_both_orders():
    from judgebench.audit.suite import run_audit

    res = run_audit(simulate_verdicts(80, seed=0, position=1.0), n_boot=20, probes=False)
    assert set(res["agreement"]["protocols"]) == {"pair_score", "both_orders_correct",
                                                  "mtbench_s1", "mtbench_s2"}
    one = run_audit(simulate_verdicts(80, seed=0, orders=("12",)), n_boot=20, probes=False)
    assert "pair_score" not in one["agreement"].get("protocols", {})
    assert "needs both orders" in one["skipped"]["agreement.protocols.pair_score"]


def test_both_orders_correct_reproduces_llmbar_correct_both(llmbar_table, vanilla_summary,
                                                            realdata):
    """LLMBar's published correct_both (llmbar_statistics_all.csv), all 42 Vanilla groups.

    LLMBar divides by all n pairs (a failed verdict is not correct); judgebench leaves pairs
    with a failed order out, so its estimate x n_valid / n is the published share."""
    stats = pd.read_csv(realdata / "llmbar" / "llmbar_statistics_all.csv")
    checked = 0
    for row in vanilla_summary.itertuples():
        strategy = "Vanilla_NoRules" if row.subset.startswith("Processed/") else "Vanilla"
        pub = stats[(stats.subset == row.subset) & (stats.evaluator == row.evaluator)
                    & (stats.strategy == strategy)]
        assert len(pub) == 1, (row.subset, row.evaluator)
        count, total = pub["correct_both"].iloc[0].split(" = ")[0].split(" / ")
        pp = per_pair(llmbar_table(row.subset, row.evaluator), ["label"])
        est = agreement(pp["p_12"].to_numpy(), pp["p_21"].to_numpy(), gold_p1(pp["label"]),
                        n_boot=0, seed=0)["protocols.both_orders_correct"]
        assert int(total) == row.n
        assert round(est.estimate * est.n) == int(count), (row.subset, row.evaluator)
        checked += 1
    assert checked == 42


# --- Krippendorff's alpha for panels -----------------------------------------------------------

NAN = np.nan
# Units (rows) x coders (columns), classes 0/1/2, NaN missing: small tables checked against the
# reference implementation (the `krippendorff` package, coders as its rows).
ALPHA_TABLES = [
    [[0, 0, 0], [1, 1, 1], [2, 2, NAN], [0, 1, 0], [1, NAN, 1]],
    [[0, 1], [1, 0], [2, 2], [0, 0], [NAN, 1], [1, 1]],
    [[0, 0, 1, NAN], [2, 2, 2, 2], [1, 1, NAN, NAN], [0, 2, 1, 0], [NAN, NAN, 0, NAN]],
    [[0, 1], [1, 0], [0, 1], [1, 0]],  # systematic disagreement: alpha < 0
]


@pytest.mark.parametrize("table", ALPHA_TABLES)
def test_krippendorff_alpha_matches_the_reference_package(table):
    krippendorff = pytest.importorskip("krippendorff")
    from judgebench.audit.agreement import krippendorff_alpha

    v = np.array(table, dtype=float)
    ref = krippendorff.alpha(reliability_data=v.T, level_of_measurement="nominal",
                             value_domain=[0, 1, 2])
    assert krippendorff_alpha(v, n_boot=0, seed=0).estimate == pytest.approx(ref, abs=1e-12)


def test_krippendorff_alpha_random_tables_match_the_reference():
    krippendorff = pytest.importorskip("krippendorff")
    from judgebench.audit.agreement import krippendorff_alpha

    rng = np.random.default_rng(0)
    for _ in range(30):
        v = rng.integers(0, 3, (int(rng.integers(3, 15)), int(rng.integers(2, 5)))).astype(float)
        v[rng.random(v.shape) < 0.25] = np.nan
        v[0, :2] = [0, 1]  # at least one pairable unit, and two classes
        ref = krippendorff.alpha(reliability_data=v.T, level_of_measurement="nominal",
                                 value_domain=[0, 1, 2])
        assert krippendorff_alpha(v, n_boot=0, seed=0).estimate == pytest.approx(ref, abs=1e-12)


def test_krippendorff_alpha_by_hand():
    from judgebench.audit.agreement import krippendorff_alpha

    # Perfect agreement is 1 (a unit with one value is not pairable and changes nothing).
    perfect = krippendorff_alpha(np.array([[0, 0], [1, 1], [2, 2], [1, NAN]]), n_boot=200,
                                 seed=0)
    assert perfect.estimate == 1.0 and perfect.n == 3 and perfect.ci_low == perfect.ci_high == 1
    # Two coders, two units [0, 1], [1, 1]: coincidences o01 = o10 = 1, o11 = 2; n0 = 1, n1 = 3,
    # n = 4: alpha = 1 - (n - 1) * 2 / (n^2 - n0^2 - n1^2) = 1 - 6 / 6 = 0.
    assert krippendorff_alpha(np.array([[0, 1], [1, 1]]), n_boot=0, seed=0).estimate == 0.0
    # Every value the same class: no expected disagreement, alpha undefined (NaN, not 1).
    assert np.isnan(krippendorff_alpha(np.array([[1, 1], [1, 1]]), n_boot=0, seed=0).estimate)
    with pytest.raises(ValueError, match="class codes 0..2 or NaN; unit 1, coder 0"):
        krippendorff_alpha(np.array([[0, 1], [3, 1]]), n_boot=0, seed=0)


def test_panel_alpha_is_written_for_multi_judge_audits(tmp_path):
    from judgebench.audit.suite import run_audit

    a = simulate_verdicts(120, seed=0, judge="a", noise=0.3)
    b = a.assign(judge="b")  # an identical judge: alpha 1
    c = simulate_verdicts(120, seed=5, judge="c", noise=3.0)  # another draw: lower agreement
    c.loc[c.index[:10], ["p_first", "p_1"]] = np.nan
    c.loc[c.index[:10], "failed"] = True  # failures are missing values, not a class
    res = run_audit(pd.concat([a, b], ignore_index=True), n_boot=50, probes=False,
                    out_dir=tmp_path)
    assert res["panel"]["krippendorff_alpha"]["estimate"] == 1.0
    assert res["panel"]["judges"] == ["a", "b"]
    res = run_audit(pd.concat([a, b, c], ignore_index=True), n_boot=50, probes=False)
    alpha = res["panel"]["krippendorff_alpha"]
    assert 0.0 < alpha["estimate"] < 1.0 and alpha["ci"][0] <= alpha["estimate"] <= alpha["ci"][1]
    assert alpha["n"] == 120 and alpha["n_boot_failed"] == 0
    one = run_audit(a, n_boot=10, probes=False)
    assert "panel" not in one  # one judge: nothing to agree with
