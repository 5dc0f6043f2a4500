"""Where the libraries' output goes during a run (judgebench/rlaif/runlog.py, issue 17)."""

from __future__ import annotations

import logging
import warnings

import pytest

from judgebench.rlaif import runlog


def _state():
    """Every switch library_output touches, to check it is put back."""
    import datasets
    from transformers.utils import logging as hf_logging

    loggers = ["", "transformers", "datasets", "huggingface_hub", runlog.LOGGER]
    return ({n: list(logging.getLogger(n).handlers) for n in loggers},
            logging.getLogger(runlog.LOGGER).propagate, logging.getLogger(runlog.LOGGER).level,
            datasets.is_progress_bar_enabled(), hf_logging.is_progress_bar_enabled(),
            warnings.showwarning)


def test_library_records_go_to_the_file_only(tmp_path, capfd):
    from transformers.utils import logging as hf_logging

    before = _state()
    with runlog.library_output(tmp_path / "train.log"):
        hf_logging.get_logger("transformers.trainer").warning("a transformers warning")
        logging.getLogger("trl.trainer").warning("a trl warning")  # no handler of its own
        runlog.note("a note of the loop")
    assert _state() == before  # every handler, level and bar switch put back
    out, err = capfd.readouterr()
    assert out + err == ""
    log = (tmp_path / "train.log").read_text()
    assert all(x in log for x in ("a transformers warning", "a trl warning", "a note of the loop",
                                  "log opened (judgebench"))


def test_verbose_also_shows_them_on_the_terminal(tmp_path, capfd, monkeypatch):
    import sys

    from transformers.utils import logging as hf_logging

    # transformers' own stderr handler holds the stream of its first use, which under pytest
    # may be an earlier test's capture: point it at this test's.
    for h in hf_logging._get_library_root_logger().handlers:
        if type(h) is logging.StreamHandler:
            monkeypatch.setattr(h, "stream", sys.stderr)
    with runlog.verbose_output(True), runlog.library_output(tmp_path / "train.log"):
        hf_logging.get_logger("transformers.trainer").warning("a transformers warning")
        runlog.note("a note of the loop")  # the file's own line: the terminal has the printout
    assert not runlog.is_verbose()
    err = capfd.readouterr().err
    assert "a transformers warning" in err and "a note of the loop" not in err
    assert "a transformers warning" in (tmp_path / "train.log").read_text()


def test_harmless_warnings_are_logged_once_and_others_shown(tmp_path, recwarn):
    harmless = "`gradient_checkpointing` is deprecated and will be removed in v6."
    with runlog.library_output(tmp_path / "train.log"):
        for _ in range(3):  # e.g. once per trainer: the registry is reset between them
            warnings.warn_explicit(harmless, FutureWarning, "x.py", 1)
        warnings.warn("something the user should see", UserWarning, stacklevel=1)
    shown = [str(w.message) for w in recwarn]
    assert shown == ["something the user should see"]
    log = (tmp_path / "train.log").read_text()
    assert log.count(harmless) == 1 and "something the user should see" in log
    with runlog.verbose_output(True), runlog.library_output(tmp_path / "again.log"):
        warnings.warn_explicit(harmless, FutureWarning, "x.py", 2)
    assert harmless in [str(w.message) for w in recwarn]


def test_a_nested_log_takes_the_records_until_it_closes(tmp_path, capfd):
    before = _state()
    with runlog.library_output(tmp_path / "outer.log"):
        runlog.note("outer 1")
        with runlog.library_output(tmp_path / "cell" / "train.log"):
            runlog.note("inner")
            logging.getLogger("peft").warning("inner warning")
        runlog.note("outer 2")
    assert _state() == before
    outer, inner = (tmp_path / "outer.log").read_text(), (tmp_path / "cell/train.log").read_text()
    assert "outer 1" in outer and "outer 2" in outer and "inner" not in outer
    assert "inner" in inner and "inner warning" in inner and "outer" not in inner
    assert capfd.readouterr().err == ""


def test_the_log_is_closed_and_the_switches_restored_on_error(tmp_path):
    before = _state()
    with pytest.raises(RuntimeError, match="boom"):
        with runlog.library_output(tmp_path / "run" / "train.log"):
            raise RuntimeError("boom")
    assert _state() == before and not runlog._open
    # Nothing was said, so nothing was written: a run that fails its checks leaves no folder.
    assert not (tmp_path / "run").exists()


def test_log_path_per_rank(tmp_path, monkeypatch):
    assert runlog.log_path(tmp_path) == tmp_path / "train.log"
    monkeypatch.setenv("RANK", "2")
    assert runlog.log_path(tmp_path) == tmp_path / "train-rank2.log"
