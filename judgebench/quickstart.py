"""The quickstart (`make demo`): audit, calibrate, and trace bias into a policy, on the bundled
model alone.

1. audit the bundled SmolLM2-135M judge (position, verbosity, agreement, padding and CALM probes)
   on a seeded sample of the bundled pairs, and a simulated judge with known biases on all of them;
2. calibrate both (swap, length control, temperature), fitted on one half, evaluated on the other;
3. present the committed SmolLM2 propagation study (``studies/smollm2-verbosity``: SmolLM2 as
   the policy, injected verbosity 0/1/3 x calibration none/length x seeds; its statistics are
   rebuilt from the committed cells);
4. rerun one cell of that study live (verbosity 3, no calibration, seed 0, its first two
   iterations) and check that it reproduces the committed numbers;
5. write one report (report.html) over everything.

``quick=True`` swaps SmolLM2 for a random tiny model and shrinks every size: the tests use it
(the tiny model is a plumbing check; its numbers headline nothing). Every step writes into its
own directory and skips itself when its output is already there, so an interrupted quickstart
resumes where it stopped (judgments are cached as well).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from judgebench.results import AuditResult, CalibrationResult
from judgebench.verdicts import bundled_pairs


@dataclass(frozen=True)
class QuickstartSizes:
    """How much of each step the quickstart runs.

    Example:

    >>> import dataclasses
    >>> QUICK.judge_model, QUICK.n_judge_pairs, dataclasses.replace(QUICK, n_boot=50).n_boot
    ('tiny:0', 40, 50)
    """

    judge_model: str
    policy_model: str
    n_judge_pairs: int
    probe_sample: int
    n_boot: int
    n_iterations: int
    n_train_prompts: int
    n_eval_prompts: int
    k: int
    max_new_tokens: int
    learning_rate: float
    lora: bool
    num_threads: int  # torch CPU threads in the loop; 0 = torch's default


# SmolLM2 judges at about 2-3 ordered pairs per second on 2 cores, and each probed pair costs
# ~32 judgments, so the real judge sees a sample; the loop mirrors configs/smollm2-cpu.toml.
FULL = QuickstartSizes(judge_model="bundled:smollm2", policy_model="bundled:smollm2",
                       n_judge_pairs=48, probe_sample=6, n_boot=1000, n_iterations=2,
                       n_train_prompts=14, n_eval_prompts=8, k=4, max_new_tokens=40,
                       learning_rate=2e-3, lora=True, num_threads=0)
QUICK = QuickstartSizes(judge_model="tiny:0", policy_model="tiny:0", n_judge_pairs=40,
                        probe_sample=4, n_boot=100, n_iterations=1, n_train_prompts=12,
                        n_eval_prompts=8, k=4, max_new_tokens=12, learning_rate=5e-3,
                        lora=False, num_threads=1)

#: Step 3: the committed study (relative to the working directory: the repository root, where
#: `make demo` runs) and the config it was run with.
STUDY_DIR = Path("studies/smollm2-verbosity")
STUDY_CONFIG = Path("configs/smollm2-study.toml")
#: Step 4: the cell rerun live, and how many of its iterations.
LIVE_CELL = {"judge.verbosity": "3", "calibration": "none"}
LIVE_SEED, LIVE_ITERATIONS = 0, 2
#: Metrics compared between the live cell and the committed one, iteration by iteration.
REPRODUCED_KEYS = ("length_chars_mean", "length_drift_chars", "gold_mean", "gold_change",
                   "label_prefers_longer", "label_accuracy", "rollout_length_chars_mean")

#: Full-size seconds per step, measured by `make demo` on this project's 2-core CI machine
#: (runs/quickstart/timings.json): the ETA the quickstart prints.
EXPECTED_S = {"audit_judge": 98, "audit_simulated": 1, "calibrate_judge": 1,
              "calibrate_simulated": 1, "study": 1, "live_cell": 290, "report": 3}

#: The quick live cell: configs/tiny.toml's settings (a random tiny policy; plumbing only).
TINY_SIZES = QuickstartSizes(judge_model="tiny:0", policy_model="tiny:0", n_judge_pairs=0,
                             probe_sample=0, n_boot=100, n_iterations=1, n_train_prompts=8,
                             n_eval_prompts=16, k=4, max_new_tokens=24, learning_rate=1e-2,
                             lora=False, num_threads=1)

#: The quickstart's log of the libraries' output, in --out.
LOG_FILE = "quickstart.log"

#: The simulated judge of the quickstart: biases set by us, so the audit can be checked.
SIMULATED_SPEC = "simulated:position=1.0,verbosity=1.0,noise=0.5,seed=0,name=simulated-biased"
#: The loop's judge: a strong verbosity bias on top of the verifier's gold.
LOOP_JUDGE = "simulated:verbosity=2.0,noise=0.5,seed=0"


def _log(message: str) -> None:
    print(f"[quickstart] {message}", flush=True)


def sample_pairs(n: int, seed: int = 0) -> pd.DataFrame:
    """A seeded sample of the bundled pairs, stratified by contrast (``source``).

    Example:

    >>> pairs = sample_pairs(12, seed=0)
    >>> len(pairs), pairs["source"].nunique()
    (12, 4)
    """
    pairs = bundled_pairs()
    if n >= len(pairs):
        return pairs
    rng = np.random.default_rng(seed)
    per = int(np.ceil(n / pairs["source"].nunique()))
    picks = [g.iloc[rng.permutation(len(g))[:per]] for _, g in pairs.groupby("source")]
    return pd.concat(picks).head(n).reset_index(drop=True)


def _audit(name: str, judge: str, pairs: pd.DataFrame, out: Path, sizes: QuickstartSizes,
           probe_sample: int) -> AuditResult:
    from judgebench.audit import run_audit

    target = out / f"audit-{name}"
    if (target / "audit.json").exists():
        _log(f"audit of {name}: already done ({target})")
        return AuditResult.load(target)
    _log(f"auditing {name} ({judge}) on {len(pairs)} pairs, both orders, probes on "
         f"{probe_sample} pairs")
    # Padding doses up to 200 characters: an 800-character pad makes every prompt several
    # times longer, which a 135M model on 2 cores pays for dearly.
    return run_audit(judge=judge, pairs=pairs, out_dir=target, seed=0, n_boot=sizes.n_boot,
                     probes=True, probe_sample=probe_sample, padding_doses=(50, 200))


def _calibrate(name: str, out: Path, sizes: QuickstartSizes) -> CalibrationResult | None:
    from judgebench.calibration import run_calibration

    target = out / f"calibration-{name}"
    if (target / "calibration.json").exists():
        _log(f"calibration of {name}: already done ({target})")
        return CalibrationResult.load(target)
    _log(f"calibrating {name}: swap, length, temperature (fit on half the pairs, "
         "report on the other half)")
    verdicts = pd.read_parquet(out / f"audit-{name}" / "verdicts.parquet")
    try:
        return run_calibration(verdicts=verdicts, steps=["swap", "length", "temperature"],
                               fit_frac=0.5, seed=0, out_dir=target, n_boot=sizes.n_boot)
    except ValueError as err:  # e.g. too few labelled pairs: say so, keep going
        _log(f"calibration of {name} skipped: {err}")
        return None


def _loop_config(sizes: QuickstartSizes, calibration: list[str], *, small_policy: bool = False
                 ) -> str:
    # small_policy: configs/tiny.toml's settings (every task kind, all k(k-1)/2 pairs, two
    # epochs of large batches), under which a random tiny policy moves within two iterations.
    steps = ", ".join(f'"{s}"' for s in calibration)
    kinds = "" if small_policy else \
        'kinds = ["qa", "ifeval"]  # word limits and bullet counts: where verbosity costs gold\n'
    pairing = '"all"' if small_policy else \
        '"disjoint"      # k/2 pairs per prompt: enough labels, few DPO steps'
    epochs, batch_size = (2.0, 16) if small_policy else (1.0, 4)
    return f"""
