"""The argparse tree of every command (``build_parser``): options, help texts and examples. The
commands themselves live in judging.py, loop.py and reporting.py.
"""

from __future__ import annotations

import argparse

from judgebench import __version__
from judgebench.cli.helptext import (
    _CONFIG_HELP,
    _MAIN_EPILOG,
    _RUN_FILES,
    _TABLES,
    _Formatter,
    _judge_epilog,
)
from judgebench.cli.judging import (
    _cmd_audit,
    _cmd_calibrate,
    _cmd_import,
    _cmd_judge,
    _cmd_validate,
    _cmd_winrate,
)
from judgebench.cli.loop import _cmd_forecast, _cmd_serve_reward, _cmd_sweep, _cmd_train
from judgebench.cli.reporting import _cmd_quickstart, _cmd_report


def build_parser() -> argparse.ArgumentParser:
    """The argparse tree of every subcommand.

    Example:

    >>> args = build_parser().parse_args(["report", "runs/quickstart"])
    >>> args.command, args.dir
    ('report', 'runs/quickstart')
    """
    from judgebench import cli  # its docstring is the top-level help

    parser = argparse.ArgumentParser(prog="judgebench", description=cli.__doc__,
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
               "  judgebench forecast --refit studies/smollm2-verbosity\n"
               "  judgebench forecast --refit studies/smollm2-verbosity studies/smollm2-listness "
               "--model-out data/forecast.json --validation-out studies/forecast")
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
                        "forecast_validation.{json,md,png} (see --validation-out)")
    p.add_argument("--model-out", default=None, metavar="FILE",
                   help="where --refit writes the model (default: STUDY_DIR/forecast.json)")
    p.add_argument("--validation-out", default=None, metavar="DIR",
                   help="where --refit writes forecast_validation.{json,md,png} (default: the "
                        "study folder for one study, else the model's folder)")
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
