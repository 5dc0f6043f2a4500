"""judgebench: how biased is my AI judge, how much can I correct, how much reaches my policy?

Audit a judge (position, verbosity and self-preference bias, robustness probes, agreement with
gold labels) with 95% confidence intervals; calibrate it on one split of the pairs and report
on the other; run the RLAIF loop and measure how much of the bias the policy learns. Every
command reads or writes one verdict table (.parquet, .csv or .jsonl).

judgebench import FORMAT PATH --out FILE       external judge logs -> verdict table
judgebench judge --judge SPEC --pairs FILE --out FILE
judgebench audit (--verdicts FILE | --judge SPEC --pairs FILE) --out DIR
judgebench calibrate --verdicts FILE --steps swap,temperature --out DIR
judgebench winrate --verdicts FILE --baseline MODEL [--length-control]
judgebench validate --pairs FILE --judge SPEC [--out DIR]   planted-bias recovery
judgebench train CONFIG --out RUN_DIR           the RLAIF loop
judgebench sweep CONFIG --set key=v1,v2 --out DIR
judgebench forecast --config CONFIG [--judge SPEC]   drift before training
judgebench report DIR
judgebench quickstart --out DIR
judgebench serve-reward --judge SPEC --log DIR --port P   reward server for verl/OpenRLHF

Each command calls the public function a notebook calls (run_audit, run_calibration, ...).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from judgebench import __version__

#: Errors a user can fix (bad input, a missing file, a bad option): one line and exit code 2.
#: Anything else is a bug and keeps its traceback.
USER_ERRORS = (ValueError, OSError, ModuleNotFoundError)


class UsageError(ValueError):
    """A command-line argument is wrong; the message names the option and the fix."""


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


def _parse_max_failures(value: str) -> int | float:
    """``--max-failures``: a count (``5``) or a share (``0.1`` or ``10%``)."""
    text = value.strip()
    try:
        if text.endswith("%"):
            share = float(text[:-1]) / 100
        elif "." in text:
            share = float(text)
        else:
            count = int(text)
            if count < 0:
                raise ValueError
            return count
    except ValueError:
        share = -1.0
    if not 0.0 <= share <= 1.0:
        raise UsageError(f"--max-failures must be a count (e.g. 5) or a share of the verdicts "
                         f"in [0, 1] (e.g. 0.1 or 10%); got {value!r}.")
    return share


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


# ---------------------------------------------------------------------------------------------
# Argument checks: each runs before any work starts and names the option it blames.


def _out_table(value: str) -> Path:
    from judgebench.verdicts import table_format

    out = Path(value)
    if out.is_dir():
        raise UsageError(f"--out {value!r} is a folder; give a table file such as "
                         f"{str(out / 'verdicts.parquet')!r}.")
    try:
        table_format(out)
    except ValueError as err:
        raise UsageError(f"--out: {err}") from None
    return out


def _out_dir(value: str) -> Path:
    out = Path(value)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {value!r} is a file; give a folder for the outputs (created "
                         "if missing).")
    return out


def _parse_orders(value: str) -> tuple[str, ...]:
    from judgebench.verdicts import ORDERS

    orders = tuple(x.strip() for x in value.split(",") if x.strip())
    bad = [o for o in orders if o not in ORDERS]
    if bad or not orders or len(set(orders)) != len(orders):
        raise UsageError(f"--orders must be 12, 21 or 12,21 (12: response_1 shown first, 21: "
                         f"swapped; both by default); got {value!r}.")
    return orders


def _at_least(flag: str, value: int, low: int) -> None:
    if value < low:
        raise UsageError(f"{flag} must be >= {low}; got {value}.")


def _check_spec(spec: str) -> None:
    """Parse a judge spec string without building the judge (no model loads)."""
    from judgebench.judges.spec import parse_spec

    if spec.startswith("ensemble:") or spec.endswith(".toml"):
        return  # checked when loaded: members and files have their own messages
    try:
        parse_spec(spec)
    except ValueError as err:
        raise UsageError(f"--judge: {err}") from None


def _check_overrides(config: str, overrides: Sequence[str]) -> None:
    """Blame a bad ``--set`` on the override, not on the TOML file it is applied to."""
    from judgebench.rlaif.config import apply_overrides, from_dict, load_config
    from judgebench.verdicts import read_text

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib

    if not overrides:
        return
    load_config(config)  # the file on its own: an error here is the file's
    data = tomllib.loads(read_text(config))
    for item in overrides:
        try:
            from_dict(apply_overrides(data, [item]), where="this override")
        except ValueError as err:
            raise UsageError(f"--set {item!r}: {err}") from None


def _check_grid(config: str, grid: Sequence[str]) -> None:
    """``judgebench sweep``'s axes: every value of every axis as one override."""
    from judgebench.rlaif.sweep import parse_grid

    _check_overrides(config, [f"{key}={v}" for key, values in parse_grid(list(grid))
                              for v in values])


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