[run]
seed = 0
n_iterations = {sizes.n_iterations}
num_threads = {sizes.num_threads}
progress = {str(not small_policy).lower()}

[policy]
model = "{sizes.policy_model}"
lora = {str(sizes.lora).lower()}

[tasks]
{kinds}n_train_prompts = {sizes.n_train_prompts}
n_eval_prompts = {sizes.n_eval_prompts}

[sampling]
k = {sizes.k}
max_new_tokens = {sizes.max_new_tokens}
temperature = 1.0
eval_temperature = {1.0 if small_policy else 0.7}

[labeling]
pairing = {pairing}

[judge]
spec = "{LOOP_JUDGE}"
quality = "verifier"

[calibration]
steps = [{steps}]

[optimize]
algorithm = "dpo"
learning_rate = {sizes.learning_rate}
epochs = {epochs}
batch_size = {batch_size}
beta = 0.1

[trainer]
max_length = 160

[instrument]
n_boot = 100
"""


def _study(out: Path, study_dir: Path) -> dict | None:
    """Step 3: the committed study's statistics, rebuilt from its cells into out/."""
    import shutil

    from judgebench.rlaif.sweep import summarize

    target = out / "study-smollm2"
    cells = sorted((study_dir / "cells").glob("*/row.json")) if study_dir.is_dir() else []
    if not cells:
        _log(f"no committed study under {study_dir}/cells (run `judgebench sweep "
             f"{STUDY_CONFIG} --out {study_dir} --set judge.verbosity=0,1,3 "
             "calibration=none,length --seeds 0-5` to make one); step skipped")
        return None
    # Summarise a copy: the committed folder is left exactly as it is.
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(study_dir / "cells", target / "cells")
    _log(f"committed SmolLM2 study: {len(cells)} finished cells in {study_dir}")
    summarize(target)
    return json.loads((target / "study.json").read_text())


