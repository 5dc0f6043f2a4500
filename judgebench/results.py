"""Typed results: :class:`AuditResult`, :class:`CalibrationResult`, :class:`RunResult`,
:class:`SweepResult`.

``run_audit``, ``run_calibration``, ``run_loop`` and ``run_sweep`` return these instead of
bare dicts and lists (issue 16; modelled on inspect_ai's typed, versioned logs). Each result

* has ``.tables``: tidy DataFrames, first of all one row per measure (``tables["measures"]``
  for an audit, ``tables["metrics"]`` for a calibration) with judge, measure, estimate,
  ci_low, ci_high, n, n_failed and the decision columns; a run's ``metrics`` (one row per
  iteration) and ``measures``; a sweep's rows, cells, dose-response and paired tests;
* has ``.to_dict()``: exactly the JSON that ``audit.json`` / ``calibration.json`` hold, which
  are unchanged on disk (a run's config and rows, a sweep's three files);
* loads from a directory (``.load(dir)``) and, but for a sweep, saves to one (``.save(dir)``):
  the same files as before, plus a small manifest, ``.judgebench-result.json``, naming the
  kind of result, the result format version and the judgebench version that wrote it.
  Loading a directory written under another format names that version and what changed
  since. The loop and the sweep write their folders themselves, without a manifest: such a
  folder is read as the current format;
* shows itself as a compact table in a notebook (``_repr_html_``); a run and a sweep also
  draw themselves (``.plot(ax=None)`` returns a Display of ``judgebench.report.displays``);
* has one shape whatever the number of judges: ``result.judges`` always maps judge name ->
  that judge's block, where ``audit.json`` puts a lone judge's keys at its top level.

One module for every stage: they share the manifest, the version check, the access kept for
the transition and the HTML table, and one home keeps one changelog of the saved format. It
is neutral (like ``stats.py`` and ``verdicts.py``): it imports no stage, so audit/,
calibration/, rlaif/ and report/ can all import it without importing each other. (``.plot``
reaches the report through the package's lazy exports, see :func:`_plot_display`.)

**Deprecated:** indexing a result like the dict it replaces (``result["position"]["p_first"]``,
``result.get("judges")``, ``"agreement" in result``, a sweep's ``result["settings"]``) still
works during the transition (each delegates to a view of the old dict) but will go; use
:meth:`AuditResult.measure`, :meth:`CalibrationResult.metric`, ``.tables`` or ``.to_dict()``.
A run stays the sequence of metrics rows that ``run_loop`` returned (``run[-1]``, ``len``):
that is what a run is, not a transition.

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
import sys
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, overload

import numpy as np
import pandas as pd

from judgebench.verdicts import load_table, save_table

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

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


class _Result:
    """What every result shares: the manifest, the version check and the notebook table."""

    kind: ClassVar[str]
    main_file: ClassVar[str]
    command: ClassVar[str]
    #: Other files that mark a directory as this result (a run killed before its first
    #: metrics row has only config.toml).
    also_marks: ClassVar[tuple[str, ...]] = ()
    #: Whether a directory without a manifest is this result's current format: the loop and
    #: the sweep write their folders themselves and add no manifest, so theirs never have one.
    bare_is_current: ClassVar[bool] = False

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
        if not any((out / f).is_file() for f in (cls.main_file, *cls.also_marks)):
            make = (f"Save one with {cls.__name__}.save(dir) or run" if hasattr(cls, "save")
                    else "Run")
            raise FileNotFoundError(f"{out} holds no {cls.main_file}: not a saved {cls.kind} "
                                    f"result. {make} judgebench {cls.command} --out DIR.")
        if not (out / MANIFEST).is_file():
            if cls.bare_is_current:
                return out
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

    # A result compares as the plain data it replaces, so it is not hashable.
    __hash__ = None  # type: ignore[assignment]


class _MappingResult(_Result, Mapping):
    """A result that was a dict: read-only dict access over its view (deprecated)."""

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
class AuditResult(_MappingResult):
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


def _plot_display(name: str, result: Any, ax: Any, panel: str | None) -> Any:
    """``name``'s Display of ``result``, drawn into ``ax``.

    The one place a result reaches the report layer. It goes through the package's public
    exports, on first use, so importing this module never imports judgebench.report (the
    floor stays free of the stages above it; tests/test_layering.py).
    """
    import judgebench

    return getattr(judgebench, name).from_result(result, ax=ax, panel=panel)


# ---------------------------------------------------------------------------------------------
# An RLAIF loop run

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
        """``{"name", "config", "metrics"}``: the run's config and metrics rows (a deep copy)."""
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
        flat = []
        for row in self.rows:
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

    def _measures(self) -> pd.DataFrame:
        rows = [{"iteration": r.get("iteration"), "measure": key, **_entry_row(value)}
                for r in self.rows for key, value in r.items()
                if isinstance(value, Mapping) and "estimate" in value]
        return _frame(rows, RUN_MEASURE_COLUMNS)

    # -- files --------------------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Write config.toml, metrics.jsonl (the loop's exact bytes) and the manifest."""
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
        figure with every panel; see the Display)."""
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


# ---------------------------------------------------------------------------------------------
# A sweep (a study): a grid of runs over seeds


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
    """propagation.json's ``settings`` as one row per (arm, coefficient)."""
    rows = [{**s.get("setting", {}), "arm": _arm_text(s.get("setting", {})),
             "coefficient": name, **_interval(value)}
            for s in settings for name, value in s.items()
            if isinstance(value, Mapping) and "estimate" in value]
    return _long(rows, _STUDY_COLUMNS["propagation"])


def _sweep_grid_axes(columns: list[str]) -> list[str]:
    # The same rule as judgebench.report.load.grid_axes (which this floor module cannot import).
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
        """``{"sweep": sweep.csv's rows, "propagation": ..., "study": ...}`` (JSON-able copy)."""
        rows = self.table.astype(object).where(self.table.notna(), None).to_dict("records")
        return copy.deepcopy({"sweep": rows, "propagation": self.propagation,
                              "study": self.study})

    @property
    def grid(self) -> list[str]:
        """The grid axes (study.json's ``grid``, else sweep.csv's non-metric columns)."""
        if self.study and self.study.get("grid"):
            return list(self.study["grid"])
        return _sweep_grid_axes(list(self.table.columns))

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
        """Read a sweep folder: sweep.csv, propagation.json and study.json (read only)."""
        out = cls._check_dir(path)
        study = _read_json(out / "study.json")
        prop = _read_json(out / "propagation.json") or {}
        table = pd.DataFrame()
        try:
            header = list(pd.read_csv(out / "sweep.csv", nrows=0).columns)
        except (FileNotFoundError, pd.errors.EmptyDataError):
            header = []  # no sweep.csv, or no finished cell yet (summarize writes a bare line)
        if header:
            grid = (study or {}).get("grid") or _sweep_grid_axes(header)
            # Grid values stay text, so that they match propagation.json's settings exactly.
            text = {c: str for c in (*grid, "run_dir", "run_position_channel") if c in header}
            table = pd.read_csv(out / "sweep.csv", dtype=text)
        return cls(table=table, propagation=prop, study=study, name=out.resolve().name)

    def plot(self, ax: Any = None, *, panel: str | None = None) -> Any:
        """The study's dose-response: a :class:`~judgebench.report.displays.DoseResponseDisplay`
        drawn into ``ax`` (None: a new figure with every panel)."""
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


__all__ = ["AuditResult", "CalibrationResult", "CHANGES", "MANIFEST", "RESULT_FORMAT",
           "RunResult", "SweepResult", "propagation_rows", "study_tables"]
