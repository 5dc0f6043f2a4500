"""A study's result: :class:`SweepResult`, what ``run_sweep`` returns, and its tidy tables.

A sweep is a grid of loop runs over seeds; its folder holds sweep.csv (one row per finished
cell), propagation.json and study.json (rlaif/study.py). :func:`study_tables` and
:func:`propagation_rows` turn the two JSON files into tidy tables, :func:`grid_axes` finds the
grid in sweep.csv's columns.

>>> propagation_rows([{"setting": {"calibration": "none"}, "length_drift_per_unit_bias":
...     {"estimate": 12.0, "ci": [3.0, 21.0], "n": 3}}])[["arm", "estimate", "n"]].values.tolist()
[['calibration=none', 12.0, 3]]
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

from judgebench.results._base import _ci, _entry_row, _fmt, _MappingResult, _plot_display


def _arm_text(arm: Mapping[str, Any]) -> str:
    """``{"calibration": "none"}`` -> ``calibration=none`` (the label study.md and plots use)."""
    return ", ".join(f"{k.split('.')[-1]}={v}" for k, v in arm.items()) or "all"


def _long(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> pd.DataFrame:
    """Rows with the grid-axis keys first (in order of appearance), then ``columns``."""
    front = list(dict.fromkeys(k for r in rows for k in r if k not in columns))
    frame = pd.DataFrame(rows, columns=[*front, *columns])
    for col in ("estimate", "ci_low", "ci_high", "se"):
        if col in frame:
            frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)
    return frame


_STUDY_COLUMNS = {
    "cells": ("cell", "n_seeds", "seeds", "metric", "estimate", "ci_low", "ci_high", "n",
              "method", "se"),
    "dose_response": ("arm", "metric", "dose", "estimate", "se", "ci_low", "ci_high", "n",
                      "lack_of_fit_p", "line_slope"),
    "propagation": ("arm", "coefficient", "estimate", "ci_low", "ci_high", "n", "method", "se"),
    "paired": ("arm", "contrast", "metric", "estimate", "ci_low", "ci_high", "n", "method", "se",
               "excludes_zero"),
}


def _interval(entry: Mapping[str, Any]) -> dict[str, Any]:
    e = _entry_row(entry)
    return {k: e.get(k) for k in ("estimate", "ci_low", "ci_high", "n", "method", "se")}


def study_tables(study: Mapping[str, Any] | None) -> dict[str, pd.DataFrame]:
    """study.json (rlaif/study.py) as tidy tables, the grid axes first in each:

    * ``cells``: one row per (grid point, metric): mean over seeds with its t-interval and n;
    * ``dose_response``: one row per (arm, metric, dose), with the lack-of-fit p of a line;
    * ``propagation``: one row per (arm, coefficient), per-seed slopes' mean and interval;
    * ``paired``: one row per (arm, contrast, metric) of the paired tests on the same seeds.

    ``arm`` is the text study.md gives an arm (``calibration=none``). A study without a
    section (or None) gives that table with its columns and no row.

    >>> cells = study_tables({"cells": [{"cell": {"judge.verbosity": "3"}, "n_seeds": 2,
    ...     "seeds": [0, 1], "drift": {"estimate": 9.0, "ci": [1.0, 17.0], "n": 2}}]})["cells"]
    >>> cells[["judge.verbosity", "metric", "estimate", "ci_high", "n"]].values.tolist()
    [['3', 'drift', 9.0, 17.0, 2]]
    """
    study = study or {}
    cells = []
    for row in study.get("cells", []):
        base = {**row["cell"], "cell": _arm_text(row["cell"]), "n_seeds": row.get("n_seeds"),
                "seeds": ",".join(str(s) for s in row.get("seeds", []))}
        cells += [{**base, "metric": key, **_interval(value)} for key, value in row.items()
                  if isinstance(value, Mapping) and "estimate" in value]
    dose = []
    for curve in study.get("dose_response", []):
        lof = curve.get("lack_of_fit") or {}
        dose += [{**curve["arm"], "arm": _arm_text(curve["arm"]), "metric": curve["metric"],
                  "dose": p["dose"], "estimate": p["mean"], "se": p.get("se"),
                  "ci_low": (p.get("ci") or [None, None])[0],
                  "ci_high": (p.get("ci") or [None, None])[1], "n": p.get("n"),
                  "lack_of_fit_p": lof.get("p_value"), "line_slope": lof.get("slope")}
                 for p in curve.get("points", [])]
    paired = [{**t["arm"], "arm": _arm_text(t["arm"]), "contrast": t["contrast"],
               "metric": key, **_interval(t[key]), "excludes_zero": t.get(f"{key}_excludes_zero")}
              for t in study.get("paired", []) for key in ("drift", "gold_change")
              if isinstance(t.get(key), Mapping)]
    frames = {"cells": _long(cells, _STUDY_COLUMNS["cells"]),
              "dose_response": _long(dose, _STUDY_COLUMNS["dose_response"]),
              "propagation": propagation_rows(study.get("propagation", [])),
              "paired": _long(paired, _STUDY_COLUMNS["paired"])}
    for col in ("dose", "lack_of_fit_p", "line_slope"):
        frames["dose_response"][col] = pd.to_numeric(frames["dose_response"][col],
                                                     errors="coerce").astype(float)
    return frames


def propagation_rows(settings: list[Mapping[str, Any]]) -> pd.DataFrame:
    """propagation.json's ``settings`` as one row per (arm, coefficient), the grid axes first.

    >>> rows = propagation_rows([{"setting": {"calibration": "length"},
    ...     "length_drift_per_unit_bias": {"estimate": 2.0, "ci": [-1.0, 5.0], "n": 4}}])
    >>> rows[["calibration", "arm", "coefficient", "estimate", "n"]].values.tolist()
    [['length', 'calibration=length', 'length_drift_per_unit_bias', 2.0, 4]]
    """
    rows = [{**s.get("setting", {}), "arm": _arm_text(s.get("setting", {})),
             "coefficient": name, **_interval(value)}
            for s in settings for name, value in s.items()
            if isinstance(value, Mapping) and "estimate" in value]
    return _long(rows, _STUDY_COLUMNS["propagation"])


def grid_axes(columns: Iterable[str]) -> list[str]:
    """The grid-axis columns of sweep.csv: every column but ``seed``, ``n_iterations`` and
    the per-run ones (``final_*``, ``mean_*``, ``run_*``), in their order.

    The one home of this rule: :class:`SweepResult`, the report and the sweep figure use it.

    >>> grid_axes(["judge.verbosity", "calibration", "seed", "n_iterations",
    ...            "final_length_drift_chars", "mean_label_accuracy", "run_dir"])
    ['judge.verbosity', 'calibration']
    """
    return [c for c in columns if c not in ("seed", "n_iterations")
            and not c.startswith(("final_", "mean_", "run_"))]


@dataclass(eq=False, repr=False)
class SweepResult(_MappingResult):
    """What ``run_sweep`` returns: a study's cells and statistics, as its folder holds them.

    ``table`` is sweep.csv (one row per finished cell: grid values as text, seed, final and
    mean metrics), ``propagation`` propagation.json, ``study`` study.json (None for a sweep
    summarised before studies had one). ``tables``: ``sweep`` (the rows), ``cells``,
    ``dose_response``, ``propagation`` and ``paired`` (tidy, see :func:`study_tables`).
    ``to_dict()`` is every file's JSON: ``{"sweep": rows, "propagation", "study"}``.

    **Deprecated:** indexing it as the dict ``run_sweep`` returned before, propagation.json's
    (``result["settings"]``), is kept for the transition only.

    ``load`` reads a sweep folder as ``run_sweep`` / ``judgebench sweep`` wrote it (they write
    no manifest), e.g. the committed ``studies/smollm2-verbosity``. The folder is read, never
    written: a sweep's files are rebuilt from its cells by ``judgebench sweep --summary-only``.

    >>> import pandas as pd
    >>> from judgebench.rlaif.study import analyse, propagation_table
    >>> t = pd.DataFrame({"judge.verbosity": ["0", "3"] * 2, "seed": [0, 0, 1, 1],
    ...                   "final_length_drift_chars": [1.0, 9.0, -1.0, 8.0],
    ...                   "final_gold_change": [0.0, -0.1, 0.0, -0.2]})
    >>> res = SweepResult(t, propagation_table(t, ["judge.verbosity"]),
    ...                   analyse(t, ["judge.verbosity"]))
    >>> res.dose_axis, res.tables["dose_response"]["estimate"].round(3).tolist()
    ('judge.verbosity', [0.0, 8.5, 0.0, -0.15])
    >>> res["bias_axis"]  # deprecated: propagation.json's dict, as run_sweep returned
    'judge.verbosity'
    """

    kind: ClassVar[str] = "sweep"
    main_file: ClassVar[str] = "sweep.csv"
    command: ClassVar[str] = "sweep CONFIG"
    also_marks: ClassVar[tuple[str, ...]] = ("propagation.json",)
    bare_is_current: ClassVar[bool] = True

    table: pd.DataFrame
    propagation: dict[str, Any] = field(default_factory=dict)
    study: dict[str, Any] | None = None
    name: str = "sweep"

    def _view(self) -> dict[str, Any]:
        return self.propagation

    def to_dict(self) -> dict[str, Any]:
        """``{"sweep": sweep.csv's rows, "propagation": ..., "study": ...}`` (JSON-able copy).

        >>> SweepResult(pd.DataFrame({"judge.verbosity": ["3"], "seed": [0]})).to_dict()
        {'sweep': [{'judge.verbosity': '3', 'seed': 0}], 'propagation': {}, 'study': None}
        """

        rows = self.table.astype(object).where(self.table.notna(), None).to_dict("records")
        return copy.deepcopy({"sweep": rows, "propagation": self.propagation,
                              "study": self.study})

    @property
    def grid(self) -> list[str]:
        """The grid axes (study.json's ``grid``, else sweep.csv's non-metric columns)."""
        if self.study and self.study.get("grid"):
            return list(self.study["grid"])
        return grid_axes(list(self.table.columns))

    @property
    def dose_axis(self) -> str | None:
        """The grid axis read as the injected dose (judge.verbosity, else a judge.* axis)."""
        return (self.study or {}).get("dose_axis") or self.propagation.get("bias_axis")

    @property
    def n_cells(self) -> int:
        """Finished cells (rows of sweep.csv)."""
        return len(self.table)

    @property
    def failed(self) -> list[dict[str, Any]]:
        """The cells that failed, with their errors (study.json; a rerun retries them)."""
        return list((self.study or {}).get("failed", []))

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """``sweep`` (sweep.csv), then study.json's ``cells``, ``dose_response``,
        ``propagation`` (propagation.json's, when there) and ``paired``."""
        study = study_tables(self.study)
        if self.propagation.get("settings") is not None:
            study["propagation"] = propagation_rows(self.propagation["settings"])
        return {"sweep": self.table, **study}

    @classmethod
    def load(cls, path: str | Path) -> SweepResult:
        """Read a sweep folder: sweep.csv, propagation.json and study.json (read only).

        Grid values are read as text (``"3"``), as propagation.json's settings name them.

        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     _ = (Path(d) / "sweep.csv").write_text(
        ...         "judge.verbosity,seed,final_length_drift_chars\\n3,0,9.5\\n")
        ...     res = SweepResult.load(d)
        >>> res.grid, res.table["judge.verbosity"].tolist(), res.n_cells, res.study is None
        (['judge.verbosity'], ['3'], 1, True)
        """
        out = cls._check_dir(path)
        study = _read_json(out / "study.json")
        prop = _read_json(out / "propagation.json") or {}
        table = pd.DataFrame()
        try:
            header = list(pd.read_csv(out / "sweep.csv", nrows=0).columns)
        except (FileNotFoundError, pd.errors.EmptyDataError):
            header = []  # no sweep.csv, or no finished cell yet (summarize writes a bare line)
        if header:
            grid = (study or {}).get("grid") or grid_axes(header)
            # Grid values stay text, so that they match propagation.json's settings exactly.
            text = {c: str for c in (*grid, "run_dir", "run_position_channel") if c in header}
            table = pd.read_csv(out / "sweep.csv", dtype=text)
        return cls(table=table, propagation=prop, study=study, name=out.resolve().name)

    def plot(self, ax: Any = None, *, panel: str | None = None) -> Any:
        """The study's dose-response: a :class:`~judgebench.report.displays.DoseResponseDisplay`
        drawn into ``ax`` (None: a new figure with every panel).

        >>> curve = {"arm": {"calibration": "none"}, "metric": "drift", "points": [
        ...     {"dose": 0.0, "mean": 1.0, "n": 3, "ci": [-3.0, 5.0]},
        ...     {"dose": 3.0, "mean": 50.0, "n": 3, "ci": [11.0, 89.0]}]}
        >>> res = SweepResult(pd.DataFrame(), study={"dose_response": [curve], "n_seeds": 3,
        ...                                          "dose_axis": "judge.verbosity"})
        >>> res.plot(panel="drift").ax_.get_xlabel()
        'injected dose (judge.verbosity)'
        """

        return _plot_display("DoseResponseDisplay", self, ax, panel)

    def _summary_line(self) -> str:
        n_seeds = self.table["seed"].nunique() if "seed" in self.table else 0
        failed = f"; {len(self.failed)} failed" if self.failed else ""
        return (f"{self.name}: {self.n_cells} finished cells over {n_seeds} seed(s); grid "
                f"{', '.join(self.grid) or 'none'}; dose axis {self.dose_axis}{failed}")

    def _html_table(self) -> pd.DataFrame:
        cells = self.tables["cells"]
        if cells.empty:
            keep = [c for c in (*self.grid, "seed", "final_length_drift_chars",
                                "final_gold_change") if c in self.table.columns]
            return self.table[keep]
        shown = cells[cells["metric"].isin(("drift", "gold_change", "label_prefers_longer",
                                            "label_accuracy"))]
        wide = shown.assign(value=[f"{_fmt(r.estimate)} {_ci(r)}".strip()
                                   for r in shown.itertuples()])
        table = wide.pivot(index=["cell", "n_seeds"], columns="metric", values="value")
        order = [m for m in ("drift", "gold_change", "label_prefers_longer", "label_accuracy")
                 if m in table.columns]
        cell_order = list(dict.fromkeys(shown["cell"]))
        table = table[order].reset_index().set_index("cell").loc[cell_order].reset_index()
        return table.rename(columns={m: f"{m} [95% CI]" for m in order}).rename_axis(
            columns=None)


def _read_json(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as err:
        raise ValueError(f"{path} is not readable JSON ({err}); rebuild the sweep's files with "
                         f"`judgebench sweep --summary-only --out {path.parent}`.") from None
    return data if isinstance(data, dict) else None