def _cmd_train(args: argparse.Namespace) -> int:
    from judgebench.rlaif import runlog
    from judgebench.rlaif.loop import run_from_config

    _check_overrides(args.config, args.set or [])
    with runlog.verbose_output(getattr(args, "debug", False)):
        rows = run_from_config(args.config, args.out, overrides=args.set or [])
    out, log = Path(args.out), runlog.log_path(args.out)
    print(f"iterations 0-{len(rows) - 1} measured -> {out / 'metrics.jsonl'}"
          + (f"; training log: {log}" if log.exists() else ""))
    return 0


def _cmd_sweep(args: argparse.Namespace) -> int:
    from judgebench.rlaif.sweep import run_sweep

    if args.summary_only:
        from judgebench.rlaif.sweep import summarize

        summarize(args.out)
        print(Path(args.out) / "study.md")
        return 0
    _check_grid(args.config, args.set or [])
    if args.jobs < 1:
        raise UsageError(f"--jobs must be >= 1 (cells run side by side); got {args.jobs}.")
    if args.budget_minutes is not None and args.budget_minutes <= 0:
        raise UsageError(f"--budget-minutes must be > 0; got {args.budget_minutes}.")
    from judgebench.rlaif import runlog

    with runlog.verbose_output(getattr(args, "debug", False)):
        run_sweep(args.config, args.out, grid=args.set or [], seeds=args.seeds, jobs=args.jobs,
                  budget_minutes=args.budget_minutes,
                  keep_checkpoints=not args.drop_checkpoints)
    print(Path(args.out) / "study.md")
    return 0


def _cmd_forecast(args: argparse.Namespace) -> int:
    from judgebench.rlaif import forecast as fc
    from judgebench.rlaif import forecast_validation as fv

    if args.refit:
        out = args.model_out or str(Path(args.refit[0]) / "forecast.json")
        from judgebench.report.plots import forecast_validation_png

        model, report = fv.refit(args.refit, out, form=args.form, draw=forecast_validation_png)
        last = [v for v in report["validations"] if v["target"] == "drift"
                and v["form"] == args.form and v["horizon"] == max(model.horizons_)]
        for v in last:
            print(f"leave-one-out ({v['form']}, {v['n_cells']} cells, {v['horizon']} it.): "
                  f"median abs error {v['median_abs_error']:.3g}, coverage "
                  f"{v['coverage']:.0%} of {v['level']:.0%} intervals")
        print(out)
        return 0
    if not args.config:
        raise UsageError("give --config CONFIG (the loop config to forecast), or --refit "
                         "STUDY_DIR to refit the model on finished studies.")
    if args.iterations is not None and args.iterations < 1:
        raise UsageError(f"--iterations must be >= 1; got {args.iterations}.")
    _check_overrides(args.config, args.set or [])
    result = fc.forecast(args.config, judge=args.judge, overrides=args.set or [],
                         iterations=args.iterations, model=args.model, work_dir=args.work_dir)
    print(json.dumps(result.to_dict(), indent=1) if args.json else result.to_markdown(), end="")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from judgebench.report.html import write_report

    path = write_report(args.dir)
    print(path)
    return 0


def _cmd_quickstart(args: argparse.Namespace) -> int:
    from judgebench.quickstart import run_quickstart
    from judgebench.rlaif import runlog

    with runlog.verbose_output(getattr(args, "debug", False)):
        path = run_quickstart(args.out, quick=args.quick, study=args.study)
    print(path)
    return 0


def _cmd_serve_reward(args: argparse.Namespace) -> int:
    from judgebench.judges.cache import VerdictCache
    from judgebench.judges.spec import load_judge
    from judgebench.serve import RewardScorer, make_server

    _at_least("--port", args.port, 0)
    if args.pipeline and not Path(args.pipeline).is_file():
        raise UsageError(f"--pipeline {args.pipeline!r}: no such file; give a pipeline.json "
                         "from `judgebench calibrate` or a loop iteration.")
    log = _out_dir(args.log)
    _check_spec(args.judge)
    judge = load_judge(args.judge)
    scorer = RewardScorer(judge, log, pipeline=args.pipeline, anchor=args.anchor,
                          failure_reward=args.failure_reward,
                          cache=VerdictCache(log / ".judgebench-cache.sqlite"))
    server = make_server(scorer, args.port)
    port = server.server_address[1]
    print(f"judgebench serve-reward: {judge.name} on http://127.0.0.1:{port} (POST /get_reward "
          f"for OpenRLHF, /classify for verl's reward loop, /compute_score for "
          f"judgebench.serve.compute_score); verdicts -> {scorer.log.path}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        scorer.close()
        print(f"judgebench serve-reward: {scorer.n_rewards} rewards ({scorer.n_failed} failed) "
              f"-> {scorer.log.path}", file=sys.stderr)
    return 0


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the epilogs' line breaks; fills ``{STEPS}`` only when help is shown (the step
    registry imports the calibration modules, which no other command needs)."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        # Wrap long prose lines, keeping line breaks, indents and example commands as written
        # (a wrapped command would not paste).
        import textwrap

        lines = []
        for line in _join_prose(text.splitlines()):
            lead = line[: len(line) - len(line.lstrip())]
            if not line.strip() or line.lstrip().startswith("judgebench "):
                lines.append(indent + line if line.strip() else "")
                continue
            lines.append(textwrap.fill(line, width, initial_indent=indent,
                                       subsequent_indent=indent + lead + ("    " if lead else ""),
                                       break_long_words=False, break_on_hyphens=False))
        return "\n".join(lines)

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help
        if text and "{STEPS}" in text:
            from judgebench.calibration.base import step_names

            text = text.replace("{STEPS}", ", ".join(step_names()))
        return text


