"""Typed results of the audit and the calibration: :class:`AuditResult`, :class:`CalibrationResult`.

``run_audit`` and ``run_calibration`` return these instead of bare dicts (issue 16; modelled on
inspect_ai's typed, versioned logs). Each result

* has ``.tables``: tidy DataFrames, first of all one row per measure (``tables["measures"]``
  for an audit, ``tables["metrics"]`` for a calibration) with judge, measure, estimate,
  ci_low, ci_high, n, n_failed and the decision columns;
* has ``.to_dict()``: exactly the JSON that ``audit.json`` / ``calibration.json`` hold, which
  are unchanged on disk;
* saves to and loads from a directory (``.save(dir)`` / ``.load(dir)``): the same files as
  before, plus a small manifest, ``.judgebench-result.json``, naming the kind of result, the
  result format version and the judgebench version that wrote it. Loading a directory written
  under another format names that version and what changed since;
* shows itself as a compact table in a notebook (``_repr_html_``);
* has one shape whatever the number of judges: ``result.judges`` always maps judge name ->
  that judge's block, where ``audit.json`` puts a lone judge's keys at its top level.

One module for both stages: they share the manifest, the version check, the dict access kept
for the transition and the HTML table, and one home keeps one changelog of the saved format.
It is neutral (like ``stats.py`` and ``verdicts.py``): it imports no stage, so audit/,
calibration/ and report/ can all import it without importing each other.

**Deprecated:** indexing a result like the dict it replaces (``result["position"]["p_first"]``,
``result.get("judges")``, ``"agreement" in result``) still works during the transition (each
delegates to :meth:`to_dict`'s view) but will go; use :meth:`AuditResult.measure`,
:meth:`CalibrationResult.metric`, ``.tables`` or ``.to_dict()``.

>>> from judgebench.judges.simulated import simulate_verdicts
>>> from judgebench.audit import run_audit
>>> res = run_audit(simulate_verdicts(100, seed=0, position=1.0), n_boot=50)
>>> res.measure("position.offset_logit")["ci"][0] > 0.5
True
>>> list(res.tables["measures"].columns[:7])
['judge', 'measure', 'estimate', 'ci_low', 'ci_high', 'n', 'n_failed']
"""

from __future__ import annotations

import copy
import html
import json
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from judgebench.verdicts import load_table, save_table

#: The manifest beside the result files (hidden: summaries list the result files, not it).
MANIFEST = ".judgebench-result.json"
#: Version of the saved result format; bump it, and add a line to CHANGES, when files change.
RESULT_FORMAT = 1
#: What each version of the saved format changed. A manifest carries this table as written, so
#: an older judgebench can say what a newer result changed.
CHANGES = {
    0: "no manifest: written by run_audit/run_calibration before results were typed objects",
    1: f"manifest {MANIFEST} (kind, format, judgebench version) added; audit.json, "
       "calibration.json and the CSV/Parquet tables unchanged",
}

#: Columns of the tidy measure table, in order (a column is NaN where it does not apply).
AUDIT_COLUMNS = ("judge", "measure", "estimate", "ci_low", "ci_high", "n", "n_failed",
                 "n_boot_failed", "method", "se", "null", "test", "p_value", "q_value", "mde",
                 "effect_of_interest", "verdict", "note", "skipped")
CALIBRATION_COLUMNS = ("stage", "judge", "measure", "estimate", "ci_low", "ci_high", "n",
                       "n_failed", "n_boot_failed", "method", "hurts")
#: Tables written beside audit.json, by file stem (``position`` -> ``position.csv``).
AUDIT_CSV = ("measures", "position", "verbosity_bins", "features", "padding", "probes",
             "agreement", "self_preference")
_AUDIT_PARQUET = {"verdicts": "verdicts.parquet", "probe_verdicts": "probe_verdicts.parquet",
                  "feature_probe_verdicts": "feature_probe_verdicts.parquet"}
#: Keys of an audit block that are not measure groups.
_BLOCK_META = ("judge", "n_verdicts", "n_failed", "skipped", "flags", "settings")


def _version() -> str:
    from judgebench import __version__

    return __version__


