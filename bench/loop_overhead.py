"""Item 3: one RLAIF loop iteration broken down into generate / judge / train / instrument.

Each run is ``run_from_config(config, fresh_dir, ["run.n_iterations=2",
"instrument.eval_every=2", ...])``: iteration 0 does every phase including the held-out
evaluation, iteration 1 every phase but the evaluation. Their rows in metrics.jsonl carry the
per-phase timings (``time_generate_s``, ``time_judge_s``, ``time_train_s``,
``time_instrument_s``; the loop counts the held-out generation and judging as
instrumentation). The overhead is ``time_instrument_s`` as a share of the four phases of the
same iteration: a ratio measured within one run. The share at a cadence of one evaluation
every N iterations is iteration 1's plus 1/N of iteration 0's held-out cost
(:func:`amortised_share`). Setup (loading models, the initial checkpoint) is reported apart.

A SmolLM2 iteration takes minutes on 2 CPU cores, so by default it runs once
(``slow_repeats``); its shares are still ratios within one iteration, but carry no spread.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import fmt, spread

PHASES = ("generate", "judge", "train", "instrument")
#: Evaluation cadences ([instrument] eval_every) whose amortised share the table reports.
EVERY = (1, 2, 4, 8)


def log(msg: str) -> None:
    print(f"[loop] {msg}", file=sys.stderr, flush=True)


def _iteration(row: dict[str, Any], detail: dict[str, Any]) -> dict[str, Any]:
    phases = {p: float(row[f"time_{p}_s"]) for p in PHASES}
    total = sum(phases.values())
    return {"phases_s": phases, "iteration_s": total,
            "shares": {p: v / total for p, v in phases.items()},
            # The instrumentation phase split: metrics step vs held-out generation / judging.
            "instrument_detail_s": {k: detail.get(k, 0.0) for k in
                                    ("instrument", "eval_generate", "eval_judge")}}


def amortised_share(evaluated: dict[str, Any], skipped: dict[str, Any], every: int) -> float:
    """Instrumentation share of an iteration when the held-out set is evaluated every
    ``every`` iterations: the skipped iteration's cost plus 1/every of the evaluation's."""
    ev = evaluated["instrument_detail_s"]
    eval_s = ev["eval_generate"] + ev["eval_judge"]
    inst = skipped["phases_s"]["instrument"] + eval_s / every
    return inst / (skipped["iteration_s"] + eval_s / every)


def one_iteration(config: str, overrides: list[str]) -> dict[str, Any]:
    """Iterations 0 (held-out evaluation) and 1 (none: eval_every = 2) of a fresh run."""
    from judgebench.rlaif.loop import run_from_config

    with tempfile.TemporaryDirectory(prefix="bench-loop-") as tmp:
        t0 = time.perf_counter()
        rows = run_from_config(config, Path(tmp) / "run",
                               ["run.n_iterations=2", "instrument.eval_every=2",
                                "run.progress=false", *overrides])
        wall = time.perf_counter() - t0
        details = [json.loads((Path(tmp) / "run" / f"iter-{i:03d}" / "timing.json").read_text())
                   for i in range(3)]
        steps_total = sum(v for d in details for k, v in d.items() if k in PHASES)
    assert rows[0]["evaluated"] and not rows[1]["evaluated"]
    out = _iteration(rows[0], details[0])
    out["skipped"] = _iteration(rows[1], details[1])
    out["amortised_share"] = {str(n): amortised_share(out, out["skipped"], n)
                              for n in EVERY}
    out.update(wall_s=wall, setup_and_io_s=wall - steps_total)
    return out


def run(configs: tuple[str, ...] = ("configs/tiny.toml", "configs/smollm2-cpu.toml"),
        repeats: int = 3, slow_repeats: int = 1, overrides: list[str] | None = None,
        slow_overrides: list[str] | None = None) -> dict[str, Any]:
    """Item 3 for each config; returns bench/results/loop_overhead.json's dict.

    ``overrides`` apply to every config, ``slow_overrides`` to the non-tiny ones only.
    """
    out: dict[str, Any] = {"settings": {"repeats": repeats, "slow_repeats": slow_repeats,
                                        "overrides": overrides or [],
                                        "slow_overrides": slow_overrides or []},
                           "configs": {}}
    for config in configs:
        if not Path(config).exists():
            out["configs"][config] = {"pending": f"{config} does not exist yet"}
            log(f"{config}: missing, marked pending")
            continue
        tiny = "tiny" in Path(config).stem
        n = repeats if tiny else slow_repeats
        extra = list(overrides or []) + ([] if tiny else list(slow_overrides or []))
        runs = []
        for r in range(n):
            runs.append(one_iteration(config, extra))
            log(f"{config} run {r}: iteration {runs[-1]['iteration_s']:.1f}s, "
                f"instrument {runs[-1]['shares']['instrument']:.1%}")
        out["configs"][config] = {
            "runs": runs, "n_runs": n,
            "phases_s": {p: spread([x["phases_s"][p] for x in runs]) for p in PHASES},
            "shares": {p: spread([x["shares"][p] for x in runs]) for p in PHASES},
            "iteration_s": spread([x["iteration_s"] for x in runs]),
            "skipped_shares": {p: spread([x["skipped"]["shares"][p] for x in runs])
                               for p in PHASES},
            "skipped_iteration_s": spread([x["skipped"]["iteration_s"] for x in runs]),
            "amortised_share": {str(k): spread([x["amortised_share"][str(k)] for x in runs])
                                for k in EVERY},
            "setup_and_io_s": spread([x["setup_and_io_s"] for x in runs]),
        }
    return out


def table(res: dict[str, Any]) -> list[str]:
    """Markdown lines summarising item 3."""
    lines = ["One iteration with the held-out evaluation (iteration 0 of a fresh run), seconds "
             "and share of the iteration:",
             "", "| config | runs | iteration (s) | generate | judge | train | instrument "
             "(target < 5%) | setup + I/O (s) |", "|---|---|---|---|---|---|---|---|"]
    for config, e in res["configs"].items():
        if "pending" in e:
            lines.append(f"| {config} | pending: {e['pending']} | | | | | | |")
            continue
        cells = []
        for p in PHASES:
            s, share = e["phases_s"][p], e["shares"][p]
            cells.append(f"{s['median']:.2f} s ({fmt(share, 3)})" if e["n_runs"] > 1
                         else f"{s['median']:.2f} s ({share['median']:.1%})")
        lines.append(f"| {config} | {e['n_runs']} | {fmt(e['iteration_s'], 1)} | "
                     + " | ".join(cells) + f" | {fmt(e['setup_and_io_s'], 1)} |")
    lines += ["", "Instrumentation as a share of an iteration by held-out cadence "
              "([instrument] eval_every = N): iteration 1 of the same run (not evaluated) "
              "plus 1/N of iteration 0's held-out generation and judging:", "",
              "| config | not evaluated (measured) | " + " | ".join(f"N = {k}" for k in EVERY)
              + " |", "|---|---|" + "---|" * len(EVERY)]
    for config, e in res["configs"].items():
        if "pending" in e or "amortised_share" not in e:
            continue
        lines.append(f"| {config} | {fmt(e['skipped_shares']['instrument'], 3)} | "
                     + " | ".join(fmt(e["amortised_share"][str(k)], 3) for k in EVERY) + " |")
    lines += ["", "Instrumentation split (median s): metrics step / held-out generation / "
              "held-out judging:", ""]
    for config, e in res["configs"].items():
        if "pending" in e:
            continue
        d = [x["instrument_detail_s"] for x in e["runs"]]
        parts = [fmt(spread([x[k] for x in d if x.get(k) is not None]), 3)
                 for k in ("instrument", "eval_generate", "eval_judge")]
        lines.append(f"- {config}: " + " / ".join(parts))
    return lines
