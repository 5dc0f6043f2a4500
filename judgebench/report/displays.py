"""Display objects for judgebench's figures, in scikit-learn's style (``RocCurveDisplay``).

A Display holds the tables a figure needs, in memory, and draws them: ``from_result(result)``
takes an audit, calibration, run or sweep result, ``from_verdicts(verdicts, seed=...)`` (where
it makes sense) computes the table from a verdict table first, and ``plot(ax=None)`` draws and
returns the Display with ``figure_``, ``ax_`` (the first Axes drawn) and ``axes_`` (all of
them) set. Nothing is read from disk and no metric is recomputed from a table: the panels are
``judgebench.report.plots``'s ``draw_*`` functions, the same the HTML report draws.

``ax`` may be

* None: a new figure laid out as in the report (every panel; ``panel=`` for one only);
* one matplotlib Axes: one panel is drawn into it, ``panel`` (default: the first of
  ``panels``);
* a sequence of Axes, one per panel in ``panels`` order (``plt.subplots(1, 2)``'s array).

The figures made here use no pyplot (as the report's): nothing global changes and no backend
is needed. So that such a figure still shows in Jupyter, a Display has ``_repr_png_``: a cell
that ends with a Display (or a result's ``.plot()``) shows the figure. When you draw into your
own pyplot Axes, pyplot shows the figure as usual and ``_repr_png_`` returns None, so it does
not show twice. A table that lacks a column a Display needs is a ValueError naming it.

>>> import pandas as pd
>>> from matplotlib.figure import Figure
>>> t = pd.DataFrame({"judge": ["j"] * 2, "measure": ["position.p_first",
...                   "position.consistency"], "estimate": [0.8, 0.4], "ci_low": [0.7, 0.3],
...                   "ci_high": [0.9, 0.5], "n": [100, 100]})
>>> ax = Figure().subplots()
>>> disp = PositionDisplay(t).plot(ax=ax, panel="consistency")
>>> disp.ax_ is ax, ax.get_title()
(True, 'Same winner after swapping')
>>> PositionDisplay(t).plot().axes_.shape      # the report's two panels
(2,)
>>> PositionDisplay(t.drop(columns="ci_low")).plot()
Traceback (most recent call last):
...
ValueError: PositionDisplay: the position table lacks column(s) ['ci_low'] ...
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, TypeVar

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from judgebench.report import plots
from judgebench.results import AuditResult, CalibrationResult, RunResult, SweepResult

_D = TypeVar("_D", bound="_Display")

#: Size (inches) of the figure made for one panel when ``ax`` is None and ``panel`` is given.
ONE_PANEL = (5.6, 3.9)


class _Display:
    """What every Display shares: the three ``ax`` forms, the column checks, inline PNG."""

    #: The panels this Display draws, in the report's order.
    panels: ClassVar[tuple[str, ...]]
    figure_: Figure
    ax_: Axes
    axes_: np.ndarray

    # -- what each Display defines ------------------------------------------------------------

    def _tables(self) -> dict[str, tuple[pd.DataFrame | None, tuple[str, ...]]]:
        """{what: (table, columns it needs)}; a None table is one the Display may lack."""
        raise NotImplementedError

    def _report_figure(self) -> Figure:
        raise NotImplementedError

    def _draw(self, ax: Axes, panel: str) -> None:
        raise NotImplementedError

    def _default_panel(self) -> str:
        return self.panels[0]

    # -- drawing ------------------------------------------------------------------------------

    def plot(self: _D, ax: Axes | Sequence[Axes] | None = None, *, panel: str | None = None
             ) -> _D:
        """Draw into ``ax`` (see the module doc for its three forms); returns ``self``.

        ``panel`` picks the one panel drawn into a single Axes (or into a new one-panel
        figure when ``ax`` is None); it must be one of ``panels``.
        """
        if panel is not None and panel not in self.panels:
            raise ValueError(f"The 'panel' parameter of {type(self).__name__}.plot must be one "
                             f"of {set(self.panels)}. Got {panel!r} instead.")
        self._check()
        if ax is None and panel is None:
            fig = self._report_figure()
            drawn = [a for a in fig.get_axes() if a.get_label() != "<colorbar>"]
        elif ax is None or isinstance(ax, Axes):
            if ax is None:
                with mpl.rc_context(plots.STYLE):  # the Axes' grid and spines are set now
                    ax = plots.new_figure(ONE_PANEL[1], ONE_PANEL[0]).subplots()
            self._draw_one(ax, panel or self._default_panel())
            fig, drawn = _root_figure(ax), [ax]
        else:
            drawn = list(np.ravel(np.asarray(ax, dtype=object)))
            if len(drawn) != len(self.panels) or not all(isinstance(a, Axes) for a in drawn):
                raise ValueError(f"{type(self).__name__}.plot draws {len(self.panels)} panels "
                                 f"({', '.join(self.panels)}): give one Axes, a sequence of "
                                 f"{len(self.panels)} Axes, or None; got {len(drawn)} "
                                 "item(s).")
            for a, name in zip(drawn, self.panels):
                self._draw_one(a, name)
            fig = _root_figure(drawn[0])
        self.figure_, self.axes_, self.ax_ = fig, np.array(drawn, dtype=object), drawn[0]
        return self

    def _draw_one(self, ax: Axes, panel: str) -> None:
        self._draw(ax, panel)
        # The report names series in one legend below its panels; a lone Axes needs its own.
        if ax.get_legend() is None and ax.get_legend_handles_labels()[0]:
            ax.legend(loc="best", fontsize=8)

    def _check(self) -> None:
        for what, (table, need) in self._tables().items():
            if table is None:
                continue
            if not isinstance(table, pd.DataFrame):
                raise TypeError(f"{type(self).__name__}: the {what} table must be a pandas "
                                f"DataFrame; got {type(table).__name__}.")
            missing = [c for c in need if c not in table.columns]
            if missing:
                raise ValueError(f"{type(self).__name__}: the {what} table lacks column(s) "
                                 f"{missing} (it needs {list(need)}; it has "
                                 f"{list(table.columns)}).")

    # -- notebooks ----------------------------------------------------------------------------

    def _repr_png_(self) -> bytes | None:
        """The figure as PNG, so that a figure made without pyplot shows in Jupyter."""
        fig = getattr(self, "figure_", None)
        if fig is None or fig.canvas.manager is not None:
            return None  # not drawn yet, or pyplot's figure: pyplot shows it itself
        return plots.figure_png(fig)

    def __repr__(self) -> str:
        state = f"drawn in {len(self.axes_)} Axes" if hasattr(self, "axes_") else "not drawn"
        return f"<{type(self).__name__}: panels {', '.join(self.panels)}; {state}>"


def _root_figure(ax: Axes) -> Figure:
    """The top-level Figure of ``ax`` (its ``figure`` may be a SubFigure)."""
    fig = ax.figure
    while not isinstance(fig, Figure):
        fig = fig.figure
    return fig


def _expect(result: Any, kind: type, display: str) -> None:
    if not isinstance(result, kind):
        raise TypeError(f"{display}.from_result needs a {kind.__name__}; got "
                        f"{type(result).__name__}. Build the display from its tables instead: "
                        f"{display}(table).plot().")


# ---------------------------------------------------------------------------------------------
# Audit

POSITION_COLUMNS = ("judge", "measure", "estimate", "ci_low", "ci_high")
BINS_COLUMNS = ("judge", "bin", "p_prefer_longer", "ci_low", "ci_high", "n")
PADDING_COLUMNS = ("judge", "perturbation", "added_chars", "estimate", "ci_low", "ci_high")


class PositionDisplay(_Display):
    """P(answer shown first wins) and swap consistency per judge, with 95% CIs.

    ``position``: position.csv's long table (``AuditResult.tables["position"]``, or
    :func:`judgebench.audit.position.position_table`): judge, measure, estimate, ci_low,
    ci_high (and optionally note, source). Panels: ``p_first``, ``consistency``.

    >>> from judgebench.judges.simulated import simulate_verdicts
    >>> v = simulate_verdicts(60, seed=0, position=1.0)
    >>> disp = PositionDisplay.from_verdicts(v, seed=0, n_boot=20)
    >>> [a.get_title() for a in disp.axes_]
    ['P(answer shown first wins)', 'Same winner after swapping']
    """

    panels: ClassVar[tuple[str, ...]] = tuple(plots.POSITION_PANELS)

    def __init__(self, position: pd.DataFrame):
        self.position = position

    @classmethod
    def from_result(cls, result: AuditResult, *, ax: Any = None, panel: str | None = None
                    ) -> PositionDisplay:
        """From an audit (its position.csv table, else the position rows of its measures).

        >>> from judgebench.audit import run_audit
        >>> from judgebench.judges.simulated import simulate_verdicts
        >>> audit = run_audit(simulate_verdicts(60, seed=0, position=1.0), n_boot=20)
        >>> PositionDisplay.from_result(audit, panel="p_first").ax_.get_title()
        'P(answer shown first wins)'
        """
        _expect(result, AuditResult, cls.__name__)
        table = result.csv_tables.get("position")
        if table is None:
            m = result.tables["measures"]
            table = m[m["measure"].astype(str).str.startswith("position.")]
        return cls(table).plot(ax, panel=panel)

    @classmethod
    def from_verdicts(cls, verdicts: pd.DataFrame, *, seed: int, n_boot: int = 1000,
                      ax: Any = None, panel: str | None = None) -> PositionDisplay:
        """From a verdict table (both orders per pair): ``position_table`` with a pair bootstrap.

        >>> from judgebench.judges.simulated import simulate_verdicts
        >>> disp = PositionDisplay.from_verdicts(simulate_verdicts(40, seed=0), seed=0, n_boot=20)
        >>> sorted(set(disp.position["measure"]) & {"position.p_first", "position.consistency"})
        ['position.consistency', 'position.p_first']
        """
        from judgebench.audit.position import position_table

        return cls(position_table(verdicts, n_boot=n_boot, seed=seed)).plot(ax, panel=panel)

    def _tables(self) -> dict[str, tuple[pd.DataFrame | None, tuple[str, ...]]]:
        return {"position": (self.position, POSITION_COLUMNS)}

    def _report_figure(self) -> Figure:
        return plots.position_figure(self.position)

    def _draw(self, ax: Axes, panel: str) -> None:
        plots.draw_position(ax, self.position, panel)


class VerbosityDisplay(_Display):
    """P(judge prefers the longer response) per length-difference bin, and the padding
    dose-response (P(padded copy beats the original) against the characters added).

    ``bins``: verbosity_bins.csv's table; ``padding``: padding.csv's; either may be None, not
    both. Panels: ``bins``, ``padding`` (a lone Axes gets ``bins`` when there are bins).

    >>> from judgebench.judges.simulated import simulate_verdicts
    >>> v = simulate_verdicts(80, seed=0, verbosity=1.0)
    >>> VerbosityDisplay.from_verdicts(v, seed=0, n_boot=20, panel="bins").ax_.get_title()
    'Preference for the longer response'
    """

    panels: ClassVar[tuple[str, ...]] = ("bins", "padding")

    def __init__(self, bins: pd.DataFrame | None = None, padding: pd.DataFrame | None = None):
        self.bins, self.padding = bins, padding

    @classmethod
    def from_result(cls, result: AuditResult, *, ax: Any = None, panel: str | None = None
                    ) -> VerbosityDisplay:
        """From an audit's verbosity_bins and padding tables.

        >>> from judgebench.audit import run_audit
        >>> from judgebench.judges.simulated import simulate_verdicts
        >>> audit = run_audit(simulate_verdicts(60, seed=0, verbosity=1.0), n_boot=20)
        >>> disp = VerbosityDisplay.from_result(audit)   # verdicts only: no padding probes
        >>> disp.padding is None, [a.get_title() for a in disp.axes_][0]
        (True, 'Preference for the longer response')
        """
        _expect(result, AuditResult, cls.__name__)
        return cls(result.csv_tables.get("verbosity_bins"),
                   result.csv_tables.get("padding")).plot(ax, panel=panel)

    @classmethod
    def from_verdicts(cls, verdicts: pd.DataFrame, *, seed: int, n_boot: int = 1000,
                      ax: Any = None, panel: str | None = None) -> VerbosityDisplay:
        """From a verdict table: the length bins only (padding needs a judge to re-judge).

        >>> from judgebench.judges.simulated import simulate_verdicts
        >>> v = simulate_verdicts(60, seed=0, verbosity=1.0)
        >>> disp = VerbosityDisplay.from_verdicts(v, seed=0, n_boot=20)
        >>> disp.padding is None, {"bin", "p_prefer_longer", "n"} <= set(disp.bins.columns)
        (True, True)
        """
        from judgebench.audit.verbosity import length_bins_table

        return cls(length_bins_table(verdicts, n_boot=n_boot, seed=seed)).plot(ax, panel=panel)

    def _tables(self) -> dict[str, tuple[pd.DataFrame | None, tuple[str, ...]]]:
        if self.bins is None and self.padding is None:
            raise ValueError("VerbosityDisplay needs a length-bin table (verbosity_bins.csv) or "
                             "a padding table (padding.csv); both are None.")
        return {"bins": (self.bins, BINS_COLUMNS), "padding": (self.padding, PADDING_COLUMNS)}

    def _default_panel(self) -> str:
        return "bins" if self.bins is not None else "padding"

    def _report_figure(self) -> Figure:
        return plots.verbosity_figure(self.bins, self.padding)

    def _draw(self, ax: Axes, panel: str) -> None:
        if panel == "bins":
            plots.draw_length_bins(ax, self.bins)
        else:
            plots.draw_padding(ax, self.padding)


# ---------------------------------------------------------------------------------------------
# Calibration

RELIABILITY_COLUMNS = ("stage", "mean_confidence", "accuracy", "count")
STAGE_METRIC_COLUMNS = ("stage", "metric", "estimate", "ci_low", "ci_high")


class CalibrationDisplay(_Display):
    """Reliability diagrams (accuracy against confidence per equal-width bin) before and after
    each calibration step, and ECE / Brier per stage with 95% CIs.

    ``reliability``: reliability.csv's table (stage, mean_confidence, accuracy, count, and
    binning); ``metrics``: one row per (stage, metric) with estimate, ci_low, ci_high (the
    report's long calibration table; optional). Panels: ``reliability`` (every stage in one
    Axes, ECE in the legend), ``ece``, ``brier``. With ``ax=None`` the report's figure: one
    reliability diagram per stage above the two bar panels.

    >>> from judgebench.judges.simulated import simulate_verdicts
    >>> v = simulate_verdicts(100, seed=0, temperature=2.0)
    >>> disp = CalibrationDisplay.from_verdicts(v, seed=0, n_boot=20, panel="reliability")
    >>> [t.get_text() for t in disp.ax_.get_legend().get_texts()][1][:10]
    'raw (ECE 0'
    """

    panels: ClassVar[tuple[str, ...]] = ("reliability", *plots.CALIBRATION_BARS)

    def __init__(self, reliability: pd.DataFrame, metrics: pd.DataFrame | None = None):
        self.reliability, self.metrics = reliability, metrics

    @classmethod
    def from_result(cls, result: CalibrationResult, *, ax: Any = None,
                    panel: str | None = None) -> CalibrationDisplay:
        """From a calibration: its reliability table and its pooled held-out metrics.

        >>> from judgebench.calibration import run_calibration
        >>> from judgebench.judges.simulated import simulate_verdicts
        >>> res = run_calibration(simulate_verdicts(200, seed=0, temperature=2.0),
        ...                       ["temperature"], seed=0, n_boot=20)
        >>> CalibrationDisplay.from_result(res, panel="ece").ax_.get_title()
        'ECE (15 equal-width bins) — lower is better'
        """
        _expect(result, CalibrationResult, cls.__name__)
        if result.reliability is None:
            raise ValueError("This CalibrationResult has no reliability table (reliability.csv"
                             "): nothing to draw a reliability diagram from.")
        m = result.tables["metrics"]
        metrics = m[m["judge"] == "all"].rename(columns={"measure": "metric"})
        return cls(result.reliability, metrics.reset_index(drop=True)).plot(ax, panel=panel)

    @classmethod
    def from_verdicts(cls, verdicts: pd.DataFrame, *, seed: int, n_boot: int = 1000,
                      stage: str = "raw", ax: Any = None, panel: str | None = None
                      ) -> CalibrationDisplay:
        """From labelled verdicts (``p_1`` against ``label``), drawn as one stage ``stage``.

        >>> from judgebench.judges.simulated import simulate_verdicts
        >>> disp = CalibrationDisplay.from_verdicts(simulate_verdicts(80, seed=0), seed=0,
        ...                                         n_boot=20, stage="my judge")
        >>> disp.reliability["stage"].unique().tolist(), len(disp.axes_)
        (['my judge'], 3)
        """
        from judgebench.calibration.metrics import calibration_metrics, reliability_table

        est = calibration_metrics(verdicts, n_boot=n_boot, seed=seed)
        metrics = pd.DataFrame([{"stage": stage, "metric": k, "estimate": e.estimate,
                                 "ci_low": e.ci_low, "ci_high": e.ci_high, "n": e.n}
                                for k, e in est.items()])
        return cls(reliability_table(verdicts).assign(stage=stage), metrics).plot(
            ax, panel=panel)

    def _tables(self) -> dict[str, tuple[pd.DataFrame | None, tuple[str, ...]]]:
        if self.reliability is None:
            raise ValueError("CalibrationDisplay needs a reliability table (reliability.csv); "
                             "got None.")
        return {"reliability": (self.reliability, RELIABILITY_COLUMNS),
                "metrics": (self.metrics, STAGE_METRIC_COLUMNS)}

    def _report_figure(self) -> Figure:
        return plots.calibration_figure(self.reliability, self.metrics)

    def _draw(self, ax: Axes, panel: str) -> None:
        stages = plots.calibration_stages(self.reliability, self.metrics)
        if panel == "reliability":
            plots.draw_reliability(ax, self.reliability, self.metrics, stages)
        else:
            plots.draw_calibration_bars(ax, self.metrics, panel, stages)


# ---------------------------------------------------------------------------------------------
# Propagation


class PropagationDisplay(_Display):
    """A run's drift over iterations: held-out policy length, gold score, the judge's score
    (raw solid, calibrated dashed) and the training labels' accuracy; one colour per run.

    ``metrics``: one row per iteration (``RunResult.tables["metrics"]``), with ``iteration``
    and metrics.jsonl's keys, and a ``run`` column when it holds several runs. Panels:
    ``length``, ``gold``, ``judge_score``, ``label_accuracy``; a key no row recorded gives a
    panel that says so.

    >>> from judgebench.results import RunResult
    >>> run = RunResult.from_rows([{"iteration": i, "length_chars_mean": 50.0 + 5 * i,
    ...                             "gold_mean": 0.5 - 0.1 * i} for i in range(3)])
    >>> run.plot(panel="length").ax_.lines[0].get_ydata().tolist()
    [50.0, 55.0, 60.0]
    """

    panels: ClassVar[tuple[str, ...]] = tuple(plots.PROPAGATION_PANELS)

    def __init__(self, metrics: pd.DataFrame):
        self.metrics = metrics

    @classmethod
    def from_result(cls, result: RunResult | Sequence[RunResult], *, ax: Any = None,
                    panel: str | None = None) -> PropagationDisplay:
        """From one run, or several (one colour each, named by ``RunResult.name``).

        >>> from judgebench.results import RunResult
        >>> runs = [RunResult.from_rows([{"iteration": i, "length_chars_mean": 50.0 + d * i}
        ...                              for i in range(3)], name=f"drift {d}") for d in (0, 9)]
        >>> disp = PropagationDisplay.from_result(runs, panel="length")
        >>> [t.get_text() for t in disp.ax_.get_legend().get_texts()]
        ['drift 0', 'drift 9']
        """
        runs = [result] if isinstance(result, RunResult) else list(result)
        for r in runs:
            _expect(r, RunResult, cls.__name__)
        if not runs:
            raise ValueError("PropagationDisplay.from_result needs at least one RunResult.")
        frames = [r.tables["metrics"].assign(run=r.name) for r in runs]
        return cls(pd.concat(frames, ignore_index=True)).plot(ax, panel=panel)

    def _tables(self) -> dict[str, tuple[pd.DataFrame | None, tuple[str, ...]]]:
        keys = [k for _, _, ks in plots.PROPAGATION_PANELS.values() for k, _ in ks]
        if isinstance(self.metrics, pd.DataFrame) and "iteration" in self.metrics and not any(
                k in self.metrics for k in keys):
            raise ValueError(f"PropagationDisplay: the metrics table has none of the columns it "
                             f"draws, {keys}; it has {list(self.metrics.columns)}.")
        return {"metrics": (self.metrics, ("iteration",))}

    def _report_figure(self) -> Figure:
        return plots.propagation_figure(self.metrics)

    def _draw(self, ax: Axes, panel: str) -> None:
        plots.draw_propagation(ax, self.metrics, panel, label_runs=True)


DOSE_COLUMNS = ("arm", "metric", "dose", "estimate", "ci_low", "ci_high", "n")


class DoseResponseDisplay(_Display):
    """A study's dose-response: per arm (e.g. each calibration), the mean over seeds of the
    final length drift, gold change and label-level bias at each injected dose, with its 95%
    t-interval, n seeds and the lack-of-fit p of a line.

    ``dose_response``: ``SweepResult.tables["dose_response"]`` (arm, metric, dose, estimate,
    ci_low, ci_high, n, lack_of_fit_p); ``dose_axis`` names the x axis, ``n_seeds`` goes in
    the title. Panels: ``drift``, ``gold_change``, ``label_prefers_longer``.

    >>> from judgebench.results import study_tables
    >>> study = {"dose_response": [{"arm": {"calibration": "none"}, "metric": "drift",
    ...     "points": [{"dose": 0.0, "mean": 1.0, "se": 1.0, "n": 3, "ci": [-3.0, 5.0]},
    ...                {"dose": 3.0, "mean": 50.0, "se": 9.0, "n": 3, "ci": [11.0, 89.0]}],
    ...     "lack_of_fit": {"p_value": None}}]}
    >>> disp = DoseResponseDisplay(study_tables(study)["dose_response"]).plot(panel="drift")
    >>> disp.ax_.get_legend().get_texts()[-1].get_text()
    'calibration=none (n = 3 seeds per dose)'
    >>> disp.ax_.containers[0][0].get_ydata().tolist()   # the means, as the table has them
    [1.0, 50.0]
    """

    panels: ClassVar[tuple[str, ...]] = tuple(plots.DOSE_PANELS)

    def __init__(self, dose_response: pd.DataFrame, *, dose_axis: str | None = None,
                 n_seeds: int | None = None):
        self.dose_response, self.dose_axis, self.n_seeds = dose_response, dose_axis, n_seeds

    @classmethod
    def from_result(cls, result: SweepResult, *, ax: Any = None, panel: str | None = None
                    ) -> DoseResponseDisplay:
        """From a sweep's study.json (its ``dose_response`` table).

        >>> import pandas as pd
        >>> from judgebench.results import SweepResult
        >>> curve = {"arm": {"calibration": "none"}, "metric": "gold_change", "points": [
        ...     {"dose": 0.0, "mean": 0.0, "n": 3, "ci": [-0.1, 0.1]},
        ...     {"dose": 3.0, "mean": -0.2, "n": 3, "ci": [-0.3, -0.1]}]}
        >>> sweep = SweepResult(pd.DataFrame(), study={"dose_response": [curve], "n_seeds": 3})
        >>> DoseResponseDisplay.from_result(sweep, panel="gold_change").n_seeds
        3
        """

        _expect(result, SweepResult, cls.__name__)
        if not (result.study or {}).get("dose_response"):
            raise ValueError(f"Sweep {result.name!r} has no dose-response in study.json (no "
                             "study.json, no finished cell, or no judge.* dose axis in the "
                             "grid). Summarise it with `judgebench sweep --summary-only --out "
                             "DIR`.")
        return cls(result.tables["dose_response"], dose_axis=result.dose_axis,
                   n_seeds=result.study.get("n_seeds")).plot(ax, panel=panel)

    def _tables(self) -> dict[str, tuple[pd.DataFrame | None, tuple[str, ...]]]:
        return {"dose-response": (self.dose_response, DOSE_COLUMNS)}

    def _report_figure(self) -> Figure:
        return plots.dose_response_table_figure(self.dose_response, dose=self.dose_axis or "dose",
                                                n_seeds=self.n_seeds)

    def _draw(self, ax: Axes, panel: str) -> None:
        plots.draw_dose_response(ax, self.dose_response, panel, self.dose_axis or "dose",
                                 legend=True)


__all__ = ["CalibrationDisplay", "DoseResponseDisplay", "PositionDisplay", "PropagationDisplay",
           "VerbosityDisplay"]
