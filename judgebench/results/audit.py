"""The audit's result: :class:`AuditResult`, what ``run_audit`` returns.

Every measure of every judge (audit.json's blocks), the tables written beside audit.json and
the audited verdicts; ``tables["measures"]`` is the tidy view with the decision columns.
``save``/``load`` write and read the same files as ``judgebench audit --out``.

>>> res = AuditResult.from_dict({"judge": "j", "n_verdicts": 20, "n_failed": 1, "flags": [],
...     "settings": {}, "position": {"p_first": {"estimate": 0.7, "ci": [0.5, 0.9], "n": 19}}})
>>> res.tables["measures"][["judge", "measure", "estimate", "ci_high", "n_failed"]].values.tolist()
[['j', 'position.p_first', 0.7, 0.9, 1]]
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

from judgebench.results._base import _ci, _entry_row, _fmt, _frame, _MappingResult, _read_csv, _walk
from judgebench.verdicts import load_table, save_table

#: Columns of the tidy measure table, in order (a column is NaN where it does not apply).
AUDIT_COLUMNS = ("judge", "measure", "estimate", "ci_low", "ci_high", "n", "n_failed",
                 "n_boot_failed", "method", "se", "null", "test", "p_value", "q_value", "mde",
                 "effect_of_interest", "verdict", "note", "skipped")
#: Tables written beside audit.json, by file stem (``position`` -> ``position.csv``).
AUDIT_CSV = ("measures", "position", "verbosity_bins", "features", "padding", "probes",
             "agreement", "self_preference")
_AUDIT_PARQUET = {"verdicts": "verdicts.parquet", "probe_verdicts": "probe_verdicts.parquet",
                  "feature_probe_verdicts": "feature_probe_verdicts.parquet"}
#: Keys of an audit block that are not measure groups.
_BLOCK_META = ("judge", "n_verdicts", "n_failed", "skipped", "flags", "settings")


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

        >>> res = AuditResult.from_dict({"judge": "j", "n_verdicts": 20, "n_failed": 0,
        ...     "flags": [], "settings": {}, "skipped": {"probes": "no judge to re-judge"},
        ...     "position": {"p_first": {"estimate": 0.7, "ci": [0.5, 0.9], "n": 20}}})
        >>> res.measure("position.p_first")["ci"]
        [0.5, 0.9]
        >>> res.measure("probes")
        Traceback (most recent call last):
        KeyError: "probes was skipped for judge 'j': no judge to re-judge"
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
        """Write audit.json, the CSV tables, the verdict tables and the manifest to ``path``.

        >>> import tempfile
        >>> res = AuditResult.from_dict({"judge": "j", "n_verdicts": 0, "n_failed": 0,
        ...                              "flags": [], "settings": {}})
        >>> with tempfile.TemporaryDirectory() as d:
        ...     sorted(p.name for p in res.save(d).iterdir())
        ['.judgebench-result.json', 'audit.json']
        """
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
        """Read a saved audit (``save`` or ``judgebench audit --out``); see the module doc.

        >>> import tempfile
        >>> res = AuditResult.from_dict({"judge": "j", "n_verdicts": 4, "n_failed": 1,
        ...                              "flags": [], "settings": {"seed": 0}})
        >>> with tempfile.TemporaryDirectory() as d:
        ...     back = AuditResult.load(res.save(d))
        >>> back.to_dict() == res.to_dict(), back.n_failed
        (True, 1)
        """

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

