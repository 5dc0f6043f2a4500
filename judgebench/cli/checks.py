"""The CLI's argument checks and :class:`UsageError`: each check runs before any work starts and
names the option it blames (--out, --orders, --max-failures, --judge, --set, ...). No command
lives here; every command module uses these.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path


class UsageError(ValueError):
    """A command-line argument is wrong; the message names the option and the fix.

    Example:

    >>> import contextlib, sys
    >>> from judgebench.cli import main
    >>> with contextlib.redirect_stderr(sys.stdout):    # main() reports it on stderr
    ...     code = main(["judge", "--judge", "simulated", "--pairs", "p.csv", "--out", "."])
    judgebench judge: error: --out '.' is a folder; give a table file such as 'verdicts.parquet'.
    >>> code, issubclass(UsageError, ValueError)
    (2, True)
    """


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
