"""What every result type shares: the manifest, the version check, the notebook table.

The saved-format changelog (:data:`CHANGES`) lives here, once for every kind of result, and
so do the small helpers that turn a ``{"estimate", "ci", "n"}`` entry into table columns.
Nothing here imports a stage (tests/test_layering.py: the results are the floor).

>>> _entry_row({"estimate": 0.5, "ci": [0.4, 0.6], "n": 10})
{'estimate': 0.5, 'n': 10, 'ci_low': 0.4, 'ci_high': 0.6}
>>> _changes_since(0, CHANGES).startswith("format 1: manifest")
True
"""

from __future__ import annotations

import copy
import html
import json
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

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


def _plot_display(name: str, result: Any, ax: Any, panel: str | None) -> Any:
    """``name``'s Display of ``result``, drawn into ``ax``.

    The one place a result reaches the report layer. It goes through the package's public
    exports, on first use, so importing the results never imports judgebench.report (the
    floor stays free of the stages above it; tests/test_layering.py).
    """
    import judgebench

    return getattr(judgebench, name).from_result(result, ax=ax, panel=panel)
