"""Figures of the report: each takes the tables an audit, calibration or run wrote and returns
a matplotlib Figure (docs/design/report.md).

Plots never recompute a metric: estimates and CIs are read from the tables
(``position.csv``, ``verbosity_bins.csv``, ``padding.csv``, ``probes.csv``, ``reliability.csv``,
``calibration.json`` as a long table, ``metrics.jsonl``, ``sweep.csv``, ``propagation.json``,
``study.json``'s dose-response as a long table). The one aggregation drawn here is the mean
and range over seeds in the sweep figure.

Each figure is made of panels, and each panel is a ``draw_*`` function that draws into a
given Axes (``draw_position(ax, table, "p_first")``): the report's ``*_figure`` functions lay
the panels out, and the Display objects (``judgebench.report.displays``) draw them into a
user's Axes. Figures are built on the Agg canvas directly (no pyplot): nothing global changes,
and they can be drawn from any thread or a headless machine. Every axis has a label with its
unit; figures use constrained layout and legends outside the axes, so nothing overlaps.

The figures live in one module per kind, on the shared look of ``_style`` (:data:`STYLE`,
:func:`styled`, :func:`new_figure`, :func:`figure_png`, the palette): ``audit`` (position,
verbosity, probes, agreement), ``calibration`` (reliability, ECE and Brier) and
``propagation`` (a run's iterations, the sweep, a study's dose-response, the forecast's
validation). Every name is re-exported here: import them from ``judgebench.report.plots``.

>>> import pandas as pd
>>> t = pd.DataFrame({"judge": ["j"] * 2, "measure": ["position.p_first",
...                   "position.consistency"], "estimate": [0.8, 0.4], "ci_low": [0.7, 0.3],
...                   "ci_high": [0.9, 0.5], "n": [100, 100]})
>>> figure_png(position_figure(t))[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
True
>>> ax = new_figure(3.0).subplots()
>>> draw_position(ax, t, "consistency")
>>> ax.get_title()
'Same winner after swapping'
"""

from __future__ import annotations

from judgebench.report.plots._style import (
    DPI,
    PALETTE,
    REF,
    STYLE,
    WIDTH,
    ci_err,
    color,
    figure_png,
    legend_columns,
    new_figure,
    short,
    styled,
)
from judgebench.report.plots.audit import (
    POSITION_PANELS,
    agreement_figure,
    draw_agreement,
    draw_length_bins,
    draw_padding,
    draw_position,
    draw_probes,
    position_figure,
    probe_rows,
    probes_figure,
    verbosity_figure,
)
from judgebench.report.plots.calibration import (
    CALIBRATION_BARS,
    calibration_figure,
    calibration_stages,
    draw_calibration_bars,
    draw_reliability,
)
from judgebench.report.plots.propagation import (
    DOSE_PANELS,
    PROPAGATION_PANELS,
    SWEEP_PANELS,
    dose_response_figure,
    dose_response_table_figure,
    draw_dose_response,
    draw_propagation,
    draw_sweep,
    forecast_validation_figure,
    forecast_validation_png,
    propagation_figure,
    sweep_figure,
)

__all__ = ["CALIBRATION_BARS", "DOSE_PANELS", "DPI", "PALETTE", "POSITION_PANELS",
           "PROPAGATION_PANELS", "REF", "STYLE", "SWEEP_PANELS", "WIDTH", "agreement_figure",
           "calibration_figure", "calibration_stages", "ci_err", "color", "dose_response_figure",
           "dose_response_table_figure", "draw_agreement", "draw_calibration_bars",
           "draw_dose_response", "draw_length_bins", "draw_padding", "draw_position",
           "draw_probes", "draw_propagation", "draw_reliability", "draw_sweep", "figure_png",
           "forecast_validation_figure", "forecast_validation_png", "legend_columns",
           "new_figure", "position_figure", "probe_rows", "probes_figure", "propagation_figure",
           "short", "styled", "sweep_figure", "verbosity_figure"]