def _is_prose(line: str) -> bool:
    return bool(line.strip()) and not line[0].isspace() and not line.startswith("judgebench ")


def _join_prose(lines: list[str]) -> list[str]:
    """Join a paragraph broken over several source lines (the module docstring's) into one
    line, so that it is wrapped to the terminal's width rather than broken twice."""
    out: list[str] = []
    for line in lines:
        if out and _is_prose(line) and _is_prose(out[-1]) and not out[-1].endswith(":"):
            out[-1] = f"{out[-1]} {line}"
        else:
            out.append(line)
    return out


_MAIN_EPILOG = """\
a first hour (the bundled pairs and model; no GPU, nothing downloaded):
  judgebench judge --judge bundled:smollm2 --pairs data/pairs.jsonl --out v.parquet
  judgebench audit --verdicts v.parquet --out audit/
  judgebench calibrate --verdicts v.parquet --steps swap,temperature --out calib/
  judgebench report audit/
  judgebench quickstart --out runs/quickstart      all of the above and the loop, in one go

`judgebench COMMAND --help` lists a command's options and examples. An error is one line and
exit code 2; --verbose (or JUDGEBENCH_DEBUG=1) shows its traceback. train, sweep and quickstart
keep the training libraries' output (the loss of every step, their warnings) in the run's
train.log; their --verbose shows it on the terminal too."""

_TABLES = "a .parquet, .csv or .jsonl table"

_CONFIG_HELP = (
    "CONFIG is TOML, one table per section: [run], [policy], [tasks], [sampling], [judge], "
    "[calibration], [labeling], [optimize], [instrument]; [trainer] goes to TRL's config as it "
    "is (every field: docs/design/rlaif-loop.md; examples in configs/). --set section.key=value "
    "overrides a field, the value read as TOML (1e-5, true, [\"qa\"]; else a string); "
    "calibration=swap+length sets [calibration] steps, calibration=none clears them.")
_RUN_FILES = (
    "Writes RUN_DIR/metrics.jsonl (one row per iteration), config.toml, state.json, "
    "verdicts.parquet, iter-NNN/ and checkpoints/. The training libraries' output (the loss "
    "dict of every step, their warnings and log records) goes to RUN_DIR/train.log; "
    "--verbose shows it on the terminal too.")


def _judge_epilog(examples: str) -> str:
    from judgebench.judges.spec import spec_help

    return f"examples:\n{examples}\n\njudge specs (--judge):\n{spec_help()}"


