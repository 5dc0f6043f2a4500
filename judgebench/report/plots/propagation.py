"""Figures of the RLAIF loop and its studies (judgebench.rlaif): how a judge's bias propagates
per iteration of a run (metrics.jsonl), the final drift and gold change against the injected
bias over a sweep (sweep.csv, propagation.json), a study's dose-response curves (study.json)
and the forecast's leave-one-cell-out validation. Each ``*_figure`` lays out its ``draw_*``
panels.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, MaxNLocator

from judgebench.report.plots._style import (
    PALETTE,
    REF,
    _empty,
    _legend_below,
    color,
    figure_png,
    legend_columns,
    new_figure,
    short,
    styled,
)
from judgebench.results import grid_axes, study_tables
from judgebench.rlaif.study import family_labels

#: Panels of the per-iteration figure: name -> (title, y label, [(metrics.jsonl key, style)]).
PROPAGATION_PANELS = {
    "length": ("Policy length (held-out prompts)", "mean length (characters)",
               [("length_chars_mean", "-")]),
    "gold": ("Gold score (verifier, held-out)", "mean verifier score (0–1)",
             [("gold_mean", "-")]),
    "judge_score": ("Judge score vs the iteration-0 policy", "mean P(beats iteration 0)",
                    [("judge_score_raw", "-"), ("judge_score_calibrated", "--")]),
    "label_accuracy": ("Training labels vs gold", "share agreeing with gold",
                       [("label_accuracy", "-")]),
}


def _runs(metrics: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(metrics["run"].astype(str))) if "run" in metrics else ["run"]


@styled
def propagation_figure(metrics: pd.DataFrame) -> Figure:
    """Per iteration: policy length, gold score, judge score (raw solid, calibrated dashed) and
    label accuracy; one panel per metric, one colour per run (``metrics`` has a ``run``
    column and metrics.jsonl's keys; a key no run recorded gives a panel that says so).

    Example:

    >>> run = pd.DataFrame({"iteration": [0, 1, 2], "length_chars_mean": [50.0, 55.0, 60.0],
    ...                     "gold_mean": [0.5, 0.45, 0.4]})
    >>> [ax.get_title() for ax in propagation_figure(run).axes][:2]
    ['Policy length (held-out prompts)', 'Gold score (verifier, held-out)']
    """
    fig = new_figure(6.6)
    axes = fig.subplots(2, 2).ravel()
    for ax, panel in zip(axes, PROPAGATION_PANELS):
        draw_propagation(ax, metrics, panel)
    handles = [mpl.lines.Line2D([], [], color=color(i), marker="o", label=short(r, 48))
               for i, r in enumerate(_runs(metrics))]
    fig.legend(handles=handles, loc="outside lower center",
               ncol=legend_columns([h.get_label() for h in handles]), title="run")
    return fig


@styled
def draw_propagation(ax: Any, metrics: pd.DataFrame, panel: str = "length",
                     label_runs: bool = False) -> None:
    """One panel of :func:`propagation_figure` (``panel``: a key of
    :data:`PROPAGATION_PANELS`), one colour per run; ``label_runs`` names the runs in the
    Axes' own legend (the report's figure names them once, below the panels).

    Example:

    >>> run = pd.DataFrame({"iteration": [0, 1, 2], "length_chars_mean": [50.0, 55.0, 60.0],
    ...                     "gold_mean": [0.5, 0.45, 0.4]})
    >>> ax = new_figure(3.0, 4.0).subplots()
    >>> draw_propagation(ax, run, "gold")
    >>> ax.get_title(), ax.lines[0].get_ydata().tolist()
    ('Gold score (verifier, held-out)', [0.5, 0.45, 0.4])
    """
    title, ylabel, keys = PROPAGATION_PANELS[panel]
    runs = _runs(metrics)
    if "run" not in metrics:
        metrics = metrics.assign(run="run")
    present = [(k, ls) for k, ls in keys if k in metrics and metrics[k].notna().any()]
    ax.set_title(title)
    if not present or "iteration" not in metrics:
        _empty(ax, "not recorded in metrics.jsonl: " + ", ".join(k for k, _ in keys))
        return
    for i, run in enumerate(runs):
        rows = metrics[metrics["run"].astype(str) == run].sort_values("iteration")
        for j, (key, ls) in enumerate(present):
            # Iterations without a held-out evaluation ([instrument] eval_every) have no
            # value: join the evaluated ones rather than break the line at each gap.
            pts = rows[["iteration", key]].astype(float).dropna()
            label = short(run, 48) if label_runs and j == 0 else None
            ax.plot(pts["iteration"], pts[key], ls, marker="o", color=color(i), label=label)
    if len(present) > 1:  # which line style is which variant; runs are in the fig legend
        for key, ls in present:
            ax.plot([], [], ls, color="#333333", label=key.rsplit("_", 1)[-1] + " judge")
    if len(present) > 1 or (label_runs and len(runs) > 1):
        ax.legend(loc="best", fontsize=8)
    if panel == "judge_score":
        ax.axhline(0.5, **REF)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set(xlabel="iteration", ylabel=ylabel)


#: Panels of the sweep figure: name -> (sweep.csv column, propagation.json coefficient, title,
#: y label, unit of the slope).
SWEEP_PANELS = {
    "drift": ("final_length_drift_chars", "length_drift_per_unit_bias",
              "Length drift vs injected bias", "final length drift (characters)", "chars"),
    "gold_change": ("final_gold_change", "gold_change_per_unit_bias",
                    "Gold change vs injected bias", "final gold-score change (0–1 scale)",
                    "score"),
}


@styled
def sweep_figure(sweep: pd.DataFrame, propagation: dict | None = None,
                 bias_axis: str = "judge.verbosity") -> Figure:
    """Final length drift and gold change vs injected verbosity bias (sweep.csv), one line per
    setting of the other grid axes; points are seed means, bars the range over seeds, and the
    legend gives propagation.json's slope with its 95% CI.

    Example:

    >>> sweep = pd.DataFrame({"judge.verbosity": [0, 0, 2, 2], "seed": [0, 1, 0, 1],
    ...     "final_length_drift_chars": [1.0, -1.0, 30.0, 34.0],
    ...     "final_gold_change": [0.0, 0.01, -0.05, -0.07]})
    >>> [ax.get_title() for ax in sweep_figure(sweep).axes]
    ['Length drift vs injected bias', 'Gold change vs injected bias']
    """
    fig = new_figure(4.4)
    axes = fig.subplots(1, 2)
    for ax, panel in zip(axes, SWEEP_PANELS):
        draw_sweep(ax, sweep, propagation, bias_axis, panel)
    if bias_axis not in sweep.columns:
        return fig
    n_seeds = sweep["seed"].nunique() if "seed" in sweep else 1
    fig.suptitle(f"Propagation across the sweep: points = mean over {n_seeds} seed(s), "
                 "bars = range over seeds, faint dots = single runs", fontsize=9)
    return fig


@styled
def draw_sweep(ax: Any, sweep: pd.DataFrame, propagation: dict | None = None,
               bias_axis: str = "judge.verbosity", panel: str = "drift") -> None:
    """One panel of :func:`sweep_figure` (``panel``: "drift" or "gold_change").

    Example:

    >>> sweep = pd.DataFrame({"judge.verbosity": [0, 0, 2, 2], "seed": [0, 1, 0, 1],
    ...     "final_length_drift_chars": [1.0, -1.0, 30.0, 34.0],
    ...     "final_gold_change": [0.0, 0.01, -0.05, -0.07]})
    >>> ax = new_figure(3.0, 4.0).subplots()
    >>> draw_sweep(ax, sweep, panel="drift")
    >>> ax.containers[0][0].get_ydata().tolist()     # the mean over seeds per dose
    [0.0, 32.0]
    """
    if bias_axis not in sweep.columns:
        _empty(ax, f"no {bias_axis} axis in sweep.csv: nothing to plot against")
        return
    col, coef, title, ylabel, unit = SWEEP_PANELS[panel]
    others = [a for a in grid_axes(list(sweep.columns)) if a != bias_axis]
    groups = list(sweep.groupby(others, sort=False)) if others else [((), sweep)]
    settings = (propagation or {}).get("settings", [])
    width = np.ptp(sweep[bias_axis].astype(float)) or 1.0
    ax.axhline(0, **REF)
    if col not in sweep:
        _empty(ax, f"{col} not in sweep.csv")
        return
    for i, (key, sub) in enumerate(groups):
        key = key if isinstance(key, tuple) else (key,)
        setting = dict(zip(others, [str(k) for k in key]))
        label = ", ".join(f"{k.split('.')[-1]}={v}" for k, v in setting.items()) or "all"
        est = next((s.get(coef) for s in settings if {k: str(v) for k, v in
                    s.get("setting", {}).items()} == setting), None)
        if isinstance(est, dict) and est.get("estimate") is not None:
            ci = est.get("ci") or [None, None]
            label += f": slope {est['estimate']:.3g}"
            if None not in ci:
                label += f" [{ci[0]:.3g}, {ci[1]:.3g}]"
            label += f" {unit}/unit"
        # Small offsets keep the bars of different settings apart.
        shift = (i - (len(groups) - 1) / 2) * 0.012 * width
        x = sub[bias_axis].astype(float) + shift
        y = sub[col].astype(float)
        stats = y.groupby(x).agg(["mean", "min", "max"])
        ax.scatter(x, y, s=10, color=color(i), alpha=0.35)
        ax.errorbar(stats.index, stats["mean"],
                    yerr=[stats["mean"] - stats["min"], stats["max"] - stats["mean"]],
                    fmt="o-", capsize=3, color=color(i), label=label)
    ax.xaxis.set_major_locator(FixedLocator(sorted(sweep[bias_axis].astype(float).unique())))
    ax.set(title=title, ylabel=ylabel, xlabel=f"injected verbosity bias ({bias_axis})")
    # Each panel's legend carries its own slope, so it sits under that panel.
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=1)


#: study.json's dose-response metrics, in panel order: metric -> (title, y label), as named
#: for a verbosity dose; a feature dose renames drift and label bias (study.family_labels).
DOSE_PANELS = {"drift": family_labels(None)["drift"][:2],
               "gold_change": ("Gold change", "final gold-score change (0–1)"),
               "label_prefers_longer": family_labels(None)["label_prefers_longer"][:2]}


@styled
def dose_response_figure(study: dict, dose_label: str | None = None) -> Figure:
    """A study's dose-response curves (study.json, rlaif/study.py): per arm and metric, the
    mean over seeds at each injected dose with its 95% t-interval; the legend gives n and the
    lack-of-fit p of a straight line.

    Example:

    >>> study = {"n_seeds": 3, "dose_axis": "judge.verbosity", "dose_response": [
    ...     {"arm": {"calibration": "none"}, "metric": "drift", "points": [
    ...         {"dose": 0.0, "mean": 1.0, "n": 3, "ci": [-3.0, 5.0]},
    ...         {"dose": 3.0, "mean": 50.0, "n": 3, "ci": [11.0, 89.0]}]}]}
    >>> fig = dose_response_figure(study)
    >>> len(fig.axes), fig.axes[0].get_title(), fig.get_suptitle()[:29]
    (3, 'Length drift', 'Dose-response over 3 seed(s):')
    """
    return dose_response_table_figure(study_tables(study)["dose_response"],
                                      dose=dose_label or study.get("dose_axis") or "dose",
                                      n_seeds=study.get("n_seeds"))


@styled
def dose_response_table_figure(table: pd.DataFrame, *, dose: str = "dose",
                               n_seeds: int | None = None) -> Figure:
    """:func:`dose_response_figure` drawn from the long dose-response table (one panel per
    metric of :data:`DOSE_PANELS`; see :func:`draw_dose_response`).

    Example:

    >>> study = {"n_seeds": 3, "dose_axis": "judge.verbosity", "dose_response": [
    ...     {"arm": {"calibration": "none"}, "metric": "drift", "points": [
    ...         {"dose": 0.0, "mean": 1.0, "n": 3, "ci": [-3.0, 5.0]},
    ...         {"dose": 3.0, "mean": 50.0, "n": 3, "ci": [11.0, 89.0]}]}]}
    >>> table = study_tables(study)["dose_response"]
    >>> fig = dose_response_table_figure(table, dose="judge.verbosity", n_seeds=3)
    >>> [ax.get_xlabel() for ax in fig.axes][0]
    'injected dose (judge.verbosity)'
    """
    fig = new_figure(4.2)
    axes = fig.subplots(1, len(DOSE_PANELS))
    for ax, metric in zip(axes, DOSE_PANELS):
        draw_dose_response(ax, table, metric, dose)
    _legend_below(fig, axes, ncol=1)
    fig.suptitle(f"Dose-response over {'?' if n_seeds is None else n_seeds} seed(s): mean and "
                 "95% t-interval per dose", fontsize=9)
    return fig


@styled
def draw_dose_response(ax: Any, table: pd.DataFrame, metric: str = "drift",
                       dose: str = "dose", legend: bool = False) -> None:
    """One panel of :func:`dose_response_figure` from the long dose-response table
    (``SweepResult.tables["dose_response"]``: arm, metric, dose, estimate, ci_low, ci_high, n,
    lack_of_fit_p): one line per arm, shifted apart a little so the bars do not overlap.
    ``legend``: a legend in the Axes, each arm's lack-of-fit p in its entry (the report puts
    the p values in a corner and the arms in one legend below its panels).

    Example:

    >>> study = {"n_seeds": 3, "dose_axis": "judge.verbosity", "dose_response": [
    ...     {"arm": {"calibration": "none"}, "metric": "drift", "points": [
    ...         {"dose": 0.0, "mean": 1.0, "n": 3, "ci": [-3.0, 5.0]},
    ...         {"dose": 3.0, "mean": 50.0, "n": 3, "ci": [11.0, 89.0]}]}]}
    >>> ax = new_figure(3.0, 4.0).subplots()
    >>> draw_dose_response(ax, study_tables(study)["dose_response"], "drift")
    >>> ax.get_title(), ax.containers[0][0].get_ydata().tolist()
    ('Length drift', [1.0, 50.0])
    """
    # A feature dose (judge.listness) draws that feature's drift, not the length's.
    family = family_labels(dose if dose.startswith("judge.") else None)
    title, ylabel = family[metric][:2] if metric in family else \
        DOSE_PANELS.get(metric, (metric, metric))
    mine = table[table["metric"] == metric]
    if mine.empty:
        _empty(ax, f"no {metric} curve in study.json")
        return
    ax.axhline(0.5 if metric == "label_prefers_longer" else 0, **REF)
    doses, lof = set(), []
    arms = list(mine.groupby("arm", sort=False))
    for i, (arm, pts) in enumerate(arms):
        x = pts["dose"].to_numpy(float)
        y, lo, hi = (pts[c].to_numpy(float) for c in ("estimate", "ci_low", "ci_high"))
        doses |= set(x.tolist())
        shift = (i - (len(arms) - 1) / 2) * 0.03 * (np.ptp(x) or 1.0)
        ns = sorted({int(n) for n in pts["n"] if np.isfinite(n)})
        p_lof = pts["lack_of_fit_p"].iloc[0] if "lack_of_fit_p" in pts else np.nan
        if np.isfinite(p_lof):
            lof.append(f"{arm}: {p_lof:.2g}")
        label = f"{arm} (n = {'/'.join(map(str, ns))} seeds per dose"
        label += f"; lack of fit p {p_lof:.2g})" if legend and np.isfinite(p_lof) else ")"
        yerr = np.vstack([np.where(np.isfinite(lo), y - lo, 0), np.where(np.isfinite(hi),
                                                                          hi - y, 0)])
        ax.errorbar(x + shift, y, yerr=yerr, fmt="o-", capsize=3, color=color(i), label=label)
    ax.xaxis.set_major_locator(FixedLocator(sorted(doses)))
    ax.set(title=title, ylabel=ylabel, xlabel=f"injected dose ({dose})")
    if legend:
        ax.legend(loc="best", fontsize=8)
    elif lof:  # is the curve a line? the F test's p per arm (small: it is not)
        ax.text(0.02, 0.98, "lack of fit of a line, p\n" + "\n".join(lof),
                transform=ax.transAxes, va="top", fontsize=7, color="#444444")


def forecast_validation_figure(validations: Sequence[Any]) -> Figure:
    """The forecast's leave-one-cell-out check (rlaif/forecast.py's ForecastValidation):
    forecast vs observed, one panel per validation, prediction intervals as bars.

    Example:

    >>> from judgebench.rlaif.forecast_validation import ForecastValidation
    >>> cells = pd.DataFrame({"observed": [0.0, 40.0], "estimate": [2.0, 35.0],
    ...                       "low": [-5.0, 20.0], "high": [9.0, 50.0], "large": [False, True]})
    >>> v = ForecastValidation(cells, {"target": "drift", "horizon": 2, "form": "linear",
    ...                                "n_cells": 2, "coverage": 1.0})
    >>> print(forecast_validation_figure([v]).axes[0].get_title())
    linear (n = 2)
    coverage 100%
    """

    @styled
    def draw():
        fig = new_figure(3.4, 3.4 * len(validations) + 0.5)
        axes = fig.subplots(1, len(validations), squeeze=False)[0]
        for ax, v in zip(axes, validations):
            t, s = v.table, v.summary
            for large, colour, label in ((True, PALETTE[1], "large drift"),
                                         (False, PALETTE[0], "within seed noise")):
                part = t[t["large"] == large]
                yerr = np.vstack([part["estimate"] - part["low"], part["high"] - part["estimate"]])
                ax.errorbar(part["observed"], part["estimate"], yerr=np.nan_to_num(yerr, posinf=0),
                            fmt="o", color=colour, label=label, capsize=3)
            lo = float(np.nanmin([t["observed"].min(), t["estimate"].min()]))
            hi = float(np.nanmax([t["observed"].max(), t["estimate"].max()]))
            ax.plot([lo, hi], [lo, hi], **REF)
            ax.set_xlabel(f"observed {s['target']} after {s['horizon']} it.")
            ax.set_ylabel(f"leave-one-out forecast ({s['form']})")
            # Several families (the shipped model's): say whose drift each panel is.
            family = f"{s['family']}, " if s.get("family") else ""
            ax.set_title(f"{family}{s['form']} (n = {s['n_cells']})\n"
                         f"coverage {s['coverage']:.0%}")
        axes[-1].legend(loc="upper left", bbox_to_anchor=(1.02, 1.0))
        return fig

    return draw()


def forecast_validation_png(validations: Sequence[Any]) -> bytes:
    """:func:`forecast_validation_figure` as PNG bytes (what ``forecast --refit`` writes).

    Example:

    >>> from judgebench.rlaif.forecast_validation import ForecastValidation
    >>> cells = pd.DataFrame({"observed": [0.0, 40.0], "estimate": [2.0, 35.0],
    ...                       "low": [-5.0, 20.0], "high": [9.0, 50.0], "large": [False, True]})
    >>> v = ForecastValidation(cells, {"target": "drift", "horizon": 2, "form": "linear",
    ...                                "n_cells": 2, "coverage": 1.0})
    >>> forecast_validation_png([v])[:4]
    b'\\x89PNG'
    """
    return figure_png(forecast_validation_figure(validations))
