"""``write_report(dir)``: one self-contained report.html (and report.md + PNGs) for a directory
of audit, calibration, training or sweep results (docs/design/report.md).

    DIR/report/report.html   figures embedded as base64 PNG, tables, findings, configs, versions
    DIR/report/report.md     the same text, with the PNGs linked
    DIR/report/NN-*.png      every figure

What a directory lacks (a killed run's missing iterations, an audit without probes) is drawn
from what exists and listed under "Missing or partial results". User text (judge names,
configs, notes) is HTML-escaped everywhere.

>>> write_report("runs/quickstart")   # doctest: +SKIP
PosixPath('runs/quickstart/report/report.html')
"""

from __future__ import annotations

import base64
import html
import json
import platform
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from judgebench.io import atomic_write
from judgebench.report import plots, summary
from judgebench.report.load import Section, find_sections
from judgebench.results import grid_axes

#: Packages whose versions the report records (at the time the report is written).
VERSIONED = ("judgebench", "torch", "transformers", "trl", "numpy", "pandas", "matplotlib")
#: Sub-directory of the report's outputs.
REPORT_DIR = "report"
#: Runs drawn in a sweep's per-iteration figure; more would be unreadable lines.
MAX_RUN_LINES = 8
#: Columns of metrics.jsonl shown in a run's table, in this order (when present).
RUN_COLUMNS = ("iteration", "length_chars_mean", "length_drift_chars", "rollout_length_chars_mean",
               "gold_mean",
               "gold_change", "judge_score_raw", "judge_score_calibrated",
               "judge_win_rate_calibrated", "gold_win_rate", "proxy_gold_gap", "label_accuracy",
               "position_decided_raw", "label_prefers_longer", "judge_length_slope")
_STALE_PNG = re.compile(r"^\d{2}-.+\.png$")


@dataclass
class ReportFigure:
    """One figure of the report: its file name, caption and PNG bytes.

    Example:

    >>> png = plots.figure_png(plots.new_figure(1.0, 1.0))
    >>> fig = ReportFigure("01-audit-position.png", "Position bias per judge.", png)
    >>> fig.file, fig.png[:4]
    ('01-audit-position.png', b'\\x89PNG')
    """

    file: str
    caption: str
    png: bytes


