"""Win rates and LC win rates equal AlpacaEval's own GLM (alpaca-eval 0.6.6) on generated data."""

from __future__ import annotations

import importlib.metadata
import json
import logging
import sys
import types
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from judgebench.audit.winrate import (
    LCWarning,
    fit_l1_logistic,
    is_extreme_change,
    load_instruction_difficulty,
    win_rates,
)
from judgebench.importers import import_alpacaeval

N = 160  # instructions
MODELS = {"strong": (0.8, 0.3), "verbose": (0.0, 1.5), "weak": (-1.0, 0.0)}  # (θ, verbosity)
VARIANTS = ("base_verbose", "base_concise")


def _alpaca_glm():
    """alpaca_eval's GLM module, importable offline (its utils import pkg_resources, which
    setuptools >= 81 no longer ships; the GLM path never calls it)."""
    pytest.importorskip("patsy")
    try:
        import pkg_resources  # noqa: F401
    except ImportError:
        from packaging.version import parse
        shim = types.ModuleType("pkg_resources")
        shim.parse_version = parse
        shim.get_distribution = lambda name: types.SimpleNamespace(
            version=importlib.metadata.version(name))
        sys.modules["pkg_resources"] = shim
    return pytest.importorskip("alpaca_eval.metrics.glm_winrate")


def _annotations(rng: np.random.Generator, gamma: np.ndarray) -> pd.DataFrame:
    """AlpacaEval annotations: baseline = output_1, preference 1 + P(output_2 wins), with a
    judge that likes length; some hard labels, ties (1.5 and 0) and a failed one."""
    base_len = rng.integers(300, 1500, N)
    recs = []
    for model, (theta, verbosity) in {**MODELS, "base_verbose": (0.0, 0.0),
                                      "base_concise": (0.0, 0.0)}.items():
        scale = {"base_verbose": 1.8, "base_concise": 0.5}.get(model, 1.0)
        m_len = (base_len * scale * rng.uniform(0.6, 1.6, N) if model != "verbose"
                 else base_len * rng.uniform(1.5, 3.5, N)).astype(int) + 20
        dlen = m_len - base_len
        eta = theta + (1.0 + verbosity) * np.tanh(dlen / dlen.std()) - 0.6 * gamma
        pref = 1.0 + 1 / (1 + np.exp(-eta))
        hard = rng.random(N) < 0.3
        pref = np.where(hard, np.where(rng.random(N) < pref - 1, 2.0, 1.0), pref)
        for i in range(N):
            recs.append({"instruction": f"Instruction {i}?", "output_1": "b" * int(base_len[i]),
                         "output_2": f"{model} " + "m" * int(m_len[i]), "preference": pref[i],
                         "generator_1": "base", "generator_2": model, "annotator": "judge"})
    df = pd.DataFrame(recs)
    df.loc[[3, 40], "preference"] = [1.5, 0.0]   # ties (0: identical outputs in AlpacaEval)
    df.loc[7, "preference"] = np.nan              # a failed annotation
    return df


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict:
    rng = np.random.default_rng(0)
    gamma = rng.normal(0.0, 1.0, N)
    ann = _annotations(rng, gamma)
    tmp = tmp_path_factory.mktemp("ae")
    (tmp / "annotations.json").write_text(json.dumps(ann.to_dict("records")))
    pd.DataFrame({"prompt": [f"Instruction {i}?" for i in range(N)],
                  "difficulty": gamma}).to_csv(tmp / "difficulty.csv", index=False)
    return {"ann": ann, "gamma": gamma, "dir": tmp,
            "verdicts": import_alpacaeval(tmp / "annotations.json")}