class _Result(Mapping):
    """What both results share: the manifest, the version check, dict access, the HTML table."""

    kind: ClassVar[str]
    main_file: ClassVar[str]
    command: ClassVar[str]

    # -- the transition: read-only dict access (deprecated) ----------------------------------

    def _view(self) -> dict[str, Any]:
        raise NotImplementedError

    def __getitem__(self, key: str) -> Any:
        """Deprecated: ``result[key]`` is ``result.to_dict()[key]`` (kept for the transition)."""
        return self._view()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._view())

    def __len__(self) -> int:
        return len(self._view())

    def to_dict(self) -> dict[str, Any]:
        """The JSON-able dict that the result's main JSON file holds (a deep copy)."""
        return copy.deepcopy(self._view())

    # -- saving and loading ---------------------------------------------------------------------

    def _manifest(self) -> dict[str, Any]:
        return {"kind": self.kind, "format": RESULT_FORMAT, "judgebench": _version(),
                "changes": {str(k): v for k, v in CHANGES.items()}}

    def _write_manifest(self, out: Path) -> None:
        (out / MANIFEST).write_text(json.dumps(self._manifest(), indent=2) + "\n",
                                    encoding="utf-8")

    @classmethod
    def _check_dir(cls, path: str | Path) -> Path:
        """The directory, after checking its manifest (kind and format) against this reader."""
        out = Path(path)
        if not (out / cls.main_file).is_file():
            raise FileNotFoundError(f"{out} holds no {cls.main_file}: not a saved {cls.kind} "
                                    f"result. Save one with {cls.__name__}.save(dir) or run "
                                    f"judgebench {cls.command} --out DIR.")
        if not (out / MANIFEST).is_file():
            # Written before results were objects: the files themselves are the same.
            warnings.warn(f"{out} has no {MANIFEST}: written by a judgebench before typed "
                          f"results (format 0). Read as format {RESULT_FORMAT}; what changed: "
                          + _changes_since(0, CHANGES), UserWarning, stacklevel=3)
            return out
        try:
            manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise ValueError(f"{out / MANIFEST} is not readable JSON ({err}); delete it to read "
                             f"the result as format 0, or save the result again.") from None
        kind, fmt = manifest.get("kind"), manifest.get("format")
        by = manifest.get("judgebench", "an unknown version")
        if kind != cls.kind:
            raise ValueError(f"{out} holds a {kind!r} result (saved by judgebench {by}); "
                             f"{cls.__name__}.load reads {cls.kind!r} results.")
        if not isinstance(fmt, int):
            raise ValueError(f"{out / MANIFEST}: 'format' must be an integer; got {fmt!r}.")
        if fmt > RESULT_FORMAT:
            told = {int(k): v for k, v in (manifest.get("changes") or {}).items()}
            raise ValueError(f"{out} was saved by judgebench {by} in result format {fmt}; this "
                             f"judgebench ({_version()}) reads formats up to {RESULT_FORMAT}. "
                             f"What changed: {_changes_since(RESULT_FORMAT, told)}. Upgrade "
                             "judgebench to load it.")
        if fmt < RESULT_FORMAT:
            warnings.warn(f"{out} was saved by judgebench {by} in result format {fmt}; read as "
                          f"format {RESULT_FORMAT}. What changed: "
                          + _changes_since(fmt, CHANGES), UserWarning, stacklevel=3)
        return out

    # -- display --------------------------------------------------------------------------------

    def _summary_line(self) -> str:
        raise NotImplementedError

    def _html_table(self) -> pd.DataFrame:
        raise NotImplementedError

    def _repr_html_(self) -> str:
        """A compact table for notebooks: estimates with 95% CIs, n, and the decision."""
        table = self._html_table()
        return (f"<div><p><b>{type(self).__name__}</b>: {html.escape(self._summary_line())}</p>"
                f"{table.to_html(index=False, na_rep='', escape=True)}</div>")

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self._summary_line()}>"

    # A Mapping compares as a dict; a result is equal to the same JSON.
    __hash__ = None  # type: ignore[assignment]


def _changes_since(version: int, changes: Mapping[int, str]) -> str:
    lines = [f"format {k}: {v}" for k, v in sorted(changes.items()) if k > version]
    return "; ".join(lines) if lines else "nothing recorded"


def _fmt(x: Any) -> str:
    return "" if x is None or (isinstance(x, float) and not np.isfinite(x)) else f"{x:.3g}"


def _ci(row: Any) -> str:
    lo, hi = _fmt(row.ci_low), _fmt(row.ci_high)
    return f"[{lo}, {hi}]" if lo and hi else ""


def _entry_row(entry: Mapping[str, Any]) -> dict[str, Any]:
    """One ``{"estimate", "ci", "n", ...}`` entry as table columns (ci split into two)."""
    ci = entry.get("ci") or [None, None]
    row = {k: v for k, v in entry.items() if k != "ci"}
    row["ci_low"], row["ci_high"] = ci[0], ci[1]
    return row


