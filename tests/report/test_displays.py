"""Display objects (judgebench/report/displays.py): the three ``ax`` forms, the same figure as
the report, from_verdicts, column checks, and inline PNG in notebooks."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

import judgebench
import judgebench.report
from judgebench.judges.simulated import simulate_verdicts
from judgebench.report import displays, plots
from judgebench.report.displays import (
    CalibrationDisplay,
    DoseResponseDisplay,
    PositionDisplay,
    PropagationDisplay,
    VerbosityDisplay,
)
from judgebench.results import AuditResult, CalibrationResult, RunResult, SweepResult

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
STUDY = Path(__file__).resolve().parents[2] / "studies" / "smollm2-verbosity"


@pytest.fixture(scope="module")
def audit(results: Path) -> AuditResult:
    return AuditResult.load(results / "audit-sim")


@pytest.fixture(scope="module")
def calibration(results: Path) -> CalibrationResult:
    return CalibrationResult.load(results / "calibration-sim")


@pytest.fixture(scope="module")
def runs(results: Path) -> list[RunResult]:
    return [RunResult.load(results / "runs" / n) for n in ("biased", "calibrated")]


@pytest.fixture(scope="module")
def sweep() -> SweepResult:
    return SweepResult.load(STUDY)  # the committed study, read only


def _every_display(audit, calibration, runs, sweep):
    """(Display class, its result, the panel names) for every Display."""
    return [(PositionDisplay, audit), (VerbosityDisplay, audit), (CalibrationDisplay, calibration),
            (PropagationDisplay, runs[0]), (DoseResponseDisplay, sweep)]


def _drawn(ax) -> bool:
    return bool(ax.lines or ax.patches or ax.collections or ax.images or ax.texts)


def test_each_display_draws_into_the_given_ax(audit, calibration, runs, sweep) -> None:
    for cls, result in _every_display(audit, calibration, runs, sweep):
        for panel in cls.panels:
            fig = Figure()
            ax = fig.subplots()
            disp = cls.from_result(result, ax=ax, panel=panel)
            assert disp.ax_ is ax and disp.figure_ is fig and list(disp.axes_) == [ax]
            assert _drawn(ax) and ax.get_title(), (cls.__name__, panel)
            assert fig.get_axes()[0] is ax  # drawn there, no new Axes beside it


def test_a_sequence_of_axes_gets_one_panel_each(audit, calibration, runs, sweep) -> None:
    for cls, result in _every_display(audit, calibration, runs, sweep):
        fig = Figure()
        axes = fig.subplots(1, len(cls.panels))
        disp = cls.from_result(result, ax=axes)
        assert list(disp.axes_) == list(axes) and disp.ax_ is axes[0]
        assert all(_drawn(a) for a in axes), cls.__name__
        with pytest.raises(ValueError, match=rf"draws {len(cls.panels)} panels"):
            cls.from_result(result, ax=list(axes)[:-1])


def test_ax_none_is_the_report_figure(audit, calibration, runs, sweep) -> None:
    """Without an Axes a Display draws exactly the report's figure (the same PNG bytes)."""
    t = audit.csv_tables
    pairs = [
        (PositionDisplay.from_result(audit), plots.position_figure(t["position"])),
        (VerbosityDisplay.from_result(audit),
         plots.verbosity_figure(t["verbosity_bins"], t["padding"])),
        (PropagationDisplay.from_result(runs),
         plots.propagation_figure(pd.concat([r.tables["metrics"].assign(run=r.name)
                                             for r in runs], ignore_index=True))),
        (DoseResponseDisplay.from_result(sweep), plots.dose_response_figure(sweep.study)),
    ]
    for disp, fig in pairs:
        assert plots.figure_png(disp.figure_) == plots.figure_png(fig), type(disp).__name__
    cal = CalibrationDisplay.from_result(calibration)
    titles = [a.get_title() for a in cal.axes_]
    assert titles[:3] == ["raw", "+ swap", "+ temperature"] and len(cal.axes_) == 5
    # One panel on its own: a new one-Axes figure.
    one = PositionDisplay.from_result(audit, panel="consistency")
    assert len(one.figure_.get_axes()) == 1 and one.ax_.get_title() == "Same winner after swapping"


def test_plots_read_the_values_of_the_tables(audit, calibration, runs, sweep) -> None:
    ax = Figure().subplots()
    PositionDisplay.from_result(audit, ax=ax)
    pos = audit.csv_tables["position"]
    want = pos[(pos["measure"] == "position.p_first") & (pos["source"] == "all")]["estimate"]
    np.testing.assert_allclose(np.asarray(ax.containers[0][0].get_xdata(), float),
                               want.to_numpy())
    ax = Figure().subplots()
    CalibrationDisplay.from_result(calibration, ax=ax, panel="ece")
    m = calibration.tables["metrics"]
    want = m[(m["judge"] == "all") & (m["measure"] == "ece")]["estimate"]
    np.testing.assert_allclose([p.get_height() for p in ax.patches], want.to_numpy())
    ax = Figure().subplots()
    runs[1].plot(ax=ax, panel="length")
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [r["length_chars_mean"] for r in runs[1]])
    ax = Figure().subplots()
    sweep.plot(ax=ax, panel="label_prefers_longer")
    dr = sweep.tables["dose_response"]
    first = dr[(dr["metric"] == "label_prefers_longer") & (dr["arm"] == dr["arm"].iloc[0])]
    np.testing.assert_allclose(np.asarray(ax.containers[0][0].get_ydata(), float),
                               first["estimate"].to_numpy())
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("lack of fit p" in t for t in labels)  # the corner text is in the legend here


