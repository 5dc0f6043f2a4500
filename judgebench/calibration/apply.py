"""Fit calibration steps on a labelled table and apply them to another: ``fit_and_apply``.

What ``judgebench calibrate --fit-on LABELLED --apply-to V`` runs. The held-out report
(:func:`~judgebench.calibration.pipeline.run_calibration`) says whether a pipeline helps; this
mode then uses it: every step is fitted on all of LABELLED and every row of V comes back with
``p_1``/``p_first`` calibrated and the judge's own numbers in ``p_1_raw``/``p_first_raw``.
Nothing here is evaluated (V may have no labels); check a pipeline with the report first.

>>> from judgebench.judges.simulated import simulate_verdicts
>>> lab, new = simulate_verdicts(200, seed=0), simulate_verdicts(50, seed=1).drop(columns="label")
>>> out, info = fit_and_apply(lab, new, ["swap", "temperature"])
>>> len(out) == len(new), "p_1_raw" in out, info["n_fit_pairs"]
(True, True, 200)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from judgebench.calibration.base import make_step, prepare
from judgebench.calibration.pipeline import Pipeline
from judgebench.io import to_jsonable
from judgebench.verdicts import load_table, save_table

#: The calibrated table's file name in ``out_dir``.
CALIBRATED_FILE = "verdicts.parquet"


def fit_and_apply(
    fit_on: str | Path | pd.DataFrame,
    apply_to: str | Path | pd.DataFrame,
    steps: list[str],
    out_dir: str | Path | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Fit ``steps`` on every pair of ``fit_on`` and transform every row of ``apply_to``.

    Returns (calibrated verdicts, a summary dict). With ``out_dir`` writes ``verdicts.parquet``
    (the calibrated table), ``pipeline.json`` (the fitted steps) and ``apply.json`` (the
    summary: steps, row and pair counts, failed rows, fitted params). Steps that combine judges
    (``ensemble:*``) return one row per (pair, order) instead of one per judge.

    Example:

    >>> import os, tempfile
    >>> from judgebench.judges.simulated import simulate_verdicts
    >>> lab = simulate_verdicts(40, seed=0)
    >>> new = simulate_verdicts(10, seed=1).drop(columns="label")
    >>> with tempfile.TemporaryDirectory() as d:
    ...     out, info = fit_and_apply(lab, new, ["temperature"], out_dir=d)
    ...     print(sorted(os.listdir(d)), info["n_rows_out"])
    ['apply.json', 'pipeline.json', 'verdicts.parquet'] 20
    """
    fit_table = prepare(_load(fit_on, "fit_on"))
    new_table = prepare(_load(apply_to, "apply_to"))
    if isinstance(steps, str):
        steps = steps.split(",")
    names = [s.strip() for s in steps if s and s.strip()]
    pipe = Pipeline([make_step(s) for s in names])  # an unknown name fails before any fit
    if "label" not in fit_table.columns or not fit_table["label"].notna().any():
        needs = [s.name for s in pipe._built() if s.name in _SUPERVISED]
        if needs:
            raise ValueError(f"Step(s) {needs} learn from gold but the fit_on table has no "
                             "labels in 'label'. Pass a labelled table to fit on, or use "
                             "unsupervised steps ('swap', 'length', 'ensemble:dawid_skene').")
    pipe.fit(fit_table)
    try:
        out = pipe.transform(new_table)
    except ValueError as err:
        raise ValueError(f"Applying the pipeline fitted on fit_on to apply_to failed: {err}"
                         ) from None
    info = {"steps": names,
            "n_fit_rows": int(len(fit_table)),
            "n_fit_pairs": int(fit_table["pair_id"].nunique()),
            "n_rows_in": int(len(new_table)),
            "n_rows_out": int(len(out)),
            "n_failed_in": int(new_table["failed"].sum()),
            "n_failed_out": int(out["failed"].sum()),
            "params": {s.name: s.fitted_params() for s in pipe.steps_}}
    if out_dir is not None:
        target = Path(out_dir)
        target.mkdir(parents=True, exist_ok=True)
        save_table(out, target / CALIBRATED_FILE)
        pipe.to_json(target / "pipeline.json")
        (target / "apply.json").write_text(json.dumps(to_jsonable(info), indent=2,
                                                      allow_nan=False) + "\n")
    return out, info


#: Steps that fit on gold labels.
_SUPERVISED = ("temperature", "platt", "isotonic", "ensemble:weighted")


def _load(value: str | Path | pd.DataFrame, what: str) -> pd.DataFrame:
    if isinstance(value, pd.DataFrame):
        return value
    if isinstance(value, str | Path):
        return load_table(value)
    raise TypeError(f"{what} must be a verdict table (DataFrame) or a path to one; got "
                    f"{type(value).__name__}.")


__all__ = ["fit_and_apply"]
