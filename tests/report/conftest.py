"""Result directories for the report tests: real audits and calibrations of simulated judges,
and small synthetic loop runs and sweeps with the keys the loop writes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from judgebench.audit.suite import run_audit
from judgebench.calibration.pipeline import run_calibration
from judgebench.judges import SimulatedJudge
from judgebench.judges.simulated import simulate_verdicts
from judgebench.verdicts import bundled_pairs

N_BOOT = 100


@pytest.fixture(scope="session")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A quickstart-like parent: audit-sim/ (with probes), audit-multi/ (two judges, no
    probes), calibration-sim/, runs/biased/ and runs/calibrated/ (synthetic, 3 iterations)."""
    root = tmp_path_factory.mktemp("results")
    judge = SimulatedJudge(position=1.5, verbosity=1.0, noise=0.5, seed=0, name="sim-biased")
    run_audit(judge=judge, pairs=bundled_pairs().head(60), out_dir=root / "audit-sim",
              n_boot=N_BOOT, judge_model="verbose-bot")
    two = pd.concat([simulate_verdicts(200, seed=0, position=1.0, verbosity=0.8, judge="a"),
                     simulate_verdicts(200, seed=0, position=-0.3, judge="b")])
    run_audit(two, out_dir=root / "audit-multi", n_boot=N_BOOT)
    run_calibration(simulate_verdicts(300, seed=1, position=1.0, temperature=2.5),
                    ["swap", "temperature"], out_dir=root / "calibration-sim", n_boot=N_BOOT)
    write_run(root / "runs" / "biased", n_rows=3, n_iterations=2, drift=12.0)
    write_run(root / "runs" / "calibrated", n_rows=3, n_iterations=2, drift=2.0,
              steps=("swap", "length"))
    return root


@pytest.fixture
def copy_of(tmp_path: Path):
    """copy_of(path) -> a private copy of a session directory (tests may write into it)."""
    def copy(src: Path) -> Path:
        dst = tmp_path / src.name
        shutil.copytree(src, dst)
        return dst
    return copy


def loop_row(i: int, drift: float, calibrated: bool) -> dict:
    """One metrics.jsonl row with the keys judgebench.rlaif.loop writes."""
    cal_shift = -0.05 * i if calibrated else 0.0
    return {
        "iteration": i, "n_eval": 16, "length_chars_mean": 56.0 + drift * i,
        "length_chars_median": 56.0 + drift * i, "length_tokens_mean": 20.0 + i,
        "length_drift_chars": drift * i, "length_drift_tokens": float(i),
        "gold_mean": 0.5 - 0.01 * i * drift / 10, "gold_change": -0.01 * i * drift / 10,
        "gold_win_rate": 0.5, "judge_score_raw": 0.5 + 0.03 * i,
        "judge_score_calibrated": 0.5 + 0.03 * i + cal_shift,
        "judge_win_rate_raw": 0.5 + 0.1 * i, "judge_win_rate_calibrated": 0.5 + 0.05 * i,
        "proxy_gold_gap": 0.05 * i, "length_explained_share": None,
        "n_pairs": 96, "n_train_pairs": 90, "label_accuracy": 0.7 - 0.05 * i,
        "position_decided_raw": 0.25, "label_prefers_longer": 0.8,
        "judge_position_consistency": {"estimate": 0.77, "ci": [0.69, 0.83], "n": 96},
        "judge_p_first": {"estimate": 0.49, "ci": [0.44, 0.53], "n": 96},
        "judge_length_slope": {"estimate": 2.9, "ci": [2.2, 4.1], "n": 96},
        "n_pairs_dropped": 0, "time_generate_s": 0.3, "time_judge_s": 0.2,
        "time_train_s": 1.0, "time_instrument_s": 0.2,
    }


def write_run(path: Path, *, n_rows: int, n_iterations: int, drift: float,
              steps: tuple[str, ...] = (), spec: str = "simulated:verbosity=2.0,seed=0") -> Path:
    """A loop run directory: config.toml, state.json and ``n_rows`` metrics rows."""
    path.mkdir(parents=True, exist_ok=True)
    steps_toml = "[" + ", ".join(json.dumps(s) for s in steps) + "]"
    (path / "config.toml").write_text(
        f"[run]\nseed = 0\nn_iterations = {n_iterations}\n\n[policy]\nmodel = \"tiny:0\"\n\n"
        f"[judge]\nspec = {json.dumps(spec)}\nquality = \"verifier\"\n\n"
        f"[calibration]\nsteps = {steps_toml}\n")
    (path / "state.json").write_text(json.dumps({"finished": [], "config_changes": []}))
    rows = [loop_row(i, drift, bool(steps)) for i in range(n_rows)]
    (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def make_run():
    """make_run(path, n_rows=..., n_iterations=..., drift=...) -> a synthetic run directory."""
    return write_run


@pytest.fixture(scope="session")
def sweep_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sweep: 2 calibrations x 3 biases x 3 seeds in sweep.csv, propagation.json from
    judgebench.rlaif.study.propagation_table, and two of its runs under runs/."""
    from judgebench.rlaif.study import propagation_table

    root = tmp_path_factory.mktemp("sweep")
    rng = np.random.default_rng(0)
    rows = []
    for cal, slope in (("none", 30.0), ("swap+length", 5.0)):
        for bias in ("0", "1", "2"):
            for seed in (0, 1, 2):
                rows.append({"judge.verbosity": bias, "calibration": cal, "seed": seed,
                             "run_dir": f"runs/verbosity={bias}__calibration={cal}__seed={seed}",
                             "n_iterations": 2,
                             "final_length_drift_chars": slope * int(bias) + rng.normal(0, 3),
                             "final_gold_change": -0.001 * slope * int(bias),
                             "mean_label_accuracy": 0.7})
    table = pd.DataFrame(rows)
    table.to_csv(root / "sweep.csv", index=False)
    prop = propagation_table(table, ["judge.verbosity", "calibration"], n_boot=200)
    (root / "propagation.json").write_text(json.dumps(prop, indent=2))
    for name, drift in (("verbosity=0__calibration=none__seed=0", 0.0),
                        ("verbosity=2__calibration=none__seed=0", 30.0)):
        write_run(root / "runs" / name, n_rows=3, n_iterations=2, drift=drift)
    return root
