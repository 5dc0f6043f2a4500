"""Figures of a calibration (judgebench.calibration): the reliability diagram of each stage
(reliability.csv, equal-width bins) and ECE and Brier score per stage with 95% CI bars
(calibration.json as ``load.calibration_frame``). :func:`calibration_figure` lays out the
panels that :func:`draw_reliability` and :func:`draw_calibration_bars` draw.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from judgebench.report.plots._style import (
    _LABEL_BOX,
    REF,
    _empty,
    _legend_below,
    ci_err,
    color,
    new_figure,
    short,
    styled,
)

#: The bar panels of the calibration figure: metric -> title.
CALIBRATION_BARS = {"ece": "ECE (15 equal-width bins)", "brier": "Brier score"}


def calibration_stages(reliability: pd.DataFrame | None, metrics: pd.DataFrame | None
                       ) -> list[str]:
    """The stages in order of first appearance: the metrics' first, then reliability's.

    Example:

    >>> rel = pd.DataFrame({"stage": ["raw", "raw", "swap", "temperature"]})
    >>> calibration_stages(rel, pd.DataFrame({"stage": ["raw", "temperature"]}))
    ['raw', 'temperature', 'swap']
    """
    return list(dict.fromkeys(
        (metrics["stage"].tolist() if metrics is not None else [])
        + (reliability["stage"].tolist() if reliability is not None else [])))


@styled
def calibration_figure(reliability: pd.DataFrame | None, metrics: pd.DataFrame | None
                       ) -> Figure:
    """Reliability diagram per stage (reliability.csv, equal-width bins) and ECE / Brier per
    stage with 95% CI bars (calibration.json as ``load.calibration_frame``).

    Example:

    >>> rel = pd.DataFrame({"stage": ["raw", "raw", "temperature"], "count": [30, 70, 100],
    ...     "mean_confidence": [0.6, 0.9, 0.7], "accuracy": [0.55, 0.7, 0.69]})
    >>> met = pd.DataFrame({"stage": ["raw", "temperature"], "metric": "ece",
    ...     "estimate": [0.12, 0.03], "ci_low": [0.08, 0.01], "ci_high": [0.16, 0.05]})
    >>> [ax.get_title() for ax in calibration_figure(rel, met).get_axes()][:3]  # no Brier rows
    ['raw', '+ temperature', 'ECE (15 equal-width bins) — lower is better']
    """
    stages = calibration_stages(reliability, metrics)
    fig = new_figure(7.4)
    top, bottom = fig.subfigures(2, 1, height_ratios=[1.05, 1])
    rel_axes = np.atleast_1d(top.subplots(1, max(len(stages), 1), sharey=True))
    for i, (ax, stage) in enumerate(zip(rel_axes, stages)):
        _reliability_stage(ax, reliability, metrics, stage, i)
    rel_axes[0].set_ylabel("accuracy (share correct)")
    top.suptitle("Reliability on the held-out pairs, before and after each step",
                 fontweight="bold")
    for ax, metric in zip(bottom.subplots(1, 2), CALIBRATION_BARS):
        draw_calibration_bars(ax, metrics, metric, stages)
    _legend_below(top, list(rel_axes), ncol=2)
    return fig


def _uniform_bins(reliability: pd.DataFrame | None, stage: str) -> pd.DataFrame | None:
    if reliability is None:
        return None
    return reliability[(reliability["stage"] == stage)
                       & (reliability.get("binning", "uniform") == "uniform")]


def _reliability_stage(ax: Any, reliability: pd.DataFrame | None,
                       metrics: pd.DataFrame | None, stage: str, i: int) -> None:
    """One stage's reliability diagram, its ECE in the corner (the report's per-stage panel)."""
    rows = _uniform_bins(reliability, stage)
    ax.plot([0.5, 1], [0.5, 1], label="perfect calibration", **REF)
    if rows is None or rows.empty or not rows["count"].gt(0).any():
        _empty(ax, "no reliability bins")
    else:
        rows = rows[rows["count"] > 0]
        size = 12 + 150 * rows["count"] / rows["count"].max()
        ax.plot(rows["mean_confidence"], rows["accuracy"], "-", color=color(i), lw=1.2)
        ax.scatter(rows["mean_confidence"], rows["accuracy"], s=size, color=color(i),
                   zorder=3, label="bin (area ∝ verdicts)" if i == 0 else None)
    ece = _metric(metrics, stage, "ece")
    if np.isfinite(ece):  # bottom right: the corner a reliability curve rarely visits
        ax.text(0.97, 0.04, f"ECE {ece:.3f}", transform=ax.transAxes, va="bottom",
                ha="right", fontsize=9, bbox={"facecolor": "white", "edgecolor": "none",
                                              "alpha": 0.8})
    ax.set(xlim=(0.48, 1.02), ylim=(-0.02, 1.02), title=_stage_title(stage, i),
           xlabel="confidence (top-label P)")


@styled
def draw_reliability(ax: Any, reliability: pd.DataFrame, metrics: pd.DataFrame | None = None,
                     stages: Sequence[str] | None = None) -> None:
    """Every stage's reliability curve in one Axes (equal-width bins of reliability.csv, marker
    area ∝ verdicts), its ECE in the legend when ``metrics`` has it.

    Example:

    >>> rel = pd.DataFrame({"stage": ["raw", "raw", "temperature"], "count": [30, 70, 100],
    ...     "mean_confidence": [0.6, 0.9, 0.7], "accuracy": [0.55, 0.7, 0.69]})
    >>> met = pd.DataFrame({"stage": ["raw", "temperature"], "metric": "ece",
    ...     "estimate": [0.12, 0.03], "ci_low": [0.08, 0.01], "ci_high": [0.16, 0.05]})
    >>> ax = new_figure(3.0, 4.0).subplots()
    >>> draw_reliability(ax, rel, met)
    >>> ax.get_legend_handles_labels()[1]
    ['perfect calibration', 'raw (ECE 0.120)', '+ temperature (ECE 0.030)']
    """
    stages = list(stages) if stages is not None else calibration_stages(reliability, metrics)
    ax.plot([0.5, 1], [0.5, 1], label="perfect calibration", **REF)
    drawn = 0
    for i, stage in enumerate(stages):
        rows = _uniform_bins(reliability, stage)
        if rows is None or not rows["count"].gt(0).any():
            continue
        rows = rows[rows["count"] > 0]
        ece = _metric(metrics, stage, "ece")
        label = _stage_title(stage, i) + (f" (ECE {ece:.3f})" if np.isfinite(ece) else "")
        size = 12 + 150 * rows["count"] / rows["count"].max()
        ax.plot(rows["mean_confidence"], rows["accuracy"], "-", color=color(i), lw=1.2)
        ax.scatter(rows["mean_confidence"], rows["accuracy"], s=size, color=color(i),
                   zorder=3, label=label)
        drawn += 1
    if not drawn:
        _empty(ax, "no reliability bins")
    ax.set(xlim=(0.48, 1.02), ylim=(-0.02, 1.02), title="Reliability on the held-out pairs",
           xlabel="confidence (top-label P)", ylabel="accuracy (share correct)")


@styled
def draw_calibration_bars(ax: Any, metrics: pd.DataFrame | None, metric: str = "ece",
                          stages: Sequence[str] | None = None) -> None:
    """``metric`` ("ece" or "brier") per stage as bars with 95% CI bars; each value sits just
    above its error bar, where the bar cannot hide it.

    Example:

    >>> met = pd.DataFrame({"stage": ["raw", "temperature"], "metric": "ece",
    ...     "estimate": [0.12, 0.03], "ci_low": [0.08, 0.01], "ci_high": [0.16, 0.05]})
    >>> ax = new_figure(3.0, 4.0).subplots()
    >>> draw_calibration_bars(ax, met, "ece")
    >>> ax.get_title(), [v.get_text() for v in ax.texts]
    ('ECE (15 equal-width bins) — lower is better', ['0.120', '0.030'])
    """
    stages = list(stages) if stages is not None else calibration_stages(None, metrics)
    title = CALIBRATION_BARS.get(metric, metric)
    rows = None if metrics is None else metrics[metrics["metric"] == metric].set_index(
        "stage").reindex(stages)
    if rows is None or rows["estimate"].isna().all():
        _empty(ax, f"{metric} not available (no gold labels?)")
        return
    x = np.arange(len(stages))
    ax.bar(x, rows["estimate"].fillna(0), yerr=ci_err(rows), capsize=4,
           color=[color(i) for i in range(len(stages))], alpha=0.85)
    ends = np.fmax(rows["estimate"].to_numpy(float), rows["ci_high"].to_numpy(float))
    for xi, est, end in zip(x, rows["estimate"], ends):
        if np.isfinite(est):
            ax.annotate(f"{est:.3f}", (xi, end), xytext=(0, 3), textcoords="offset points",
                        fontsize=8, ha="center", va="bottom", bbox=_LABEL_BOX)
    if np.isfinite(ends).any() and np.nanmax(ends) > 0:
        # Headroom for the values above the tallest error bar (autoscaling ignores text).
        ax.set_ylim(0, 1.16 * float(np.nanmax(ends)))
    ax.set_xticks(x, labels=[short(_stage_title(s, i), 16) for i, s in enumerate(stages)])
    ax.set(title=title + " — lower is better", xlabel="calibration stage (cumulative)",
           ylabel=f"{metric.upper() if metric == 'ece' else 'Brier'} (probability units)")
    ax.grid(axis="x", visible=False)


def _stage_title(stage: str, i: int) -> str:
    return "raw" if stage == "raw" else f"+ {stage}"


def _metric(metrics: pd.DataFrame | None, stage: str, name: str) -> float:
    if metrics is None:
        return float("nan")
    hit = metrics[(metrics["stage"] == stage) & (metrics["metric"] == name)]["estimate"]
    return float(hit.iloc[0]) if len(hit) else float("nan")
