"""Studies: a grid of loop runs over seeds, run cell by cell, kept as small files, summarised.

``run_sweep("configs/smollm2-study.toml", "studies/smollm2-verbosity",
["judge.verbosity=0,1,3", "calibration=none,length"], "0,1,2,3,4,5")`` runs every grid
point with every seed. A **cell** is one (grid point, seed) run. The cells run seed by seed
(every grid point of seed 0, then of seed 1, ...), so a study stopped early still has
balanced, paired arms. Layout::

    OUT/runs/<cell>/         the full run directory (checkpoints, caches): never committed
    OUT/cells/<cell>/        what a finished cell keeps (a few hundred KB, committed):
        row.json             status ("done" / "failed"), wall time, error, the summary row
        config.toml          the resolved config
        metrics.jsonl        one row per iteration (loop.py)
        responses.parquet    every held-out response and training candidate, with gold
        labels.parquet       every training pair's judge label, gold label and lengths
    OUT/sweep.csv            one row per finished cell (from cells/*/row.json)
    OUT/propagation.json     the propagation coefficients (rlaif/study.py)
    OUT/study.json, study.md the study's statistics: per-cell t-intervals over seeds, the
                             dose-response curve and its lack-of-fit test, paired calibration
                             tests (rlaif/study.py)

A cell whose ``row.json`` says done is never run again (even when ``runs/`` is gone, as in a
fresh clone of a repository that committed ``cells/``); a failed cell (a NaN loss, out of
memory, any error) is recorded with its error, the study goes on, and a rerun retries it.
``jobs`` runs several cells side by side in separate processes; ``budget_minutes`` says
before starting how many cells fit, and starts no cell that would end past the budget, so a
long study finishes over several sessions by rerunning the same command.
"""

from __future__ import annotations

import itertools
import json
import re
import sys
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from judgebench.io import atomic_write, to_jsonable

if TYPE_CHECKING:
    from judgebench.results import SweepResult

#: The grid axis read as the injected bias (the simulated judge's β per log-length ratio).
BIAS_AXIS = "judge.verbosity"
#: Final-iteration metrics copied into sweep.csv (plus every gold_change_kind_* / pass_* key).
FINAL_KEYS = ("length_drift_chars", "length_drift_tokens", "length_chars_mean", "gold_mean",
              "gold_change", "gold_win_rate", "judge_win_rate_raw", "judge_win_rate_calibrated",
              "proxy_gold_gap", "length_explained_share", "truncated_share")
FINAL_PREFIXES = ("gold_change_kind_", "gold_mean_kind_", "pass_", "feature_rate_",
                  "hack_share_")
#: Metrics averaged over the iterations that have labels.
MEAN_KEYS = ("label_accuracy", "label_accuracy_raw", "position_decided_raw",
             "label_prefers_longer", "label_picks_first", "position_label_share")


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
    """"0,1,2" -> [0, 1, 2]; "0-5" -> [0, 1, 2, 3, 4, 5].

    >>> parse_seeds("0-2,7")
    [0, 1, 2, 7]
    """
    if isinstance(seeds, list | tuple):
        return [int(s) for s in seeds]
    out: list[int] = []
    try:
        for part in (s.strip() for s in str(seeds).split(",")):
            if not part:
                continue
            if "-" in part[1:]:
                lo, hi = part.split("-", 1)
                out.extend(range(int(lo), int(hi) + 1))
            else:
                out.append(int(part))
    except ValueError:
        raise ValueError(f"seeds must be comma-separated integers or ranges like 0-5; got "
                         f"{seeds!r}.") from None
    if not out:
        raise ValueError("seeds is empty; give at least one, e.g. '0,1,2'.")
    return out


