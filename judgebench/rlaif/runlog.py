"""Where the training libraries' output goes during a run: RUN_DIR/train.log, and the terminal
only with ``--verbose``.

judgebench's own lines stay on the terminal: the quickstart's and the sweep's messages, errors,
and the bars that ``[run] progress`` turns on (generation, judging, training steps). What
transformers, TRL, datasets, peft and accelerate say goes to the run's log file instead:

* every Trainer log, one JSON line each: the ``{'loss': ..., 'grad_norm': ...}`` of every step
  and the summary at the end (``optimize.LogLines``), under a line naming the iteration;
* the libraries' log records (``logging``: transformers' and TRL's warnings, ...);
* every Python warning; the ones judgebench knows to be harmless (:data:`HARMLESS_WARNINGS`)
  go to the file only, any other is also shown as usual;
* the libraries' own progress bars (TRL's dataset map and tokenize bars, weight loading, shard
  writing) are switched off: a bar in a file is noise.

``verbose_output(True)`` (``--verbose`` on ``judgebench train``, ``sweep`` and ``quickstart``)
shows all of it on the terminal as well, as the libraries print it; the file still gets it.
Like the libraries' own verbosity switches it is process-wide; the sweep hands it to its
worker processes. Only the libraries' switches and ``logging`` handlers are used (no capture
of stdout), and every switch is put back when the run ends.

>>> with verbose_output(True):                                  # doctest: +SKIP
...     run_from_config("configs/tiny.toml", "runs/tiny")     # loss dicts on the terminal too
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

#: A run's log file, in its run folder (the main process's; see :func:`log_path`).
LOG_FILE = "train.log"
#: judgebench's own logger for the run log: iteration headers, the Trainer's logs, warnings.
LOGGER = "judgebench.run"
#: Libraries that put their own terminal handler on their root logger (the others reach the
#: terminal through Python's last-resort handler, which a handler on the root logger replaces).
OWN_HANDLERS = ("transformers", "datasets", "huggingface_hub")
#: (category, message regex) of warnings known to say nothing about the run. TRL 1.16's configs
#: default ``gradient_checkpointing=True`` (the loop turns it off), and transformers 5 calls
#: that field and ``is_gradient_checkpointing`` deprecated aliases: one FutureWarning per
#: trainer and per step.
HARMLESS_WARNINGS: tuple[tuple[type[Warning], str], ...] = (
    (FutureWarning, r".*gradient_checkpointing.*deprecated"),
)

_verbose = False
#: The open run logs, innermost last: a nested one (a quickstart's live cell inside the
#: quickstart's own log) takes the records until it closes.
_open: list[logging.Handler] = []


def set_verbose(on: bool) -> bool:
    """Show the libraries' output on the terminal too (True) or only in the log; returns the
    previous setting. Also the sweep's worker initializer.

    Example:

    >>> before = set_verbose(True)
    >>> is_verbose()
    True
    >>> _ = set_verbose(before)                                # put it back
    """
    global _verbose
    before, _verbose = _verbose, bool(on)
    return before


def is_verbose() -> bool:
    """Whether the libraries' output is shown on the terminal as well as logged.

    Example:

    >>> with verbose_output(True):
    ...     print(is_verbose())
    True
    """
    return _verbose


@contextlib.contextmanager
def verbose_output(on: bool = True) -> Iterator[None]:
    """:func:`set_verbose` for the duration of the block.

    Example:

    >>> before = is_verbose()
    >>> with verbose_output(not before):
    ...     print(is_verbose() != before)
    True
    >>> is_verbose() == before
    True
    """
    before = set_verbose(on)
    try:
        yield
    finally:
        set_verbose(before)


def log_path(run_dir: str | Path) -> Path:
    """RUN_DIR/train.log; under a multi-process launch, ``train-rank{N}.log`` for rank N > 0
    (the rank the launcher sets: the run's PartialState does not exist yet).

    Example:

    >>> log_path("runs/tiny").as_posix()                       # rank 0 (no RANK set)
    'runs/tiny/train.log'
    """
    rank = int(os.environ.get("RANK", "0") or 0)
    return Path(run_dir) / (LOG_FILE if rank == 0 else f"train-rank{rank}.log")


def note(message: str, *args: object) -> None:
    """One line in the open run log (nowhere when none is open).

    Example:

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     with library_output(Path(tmp) / "train.log") as path:
    ...         note("iteration %d: dpo update", 0)
    ...     last = path.read_text().splitlines()[-1]
    >>> last.split(" ", 2)[2]                                  # after the date and time
    'INFO judgebench.run: iteration 0: dpo update'
    """
    logging.getLogger(LOGGER).info(message, *args)


def is_harmless(message: Warning | str, category: type[Warning]) -> bool:
    """Whether a warning is one of :data:`HARMLESS_WARNINGS`.

    Example:

    >>> is_harmless("`gradient_checkpointing` is deprecated", FutureWarning)
    True
    >>> is_harmless("`gradient_checkpointing` is deprecated", UserWarning)
    False
    """
    text = str(message)
    return any(issubclass(category, cat) and re.match(pattern, text)
               for cat, pattern in HARMLESS_WARNINGS)


@contextlib.contextmanager
def library_output(path: str | Path) -> Iterator[Path]:
    """Inside the block, the libraries' output goes to ``path`` (appended: a resumed run
    continues its log) and reaches the terminal only when :func:`is_verbose` (module doc).

    Example:

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     with library_output(Path(tmp) / "train.log") as path:
    ...         note("iteration %d: dpo update", 0)
    ...     last = path.read_text().splitlines()[-1]
    >>> last.split(" ", 2)[2]                                  # after the date and time
    'INFO judgebench.run: iteration 0: dpo update'
    """
    path = Path(path)
    handler = _RunLog(path)
    root, own = logging.getLogger(), logging.getLogger(LOGGER)
    # transformers does not propagate to the root logger, so it gets the file handler itself.
    targets = [root, logging.getLogger("transformers"), own]
    # Checked before any handler is added: with none on the root logger, the libraries that
    # have no handler of their own print their warnings through Python's last resort.
    last_resort = not root.handlers
    with contextlib.ExitStack() as undo:
        if _open:  # the outer log pauses until this one closes
            _detach(_open[-1], targets)
            undo.callback(_attach, _open[-1], targets)
        _open.append(handler)
        undo.callback(_open.pop)
        undo.callback(handler.close)
        _attach(handler, targets)
        undo.callback(_detach, handler, targets)
        # The run log's own lines (losses, warnings) go to the file only; the terminal shows
        # the libraries' printout of them when verbose.
        undo.callback(setattr, own, "propagate", own.propagate)
        undo.callback(own.setLevel, own.level)
        own.propagate = False
        own.setLevel(logging.INFO)
        if _verbose:
            if last_resort:  # what the last resort printed before the file handler took over
                terminal = logging.StreamHandler(sys.stderr)
                terminal.setLevel(logging.WARNING)
                root.addHandler(terminal)
                undo.callback(root.removeHandler, terminal)
        else:
            undo.enter_context(_libraries_off_terminal())
        undo.enter_context(_warnings_to_log())
        yield path


class _RunLog(logging.FileHandler):
    """A run's log file, opened (folder and all) at its first record: a run that stops at its
    checks, before any output, writes nothing. A resumed run appends under a new first line."""

    def __init__(self, path: Path):
        super().__init__(path, encoding="utf-8", delay=True)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s",
                                            "%Y-%m-%d %H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        if self.stream is None:
            from judgebench import __version__

            Path(self.baseFilename).parent.mkdir(parents=True, exist_ok=True)
            super().emit(logging.LogRecord(LOGGER, logging.INFO, __file__, 0,
                                           "log opened (judgebench %s, pid %d)",
                                           (__version__, os.getpid()), None))
        super().emit(record)


def _attach(handler: logging.Handler, loggers: list[logging.Logger]) -> None:
    for logger in loggers:
        logger.addHandler(handler)


def _detach(handler: logging.Handler, loggers: list[logging.Logger]) -> None:
    for logger in loggers:
        logger.removeHandler(handler)


@contextlib.contextmanager
def _libraries_off_terminal() -> Iterator[None]:
    """The libraries' terminal handlers and progress bars off; each put back as it was."""
    import datasets
    from transformers.utils import logging as hf_logging

    removed = []
    for name in OWN_HANDLERS:
        logger = logging.getLogger(name)
        # Their stderr handler (exactly a StreamHandler: never a file handler).
        mine = [(logger, k, h) for k, h in enumerate(logger.handlers)
                if type(h) is logging.StreamHandler]
        for _, _, h in mine:
            logger.removeHandler(h)
        removed += mine
    bars = (datasets.is_progress_bar_enabled(), hf_logging.is_progress_bar_enabled())
    if bars[0]:
        datasets.disable_progress_bars()
    if bars[1]:
        hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        for logger, k, h in removed:  # where it was: handlers run in list order
            logger.handlers.insert(k, h)
        # The loop's [run] progress = false switches them off too: back to how they were here.
        (datasets.enable_progress_bars if bars[0] else datasets.disable_progress_bars)()
        (hf_logging.enable_progress_bar if bars[1] else hf_logging.disable_progress_bar)()


@contextlib.contextmanager
def _warnings_to_log() -> Iterator[None]:
    """Every warning into the run log; on the terminal unless harmless (or when verbose)."""
    # The terminal's showwarning, also under a nested block (whose hook is then the outer one).
    shown = getattr(warnings.showwarning, "terminal", warnings.showwarning)
    logged: set[str] = set()

    def hook(message, category, filename, lineno, file=None, line=None):
        harmless = is_harmless(message, category)
        text = warnings.formatwarning(message, category, filename, lineno, line).rstrip()
        if harmless and text in logged:
            return  # a known one comes back with every trainer: once per log is enough
        logged.add(text)
        logging.getLogger(LOGGER).warning(text)
        if _verbose or not harmless:
            shown(message, category, filename, lineno, file, line)

    hook.terminal = shown
    with warnings.catch_warnings():  # restores showwarning (and the filters) on exit
        warnings.showwarning = hook
        yield
