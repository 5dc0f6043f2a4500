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

from judgebench.rlaif.forecast import FORMS, TARGETS, ForecastModel, _form, study_table

#: A large-drift cell's |drift - unbiased drift| exceeds this many seed-noise SDs.
LARGE_DRIFT_SDS = 2.0


@dataclass
class ForecastValidation:
    """Leave-one-cell-out predictions of one (family, target, horizon) and their summary."""

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
    """
    sub = table[table["family"] == family]
    if sub.empty:
        raise ValueError(f"No cell of family {family!r}; families: "
                         f"{sorted(table['family'].unique())}.")
    horizon = int(sub["horizon"].max()) if horizon is None else horizon
    sub = sub[sub["horizon"] == horizon].reset_index(drop=True)
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
    base = sub.loc[sub["bias0"], target].astype(float)
    sd0 = float(base.std(ddof=1)) if len(base) >= 2 else float("nan")
    d0 = float(base.mean()) if len(base) else float("nan")
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
    if not np.isfinite(sd0):
        summary["note"] = (f"{len(base)} bias-0 cell(s): the seed noise needs >= 2, so no "
                           "cell is classed large-drift.")
    return ForecastValidation(out, summary)


def validation_report(table: pd.DataFrame, *, level: float = 0.8) -> dict[str, Any]:
    """Leave-one-out of both forms, for drift and gold change at every horizon."""
    runs = [leave_one_out(table, form=form, level=level, family=family, target=target,
                          horizon=int(h))
            for family in sorted(table["family"].unique())
            for h in sorted(table.loc[table["family"] == family, "horizon"].unique())
            for target in TARGETS for form in FORMS]
    text = " ".join(leave_one_out.__doc__.split("\n\n", 1)[1].split())
    return {"definition": text.replace("LARGE_DRIFT_SDS", f"{LARGE_DRIFT_SDS:g}"),
            "n_cells": int(table["cell"].nunique()),
            "studies": sorted(table["study"].unique()),
            "validations": [v.to_dict() for v in runs], "_objects": runs}


def validation_markdown(report: dict[str, Any]) -> str:
    """forecast_validation.md: the summary per (target, horizon, form), then the cells."""
    lines = ["# Forecast validation (leave one cell out)", "",
             f"{report['n_cells']} finished cells of {', '.join(report['studies'])}. "
             f"{report['definition']}", "",
             "| family | target | after | form | median abs error | median rel. error "
             "(large-drift cells) | coverage | n |", "|---|---|---|---|---|---|---|---|"]
    for v in report["validations"]:
        rel = v["median_rel_error_large"]
        rel_text = "—" if rel is None else f"{rel:.0%} (n = {v['n_large']})"
        lines.append(f"| {v['family']} | {v['target']} | {v['horizon']} | {v['form']} | "
                     f"{v['median_abs_error']:.3g} | {rel_text} | "
                     f"{v['coverage']:.0%} ({v['level']:.0%} intervals) | {v['n_cells']} |")
    lines += ["", "## Cells (final horizon, drift)", "",
              "| form | cell | x | observed | forecast | interval | large |",
              "|---|---|---|---|---|---|---|"]
    last = max(v["horizon"] for v in report["validations"])
    for v in report["validations"]:
        if v["target"] != "drift" or v["horizon"] != last:
            continue
        for c in v["cells"]:
            lo, hi = c["low"], c["high"]
            iv = "unbounded" if lo is None or hi is None else f"[{lo:+.1f}, {hi:+.1f}]"
            lines.append(f"| {v['form']} | {c['cell']} | {c['x']:+.3f} | "
                         f"{c['observed']:+.1f} | {c['estimate']:+.1f} | {iv} | "
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


__all__ = ["LARGE_DRIFT_SDS", "ForecastValidation", "leave_one_out", "refit",
           "validation_markdown", "validation_report"]