def cell_name(values: dict[str, str], seed: int) -> str:
    """The directory name of one cell: ``verbosity=3__calibration=length__seed=2``.

    Example:

    >>> cell_name({"judge.verbosity": "3", "calibration": "swap+length"}, 2)
    'verbosity=3__calibration=swap+length__seed=2'
    """
    parts = [f"{k.split('.')[-1]}={v}" for k, v in values.items()] + [f"seed={seed}"]
    return re.sub(r"[^A-Za-z0-9_.=+-]", "_", "__".join(parts))


@dataclass
class Cell:
    """One (grid point, seed) run of a study.

    Example:

    >>> cell = Cell({"judge.verbosity": "3"}, seed=2)
    >>> cell.name, cell.overrides()
    ('verbosity=3__seed=2', ['judge.verbosity=3', 'run.seed=2'])
    """

    values: dict[str, str]
    seed: int

    @property
    def name(self) -> str:
        """Its directory name under runs/ and cells/."""
        return cell_name(self.values, self.seed)

    def overrides(self) -> list[str]:
        """The ``--set`` overrides that make the base config this cell's config."""
        return [f"{k}={v}" for k, v in self.values.items()] + [f"run.seed={self.seed}"]


def plan_cells(grid: list[str], seeds: str | list[int]) -> list[Cell]:
    """Every cell of the grid, seed-major (all grid points of the first seed come first).

    >>> [c.name for c in plan_cells(["judge.verbosity=0,3"], "0,1")]
    ['verbosity=0__seed=0', 'verbosity=3__seed=0', 'verbosity=0__seed=1', 'verbosity=3__seed=1']
    """
    axes = parse_grid(grid)
    keys = [k for k, _ in axes]
    return [Cell(dict(zip(keys, combo)), seed) for seed in parse_seeds(seeds)
            for combo in itertools.product(*[vals for _, vals in axes])]


def read_cell(out: Path, cell: Cell) -> dict[str, Any] | None:
    """The cell's row.json, or None when it has not finished (or its file is unreadable).

    Example:

    >>> import tempfile
    >>> cell = Cell({"judge.verbosity": "3"}, seed=0)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     before = read_cell(Path(tmp), cell)                  # not finished yet
    ...     (Path(tmp) / "cells" / cell.name).mkdir(parents=True)
    ...     _ = (Path(tmp) / "cells" / cell.name / "row.json").write_text('{"status": "done"}')
    ...     print(before, read_cell(Path(tmp), cell))
    None {'status': 'done'}
    """
    path = out / "cells" / cell.name / "row.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def run_sweep(config_path: str | Path, out_dir: str | Path, grid: list[str],
              seeds: str | list[int] = "0", *, n_boot: int = 2000, jobs: int = 1,
              budget_minutes: float | None = None, keep_checkpoints: bool = True,
              log: Callable[[str], None] | None = None) -> SweepResult:
    """Run (or resume) a study; write the cells, sweep.csv, propagation.json and study.json.

    Returns a :class:`~judgebench.results.SweepResult` of the folder (``.tables``, ``.plot()``;
    indexing it as propagation.json's dict, which it returned before, still works, deprecated).
    ``budget_minutes``: start no cell that would end after
    this many minutes (estimated from the cells already finished, else from the config's
    size; the plan is logged first). ``keep_checkpoints=False`` deletes a finished cell's
    runs/ directory, keeping only its cells/ files.

    >>> run_sweep("configs/tiny.toml", "runs/sweep",                     # doctest: +SKIP
    ...           ["judge.verbosity=0,4", "calibration=none,length"], "0-2")
    """
    from judgebench.rlaif.config import load_config

    say = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1; got {jobs}.")
    out = Path(out_dir)
    cells = plan_cells(grid, seeds)
    # Every cell's config is checked before the first one runs: a typo in the grid fails now,
    # not hours later.
    for cell in cells:
        load_config(config_path, cell.overrides())
    todo = [c for c in cells if (read_cell(out, c) or {}).get("status") != "done"]
    est = estimate_cell_seconds(config_path, [read_cell(out, c) for c in cells])
    _say_plan(say, cells, todo, est, jobs, budget_minutes)
    if todo:
        _prepare_models(config_path)
    t_start = time.perf_counter()

    def fits() -> bool:
        if budget_minutes is None or est.seconds is None:
            return True
        # Cells run in waves of `jobs`: the next one ends about one cell time from now.
        elapsed = time.perf_counter() - t_start
        return elapsed + est.seconds <= budget_minutes * 60.0

    queue = list(todo)
    stopped = 0
    if jobs == 1:
        while queue:
            if not fits():
                stopped = len(queue)
                break
            cell = queue.pop(0)
            row = run_cell(str(config_path), str(out), cell.values, cell.seed, keep_checkpoints)
            _say_cell(say, row, cells, out)
    else:
        import multiprocessing as mp

        from judgebench.rlaif import runlog

        # A spawned worker starts with the library defaults: hand it this process's --verbose.
        with ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn"),
                                 initializer=runlog.set_verbose,
                                 initargs=(runlog.is_verbose(),)) as pool:
            running: dict[Future, Cell] = {}
            while queue or running:
                while queue and len(running) < jobs and fits():
                    cell = queue.pop(0)
                    running[pool.submit(run_cell, str(config_path), str(out), cell.values,
                                        cell.seed, keep_checkpoints)] = cell
                if not running:
                    stopped = len(queue)
                    break
                done, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for fut in done:
                    running.pop(fut)
                    _say_cell(say, fut.result(), cells, out)
    if stopped:
        say(f"sweep: stopped before the budget of {budget_minutes:g} min ran out; {stopped} "
            "cell(s) left. Rerun the same command to continue.")
    summarize(out, grid_keys=[k for k, _ in parse_grid(grid)], n_boot=n_boot)
    from judgebench.results import SweepResult
    return SweepResult.load(out)


