"""The help output shared by every command: the formatter (wrapped prose, examples kept as
written, ``{STEPS}`` filled in), the top-level epilog and the recurring help texts. No command
lives here.
"""

from __future__ import annotations

import argparse


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
