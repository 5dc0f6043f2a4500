"""The commands of the RLAIF loop: ``train``, ``sweep``, ``forecast`` and ``serve-reward`` (a
judge as the reward server of verl / OpenRLHF runs).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from judgebench.cli.checks import (
    UsageError,
    _at_least,
    _check_grid,
    _check_overrides,
    _check_spec,
    _out_dir,
)


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

        model, report = fv.refit(args.refit, out, form=args.form,
                                 validation_dir=args.validation_out,
                                 draw=forecast_validation_png)
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