def test_results_plot_return_displays(runs, sweep) -> None:
    assert isinstance(runs[0].plot(), PropagationDisplay)
    assert isinstance(sweep.plot(panel="drift"), DoseResponseDisplay)
    # Several runs in one display: one colour per run, named in the Axes' legend.
    ax = Figure().subplots()
    PropagationDisplay.from_result(runs, ax=ax, panel="gold")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["biased", "calibrated"]


def test_from_verdicts_computes_the_table_in_memory() -> None:
    v = simulate_verdicts(120, seed=0, position=1.0, verbosity=1.0, temperature=2.0)
    pos = PositionDisplay.from_verdicts(v, seed=0, n_boot=20, panel="p_first")
    assert pos.position["measure"].str.startswith("position.").all()
    assert float(pos.ax_.containers[0][0].get_xdata()[0]) > 0.6  # the injected first-slot bias
    verb = VerbosityDisplay.from_verdicts(v, seed=0, n_boot=20)
    assert verb.padding is None and len(verb.axes_) == 2  # padding: "not run" panel
    cal = CalibrationDisplay.from_verdicts(v, seed=0, n_boot=20, stage="raw",
                                           ax=Figure().subplots(1, 3))
    assert set(cal.metrics["metric"]) >= {"ece", "brier"} and cal.metrics["stage"].eq("raw").all()
    assert len(cal.axes_[1].patches) == 1  # one stage, one ECE bar


def test_missing_columns_are_named() -> None:
    pos = pd.DataFrame({"judge": ["j"], "measure": ["position.p_first"], "estimate": [0.7]})
    cases = [
        (lambda: PositionDisplay(pos).plot(), "position table lacks column.*'ci_low', 'ci_high'"),
        (lambda: VerbosityDisplay(pd.DataFrame({"judge": ["j"], "bin": ["(0, 30]"]})).plot(),
         "bins table lacks column.*'p_prefer_longer', 'ci_low', 'ci_high', 'n'"),
        (lambda: VerbosityDisplay(None, pd.DataFrame({"judge": ["j"]})).plot(),
         "padding table lacks column.*'perturbation', 'added_chars'"),
        (lambda: CalibrationDisplay(pd.DataFrame({"stage": ["raw"], "count": [3]})).plot(),
         "reliability table lacks column.*'mean_confidence', 'accuracy'"),
        (lambda: PropagationDisplay(pd.DataFrame({"length_chars_mean": [50.0]})).plot(),
         r"metrics table lacks column.*\['iteration'\]"),
        (lambda: PropagationDisplay(pd.DataFrame({"iteration": [0], "x": [1]})).plot(),
         "none of the columns it draws.*length_chars_mean"),
        (lambda: DoseResponseDisplay(pd.DataFrame({"metric": ["drift"], "dose": [0.0]})).plot(),
         "dose-response table lacks column.*'arm', 'estimate', 'ci_low', 'ci_high', 'n'"),
    ]
    for draw, message in cases:
        with pytest.raises(ValueError, match=message):
            draw()
    with pytest.raises(ValueError, match="needs a length-bin table.*or a padding table"):
        VerbosityDisplay().plot()
    with pytest.raises(ValueError, match=r"'panel' parameter of PositionDisplay.plot must be "
                                         r"one of .*Got 'bins' instead"):
        PositionDisplay(pos).plot(panel="bins")
    with pytest.raises(TypeError, match="PositionDisplay.from_result needs a AuditResult; got "
                                        "SweepResult"):
        PositionDisplay.from_result(SweepResult(pd.DataFrame()))
    with pytest.raises(ValueError, match="no dose-response in study.json"):
        DoseResponseDisplay.from_result(SweepResult(pd.DataFrame()))


def test_inline_png_only_for_figures_pyplot_does_not_show() -> None:
    t = pd.DataFrame({"judge": ["j"] * 2, "measure": ["position.p_first",
                      "position.consistency"], "estimate": [0.8, 0.4], "ci_low": [0.7, 0.3],
                      "ci_high": [0.9, 0.5], "n": [100, 100]})
    disp = PositionDisplay(t)
    assert disp._repr_png_() is None and "not drawn" in repr(disp)
    assert disp.plot()._repr_png_().startswith(PNG_MAGIC)  # Agg figure: shown by the Display
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    try:
        assert disp.plot(ax=ax)._repr_png_() is None  # pyplot shows its own figure
    finally:
        plt.close(fig)


def test_exported_from_the_package_lazily() -> None:
    for name in displays.__all__:
        assert getattr(judgebench, name) is getattr(displays, name)
    assert judgebench.RunResult is RunResult and judgebench.SweepResult is SweepResult
