"""The command line: thin wrappers over the same public functions a notebook calls.

judgebench import FORMAT PATH --out FILE       external judge logs -> verdict table
judgebench judge --judge SPEC --pairs FILE --out FILE
judgebench audit (--verdicts FILE | --judge SPEC --pairs FILE) --out DIR
judgebench calibrate --verdicts FILE --steps swap,temperature --out DIR
judgebench train CONFIG --out RUN_DIR           the RLAIF loop
judgebench sweep CONFIG --set key=v1,v2 --out DIR
judgebench report DIR
judgebench quickstart --out DIR
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path


def _cmd_import(args: argparse.Namespace) -> int:
    from judgebench.importers import import_log
    from judgebench.verdicts import save_table

    options = dict(kv.split("=", 1) for kv in (args.map or []))
    table = import_log(args.format, args.path, **options)
    save_table(table, args.out)
    n_pairs = table["pair_id"].nunique()
    if "judge" not in table:  # e.g. trl preference sets: pairs to be judged, no verdicts yet
        print(f"Imported {n_pairs} pairs (no verdicts in this format) -> {args.out}")
        return 0
    n_failed = int(table["failed"].sum())
    print(f"Imported {len(table)} verdict rows ({n_failed} failed) on {n_pairs} pairs from "
          f"{table['judge'].nunique()} judge(s) -> {args.out}")
    return 0


def _cmd_judge(args: argparse.Namespace) -> int:
    from judgebench.judges.cache import VerdictCache
    from judgebench.judges.spec import load_judge
    from judgebench.verdicts import load_table, save_table

    judge = load_judge(args.judge)
    pairs = load_table(args.pairs)
    out = Path(args.out)
    cache = VerdictCache(Path(args.cache) if args.cache else out.parent / ".judgebench-cache.sqlite")
    verdicts = judge.judge(pairs, orders=tuple(args.orders.split(",")), cache=cache)
    save_table(verdicts, out)
    failed = int(verdicts["failed"].sum())
    print(f"{len(verdicts)} verdicts ({failed} failed) by {judge.name} -> {out}")
    return 0


def _cmd_audit(args: argparse.Namespace) -> int:
    from judgebench.audit.suite import run_audit

    if bool(args.verdicts) == bool(args.judge):
        raise SystemExit("audit: give either --verdicts FILE, or --judge SPEC with --pairs FILE.")
    if args.judge and not args.pairs:
        raise SystemExit("audit: --judge needs --pairs FILE (the pairs to judge).")
    result = run_audit(
        verdicts=args.verdicts, judge=args.judge, pairs=args.pairs, out_dir=args.out,
        seed=args.seed, n_boot=args.n_boot, probes=not args.no_probes,
        judge_model=args.judge_model, probe_sample=args.probe_sample,
    )
    print(json.dumps(result, indent=2))
    return 0


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from judgebench.calibration.pipeline import run_calibration

    result = run_calibration(
        verdicts=args.verdicts, steps=args.steps.split(","), fit_frac=args.fit_frac,
        seed=args.seed, out_dir=args.out, split_col=args.split_col, n_boot=args.n_boot,
    )
    print(json.dumps(result, indent=2))
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from judgebench.rlaif.loop import run_from_config

    run_from_config(args.config, args.out, overrides=args.set or [])
    return 0


def _cmd_sweep(args: argparse.Namespace) -> int:
    from judgebench.rlaif.sweep import run_sweep

    run_sweep(args.config, args.out, grid=args.set or [], seeds=args.seeds)
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from judgebench.report.html import write_report

    path = write_report(args.dir)
    print(path)
    return 0


def _cmd_quickstart(args: argparse.Namespace) -> int:
    from judgebench.quickstart import run_quickstart

    path = run_quickstart(args.out, quick=args.quick)
    print(path)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argparse tree of every subcommand."""
    parser = argparse.ArgumentParser(prog="judgebench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("import", help="import an external judge log as a verdict table")
    p.add_argument("format", help="llmbar | alpacaeval | mtbench | pandalm | generic | trl")
    p.add_argument("path")
    p.add_argument("--out", required=True, help="output table (.parquet, .csv or .jsonl)")
    p.add_argument("--map", nargs="*", metavar="KEY=VALUE",
                   help="importer options, e.g. for generic: prompt=question response_1=a ...")
    p.set_defaults(func=_cmd_import)

    p = sub.add_parser("judge", help="run a judge on a pairs table, both orders")
    p.add_argument("--judge", required=True, help="judge spec, e.g. bundled:smollm2")
    p.add_argument("--pairs", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--orders", default="12,21")
    p.add_argument("--cache", default=None, help="SQLite cache file (default: beside --out)")
    p.set_defaults(func=_cmd_judge)

    p = sub.add_parser("audit", help="position, verbosity, self-preference, probes, agreement")
    p.add_argument("--verdicts")
    p.add_argument("--judge")
    p.add_argument("--pairs")
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-boot", type=int, default=1000)
    p.add_argument("--no-probes", action="store_true", help="skip counterfactual re-judging")
    p.add_argument("--probe-sample", type=int, default=200,
                   help="pairs re-judged with padding and CALM edits (~32 judge calls each)")
    p.add_argument("--judge-model", default=None,
                   help="the judge's own model name in model_1/model_2 (for self-preference)")
    p.set_defaults(func=_cmd_audit)

    p = sub.add_parser("calibrate", help="fit calibration steps on one split, evaluate on the other")
    p.add_argument("--verdicts", required=True)
    p.add_argument("--steps", default="swap,temperature")
    p.add_argument("--fit-frac", type=float, default=0.5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--split-col", default=None)
    p.add_argument("--n-boot", type=int, default=1000)
    p.add_argument("--out", required=True)
    p.set_defaults(func=_cmd_calibrate)

    p = sub.add_parser("train", help="run the RLAIF loop from a TOML config")
    p.add_argument("config")
    p.add_argument("--out", required=True)
    p.add_argument("--set", nargs="*", action="extend", metavar="KEY=VALUE",
                   help="override config fields")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("sweep", help="run a grid of RLAIF runs and the propagation coefficient")
    p.add_argument("config")
    p.add_argument("--out", required=True)
    p.add_argument("--set", nargs="*", action="extend", metavar="KEY=V1,V2", help="grid axes")
    p.add_argument("--seeds", default="0", help="comma-separated seeds")
    p.set_defaults(func=_cmd_sweep)

    p = sub.add_parser("report", help="write report.html for an audit/calibration/run directory")
    p.add_argument("dir")
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser("quickstart", help="the demo: audit, calibrate and train on the bundled model")
    p.add_argument("--out", default="runs/quickstart")
    p.add_argument("--quick", action="store_true", help="tiny model instead of SmolLM2 (tests)")
    p.set_defaults(func=_cmd_quickstart)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``judgebench`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as err:
        print(f"judgebench {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
