"""The commands that present results: ``report`` (report.html for a folder) and ``quickstart``
(the demo).
"""

from __future__ import annotations

import argparse


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