def run_cell(config_path: str, out_dir: str, values: dict[str, str], seed: int,
             keep_checkpoints: bool = True) -> dict[str, Any]:
    """Run one cell and write its cells/ files; a failure is recorded, never raised.

    Returns the row written to ``cells/<cell>/row.json``.

    Example:

    A failure is recorded in the cell's row.json, not raised (a real cell runs the whole loop):

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     row = run_cell("missing.toml", tmp, {"judge.verbosity": "2"}, seed=0)
    ...     print(row["cell"], row["status"], row["error"])
    ...     print(read_cell(Path(tmp), Cell({"judge.verbosity": "2"}, 0))["status"])
    verbosity=2__seed=0 failed FileNotFoundError: No config file at 'missing.toml'.
    failed
    """
    from judgebench.rlaif.loop import run_from_config

    cell = Cell(values, seed)
    out = Path(out_dir)
    run_dir, cell_dir = out / "runs" / cell.name, out / "cells" / cell.name
    t0 = time.perf_counter()
    row: dict[str, Any] = {"cell": cell.name, "values": values, "seed": seed}
    try:
        from judgebench.rlaif.config import load_config

        inst = load_config(config_path, cell.overrides()).instrument
        rows = run_from_config(config_path, run_dir, cell.overrides())
        row.update(status="done", record=summary_record(
            values, seed, rows, onset_gap=inst.onset_gap, onset_share=inst.onset_share))
    except Exception as err:  # noqa: BLE001 - a failed cell is data; the study goes on
        row.update(status="failed", error=f"{type(err).__name__}: {err}")
    row["wall_s"] = time.perf_counter() - t0
    from judgebench import __version__

    row["judgebench_version"] = __version__
    cell_dir.mkdir(parents=True, exist_ok=True)
    if row["status"] == "done":
        _keep_small_files(run_dir, cell_dir)
    atomic_write(cell_dir / "row.json", json.dumps(to_jsonable(row), indent=1))
    if row["status"] == "done" and not keep_checkpoints:
        import shutil

        shutil.rmtree(run_dir, ignore_errors=True)
    return row