def _df_gamed(ann: pd.DataFrame, gamma: np.ndarray, path: Path) -> Path:
    """The file alpaca_eval downloads from its hub: instruction difficulty (rows 0..N-1 in
    instruction order) and the baseline-variant annotations that regularise to the baseline."""
    parts = []
    for v in VARIANTS:
        a = ann[ann.generator_2 == v].reset_index(drop=True)
        d = a.output_1.str.len() - a.output_2.str.len()
        parts.append(pd.DataFrame({"model": v, "index": np.arange(N), "instruction_difficulty":
                                   gamma, "preference": a.preference - 1,
                                   "std_delta_len": d / d.std(), "not_gamed_baseline": False}))
    pd.concat(parts, ignore_index=True).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def reference(data) -> dict:
    """alpaca_eval's numbers per (GLM, model), its hub download pointed at our own table."""
    glm = _alpaca_glm()
    gamed = _df_gamed(data["ann"], data["gamma"], data["dir"] / "df_gamed.csv")
    mp = pytest.MonkeyPatch()
    mp.setattr(glm, "hf_hub_download", lambda **kw: str(gamed))
    out = {}
    try:
        for name in ("length_controlled_minimal", "length_controlled_noreg",
                     "length_controlled_v1"):
            for model in MODELS:
                ann = data["ann"][data["ann"].generator_2 == model].reset_index(drop=True)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    out[name, model] = glm.get_length_controlled_winrate(
                        ann, glm_name=name, save_weights_dir=None, is_warn_extreme_changes=False)
    finally:
        mp.undo()
    return out


@pytest.mark.parametrize("glm_name", ["length_controlled_minimal", "length_controlled_noreg",
                                      "length_controlled_v1"])
def test_equals_alpaca_eval(data, reference, glm_name):
    kw = {"length_controlled_minimal": {},
          "length_controlled_noreg": {"instruction_difficulty": data["dir"] / "difficulty.csv"},
          "length_controlled_v1": {"instruction_difficulty": data["dir"] / "difficulty.csv",
                                   "regularize_to_baseline": 0.2,
                                   "baseline_variants": VARIANTS}}[glm_name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LCWarning)
        ours = win_rates(data["verdicts"], "base", length_control=True, seed=0, n_boot=200,
                         **kw).set_index("model")
    # baseline variants are reported only when they are not used to regularise
    assert set(ours.index) == set(MODELS) | (set() if "regularize_to_baseline" in kw
                                            else set(VARIANTS))
    for model in MODELS:
        ref = reference[glm_name, model]
        assert ours.loc[model, "win_rate"] == pytest.approx(ref["win_rate"], abs=1e-9)
        assert abs(ours.loc[model, "lc_win_rate"] - ref["length_controlled_winrate"]) < 0.1, \
            (model, ours.loc[model, "lc_win_rate"], ref["length_controlled_winrate"])
        assert ours.loc[model, "ci_low"] < ours.loc[model, "win_rate"] < ours.loc[model, "ci_high"]
    assert "lc_position" not in ours.columns      # one presentation order: not estimable
    assert ("lc_difficulty" in ours.columns) == (glm_name != "length_controlled_minimal")


def test_lc_warning_matches_alpaca_eval(data, caplog):
    """A model that wins only by length: LC falls far below raw, and both tools say so."""
    glm = _alpaca_glm()
    rng = np.random.default_rng(1)
    base_len = rng.integers(300, 800, N)
    m_len = base_len * rng.uniform(0.3, 4.0, N)
    p = 1 / (1 + np.exp(-(-2.5 + 5.0 * np.tanh((m_len - base_len) / np.std(m_len - base_len)))))
    ann = pd.DataFrame({"instruction": [f"Q{i}" for i in range(N)],
                        "output_1": ["b" * k for k in base_len],
                        "output_2": ["m" * int(k) for k in m_len], "preference": 1 + p,
                        "generator_1": "base", "generator_2": "long", "annotator": "j"})
    gamed = _df_gamed(data["ann"], data["gamma"], data["dir"] / "df_gamed.csv")
    with pytest.MonkeyPatch.context() as mp, warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        mp.setattr(glm, "hf_hub_download", lambda **kw: str(gamed))
        caplog.set_level(logging.WARNING)
        ref = glm.get_length_controlled_winrate(ann, glm_name="length_controlled_minimal",
                                                save_weights_dir=None)
    assert "very different from the raw one" in caplog.text
    path = data["dir"] / "long.json"
    path.write_text(json.dumps(ann.to_dict("records")))
    with pytest.warns(LCWarning, match="very different from the raw one"):
        ours = win_rates(import_alpacaeval(path), "base", length_control=True, seed=0,
                         n_boot=100).iloc[0]
    assert bool(ours["lc_far_from_raw"])
    assert abs(ours["lc_win_rate"] - ref["length_controlled_winrate"]) < 0.1


