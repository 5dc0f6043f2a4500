"""Experiments across runs: a grid of loop runs and the propagation coefficient.

``run_sweep("configs/tiny.toml", "runs/sweep", ["judge.verbosity=0,1,2",
"calibration=none,swap+length"], "0,1,2")`` runs every grid point with every seed (each run in
its own resumable directory, so a killed sweep continues where it stopped), then writes

* ``sweep.csv``: one row per run: the grid values, the seed, and the final iteration's length
  drift, gold change, proxy–gold gap and judge win rate, plus label accuracy averaged over
  iterations;
* ``propagation.json``: for each setting of the other axes (e.g. each calibration), the
  **propagation coefficient**: the OLS slope of the final length drift (characters) on the
  injected verbosity bias, with a 95% bootstrap CI that resamples whole seeds
  (propagation.propagation_coefficient), and the same slope for the gold change.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from judgebench.rlaif.loop import run_from_config
from judgebench.rlaif.propagation import propagation_coefficient

#: The grid axis read as the injected bias (the simulated judge's β per log-length ratio).
BIAS_AXIS = "judge.verbosity"
#: Final-iteration metrics copied into sweep.csv.
FINAL_KEYS = ("length_drift_chars", "length_drift_tokens", "length_chars_mean", "gold_mean",
              "gold_change", "gold_win_rate", "judge_win_rate_raw", "judge_win_rate_calibrated",
              "proxy_gold_gap", "length_explained_share")
#: Metrics averaged over the iterations that have labels.
MEAN_KEYS = ("label_accuracy", "position_decided_raw", "label_prefers_longer")


def parse_grid(grid: list[str] | tuple[str, ...]) -> list[tuple[str, list[str]]]:
    """["judge.verbosity=0,1", "calibration=none,swap+length"] -> [(key, [values]), ...].

    >>> parse_grid(["judge.verbosity=0,0.5"])
    [('judge.verbosity', ['0', '0.5'])]
    """
    axes = []
    for item in grid:
        if "=" not in item:
            raise ValueError(f"Grid axis {item!r} must look like key=v1,v2 "
                             "(e.g. judge.verbosity=0,1,2 or calibration=none,swap+length).")
        key, values = (s.strip() for s in item.split("=", 1))
        vals = [v.strip() for v in values.split(",") if v.strip()]
        if not vals:
            raise ValueError(f"Grid axis {key!r} has no values.")
        if key in [k for k, _ in axes]:
            raise ValueError(f"Grid axis {key!r} is given twice; list all its values once.")
        axes.append((key, vals))
    return axes


def parse_seeds(seeds: str | list[int]) -> list[int]:
    """"0,1,2" -> [0, 1, 2]."""
    if isinstance(seeds, list | tuple):
        return [int(s) for s in seeds]
    try:
        out = [int(s) for s in str(seeds).split(",") if s.strip()]
    except ValueError:
        raise ValueError(f"seeds must be comma-separated integers; got {seeds!r}.") from None
    if not out:
        raise ValueError("seeds is empty; give at least one, e.g. '0,1,2'.")
    return out


def _slug(values: dict[str, str], seed: int) -> str:
    parts = [f"{k.split('.')[-1]}={v}" for k, v in values.items()] + [f"seed={seed}"]
    return re.sub(r"[^A-Za-z0-9_.=+-]", "_", "__".join(parts))


def run_sweep(config_path: str | Path, out_dir: str | Path, grid: list[str],
              seeds: str | list[int] = "0", *, n_boot: int = 2000) -> dict[str, Any]:
    """Run the grid x seeds, write sweep.csv and propagation.json; returns the latter's dict."""
    axes = parse_grid(grid)
    seed_list = parse_seeds(seeds)
    out = Path(out_dir)
    records = []
    for combo in itertools.product(*[vals for _, vals in axes]):
        values = dict(zip([k for k, _ in axes], combo))
        for seed in seed_list:
            run_dir = out / "runs" / _slug(values, seed)
            overrides = [f"{k}={v}" for k, v in values.items()] + [f"run.seed={seed}"]
            rows = run_from_config(config_path, run_dir, overrides)
            records.append(_record(values, seed, run_dir, rows))
    table = pd.DataFrame(records)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "sweep.csv", index=False)
    result = propagation_table(table, [k for k, _ in axes], n_boot=n_boot)
    (out / "propagation.json").write_text(json.dumps(result, indent=2, allow_nan=False))
    return result


def _record(values: dict[str, str], seed: int, run_dir: Path, rows: list[dict]) -> dict:
    final = rows[-1]
    rec: dict[str, Any] = dict(values)
    rec.update({"seed": seed, "run_dir": str(run_dir), "n_iterations": final["iteration"]})
    for key in FINAL_KEYS:
        rec[f"final_{key}"] = final.get(key)
    for key in MEAN_KEYS:
        vals = [r.get(key) for r in rows if r.get(key) is not None]
        rec[f"mean_{key}"] = float(np.mean(vals)) if vals else None
    return rec


def propagation_table(table: pd.DataFrame, axes: list[str], *, n_boot: int = 2000
                      ) -> dict[str, Any]:
    """Propagation coefficients per setting of the non-bias axes (see module doc)."""
    if BIAS_AXIS not in axes:
        return {"bias_axis": BIAS_AXIS, "settings": [],
                "note": f"no {BIAS_AXIS} axis in the grid: no propagation coefficient."}
    others = [a for a in axes if a != BIAS_AXIS]
    bias = table[BIAS_AXIS].astype(float)
    groups = table.groupby(others, sort=False) if others else [((), table)]
    settings = []
    for key, sub in groups:
        key = key if isinstance(key, tuple) else (key,)
        b = bias.loc[sub.index].to_numpy()
        entry: dict[str, Any] = {"setting": dict(zip(others, key))}
        for metric, name in (("final_length_drift_chars", "length_drift_per_unit_bias"),
                             ("final_gold_change", "gold_change_per_unit_bias")):
            est = propagation_coefficient(b, sub[metric].astype(float).to_numpy(),
                                          sub["seed"].to_numpy(), n_boot=n_boot, seed=0)
            entry[name] = est.to_dict()
        settings.append(entry)
    return {"bias_axis": BIAS_AXIS,
            "definition": "OLS slope of the final-iteration length drift (characters) on the "
                          "judge's verbosity bias; 95% percentile bootstrap over seeds.",
            "settings": settings}