def _live_cell(out: Path, quick: bool, study_dir: Path) -> dict:
    """Step 4: one study cell rerun for its first iterations; compared with the committed one."""
    from judgebench.rlaif.loop import run_from_config
    from judgebench.rlaif.sweep import Cell

    cell = Cell(LIVE_CELL, LIVE_SEED)
    target = out / "runs" / "study-cell"
    if quick:  # the tiny plumbing check: the same code path, nothing to compare with
        config, extra = _write_tiny(out), ["run.n_iterations=1"]
    else:
        config, extra = STUDY_CONFIG, [f"run.n_iterations={LIVE_ITERATIONS}"]
        if not config.exists():
            raise FileNotFoundError(f"The study config {config} is not here: run the "
                                    "quickstart from the repository root (where `make demo` "
                                    "runs).")
    _log(f"live cell {cell.name} ({config}, {extra[0]})")
    rows = run_from_config(config, target, cell.overrides() + extra)
    committed = study_dir / "cells" / cell.name / "metrics.jsonl"
    result: dict = {"cell": cell.name, "iterations": len(rows) - 1, "compared": False}
    if not quick and committed.exists():
        old = [json.loads(x) for x in committed.read_text().splitlines() if x.strip()]
        diffs = [abs(float(a[k]) - float(b[k])) for a, b in zip(rows, old) for k in
                 REPRODUCED_KEYS if a.get(k) is not None and b.get(k) is not None]
        result.update(compared=True, max_abs_diff=max(diffs) if diffs else None,
                      n_values=len(diffs))
        verdict = "reproduces" if diffs and max(diffs) < 1e-6 else "differs from"
        _log(f"live cell {verdict} the committed cell: {len(diffs)} values over "
             f"{len(rows)} iterations, largest difference {max(diffs, default=float('nan')):.3g}")
    (out / "runs" / "study-cell.json").write_text(json.dumps(result, indent=1))
    return result