def test_both_orders_fit_position_and_average_pairs():
    """Both orders judged: P(model wins) averages them per pair; the position term is fitted."""
    rng = np.random.default_rng(2)
    n = 120
    rows = []
    for i in range(n):
        lm, lb = int(rng.integers(100, 900)), int(rng.integers(100, 900))
        for order in ("12", "21"):
            # model is response_1; the judge adds +1 logit to whichever answer is shown first
            eta = 0.5 + (1.0 if order == "12" else -1.0)
            p1 = float(1 / (1 + np.exp(-eta - rng.normal(0, 0.3))))
            rows.append({"pair_id": f"p{i}", "judge": "j", "order": order, "p_1": p1,
                         "p_first": p1 if order == "12" else 1 - p1, "failed": False,
                         "model_1": "m", "model_2": "b", "prompt": f"q{i}",
                         "response_1": "x" * lm, "response_2": "y" * lb})
    v = pd.DataFrame(rows)
    res = win_rates(v, "b", length_control=True, seed=0, n_boot=200).iloc[0]
    q = v.groupby("pair_id").p_1.mean().mean() * 100
    assert res["win_rate"] == pytest.approx(q)
    assert res["n_pairs"] == n
    assert res["lc_position"] == pytest.approx(1.0, abs=0.15)
    assert res["lc_model"] == pytest.approx(0.5, abs=0.15)
    # the same verdicts seen from the other side give the complementary win rate
    swapped = v.assign(model_1="b", model_2="m", p_1=1 - v.p_1,
                       response_1=v.response_2, response_2=v.response_1)
    other = win_rates(swapped, "b", seed=0, n_boot=50).iloc[0]
    assert other["win_rate"] == pytest.approx(res["win_rate"])


def test_fit_l1_logistic_is_the_soft_label_mle_for_large_c():
    x = np.column_stack([np.ones(4), [-1.0, -0.5, 0.5, 1.0]])
    y = np.array([0.2, 0.4, 0.6, 0.8])
    beta = fit_l1_logistic(x, y, C=1e6)
    p = 1 / (1 + np.exp(-x @ beta))
    assert np.abs(x.T @ (p - y)).max() < 1e-4      # score equations of the MLE
    assert np.allclose(fit_l1_logistic(x, y, C=1e-4), 0.0)  # heavy L1: all zero


def test_extreme_change_rule():
    assert is_extreme_change(20.0, 9.9) and not is_extreme_change(20.0, 10.1)
    assert is_extreme_change(50.0, 63.0) and not is_extreme_change(50.0, 62.0)


def test_errors_name_the_fix(data, tmp_path):
    v = data["verdicts"]
    with pytest.raises(ValueError, match="Baseline 'gpt5' appears in neither"):
        win_rates(v, "gpt5", seed=0)
    with pytest.raises(ValueError, match="model_1/model_2"):
        win_rates(v.drop(columns=["model_1"]), "base", seed=0)
    with pytest.raises(ValueError, match="needs baseline_variants"):
        win_rates(v, "base", seed=0, length_control=True, regularize_to_baseline=0.2)
    partial = tmp_path / "d.csv"
    pd.DataFrame({"prompt": ["Instruction 0?"], "difficulty": [0.1]}).to_csv(partial, index=False)
    with pytest.raises(ValueError, match="has no entry in the instruction difficulty table"):
        win_rates(v, "base", seed=0, length_control=True, instruction_difficulty=partial)
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"q": ["x"], "difficulty": [0.1]}).to_csv(bad, index=False)
    with pytest.raises(ValueError, match="needs a 'prompt'"):
        load_instruction_difficulty(bad)


def test_cli_winrate(data, tmp_path, capsys):
    from judgebench.cli import main
    from judgebench.verdicts import save_table

    path = save_table(data["verdicts"], tmp_path / "v.parquet")
    rc = main(["winrate", "--verdicts", str(path), "--baseline", "base", "--length-control",
               "--instruction-difficulty", str(data["dir"] / "difficulty.csv"), "--n-boot", "100",
               "--out", str(tmp_path / "wr.csv")])
    out = capsys.readouterr()
    assert rc == 0 and "lc_win_rate" in out.out and "verbose" in out.out
    table = pd.read_csv(tmp_path / "wr.csv")
    assert set(MODELS) <= set(table.model)
    assert main(["winrate", "--verdicts", str(path), "--baseline", "nobody"]) == 2
    assert "Baseline 'nobody'" in capsys.readouterr().err
