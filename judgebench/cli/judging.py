"""The commands that make and read verdict tables: ``import``, ``judge``, ``audit``,
``calibrate``, ``winrate`` and ``validate``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from judgebench.cli.checks import (
    UsageError,
    _at_least,
    _check_spec,
    _out_dir,
    _out_table,
    _parse_max_failures,
    _parse_orders,
)


def _cmd_import(args: argparse.Namespace) -> int:
    from judgebench.importers import import_log
    from judgebench.importers.codes import is_recode
    from judgebench.verdicts import save_table

    options: dict = {}
    recode: dict[str, str] = {}
    for kv in args.map or []:
        key, sep, value = kv.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--map {kv!r}: expected KEY=VALUE, a column (prompt=question) or "
                             "a value recode (winner=0:1,1:2,2:tie); to ignore a column use "
                             f"--drop {kv.strip() or 'COLUMN'}.")
        # a recode may join a mapping of the same target: winner=choice winner=0:1,1:2,2:tie
        target = recode if is_recode(value) else options
        target[key.strip()] = value.strip()
    extra = {"recode": recode, "drop": args.drop, "explode": args.explode}
    extra = {k: v for k, v in extra.items() if v}
    if extra and args.format != "generic":
        flags = {"recode": "a value recode in --map", "drop": "--drop", "explode": "--explode"}
        raise ValueError(f"{', '.join(flags[k] for k in extra)}: only the generic format takes "
                         f"this; import {args.format!r} logs as they are, or convert them with "
                         "`judgebench import generic`.")
    # Nothing is written unless the whole import succeeded (save_table is atomic besides).
    table = import_log(args.format, args.path, **options, **extra)
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
    from judgebench.verdicts import load_pairs, save_table

    # Every argument is checked before the model loads and the judging starts.
    out = _out_table(args.out)
    orders = _parse_orders(args.orders)
    max_failures = _parse_max_failures(args.max_failures)
    _check_spec(args.judge)
    pairs = load_pairs(args.pairs, encoding=args.encoding)
    judge = load_judge(args.judge)
    cache = VerdictCache(Path(args.cache) if args.cache else out.parent / ".judgebench-cache.sqlite")
    verdicts = judge.judge(pairs, orders=orders, cache=cache)
    # The table is written whatever failed: failures are rows with failed=True and a reason.
    save_table(verdicts, out)
    failed = int(verdicts["failed"].sum())
    print(f"{len(verdicts)} verdicts ({failed} failed) by {judge.name} -> {out}")
    allowed = max_failures if isinstance(max_failures, int) else max_failures * len(verdicts)
    if failed > allowed:
        limit = (f"{max_failures}" if isinstance(max_failures, int)
                 else f"{max_failures:.0%} = {allowed:g}")
        print(f"judgebench judge: error: {failed} of {len(verdicts)} verdicts failed (more than "
              f"--max-failures {limit}); most common: {_common_errors(verdicts)}. Failures are "
              f"marked in {out} (failed=True) and never cached: rerun the same command once the "
              "judge works, and only the failed verdicts are judged again.", file=sys.stderr)
        return JUDGE_FAILURES_EXIT
    return 0


#: ``judgebench judge``'s exit code when more verdicts failed than --max-failures allows.
JUDGE_FAILURES_EXIT = 1


def _common_errors(verdicts, top: int = 3) -> str:
    errors = verdicts.loc[verdicts["failed"], "error"].fillna("no error text").astype(str)
    return "; ".join(f"{n} x {e[:200]!r}" for e, n in errors.value_counts().head(top).items())


def _cmd_audit(args: argparse.Namespace) -> int:
    from judgebench.audit.decisions import FAIL_EXIT, check_fail_on, matching_flags
    from judgebench.audit.suite import run_audit
    from judgebench.audit.summary import audit_summary
    from judgebench.verdicts import load_pairs, load_verdicts

    if bool(args.verdicts) == bool(args.judge):
        raise UsageError("give either --verdicts FILE, or --judge SPEC with --pairs FILE.")
    if args.judge and not args.pairs:
        raise UsageError("--judge needs --pairs FILE (the pairs to judge in both orders).")
    _out_dir(args.out)
    _at_least("--n-boot", args.n_boot, 1)
    _at_least("--probe-sample", args.probe_sample, 1)
    fail_on = check_fail_on(args.fail_on.split(",")) if args.fail_on else []
    if args.judge:
        _check_spec(args.judge)
    pairs = load_pairs(args.pairs, encoding=args.encoding) if args.pairs else None
    verdicts = load_verdicts(args.verdicts, encoding=args.encoding) if args.verdicts else None
    result = run_audit(
        verdicts=verdicts, judge=args.judge, pairs=pairs, out_dir=args.out,
        seed=args.seed, n_boot=args.n_boot, probes=not args.no_probes,
        judge_model=args.judge_model, probe_sample=args.probe_sample,
    )
    print(json.dumps(result.to_dict(), indent=2) if args.json
          else audit_summary(result, args.out))
    raised = [f"{j}: {f}" for j, b in result.judges.items()
              for f in matching_flags(b["flags"], fail_on)]
    if raised:  # CI gating: the audit ran and wrote its files, and a named flag was raised
        print(f"judgebench audit: --fail-on {args.fail_on}: flag(s) raised (q < "
              f"{result.settings['alpha']}): {', '.join(raised)}", file=sys.stderr)
        return FAIL_EXIT
    return 0


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from judgebench.audit.summary import calibration_summary
    from judgebench.calibration.base import make_step
    from judgebench.calibration.pipeline import run_calibration
    from judgebench.verdicts import load_verdicts

    steps = [x.strip() for x in args.steps.split(",") if x.strip()]
    if not steps:
        raise UsageError("--steps is empty; give comma-separated steps, e.g. swap,temperature.")
    for step in steps:
        try:
            make_step(step)
        except ValueError as err:
            raise UsageError(f"--steps: {err}") from None
    if not 0.0 < args.fit_frac < 1.0:
        raise UsageError(f"--fit-frac must lie strictly between 0 and 1 (the share of pairs "
                         f"that fit; the rest evaluate); got {args.fit_frac}.")
    _at_least("--n-boot", args.n_boot, 1)
    _out_dir(args.out)
    if args.fit_on or args.apply_to:
        return _calibrate_apply(args, steps)
    if not args.verdicts:
        raise UsageError("give --verdicts FILE (the held-out report), or --fit-on LABELLED "
                         "with --apply-to V (write calibrated verdicts).")
    verdicts = load_verdicts(args.verdicts, encoding=args.encoding)
    if args.split_col and args.split_col not in verdicts.columns:
        raise UsageError(f"--split-col {args.split_col!r} is not a column of {args.verdicts}; "
                         f"its columns: {list(verdicts.columns)}.")
    result = run_calibration(
        verdicts=verdicts, steps=steps, fit_frac=args.fit_frac,
        seed=args.seed, out_dir=args.out, split_col=args.split_col, n_boot=args.n_boot,
    )
    print(json.dumps(result.to_dict(), indent=2) if args.json
          else calibration_summary(result, args.out))
    return 0


def _calibrate_apply(args: argparse.Namespace, steps: list[str]) -> int:
    """``calibrate --fit-on LABELLED --apply-to V``: fit on all of LABELLED, transform V."""
    from judgebench.calibration.apply import CALIBRATED_FILE, fit_and_apply
    from judgebench.verdicts import load_verdicts

    if not (args.fit_on and args.apply_to):
        raise UsageError("--fit-on and --apply-to go together: --fit-on LABELLED --apply-to V.")
    if args.verdicts:
        raise UsageError("--verdicts is the held-out report's input; with --fit-on/--apply-to "
                         "leave it out (or run the report separately first).")
    fit_on = load_verdicts(args.fit_on, encoding=args.encoding)
    apply_to = load_verdicts(args.apply_to, encoding=args.encoding)
    out, info = fit_and_apply(fit_on, apply_to, steps, out_dir=args.out)
    if args.json:
        print(json.dumps(info, indent=2, default=str))
    else:
        print(f"Calibrated {info['n_rows_out']} verdicts of {args.apply_to} with "
              f"{'+'.join(info['steps'])} fitted on {info['n_fit_pairs']} pairs of "
              f"{args.fit_on} ({info['n_failed_out']} failed; p_1 calibrated, p_1_raw kept). "
              f"Not evaluated here: check the steps with `judgebench calibrate --verdicts`.")
        print(f"Wrote {Path(args.out) / CALIBRATED_FILE} (also apply.json, pipeline.json)")
    return 0



def _cmd_winrate(args: argparse.Namespace) -> int:
    import warnings

    from judgebench.audit.winrate import win_rates
    from judgebench.verdicts import load_table, save_table

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = win_rates(
            load_table(args.verdicts), args.baseline, seed=args.seed, n_boot=args.n_boot,
            length_control=args.length_control,
            instruction_difficulty=args.instruction_difficulty,
            regularize_to_baseline=args.regularize_to_baseline,
            baseline_variants=[s for s in (args.baseline_variants or "").split(",") if s])
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    if args.out:
        save_table(table, args.out)
    print(table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from judgebench.audit.validate import format_recovery, validate_judge
    from judgebench.verdicts import load_pairs

    if args.out:
        _out_dir(args.out)
    _at_least("--n-boot", args.n_boot, 1)
    _check_spec(args.judge)
    result = validate_judge(load_pairs(args.pairs, encoding=args.encoding), args.judge,
                            n_boot=args.n_boot, seed=args.seed, out_dir=args.out)
    print(json.dumps(result, indent=2) if args.json else format_recovery(result))
    return 0
