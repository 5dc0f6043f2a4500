"""Temperature, Platt and isotonic steps against injected truth, and their error paths."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.isotonic import IsotonicRegression

from judgebench.calibration.base import NotFittedError
from judgebench.calibration.metrics import calibration_metrics
from judgebench.calibration.pipeline import split_pairs
from judgebench.calibration.temperature import (
    IsotonicCalibration,
    PlattScaling,
    TemperatureScaling,
    fit_temperature,
    isotonic_calibrate,
    temperature_scale,
)
from judgebench.judges.simulated import simulate_verdicts


def _split(v: pd.DataFrame, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    fit, ev = split_pairs(v, seed=seed)
    return v[v["pair_id"].isin(fit)], v[v["pair_id"].isin(ev)]


def test_pure_temperature_functions():
    assert temperature_scale(np.array([0.0, 2.0]), 2.0) == pytest.approx([0.5, 0.7310586])
    rng = np.random.default_rng(0)
    z_true = rng.normal(0, 2, 20000)
    y = (rng.uniform(size=z_true.size) < 1 / (1 + np.exp(-z_true))).astype(float)
    assert fit_temperature(3.0 * z_true, y) == pytest.approx(3.0, rel=0.05)


@pytest.mark.parametrize("injected", [0.5, 2.5])
def test_temperature_recovers_injected_temperature(injected):
    # noise=0: the judge reports sigmoid(T * true logit) and gold is drawn from the true logit.
    fit, ev = _split(simulate_verdicts(3000, seed=1, temperature=injected, noise=0.0))
    step = TemperatureScaling().fit(fit)
    assert step.temperature_["simulated"] == pytest.approx(injected, rel=0.10)
    raw, cal = (calibration_metrics(t, n_boot=200, seed=0) for t in (ev, step.transform(ev)))
    assert cal["nll"].estimate < raw["nll"].estimate
    assert cal["ece"].ci_high < raw["ece"].ci_low
    # Temperature never changes the winner, so accuracy is exactly unchanged.
    assert cal["accuracy"].estimate == raw["accuracy"].estimate


def test_temperature_is_fitted_per_judge():
    a = simulate_verdicts(600, seed=2, temperature=3.0, noise=0.0, judge="hot")
    b = simulate_verdicts(600, seed=3, temperature=1.0, noise=0.0, judge="cool")
    t = TemperatureScaling().fit(pd.concat([a, b])).temperature_
    assert t["hot"] == pytest.approx(3.0, rel=0.15) and t["cool"] == pytest.approx(1.0, rel=0.15)


def test_platt_bias_term_estimates_the_position_prior():
    fit, ev = _split(simulate_verdicts(3000, seed=4, position=1.0, noise=0.0))
    step = PlattScaling().fit(fit)
    params = step.params_["simulated"]
    assert params["position_offset"] == pytest.approx(1.0, abs=0.15)
    assert params["a"] == pytest.approx(1.0, abs=0.1)
    out = step.transform(ev)
    # Removing the prior brings P(first shown wins) back towards 0.5 on held-out pairs.
    first_wins = lambda t: (t["p_first"] > 0.5).mean()  # noqa: E731
    assert first_wins(ev) > 0.65 and abs(first_wins(out) - 0.5) < 0.04


def test_isotonic_matches_sklearn_and_improves_ece():
    fit, ev = _split(simulate_verdicts(3000, seed=5, temperature=3.0, noise=0.0))
    step = IsotonicCalibration().fit(fit)
    params = step.params_["simulated"]
    iso = IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip").fit(
        fit["p_1"], fit["label"].map({1.0: 1.0, 2.0: 0.0}))
    grid = np.linspace(0, 1, 101)
    assert isotonic_calibrate(grid, params["x_thresholds"], params["y_thresholds"]) == \
        pytest.approx(iso.predict(grid))
    raw, cal = (calibration_metrics(t, n_boot=200, seed=0) for t in (ev, step.transform(ev)))
    assert cal["ece"].estimate < raw["ece"].estimate / 2


def test_transform_keeps_raw_probabilities_and_schema():
    v = simulate_verdicts(200, seed=6, temperature=2.0)
    out = TemperatureScaling().fit_transform(v)
    assert out["p_1_raw"].tolist() == v["p_1"].tolist()
    assert np.allclose(out["p_1_calibrated"], out["p_1"])
    assert np.allclose(np.where(out["order"] == "12", out["p_1"], 1 - out["p_1"]),
                       out["p_first"])
    twice = TemperatureScaling().fit_transform(out)
    assert twice["p_1_raw"].tolist() == v["p_1"].tolist()  # never overwritten


def test_failed_rows_stay_failed():
    v = simulate_verdicts(200, seed=7)
    v.loc[:9, ["p_1", "p_first"]] = np.nan
    v.loc[:9, "failed"] = True
    out = TemperatureScaling().fit_transform(v)
    assert out.loc[:9, "p_1"].isna().all() and out.loc[:9, "failed"].all()
    assert out.loc[10:, "p_1"].notna().all()


# -- error paths ---------------------------------------------------------------------------


@pytest.mark.parametrize("step", [TemperatureScaling, PlattScaling, IsotonicCalibration])
def test_one_class_labels_raise(step):
    v = simulate_verdicts(100, seed=8)
    v["label"] = 1.0
    with pytest.raises(ValueError, match=r"'label' has one class .* response_1 better"):
        step().fit(v)


@pytest.mark.parametrize("step", [TemperatureScaling, PlattScaling, IsotonicCalibration])
def test_too_few_labelled_pairs_raise(step):
    v = simulate_verdicts(100, seed=9)
    v.loc[v["pair_id"].isin([f"p{i}" for i in range(85)]), "label"] = np.nan
    with pytest.raises(ValueError, match=r"at least 20 labelled pairs .* 'label' gives 15"):
        step().fit(v)


def test_all_nan_probabilities_raise():
    v = simulate_verdicts(50, seed=10)
    v[["p_1", "p_first"]] = np.nan
    v["failed"] = True
    with pytest.raises(ValueError, match=r"p_1 is NaN on every row of judge 'simulated'"):
        TemperatureScaling().fit(v)


def test_missing_labels_raise():
    v = simulate_verdicts(50, seed=11).drop(columns="label")
    with pytest.raises(ValueError, match=r"no 'label' column"):
        TemperatureScaling().fit(v)


def test_only_ties_raise():
    v = simulate_verdicts(50, seed=12).assign(label=0.5)
    with pytest.raises(ValueError, match=r"one class .* ties only"):
        TemperatureScaling().fit(v)


def test_transform_before_fit_and_unseen_judge_raise():
    v = simulate_verdicts(50, seed=13)
    with pytest.raises(NotFittedError, match=r"'temperature' step is not fitted"):
        TemperatureScaling().transform(v)
    step = TemperatureScaling().fit(v)
    with pytest.raises(ValueError, match=r"fitted on judge\(s\) \['simulated'\] .* \['other'\]"):
        step.transform(v.assign(judge="other"))


def test_separable_fit_split_is_flagged():
    import pandas as pd

    from judgebench.calibration.temperature import TemperatureScaling

    n = 40
    p1 = np.where(np.arange(n) % 2 == 0, 0.7, 0.3)
    v = pd.DataFrame({"pair_id": [f"p{i}" for i in range(n)], "judge": "j", "order": "12",
                      "p_first": p1, "p_1": p1, "failed": False,
                      "label": np.where(p1 > 0.5, 1.0, 2.0)})
    step = TemperatureScaling().fit(v)
    params = step.params_["j"]
    assert params["temperature"] < 0.1 and "separable" in params["note"]
