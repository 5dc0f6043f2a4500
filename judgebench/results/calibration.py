"""The calibration's result: :class:`CalibrationResult`, what ``run_calibration`` returns.

Every stage's held-out metrics (calibration.json), the fitted pipeline (pipeline.json) and the
reliability and split tables; ``tables["metrics"]`` is the tidy view, one row per (stage,
judge, measure). ``save``/``load`` write and read the files of ``judgebench calibrate --out``.

>>> res = CalibrationResult.from_dict({"raw": {"ece": {"estimate": 0.2, "ci": [0.1, 0.3],
...                                                    "n": 50}}})
>>> res.tables["metrics"][["stage", "judge", "measure", "estimate"]].values.tolist()
[['raw', 'all', 'ece', 0.2]]
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

from judgebench.results._base import _ci, _entry_row, _fmt, _frame, _MappingResult, _read_csv, _walk

CALIBRATION_COLUMNS = ("stage", "judge", "measure", "estimate", "ci_low", "ci_high", "n",
                       "n_failed", "n_boot_failed", "method", "hurts")
#: The metrics evaluate() also reports per judge (calibration_metrics' keys).
_PER_JUDGE = ("accuracy", "nll", "brier", "ece", "ece_adaptive")


@dataclass(eq=False, repr=False)
class CalibrationResult(_MappingResult):
    """What ``run_calibration`` returns: every stage's held-out metrics, and the fitted pipeline.

    ``stages`` maps "raw" and each step (in order) to its entry in ``calibration.json``: the
    held-out metrics (``{"estimate", "ci", "n", ...}``), the step's fitted ``params`` and
    ``hurts``. ``warnings`` are the top-level warnings. ``pipeline`` is the fitted pipeline as
    saved in pipeline.json (``Pipeline.from_dict(result.pipeline)`` rebuilds it);
    ``reliability`` and ``split`` are reliability.csv and split.csv.

    ``tables["metrics"]`` is the tidy view: one row per (stage, judge, measure); rows with
    judge "all" pool every judge (all metrics), and each judge has rows of its own for the
    calibration metrics (ECE, Brier, NLL, accuracy), one judge as well as several. ``hurts``
    says whether that stage made the metric worse than the stage before.

    Indexing it as the dict it replaces (``result["swap"]["ece"]``) is deprecated and kept for
    the transition only: use :meth:`metric` or ``tables``.

    >>> from judgebench.judges.simulated import simulate_verdicts
    >>> from judgebench.calibration import run_calibration
    >>> r = run_calibration(simulate_verdicts(200, seed=0, position=1.0), ["swap"], n_boot=20)
    >>> r.stage_names, r.metric("swap", "position_consistency")["estimate"]
    (['raw', 'swap'], 1.0)
    """

    kind: ClassVar[str] = "calibration"
    main_file: ClassVar[str] = "calibration.json"
    command: ClassVar[str] = "calibrate"

    stages: dict[str, dict[str, Any]]
    warnings: list[str] = field(default_factory=list)
    pipeline: dict[str, Any] | None = None
    reliability: pd.DataFrame | None = None
    split: pd.DataFrame | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], **tables: Any) -> CalibrationResult:
        """The result of a ``calibration.json`` dict; ``tables`` fill the other fields.

        >>> CalibrationResult.from_dict({"raw": {}, "swap": {}, "warnings": ["w"]}).stage_names
        ['raw', 'swap']
        """
        if "raw" not in data:
            raise ValueError("Not a calibration result: the dict needs a 'raw' stage; it has "
                             f"{sorted(data)}.")
        stages = {k: v for k, v in data.items() if k != "warnings"}
        return cls(stages=stages, warnings=list(data.get("warnings", [])), **tables)

    def _view(self) -> dict[str, Any]:
        return {**self.stages, "warnings": self.warnings}

    @property
    def stage_names(self) -> list[str]:
        """"raw", then each step's key (a repeated step is "name#2")."""
        return list(self.stages)

    def metric(self, stage: str, name: str) -> dict[str, Any]:
        """One held-out metric of one stage, e.g. ``metric("swap", "ece")``.

        >>> res = CalibrationResult.from_dict({"raw": {"ece": {"estimate": 0.2, "n": 50}}})
        >>> res.metric("raw", "ece")["estimate"]
        0.2
        >>> res.metric("raw", "brier")
        Traceback (most recent call last):
        KeyError: "No metric 'brier' in stage 'raw'; metrics: ['ece']."
        """
        if stage not in self.stages:
            raise KeyError(f"No stage {stage!r}; stages: {self.stage_names}.")
        entry = self.stages[stage].get(name)
        if not (isinstance(entry, Mapping) and "estimate" in entry):
            known = [m for m, _ in _walk(self.stages[stage], "") if "." not in m]
            raise KeyError(f"No metric {name!r} in stage {stage!r}; metrics: {known}.")
        return entry

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """``metrics`` (tidy; see the class doc), ``reliability`` and ``split`` when present."""
        out = {"metrics": self._metrics()}
        if self.reliability is not None:
            out["reliability"] = self.reliability
        if self.split is not None:
            out["split"] = self.split
        return out

    def _metrics(self) -> pd.DataFrame:
        rows = []
        for stage, entry in self.stages.items():
            hurts = set(entry.get("hurts", []))
            judges = entry.get("judges") or []
            # One judge: the pooled metrics are its own (evaluate() writes by_judge for >1).
            by_judge = entry.get("by_judge") or (
                {judges[0]: {k: v for k, v in entry.items() if k in _PER_JUDGE}}
                if len(judges) == 1 else {})
            for who, metrics, failed in (
                    ("all", entry, entry.get("n_failed")),
                    *((j, m, entry.get("n_failed") if len(judges) == 1 else None)
                      for j, m in by_judge.items())):
                for name, value in metrics.items():
                    if isinstance(value, Mapping) and "estimate" in value:
                        rows.append({"stage": stage, "judge": who, "measure": name,
                                     "n_failed": failed, "hurts": name in hurts,
                                     **_entry_row(value)})
        return _frame(rows, CALIBRATION_COLUMNS)

    def save(self, path: str | Path) -> Path:
        """Write calibration.json, pipeline.json, reliability.csv, split.csv and the manifest.

        >>> import tempfile
        >>> res = CalibrationResult.from_dict({"raw": {}}, pipeline={"steps": []})
        >>> with tempfile.TemporaryDirectory() as d:
        ...     sorted(p.name for p in res.save(d).iterdir())
        ['.judgebench-result.json', 'calibration.json', 'pipeline.json']
        """
        out = Path(path)
        out.mkdir(parents=True, exist_ok=True)
        (out / "calibration.json").write_text(json.dumps(self._view(), indent=2,
                                                         allow_nan=False))
        if self.pipeline is not None:  # the text Pipeline.to_json writes
            (out / "pipeline.json").write_text(json.dumps(self.pipeline, indent=2,
                                                          allow_nan=False))
        if self.reliability is not None:
            self.reliability.to_csv(out / "reliability.csv", index=False)
        if self.split is not None:
            self.split.to_csv(out / "split.csv", index=False)
        self._write_manifest(out)
        return out

    @classmethod
    def load(cls, path: str | Path) -> CalibrationResult:
        """Read a saved calibration (``save`` or ``judgebench calibrate --out``).

        >>> import tempfile
        >>> res = CalibrationResult.from_dict({"raw": {"ece": {"estimate": 0.2, "n": 50}}})
        >>> with tempfile.TemporaryDirectory() as d:
        ...     back = CalibrationResult.load(res.save(d))
        >>> back.to_dict() == res.to_dict(), back.pipeline is None
        (True, True)
        """

        out = cls._check_dir(path)
        data = json.loads((out / "calibration.json").read_text())
        pipe = out / "pipeline.json"
        return cls.from_dict(
            data, pipeline=json.loads(pipe.read_text()) if pipe.is_file() else None,
            reliability=_read_csv(out / "reliability.csv"), split=_read_csv(out / "split.csv"))

    def _summary_line(self) -> str:
        split = self.stages.get("raw", {}).get("split", {})
        warn = f"; {len(self.warnings)} warning(s)" if self.warnings else ""
        return (f"stages {' -> '.join(self.stage_names)}; fitted on "
                f"{split.get('n_fit_pairs', '?')} pairs, evaluated on "
                f"{split.get('n_eval_pairs', '?')} held-out pairs{warn}")

    def _html_table(self) -> pd.DataFrame:
        m = self._metrics()
        m = m[m["judge"] == "all"]
        return pd.DataFrame({"stage": m["stage"], "measure": m["measure"],
                             "estimate": m["estimate"].map(_fmt),
                             "95% CI": [_ci(r) for r in m.itertuples()], "n": m["n"],
                             "hurts": m["hurts"].map({True: "yes", False: ""})})

