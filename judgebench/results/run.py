"""An RLAIF loop run's result: :class:`RunResult`, what ``run_loop`` returns.

A run is its config and one metrics row per measured iteration (metrics.jsonl); it stays the
list of rows ``run_loop`` returned before it was typed. :func:`metrics_frame` is the one
rule that turns those rows into a table (the report reads runs through it too).

>>> run = RunResult.from_rows([{"iteration": 0, "gold_mean": 0.5}], name="r")
>>> run.name, run.final["gold_mean"], run.tables["metrics"].columns.tolist()
('r', 0.5, ['iteration', 'gold_mean'])
"""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, overload

import numpy as np
import pandas as pd

from judgebench.results._base import _entry_row, _fmt, _frame, _plot_display, _Result

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


#: Columns of the tidy per-measure table of a run (one row per iteration and interval entry).
RUN_MEASURE_COLUMNS = ("iteration", "measure", "estimate", "ci_low", "ci_high", "n", "method",
                       "se")
#: metrics.jsonl keys shown in a run's notebook table, in this order (when recorded).
_RUN_SHOWN = ("evaluated", "length_chars_mean", "length_drift_chars", "gold_mean",
              "gold_change", "judge_score_raw", "judge_score_calibrated", "proxy_gold_gap",
              "label_accuracy", "label_prefers_longer")


