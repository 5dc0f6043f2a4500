"""Figures of an audit (judgebench.audit): position bias per judge (position.csv), the
preference for longer responses per length-difference bin and the padding dose-response
(verbosity_bins.csv, padding.csv), robustness to the CALM probes beside the placebo baseline
(probes.csv) and the agreement between judges and with gold (``load.agreement_matrix``). Each
``*_figure`` lays out its ``draw_*`` panels.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, NullLocator

from judgebench.report.plots._style import (
    _LABEL_BOX,
    REF,
    WIDTH,
    _empty,
    _legend_below,
    ci_err,
    color,
    new_figure,
    short,
    styled,
)

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
    """P(first shown wins) and swap consistency per judge, with 95% CI bars (position.csv).

    Example:

    >>> t = pd.DataFrame({"judge": "j", "measure": ["position.p_first", "position.consistency"],
    ...                   "estimate": [0.8, 0.4], "ci_low": [0.7, 0.3], "ci_high": [0.9, 0.5]})
    >>> [ax.get_title() for ax in position_figure(t).axes]
    ['P(answer shown first wins)', 'Same winner after swapping']
    """
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
    """One panel of :func:`position_figure` (``panel``: a key of :data:`POSITION_PANELS`).

    Example:

    >>> t = pd.DataFrame({"judge": "j", "measure": ["position.p_first", "position.consistency"],
    ...                   "estimate": [0.8, 0.4], "ci_low": [0.7, 0.3], "ci_high": [0.9, 0.5]})
    >>> ax = new_figure(3.0).subplots()
    >>> draw_position(ax, t, "p_first")
    >>> ax.get_title(), [y.get_text() for y in ax.get_yticklabels()]
    ('P(answer shown first wins)', ['j'])
    """
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
    dose-response (padding.csv); either may be None.

    Example:

    >>> bins = pd.DataFrame({"judge": "j", "bin": ["(0, 30]", "(30, 100]"], "n": [40, 30],
    ...     "p_prefer_longer": [0.55, 0.7], "ci_low": [0.45, 0.6], "ci_high": [0.65, 0.8]})
    >>> [ax.get_title() for ax in verbosity_figure(bins, None).axes]
    ['Preference for the longer response', 'Padding dose–response']
    """
    fig = new_figure(4.2)
    ax_bins, ax_pad = fig.subplots(1, 2)
    draw_length_bins(ax_bins, bins)
    draw_padding(ax_pad, padding)
    _legend_below(fig, [ax_bins, ax_pad], ncol=4)
    return fig


@styled
def draw_length_bins(ax: Any, bins: pd.DataFrame | None) -> None:
    """P(judge prefers the longer response) per |Δlength| bin, one line per judge, with the CI
    band and gold's line (verbosity_bins.csv). A bin without pairs takes no room on the axis.

    Example:

    >>> bins = pd.DataFrame({"judge": "j", "bin": ["(0, 30]", "(30, 100]"], "n": [40, 30],
    ...     "p_prefer_longer": [0.55, 0.7], "ci_low": [0.45, 0.6], "ci_high": [0.65, 0.8]})
    >>> ax = new_figure(3.0).subplots()
    >>> draw_length_bins(ax, bins)
    >>> [x.get_text() for x in ax.get_xticklabels()]
    ['0–30\\nn=40', '30–100\\nn=30']
    """
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
    kind (one judge) and the pooled curve with its CI (padding.csv).

    Example:

    >>> pad = pd.DataFrame({"judge": "j", "perturbation": "all", "added_chars": [50, 200],
    ...     "estimate": [0.6, 0.75], "ci_low": [0.5, 0.65], "ci_high": [0.7, 0.85]})
    >>> ax = new_figure(3.0).subplots()
    >>> draw_padding(ax, pad)
    >>> ax.get_title(), [x.get_text() for x in ax.get_xticklabels()]
    ('Padding dose–response (j)', ['+50', '+200'])
    """
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


def _err(t: pd.DataFrame, key: str) -> np.ndarray:
    return ci_err(t.rename(columns={key: "estimate", f"{key}_low": "ci_low",
                                    f"{key}_high": "ci_high"}))



@styled
def probes_figure(probes: pd.DataFrame) -> Figure:
    """Per CALM probe and judge: raw robustness (light bar), the judge's placebo baseline
    (dotted line: what noise alone leaves unchanged) and the noise-corrected robustness
    (solid bar, 1 − flips beyond the placebo), with 95% CI bars (probes.csv).

    Example:

    >>> probes = pd.DataFrame({"judge": "j", "measure": ["probes.authority.robustness",
    ...     "probes.authority.robustness_corrected", "noise.placebo.robustness"],
    ...     "estimate": [0.7, 0.98, 0.72], "ci_low": [0.6, 0.9, 0.6], "ci_high": [0.8, 1.0, 0.8]})
    >>> fig = probes_figure(probes)
    >>> len(fig.axes), fig.axes[0].get_title()
    (1, 'Robustness to counterfactual edits (CALM probes), beside the placebo')
    """
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
    """The panel of :func:`probes_figure`; each value is written beside its error bar's end.

    Example:

    >>> probes = pd.DataFrame({"judge": "j", "measure": ["probes.authority.robustness",
    ...     "probes.authority.robustness_corrected", "noise.placebo.robustness"],
    ...     "estimate": [0.7, 0.98, 0.72], "ci_low": [0.6, 0.9, 0.6], "ci_high": [0.8, 1.0, 0.8]})
    >>> ax = new_figure(3.0).subplots()
    >>> draw_probes(ax, probes)
    >>> [y.get_text() for y in ax.get_yticklabels()], [v.get_text() for v in ax.texts]
    (['authority'], ['0.70', '0.98'])
    """
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
    """Heat map of agreement between judges and with gold (``load.agreement_matrix``).

    Example:

    >>> m = pd.DataFrame({"row": ["a", "a", "gold", "gold"], "col": ["a", "gold", "a", "gold"],
    ...                   "estimate": [1.0, 0.7, 0.7, 1.0]})
    >>> [ax.get_label() for ax in agreement_figure(m).axes]     # the map and its colour bar
    ['', '<colorbar>']
    """
    k = matrix["row"].astype(str).nunique()
    side = min(max(3.2, 0.9 * k + 1.6), WIDTH)
    fig = new_figure(side, width=side + 1.6)
    draw_agreement(fig.subplots(), matrix)
    return fig


@styled
def draw_agreement(ax: Any, matrix: pd.DataFrame) -> None:
    """The heat map of :func:`agreement_figure`, with its colour bar beside ``ax``.

    Example:

    >>> m = pd.DataFrame({"row": ["a", "a", "gold", "gold"], "col": ["a", "gold", "a", "gold"],
    ...                   "estimate": [1.0, 0.7, 0.7, 1.0]})
    >>> ax = new_figure(3.0, 4.0).subplots()
    >>> draw_agreement(ax, m)
    >>> [cell.get_text() for cell in ax.texts]
    ['1.00', '0.70', '0.70', '1.00']
    """
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