def _write_tiny(out: Path) -> Path:
    path = out / "tiny.toml"
    path.write_text(_loop_config(TINY_SIZES, [], small_policy=True))
    return path


def run_quickstart(out: str | Path = "runs/quickstart", *, quick: bool = False,
                   study: str | Path | None = None) -> Path:
    """Run the whole quickstart into ``out`` and return the path of its report.html.

    ``study``: the committed study folder to present (default ``studies/smollm2-verbosity``
    under the working directory).

    >>> run_quickstart("runs/quickstart")   # doctest: +SKIP
    PosixPath('runs/quickstart/report/report.html')
    """
    from judgebench.report.html import write_report
    from judgebench.rlaif.runlog import library_output

    sizes = QUICK if quick else FULL
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    timings: dict[str, float] = {}

    timings_path = out / "timings.json"

    expected = dict(EXPECTED_S)  # full-size seconds per step on this project's CI machine

    def timed(label: str, fn, *args):
        # Numbered steps with an overall ETA: what is left, from the measured step times.
        k = list(EXPECTED_S).index(label) + 1
        left = sum(v for key, v in expected.items() if key not in timings)
        eta = "" if quick else f", about {left / 60:.0f} min left in all"
        _log(f"step {k}/{len(EXPECTED_S)}: {label.replace('_', ' ')}{eta}")
        start = time.perf_counter()
        result = fn(*args)
        timings[label] = round(time.perf_counter() - start, 1)
        timings_path.write_text(json.dumps(timings, indent=2))  # where the time went, so far
        return result

    # What the libraries say (weight loading, their warnings) goes to out/quickstart.log, the
    # live cell's to its own train.log; on the terminal only with --verbose (rlaif/runlog.py).
    with library_output(out / LOG_FILE):
        judge_pairs = sample_pairs(sizes.n_judge_pairs)
        smol = timed("audit_judge", _audit, "judge", sizes.judge_model, judge_pairs, out, sizes,
                     sizes.probe_sample)
        sim = timed("audit_simulated", _audit, "simulated", SIMULATED_SPEC, bundled_pairs(), out,
                    sizes, 100)
        timed("calibrate_judge", _calibrate, "judge", out, sizes)
        timed("calibrate_simulated", _calibrate, "simulated", out, sizes)
        study_dir = Path(study) if study is not None else STUDY_DIR
        result = timed("study", _study, out, study_dir)
        timed("live_cell", _live_cell, out, quick, study_dir)
        report = timed("report", write_report, out)
        timings["total"] = round(time.perf_counter() - t0, 1)
        timings_path.write_text(json.dumps(timings, indent=2))
    for name, res in ((sizes.judge_model, smol), ("simulated judge", sim)):
        try:
            p_first, consistency = (res.measure(f"position.{m}")["estimate"]
                                    for m in ("p_first", "consistency"))
        except KeyError:  # skipped (e.g. one order only): nothing to say
            continue
        _log(f"{name}: P(first shown wins) {p_first:.2f}, position consistency "
             f"{consistency:.2f}")
    for line in _study_lines(result):
        _log(line)
    _log(f"done in {timings['total']:.0f} s; timings in {timings_path}")
    return Path(report)


def _study_lines(result: dict | None) -> list[str]:
    """The study's headline numbers, each interval with its n and method."""
    if not result or not result.get("paired"):
        return []
    lines = []
    for t in result["paired"]:
        d = t["drift"]
        if d.get("estimate") is None:
            continue
        lo, hi = d["ci"]
        ci = f" [{lo:+.1f}, {hi:+.1f}]" if lo is not None and hi is not None else ""
        arm = ", ".join(f"{k.split('.')[-1]}={v}" for k, v in t["arm"].items())
        lines.append(f"SmolLM2 study, {arm}, {t['contrast']}: length drift "
                     f"{d['estimate']:+.1f}{ci} chars (n = {d['n']} seeds, {d['method']})")
    return lines
