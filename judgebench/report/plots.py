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

import functools
import io
from collections.abc import Callable, Sequence
from typing import Any, ParamSpec, TypeVar

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, MaxNLocator, NullLocator

from judgebench.results import grid_axes, study_tables
from judgebench.rlaif.study import family_labels

_P = ParamSpec("_P")
_R = TypeVar("_R")

#: One look for every figure: readable sizes, light grid, no top/right spines.
STYLE = {
    "font.size": 10, "axes.titlesize": 11, "axes.titleweight": "bold", "axes.labelsize": 10,
    "xtick.labelsize": 9, "ytick.labelsize": 9, "legend.fontsize": 9, "legend.frameon": False,
    "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True,
    "grid.alpha": 0.3, "grid.linewidth": 0.6, "lines.linewidth": 1.8, "lines.markersize": 6,
    "figure.facecolor": "white", "savefig.facecolor": "white",
}
#: Okabe–Ito colours (distinguishable with colour-vision deficiency), black last.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#7F7F7F",
           "#000000")
REF = {"color": "#555555", "linestyle": "--", "linewidth": 1.0}
#: Width of every figure in inches (about 1000 px at the report's 110 dpi).
WIDTH = 9.5
DPI = 110


def styled(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run a figure or panel function under :data:`STYLE` (the style is scoped, never global)."""
    @functools.wraps(fn)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with mpl.rc_context(STYLE):
            return fn(*args, **kwargs)
    return wrapper


def new_figure(height: float, width: float = WIDTH) -> Figure:
    """An empty constrained-layout figure on the Agg canvas."""
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def figure_png(fig: Figure, dpi: int = DPI) -> bytes:
    """The figure as PNG bytes."""
    buf = io.BytesIO()
    with mpl.rc_context(STYLE):
        fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def color(i: int) -> str:
    """The i-th series colour."""
    return PALETTE[i % len(PALETTE)]


def short(text: Any, width: int = 28) -> str:
    """A tick label cut to ``width`` characters (full names are in the report's tables)."""
    text = str(text)
    return text if len(text) <= width else text[: width - 1] + "…"


def ci_err(rows: pd.DataFrame) -> np.ndarray:
    """(2, n) error-bar lengths from estimate/ci_low/ci_high; 0 where a bound is missing."""
    est = rows["estimate"].to_numpy(float)
    lo = np.nan_to_num(est - rows["ci_low"].to_numpy(float), nan=0.0)
    hi = np.nan_to_num(rows["ci_high"].to_numpy(float) - est, nan=0.0)
    return np.clip(np.vstack([lo, hi]), 0.0, None)


def _empty(ax: Any, text: str) -> None:
    """An axis that says what is missing instead of showing an empty frame."""
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, wrap=True,
            color="#555555")
    ax.xaxis.set_major_locator(NullLocator())
    ax.yaxis.set_major_locator(NullLocator())
    ax.grid(False)


def legend_columns(labels: Sequence[str], most: int = 4) -> int:
    """How many legend columns fit the figure width for these labels (at most ``most``)."""
    # About 120 characters of legend text fit across WIDTH at 9 pt; a handle takes ~6.
    longest = max((len(str(x)) for x in labels), default=1)
    return max(1, min(most, len(labels), 120 // (longest + 6)))


def _legend_below(fig: Figure, axes: Sequence[Any], ncol: int | None = None) -> None:
    """One legend for the figure, below the panels (constrained layout keeps it clear)."""
    seen: dict[str, Any] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(label, handle)
    if seen:
        fig.legend(list(seen.values()), list(seen), loc="outside lower center",
                   ncol=min(ncol or 4, legend_columns(list(seen))))


# ---------------------------------------------------------------------------------------------
# Audit

#: Panels of the position figure: name -> (measure, title, x label, reference, its label).
POSITION_PANELS = {
    "p_first": ("position.p_first", "P(answer shown first wins)",
                "share of decisive verdicts (both orders pooled)", 0.5, "0.5: no position bias"),
    "consistency": ("position.consistency", "Same winner after swapping",
                    "share of pairs (winner equal in both orders)", 1.0, "1.0: fully consistent"),
}


def _pooled_sources(position: pd.DataFrame) -> pd.DataFrame:
    """position.csv's rows over all sources (it adds a block per source when there are several)."""
    if "source" in position.columns:
        return position[position["source"].astype(str) == "all"]
    return position


@styled
def position_figure(position: pd.DataFrame) -> Figure:
    """P(first shown wins) and swap consistency per judge, with 95% CI bars (position.csv)."""
    t = _pooled_sources(position)
    judges = sorted(t["judge"].astype(str).unique())
    fig = new_figure(1.9 + 0.45 * len(judges))
    axes = fig.subplots(1, 2, sharey=True)
    for ax, panel in zip(axes, POSITION_PANELS):
        draw_position(ax, t, panel)
    axes[1].set_ylabel("")  # the judges are named once, on the shared axis
    _legend_below(fig, axes)
    return fig


@styled
def draw_position(ax: Any, position: pd.DataFrame, panel: str = "p_first") -> None:
    """One panel of :func:`position_figure` (``panel``: a key of :data:`POSITION_PANELS`)."""
    t = _pooled_sources(position)
    judges = sorted(t["judge"].astype(str).unique())
    measure, title, xlabel, ref, ref_label = POSITION_PANELS[panel]
    y = np.arange(len(judges))
    rows = t[t["measure"] == measure].assign(judge=lambda d: d["judge"].astype(str))
    rows = rows.drop_duplicates("judge").set_index("judge").reindex(judges)
    ax.axvline(ref, label=ref_label, **REF)
    ok = rows["estimate"].notna().to_numpy()
    if ok.any():
        ax.errorbar(rows["estimate"][ok], y[ok], xerr=ci_err(rows[ok]), fmt="o", capsize=4,
                    color=color(0), label="estimate with 95% CI")
    notes = rows["note"] if "note" in rows else pd.Series(np.nan, index=rows.index)
    for yi, (est, note) in enumerate(zip(rows["estimate"], notes)):
        if np.isfinite(est):  # above the marker: the error bar runs sideways, clear of it
            ax.annotate(f"{est:.2f}", (est, yi), xytext=(0, 7), textcoords="offset points",
                        ha="center", fontsize=8)
        else:  # say why instead of leaving the row blank
            why = f": {short(note, 40)}" if isinstance(note, str) and note else ""
            ax.text(0.5, yi, "not measured" + why, ha="center", va="center", fontsize=8,
                    color="#555555")
    ax.set(xlim=(0, 1.02), ylim=(len(judges) - 0.4, -0.7), title=title, xlabel=xlabel)
    ax.set_yticks(y, labels=[short(j) for j in judges])
    ax.set_ylabel("judge")


_BIN_LABELS = {"(0, 30]": "0–30", "(30, 100]": "30–100", "(100, 300]": "100–300",
               "(300, 1000]": "300–1000", "(1000, inf]": ">1000"}


@styled
def verbosity_figure(bins: pd.DataFrame | None, padding: pd.DataFrame | None = None
                     ) -> Figure:
    """P(prefer longer) per |Δlength| bin with CI band (verbosity_bins.csv) and the padding
    dose-response (padding.csv); either may be None."""
    fig = new_figure(4.2)
    ax_bins, ax_pad = fig.subplots(1, 2)
    draw_length_bins(ax_bins, bins)
    draw_padding(ax_pad, padding)
    _legend_below(fig, [ax_bins, ax_pad], ncol=4)
    return fig


@styled
def draw_length_bins(ax: Any, bins: pd.DataFrame | None) -> None:
    """P(judge prefers the longer response) per |Δlength| bin, one line per judge, with the CI
    band and gold's line (verbosity_bins.csv). A bin without pairs takes no room on the axis."""
    if bins is None or bins.empty:
        _empty(ax, "verbosity_bins.csv not available")
        return
    # A bin no judge has a pair in has no estimate: its tick would be empty space.
    counts = pd.to_numeric(bins["n"], errors="coerce").fillna(0)
    filled = set(bins.loc[counts.to_numpy() > 0, "bin"].astype(str))
    order = [b for b in dict.fromkeys(bins["bin"].astype(str)) if b in filled]
    if not order:
        _empty(ax, "no pair in any length-difference bin")
        ax.set_title("Preference for the longer response")
        return
    x = np.arange(len(order))
    ax.axhline(0.5, label="0.5: no preference", **REF)
    judges = sorted(bins["judge"].astype(str).unique())
    gold_drawn = False
    for i, judge in enumerate(judges):
        rows = _by_bin(bins, judge, order)
        est = rows["p_prefer_longer"].to_numpy(float)
        lo, hi = rows["ci_low"].to_numpy(float), rows["ci_high"].to_numpy(float)
        label = "judge" if len(judges) == 1 else f"judge {short(judge, 20)}"
        ax.fill_between(x, lo, hi, color=color(i), alpha=0.15, linewidth=0)
        ax.errorbar(x, est, yerr=np.clip(np.nan_to_num([est - lo, hi - est]), 0, None),
                    fmt="-o", capsize=3, color=color(i), label=label + " (95% CI)")
        if "gold_p_longer_better" in rows and not gold_drawn:
            ax.plot(x, rows["gold_p_longer_better"].to_numpy(float), "s:", color="black",
                    markersize=4, label="gold: P(longer is better)")
            gold_drawn = True  # the same pairs for every judge: one gold line
    n = _by_bin(bins, judges[0], order)["n"]
    ax.set_xticks(x, labels=[f"{_BIN_LABELS.get(b, b)}\nn={int(k) if np.isfinite(k) else 0}"
                             for b, k in zip(order, n.to_numpy(float))])
    ax.set(ylim=(-0.02, 1.02), title="Preference for the longer response",
           xlabel="|length difference| between the responses (characters)",
           ylabel="P(judge prefers the longer one)")


def _by_bin(bins: pd.DataFrame, judge: str, order: list[str]) -> pd.DataFrame:
    rows = bins[bins["judge"].astype(str) == judge]
    return rows.set_index(rows["bin"].astype(str)).reindex(order)


@styled
def draw_padding(ax: Any, padding: pd.DataFrame | None) -> None:
    """P(padded copy beats the original) against the padding added: one thin line per padding
    kind (one judge) and the pooled curve with its CI (padding.csv)."""
    if padding is None or padding.empty:
        _empty(ax, "padding probe not run\n(needs a judge to re-judge padded pairs)")
        ax.set_title("Padding dose–response")
        return
    t = padding[padding["added_chars"].astype(str) != "all"].copy()
    t["dose"] = pd.to_numeric(t["added_chars"], errors="coerce")
    t = t[t["dose"].notna()]
    judges = sorted(t["judge"].astype(str).unique())
    ax.axhline(0.5, label="0.5: no preference", **REF)
    kinds = sorted(k for k in t["perturbation"].astype(str).unique() if k != "all")
    for i, kind in enumerate(kinds):
        rows = t[t["perturbation"].astype(str) == kind].sort_values("dose")
        if len(judges) == 1:
            ax.plot(rows["dose"], rows["estimate"], "o-", color=color(i + 1), linewidth=1.0,
                    markersize=4, alpha=0.8, label=kind.replace("_", " "))
    for j, judge in enumerate(judges):
        rows = t[(t["perturbation"].astype(str) == "all") & (t["judge"].astype(str) == judge)
                 ].sort_values("dose")
        label = "all padding kinds (95% CI)" if len(judges) == 1 else f"{short(judge, 20)}"
        ax.fill_between(rows["dose"], rows["ci_low"], rows["ci_high"], color="black",
                        alpha=0.12, linewidth=0)
        ax.errorbar(rows["dose"], rows["estimate"], yerr=ci_err(rows), fmt="o-", capsize=3,
                    linewidth=2.4, color="black" if len(judges) == 1 else color(j),
                    label=label)
    doses = sorted(t["dose"].unique())
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(FixedLocator(doses))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels([f"+{int(d)}" for d in doses])
    title = "Padding dose–response" + (f" ({short(judges[0], 24)})" if len(judges) == 1 else "")
    ax.set(ylim=(-0.02, 1.02), title=title,
           xlabel="padding added to one response (characters, log scale)",
           ylabel="P(padded copy beats the original)")


def probe_rows(probes: pd.DataFrame) -> pd.DataFrame:
    """probes.csv as one row per (judge, CALM probe): raw robustness, the judge's placebo
    baseline and the noise-corrected robustness, each with ``_low``/``_high`` CI columns.

    Noise baselines (``noise.placebo``, ``noise.repeat``) are not probes: they become the
    ``placebo`` columns, never rows. An audit written before the baselines existed gives NaN
    there.

    >>> t = pd.DataFrame({"judge": "j", "measure": ["probes.authority.robustness",
    ...     "probes.authority.robustness_corrected", "noise.placebo.robustness",
    ...     "noise.repeat.robustness"], "estimate": [0.7, 0.98, 0.72, 1.0],
    ...     "ci_low": 0.0, "ci_high": 1.0})
    >>> probe_rows(t)[["probe", "raw", "placebo", "corrected"]].values.tolist()
    [['authority', 0.7, 0.72, 0.98]]
    """
    cols = ["judge", "probe"] + [f"{k}{s}" for k in ("raw", "placebo", "corrected")
                                 for s in ("", "_low", "_high")]
    need = {"judge", "measure", "estimate", "ci_low", "ci_high"}
    if probes is None or probes.empty or not need <= set(probes.columns):
        return pd.DataFrame(columns=cols)
    parts = probes["measure"].astype(str).str.split(".", expand=True).reindex(
        columns=range(3))
    t = probes.assign(group=parts[0], probe=parts[1], stat=parts[2],
                      judge=probes["judge"].astype(str))
    rows = []
    for judge, g in t.groupby("judge", sort=True):
        placebo = g[(g["group"] == "noise") & (g["probe"] == "placebo")
                    & (g["stat"] == "robustness")]
        base = placebo.iloc[0] if len(placebo) else None
        cue = g[g["group"] == "probes"]
        for probe in sorted(cue["probe"].dropna().unique()):
            row = {"judge": judge, "probe": probe}
            for key, stat, src in (("raw", "robustness", cue), ("corrected",
                                   "robustness_corrected", cue)):
                hit = src[(src["probe"] == probe) & (src["stat"] == stat)]
                r = hit.iloc[0] if len(hit) else None
                for suffix, col in (("", "estimate"), ("_low", "ci_low"), ("_high", "ci_high")):
                    row[key + suffix] = float(r[col]) if r is not None else np.nan
            for suffix, col in (("", "estimate"), ("_low", "ci_low"), ("_high", "ci_high")):
                row["placebo" + suffix] = float(base[col]) if base is not None else np.nan
            rows.append(row)
    return pd.DataFrame(rows, columns=cols)


#: Behind a value label: a reference line passing under it stays visible but cannot cross it.
_LABEL_BOX = {"facecolor": "white", "edgecolor": "none", "alpha": 0.75, "pad": 1.0}


def _err(t: pd.DataFrame, key: str) -> np.ndarray:
    return ci_err(t.rename(columns={key: "estimate", f"{key}_low": "ci_low",
                                    f"{key}_high": "ci_high"}))

@styled
def probes_figure(probes: pd.DataFrame) -> Figure:
    """Per CALM probe and judge: raw robustness (light bar), the judge's placebo baseline
    (dotted line: what noise alone leaves unchanged) and the noise-corrected robustness
    (solid bar, 1 − flips beyond the placebo), with 95% CI bars (probes.csv)."""
    t = probe_rows(probes)
    n_probes, n_judges = t["probe"].nunique(), t["judge"].nunique()
    fig = new_figure(max(3.2, 1.8 + 0.5 * n_probes * max(1, n_judges) ** 0.6))
    ax = fig.subplots()
    draw_probes(ax, probes)
    if not t.empty:
        _legend_below(fig, [ax])
    return fig


@styled
def draw_probes(ax: Any, probes: pd.DataFrame) -> None:
    """The panel of :func:`probes_figure`; each value is written beside its error bar's end."""
    t = probe_rows(probes)
    probes_ = sorted(t["probe"].unique())
    judges = sorted(t["judge"].unique())
    if t.empty:
        _empty(ax, "no CALM probe rows in probes.csv")
        ax.set(title="Robustness to counterfactual edits (CALM probes)")
        return
    corrected = t["corrected"].notna().any()
    slot = 0.8 / len(judges)
    height = slot / (2 if corrected else 1)
    y = np.arange(len(probes_))
    ax.axvline(1.0, label="1.0: never swayed", **REF)
    for j, judge in enumerate(judges):
        rows = t[t["judge"] == judge].set_index("probe").reindex(probes_)
        top = y - 0.4 + slot * j
        raw_y = top + height * 0.5
        ax.barh(raw_y, rows["raw"].fillna(0), height=height * 0.9, xerr=_err(rows, "raw"),
                color=color(j), alpha=0.35, capsize=3,
                label=f"{short(judge, 24)}: raw" if corrected else short(judge, 30))
        bars = [(raw_y, rows["raw"], rows["raw_high"])]
        if corrected:
            cor_y = top + height * 1.5
            ax.barh(cor_y, rows["corrected"].fillna(0), height=height * 0.9,
                    xerr=_err(rows, "corrected"), color=color(j), alpha=0.9, capsize=3,
                    label=f"{short(judge, 24)}: noise-corrected")
            bars.append((cor_y, rows["corrected"], rows["corrected_high"]))
        placebo = rows["placebo"].dropna()
        if len(placebo):
            ax.axvline(float(placebo.iloc[0]), color=color(j), linestyle=":", linewidth=1.6,
                       label=f"{short(judge, 24)}: placebo baseline")
        for yy_all, est_all, high_all in bars:
            for yy, est, end in zip(yy_all, est_all, np.fmax(est_all, high_all)):
                if np.isfinite(est):  # past the error bar's end, where nothing hides it
                    ax.annotate(f"{est:.2f}", (end, yy), xytext=(4, 0),
                                textcoords="offset points", va="center", ha="left",
                                fontsize=8, bbox=_LABEL_BOX)
    high = np.nanmax(t[["raw_high", "corrected_high"]].to_numpy(float), initial=1.0)
    ax.set_yticks(y, labels=probes_)
    # Room right of the longest error bar for its value (4 characters at 8 pt).
    ax.set(xlim=(0, max(1.05, high + 0.03) + 0.06), ylim=(len(probes_) - 0.5, -0.5),
           title="Robustness to counterfactual edits (CALM probes), beside the placebo",
           xlabel="robustness: share of verdicts unchanged by the edit",
           ylabel="edit applied to the losing response")
    ax.grid(axis="y", visible=False)


@styled
def agreement_figure(matrix: pd.DataFrame) -> Figure:
    """Heat map of agreement between judges and with gold (``load.agreement_matrix``)."""
    k = matrix["row"].astype(str).nunique()
    side = min(max(3.2, 0.9 * k + 1.6), WIDTH)
    fig = new_figure(side, width=side + 1.6)
    draw_agreement(fig.subplots(), matrix)
    return fig


@styled
def draw_agreement(ax: Any, matrix: pd.DataFrame) -> None:
    """The heat map of :func:`agreement_figure`, with its colour bar beside ``ax``."""
    names = list(dict.fromkeys(matrix["row"].astype(str)))
    grid = matrix.pivot(index="row", columns="col", values="estimate").reindex(
        index=names, columns=names).to_numpy(float)
    k = len(names)
    im = ax.imshow(grid, vmin=0, vmax=1, cmap="Blues")
    for (r, c), val in np.ndenumerate(grid):
        if np.isfinite(val):
            ax.text(c, r, f"{val:.2f}", ha="center", va="center", fontsize=9,
                    color="white" if val > 0.6 else "black")
    labels = [short(n, 22) for n in names]
    ax.set_xticks(range(k), labels=labels, rotation=30, ha="right", rotation_mode="anchor")
    ax.set_yticks(range(k), labels=labels)
    ax.grid(False)
    ax.set(title="Agreement of combined verdicts\n(tie is a class)", xlabel="judge (or gold)",
           ylabel="judge (or gold)")
    ax.figure.colorbar(im, ax=ax, label="share of pairs in agreement", shrink=0.85)


# ---------------------------------------------------------------------------------------------
# Calibration

#: The bar panels of the calibration figure: metric -> title.
CALIBRATION_BARS = {"ece": "ECE (15 equal-width bins)", "brier": "Brier score"}


def calibration_stages(reliability: pd.DataFrame | None, metrics: pd.DataFrame | None
                       ) -> list[str]:
    """The stages in order of first appearance: the metrics' first, then reliability's."""
    return list(dict.fromkeys(
        (metrics["stage"].tolist() if metrics is not None else [])
        + (reliability["stage"].tolist() if reliability is not None else [])))


@styled
def calibration_figure(reliability: pd.DataFrame | None, metrics: pd.DataFrame | None
                       ) -> Figure:
    """Reliability diagram per stage (reliability.csv, equal-width bins) and ECE / Brier per
    stage with 95% CI bars (calibration.json as ``load.calibration_frame``)."""
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
    area ∝ verdicts), its ECE in the legend when ``metrics`` has it."""
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
    above its error bar, where the bar cannot hide it."""
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


# ---------------------------------------------------------------------------------------------
# Propagation


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
    column and metrics.jsonl's keys; a key no run recorded gives a panel that says so)."""
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
    Axes' own legend (the report's figure names them once, below the panels)."""
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
    legend gives propagation.json's slope with its 95% CI."""
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
    """One panel of :func:`sweep_figure` (``panel``: "drift" or "gold_change")."""
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
    lack-of-fit p of a straight line."""
    return dose_response_table_figure(study_tables(study)["dose_response"],
                                      dose=dose_label or study.get("dose_axis") or "dose",
                                      n_seeds=study.get("n_seeds"))


@styled
def dose_response_table_figure(table: pd.DataFrame, *, dose: str = "dose",
                               n_seeds: int | None = None) -> Figure:
    """:func:`dose_response_figure` drawn from the long dose-response table (one panel per
    metric of :data:`DOSE_PANELS`; see :func:`draw_dose_response`)."""
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
    the p values in a corner and the arms in one legend below its panels)."""
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
    forecast vs observed, one panel per validation, prediction intervals as bars."""

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
            ax.set_title(f"{s['form']} (n = {s['n_cells']})\ncoverage {s['coverage']:.0%}")
        axes[-1].legend(loc="upper left", bbox_to_anchor=(1.02, 1.0))
        return fig

    return draw()


def forecast_validation_png(validations: Sequence[Any]) -> bytes:
    """:func:`forecast_validation_figure` as PNG bytes (what ``forecast --refit`` writes)."""
    return figure_png(forecast_validation_figure(validations))
