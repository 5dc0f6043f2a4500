"""Pipeline, CalibratedJudge, JSON round trips, run_calibration's split and its error paths."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, logit
from sklearn.base import clone

from judgebench.calibration.base import NotFittedError, make_step, step_names
from judgebench.calibration.pipeline import CalibratedJudge, Pipeline, run_calibration, split_pairs
from judgebench.calibration.temperature import TemperatureScaling
from judgebench.judges.simulated import SimulatedJudge, simulate_verdicts
from judgebench.verdicts import save_table, validate_verdicts

from .conftest import noisy_panel

ALL_STEPS = ["swap", "swap_tie", "temperature", "platt", "isotonic", "length", "ensemble",
             "ensemble:majority", "ensemble:mean_prob", "ensemble:mean_logit",
             "ensemble:weighted", "ensemble:dawid_skene"]
METRICS = {"ece", "brier", "nll", "accuracy", "position_consistency", "length_slope"}


def test_a_step_without_its_own_init_has_no_params_and_prints():
    from judgebench.calibration.base import Step

    class Identity(Step):
        def fit(self, verdicts):
            return self

        def transform(self, verdicts):
            return verdicts

    step = Identity()
    assert step.get_params() == {} and repr(step) == "Identity()"
    assert type(clone(step)) is Identity


def test_registry_names_and_sklearn_contract():
    assert set(ALL_STEPS) <= set(step_names())
    for name in ALL_STEPS:
        step = make_step(name)
        assert not step.is_fitted()  # __init__ stores arguments only
        assert all(not k.endswith("_") for k in vars(step))
        assert set(step.get_params()) == set(vars(step))
        twin = clone(step)  # scikit-learn's clone rebuilds a step from get_params
        assert type(twin) is type(step) and twin is not step
        assert twin.get_params() == step.get_params()
    with pytest.raises(ValueError, match=r"Unknown calibration step 'temprature'. Allowed: "):
        make_step("temprature")


@pytest.mark.parametrize("steps", [["swap", "temperature", "length"], ["platt", "isotonic"],
                                   ["swap_tie", "platt"]])
def test_pipeline_json_round_trip_reproduces_transform(steps, tmp_path):
    v = simulate_verdicts(600, seed=0, position=1.0, verbosity=0.5, temperature=2.0)
    fit, ev = v[v["pair_id"] < "p3"], v[v["pair_id"] >= "p3"]
    pipe = Pipeline(steps).fit(fit)
    text = pipe.to_json(tmp_path / "pipe.json")
    assert json.loads(text)["format"] == "judgebench.calibration.pipeline"
    loaded = Pipeline.from_json(tmp_path / "pipe.json")
    again = Pipeline.from_json(text)
    expected = pipe.transform(ev)
    for other in (loaded, again):
        got = other.transform(ev)
        assert np.allclose(got["p_1"], expected["p_1"], equal_nan=True)
    validate_verdicts(expected)
    assert expected["p_1_raw"].tolist() == ev["p_1"].tolist()


def test_ensemble_pipeline_round_trip():
    v = noisy_panel(300, noises=(1.0, 2.0, 3.0), seed=1)
    for spec in ("ensemble:dawid_skene", "ensemble:weighted"):
        pipe = Pipeline(["temperature", spec, "temperature"]).fit(v)
        loaded = Pipeline.from_json(pipe.to_json())
        assert np.allclose(loaded.transform(v)["p_1"], pipe.transform(v)["p_1"])


def test_pipeline_errors():
    v = simulate_verdicts(50, seed=2)
    with pytest.raises(NotFittedError, match=r"pipeline is not fitted"):
        Pipeline(["swap"]).transform(v)
    with pytest.raises(ValueError, match=r"at least one step"):
        Pipeline([]).fit(v)
    with pytest.raises(ValueError, match=r"'format' must be 'judgebench.calibration.pipeline'"):
        Pipeline.from_json('{"steps": []}')
    with pytest.raises(ValueError, match=r"'version' 99 is not supported"):
        Pipeline.from_json('{"format": "judgebench.calibration.pipeline", "version": 99}')


def test_steps_are_named_pairs_like_sklearn():
    v = simulate_verdicts(400, seed=0, position=1.0, temperature=2.0)
    named = Pipeline([("pos", "swap"), ("temp", TemperatureScaling())])
    bare = Pipeline(["swap", "temperature", "temperature"])
    assert list(bare.named_steps) == ["swap", "temperature", "temperature#2"]
    assert list(named.named_steps) == ["pos", "temp"] and named.names == ["swap", "temperature"]
    # Named or bare, the same steps fit to the same numbers and save the same JSON.
    same = Pipeline([("a", "swap"), ("b", "temperature")]).fit(v)
    plain = Pipeline(["swap", "temperature"]).fit(v)
    assert same.to_json() == plain.to_json()
    np.testing.assert_array_equal(same.transform(v)["p_1"], plain.transform(v)["p_1"])
    assert same.named_steps["b"] is same.steps_[1]
    with pytest.raises(ValueError, match=r"names must be unique.*Rename \['t'\]"):
        Pipeline([("t", "temperature"), ("t", "platt")]).fit(v)
    with pytest.raises(ValueError, match=r"a \(name, step\) pair; got \('t',\)"):
        Pipeline([("t",)]).fit(v)
    with pytest.raises(ValueError, match=r"got int 3"):
        Pipeline([3]).fit(v)


def test_get_params_set_params_and_sklearn_clone():
    temp = TemperatureScaling(clip=1e-4)
    pipe = Pipeline([("pos", "swap"), ("temp", temp)])
    deep = pipe.get_params()
    assert deep["steps"] is pipe.steps and deep["temp"] is temp and deep["pos"] == "swap"
    assert deep["temp__clip"] == 1e-4 and "pos__" not in "".join(deep)
    assert pipe.get_params(deep=False) == {"steps": pipe.steps}
    assert pipe.set_params(temp__clip=1e-3) is pipe and temp.clip == 1e-3
    pipe.set_params(temp=make_step("platt"))
    assert pipe.names == ["swap", "platt"]
    with pytest.raises(ValueError, match=r"Invalid parameter 'nope' for Pipeline"):
        pipe.set_params(nope=1)
    with pytest.raises(ValueError, match=r"given by its name 'swap'.*set_params\(pos=make_step"):
        pipe.set_params(pos__x=1)
    with pytest.raises(ValueError, match=r"Invalid parameter 'x' for PlattScaling"):
        pipe.set_params(temp__x=1)
    # sklearn.base.clone: the same parameters, new unfitted step objects, no fitted state.
    v = simulate_verdicts(300, seed=1, temperature=2.0)
    fitted = Pipeline([("t", TemperatureScaling())]).fit(v)
    twin = clone(fitted)
    assert type(twin) is Pipeline and not hasattr(twin, "steps_")
    assert twin.steps[0][0] == "t" and twin.steps[0][1] is not fitted.steps[0][1]
    assert twin.get_params()["t__clip"] == fitted.get_params()["t__clip"]
    assert not twin.named_steps["t"].is_fitted() and fitted.named_steps["t"].is_fitted()
    refit = twin.fit(v)
    np.testing.assert_array_equal(refit.transform(v)["p_1"], fitted.transform(v)["p_1"])
    # Steps clone too (the sklearn contract each step keeps), bare names are copied as is.
    assert clone(Pipeline(["swap"])).steps == ["swap"]
    step = clone(make_step("ensemble:dawid_skene", max_iter=7))
    assert step.get_params() == {"members": None, "max_iter": 7, "tol": 1e-7}
    # Changing which steps there are drops the fitted state.
    fitted.set_params(steps=["swap"])
    assert not hasattr(fitted, "steps_") and fitted.names == ["swap"]


def test_calibrated_judge_wraps_a_judge():
    pairs = pd.DataFrame({
        "pair_id": [f"q{i}" for i in range(120)], "prompt": "say something",
        "response_1": [("word " * (5 + i % 7)).strip() for i in range(120)],
        "response_2": [("text " * (3 + i % 11)).strip() for i in range(120)],
        "label": [1.0 if i % 3 else 2.0 for i in range(120)]})
    inner = SimulatedJudge(position=1.0, temperature=3.0, noise=0.5, seed=0)
    cj = CalibratedJudge(inner, ["swap", "temperature"]).fit(pairs)
    assert cj.name == "simulated|swap+temperature"
    out = cj.judge(pairs, progress=False)
    validate_verdicts(out)
    raw = inner.judge(pairs, progress=False)
    assert np.allclose(out["p_1_raw"], raw["p_1"])
    both = out.pivot(index="pair_id", columns="order", values="p_1")
    assert np.allclose(both["12"], both["21"])  # swapped
    t = cj.pipeline.steps_[1].temperature_["simulated"]
    swapped = cj.pipeline.transform(raw, upto=1)["p_1"].to_numpy()
    assert np.allclose(out["p_1"], expit(logit(np.clip(swapped, 1e-6, 1 - 1e-6)) / t))
    p = cj.compare(pairs["prompt"][:3], pairs["response_1"][:3], pairs["response_2"][:3])
    # compare() sees no labels (the simulated judge reads gold from them), so check it against
    # judge() on the same unlabelled pairs.
    unl = cj.judge(pairs.drop(columns="label").head(3), progress=False)
    assert np.allclose(p, unl[unl["order"] == "12"]["p_1"])
    with pytest.raises(ValueError, match=r"needs both orders"):
        cj.judge(pairs, orders=("12",), progress=False)
    assert cj.config()["pipeline"]["steps"][0]["step"] == "swap"


def test_run_calibration_writes_every_stage(tmp_path):
    v = simulate_verdicts(400, seed=3, position=1.0, temperature=2.0, verbosity=0.5)
    save_table(v, tmp_path / "v.parquet")
    r = run_calibration(str(tmp_path / "v.parquet"), ["swap", "temperature", "length"],
                        out_dir=tmp_path / "out", n_boot=50)
    assert list(r) == ["raw", "swap", "temperature", "length", "warnings"]
    for entry in (r[k] for k in ("raw", "swap", "temperature", "length")):
        assert METRICS <= set(entry)
        for m in METRICS:
            assert {"estimate", "ci", "n", "n_boot_failed", "method"} <= set(entry[m])
        assert "params" in entry
    assert r["temperature"]["params"]["params_"]["simulated"]["temperature"] > 1
    saved = json.loads((tmp_path / "out" / "calibration.json").read_text())
    assert saved == r
    rel = pd.read_csv(tmp_path / "out" / "reliability.csv")
    assert set(rel["stage"]) == set(r) - {"warnings"}
    assert Pipeline.from_json(tmp_path / "out" / "pipeline.json").names == [
        "swap", "temperature", "length"]


def test_cli_calibrate(tmp_path):
    from judgebench.cli import main

    save_table(simulate_verdicts(200, seed=4, temperature=2.0), tmp_path / "v.csv")
    rc = main(["calibrate", "--verdicts", str(tmp_path / "v.csv"), "--steps", "swap,platt",
               "--n-boot", "20", "--out", str(tmp_path / "out")])
    assert rc == 0
    assert list(json.loads((tmp_path / "out" / "calibration.json").read_text())) == [
        "raw", "swap", "platt", "warnings"]


# -- no leakage ----------------------------------------------------------------------------


def test_split_is_disjoint_and_covers_every_pair(tmp_path):
    v = simulate_verdicts(300, seed=5)
    fit, ev = split_pairs(v, fit_frac=0.3, seed=1)
    assert not set(fit) & set(ev) and len(set(fit) | set(ev)) == 300 and len(fit) == 90
    r = run_calibration(v, ["temperature"], fit_frac=0.3, seed=1, out_dir=tmp_path, n_boot=20)
    split = pd.read_csv(tmp_path / "split.csv", dtype=str)
    assert set(split.loc[split["split"] == "fit", "pair_id"]) == set(fit)
    assert r["raw"]["accuracy"]["n"] == len(ev) == r["raw"]["split"]["n_eval_pairs"]
    assert r["temperature"]["params"]["params_"]["simulated"]["n_fit_pairs"] == len(fit)


def test_changing_the_eval_part_changes_no_fitted_parameter():
    v = simulate_verdicts(300, seed=6, position=1.0, temperature=2.0, verbosity=1.0)
    steps = ["swap", "temperature", "platt", "length"]
    base = run_calibration(v, steps, seed=0, n_boot=20)
    _, ev = split_pairs(v, seed=0)
    scrambled = v.copy()
    in_eval = scrambled["pair_id"].isin(ev)
    rng = np.random.default_rng(0)
    scrambled.loc[in_eval, "label"] = rng.choice([1.0, 2.0], in_eval.sum())
    p = rng.uniform(size=in_eval.sum())
    scrambled.loc[in_eval, "p_1"] = p
    scrambled.loc[in_eval, "p_first"] = np.where(scrambled.loc[in_eval, "order"] == "12", p, 1 - p)
    other = run_calibration(scrambled, steps, seed=0, n_boot=20)
    for s in steps:
        assert other[s]["params"] == base[s]["params"], s
    assert other["raw"]["accuracy"]["estimate"] != base["raw"]["accuracy"]["estimate"]
    # ...while changing the fit part does change them.
    fit_changed = v.copy()
    fit_changed.loc[~in_eval, "label"] = rng.choice([1.0, 2.0], (~in_eval).sum())
    moved = run_calibration(fit_changed, steps, seed=0, n_boot=20)
    assert moved["temperature"]["params"] != base["temperature"]["params"]


def test_split_col_fit_eval_values_and_groups():
    v = simulate_verdicts(200, seed=7)
    v["part"] = np.where(v["pair_id"].str[1:].astype(int) < 50, "fit", "eval")
    fit, ev = split_pairs(v, seed=0, split_col="part")
    assert len(fit) == 50 and len(ev) == 150
    v["prompt"] = "q" + (v["pair_id"].str[1:].astype(int) % 10).astype(str)
    fit, ev = split_pairs(v, seed=0, split_col="prompt", fit_frac=0.5)
    groups = lambda ids: set(v.loc[v["pair_id"].isin(ids), "prompt"])  # noqa: E731
    assert not groups(fit) & groups(ev) and len(fit) == 100


# -- error paths ---------------------------------------------------------------------------


def test_split_errors():
    v = simulate_verdicts(50, seed=8)
    with pytest.raises(ValueError, match=r"fit_frac must be strictly between 0 and 1; got 1.0"):
        split_pairs(v, fit_frac=1.0, seed=0)
    with pytest.raises(ValueError, match=r"split_col 'nope' is not a column"):
        split_pairs(v, seed=0, split_col="nope")
    with pytest.raises(ValueError, match=r"one non-missing value per pair_id"):
        split_pairs(v.assign(part=np.where(v["order"] == "12", "a", "b")), seed=0,
                    split_col="part")
    with pytest.raises(ValueError, match=r"puts every pair on one side"):
        split_pairs(v.assign(part="fit"), seed=0, split_col="part")
    with pytest.raises(ValueError, match=r"at least 2 pairs"):
        split_pairs(v[v["pair_id"] == "p0"], seed=0)


def test_run_calibration_bad_inputs_raise():
    v = simulate_verdicts(200, seed=9)
    with pytest.raises(ValueError, match=r"Unknown calibration step 'swapp'"):
        run_calibration(v, ["swapp"], n_boot=10)
    with pytest.raises(ValueError, match=r"'label' has one class in judge 'simulated' in the fit"):
        run_calibration(v.assign(label=2.0), ["temperature"], n_boot=10)
    with pytest.raises(ValueError, match=r"at least 20 labelled pairs .* 'label' gives 1[0-9]\b"):
        run_calibration(v, ["temperature"], fit_frac=0.07, n_boot=10)
    dead = v.assign(p_1=np.nan, p_first=np.nan, failed=True)
    with pytest.raises(ValueError, match=r"p_1 is NaN on every row"):
        run_calibration(dead, ["platt"], n_boot=10)
    a = simulate_verdicts(100, seed=10, judge="a")
    b = simulate_verdicts(100, seed=10, judge="b").assign(pair_id=lambda d: "x" + d["pair_id"])
    with pytest.raises(ValueError, match=r"shares no judged \(pair_id, order\)"):
        run_calibration(pd.concat([a, b]), ["ensemble"], n_boot=10)


def test_unlabelled_eval_reports_empty_label_metrics_not_fake_ones():
    v = noisy_panel(200, noises=(1.0, 1.5, 2.0), seed=11).drop(columns="label")
    r = run_calibration(v, ["ensemble:dawid_skene"], n_boot=20)
    assert r["raw"]["accuracy"].items() >= {"estimate": None, "ci": [None, None], "n": 0}.items()
    assert "no gold labels" in r["raw"]["notes"][0]
    assert r["ensemble:dawid_skene"]["position_consistency"]["n"] > 0
    assert TemperatureScaling().get_params() == {"clip": 1e-6}
