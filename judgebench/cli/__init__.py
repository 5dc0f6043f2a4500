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

# The docstring above is also `judgebench --help`'s description (parser.py reads it), so the
# layout of the package is told here instead: the commands live in judging.py (import, judge,
# audit, calibrate, winrate, validate), loop.py (train, sweep, forecast, serve-reward) and
# reporting.py (report, quickstart); parser.py builds the argparse tree from them, helptext.py
# formats its help, and checks.py holds UsageError and the argument checks. This module keeps
# the entry point, main, and the names callers use: build_parser, UsageError and
# JUDGE_FAILURES_EXIT. The private helpers stay in the module that holds them (one name, one
# object: a test that patches one patches what the commands call).

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Sequence

from judgebench.cli.checks import UsageError
from judgebench.cli.judging import JUDGE_FAILURES_EXIT
from judgebench.cli.parser import build_parser

#: Errors a user can fix (bad input, a missing file, a bad option): one line and exit code 2.
#: Anything else is a bug and keeps its traceback.
USER_ERRORS = (ValueError, OSError, ModuleNotFoundError)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``judgebench`` console script.

    A user error (:data:`USER_ERRORS`) prints one line, ``judgebench CMD: error: ...``, and
    returns 2; ``--verbose`` or ``JUDGEBENCH_DEBUG=1`` prints its traceback first.

    Example:

    >>> import tempfile, pandas as pd
    >>> with tempfile.TemporaryDirectory() as d:
    ...     pd.DataFrame({"pair_id": ["p0"], "prompt": ["2+2?"], "response_1": ["4"],
    ...                   "response_2": ["5"]}).to_csv(f"{d}/pairs.csv", index=False)
    ...     main(["judge", "--judge", "simulated", "--pairs", f"{d}/pairs.csv",
    ...           "--out", f"{d}/verdicts.csv"])
    2 verdicts (0 failed) by simulated -> .../verdicts.csv
    0
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


__all__ = ["JUDGE_FAILURES_EXIT", "USER_ERRORS", "UsageError", "build_parser", "main"]
