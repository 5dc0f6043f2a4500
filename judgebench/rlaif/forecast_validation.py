"""Validating and refitting the forecast: leave one study cell out, then refit on them all.

The forecast (``rlaif/forecast.py``) is only as good as its error on cells it did not see. Each
finished study cell is dropped in turn, the dose-response form is refitted on the rest, and the
dropped cell's drift is predicted with its interval; the summary gives the median absolute and
relative error (on cells whose drift is large against the seed noise) and the intervals'
coverage. :func:`refit` fits the shipped model and writes that validation beside the study
(forecast_validation.{json,md,png}). Decisions: ``docs/design/forecast.md``.

>>> import numpy as np, pandas as pd
>>> x = np.repeat([0.0, 0.2, 0.4], 4)
>>> table = pd.DataFrame({"cell": [f"c{i}" for i in range(12)], "family": "length",
...                       "horizon": 4, "x": x, "bias0": x == 0, "study": "s",
...                       "drift": 10 + 100 * x + np.tile([-2, -1, 1, 2], 3)})
>>> v = leave_one_out(table, form="linear")
>>> v.summary["n_cells"], round(v.summary["median_abs_error"], 1)
(12, 1.7)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from judgebench.rlaif.forecast import FORMS, TARGETS, ForecastModel, _form, study_table

#: A large-drift cell's |drift - unbiased drift| exceeds this many seed-noise SDs.
LARGE_DRIFT_SDS = 2.0


@dataclass
class ForecastValidation:
    """Leave-one-cell-out predictions of one (family, target, horizon) and their summary.

    Example:

    >>> v = ForecastValidation(pd.DataFrame({"cell": ["c0"], "abs_error": [1.5]}),
    ...                        {"family": "length", "n_cells": 1})
    >>> v.to_dict()
    {'family': 'length', 'n_cells': 1, 'cells': [{'cell': 'c0', 'abs_error': 1.5}]}
    """

    table: pd.DataFrame  #: cell, x, observed, estimate, low, high, covered, abs_error, ...
    summary: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        from judgebench.io import to_jsonable

        return to_jsonable({**self.summary, "cells": self.table.to_dict("records")})


def leave_one_out(table: pd.DataFrame, *, form: str = "saturating", level: float = 0.8,
                  family: str = "length", target: str = "drift", horizon: int | None = None
                  ) -> ForecastValidation:
    """Refit without each cell in turn and predict it (``horizon`` default: the largest).

    Seed noise: the SD of the target over the bias-0 cells (``bias0``). A cell is large-drift
    when |observed - mean bias-0 target| > LARGE_DRIFT_SDS · that SD; its relative error is
    |estimate - observed| / |observed - mean bias-0 target| (the error on the bias's effect).
    Coverage: the share of cells whose observed value lies in the ``level`` interval.

    Example:

    >>> x = np.repeat([0.0, 0.2, 0.4], 4)
    >>> table = pd.DataFrame({"cell": [f"c{i}" for i in range(12)], "family": "length",
    ...                       "horizon": 4, "x": x, "bias0": x == 0, "study": "s",
    ...                       "drift": 10 + 100 * x + np.tile([-2, -1, 1, 2], 3),
    ...                       "gold_change": -x})
    >>> v = leave_one_out(table, form="linear", target="gold_change")
    >>> v.summary["n_cells"], round(v.summary["median_abs_error"], 3)
    (12, 0.0)
    """
    sub, horizon = _cells_of(table, family, horizon)
    cls = _form(form)
    rows = []
    for i in range(len(sub)):
        rest = sub.drop(index=i)
        pred = cls(level=level).fit(rest["x"], rest[target].astype(float)) \
            .predict([sub.loc[i, "x"]]).iloc[0]
        obs = float(sub.loc[i, target])
        rows.append({"cell": sub.loc[i, "cell"], "x": float(sub.loc[i, "x"]),
                     "bias0": bool(sub.loc[i, "bias0"]), "observed": obs,
                     "estimate": pred["estimate"], "low": pred["low"], "high": pred["high"],
                     "covered": bool(pred["low"] <= obs <= pred["high"]),
                     "abs_error": abs(pred["estimate"] - obs)})
    out = pd.DataFrame(rows)
    base, sd0, d0 = _seed_noise(sub, target)
    effect = (out["observed"] - d0).abs()
    out["large"] = effect > LARGE_DRIFT_SDS * sd0 if np.isfinite(sd0) else False
    out["rel_error"] = np.where(out["large"], out["abs_error"] / effect, np.nan)
    large = out[out["large"]]
    summary = {"family": family, "target": target, "horizon": horizon, "form": form,
               "level": level, "n_cells": int(len(out)),
               "n_bias0_cells": int(len(base)), "seed_noise_sd": sd0, "unbiased_mean": d0,
               "large_drift_threshold": LARGE_DRIFT_SDS * sd0,
               "median_abs_error": float(out["abs_error"].median()),
               "n_large": int(len(large)),
               "median_rel_error_large": float(large["rel_error"].median())
               if len(large) else float("nan"),
               "coverage": float(out["covered"].mean()),
               "median_interval_width": float((out["high"] - out["low"]).median())}
    summary["oracle_rel_error_large"] = _seed_noise_floor(sub, out, target, effect)
    if not np.isfinite(sd0):
        summary["note"] = (f"{len(base)} bias-0 cell(s): the seed noise needs >= 2, so no "
                           "cell is classed large-drift.")
    return ForecastValidation(out, summary)


def _cells_of(table: pd.DataFrame, family: str, horizon: int | None
              ) -> tuple[pd.DataFrame, int]:
    """The family's cells at ``horizon`` (default: its largest), and that horizon."""
    sub = table[table["family"] == family]
    if sub.empty:
        raise ValueError(f"No cell of family {family!r}; families: "
                         f"{sorted(table['family'].unique())}.")
    horizon = int(sub["horizon"].max()) if horizon is None else horizon
    return sub[sub["horizon"] == horizon].reset_index(drop=True), horizon


def _seed_noise(sub: pd.DataFrame, target: str) -> tuple[pd.Series, float, float]:
    """The bias-0 cells' target values, their SD (the seed noise; NaN below 2) and mean."""
    base = sub.loc[sub["bias0"], target].astype(float)
    sd0 = float(base.std(ddof=1)) if len(base) >= 2 else float("nan")
    return base, sd0, float(base.mean()) if len(base) else float("nan")


#: Columns naming a cell's grid point (its config apart from the seed), where present.
POINT_KEYS = ("study", "family", "dose", "calibration")


def _point_keys(sub: pd.DataFrame) -> list[str]:
    return [k for k in POINT_KEYS if k in sub.columns]


def _seed_noise_floor(sub: pd.DataFrame, out: pd.DataFrame, target: str,
                      effect: pd.Series) -> float:
    """Median relative error, on the large-drift cells, of an oracle that knows each cell's
    grid point and predicts the mean of that point's *other* seeds: what seed noise alone costs
    a per-cell forecast, however good (NaN without a ``dose`` column or repeated seeds)."""
    if "dose" not in sub.columns or not out["large"].any():
        return float("nan")
    keys = _point_keys(sub)
    y = sub[target].astype(float)
    grouped = y.groupby([sub[k].astype(str) for k in keys])
    total, count = grouped.transform("sum"), grouped.transform("count")
    others = (total - y) / (count - 1).where(count > 1)
    err = (others - y).abs().to_numpy() / effect.to_numpy()
    use = out["large"].to_numpy() & np.isfinite(err)
    return float(np.median(err[use])) if use.any() else float("nan")


def leave_one_point_out(table: pd.DataFrame, *, form: str = "saturating", level: float = 0.8,
                        family: str = "length", target: str = "drift",
                        horizon: int | None = None) -> ForecastValidation:
    """Refit without each grid point (all its seeds) and predict the point's seed mean.

    A grid point is a config apart from its seed (:data:`POINT_KEYS`: study, family, dose,
    calibration). The forecast is made at the point's mean x; its interval is for a mean over
    the point's n seeds (the residual variance divided by n, plus the curve's own uncertainty).
    A point is large-drift when |mean - mean bias-0 target| > LARGE_DRIFT_SDS · seed SD / √n.
    This is the question a user asks of a config ("what will this judge do to my policy, on
    average over seeds?"), where :func:`leave_one_out` asks it of one seed's run.

    >>> import numpy as np, pandas as pd
    >>> dose = np.repeat([0.0, 1.0, 2.0, 3.0], 3)
    >>> table = pd.DataFrame({"cell": [f"c{i}" for i in range(12)], "family": "length",
    ...                       "horizon": 4, "x": dose / 10, "dose": dose, "bias0": dose == 0,
    ...                       "study": "s", "drift": 10 * dose + np.tile([-1, 0, 1], 4)})
    >>> v = leave_one_point_out(table, form="linear")
    >>> v.summary["n_points"], round(v.summary["median_rel_error_large"], 3)
    (4, 0.0)
    """
    if "dose" not in table.columns:
        raise ValueError("leave_one_point_out needs a 'dose' column naming each cell's grid "
                         "point (study_table gives it).")
    sub, horizon = _cells_of(table, family, horizon)
    point = sub[_point_keys(sub)].astype(str).agg(", ".join, axis=1)
    _, sd0, d0 = _seed_noise(sub, target)
    cls = _form(form)
    rows = []
    for name in dict.fromkeys(point):  # first-seen order
        held = point == name
        fit = cls(level=level).fit(sub.loc[~held, "x"], sub.loc[~held, target].astype(float))
        n = int(held.sum())
        x = float(sub.loc[held, "x"].mean())
        pred = fit.predict([x]).iloc[0]
        # The point's mean has 1/n of a cell's residual variance; the curve's own part stays.
        se = float(np.sqrt(max(pred["se"] ** 2 - fit.resid_var_ * (1 - 1 / n), 0.0)))
        half = float(sps.t.ppf(0.5 + level / 2, fit.df_)) * se
        obs = float(sub.loc[held, target].astype(float).mean())
        est = float(pred["estimate"])
        rows.append({"point": name, "n_seeds": n, "x": x, "observed": obs, "estimate": est,
                     "low": est - half, "high": est + half,
                     "covered": bool(est - half <= obs <= est + half),
                     "abs_error": abs(est - obs),
                     "bias0": bool(sub.loc[held, "bias0"].all())})
    out = pd.DataFrame(rows)
    effect = (out["observed"] - d0).abs()
    threshold = LARGE_DRIFT_SDS * sd0 / np.sqrt(out["n_seeds"])
    out["large"] = effect > threshold if np.isfinite(sd0) else False
    out["rel_error"] = np.where(out["large"], out["abs_error"] / effect, np.nan)
    large = out[out["large"]]
    summary = {"family": family, "target": target, "horizon": horizon, "form": form,
               "level": level, "n_points": int(len(out)), "n_cells": int(len(sub)),
               "seed_noise_sd": sd0, "unbiased_mean": d0,
               "median_abs_error": float(out["abs_error"].median()),
               "n_large": int(len(large)),
               "median_rel_error_large": float(large["rel_error"].median())
               if len(large) else float("nan"),
               "coverage": float(out["covered"].mean())}
    return ForecastValidation(out, summary)


def validation_report(table: pd.DataFrame, *, level: float = 0.8) -> dict[str, Any]:
    """Leave-one-out of both forms, for drift and gold change at every horizon.

    Example:

    >>> x = np.repeat([0.0, 0.2, 0.4], 4)
    >>> table = pd.DataFrame({"cell": [f"c{i}" for i in range(12)], "family": "length",
    ...                       "horizon": 4, "x": x, "bias0": x == 0, "study": "s",
    ...                       "drift": 10 + 100 * x + np.tile([-2, -1, 1, 2], 3),
    ...                       "gold_change": -x})
    >>> report = validation_report(table)
    >>> [(v["target"], v["form"]) for v in report["validations"]][:2]
    [('drift', 'saturating'), ('drift', 'linear')]
    """
    runs = [leave_one_out(table, form=form, level=level, family=family, target=target,
                          horizon=int(h))
            for family in sorted(table["family"].unique())
            for h in sorted(table.loc[table["family"] == family, "horizon"].unique())
            for target in TARGETS for form in FORMS]
    text = " ".join(leave_one_out.__doc__.split("\n\n")[1].split())
    points = [leave_one_point_out(table, form=form, level=level, family=family,
                                  target=target)
              for family in sorted(table["family"].unique())
              for target in TARGETS for form in FORMS] if "dose" in table.columns else []
    return {"definition": text.replace("LARGE_DRIFT_SDS", f"{LARGE_DRIFT_SDS:g}"),
            "n_cells": int(table["cell"].nunique()),
            "studies": sorted(table["study"].unique()),
            "validations": [v.to_dict() for v in runs],
            "point_validations": [v.to_dict() for v in points], "_objects": runs}


def validation_markdown(report: dict[str, Any]) -> str:
    """forecast_validation.md: the summary per (target, horizon, form), then the cells.

    Example:

    >>> x = np.repeat([0.0, 0.2, 0.4], 4)
    >>> table = pd.DataFrame({"cell": [f"c{i}" for i in range(12)], "family": "length",
    ...                       "horizon": 4, "x": x, "bias0": x == 0, "study": "s",
    ...                       "drift": 10 + 100 * x + np.tile([-2, -1, 1, 2], 3),
    ...                       "gold_change": -x})
    >>> md = validation_markdown(validation_report(table))
    >>> md.splitlines()[0], "| length | drift | 4 | linear |" in md
    ('# Forecast validation (leave one cell out)', True)
    """
    lines = ["# Forecast validation (leave one cell out)", "",
             f"{report['n_cells']} finished cells of {', '.join(report['studies'])}. "
             f"{report['definition']}", "",
             "| family | target | after | form | median abs error | median rel. error "
             "(large-drift cells) | coverage | n |", "|---|---|---|---|---|---|---|---|"]
    def pct(value, n):
        return "—" if value is None or not np.isfinite(value) else f"{value:.0%} (n = {n})"

    for v in report["validations"]:
        lines.append(f"| {v['family']} | {v['target']} | {v['horizon']} | {v['form']} | "
                     f"{v['median_abs_error']:.3g} | "
                     f"{pct(v['median_rel_error_large'], v['n_large'])} | "
                     f"{v['coverage']:.0%} ({v['level']:.0%} intervals) | {v['n_cells']} |")
    floors = [v for v in report["validations"] if v.get("oracle_rel_error_large") is not None
              and v["form"] == "saturating"]
    if floors:
        lines += ["", "**The floor seed noise sets.** An oracle that knows each cell's grid "
                  "point and predicts the mean of that point's other seeds has this median "
                  "relative error on the same large-drift cells: "
                  + "; ".join(f"{v['family']} {v['target']} after {v['horizon']}: "
                              f"{pct(v['oracle_rel_error_large'], v['n_large'])}"
                              for v in floors) + "."]
    if report.get("point_validations"):
        lines += ["", "## Grid points (leave one grid point out; the seed mean is predicted)",
                  "", "| family | target | after | form | median abs error | median rel. error "
                  "(large-drift points) | coverage | points |", "|---|---|---|---|---|---|---|---|"]
        for v in report["point_validations"]:
            lines.append(f"| {v['family']} | {v['target']} | {v['horizon']} | {v['form']} | "
                         f"{v['median_abs_error']:.3g} | "
                         f"{pct(v['median_rel_error_large'], v['n_large'])} | "
                         f"{v['coverage']:.0%} ({v['level']:.0%} intervals for a mean) | "
                         f"{v['n_points']} |")
    lines += ["", "## Cells (final horizon, drift)", "",
              "| form | cell | x | observed | forecast | interval | large |",
              "|---|---|---|---|---|---|---|"]
    last = max(v["horizon"] for v in report["validations"])
    for v in report["validations"]:
        if v["target"] != "drift" or v["horizon"] != last:
            continue
        # Length drifts are characters; a feature's drift is a change in a share of responses.
        d = 1 if v["family"] == "length" else 3
        for c in v["cells"]:
            lo, hi = c["low"], c["high"]
            iv = "unbounded" if lo is None or hi is None else f"[{lo:+.{d}f}, {hi:+.{d}f}]"
            lines.append(f"| {v['form']} | {c['cell']} | {c['x']:+.3f} | "
                         f"{c['observed']:+.{d}f} | {c['estimate']:+.{d}f} | {iv} | "
                         f"{'yes' if c['large'] else ''} |")
    return "\n".join(lines) + "\n"


def refit(study_dirs: str | Path | Sequence[str | Path], model_out: str | Path, *,
          form: str = "saturating", level: float = 0.8,
          validation_dir: str | Path | None = None,
          draw: Any = None) -> tuple[ForecastModel, dict[str, Any]]:
    """Fit a model on the studies, write it, and write forecast_validation.{json,md} (and .png).

    The validation files go to ``validation_dir`` (default: the study folder when one is
    given, else the model's folder); never into cells/. ``draw``: a function from the drift
    validations to PNG bytes (report.plots.forecast_validation_png; the figure lives in the
    report layer, which this stage does not import), or None for no figure.

    Example (on a committed study; the model goes to a temporary folder):

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:                     # doctest: +SKIP
    ...     model, report = refit("studies/smollm2-verbosity", f"{tmp}/forecast.json",
    ...                           validation_dir=tmp)
    >>> model.horizons_, report["n_cells"]                             # doctest: +SKIP
    ([2, 4], 36)
    """
    from judgebench.io import atomic_write

    table = study_table(study_dirs)
    fm = ForecastModel(form=form, level=level).fit(table)
    fm.to_json(model_out)
    report = validation_report(table, level=level)
    dirs = [study_dirs] if isinstance(study_dirs, str | Path) else list(study_dirs)
    out = Path(validation_dir or (dirs[0] if len(dirs) == 1 else Path(model_out).parent))
    objects = report.pop("_objects")
    atomic_write(out / "forecast_validation.json", json.dumps(report, indent=1))
    atomic_write(out / "forecast_validation.md", validation_markdown(report))
    if draw is not None:
        last = max(v.summary["horizon"] for v in objects)
        png = draw([v for v in objects if v.summary["target"] == "drift"
                    and v.summary["horizon"] == last])
        (out / "forecast_validation.png").write_bytes(png)
    return fm, report


__all__ = ["LARGE_DRIFT_SDS", "POINT_KEYS", "ForecastValidation", "leave_one_out",
           "leave_one_point_out", "refit",
           "validation_markdown", "validation_report"]
