"""A study's statistics: what a grid of seeded runs says about bias propagation.

Input is sweep.csv (one row per finished cell: grid values, seed, final metrics). The
statistics, in the order a reader needs them (docs/design/studies.md):

1. **Per cell** (grid point): mean final length drift, gold change, label-level bias and
   label accuracy over seeds, each with a t-interval and its n (and a seed-cluster bootstrap
   from 8 seeds up).
2. **Dose-response**, per arm (each setting of the non-dose axes, e.g. each calibration):
   drift against the injected dose, the mean and standard error per dose, and the F test of
   a straight line against the dose means (lack of fit). The curve is the primary result; a
   slope is only a summary of it.
3. **Propagation coefficient** on a scale where it is stable: policy drift per unit of
   *label-level* bias, the share of training labels that pick the longer response minus that
   share at dose 0 for the same seed (what the trainer sees, which saturates as the injected
   dose grows). Per seed, the OLS slope over the doses; over seeds, a t-interval. The slope on
   the injected dose is reported beside it, the same way.
4. **Paired tests** (same seeds): drift at dose b minus drift at dose 0 in each arm ("does
   the bias reach the policy?"); a calibrated arm at dose b minus the uncalibrated arm at dose
   0 ("does calibration bring it back to the unbiased level?"); calibrated minus uncalibrated
   at the same dose ("what calibration removes").

>>> import pandas as pd
>>> t = pd.DataFrame({"judge.verbosity": ["0", "3"] * 3, "seed": [0, 0, 1, 1, 2, 2],
...                   "final_length_drift_chars": [1.0, 9.0, -1.0, 8.0, 0.0, 10.0],
...                   "final_gold_change": [0.0, -0.1, 0.0, -0.2, 0.01, -0.1],
...                   "mean_label_prefers_longer": [0.5, 0.9, 0.5, 0.85, 0.55, 0.9]})
>>> res = analyse(t, ["judge.verbosity"])
>>> res["paired"][0]["contrast"], res["paired"][0]["drift"]["n"]
('dose 3 - dose 0', 3)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from judgebench.stats import (
    MIN_SEEDS_FOR_BOOTSTRAP,
    Interval,
    lack_of_fit,
    ols_slope,
    paired_t,
    seed_bootstrap,
    t_interval,
)

#: What each cell summary reports: (sweep.csv column, name in study.json).
CELL_METRICS = (("final_length_drift_chars", "drift"), ("final_gold_change", "gold_change"),
                ("mean_label_prefers_longer", "label_prefers_longer"),
                ("mean_label_accuracy", "label_accuracy"),
                ("final_proxy_gold_gap", "proxy_gold_gap"),
                ("final_pass_max_words", "pass_max_words"))
DRIFT, GOLD, LABEL_BIAS = ("final_length_drift_chars", "final_gold_change",
                           "mean_label_prefers_longer")
#: The value of a "calibration" axis that is the uncalibrated arm.
UNCALIBRATED = ("none", "raw", "")


def family_name(dose: str | None) -> str:
    """The bias family a dose axis injects: "length" for judge.verbosity, else the feature.

    >>> family_name("judge.verbosity"), family_name("judge.listness")
    ('length', 'listness')
    """
    return "length" if dose is None or dose == "judge.verbosity" else dose.split(".", 1)[1]


def family_columns(dose: str | None) -> tuple[str, str]:
    """(drift column, label-level bias column) of the bias family a dose axis injects.

    ``judge.verbosity`` -> length drift and labels picking the longer response; ``judge.<f>``
    for a feature f -> the change in the share of held-out responses showing f and labels
    picking the response with more of f.

    >>> family_columns("judge.lexical")
    ('final_feature_rate_change_lexical', 'mean_label_prefers_lexical')
    """
    name = family_name(dose)
    if name == "length":
        return DRIFT, LABEL_BIAS
    return f"final_feature_rate_change_{name}", f"mean_label_prefers_{name}"


def family_labels(dose: str | None) -> dict[str, tuple[str, str, int]]:
    """What the family's drift and label-level bias are called, and the digits they deserve.

    >>> family_labels("judge.listness")["drift"][1]
    'final change in the share of held-out responses showing listness'
    """
    name = family_name(dose)
    if name == "length":
        return {"drift": ("Length drift", "final length drift (characters)", 1),
                "label_prefers_longer": ("Label-level bias",
                                         "share of labels picking the longer response", 2)}
    return {"drift": (f"{name} drift",
                      f"final change in the share of held-out responses showing {name}", 3),
            "label_prefers_longer": ("Label-level bias",
                                     f"share of labels picking the response with more {name}",
                                     2)}


def dose_axis(grid_keys: list[str]) -> str | None:
    """The grid axis read as the injected dose: judge.verbosity, else the first judge.* axis."""
    if "judge.verbosity" in grid_keys:
        return "judge.verbosity"
    judge_axes = [k for k in grid_keys if k.startswith("judge.")]
    return judge_axes[0] if judge_axes else None


def _arms(table: pd.DataFrame, others: list[str]):
    if not others:
        yield {}, table
        return
    if "calibration" in table.columns:  # the uncalibrated arm first, then the others
        rank = (~table["calibration"].astype(str).isin(UNCALIBRATED)).astype(int)
        table = table.assign(_rank=rank.to_numpy()).sort_values("_rank", kind="stable") \
            .drop(columns="_rank")
    for key, sub in table.groupby(others, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        yield dict(zip(others, [str(k) for k in key])), sub


def _seed_values(sub: pd.DataFrame, metric: str) -> pd.Series:
    """metric per seed (one run per seed and grid point)."""
    if metric not in sub.columns:
        return pd.Series(dtype=float)
    return sub.set_index("seed")[metric].astype(float)


def _interval(values: pd.Series | np.ndarray) -> dict[str, Any]:
    iv = t_interval(np.asarray(values, float))
    out = iv.to_dict()
    if iv.n >= MIN_SEEDS_FOR_BOOTSTRAP:
        out["bootstrap"] = seed_bootstrap(np.asarray(values, float)).to_dict()
    return out


def cell_table(table: pd.DataFrame, grid_keys: list[str]) -> list[dict[str, Any]]:
    """Per grid point: each CELL_METRICS value as mean with t-interval and n over seeds.

    ``drift`` and ``label_prefers_longer`` are the dose axis's family (family_columns): for a
    feature dose, the feature's rate change and the labels preferring more of it; the length
    drift is then kept as ``length_drift``.

    Example:

    >>> t = pd.DataFrame({"judge.verbosity": ["0", "3"] * 3, "seed": [0, 0, 1, 1, 2, 2],
    ...                   "final_length_drift_chars": [1.0, 9.0, -1.0, 8.0, 0.0, 10.0]})
    >>> [(c["cell"]["judge.verbosity"], round(c["drift"]["estimate"], 1), c["drift"]["n"])
    ...  for c in cell_table(t, ["judge.verbosity"])]
    [('0', 0.0, 3), ('3', 9.0, 3)]
    """
    drift, label = family_columns(dose_axis(grid_keys))
    metrics = list(CELL_METRICS)
    if drift != DRIFT:
        metrics = [(drift, "drift"), (DRIFT, "length_drift"), *[
            (label if name == "label_prefers_longer" else c, name)
            for c, name in CELL_METRICS if name != "drift"]]
    rows = []
    for values, sub in _arms(table, grid_keys):
        row: dict[str, Any] = {"cell": values, "n_seeds": int(sub["seed"].nunique()),
                               "seeds": sorted(int(s) for s in sub["seed"].unique())}
        for column, name in metrics:
            if column in sub.columns:
                row[name] = _interval(sub[column].astype(float).to_numpy())
        for column in sorted(c for c in sub.columns if c.startswith("final_onset_")):
            onset = sub[column].astype(float).to_numpy()
            started = onset[onset >= 0]
            row[column[len("final_"):]] = {
                "n_runs": int(onset.size), "n_started": int(started.size),
                "median_iteration": float(np.median(started)) if started.size else None}
        rows.append(row)
    return rows


def _per_seed_slope(sub: pd.DataFrame, x_col: str | None, dose: str, y_col: str,
                    relative_to_zero: bool) -> dict[int, float]:
    """OLS slope of y on x over the doses of each seed (x = dose when x_col is None)."""
    slopes = {}
    for seed, runs in sub.groupby("seed"):
        d = runs[dose].astype(float).to_numpy()
        x = d if x_col is None else runs[x_col].astype(float).to_numpy()
        if relative_to_zero:
            base = x[d == 0]
            if base.size == 0:
                continue
            x = x - base.mean()
        slopes[int(seed)] = ols_slope(x, runs[y_col].astype(float).to_numpy())
    return slopes


def propagation_table(table: pd.DataFrame, grid_keys: list[str], *, n_boot: int = 2000
                      ) -> dict[str, Any]:
    """propagation.json: per arm, slopes of final drift and gold change with t-intervals.

    ``length_drift_per_unit_bias`` / ``gold_change_per_unit_bias``: per injected dose unit;
    ``length_drift_per_label_bias``: per unit of label-level bias (module doc, item 3).
    Each is ``{"estimate", "ci", "n" (seeds), "method", "se"}``, over per-seed slopes.

    Example:

    >>> t = pd.DataFrame({"judge.verbosity": ["0", "3"] * 3, "seed": [0, 0, 1, 1, 2, 2],
    ...                   "final_length_drift_chars": [1.0, 9.0, -1.0, 8.0, 0.0, 10.0]})
    >>> e = propagation_table(t, ["judge.verbosity"], n_boot=200)["settings"][0]
    >>> round(e["length_drift_per_unit_bias"]["estimate"], 2), e["length_drift_per_unit_bias"]["n"]
    (3.0, 3)
    """
    dose = dose_axis(grid_keys)
    if dose is None or table.empty:
        return {"bias_axis": dose, "settings": [],
                "note": "no judge.* dose axis in the grid (or no finished cell): no "
                        "propagation coefficient."}
    others = [k for k in grid_keys if k != dose]
    settings = []
    for arm, sub in _arms(table, others):
        entry: dict[str, Any] = {"setting": arm}
        drift, label = family_columns(dose)
        for y_col, x_col, name in ((drift, None, "length_drift_per_unit_bias"),
                                   (GOLD, None, "gold_change_per_unit_bias"),
                                   (drift, label, "length_drift_per_label_bias")):
            if y_col not in sub.columns or (x_col and x_col not in sub.columns):
                continue
            slopes = _per_seed_slope(sub, x_col, dose, y_col, relative_to_zero=x_col is not None)
            iv = t_interval(list(slopes.values()))
            entry[name] = {**iv.to_dict(), "method": "t over per-seed slopes"}
        settings.append(entry)
    pooled = _pooled_label_slope(table, dose, others)
    if pooled is not None:
        settings.append({"setting": {"pooled": "all arms"},
                         "length_drift_per_label_bias": pooled})
    return {"bias_axis": dose,
            "definition": "Per seed, the OLS slope of the final-iteration length drift "
                          "(characters) on the injected dose (and on the label-level bias: the "
                          "share of training labels picking the longer response minus its "
                          "value at dose 0); mean over seeds with a t-interval (n = seeds).",
            "settings": settings}


def _pooled_label_slope(table: pd.DataFrame, dose: str, others: list[str]) -> dict | None:
    """Drift per unit of label-level bias over every arm and dose of each seed.

    If label-level bias is the scale on which the trainer responds, calibrated and
    uncalibrated cells lie on one line; x is measured from the seed's uncalibrated dose-0 cell.
    """
    drift, label = family_columns(dose)
    if label not in table.columns or drift not in table.columns:
        return None
    cal = "calibration" if "calibration" in others else None
    slopes = []
    for _, runs in table.groupby("seed"):
        base = runs[runs[dose].astype(float) == 0.0]
        if cal:
            base = base[base[cal].astype(str).isin(UNCALIBRATED)]
        if base.empty:
            continue
        x = runs[label].astype(float).to_numpy() - float(base[label].astype(float).mean())
        slopes.append(ols_slope(x, runs[drift].astype(float).to_numpy()))
    iv = t_interval(slopes)
    return {**iv.to_dict(), "method": "t over per-seed slopes (all arms pooled)"}


def dose_response(table: pd.DataFrame, dose: str, others: list[str]) -> list[dict[str, Any]]:
    """Per arm and metric: mean and SE per dose, and the lack-of-fit test of a line.

    Example:

    >>> t = pd.DataFrame({"judge.verbosity": ["0", "3"] * 3, "seed": [0, 0, 1, 1, 2, 2],
    ...                   "final_length_drift_chars": [1.0, 9.0, -1.0, 8.0, 0.0, 10.0]})
    >>> [(p["dose"], p["mean"], p["n"]) for p in dose_response(t, "judge.verbosity", [])[0]["points"]]
    [(0.0, 0.0, 3), (3.0, 9.0, 3)]
    """
    out = []
    drift, label = family_columns(dose)
    for arm, sub in _arms(table, others):
        for column, name in ((drift, "drift"), (GOLD, "gold_change"),
                             (label, "label_prefers_longer")):
            if column not in sub.columns:
                continue
            d, y = sub[dose].astype(float).to_numpy(), sub[column].astype(float).to_numpy()
            points = []
            for level in sorted(np.unique(d)):
                iv = t_interval(y[d == level])
                points.append({"dose": float(level), "mean": iv.estimate, "se": iv.se,
                               "n": iv.n, "ci": [iv.ci_low, iv.ci_high]})
            out.append({"arm": arm, "metric": name, "points": points,
                        "lack_of_fit": lack_of_fit(d, y).to_dict()})
    return out


def paired_tests(table: pd.DataFrame, dose: str, others: list[str]) -> list[dict[str, Any]]:
    """The paired contrasts of the module doc (item 4), each with a paired t-interval.

    Example:

    >>> t = pd.DataFrame({"judge.verbosity": ["0", "3"] * 3, "seed": [0, 0, 1, 1, 2, 2],
    ...                   "final_length_drift_chars": [1.0, 9.0, -1.0, 8.0, 0.0, 10.0]})
    >>> test = paired_tests(t, "judge.verbosity", [])[0]
    >>> test["contrast"], round(test["drift"]["estimate"], 1), test["drift"]["n"]
    ('dose 3 - dose 0', 9.0, 3)
    """
    cal = "calibration" if "calibration" in others else None
    tests = []
    drift, _ = family_columns(dose)

    def contrast(name: str, arm: dict, a: pd.DataFrame, b: pd.DataFrame) -> None:
        row: dict[str, Any] = {"contrast": name, "arm": arm}
        for column, key in ((drift, "drift"), (GOLD, "gold_change")):
            va, vb = _seed_values(a, column), _seed_values(b, column)
            seeds = sorted(set(va.index) & set(vb.index))
            iv = paired_t(va.loc[seeds].to_numpy(), vb.loc[seeds].to_numpy())
            row[key] = iv.to_dict()
            row[f"{key}_excludes_zero"] = iv.excludes(0.0)
        tests.append(row)

    doses = sorted(table[dose].astype(float).unique())
    arms = list(_arms(table, others))
    base_arm = next((sub for arm, sub in arms if cal and arm.get(cal) in UNCALIBRATED), None)
    for arm, sub in arms:
        at = {d: sub[sub[dose].astype(float) == d] for d in doses}
        if 0.0 not in at:
            continue
        for d in doses:
            if d == 0.0:
                continue
            contrast(f"dose {d:g} - dose 0", arm, at[d], at[0.0])
            if base_arm is not None and cal and arm.get(cal) not in UNCALIBRATED:
                base_at = base_arm[base_arm[dose].astype(float) == d]
                base0 = base_arm[base_arm[dose].astype(float) == 0.0]
                contrast(f"dose {d:g} calibrated - dose 0 uncalibrated", arm, at[d], base0)
                contrast(f"dose {d:g} calibrated - dose {d:g} uncalibrated", arm, at[d],
                         base_at)
    return tests


def analyse(table: pd.DataFrame, grid_keys: list[str], *, n_boot: int = 2000
            ) -> dict[str, Any]:
    """study.json: cells, dose-response, propagation coefficients and paired tests.

    Example:

    >>> t = pd.DataFrame({"judge.verbosity": ["0", "3"] * 3, "seed": [0, 0, 1, 1, 2, 2],
    ...                   "final_length_drift_chars": [1.0, 9.0, -1.0, 8.0, 0.0, 10.0]})
    >>> res = analyse(t, ["judge.verbosity"], n_boot=200)
    >>> res["dose_axis"], res["n_cells"], sorted(res)[:4]
    ('judge.verbosity', 6, ['cells', 'dose_axis', 'dose_response', 'family_columns'])
    """
    dose = dose_axis(grid_keys)
    result: dict[str, Any] = {"grid": grid_keys, "dose_axis": dose,
                              "family_columns": list(family_columns(dose)),
                              "n_cells": int(len(table)),
                              "n_seeds": int(table["seed"].nunique()) if len(table) else 0}
    if table.empty:
        result["note"] = "no finished cell yet"
        return result
    result["cells"] = cell_table(table, grid_keys)
    if dose is not None:
        others = [k for k in grid_keys if k != dose]
        result["dose_response"] = dose_response(table, dose, others)
        result["propagation"] = propagation_table(table, grid_keys, n_boot=n_boot)["settings"]
        result["paired"] = paired_tests(table, dose, others)
    channels = sorted({str(c) for c in table.get("run_position_channel", pd.Series()).dropna()})
    result["position_channel"] = channels
    result["position_note"] = _position_note(channels)
    return result


def _position_note(channels: list[str]) -> str:
    if channels == ["none"]:
        return ("Labels came from both presentation orders with hard labels: a constant "
                "position offset cannot change any label (the two-order mean keeps the sign "
                "of the content term), so position bias had no channel into these policies.")
    if "label_noise" in channels:
        return ("Labels came from one random presentation order per pair: position bias "
                "enters as label noise (label_picks_first and position_label_share measure it).")
    return ""


# ---------------------------------------------------------------------------------------------
# Markdown


def _iv(d: dict | None, digits: int = 2, signed: bool = True) -> str:
    if not d:
        return "—"
    est, (lo, hi) = d.get("estimate"), d.get("ci", [None, None])
    sign = "+" if signed else ""

    def fmt(x):
        return "nan" if x is None else f"{x:{sign}.{digits}f}"
    text = f"{fmt(est)} [{fmt(lo)}, {fmt(hi)}]"
    return text + f" (n = {d.get('n')}, {d.get('method', 't')})"


def _arm_text(arm: dict) -> str:
    return ", ".join(f"{k.split('.')[-1]}={v}" for k, v in arm.items()) or "all"


def to_markdown(result: dict[str, Any]) -> str:
    """study.md: the study's tables, every interval with its n and method.

    Example:

    >>> t = pd.DataFrame({"judge.verbosity": ["0", "3"] * 3, "seed": [0, 0, 1, 1, 2, 2],
    ...                   "final_length_drift_chars": [1.0, 9.0, -1.0, 8.0, 0.0, 10.0]})
    >>> md = to_markdown(analyse(t, ["judge.verbosity"], n_boot=200))
    >>> md.splitlines()[0], "(n = 3, paired t)" in md
    ('# Study summary', True)
    """
    lines = ["# Study summary", "",
             f"{result.get('n_cells', 0)} finished cells, {result.get('n_seeds', 0)} seeds; "
             f"dose axis `{result.get('dose_axis')}`. Intervals are 95%; n is the number of "
             "seeds; method t = Student's t over seeds.", ""]
    if result.get("note"):
        return "\n".join(lines + [result["note"], ""])
    labels = family_labels(result.get("dose_axis"))
    _, drift_text, dd = labels["drift"]
    label_text = labels["label_prefers_longer"][1]
    lines += ["## Cells (final iteration; label metrics averaged over iterations)", "",
              f"| cell | {drift_text} | gold change | {label_text} | label accuracy |",
              "|---|---|---|---|---|"]
    for row in result.get("cells", []):
        lines.append(f"| {_arm_text(row['cell'])} | {_iv(row.get('drift'), dd)} | "
                     f"{_iv(row.get('gold_change'), 3)} | "
                     f"{_iv(row.get('label_prefers_longer'), 2, signed=False)} | "
                     f"{_iv(row.get('label_accuracy'), 2, signed=False)} |")
    family = family_name(result.get("dose_axis"))
    onsets = [(row["cell"], row.get(f"onset_{family}")) for row in result.get("cells", [])]
    if any(o for _, o in onsets):
        lines += ["", f"## Hacking onset ({family}; the onset rule of docs/design/studies.md)",
                  "", "| cell | runs where hacking started | median onset iteration |",
                  "|---|---|---|"]
        for cell, o in onsets:
            if o:
                med = o["median_iteration"]
                lines.append(f"| {_arm_text(cell)} | {o['n_started']} of {o['n_runs']} | "
                             f"{'—' if med is None else f'{med:g}'} |")
    if result.get("dose_response"):
        lines += ["", "## Dose-response (mean ± SE per dose; lack-of-fit F test of a line)", "",
                  "| arm | metric | per dose | line slope | lack of fit |", "|---|---|---|---|---|"]
        metric_text = {"drift": drift_text, "gold_change": "gold change",
                       "label_prefers_longer": label_text}
        for dr in result["dose_response"]:
            pts = "; ".join(f"{p['dose']:g}: {p['mean']:+.3g} ± {p['se']:.2g} (n={p['n']})"
                            if p["se"] is not None and np.isfinite(p["se"] or np.nan)
                            else f"{p['dose']:g}: {p['mean']:+.3g} (n={p['n']})"
                            for p in dr["points"])
            lof = dr["lack_of_fit"]
            p = lof.get("p_value")
            lof_text = "—" if p is None else f"F = {lof['f']:.2f}, p = {p:.3f} " \
                f"(df {lof['df_lack_of_fit']}, {lof['df_pure_error']})"
            slope = lof.get("slope")
            lines.append(f"| {_arm_text(dr['arm'])} | "
                         f"{metric_text.get(dr['metric'], dr['metric'])} | {pts} | "
                         f"{'—' if slope is None else f'{slope:+.3g}'} | {lof_text} |")
    if result.get("propagation"):
        lines += ["", "## Propagation coefficients (per-seed slopes, t-interval over seeds)", "",
                  "| arm | drift per unit dose | drift per unit label-level bias | gold per unit "
                  "dose |", "|---|---|---|---|"]
        for e in result["propagation"]:
            lines.append(f"| {_arm_text(e['setting'])} | "
                         f"{_iv(e.get('length_drift_per_unit_bias'), dd)} | "
                         f"{_iv(e.get('length_drift_per_label_bias'), max(dd - 1, 0))} | "
                         f"{_iv(e.get('gold_change_per_unit_bias'), 3)} |")
    if result.get("paired"):
        lines += ["", "## Paired tests (same seeds)", "",
                  f"| arm | contrast | {drift_text} | gold change |", "|---|---|---|---|"]
        for t in result["paired"]:
            lines.append(f"| {_arm_text(t['arm'])} | {t['contrast']} | {_iv(t['drift'], dd)}"
                         f"{' *' if t['drift_excludes_zero'] else ''} | "
                         f"{_iv(t['gold_change'], 3)}{' *' if t['gold_change_excludes_zero'] else ''} |")
        lines += ["", "\\* the 95% interval excludes 0."]
    if result.get("position_note"):
        lines += ["", "## Position bias", "", result["position_note"]]
    if result.get("failed"):
        lines += ["", "## Failed cells", ""] + [f"- {f['cell']}: {f['error']}"
                                                for f in result["failed"]]
    if (result.get("wall_s") or {}).get("median_per_cell"):
        lines += ["", f"Median wall time per cell: "
                      f"{result['wall_s']['median_per_cell'] / 60:.1f} min "
                      f"({result['wall_s']['n_cells']} cells)."]
    return "\n".join(lines) + "\n"


__all__ = ["Interval", "analyse", "cell_table", "dose_response", "family_labels", "paired_tests",
           "propagation_table", "to_markdown"]