def build_parser() -> argparse.ArgumentParser:
    """The argparse tree of every subcommand."""
    parser = argparse.ArgumentParser(prog="judgebench", description=__doc__,
                                     epilog=_MAIN_EPILOG, formatter_class=_Formatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", dest="debug", action="store_true",
                        help="show the full traceback of an error (also JUDGEBENCH_DEBUG=1); "
                             "with train, sweep and quickstart also the training libraries' "
                             "output")
    # The same switch after the subcommand (all but train, sweep and quickstart, which take
    # verbose_run below): SUPPRESS keeps the top-level value when it is not given there.
    verbose = argparse.ArgumentParser(add_help=False)
    verbose.add_argument("-v", "--verbose", dest="debug", action="store_true",
                         default=argparse.SUPPRESS, help="show the full traceback of an error")
    # train, sweep and quickstart: the same switch also puts the training libraries' output
    # (kept in the run's train.log either way) on the terminal.
    verbose_run = argparse.ArgumentParser(add_help=False)
    verbose_run.add_argument(
        "-v", "--verbose", dest="debug", action="store_true", default=argparse.SUPPRESS,
        help="show the training libraries' output on the terminal as well (the loss dict of "
             "every step, their warnings, log records and progress bars; always in the run's "
             "train.log), and the full traceback of an error")
    encoding = argparse.ArgumentParser(add_help=False)
    encoding.add_argument("--encoding", default="utf-8",
                          help="text encoding of CSV/JSONL inputs (default: %(default)s; e.g. "
                               "latin-1)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                help="`judgebench COMMAND --help` for its options and examples")

    p = sub.add_parser(
        "import", help="import an external judge log as a verdict table",
        formatter_class=_Formatter, parents=[verbose],
        description="Read another tool's judge log (or a preference set) into judgebench's "
                    "verdict table, which every other command reads. A missing or unparseable "
                    "judgment becomes a failed row, never a preference; nothing is written "
                    "unless the whole import succeeds. See docs/design/importers.md.",
        epilog="examples:\n"
               "  judgebench import llmbar LLMBar/Dataset --out llmbar.parquet "
               "--map subset=LLMBar/Natural evaluator=GPT-4\n"
               "  judgebench import mtbench model_judgment/gpt-4_pair.jsonl --out mtbench.parquet "
               "--map questions=question.jsonl\n"
               "  judgebench import generic my_log.csv --out v.parquet --map prompt=question "
               "response_1=a response_2=b winner=choice\n"
               "  judgebench import trl prefs.jsonl --out pairs.parquet\n\n"
               "formats (FORMAT PATH; options go in --map KEY=VALUE):\n"
               "  llmbar      LLMBar's folder or compact csv; options subset, evaluator, "
               "strategy (comma-separated filters)\n"
               "  alpacaeval  an AlpacaEval annotations.json; option judge (default: the "
               "annotator)\n"
               "  mtbench     FastChat's model_judgment/*_pair.jsonl; options questions "
               "(question.jsonl), answers (a model_answer folder), judge\n"
               "  pandalm     a PandaLM judge result file or folder; option testset (the human-"
               "annotated test set)\n"
               "  generic     CSV, JSON lines, a JSON array or Parquet, also gzipped; "
               "target=column maps a column (pair_id, prompt, response_1, response_2, label, "
               "model_1, model_2, judge, order, p_first, p_1, winner, ...), target=OLD:NEW,... "
               "recodes its values; winners 1/2, A/B, A>B, [[A]], tie\n"
               "  trl         a TRL preference set (prompt, chosen, rejected) -> a pairs table to "
               "judge; options prompt, chosen, rejected (column names)")
    p.add_argument("format", metavar="FORMAT",
                   help="llmbar | alpacaeval | mtbench | pandalm | generic | trl (below)")
    p.add_argument("path", metavar="PATH", help="the log file or folder to read")
    p.add_argument("--out", required=True, metavar="FILE",
                   help="output table (.parquet, .csv or .jsonl)")
    p.add_argument("--map", nargs="*", metavar="KEY=VALUE",
                   help="importer options, e.g. for generic: prompt=question response_1=a ...;"
                        " a value recode: winner=0:1,1:2,2:tie")
    p.add_argument("--drop", nargs="*", metavar="COLUMN",
                   help="generic: source columns to ignore, e.g. a label that is not gold")
    p.add_argument("--explode", default=None, metavar="COLUMN",
                   help="generic: a column listing the games of each pair (nested records)")
    p.set_defaults(func=_cmd_import)

    p = sub.add_parser(
        "judge", help="run a judge on a pairs table, both orders", formatter_class=_Formatter,
        parents=[verbose, encoding],
        description="Judge every pair in each order and write the verdict table (one row per "
                    "pair and order; failures are rows with failed=True).",
        epilog=_judge_epilog(
            "  judgebench judge --judge bundled:smollm2 --pairs pairs.jsonl --out verdicts.parquet\n"
            "  judgebench judge --judge simulated:position=1.0,seed=0 --pairs pairs.csv "
            "--out v.csv --orders 12\n"
            "  judgebench judge --judge 'openai:gpt-4o-mini@https://api.openai.com/v1' "
            "--pairs pairs.jsonl --out v.parquet"))
    p.add_argument("--judge", required=True, metavar="SPEC",
                   help="the judge: a spec string or a judge .toml file (forms below)")
    p.add_argument("--pairs", required=True, metavar="FILE",
                   help=f"the pairs to judge: {_TABLES} with pair_id, prompt, response_1, "
                        "response_2 (optional: label, model_1, model_2, source; other columns "
                        "are kept)")
    p.add_argument("--out", required=True, metavar="FILE",
                   help="the verdict table to write; its suffix picks the format: .parquet, "
                        ".csv or .jsonl (checked before judging)")
    p.add_argument("--orders", default="12,21", metavar="ORDERS",
                   help="presentations to judge, comma-separated: 12 = response_1 shown "
                        "first, 21 = response_2 shown first (default: %(default)s, both)")
    p.add_argument("--cache", default=None, metavar="FILE",
                   help="SQLite cache of verdicts, so a rerun never pays twice (default: "
                        ".judgebench-cache.sqlite beside --out)")
    p.add_argument("--max-failures", default="0.1", metavar="N|SHARE",
                   help="exit with code 1 when more verdicts than this failed: a count (5) or "
                        "a share (0.1, 10%%); the table is written either way (default: "
                        "%(default)s)")
    p.set_defaults(func=_cmd_judge)

    p = sub.add_parser(
        "audit", help="position, verbosity, self-preference, probes, agreement",
        formatter_class=_Formatter, parents=[verbose, encoding],
        description="Measure a judge's biases with 95% bootstrap CIs (resampling pairs): from "
                    "a verdict table, or by judging pairs in both orders (which also runs the "
                    "padding and CALM probes). Prints a summary and writes audit.json (every "
                    "measure), measures.csv and one CSV per measure group to --out.",
        epilog=_judge_epilog(
            "  judgebench audit --verdicts verdicts.parquet --out audit/\n"
            "  judgebench audit --judge bundled:smollm2 --pairs pairs.jsonl --out audit/ "
            "--probe-sample 50\n"
            "  judgebench audit --judge simulated:position=1.0 --pairs pairs.jsonl --out audit/ "
            "--no-probes --json"))
    p.add_argument("--verdicts", metavar="FILE",
                   help=f"a verdict table ({_TABLES}, from `judgebench judge` or `import`) "
                        "to audit as it is; no probes without --judge")
    p.add_argument("--judge", metavar="SPEC",
                   help="a judge to run on --pairs in both orders, then probe (forms below)")
    p.add_argument("--pairs", metavar="FILE",
                   help=f"the pairs for --judge ({_TABLES}); with --verdicts, adds their "
                        "columns (label, models, texts) by pair_id")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="folder for audit.json, measures.csv, ... (created if missing)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the bootstrap and the probe sample (default: %(default)s)")
    p.add_argument("--n-boot", type=int, default=1000, metavar="N",
                   help="bootstrap resamples per confidence interval (default: %(default)s)")
    p.add_argument("--no-probes", action="store_true", help="skip counterfactual re-judging")
    p.add_argument("--probe-sample", type=int, default=200, metavar="N",
                   help="pairs re-judged with padding, CALM edits and noise baselines (~46 "
                        "judge calls each; default: %(default)s)")
    p.add_argument("--judge-model", default=None, metavar="NAME",
                   help="the judge's own model name in model_1/model_2 (for self-preference)")
    p.add_argument("--json", action="store_true",
                   help="print the full audit.json instead of the summary")
    p.add_argument("--fail-on", default=None, metavar="FLAGS",
                   help="exit with status 3 when any of these flags is raised (Benjamini-"
                        "Hochberg q < 0.05), for CI gating: comma-separated measures or groups, "
                        "e.g. position,probes or verbosity.length_slope, or 'any'")
    p.set_defaults(func=_cmd_audit)

    p = sub.add_parser(
        "calibrate", help="fit calibration steps on one split, evaluate on the other",
        formatter_class=_Formatter, parents=[verbose, encoding],
        description="Split the pairs, fit the steps in order on one part and report every "
                    "stage (raw, then after each step) on the other: ECE, Brier, NLL, "
                    "accuracy, position consistency, length slope, each with a 95% CI. "
                    "Writes calibration.json, pipeline.json (the fitted steps), "
                    "reliability.csv and split.csv to --out.",
        epilog="examples:\n"
               "  judgebench calibrate --verdicts v.parquet --out calib/\n"
               "  judgebench calibrate --verdicts v.parquet --steps swap,temperature,length "
               "--fit-frac 0.5 --seed 0 --out calib/\n"
               "  judgebench calibrate --verdicts v.parquet --steps swap,platt "
               "--split-col prompt --out calib/\n"
               "  judgebench calibrate --fit-on labelled.parquet --apply-to v.parquet "
               "--steps swap,temperature --out calibrated/\n\n"
               "Accuracy, ECE, Brier and NLL need gold labels (a label column); the fitted "
               "pipeline applies to new verdicts with Pipeline.from_json('calib/pipeline.json').")
    p.add_argument("--verdicts", metavar="FILE",
                   help=f"the verdict table ({_TABLES}); gold labels in column label")
    p.add_argument("--fit-on", metavar="LABELLED",
                   help="apply mode: fit the steps on every pair of this labelled verdict "
                        "table ...")
    p.add_argument("--apply-to", metavar="V",
                   help="... and write V calibrated (p_1 calibrated, p_1_raw kept) to "
                        "--out/verdicts.parquet; no held-out report in this mode")
    p.add_argument("--steps", default="swap,temperature", metavar="STEPS",
                   help="comma-separated steps, fitted in order (default: %(default)s); "
                        "steps: {STEPS}")
    p.add_argument("--fit-frac", type=float, default=0.5, metavar="F",
                   help="share of pairs that fit the steps; the rest evaluate them "
                        "(0 < F < 1; default: %(default)s)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the split and the bootstrap (default: %(default)s)")
    p.add_argument("--split-col", default=None, metavar="COLUMN",
                   help="keep each value of this column on one side of the split (e.g. prompt "
                        "or source), so no prompt is in both; default: split by pair")
    p.add_argument("--n-boot", type=int, default=1000, metavar="N",
                   help="bootstrap resamples per confidence interval (default: %(default)s)")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="folder for calibration.json, pipeline.json, ... (created if missing)")
    p.add_argument("--json", action="store_true",
                   help="print the full calibration.json instead of the summary")
    p.set_defaults(func=_cmd_calibrate)

    p = sub.add_parser(
        "winrate", help="per-model win rate vs a baseline, raw and length-controlled",
        formatter_class=_Formatter, parents=[verbose],
        description="Per (judge, model): the raw win rate against the baseline in percent (ties "
                    "count 0.5, failed verdicts are left out, both orders averaged within a "
                    "pair) with a 95% pair-bootstrap interval, and with --length-control "
                    "AlpacaEval's length-controlled win rate (its GLM fitted per model, "
                    "predicted at equal length). Prints the table.",
        epilog="examples:\n"
               "  judgebench winrate --verdicts v.parquet --baseline gpt4_1106_preview\n"
               "  judgebench winrate --verdicts v.parquet --baseline gpt4_1106_preview "
               "--length-control --instruction-difficulty difficulty.csv --out winrates.csv\n"
               "  judgebench winrate --verdicts v.parquet --baseline gpt4_1106_preview "
               "--length-control --regularize-to-baseline 0.2 --baseline-variants "
               "gpt4_verbose,gpt4_concise\n\n"
               f"--verdicts: {_TABLES} whose model_1/model_2 name the models, one of them the "
               "baseline in every pair. --instruction-difficulty: a table with columns prompt, "
               "difficulty.")
    p.add_argument("--verdicts", required=True, metavar="FILE",
                   help=f"the verdict table ({_TABLES})")
    p.add_argument("--baseline", required=True, help="the baseline's name in model_1/model_2")
    p.add_argument("--length-control", action="store_true",
                   help="also fit AlpacaEval's LC GLM per model")
    p.add_argument("--instruction-difficulty", default=None, metavar="FILE",
                   help="table of prompt, difficulty (γ_x); without it the term is left out")
    p.add_argument("--regularize-to-baseline", type=float, default=None, metavar="LAMBDA",
                   help="weight of the baseline-variant verdicts (AlpacaEval: 0.2)")
    p.add_argument("--baseline-variants", default=None, metavar="M1,M2",
                   help="models that are edited copies of the baseline, judged against it")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the bootstrap (default: %(default)s)")
    p.add_argument("--n-boot", type=int, default=1000, metavar="N",
                   help="bootstrap resamples per confidence interval (default: %(default)s)")
    p.add_argument("--out", default=None, metavar="FILE",
                   help="also write the table (.csv, .jsonl or .parquet)")
    p.set_defaults(func=_cmd_winrate)

    p = sub.add_parser(
        "validate", parents=[verbose, encoding], formatter_class=_Formatter,
        help="plant known position/verbosity biases in a judge and check the audit recovers "
             "them",
        description="Judge the pairs once in both orders, replay those verdicts through "
                    "position and verbosity biases of known size, and check that the audit's "
                    "estimators recover each planted dose within their 95% interval "
                    "(judgebench/audit/validate.py). Prints a table (--json: validate.json).",
        epilog=_judge_epilog(
            "  judgebench validate --pairs data/pairs.jsonl --judge simulated:seed=0\n"
            "  judgebench validate --pairs pairs.jsonl --judge bundled:smollm2 --out validate/ "
            "--n-boot 200\n"
            "  judgebench validate --pairs pairs.csv --judge judge.toml --json"))
    p.add_argument("--pairs", required=True, metavar="FILE",
                   help=f"pairs to judge ({_TABLES}; a copy gets the biases)")
    p.add_argument("--judge", required=True, metavar="SPEC",
                   help="judge spec or TOML file (forms below)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="folder for validate.json, validate.csv")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the bootstrap (default: %(default)s)")
    p.add_argument("--n-boot", type=int, default=1000, metavar="N",
                   help="bootstrap resamples per confidence interval (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print validate.json instead of the table")
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser(
        "train", help="run the RLAIF loop from a TOML config", formatter_class=_Formatter,
        parents=[verbose_run],
        description="Run the loop of a config: sample k candidates per prompt, judge them in "
                    "both orders, calibrate, label, measure the policy on held-out prompts, "
                    "update it (DPO, GRPO, RLOO), for every iteration. A rerun of the same "
                    "command resumes where it stopped, with the same numbers.",
        epilog="examples:\n"
               "  judgebench train configs/tiny.toml --out runs/tiny\n"
               "  judgebench train configs/smollm2-cpu.toml --out runs/smollm2\n"
               "  judgebench train configs/smollm2-study.toml --out runs/cell --set "
               "judge.verbosity=3 calibration=length\n"
               "  judgebench train configs/tiny.toml --out runs/tiny --set run.n_iterations=4 "
               "optimize.learning_rate=5e-3 --verbose\n\n"
               + _CONFIG_HELP + "\n\n" + _RUN_FILES)
    p.add_argument("config", metavar="CONFIG", help="the loop's TOML config (e.g. configs/tiny.toml)")
    p.add_argument("--out", required=True, metavar="RUN_DIR",
                   help="run folder (created; a rerun into it resumes where it stopped)")
    p.add_argument("--set", nargs="*", action="extend", metavar="KEY=VALUE",
                   help="override config fields, section.key=value (e.g. optimize.learning_rate"
                        "=1e-5 judge.verbosity=1.0; calibration=swap+length)")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser(
        "sweep", help="run a grid of RLAIF runs and the propagation coefficient",
        formatter_class=_Formatter, parents=[verbose_run],
        description="Run every grid point of --set with every seed (a cell each), seed by "
                    "seed, and summarise: per-cell intervals over seeds, the dose-response "
                    "curve, paired calibration contrasts and the propagation coefficient "
                    "(docs/design/studies.md). A finished cell is never run again and a failed "
                    "one is recorded, so rerunning the same command continues a study.",
        epilog="examples:\n"
               "  judgebench sweep configs/tiny.toml --out runs/sweep --set "
               "judge.verbosity=0,1,2 calibration=none,swap+length --seeds 0,1,2\n"
               "  judgebench sweep configs/smollm2-study.toml --out studies/smollm2-verbosity "
               "--set judge.verbosity=0,1,3 calibration=none,length --seeds 0-5 --jobs 2 "
               "--budget-minutes 120 --drop-checkpoints\n"
               "  judgebench sweep configs/smollm2-study.toml --out studies/smollm2-verbosity "
               "--summary-only\n\n"
               "--set takes grid axes, section.key=v1,v2 (each value as for `judgebench train "
               "--set`); the grid is every combination. Writes DIR/cells/<cell>/ (row.json, "
               "config.toml, metrics.jsonl, responses and labels: the small files to keep), "
               "DIR/runs/<cell>/ (the run folder, its train.log included; deleted by "
               "--drop-checkpoints), sweep.csv, propagation.json, study.json and study.md; "
               "prints the path of study.md.")
    p.add_argument("config", metavar="CONFIG",
                   help="the loop's TOML config every grid point starts from")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="sweep folder: sweep.csv, propagation.json and one run folder per cell")
    p.add_argument("--set", nargs="*", action="extend", metavar="KEY=V1,V2",
                   help="grid axes, section.key=v1,v2 (e.g. judge.verbosity=0,1,2 "
                        "calibration=none,swap+length)")
    p.add_argument("--seeds", default="0", metavar="SEEDS",
                   help="comma-separated seeds or ranges: 0,1,2 or 0-5 (default: %(default)s)")
    p.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="cells run side by side, each in its own process (default 1; with "
                        "[run] num_threads = 1, one per core)")
    p.add_argument("--budget-minutes", type=float, default=None, metavar="MIN",
                   help="start no cell that would end after this many minutes; the plan is "
                        "printed first. Rerun the same command to continue a study")
    p.add_argument("--drop-checkpoints", action="store_true",
                   help="delete a finished cell's runs/ directory (checkpoints), keeping its "
                        "small files under cells/")
    p.add_argument("--summary-only", action="store_true",
                   help="only rebuild sweep.csv, propagation.json, study.json and study.md from "
                        "the finished cells under --out")
    p.set_defaults(func=_cmd_sweep)

    p = sub.add_parser(
        "forecast", help="predict a policy's drift from the judge's labels of its "
                         "iteration-0 candidates, before training",
        formatter_class=_Formatter,
        description="Sample the config's iteration-0 candidates, judge and label them as the "
                    "loop would, and predict per bias family the final drift and gold change "
                    "with an 80% prediction interval; anything outside what the model was "
                    "fitted on is flagged. See docs/design/forecast.md.",
        epilog="examples:\n  judgebench forecast --config configs/smollm2-study.toml "
               "--judge 'simulated:verbosity=3,noise=0.5,seed=0' --iterations 4\n"
               "  judgebench forecast --refit studies/smollm2-verbosity")
    p.add_argument("--config", default=None, help="the loop's TOML config")
    p.add_argument("--judge", default=None, metavar="SPEC",
                   help="the judge to audit (default: the config's [judge])")
    p.add_argument("--set", nargs="*", action="extend", metavar="KEY=VALUE",
                   help="override config fields, as for `judgebench train`")
    p.add_argument("--iterations", type=int, default=None, metavar="N",
                   help="forecast the drift after N iterations (default: the config's)")
    p.add_argument("--model", default=None, metavar="FILE",
                   help="a forecast model JSON (default: the bundled one)")
    p.add_argument("--work-dir", default=None, metavar="DIR",
                   help="keep the iteration-0 run here (default: a temporary folder)")
    p.add_argument("--json", action="store_true", help="print the forecast as JSON")
    p.add_argument("--refit", nargs="+", default=None, metavar="STUDY_DIR",
                   help="refit the model on these studies' finished cells and write "
                        "forecast_validation.{json,md,png} to the study folder")
    p.add_argument("--model-out", default=None, metavar="FILE",
                   help="where --refit writes the model (default: STUDY_DIR/forecast.json)")
    p.add_argument("--form", default="saturating", choices=("saturating", "linear"),
                   help="dose-response form for --refit (default: %(default)s)")
    p.set_defaults(func=_cmd_forecast)

    p = sub.add_parser("report", help="write report.html for an audit/calibration/run directory",
                       formatter_class=_Formatter, parents=[verbose],
                       epilog="examples:\n  judgebench report audit/\n"
                              "  judgebench report runs/quickstart")
    p.add_argument("dir", metavar="DIR",
                   help="an audit, calibration, run or sweep folder (or a folder of them)")
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser(
        "serve-reward", help="serve a judge as the reward of verl / OpenRLHF runs (127.0.0.1)",
        formatter_class=_Formatter, parents=[verbose],
        description="Answer reward requests on 127.0.0.1 with a pairwise judge: the reward is "
                    "P(completion beats an anchor answer), both orders averaged, optionally "
                    "calibrated. Every verdict is appended to DIR/verdicts.jsonl, which "
                    "`judgebench audit --verdicts` reads. See judgebench/serve.py.",
        epilog=_judge_epilog(
            "  judgebench serve-reward --judge 'openai:qwen@http://127.0.0.1:8000/v1' "
            "--log runs/rm --port 8700\n"
            "  # OpenRLHF: --remote_rm_url http://127.0.0.1:8700/get_reward\n"
            "  # verl: custom_reward_function.path=judgebench/serve.py, name=compute_score,\n"
            "  #       +custom_reward_function.reward_kwargs.url=http://127.0.0.1:8700"))
    p.add_argument("--judge", required=True, metavar="SPEC", help="the judge (forms below)")
    p.add_argument("--pipeline", default=None, metavar="FILE",
                   help="a calibration pipeline.json applied to the verdicts before averaging")
    p.add_argument("--log", required=True, metavar="DIR",
                   help="folder for verdicts.jsonl, anchors.jsonl and the verdict cache")
    p.add_argument("--port", type=int, default=8700, help="port on 127.0.0.1 (default: "
                   "%(default)s; 0 picks a free one)")
    p.add_argument("--anchor", choices=("reference", "first"), default="reference",
                   help="what a completion is compared with: the reference answer the engine "
                        "sends (OpenRLHF labels, verl ground_truth), or the first completion "
                        "seen for the prompt (default: %(default)s)")
    p.add_argument("--failure-reward", type=float, default=None, metavar="X",
                   help="reward of a failed judgment (default: none: null where the engine "
                        "can skip, HTTP 503 where it cannot)")
    p.set_defaults(func=_cmd_serve_reward)

    p = sub.add_parser(
        "quickstart", help="the demo: audit and calibrate the bundled judge, present the "
                           "SmolLM2 propagation study, rerun one of its cells",
        formatter_class=_Formatter, parents=[verbose_run],
        description="The demo (`make demo`), on the bundled model alone: audit the bundled "
                    "SmolLM2-135M judge and a simulated judge with known biases, calibrate "
                    "both, present the committed SmolLM2 study, rerun one of its cells live "
                    "and check it reproduces the committed numbers, write one report. Each "
                    "step skips itself when its output is there, so a rerun resumes.",
        epilog="examples:\n"
               "  judgebench quickstart --out runs/quickstart\n"
               "  judgebench quickstart --out runs/qs-tiny --quick\n"
               "  judgebench quickstart --out runs/quickstart --study studies/smollm2-verbosity "
               "--verbose\n\n"
               "Prints numbered steps and findings, and the path of report.html as the last "
               "line. The libraries' output goes to DIR/quickstart.log (the live cell's to "
               "DIR/runs/study-cell/train.log); --verbose shows it on the terminal too. Run it "
               "from the repository root (the study and its config are read from there); about "
               "6 minutes on 2 CPU cores.")
    p.add_argument("--out", default="runs/quickstart", metavar="DIR",
                   help="folder for every step's outputs and the report (default: %(default)s)")
    p.add_argument("--quick", action="store_true",
                   help="a random tiny model instead of SmolLM2, smaller sizes (the tests' "
                        "plumbing check; its numbers headline nothing)")
    p.add_argument("--study", default=None, metavar="DIR",
                   help="the committed study folder to present (default: "
                        "studies/smollm2-verbosity under the working directory)")
    p.set_defaults(func=_cmd_quickstart)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``judgebench`` console script.

    A user error (:data:`USER_ERRORS`) prints one line, ``judgebench CMD: error: ...``, and
    returns 2; ``--verbose`` or ``JUDGEBENCH_DEBUG=1`` prints its traceback first.
    """
    args = build_parser().parse_args(argv)
    debug = getattr(args, "debug", False) or os.environ.get("JUDGEBENCH_DEBUG", "") not in (
        "", "0")
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print(f"judgebench {args.command}: interrupted", file=sys.stderr)
        return 130
    except USER_ERRORS as err:
        if debug:
            traceback.print_exc()
        print(f"judgebench {args.command}: error: {_one_line(err)}", file=sys.stderr)
        return 2


def _one_line(err: BaseException) -> str:
    text = " ".join(line.strip() for line in str(err).splitlines() if line.strip())
    return text or type(err).__name__


if __name__ == "__main__":
    sys.exit(main())