@dataclass
class Block:
    """One section of the report (an audit, a calibration, the runs, a sweep).

    Example:

    >>> block = Block("audit-sim", "Audit: sim", "audit-sim",
    ...               findings=[("", ["sim prefers the answer shown first."])])
    >>> block.title, block.figures, block.missing
    ('Audit: sim', [], [])
    """

    anchor: str
    title: str
    path: str
    findings: list[summary.Findings] = field(default_factory=list)
    figures: list[ReportFigure] = field(default_factory=list)
    tables: list[tuple[str, pd.DataFrame]] = field(default_factory=list)
    details: list[tuple[str, str]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def write_report(directory: str | Path) -> Path:
    """Write DIR/report/report.html (+ report.md and the PNGs); returns the HTML path.

    ``directory`` is an audit, calibration, train or sweep output directory, or a parent of
    several (searched two levels deep). Raises FileNotFoundError for a directory that does not
    exist and ValueError for one without results, naming the files it looked for.

    A run killed before its first iteration still gets a report that says what is missing:

    Example:

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     run = Path(d, "run"); run.mkdir()
    ...     _ = (run / "config.toml").write_text('[judge]\\nspec = "simulated"\\n')
    ...     _ = (run / "state.json").write_text('{"finished": []}')
    ...     page = write_report(d)
    ...     print(page.name, "metrics.jsonl: not written" in page.read_text())
    report.html True
    """
    root = Path(directory)
    sections = find_sections(root)
    out = root / REPORT_DIR
    out.mkdir(parents=True, exist_ok=True)
    for old in out.iterdir():  # figures of an earlier report that this one may not redraw
        if _STALE_PNG.match(old.name):
            old.unlink()
    blocks = build_blocks(sections, out)
    title = root.resolve().name
    atomic_write(out / "report.html", render_html(title, root, blocks, sections))
    atomic_write(out / "report.md", render_markdown(title, root, blocks, sections))
    return out / "report.html"


# ---------------------------------------------------------------------------------------------
# Blocks: what each kind of directory contributes


def build_blocks(sections: list[Section], out: Path) -> list[Block]:
    """The report's blocks, figures drawn and saved to ``out``; runs share one block.

    Example:

    >>> import tempfile
    >>> from judgebench.report.load import Section
    >>> with tempfile.TemporaryDirectory() as d:   # an audit that wrote no tables: no figure
    ...     blocks = build_blocks([Section("audit", Path(d), "audit-sim", data={"audit": {}})],
    ...                           Path(d))
    >>> [(b.anchor, b.title, len(b.figures)) for b in blocks]
    [('audit-audit-sim', 'Audit: audit-sim', 0)]
    """
    blocks: list[Block] = []
    runs = [s for s in sections if s.kind == "train"]
    counter = iter(range(1, 100))
    # Studies lead: what reached the policy, with intervals over seeds, is the headline.
    for sec in sorted(sections, key=lambda s: s.kind != "sweep"):
        if sec.kind == "train" and sec is not runs[0]:
            continue  # drawn together with the first run, one line per run
        builder = {"audit": _audit_block, "calibration": _calibration_block,
                   "sweep": _sweep_block}.get(sec.kind)
        block = builder(sec, out, counter) if builder else _runs_block(runs, out, counter)
        blocks.append(block)
    return blocks


def _figure(block: Block, out: Path, counter, name: str, caption: str,
            draw: Callable[[], object]) -> None:
    """Draw one figure into ``block`` (and ``out``); a figure that cannot be drawn is listed as
    missing with the reason, and the rest of the report goes on."""
    try:
        png = plots.figure_png(draw())
    except (ValueError, KeyError, TypeError, IndexError) as err:
        block.missing.append(f"figure '{name}' could not be drawn ({type(err).__name__}: {err})")
        return
    file = f"{next(counter):02d}-{_slug(block.anchor)}-{name}.png"
    (out / file).write_bytes(png)
    block.figures.append(ReportFigure(file, caption, png))


def _audit_block(sec: Section, out: Path, counter) -> Block:
    block = Block(_slug("audit-" + sec.name), f"Audit: {sec.name}", sec.name,
                  summary.audit_findings(sec), missing=list(sec.missing))
    t = sec.tables
    if "position" in t:
        _figure(block, out, counter, "position", "Position bias: P(answer shown first wins) and "
                "consistency after swapping, per judge, with 95% bootstrap CIs over pairs.",
                lambda: plots.position_figure(t["position"]))
    if "verbosity_bins" in t or "padding" in t:
        _figure(block, out, counter, "verbosity", "Verbosity: P(judge prefers the longer "
                "response) per length-difference bin (band: 95% CI; dotted: gold), and the "
                "padding dose-response (content-free text added to one response).",
                lambda: plots.verbosity_figure(t.get("verbosity_bins"), t.get("padding")))
    if "probes" in t:
        _figure(block, out, counter, "probes", "CALM probes: share of verdicts unchanged when "
                "a fake citation, bandwagon line, sentiment or injection is added to the "
                "losing response (light: raw), the placebo baseline (dotted: a whitespace "
                "edit, what noise alone changes) and the noise-corrected robustness (solid), "
                "95% CI.", lambda: plots.probes_figure(t["probes"]))
    if "agreement_matrix" in t:
        _figure(block, out, counter, "agreement", "Agreement between judges and with gold: "
                "share of pairs on which the combined verdicts (both orders; disagreement = "
                "tie) are equal.", lambda: plots.agreement_figure(t["agreement_matrix"]))
        m = _estimates(t["agreement_matrix"], ["row", "col"])
        names = list(dict.fromkeys(m["row"]))
        wide = m.pivot(index="row", columns="col", values="estimate [95% CI]").reindex(
            index=names, columns=names)
        block.tables.append(("Agreement matrix: estimate [95% CI over pairs]",
                             wide.rename_axis(index="", columns=None).reset_index()))
    if "measures" in t:
        block.tables.append(("Every measure (audit.json; 95% bootstrap CI over pairs)",
                             _estimates(t["measures"], ["judge", "measure"], note=True)))
    result = sec.data.get("audit", {})
    block.details.append(("Settings and judges (audit.json)", json.dumps(
        {"settings": result.get("settings", {}),
         "judges": {j: {"n_verdicts": b.get("n_verdicts"), "n_failed": b.get("n_failed"),
                        "skipped": b.get("skipped", {})}
                    for j, b in summary.audit_blocks(result).items()}}, indent=2)))
    return block


def _calibration_block(sec: Section, out: Path, counter) -> Block:
    block = Block(_slug("calibration-" + sec.name), f"Calibration: {sec.name}", sec.name,
                  summary.calibration_findings(sec), missing=list(sec.missing))
    metrics, rel = sec.tables.get("metrics"), sec.tables.get("reliability")
    if (metrics is not None and not metrics.empty) or rel is not None:
        _figure(block, out, counter, "calibration", "Reliability diagrams on the held-out "
                "pairs after each cumulative step (dashed: perfect calibration), and ECE / "
                "Brier per stage with 95% CIs.",
                lambda: plots.calibration_figure(rel, metrics))
    if metrics is not None and not metrics.empty:
        wide = metrics.assign(value=[_est_text(r.estimate, r.ci_low, r.ci_high)
                                     for r in metrics.itertuples()])
        table = wide.pivot(index="metric", columns="stage", values="value")
        table = table.reindex(columns=list(dict.fromkeys(metrics["stage"])),
                              index=list(dict.fromkeys(metrics["metric"])))
        block.tables.append(("Held-out metrics per stage: estimate [95% CI]",
                             table.reset_index()))
    if "pipeline" in sec.data:
        block.details.append(("Fitted pipeline (pipeline.json)",
                              json.dumps(sec.data["pipeline"], indent=2)))
    return block


def _runs_block(runs: list[Section], out: Path, counter) -> Block:
    name = runs[0].name if len(runs) == 1 else f"{len(runs)} runs"
    block = Block(_slug("runs-" + name), f"RLAIF {'run' if len(runs) == 1 else 'runs'}: {name}",
                  ", ".join(s.name for s in runs))
    for sec in runs:
        block.findings.append(summary.train_findings(sec))
        block.missing += [f"{sec.name}/{m}" for m in sec.missing]
    block.findings += summary.runs_comparison(runs)
    _add_run_figure(block, runs, out, counter)
    for sec in runs:
        _add_run_details(block, sec)
    return block


def _add_run_figure(block: Block, runs: list[Section], out: Path, counter) -> None:
    # A sweep's run names join the grid values with "__"; ", " reads better in a legend.
    frames = [s.tables["metrics"].assign(run=s.name.replace("__", ", ")) for s in runs
              if not s.tables.get("metrics", pd.DataFrame()).empty]
    if frames:
        _figure(block, out, counter, "propagation", "Per iteration, on held-out prompts: "
                "policy length, gold (verifier) score, the judge's score of the policy against "
                "the iteration-0 policy (solid: raw judge, dashed: calibrated), and the accuracy "
                "of the training labels; one colour per run.",
                lambda: plots.propagation_figure(pd.concat(frames, ignore_index=True)))


def _add_run_details(block: Block, sec: Section) -> None:
    m = sec.tables.get("metrics", pd.DataFrame())
    cols = [c for c in RUN_COLUMNS if c in m.columns and c != "iteration"]
    if cols and "iteration" in m:
        # One row per metric, one column per iteration: narrow enough to read for short runs.
        table = m.set_index(m["iteration"].astype(int).map(lambda i: f"iter {i}"))[cols].T
        block.tables.append((f"{sec.name}: metrics.jsonl (selected keys)",
                             table.rename_axis(index="metric", columns=None).reset_index()))
    if "config_text" in sec.data:
        block.details.append((f"{sec.name}: config.toml", sec.data["config_text"]))


def _sweep_block(sec: Section, out: Path, counter) -> Block:
    block = Block(_slug("sweep-" + sec.name), f"Sweep: {sec.name}", sec.name,
                  summary.sweep_findings(sec), missing=list(sec.missing))
    sweep, prop = sec.tables.get("sweep"), sec.data.get("propagation")
    if sweep is not None and not sweep.empty:
        bias_axis = (prop or {}).get("bias_axis", "judge.verbosity")
        _figure(block, out, counter, "sweep", "Final length drift and gold change against the "
                "injected verbosity bias, one line per setting of the other grid axes (mean "
                "over seeds, bars: range over seeds); legend: propagation coefficient [95% CI].",
                lambda: plots.sweep_figure(sweep, prop, bias_axis))
        keep = grid_axes(list(sweep.columns)) + [c for c in ("seed", "final_length_drift_chars",
                                                            "final_gold_change",
                                                            "final_proxy_gold_gap",
                                                            "mean_label_accuracy")
                                                 if c in sweep.columns]
        block.tables.append(("sweep.csv (selected columns)", sweep[keep]))
    if prop and prop.get("settings"):
        rows = [{**s.get("setting", {}), **{
            k: _est_text(*_triple(s.get(k))) for k in ("length_drift_per_unit_bias",
                                                       "gold_change_per_unit_bias")},
                 "seeds": (s.get("length_drift_per_unit_bias") or {}).get("n")}
                for s in prop["settings"]]
        block.tables.append(("propagation.json: slope per unit of injected bias [95% CI over "
                             "seeds]", pd.DataFrame(rows)))
    study = sec.data.get("study")
    if study and study.get("dose_response"):
        _figure(block, out, counter, "dose-response", "The study's dose-response: final length "
                "drift, gold change and label-level bias against the injected dose, mean over "
                "seeds with a 95% t-interval (n seeds per point; lack-of-fit p of a line).",
                lambda: plots.dose_response_figure(study))
        block.tables.append(("Paired tests (same seeds; 95% paired t-intervals, n = seeds)",
                             _paired_table(study)))
    runs = [r for r in sec.runs if not r.tables.get("metrics", pd.DataFrame()).empty]
    if 0 < len(runs) <= MAX_RUN_LINES:
        _add_run_figure(block, runs, out, counter)
    elif runs:
        block.findings.append(("", [f"{len(runs)} runs under runs/: too many for one "
                                    "per-iteration figure; report a single run directory to "
                                    "see its curves."]))
    block.missing += [f"runs/{r.name}/{m}" for r in sec.runs for m in r.missing]
    if sec.runs and "config_text" in sec.runs[0].data:
        block.details.append((f"runs/{sec.runs[0].name}/config.toml (first run; the grid "
                              "overrides the swept keys)", sec.runs[0].data["config_text"]))
    return block


def _triple(est: dict | None) -> tuple[float, float, float]:
    if not isinstance(est, dict):
        return (np.nan, np.nan, np.nan)
    ci = est.get("ci") or [None, None]
    return tuple(np.nan if v is None else float(v) for v in (est.get("estimate"), *ci[:2]))


# ---------------------------------------------------------------------------------------------
# Formatting helpers


def _paired_table(study: dict) -> pd.DataFrame:
    """study.json's paired contrasts as one row each, intervals written with n and method."""
    rows = []
    for t in study.get("paired", []):
        row = {**{k.split(".")[-1]: v for k, v in t["arm"].items()}, "contrast": t["contrast"]}
        for key, label in (("drift", "length drift (chars)"), ("gold_change", "gold change")):
            d = t.get(key) or {}
            lo, hi = d.get("ci") or [None, None]
            row[label] = _est_text(*(np.nan if v is None else float(v)
                                     for v in (d.get("estimate"), lo, hi)))
            row[f"{label}: n, method"] = f"{d.get('n')}, {d.get('method')}"
        rows.append(row)
    return pd.DataFrame(rows)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")[:60] or "x"


def _est_text(est: float, lo: float, hi: float) -> str:
    if not np.isfinite(est):
        return "–"
    if np.isfinite(lo) and np.isfinite(hi):
        return f"{est:.3g} [{lo:.3g}, {hi:.3g}]"
    return f"{est:.3g}"


def _estimates(table: pd.DataFrame, keys: list[str], note: bool = False) -> pd.DataFrame:
    """Long estimate table -> keys, 'estimate [CI]', n (and note)."""
    out = table[keys].copy()
    out["estimate [95% CI]"] = [_est_text(*v) for v in
                                table[["estimate", "ci_low", "ci_high"]].to_numpy(float)]
    out["n"] = table["n"]
    if note and "note" in table:
        out["note"] = table["note"].astype(object).where(table["note"].notna(), "")
    return out


def _cell(value: object) -> str:
    if isinstance(value, float | np.floating):
        return "–" if not np.isfinite(value) else f"{value:.4g}"
    if value is None or (isinstance(value, str) and value == "nan"):
        return "–"
    return str(value)


def versions() -> dict[str, str]:
    """Installed versions of the packages a result depends on (at report time).

    Example:

    >>> list(versions())
    ['python', 'judgebench', 'torch', 'transformers', 'trl', 'numpy', 'pandas', 'matplotlib']
    """
    out = {"python": platform.python_version()}
    for name in VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def judge_rows(sections: list[Section]) -> pd.DataFrame:
    """Which judges the results come from: per section, the judge names or specs.

    Example:

    >>> from judgebench.report.load import Section
    >>> run = Section("train", Path("runs/a"), "a", data={"config": {
    ...     "judge": {"spec": "simulated:verbosity=2.0"}, "calibration": {"steps": ["length"]}}})
    >>> judge_rows([run]).values.tolist()
    [['a', 'simulated:verbosity=2.0', "{}; calibration steps: ['length']"]]
    """
    rows = []
    for sec in sections:
        if sec.kind == "audit":
            for j, b in summary.audit_blocks(sec.data.get("audit", {})).items():
                rows.append({"where": sec.name, "judge": j, "details":
                             f"{b.get('n_verdicts')} verdicts, {b.get('n_failed')} failed"})
        elif sec.kind == "calibration":
            raw = sec.data.get("calibration", {}).get("raw", {})
            steps = [s.get("step") for s in sec.data.get("pipeline", {}).get("steps", [])]
            for j in raw.get("judges", []):
                rows.append({"where": sec.name, "judge": j,
                             "details": "calibrated with " + (" + ".join(steps) or "?")})
        for run in ([sec] if sec.kind == "train" else sec.runs[:1]):
            cfg = run.data.get("config", {})
            if cfg.get("judge"):
                rows.append({"where": f"{sec.name}" + ("" if run is sec else " (first run)"),
                             "judge": cfg["judge"].get("spec", "?"),
                             "details": json.dumps({k: v for k, v in cfg["judge"].items()
                                                    if k != "spec"})
                             + f"; calibration steps: {cfg.get('calibration', {}).get('steps')}"})
    return pd.DataFrame(rows, columns=["where", "judge", "details"])


# ---------------------------------------------------------------------------------------------
# HTML

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1a1a1a;
background:#fafafa;line-height:1.5}
main{max-width:1100px;margin:0 auto;padding:24px 32px;background:#fff}
h1{margin-bottom:4px}h2{border-bottom:2px solid #0072B2;padding-bottom:4px;margin-top:40px}
.meta{color:#555;font-size:0.9em}
figure{margin:20px 0;text-align:center}figure img{max-width:100%;height:auto;
border:1px solid #eee}figcaption{font-size:0.9em;color:#444;text-align:left;margin-top:4px}
table{border-collapse:collapse;font-size:0.85em;margin:8px 0 20px;display:block;
overflow-x:auto}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f0f4f8}tr:nth-child(even) td{background:#fafcfe}
pre{background:#f6f8fa;padding:10px;overflow-x:auto;font-size:0.85em}
.missing li{color:#8a4b00}nav ul{columns:2}details{margin:8px 0}
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _html_table(df: pd.DataFrame) -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in df.columns)
    body = "".join("<tr>" + "".join(f"<td>{_e(_cell(v))}</td>" for v in row) + "</tr>"
                   for row in df.itertuples(index=False))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _findings_html(groups: list[summary.Findings]) -> str:
    """Untitled groups as plain items; titled ones as an item with a nested list."""
    items = []
    for title, sentences in groups:
        if title:
            items.append(f"<li><strong>{_e(title)}</strong>{_ul(sentences)}</li>")
        else:
            items += [f"<li>{_e(s)}</li>" for s in sentences]
    return "<ul>" + "".join(items) + "</ul>"


def _ul(items: list[str], cls: str = "") -> str:
    attr = f' class="{cls}"' if cls else ""
    return f"<ul{attr}>" + "".join(f"<li>{_e(i)}</li>" for i in items) + "</ul>"


def render_html(title: str, root: Path, blocks: list[Block], sections: list[Section]) -> str:
    """The whole report as one HTML document (figures inline as data URIs).

    Example:

    >>> block = Block("audit-sim", "Audit: sim", "audit-sim",
    ...               findings=[("", ["sim prefers the answer shown first."])])
    >>> page = render_html("demo", Path("."), [block], [])
    >>> page.startswith("<!DOCTYPE html>"), "<li>sim prefers the answer shown first.</li>" in page
    (True, True)
    """
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    parts = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             f"<title>judgebench report: {_e(title)}</title>", f"<style>{_CSS}</style>",
             "</head>", "<body>", "<main>", f"<h1>judgebench report: {_e(title)}</h1>",
             f'<p class="meta">Directory {_e(root.resolve())} · written {_e(stamp)} · '
             f"{len(sections)} result director{'y' if len(sections) == 1 else 'ies'}</p>",
             "<nav><ul>" + "".join(f'<li><a href="#{_e(b.anchor)}">{_e(b.title)}</a></li>'
                                  for b in blocks) + "</ul></nav>",
             '<section id="summary"><h2>What was found</h2>']
    for b in blocks:
        if b.findings:
            parts += [f"<h3>{_e(b.title)}</h3>", _findings_html(b.findings)]
    parts.append("</section>")
    missing = [f"{b.path}: {m}" for b in blocks for m in b.missing]
    if missing:
        parts += ['<section id="missing"><h2>Missing or partial results</h2>',
                  "<p>Drawn from what exists; these files or parts were not found.</p>",
                  _ul(missing, "missing"), "</section>"]
    for b in blocks:
        parts += [f'<section id="{_e(b.anchor)}">', f"<h2>{_e(b.title)}</h2>",
                  f'<p class="meta">Directory: {_e(b.path)}</p>']
        for fig in b.figures:
            data = base64.b64encode(fig.png).decode("ascii")
            parts.append(f'<figure><img src="data:image/png;base64,{data}" '
                         f'alt="{_e(fig.caption)}"><figcaption>{_e(fig.caption)} '
                         f"({_e(fig.file)})</figcaption></figure>")
        for caption, table in b.tables:
            parts += [f"<h3>{_e(caption)}</h3>", _html_table(table)]
        for caption, text in b.details:
            parts.append(f"<details><summary>{_e(caption)}</summary><pre>{_e(text)}</pre>"
                         "</details>")
        parts.append("</section>")
    judges = judge_rows(sections)
    parts += ['<section id="judges"><h2>Judges</h2>',
              _html_table(judges) if len(judges) else "<p>No judge recorded.</p>",
              "</section>", '<section id="versions"><h2>Software versions</h2>',
              "<p>Installed when this report was written.</p>",
              _html_table(pd.DataFrame(list(versions().items()),
                                       columns=["package", "version"])),
              "</section>", "</main>", "</body>", "</html>"]
    return "\n".join(parts) + "\n"


# ---------------------------------------------------------------------------------------------
# Markdown


def _md(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _md_table(df: pd.DataFrame) -> str:
    lines = ["| " + " | ".join(_md(c) for c in df.columns) + " |",
             "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(_md(_cell(v)) for v in row) + " |"
              for row in df.itertuples(index=False)]
    return "\n".join(lines)


def render_markdown(title: str, root: Path, blocks: list[Block], sections: list[Section]
                    ) -> str:
    """The report as Markdown; figures link to the PNGs beside it.

    Example:

    >>> block = Block("audit-sim", "Audit: sim", "audit-sim",
    ...               findings=[("", ["sim prefers the answer shown first."])])
    >>> md = render_markdown("demo", Path("."), [block], [])
    >>> [line for line in md.splitlines() if line.startswith(("#", "- "))][:4]
    ['# judgebench report: demo', '## What was found', '### Audit: sim',
     '- sim prefers the answer shown first.']
    """
    out = [f"# judgebench report: {title}", "", f"Directory `{root.resolve()}`", "",
           "## What was found", ""]
    for b in blocks:
        if b.findings:
            out += [f"### {b.title}", ""]
            for head, sentences in b.findings:
                indent = "  " if head else ""
                out += [f"- **{head}**"] if head else []
                out += [f"{indent}- {s}" for s in sentences]
            out.append("")
    missing = [f"{b.path}: {m}" for b in blocks for m in b.missing]
    if missing:
        out += ["## Missing or partial results", ""] + [f"- {m}" for m in missing] + [""]
    for b in blocks:
        out += [f"## {b.title}", ""]
        for fig in b.figures:
            out += [f"![{_md(fig.caption)}]({fig.file})", "", f"*{fig.caption}*", ""]
        for caption, table in b.tables:
            out += [f"**{caption}**", "", _md_table(table), ""]
        for caption, text in b.details:
            out += [f"<details><summary>{html.escape(caption)}</summary>", "", "```",
                    text.rstrip(), "```", "", "</details>", ""]
    judges = judge_rows(sections)
    if len(judges):
        out += ["## Judges", "", _md_table(judges), ""]
    out += ["## Software versions", "",
            _md_table(pd.DataFrame(list(versions().items()), columns=["package", "version"])),
            ""]
    return "\n".join(out)
