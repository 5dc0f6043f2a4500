"""Find and read the result directories a report covers (docs/design/report.md).

A directory is recognised by the files it holds, never by its name:

* **audit**: ``audit.json`` (``run_audit``), with the CSV tables beside it;
* **calibration**: ``calibration.json`` (``run_calibration``), with ``reliability.csv``;
* **train**: ``metrics.jsonl`` or ``config.toml`` + ``state.json`` (the RLAIF loop);
* **sweep**: ``sweep.csv`` or ``propagation.json`` (``run_sweep``), its runs under ``runs/``.

A parent directory (e.g. a quickstart output) is searched two levels deep. A file that is
absent or unreadable becomes a line in ``Section.missing`` and the rest is still read, so a
killed run or a partial audit still gets a report.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from judgebench.results import grid_axes, metrics_frame

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

#: Marker files of each kind of result directory.
MARKERS = {
    "audit": ("audit.json",),
    "calibration": ("calibration.json",),
    "sweep": ("sweep.csv", "propagation.json"),
    "train": ("metrics.jsonl",),
}
#: Tables run_audit writes beside audit.json (docs/design/audit-definitions.md).
AUDIT_TABLES = ("measures.csv", "position.csv", "verbosity_bins.csv", "padding.csv",
                "probes.csv", "agreement.csv", "self_preference.csv")
EXPECTED = ("audit.json (an audit), calibration.json (a calibration), metrics.jsonl or "
            "config.toml + state.json (a training run), sweep.csv or propagation.json (a sweep)")
#: How deep below the report directory result directories are looked for.
MAX_DEPTH = 2
#: Directories never searched: the report's own output and the loop's bulky internals.
_SKIP_DIRS = {"report", "figures", "checkpoints", "__pycache__"}


@dataclass
class Section:
    """One result directory, read: its kind, tables, JSON data and what is missing.

    Example:

    >>> sec = Section("train", Path("runs/biased"), "biased")
    >>> sec.kind, sec.name, sec.tables, sec.missing
    ('train', 'biased', {}, [])
    """

    kind: str
    path: Path
    name: str
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    runs: list[Section] = field(default_factory=list)  # a sweep's runs (train sections)


def dir_kind(path: Path) -> str | None:
    """The kind of result directory ``path`` is, from its files; None when it is none.

    Example:

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     before = dir_kind(Path(d))
    ...     _ = Path(d, "audit.json").write_text("{}")
    ...     print(before, dir_kind(Path(d)))
    None audit
    """
    names = {p.name for p in path.iterdir()} if path.is_dir() else set()
    for kind, markers in MARKERS.items():
        if names & set(markers):
            return kind
    if {"config.toml", "state.json"} <= names:
        return "train"  # a run killed before its first metrics row
    return None


def find_sections(root: str | Path) -> list[Section]:
    """Read every result directory at or below ``root`` (two levels deep).

    Raises FileNotFoundError when ``root`` does not exist, ValueError when it is not a
    directory or holds no result directory.

    Example:

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     run = Path(d, "runs", "biased")
    ...     run.mkdir(parents=True)
    ...     _ = (run / "metrics.jsonl").write_text('{"iteration": 0}')
    ...     print([(sec.kind, sec.name) for sec in find_sections(d)])
    [('train', 'runs/biased')]
    """
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f"Report directory {str(root)!r} does not exist. Give the --out "
                                f"directory of an audit, calibrate, train, sweep or quickstart "
                                f"command (it holds {EXPECTED}).")
    if not root.is_dir():
        raise ValueError(f"Report needs a directory; {str(root)!r} is a file. Give the directory "
                         f"that holds {EXPECTED}.")
    found: list[tuple[str, Path]] = []
    _walk(root, 0, found)
    if not found:
        raise ValueError(f"Directory {str(root)!r} holds no judgebench results: expected "
                         f"{EXPECTED}, in it or up to {MAX_DEPTH} levels below it. Run an "
                         f"audit, calibrate, train or sweep command with --out {root} first.")
    readers = {"audit": read_audit, "calibration": read_calibration, "train": read_train,
               "sweep": read_sweep}
    return [readers[kind](path, _name(root, path)) for kind, path in found]


def _walk(path: Path, depth: int, found: list[tuple[str, Path]]) -> None:
    kind = dir_kind(path)
    if kind is not None:
        found.append((kind, path))
        return  # a result directory's sub-folders (iter-NNN, runs of a sweep) belong to it
    if depth >= MAX_DEPTH:
        return
    for child in sorted(p for p in path.iterdir() if p.is_dir()):
        if child.name.startswith(".") or child.name in _SKIP_DIRS:
            continue
        _walk(child, depth + 1, found)


def _name(root: Path, path: Path) -> str:
    rel = path.relative_to(root).as_posix()
    return path.resolve().name if rel == "." else rel


# ---------------------------------------------------------------------------------------------
# Readers: each returns a Section; a missing or broken file is listed, never fatal.


def _read(section: Section, file: str, reader, why: str = "") -> Any:
    path = section.path / file
    if not path.exists():
        section.missing.append(f"{file}: not written" + (f" ({why})" if why else ""))
        return None
    try:
        return reader(path)
    except (OSError, ValueError, KeyError, tomllib.TOMLDecodeError) as err:
        section.missing.append(f"{file}: could not be read ({type(err).__name__}: {err})")
        return None


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def read_audit(path: Path, name: str) -> Section:
    """An audit directory: audit.json, the CSV tables, and the agreement matrix (several
    judges).

    Example:

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = Path(d, "audit.json").write_text('{"judge": "j", "n_verdicts": 10}')
    ...     sec = read_audit(Path(d), "audit")
    >>> sec.data["audit"]["n_verdicts"], sec.missing[0]
    (10, 'measures.csv: not written')
    """
    sec = Section("audit", path, name)
    result = _read(sec, "audit.json", _json)
    sec.data["audit"] = result if isinstance(result, dict) else {}
    blocks = audit_blocks(sec.data["audit"])
    probe_reason = next((b.get("skipped", {}).get("probes") for b in blocks.values()
                         if b.get("skipped", {}).get("probes")), "")
    for file in AUDIT_TABLES:
        why = probe_reason if file in ("padding.csv", "probes.csv") else ""
        table = _read(sec, file, pd.read_csv, why)
        if table is not None:
            sec.tables[file.removesuffix(".csv")] = table
    if len(blocks) > 1 and (path / "verdicts.parquet").exists():
        from judgebench.verdicts import load_table

        verdicts = _read(sec, "verdicts.parquet", load_table)
        if verdicts is not None:
            settings = sec.data["audit"].get("settings", {})
            sec.tables["agreement_matrix"] = agreement_matrix(
                verdicts, n_boot=int(settings.get("n_boot", 1000)),
                seed=int(settings.get("seed", 0)))
    return sec


def audit_blocks(result: dict) -> dict[str, dict]:
    """{judge: its block of audit.json}, for one judge or several.

    Example:

    >>> audit_blocks({"judge": "j", "n_verdicts": 10})
    {'j': {'judge': 'j', 'n_verdicts': 10}}
    >>> sorted(audit_blocks({"judges": {"a": {}, "b": {}}}))
    ['a', 'b']
    """
    if "judges" in result:
        return dict(result["judges"])
    if "judge" in result:
        return {str(result["judge"]): result}
    return {}


def read_calibration(path: Path, name: str) -> Section:
    """A calibration directory: calibration.json (per stage), reliability.csv, pipeline.json.

    Example:

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     ece = {"estimate": 0.12, "ci": [0.08, 0.16], "n": 200}
    ...     _ = Path(d, "calibration.json").write_text(json.dumps({"raw": {"ece": ece}}))
    ...     sec = read_calibration(Path(d), "calibration")
    >>> sec.tables["metrics"][["stage", "metric", "estimate"]].values.tolist(), sec.missing
    ([['raw', 'ece', 0.12]], ['reliability.csv: not written', 'pipeline.json: not written'])
    """
    sec = Section("calibration", path, name)
    result = _read(sec, "calibration.json", _json)
    sec.data["calibration"] = result if isinstance(result, dict) else {}
    sec.tables["metrics"] = calibration_frame(sec.data["calibration"])
    rel = _read(sec, "reliability.csv", pd.read_csv)
    if rel is not None:
        sec.tables["reliability"] = rel
    pipe = _read(sec, "pipeline.json", _json)
    if pipe is not None:
        sec.data["pipeline"] = pipe
    return sec


def calibration_frame(result: dict) -> pd.DataFrame:
    """calibration.json as a long table: stage, metric, estimate, ci_low, ci_high, n.

    Example:

    >>> calibration_frame({"raw": {"ece": {"estimate": 0.12, "ci": [0.08, 0.16], "n": 200}}})
      stage metric  estimate  ci_low  ci_high      n
    0   raw    ece      0.12    0.08     0.16  200.0
    """
    rows = []
    for stage, block in result.items():
        if not isinstance(block, dict):
            continue
        for metric, est in block.items():
            if isinstance(est, dict) and "estimate" in est:
                rows.append({"stage": stage, "metric": metric, **_estimate(est)})
    return pd.DataFrame(rows, columns=["stage", "metric", "estimate", "ci_low", "ci_high", "n"])


def _estimate(est: Any) -> dict[str, float]:
    """{"estimate", "ci": [lo, hi], "n"} (None for a bound that could not be computed) ->
    floats, NaN where missing."""
    if not isinstance(est, dict):
        return {"estimate": _f(est), "ci_low": np.nan, "ci_high": np.nan, "n": np.nan}
    ci = est.get("ci") or [None, None]
    return {"estimate": _f(est.get("estimate")), "ci_low": _f(ci[0]), "ci_high": _f(ci[1]),
            "n": _f(est.get("n"))}


def _f(x: Any) -> float:
    try:
        return float(x) if x is not None else np.nan
    except (TypeError, ValueError):
        return np.nan


def read_train(path: Path, name: str) -> Section:
    r"""A loop run: config.toml, metrics.jsonl (one row per finished iteration), state.json.

    Example:

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     rows = [{"iteration": i, "length_drift_chars": 5.0 * i} for i in range(2)]
    ...     _ = Path(d, "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    ...     _ = Path(d, "config.toml").write_text("[run]\nn_iterations = 2\n")
    ...     sec = read_train(Path(d), "run")
    >>> sec.tables["metrics"]["length_drift_chars"].tolist(), sec.missing[0]
    ([0.0, 5.0], 'metrics.jsonl: iterations 2 of 0-2 are missing (2 of 3 measured): ...')
    """
    sec = Section("train", path, name)
    config = _read(sec, "config.toml", lambda p: (p.read_text(encoding="utf-8"),
                                                  tomllib.loads(p.read_text(encoding="utf-8"))))
    if config is not None:
        sec.data["config_text"], sec.data["config"] = config
    rows = _read(sec, "metrics.jsonl", lambda p: _jsonl(p, sec),
                 "the run stopped before its first iteration was measured")
    sec.tables["metrics"] = metrics_frame(_numbers(rows or []))
    n_iter = sec.data.get("config", {}).get("run", {}).get("n_iterations")
    done = sorted(sec.tables["metrics"]["iteration"].dropna().astype(int).unique()) \
        if "iteration" in sec.tables["metrics"] else []
    if isinstance(n_iter, int):
        sec.data["n_expected"] = n_iter + 1
    if isinstance(n_iter, int) and rows:
        todo = [i for i in range(n_iter + 1) if i not in done]
        if todo:
            sec.missing.append(
                f"metrics.jsonl: iterations {_ranges(todo)} of 0-{n_iter} are missing "
                f"({len(done)} of {n_iter + 1} measured): the run stopped early. Resume it with "
                f"`judgebench train {path / 'config.toml'} --out {path}`.")
    return sec


def _jsonl(path: Path, sec: Section) -> list[dict]:
    rows = []
    for k, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            sec.missing.append(f"{path.name}: line {k} is not valid JSON (a cut-off write?); "
                               "skipped")
    return rows


def _numbers(rows: list[dict]) -> list[dict]:
    """metrics.jsonl rows as the report reads them: text left out, null as NaN.

    The table itself is the results layer's :func:`~judgebench.results.metrics_frame` (one
    rule for a run's rows); the report's run tables and findings have always held numbers only.
    """
    return [{k: np.nan if v is None else v for k, v in row.items() if not isinstance(v, str)}
            for row in rows]


def _ranges(values: list[int]) -> str:
    """[2, 3, 5] -> '2-3, 5'."""
    out, start = [], values[0]
    for a, b in zip(values, values[1:] + [None]):
        if b != a + 1:
            out.append(str(a) if a == start else f"{start}-{a}")
            start = b
    return ", ".join(out)


def read_sweep(path: Path, name: str) -> Section:
    r"""A sweep: sweep.csv (one row per run), propagation.json, and its runs under runs/.

    Example:

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = Path(d, "sweep.csv").write_text(
    ...         "judge.verbosity,seed,final_length_drift_chars\n0,0,1.5\n2,0,30.0\n")
    ...     sec = read_sweep(Path(d), "sweep")
    >>> sec.tables["sweep"]["judge.verbosity"].tolist(), sec.missing  # grid values as text
    (['0', '2'], ['propagation.json: not written'])
    """
    sec = Section("sweep", path, name)
    header = _read(sec, "sweep.csv", lambda p: list(pd.read_csv(p, nrows=0).columns))
    if header is not None:
        # Grid values stay text so that they match propagation.json's settings exactly.
        sec.tables["sweep"] = pd.read_csv(path / "sweep.csv",
                                          dtype={c: str for c in grid_axes(header)})
    prop = _read(sec, "propagation.json", _json)
    if isinstance(prop, dict):
        sec.data["propagation"] = prop
    if (path / "study.json").exists():  # a study's statistics (rlaif/study.py), optional
        study = _read(sec, "study.json", _json)
        if isinstance(study, dict):
            sec.data["study"] = study
    runs = path / "runs"
    if runs.is_dir():
        sec.runs = [read_train(p, p.name) for p in sorted(runs.iterdir())
                    if p.is_dir() and dir_kind(p) == "train"]
    return sec


# ---------------------------------------------------------------------------------------------
# The one table the report computes itself: agreement between judges.


def agreement_matrix(verdicts: pd.DataFrame, *, n_boot: int = 1000, seed: int) -> pd.DataFrame:
    """Pairwise agreement of judges' combined verdicts, and with gold (MT-Bench S1 rule).

    Each judge's verdict on a pair is Zheng et al.'s (2023) combined verdict (the class both
    orders agree on, a tie when they disagree); two judges agree on a pair when their classes
    (response_1, response_2, tie) are equal, over pairs both judged. The judge-vs-"gold" cell
    is the audit's ``s1_agreement``. Long table: row, col, estimate, ci_low, ci_high, n.

    >>> from judgebench.judges.simulated import simulate_verdicts
    >>> v = pd.concat([simulate_verdicts(50, seed=0, judge="a"),
    ...                simulate_verdicts(50, seed=0, judge="b")])
    >>> m = agreement_matrix(v, n_boot=0, seed=0)
    >>> float(m.query("row == 'a' and col == 'b'")["estimate"].iloc[0])  # same seed: same
    1.0
    """
    from judgebench.audit.agreement import combined_class, label_class
    from judgebench.probability import gold_p1
    from judgebench.stats import bootstrap_ci, per_pair, weighted_ratio

    pp = per_pair(verdicts, ["label"])
    classes = {j: pd.Series(combined_class(g["p_12"].to_numpy(), g["p_21"].to_numpy()),
                            index=g["pair_id"].to_numpy())
               for j, g in pp.groupby("judge", sort=True)}
    names = list(classes)
    if "label" in pp.columns and pp["label"].notna().any():
        gold = pp.drop_duplicates("pair_id")
        classes["gold"] = pd.Series(label_class(gold_p1(gold["label"])),
                                    index=gold["pair_id"].to_numpy())
        names.append("gold")
    rows = []
    for a in names:
        for b in names:
            x, y = classes[a].align(classes[b], join="inner")
            both = np.isfinite(x.to_numpy()) & np.isfinite(y.to_numpy())
            same = (x.to_numpy() == y.to_numpy())[both].astype(float)
            est = bootstrap_ci(weighted_ratio, same, np.ones_like(same), n_boot=n_boot,
                               seed=seed, compress=True)
            rows.append({"row": a, "col": b, "estimate": est.estimate, "ci_low": est.ci_low,
                         "ci_high": est.ci_high, "n": est.n})
    return pd.DataFrame(rows, columns=["row", "col", "estimate", "ci_low", "ci_high", "n"])