def _walk(node: Mapping[str, Any], prefix: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(dotted measure name, entry) for every entry below ``node``."""
    for key, value in node.items():
        if not isinstance(value, Mapping):
            continue
        name = f"{prefix}{key}"
        if "estimate" in value:
            yield name, value
        elif key != "skipped":
            yield from _walk(value, f"{name}.")


def _frame(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> pd.DataFrame:
    """Rows in the fixed columns first; any key the JSON gained later goes after them."""
    extra = sorted({k for r in rows for k in r} - set(columns))
    frame = pd.DataFrame(rows, columns=[*columns, *extra])
    for col in ("estimate", "ci_low", "ci_high"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)
    return frame


def _read_csv(path: Path) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    # Names and ids stay text: a judge called "1" or pair_id "007" must not become a number.
    return pd.read_csv(path, dtype={"judge": str, "pair_id": str, "source": str})


# ---------------------------------------------------------------------------------------------
# The audit


@dataclass(eq=False, repr=False)
class AuditResult(_Result):
    """What ``run_audit`` returns: every measure of every judge, with the tables behind them.

    ``judges`` maps each judge's name to its block (what ``audit.json`` holds for one judge:
    ``n_verdicts``, ``n_failed``, the measure groups, ``skipped``, ``flags``, ``features``),
    the same for one judge as for several. ``settings`` are run_audit's arguments, ``panel``
    the judges' agreement with each other (several judges only). ``csv_tables`` are the tables
    written beside audit.json, by file stem (``measures.csv``, ``position.csv``, ...), and the
    verdict tables are the audited and the probe verdicts.

    ``tables["measures"]`` is the tidy view: one row per (judge, measure) with the decision
    columns (p_value, q_value, mde, verdict) of the tested measures, the judge's failed
    verdicts in ``n_failed``, and a row per skipped measure with the reason in ``skipped``.
    (``measures.csv`` on disk stays as before: the raw estimates, without the decisions.)

    Indexing it as the dict it replaces (``result["position"]["offset_logit"]``) is
    deprecated and kept for the transition only: use :meth:`measure` or ``tables``.

    >>> from judgebench.judges.simulated import simulate_verdicts
    >>> from judgebench.audit import run_audit
    >>> res = run_audit(simulate_verdicts(100, seed=0), n_boot=20)
    >>> res.judge_names, res.measure("position.p_first")["n"]
    (['simulated'], 100)
    """

    kind: ClassVar[str] = "audit"
    main_file: ClassVar[str] = "audit.json"
    command: ClassVar[str] = "audit"

    judges: dict[str, dict[str, Any]]
    settings: dict[str, Any]
    panel: dict[str, Any] | None = None
    csv_tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    verdicts: pd.DataFrame | None = None
    probe_verdicts: pd.DataFrame | None = None
    feature_probe_verdicts: pd.DataFrame | None = None

    # -- the dict of today ------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], **tables: Any) -> AuditResult:
        """The result of an ``audit.json`` dict (either shape); ``tables`` fill the other fields.

        >>> AuditResult.from_dict({"judge": "j", "n_verdicts": 0, "n_failed": 0,
        ...                        "flags": [], "settings": {}}).judge_names
        ['j']
        """
        if "judges" in data:
            judges = dict(data["judges"])
        elif "judge" in data:
            block = {k: v for k, v in data.items() if k not in ("judge", "settings")}
            judges = {data["judge"]: block}
        else:
            raise ValueError("Not an audit result: the dict needs 'judge' (one judge) or "
                             f"'judges' (several); it has {sorted(data)}.")
        return cls(judges=judges, settings=dict(data.get("settings", {})),
                   panel=data.get("panel"), **tables)

    def _view(self) -> dict[str, Any]:
        if len(self.judges) == 1:
            (name, block), = self.judges.items()
            return {"judge": name, **block, "settings": self.settings}
        out: dict[str, Any] = {"judges": self.judges, "n_verdicts": self.n_verdicts,
                               "n_failed": self.n_failed, "flags": self.flags,
                               "settings": self.settings}
        if self.panel is not None:
            out["panel"] = self.panel
        return out

    @property
    def judge_names(self) -> list[str]:
        """The audited judges, in audit.json's order."""
        return list(self.judges)

    @property
    def n_verdicts(self) -> int:
        """Verdicts audited, over every judge."""
        return int(sum(b.get("n_verdicts", 0) for b in self.judges.values()))

    @property
    def n_failed(self) -> int:
        """Failed verdicts (counted, excluded from every measure), over every judge."""
        return int(sum(b.get("n_failed", 0) for b in self.judges.values()))

    @property
    def flags(self) -> list[str]:
        """The flagged measures; prefixed "judge: " when several judges were audited."""
        if len(self.judges) == 1:
            return list(next(iter(self.judges.values())).get("flags", []))
        return sorted({f"{j}: {f}" for j, b in self.judges.items() for f in b.get("flags", [])})

    def measure(self, name: str, judge: str | None = None) -> dict[str, Any]:
        """One measure's entry (``{"estimate", "ci", "n", ...}``) by its dotted name.

        ``judge`` may be left out when one judge was audited. A skipped measure raises
        KeyError with the reason.
        """
        if judge is None:
            if len(self.judges) > 1:
                raise ValueError(f"{len(self.judges)} judges were audited; pass judge= one "
                                 f"of {self.judge_names}.")
            judge = self.judge_names[0]
        if judge not in self.judges:
            raise KeyError(f"No judge {judge!r} in this audit; judges: {self.judge_names}.")
        block = self.judges[judge]
        node: Any = block
        for key in name.split("."):
            node = node.get(key) if isinstance(node, Mapping) else None
        if isinstance(node, Mapping) and "estimate" in node:
            return node
        reason = block.get("skipped", {}).get(name) or (block.get("features") or {}).get(
            "skipped", {}).get(name.removeprefix("features."))
        if reason:
            raise KeyError(f"{name} was skipped for judge {judge!r}: {reason}")
        known = [m for m, _ in _walk(block, "")]
        raise KeyError(f"No measure {name!r} for judge {judge!r}; measures: {known}.")

    # -- tables -----------------------------------------------------------------------------

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """``measures`` (tidy, with decisions; see the class doc), then the CSV tables."""
        return {"measures": self._measures(),
                **{k: v for k, v in self.csv_tables.items() if k != "measures"}}

    def _measures(self) -> pd.DataFrame:
        rows = []
        for judge, block in self.judges.items():
            failed = block.get("n_failed", 0)
            for name, entry in _walk({k: v for k, v in block.items()
                                      if k not in _BLOCK_META}, ""):
                rows.append({"judge": judge, "measure": name, "n_failed": failed,
                             **_entry_row(entry)})
            skipped = dict(block.get("skipped", {}))
            skipped.update({f"features.{k}": v for k, v in
                            (block.get("features") or {}).get("skipped", {}).items()})
            rows += [{"judge": judge, "measure": m, "n": 0, "n_failed": failed, "skipped": why}
                     for m, why in skipped.items()]
        if self.panel is not None:
            rows += [{"judge": "panel", "measure": f"panel.{name}", "n_failed": self.n_failed,
                      **_entry_row(entry)} for name, entry in _walk(self.panel, "")]
        return _frame(rows, AUDIT_COLUMNS)

    # -- files ------------------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Write audit.json, the CSV tables, the verdict tables and the manifest to ``path``."""
        out = Path(path)
        out.mkdir(parents=True, exist_ok=True)
        (out / "audit.json").write_text(json.dumps(self._view(), indent=2) + "\n",
                                        encoding="utf-8")
        for stem in AUDIT_CSV:
            if stem in self.csv_tables:
                self.csv_tables[stem].to_csv(out / f"{stem}.csv", index=False)
        for attr, file in _AUDIT_PARQUET.items():
            if getattr(self, attr) is not None:
                save_table(getattr(self, attr), out / file)
        self._write_manifest(out)
        return out

    @classmethod
    def load(cls, path: str | Path) -> AuditResult:
        """Read a saved audit (``save`` or ``judgebench audit --out``); see the module doc."""
        out = cls._check_dir(path)
        data = json.loads((out / "audit.json").read_text(encoding="utf-8"))
        csv = {s: t for s in AUDIT_CSV if (t := _read_csv(out / f"{s}.csv")) is not None}
        parquet = {attr: load_table(out / file) for attr, file in _AUDIT_PARQUET.items()
                   if (out / file).is_file()}
        return cls.from_dict(data, csv_tables=csv, **parquet)

    # -- display ----------------------------------------------------------------------------

    def _summary_line(self) -> str:
        judges = ", ".join(self.judge_names)
        flags = ", ".join(self.flags) or "none"
        return (f"{len(self.judges)} judge(s) ({judges}), {self.n_verdicts} verdicts "
                f"({self.n_failed} failed); flags: {flags}")

    def _html_table(self) -> pd.DataFrame:
        m = self._measures()
        m = m[m["skipped"].isna()]
        return pd.DataFrame({"judge": m["judge"], "measure": m["measure"],
                             "estimate": m["estimate"].map(_fmt),
                             "95% CI": [_ci(r) for r in m.itertuples()],
                             "n": m["n"], "verdict": m["verdict"]})


# ---------------------------------------------------------------------------------------------
# The calibration


@dataclass(eq=False, repr=False)
class CalibrationResult(_Result):
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
        """The result of a ``calibration.json`` dict; ``tables`` fill the other fields."""
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
        """One held-out metric of one stage, e.g. ``metric("swap", "ece")``."""
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
        """Write calibration.json, pipeline.json, reliability.csv, split.csv and the manifest."""
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
        """Read a saved calibration (``save`` or ``judgebench calibrate --out``)."""
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


#: The metrics evaluate() also reports per judge (calibration_metrics' keys).
_PER_JUDGE = ("accuracy", "nll", "brier", "ece", "ece_adaptive")

__all__ = ["AuditResult", "CalibrationResult", "CHANGES", "MANIFEST", "RESULT_FORMAT"]
