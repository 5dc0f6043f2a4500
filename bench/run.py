"""Run the benchmarks and write bench/results/*.json and bench/results/summary.md.

    python -m bench.run                 all items (what `make bench` runs; ~15 min on 2 cores)
    python -m bench.run --quick         a ~1 minute smoke run (tiny model, small sizes)
    python -m bench.run judge           item 1 only (also: audit, loop, client, summary)
    python -m bench.run judge --models tiny:0 --pairs 50 --repeats 5
    python -m bench.run notebooks --notebook 03     one notebook at full size, timed (opt-in:
                                                    not in "all"; also make bench
                                                    BENCH_ARGS="notebooks --notebook 03")

Speed claims live here, never in timed tests. Every figure is a ratio measured side by side in
the same run, or a median with its interquartile range [q1, q3] over interleaved repeats.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import RESULTS, machine_info, write_json

ITEMS = ("judge", "audit", "loop", "client")
#: Items run only when named: a full-size notebook takes minutes (notebook 01 audits SmolLM2).
OPT_IN = ("notebooks",)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("item", nargs="?", default="all", choices=("all", *ITEMS, *OPT_IN, "summary"),
                   help="which benchmark to run ('summary' rebuilds summary.md from the JSON; "
                        "'notebooks' is opt-in, not part of 'all')")
    p.add_argument("--quick", action="store_true",
                   help="about a minute: tiny model only, small sizes (a smoke run, not figures)")
    p.add_argument("--full", action="store_true",
                   help="the whole protocol for every model (200 pairs for SmolLM2 too; "
                        "~40 min on 2 cores)")
    p.add_argument("--repeats", type=int, default=3, help="interleaved repeats (>= 3)")
    p.add_argument("--models", default=None,
                   help="judge models, comma-separated (default: tiny:0,bundled:smollm2)")
    p.add_argument("--pairs", type=int, default=None,
                   help="pairs for item 1 (default 200; 96 for SmolLM2 unless --full)")
    p.add_argument("--batch-sizes", default=None,
                   help="item 1 sweep (default 1,4,16,32,64; SmolLM2 1,4,16,32 unless --full)")
    p.add_argument("--sizes", default=None,
                   help="item 2 verdict counts, comma-separated (default 10000,100000,1000000)")
    p.add_argument("--n-boot", type=int, default=1000, help="item 2 bootstrap resamples")
    p.add_argument("--configs", default=None,
                   help="item 3 loop configs (default configs/tiny.toml,configs/smollm2-cpu.toml)")
    p.add_argument("--slow-loop-repeats", type=int, default=1,
                   help="item 3 runs of the slow (non-tiny) configs (default 1: minutes each)")
    p.add_argument("--loop-set", action="append", default=[], metavar="KEY=VALUE",
                   help="item 3 override for the slow (non-tiny) configs, e.g. "
                        "policy.model=\"/path\" (repeatable)")
    p.add_argument("--notebook", action="append", default=[], metavar="NAME",
                   help="notebooks item: a notebook to run at full size, by name or prefix "
                        "(e.g. 03; repeatable; default all three)")
    p.add_argument("--device", default=None, help="cpu / cuda (default: what models.py picks)")
    p.add_argument("--dtype", default=None, help="float32 / bfloat16 (default: per device)")
    p.add_argument("--prefix", default="", help="result file prefix (gpu.sh uses 'gpu-')")
    p.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    args = p.parse_args(argv)
    if args.quick and not args.prefix:
        args.prefix = "quick-"  # a smoke run never overwrites the committed figures
    if args.repeats < 3:
        p.error(f"--repeats must be >= 3 (median and IQR need them); got {args.repeats}.")
    return args


def _ints(text: str | None, default: tuple[int, ...] | None) -> tuple[int, ...] | None:
    return default if not text else tuple(int(x) for x in text.split(","))


def run_judge(args: argparse.Namespace) -> dict[str, Any]:
    from bench import judge_throughput as jt

    models = tuple(args.models.split(",")) if args.models else (
        ("tiny:0",) if args.quick else ("tiny:0", "bundled:smollm2"))
    profile = "quick" if args.quick else "full" if args.full else "default"
    return jt.run(models=models, profile=profile, repeats=args.repeats, device=args.device,
                  dtype=args.dtype, n_pairs=args.pairs,
                  batch_sizes=_ints(args.batch_sizes, None))


def run_audit(args: argparse.Namespace, judge_res: dict[str, Any] | None) -> dict[str, Any]:
    from bench import audit_scale

    sizes = _ints(args.sizes, (10_000, 100_000) if args.quick else (10_000, 100_000, 1_000_000))
    n_boot = 200 if args.quick and args.n_boot == 1000 else args.n_boot
    return audit_scale.run(sizes=sizes, repeats=args.repeats, n_boot=n_boot,
                           judge_result=judge_res or _load(args, "judge_throughput"))


def run_loop(args: argparse.Namespace) -> dict[str, Any]:
    from bench import loop_overhead

    configs = tuple(args.configs.split(",")) if args.configs else (
        ("configs/tiny.toml",) if args.quick else
        ("configs/tiny.toml", "configs/smollm2-cpu.toml"))
    overrides = []
    if args.device:
        overrides.append(f"run.device={json.dumps(args.device)}")
    if args.dtype:
        overrides.append(f"run.dtype={json.dumps(args.dtype)}")
    return loop_overhead.run(configs=configs, repeats=args.repeats,
                             slow_repeats=args.slow_loop_repeats, overrides=overrides,
                             slow_overrides=args.loop_set)


def run_client(args: argparse.Namespace) -> dict[str, Any]:
    from bench import openai_client

    return openai_client.run(requests=100 if args.quick else 400, repeats=args.repeats)


def run_notebooks(args: argparse.Namespace) -> dict[str, Any]:
    from bench import notebooks

    # --quick runs them in the test suite's small setting (a smoke run of this item).
    return notebooks.run(args.notebook or None, small=args.quick)


def _load(args: argparse.Namespace, name: str) -> dict[str, Any] | None:
    path = args.out / f"{args.prefix}{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def summary(args: argparse.Namespace) -> str:
    """summary.md from the result files that exist: machine, command, one table per item."""
    from bench import audit_scale, judge_throughput, loop_overhead, notebooks, openai_client

    parts = ["# judgebench benchmarks", ""]
    res = {n: _load(args, n) for n in ("judge_throughput", "audit_scale", "loop_overhead",
                                       "openai_client", "notebooks")}
    first = next((r for r in res.values() if r), None)
    if first is None:
        return "# judgebench benchmarks\n\nNo results yet: run `make bench`.\n"
    m = first["machine"]
    parts += [f"Machine: {m['cpu_model']}, {m['cores']} cores"
              + (f", GPU {m['gpu']}" if m.get("gpu") else "")
              + f"; torch {m['torch']} ({m['torch_threads']} threads), transformers "
              f"{m['transformers']}, Python {m['python']}; 1-min load average at start "
              f"{m['load_avg_1m']:.1f}.", "",
              "Figures: median [q1, q3] over interleaved repeats; ratios are taken within a "
              "repeat, side by side. Reproduce all with `make bench` (`python -m bench.run`); "
              "each section names the command that produced it. Method and findings: "
              "bench/NOTES.md.", ""]
    for name, mod, title in (("judge_throughput", judge_throughput, "1. Judge throughput"),
                             ("audit_scale", audit_scale, "2. Audit scale"),
                             ("loop_overhead", loop_overhead, "3. Loop iteration"),
                             ("openai_client", openai_client, "4. Served judge's HTTP client"),
                             ("notebooks", notebooks, "6. Notebooks, top to bottom")):
        if res[name]:
            r = res[name]
            load = (f"; load average {r['machine']['load_avg_1m']:.1f} before, "
                    f"{r['load_avg_1m_end']:.1f} after" if r.get("load_avg_1m_end") is not None
                    else "")
            parts += [f"## {title}", "", f"`{r.get('command', '')}` "
                      f"({r.get('elapsed_s', 0):.0f} s{load})", ""]
            if r.get("note"):
                parts += [f"Note: {r['note']}.", ""]
            parts += mod.table(res[name]) + [""]
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = "python -m bench.run " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    items = ITEMS if args.item == "all" else (() if args.item == "summary" else (args.item,))
    judge_res = None
    for item in items:
        t0 = time.perf_counter()
        info = machine_info()
        if item == "judge":
            res = judge_res = run_judge(args)
        elif item == "audit":
            res = run_audit(args, judge_res)
        elif item == "client":
            res = run_client(args)
        elif item == "notebooks":
            res = run_notebooks(args)
        else:
            res = run_loop(args)
        res.update(machine=info, command=command.strip(), quick=args.quick,
                   elapsed_s=time.perf_counter() - t0,
                   # Other jobs on a shared machine: the load before and after the item.
                   load_avg_1m_end=os.getloadavg()[0] if hasattr(os, "getloadavg") else None)
        name = {"judge": "judge_throughput", "audit": "audit_scale", "loop": "loop_overhead",
                "client": "openai_client", "notebooks": "notebooks"}[item]
        path = write_json(args.prefix + name, res, args.out)
        print(f"[bench] {item}: {res['elapsed_s']:.0f} s -> {path}", file=sys.stderr)
    text = summary(args)
    (args.out / f"{args.prefix}summary.md").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