def summary_record(values: dict[str, str], seed: int, rows: list[dict], *,
                   onset_gap: float = 0.1, onset_share: float = 0.1) -> dict[str, Any]:
    """One sweep.csv row: grid values, seed, final-iteration and mean label metrics, and the
    hacking-onset iteration of each traced feature (``onset_<f>``; -1 when none started).

    The final row is the last *evaluated* iteration (held-out metrics exist only there).

    Example:

    >>> rows = [{"iteration": 0, "length_drift_chars": 0.0, "proxy_gold_gap": 0.0},
    ...         {"iteration": 1, "length_drift_chars": 12.5, "proxy_gold_gap": 0.2,
    ...          "n_pairs": 6, "label_accuracy": 0.75}]
    >>> rec = summary_record({"judge.verbosity": "2"}, 0, rows)
    >>> rec["n_iterations"], rec["final_length_drift_chars"], rec["mean_label_accuracy"]
    (1, 12.5, 0.75)
    """
    from judgebench.rlaif.propagation import onset_iteration

    evaluated = [r for r in rows if r.get("evaluated", True)]
    final = evaluated[-1] if evaluated else rows[-1]
    rec: dict[str, Any] = dict(values)
    rec.update({"seed": seed, "n_iterations": rows[-1]["iteration"]})
    for key in FINAL_KEYS:
        rec[f"final_{key}"] = final.get(key)
    for key in sorted(k for k in final if k.startswith(FINAL_PREFIXES)):
        rec[f"final_{key}"] = final[key]
    labelled = [r for r in rows if r.get("n_pairs")]
    for key in MEAN_KEYS:
        vals = [r.get(key) for r in labelled if r.get(key) is not None]
        rec[f"mean_{key}"] = float(np.mean(vals)) if vals else None
    for key in sorted({k for r in labelled for k in r if k.startswith("label_prefers_")}
                      - {"label_prefers_longer"}):
        vals = [r[key] for r in labelled if r.get(key) is not None]
        rec[f"mean_{key}"] = float(np.mean(vals)) if vals else None
    for feature in sorted({k[len("hack_share_"):] for r in rows for k in r
                           if k.startswith("hack_share_")}):
        onset = onset_iteration(evaluated, feature, gap=onset_gap, share=onset_share)
        rec[f"final_onset_{feature}"] = -1 if onset is None else onset
    rec["run_position_channel"] = labelled[0].get("position_channel") if labelled else None
    return rec


def summarize(out_dir: str | Path, grid_keys: list[str] | None = None, *, n_boot: int = 2000
              ) -> dict[str, Any]:
    """Rebuild sweep.csv, propagation.json, study.json and study.md from cells/*/row.json.

    Reads every finished cell, including those of earlier sessions; failed cells are listed
    in study.json under ``failed``.

    Example:

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:          # a study with no finished cell yet
    ...     prop = summarize(tmp, ["judge.verbosity"], n_boot=0)
    ...     print(sorted(p.name for p in Path(tmp).iterdir()))
    ['propagation.json', 'study.json', 'study.md', 'sweep.csv']
    >>> prop["bias_axis"], prop["settings"]
    ('judge.verbosity', [])
    """
    from judgebench.rlaif import study

    out = Path(out_dir)
    rows = []
    for path in sorted((out / "cells").glob("*/row.json")):
        try:
            rows.append(json.loads(path.read_text()))
        except ValueError:
            continue
    done = [r for r in rows if r.get("status") == "done"]
    for r in done:  # cells written before the run_ prefix (a run's facts, not grid axes)
        rec = r["record"]
        if "position_channel" in rec:
            rec.setdefault("run_position_channel", rec.pop("position_channel"))
    table = pd.DataFrame([{**r["record"], "run_dir": str(out / "runs" / r["cell"]),
                           "run_wall_s": r.get("wall_s")} for r in done])
    if grid_keys is None:
        grid_keys = list(done[0]["values"]) if done else []
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "sweep.csv", table.to_csv(index=False))
    prop = study.propagation_table(table, grid_keys, n_boot=n_boot)
    atomic_write(out / "propagation.json", json.dumps(to_jsonable(prop), indent=2,
                                                       allow_nan=False))
    result = study.analyse(table, grid_keys, n_boot=n_boot)
    result["failed"] = [{"cell": r["cell"], "error": r.get("error")} for r in rows
                        if r.get("status") == "failed"]
    result["wall_s"] = {"median_per_cell": float(np.median([r["wall_s"] for r in done]))
                        if done else None, "n_cells": len(done)}
    atomic_write(out / "study.json", json.dumps(to_jsonable(result), indent=1, allow_nan=False))
    atomic_write(out / "study.md", study.to_markdown(result))
    return prop