@dataclass(eq=False, repr=False)
class RunResult(_Result, Sequence):
    """What ``run_loop`` returns: one RLAIF loop run, its config and one metrics row per iteration.

    ``rows`` are metrics.jsonl's rows (the loop's instrumentation of each finished iteration:
    held-out length and gold, judge scores, label statistics, timings); ``config`` is the
    resolved config.toml (``config_text`` its exact text), ``name`` the run folder's name.

    It behaves as the list of rows that ``run_loop`` returned before it was typed:
    ``len(run)``, ``run[-1]["length_drift_chars"]``, ``for row in run``, slicing (a list),
    and ``run == rows``. ``tables["metrics"]`` is one row per iteration (an interval entry
    ``{"estimate", "ci", "n"}`` becomes ``key``, ``key_ci_low`` and ``key_ci_high``, as in the
    report); ``tables["measures"]`` has one row per (iteration, interval entry) with
    estimate, ci_low, ci_high, n, method and se.

    :meth:`load` reads a run folder as the loop wrote it (config.toml, metrics.jsonl; the
    loop writes no manifest); :meth:`save` writes those two files, byte for byte as the loop
    does, and the manifest.

    >>> run = RunResult.from_rows([
    ...     {"iteration": 0, "length_drift_chars": 0.0, "gold_change": 0.0,
    ...      "judge_p_first": {"estimate": 0.5, "ci": [0.4, 0.6], "n": 40}},
    ...     {"iteration": 1, "length_drift_chars": 9.5, "gold_change": -0.1,
    ...      "judge_p_first": {"estimate": 0.6, "ci": [0.5, 0.7], "n": 40}}], name="demo")
    >>> len(run), run[-1]["length_drift_chars"], run.iterations
    (2, 9.5, [0, 1])
    >>> run.tables["measures"][["iteration", "measure", "estimate", "ci_low", "n"]].values.tolist()
    [[0, 'judge_p_first', 0.5, 0.4, 40], [1, 'judge_p_first', 0.6, 0.5, 40]]
    """

    kind: ClassVar[str] = "run"
    main_file: ClassVar[str] = "metrics.jsonl"
    command: ClassVar[str] = "train CONFIG"
    also_marks: ClassVar[tuple[str, ...]] = ("config.toml",)
    bare_is_current: ClassVar[bool] = True

    rows: list[dict[str, Any]]
    config: dict[str, Any] = field(default_factory=dict)
    config_text: str | None = None
    name: str = "run"

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, Any]], *, config_text: str | None = None,
                  name: str = "run") -> RunResult:
        """A run of metrics rows and, optionally, its config.toml text.

        >>> RunResult.from_rows([{"iteration": 0}], config_text="[run]\\nn_iterations = 2\\n"
        ...                     ).n_planned
        3
        """
        config = tomllib.loads(config_text) if config_text else {}
        return cls(rows=[dict(r) for r in rows], config=config, config_text=config_text,
                   name=name)

    # -- the list of today --------------------------------------------------------------------

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        """``run[i]`` is metrics row i, ``run[a:b]`` a list of rows (as before)."""
        return self.rows[index]

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.rows)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RunResult):
            return self.rows == other.rows and self.config == other.config
        if isinstance(other, list | tuple):  # the rows run_loop returned before
            return self.rows == list(other)
        return NotImplemented

    def to_dict(self) -> dict[str, Any]:
        """``{"name", "config", "metrics"}``: the run's config and metrics rows (a deep copy).

        >>> RunResult.from_rows([{"iteration": 0}], name="r").to_dict()
        {'name': 'r', 'config': {}, 'metrics': [{'iteration': 0}]}
        """
        return copy.deepcopy({"name": self.name, "config": self.config, "metrics": self.rows})

    # -- what the rows say --------------------------------------------------------------------

    @property
    def iterations(self) -> list[int]:
        """The measured iterations, in order."""
        return [int(r["iteration"]) for r in self.rows if "iteration" in r]

    @property
    def n_planned(self) -> int | None:
        """Iterations the config asks for (``[run] n_iterations`` + 1, iteration 0 included)."""
        n = self.config.get("run", {}).get("n_iterations")
        return n + 1 if isinstance(n, int) else None

    @property
    def complete(self) -> bool:
        """Whether every planned iteration was measured (a killed run resumes the rest)."""
        return self.n_planned is not None and len(self.rows) >= self.n_planned

    @property
    def final(self) -> dict[str, Any]:
        """The last iteration with a held-out evaluation (``evaluated``), as the sweep reads it."""
        evaluated = [r for r in self.rows if r.get("evaluated", True)]
        if not (evaluated or self.rows):
            raise ValueError(f"Run {self.name!r} has no metrics row yet: it stopped before its "
                             "first iteration was measured.")
        return evaluated[-1] if evaluated else self.rows[-1]

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """``metrics`` (one row per iteration) and ``measures`` (one per interval entry)."""
        return {"metrics": self._metrics(), "measures": self._measures()}

    def _metrics(self) -> pd.DataFrame:
        return metrics_frame(self.rows)

    def _measures(self) -> pd.DataFrame:
        rows = [{"iteration": r.get("iteration"), "measure": key, **_entry_row(value)}
                for r in self.rows for key, value in r.items()
                if isinstance(value, Mapping) and "estimate" in value]
        return _frame(rows, RUN_MEASURE_COLUMNS)

    # -- files --------------------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Write config.toml, metrics.jsonl (the loop's exact bytes) and the manifest.

        >>> import tempfile
        >>> run = RunResult.from_rows([{"iteration": 0, "gold_mean": 0.5}])
        >>> with tempfile.TemporaryDirectory() as d:
        ...     (run.save(d) / "metrics.jsonl").read_text()
        '{"iteration": 0, "gold_mean": 0.5}\\n'
        """
        out = Path(path)
        out.mkdir(parents=True, exist_ok=True)
        if self.config_text is not None:
            (out / "config.toml").write_text(self.config_text)
        # As Run.write_metrics writes it: one json.dumps per line, NaN refused.
        (out / "metrics.jsonl").write_text(
            "".join(json.dumps(r, allow_nan=False) + "\n" for r in self.rows))
        self._write_manifest(out)
        return out

    @classmethod
    def load(cls, path: str | Path) -> RunResult:
        """Read a run folder: as ``judgebench train`` / ``run_loop`` wrote it, or ``save``'s.

        A run killed before its first metrics row (config.toml only) has no rows.

        >>> import tempfile
        >>> run = RunResult.from_rows([{"iteration": 0}], config_text="[run]\\nn_iterations = 1\\n")
        >>> with tempfile.TemporaryDirectory() as d:
        ...     back = RunResult.load(run.save(Path(d) / "my-run"))
        >>> back == run, back.name, back.complete
        (True, 'my-run', False)
        """
        out = cls._check_dir(path)
        cfg = out / "config.toml"
        text = cfg.read_text() if cfg.is_file() else None
        rows = []
        metrics = out / "metrics.jsonl"
        if metrics.is_file():
            for k, line in enumerate(metrics.read_text().splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    rows.append(json.loads(line))
                except ValueError as err:
                    raise ValueError(f"{metrics}, line {k}, is not JSON ({err}): the loop "
                                     "writes this file atomically, so it was edited or cut "
                                     "by hand. Rerun `judgebench train CONFIG --out "
                                     f"{out}` to rebuild it.") from None
        return cls.from_rows(rows, config_text=text, name=out.resolve().name)

    # -- display ------------------------------------------------------------------------------

    def plot(self, ax: Any = None, *, panel: str | None = None) -> Any:
        """The run's drift over iterations: a
        :class:`~judgebench.report.displays.PropagationDisplay` drawn into ``ax`` (None: a new
        figure with every panel; see the Display).

        >>> run = RunResult.from_rows([{"iteration": i, "gold_mean": 0.5 - 0.1 * i}
        ...                            for i in range(3)])
        >>> run.plot(panel="gold").ax_.get_title()
        'Gold score (verifier, held-out)'
        """

        return _plot_display("PropagationDisplay", self, ax, panel)

    def _summary_line(self) -> str:
        its = self.iterations
        done = f"iterations {its[0]}–{its[-1]}" if its else "no iteration"
        plan = f" of {self.n_planned}" if self.n_planned else ""
        judge = self.config.get("judge", {}).get("spec", "?")
        steps = self.config.get("calibration", {}).get("steps") or "none"
        line = f"{self.name}: {done} measured ({len(its)}{plan}); judge {judge}; " \
               f"calibration {steps}"
        if self.rows:
            final = self.final
            for key, text in (("length_drift_chars", "length drift {:+.1f} chars"),
                              ("gold_change", "gold change {:+.3f}")):
                if isinstance(final.get(key), int | float):
                    line += "; final " + text.format(final[key])
        return line

    def _html_table(self) -> pd.DataFrame:
        m = self._metrics()
        cols = [c for c in ("iteration", *_RUN_SHOWN) if c in m.columns]
        out = m[cols].copy()
        for c in cols[1:]:
            out[c] = out[c].map(lambda v: ("yes" if v else "no") if isinstance(v, bool)
                                else _fmt(v) if isinstance(v, int | float) else v)
        return out


def metrics_frame(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """metrics.jsonl rows as one table row per iteration, sorted by iteration.

    An interval entry ``{"estimate", "ci", "n"}`` becomes three columns, ``key`` (the
    estimate), ``key_ci_low`` and ``key_ci_high``; a number, a bool, text or null stays as it
    is (null is NaN in a numeric column); lists and other nested values are left out. A key
    that no row measured (null everywhere) is a column of NaN. ``RunResult.tables["metrics"]``
    and the report's run tables are this table.

    >>> m = metrics_frame([{"iteration": 1, "gold_mean": None, "position_channel": "none",
    ...                     "judge_p_first": {"estimate": 0.6, "ci": [0.5, 0.7], "n": 9}},
    ...                    {"iteration": 0, "gold_mean": 0.5}])
    >>> m[["iteration", "gold_mean", "judge_p_first", "judge_p_first_ci_high"]].values.tolist()
    [[0.0, 0.5, nan, nan], [1.0, nan, 0.6, 0.7]]
    """
    flat = []
    for row in rows:
        out: dict[str, Any] = {}
        for key, value in row.items():
            if isinstance(value, Mapping) and "estimate" in value:
                e = _entry_row(value)
                out[key], out[f"{key}_ci_low"], out[f"{key}_ci_high"] = (
                    e.get("estimate"), e["ci_low"], e["ci_high"])
            elif value is None or isinstance(value, bool | int | float | str):
                out[key] = value
        flat.append(out)
    frame = pd.DataFrame(flat)
    # A key never measured in these rows (all None, e.g. length_explained_share) is NaN.
    for col in frame.columns[frame.isna().all().to_numpy()]:
        frame[col] = np.nan
    if "iteration" in frame:
        frame = frame.sort_values("iteration", kind="stable").reset_index(drop=True)
    return frame
