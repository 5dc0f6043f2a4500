"""Figures (judgebench/report/plots/): labelled, nothing clipped or overlapping, values read
from the tables unchanged, robust to missing keys."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from judgebench.report import plots
from judgebench.report.load import find_sections

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def sections(results: Path) -> dict[str, object]:
    return {s.name: s for s in find_sections(results)}


def _texts(fig: Figure):
    """(name, bbox) of every title, axis label, tick label and legend after drawing."""
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    out = []
    for k, ax in enumerate(fig.get_axes()):
        for name, t in (("title", ax.title), ("xlabel", ax.xaxis.label),
                        ("ylabel", ax.yaxis.label)):
            if t.get_visible() and t.get_text():
                out.append((f"ax{k}.{name}", t.get_window_extent(r)))
        for axis in (ax.xaxis, ax.yaxis):
            lo, hi = sorted(axis.get_view_interval())
            for i, tick in enumerate(axis.get_major_ticks()):
                t = tick.label1
                # Ticks outside the view limits are never drawn.
                if t.get_visible() and t.get_text() and lo - 1e-9 <= tick.get_loc() <= hi + 1e-9:
                    out.append((f"ax{k}.{axis.axis_name}tick{i}", t.get_window_extent(r)))
        if ax.get_legend():
            out.append((f"ax{k}.legend", ax.get_legend().get_window_extent(r)))
    for sub in [fig, *fig.subfigs]:
        for i, leg in enumerate(sub.legends):
            out.append((f"{id(sub)}.figlegend{i}", leg.get_window_extent(r)))
        if getattr(sub, "_suptitle", None) is not None:
            out.append((f"{id(sub)}.suptitle", sub._suptitle.get_window_extent(r)))
    return out


def assert_readable(fig: Figure) -> None:
    """Every text inside the canvas; no two titles/labels/ticks/legends overlap; every axis
    with data has both axis labels and a title (its own or its sub-figure's)."""
    width, height = fig.canvas.get_width_height()
    texts = _texts(fig)
    for name, b in texts:
        assert b.x0 >= -1 and b.y0 >= -1 and b.x1 <= width + 1 and b.y1 <= height + 1, \
            f"{name} is clipped: {b} outside {width}x{height}"
    for (n1, b1), (n2, b2) in itertools.combinations(texts, 2):
        overlap_w = min(b1.x1, b2.x1) - max(b1.x0, b2.x0)
        overlap_h = min(b1.y1, b2.y1) - max(b1.y0, b2.y0)
        assert overlap_w <= 1 or overlap_h <= 1, f"{n1} overlaps {n2}"
    for ax in fig.get_axes():
        if ax.get_label() == "<colorbar>" or not (ax.lines or ax.patches or ax.collections
                                                   or ax.images):
            continue
        shared_y = ax.get_shared_y_axes().get_siblings(ax)
        assert ax.get_xlabel(), f"axis {ax.get_title()!r} has no x label"
        assert any(a.get_ylabel() for a in shared_y), f"axis {ax.get_title()!r} has no y label"
        assert ax.get_title(), "an axis has no title"


def test_position_figure_plots_table_values(sections) -> None:
    table = sections["audit-multi"].tables["position"]
    fig = plots.position_figure(table)
    assert_readable(fig)
    left = fig.get_axes()[0]
    (pts,) = [ln for ln in left.lines if ln.get_marker() == "o"]
    want = table[table["measure"] == "position.p_first"].sort_values("judge")["estimate"]
    np.testing.assert_allclose(np.asarray(pts.get_xdata(), float), want.to_numpy())  # as read
    assert [t.get_text() for t in left.get_yticklabels()] == ["a", "b"]


def test_position_figure_shows_unmeasured_judge() -> None:
    t = pd.DataFrame({"judge": ["x", "x"], "measure": ["position.p_first",
                                                       "position.consistency"],
                      "estimate": [np.nan, np.nan], "ci_low": np.nan, "ci_high": np.nan,
                      "n": 0, "note": "needs both orders"})
    fig = plots.position_figure(t)
    texts = [tx.get_text() for ax in fig.get_axes() for tx in ax.texts]
    assert any("needs both orders" in tx for tx in texts)


def test_verbosity_figure_with_and_without_padding(sections) -> None:
    sim = sections["audit-sim"].tables
    fig = plots.verbosity_figure(sim["verbosity_bins"], sim["padding"])
    assert_readable(fig)
    pad_ax = fig.get_axes()[1]
    # One thin line per padding kind + the pooled curve, and a legend naming them.
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    for kind in ("filler", "repeat sentence", "repetitive list", "restate question"):
        assert kind in labels
    assert pad_ax.get_xscale() == "log"
    fig = plots.verbosity_figure(sections["audit-multi"].tables["verbosity_bins"], None)
    assert_readable(fig)
    assert any("padding probe not run" in t.get_text() for t in fig.get_axes()[1].texts)


def test_probes_figure_bars_are_robustness(sections) -> None:
    probes = sections["audit-sim"].tables["probes"]
    fig = plots.probes_figure(probes)
    assert_readable(fig)
    ax = fig.get_axes()[0]
    # Bars: each CALM probe's raw and noise-corrected robustness; the baselines are no bars.
    cue = probes[probes["measure"].str.startswith("probes.")]
    want = cue[cue["measure"].str.endswith((".robustness", ".robustness_corrected"))]
    np.testing.assert_allclose(sorted(p.get_width() for p in ax.patches),
                               sorted(want["estimate"]))
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert "placebo" not in labels and "repeat" not in labels and len(labels) == 4
    # The placebo baseline is a line at its robustness.
    placebo = probes.set_index("measure").loc["noise.placebo.robustness", "estimate"]
    assert any(np.allclose(line.get_xdata(), placebo) for line in ax.get_lines())


def _probe_csv(with_noise: bool = True, judges=("j",)) -> pd.DataFrame:
    rows = []
    for judge in judges:
        for probe, raw in (("authority", 0.72), ("sentiment", 0.70)):
            rows.append((judge, f"probes.{probe}.robustness", raw))
            rows.append((judge, f"probes.{probe}.edited_win_rate", 0.3))
            if with_noise:
                rows.append((judge, f"probes.{probe}.robustness_corrected", raw + 0.26))
        if with_noise:
            rows += [(judge, "noise.placebo.robustness", 0.74),
                     (judge, "noise.placebo.edited_win_rate", 0.4),
                     (judge, "noise.repeat.robustness", 1.0)]
    t = pd.DataFrame(rows, columns=["judge", "measure", "estimate"])
    return t.assign(ci_low=t["estimate"] - 0.03, ci_high=t["estimate"] + 0.03, n=50, note="")


def test_probe_rows_puts_baselines_beside_each_probe_not_as_probes() -> None:
    rows = plots.probe_rows(_probe_csv(judges=("a", "b")))
    assert rows[["judge", "probe"]].values.tolist() == [
        ["a", "authority"], ["a", "sentiment"], ["b", "authority"], ["b", "sentiment"]]
    np.testing.assert_allclose(rows["raw"], [0.72, 0.70] * 2)
    np.testing.assert_allclose(rows["placebo"], 0.74)
    np.testing.assert_allclose(rows["corrected"], [0.98, 0.96] * 2)
    np.testing.assert_allclose(rows["corrected_high"], [1.01, 0.99] * 2)
    # An audit from before the baselines: raw only, NaN baselines; the figure still draws.
    old = plots.probe_rows(_probe_csv(with_noise=False))
    assert old["placebo"].isna().all() and old["corrected"].isna().all()
    fig = plots.probes_figure(_probe_csv(with_noise=False))
    assert_readable(fig)
    assert len(fig.get_axes()[0].patches) == 2
    # Empty, or a table without the columns: an empty frame and a figure that says so.
    assert plots.probe_rows(pd.DataFrame()).empty
    assert plots.probe_rows(pd.DataFrame({"measure": ["x"]})).empty
    fig = plots.probes_figure(_probe_csv().query("measure.str.startswith('noise')"))
    assert any("no CALM probe rows" in t.get_text() for t in fig.get_axes()[0].texts)
    # Corrected values above 1 (the cue changed fewer verdicts than the placebo) stay visible.
    fig = plots.probes_figure(_probe_csv(judges=("a", "b")))
    assert_readable(fig)
    assert fig.get_axes()[0].get_xlim()[1] >= 1.01 + 0.03 - 1e-9


def test_agreement_figure(sections) -> None:
    fig = plots.agreement_figure(sections["audit-multi"].tables["agreement_matrix"])
    assert_readable(fig)
    ax = fig.get_axes()[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "gold"]
    assert ax.images[0].get_array().shape == (3, 3)


def test_calibration_figure(sections) -> None:
    sec = sections["calibration-sim"]
    fig = plots.calibration_figure(sec.tables["reliability"], sec.tables["metrics"])
    assert_readable(fig)
    titles = [ax.get_title() for ax in fig.get_axes()]
    assert titles[:3] == ["raw", "+ swap", "+ temperature"]
    ece_ax = next(ax for ax in fig.get_axes() if ax.get_title().startswith("ECE"))
    m = sec.tables["metrics"]
    want = m[m["metric"] == "ece"]["estimate"].to_numpy()
    np.testing.assert_allclose([p.get_height() for p in ece_ax.patches], want)


def test_propagation_figure_one_line_per_run(sections) -> None:
    frames = [sections[n].tables["metrics"].assign(run=n)
              for n in ("runs/biased", "runs/calibrated")]
    fig = plots.propagation_figure(pd.concat(frames))
    assert_readable(fig)
    length_ax = fig.get_axes()[0]
    assert len(length_ax.lines) == 2
    np.testing.assert_allclose(length_ax.lines[0].get_ydata(),
                               frames[0]["length_chars_mean"].to_numpy())
    judge_ax = fig.get_axes()[2]
    assert {t.get_text() for t in judge_ax.get_legend().get_texts()} == {
        "raw judge", "calibrated judge"}
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["runs/biased",
                                                                  "runs/calibrated"]


def test_propagation_figure_many_long_run_names_fit(sections) -> None:
    base = sections["runs/biased"].tables["metrics"]
    names = [f"verbosity={b}, calibration={c}, seed={s}" for b in (0, 2)
             for c in ("none", "swap+length") for s in (0, 1)]
    fig = plots.propagation_figure(pd.concat([base.assign(run=n) for n in names]))
    assert_readable(fig)  # the run legend wraps into columns that fit the canvas
    assert len(fig.legends[0].get_texts()) == 8


def test_propagation_figure_survives_missing_keys() -> None:
    # An old or partial metrics.jsonl: no judge scores, no label accuracy, one None.
    m = pd.DataFrame({"run": "r", "iteration": [0, 1], "length_chars_mean": [50.0, 60.0],
                      "gold_mean": [0.5, np.nan]})
    fig = plots.propagation_figure(m)
    assert_readable(fig)
    notes = [t.get_text() for ax in fig.get_axes() for t in ax.texts]
    assert any("judge_score_raw" in n for n in notes)
    assert any("label_accuracy" in n for n in notes)


def test_sweep_figure_legend_gives_the_slopes(sweep_dir: Path) -> None:
    (sec,) = find_sections(sweep_dir)
    fig = plots.sweep_figure(sec.tables["sweep"], sec.data["propagation"])
    assert_readable(fig)
    labels = [t.get_text() for t in fig.get_axes()[0].get_legend().get_texts()]
    slope = sec.data["propagation"]["settings"][0]["length_drift_per_unit_bias"]["estimate"]
    assert labels[0].startswith(f"calibration=none: slope {slope:.3g}")
    assert len(labels) == 2
    # Seed means: the plotted point at bias 2 is the mean of the three seeds' drifts.
    t = sec.tables["sweep"]
    want = t[(t["calibration"] == "none") & (t["judge.verbosity"] == "2")][
        "final_length_drift_chars"].mean()
    got = [ln.get_ydata()[-1] for ln in fig.get_axes()[0].lines if len(ln.get_ydata()) == 3]
    assert any(np.isclose(g, want) for g in got)


def test_sweep_figure_without_bias_axis() -> None:
    t = pd.DataFrame({"calibration": ["none"], "seed": [0], "final_length_drift_chars": [1.0]})
    fig = plots.sweep_figure(t, None)
    assert any("no judge.verbosity axis" in tx.get_text() for tx in fig.get_axes()[0].texts)


def test_figure_png_is_png(sections) -> None:
    png = plots.figure_png(plots.probes_figure(sections["audit-sim"].tables["probes"]))
    assert png.startswith(PNG_MAGIC) and len(png) > 5000


def _bins(n_middle: int) -> pd.DataFrame:
    """verbosity_bins.csv for one judge: four bins, the second with ``n_middle`` pairs."""
    n = [20, n_middle, 30, 0]
    est = [0.4, np.nan if n_middle == 0 else 0.6, 0.8, np.nan]
    return pd.DataFrame({"judge": "j", "bin": ["(0, 30]", "(30, 100]", "(100, 300]",
                                                "(300, 1000]"],
                         "p_prefer_longer": est, "ci_low": np.subtract(est, 0.1),
                         "ci_high": np.add(est, 0.1), "n": n, "gold_p_longer_better": 0.5})


def test_verbosity_figure_drops_empty_length_bins() -> None:
    fig = plots.verbosity_figure(_bins(0), None)
    assert_readable(fig)
    ax = fig.get_axes()[0]
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks == ["0–30\nn=20", "100–300\nn=30"]  # no room for the bins without pairs
    (line,) = [c[0] for c in ax.containers]
    np.testing.assert_allclose(np.asarray(line.get_ydata(), float), [0.4, 0.8])
    assert len(plots.verbosity_figure(_bins(5), None).get_axes()[0].get_xticks()) == 3
    # Every bin empty: the panel says so rather than drawing an empty axis.
    empty = _bins(0).assign(n=0, p_prefer_longer=np.nan)
    texts = [t.get_text() for t in plots.verbosity_figure(empty, None).get_axes()[0].texts]
    assert any("no pair in any length-difference bin" in t for t in texts)


def _label_clears_error_bar(ax, fig) -> None:
    """Every value label lies wholly past the end of the error bar it belongs to."""
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    bars = [seg for coll in ax.collections for seg in coll.get_segments()]
    for label in ax.texts:
        box = label.get_window_extent(r)
        for seg in bars:
            (x0, y0), (x1, y1) = ax.transData.transform(seg)
            crosses_x = min(x0, x1) - 1 <= box.x1 and box.x0 <= max(x0, x1) + 1
            crosses_y = min(y0, y1) - 1 <= box.y1 and box.y0 <= max(y0, y1) + 1
            assert not (crosses_x and crosses_y), f"label {label.get_text()} covers a CI bar"


def test_bar_values_sit_past_their_error_bars(sections) -> None:
    # Short bars with wide intervals: where a label inside the bar used to be crossed.
    metrics = pd.DataFrame({"stage": ["raw", "swap"], "metric": "ece",
                            "estimate": [0.28, 0.015], "ci_low": [0.2, 0.0],
                            "ci_high": [0.33, 0.06], "n": 100})
    fig = plots.calibration_figure(None, metrics)
    ece_ax = next(ax for ax in fig.get_axes() if ax.get_title().startswith("ECE"))
    assert [t.get_text() for t in ece_ax.texts] == ["0.280", "0.015"]
    _label_clears_error_bar(ece_ax, fig)
    assert ece_ax.get_ylim()[1] > 0.33  # room above the tallest bar for its value
    probes = _probe_csv(judges=("a", "b"))
    probes.loc[probes["measure"] == "probes.sentiment.robustness", "estimate"] = 0.04
    fig = plots.probes_figure(probes)
    assert_readable(fig)
    _label_clears_error_bar(fig.get_axes()[0], fig)