# ---------------------------------------------------------------------------------------------
# Time estimates


@dataclass
class CellEstimate:
    """The expected wall time of one cell and where the number came from.

    Example:

    >>> est = CellEstimate(seconds=90.0, basis="median of 3 finished cell(s)")
    >>> f"about {est.seconds / 60:.1f} min a cell ({est.basis})"
    'about 1.5 min a cell (median of 3 finished cell(s))'
    """

    seconds: float | None
    basis: str


#: Seconds per (generated or trained) token per parameter on one thread of this project's
#: 2-core CI machine (fp32), measured on SmolLM2-135M: 48 candidates x 40 tokens in 21 s;
#: DPO on 24 pairs (chosen + rejected, ~85 tokens each, policy forward+backward and reference
#: forward) in ~75 s. Only a guide until a cell of the study has finished.
_GEN_S_PER_TOKEN_PARAM = 8.1e-11
_TRAIN_S_PER_TOKEN_PARAM = 1.4e-10
_KNOWN_PARAMS = {"bundled:smollm2": 135e6}


def estimate_cell_seconds(config_path: str | Path, rows: list[dict | None]) -> CellEstimate:
    """A cell's wall time: the median of finished cells', else a size model of the config.

    Example:

    >>> rows = [{"status": "done", "wall_s": 40.0}, {"status": "done", "wall_s": 50.0}, None]
    >>> estimate_cell_seconds("configs/tiny.toml", rows)     # finished cells: the config unread
    CellEstimate(seconds=45.0, basis='median of 2 finished cell(s)')
    """
    walls = [r["wall_s"] for r in rows if r and r.get("status") == "done" and r.get("wall_s")]
    if walls:
        return CellEstimate(float(np.median(walls)), f"median of {len(walls)} finished cell(s)")
    from judgebench.rlaif.config import load_config

    cfg = load_config(config_path)
    params = _KNOWN_PARAMS.get(cfg.policy.model)
    if params is None:
        if cfg.policy.model.startswith("tiny:"):
            return CellEstimate(30.0 * (cfg.run.n_iterations + 1) / 3, "tiny model (rough)")
        return CellEstimate(None, f"no size model for policy {cfg.policy.model!r}")
    s, t = cfg.sampling, cfg.tasks
    n_eval = t.n_eval_prompts or 100
    n_evals = len({0, cfg.run.n_iterations} | set(range(0, cfg.run.n_iterations + 1,
                                                        cfg.instrument.eval_every)))
    gen_tokens = (cfg.run.n_iterations + 1) * t.n_train_prompts * s.k * s.max_new_tokens \
        + n_evals * n_eval * s.max_new_tokens
    pairs = t.n_train_prompts * (s.k // 2 if cfg.labeling.pairing == "disjoint"
                                 else s.k * (s.k - 1) // 2)
    train_tokens = cfg.run.n_iterations * pairs * 2 * (s.max_new_tokens + 45) \
        * cfg.optimize.epochs
    seconds = params * (gen_tokens * _GEN_S_PER_TOKEN_PARAM
                        + train_tokens * _TRAIN_S_PER_TOKEN_PARAM) + 20.0
    return CellEstimate(seconds, "size model of the config (no finished cell yet)")


def _say_plan(say, cells: list[Cell], todo: list[Cell], est: CellEstimate, jobs: int,
              budget_minutes: float | None) -> None:
    n_done = len(cells) - len(todo)
    msg = f"sweep: {len(cells)} cells, {n_done} already finished, {len(todo)} to run"
    if est.seconds is not None and todo:
        total = est.seconds * len(todo) / jobs / 60.0
        msg += (f"; about {est.seconds / 60:.1f} min a cell ({est.basis}), {total:.0f} min "
                f"in all with {jobs} job(s)")
        if budget_minutes is not None and total > budget_minutes:
            fit = int(budget_minutes * 60.0 // est.seconds) * jobs
            msg += (f". That exceeds the budget of {budget_minutes:g} min: about "
                    f"{min(fit, len(todo))} cell(s) fit now; rerun the same command later "
                    "to run the rest")
    say(msg + ".")


def _say_cell(say, row: dict, cells: list[Cell], out: Path) -> None:
    n_done = sum((read_cell(out, c) or {}).get("status") == "done" for c in cells)
    if row["status"] == "done":
        from judgebench.rlaif.study import dose_axis, family_columns, family_name

        rec = row["record"]
        # A feature dose's own drift first (the change in the share showing the feature).
        dose = dose_axis(list(row.get("values", {})))
        name = family_name(dose)
        family = "" if name == "length" else \
            f"{name} rate change {rec.get(family_columns(dose)[0], float('nan')):+.3f}, "
        say(f"sweep: {row['cell']} done in {row['wall_s'] / 60:.1f} min ({family}drift "
            f"{rec.get('final_length_drift_chars', float('nan')):+.1f} chars, gold change "
            f"{rec.get('final_gold_change', float('nan')):+.3f}); {n_done}/{len(cells)} cells")
    else:
        say(f"sweep: {row['cell']} FAILED after {row['wall_s'] / 60:.1f} min: {row['error']} "
            "(recorded; the study goes on, a rerun retries it)")


def _prepare_models(config_path: str | Path) -> None:
    # Convert the bundled GGUF once, before parallel cells would race to convert it.
    from judgebench.rlaif.config import load_config

    model = load_config(config_path).policy.model
    if model.startswith("bundled:"):
        from judgebench.models import bundled_model_dir

        bundled_model_dir(model.split(":", 1)[1])


def _keep_small_files(run_dir: Path, cell_dir: Path) -> None:
    """Copy what a finished run needs to be re-analysed (not its checkpoints) to cells/."""
    from judgebench.verdicts import load_table, save_table

    for name in ("config.toml", "metrics.jsonl"):
        atomic_write(cell_dir / name, (run_dir / name).read_text())
    frames = []
    for path in sorted(run_dir.glob("iter-*/eval.parquet")):
        frames.append(load_table(path).assign(phase="eval"))
    for path in sorted(run_dir.glob("iter-*/samples.parquet")):
        frames.append(load_table(path).assign(phase="train"))
    if frames:
        save_table(pd.concat(frames, ignore_index=True), cell_dir / "responses.parquet")
    keep = ["iteration", "pair_id", "task_id", "p_judge", "p_judge_raw", "p12", "p21",
            "p12_raw", "p21_raw", "label", "len_1", "len_2", "gold_1", "gold_2",
            "response_1", "response_2"]
    labels = [load_table(p) for p in sorted(run_dir.glob("iter-*/labels.parquet"))]
    if labels:
        table = pd.concat(labels, ignore_index=True)
        save_table(table[[c for c in keep if c in table.columns]], cell_dir / "labels.parquet")
