"""write_report (judgebench/report/html.py): a valid, self-contained HTML file whose images are
the PNGs it claims, whose summary states the numbers in the result files, and which renders
partial directories and refuses empty ones."""

from __future__ import annotations

import base64
import json
import re
from html.parser import HTMLParser
from importlib import metadata
from pathlib import Path

import pandas as pd
import pytest

from judgebench.audit.suite import run_audit
from judgebench.cli import main
from judgebench.judges.simulated import simulate_verdicts
from judgebench.report.html import write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


class Checker(HTMLParser):
    """Collects tag-balance errors, <img> attributes, and the visible text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.imgs: list[dict] = []
        self.text: list[str] = []
        self.seen: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.seen.append(tag)
        if tag == "img":
            self.imgs.append(dict(attrs))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in VOID:
            self.errors.append(f"end tag for void <{tag}>")
        elif not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
        else:
            self.stack.pop()

    def handle_data(self, data):
        if not self.stack or self.stack[-1] not in ("style", "title"):
            self.text.append(data)


def parse(path: Path) -> Checker:
    doc = path.read_text(encoding="utf-8")
    assert doc.startswith("<!DOCTYPE html>")
    checker = Checker()
    checker.feed(doc)
    checker.close()
    assert checker.errors == [] and checker.stack == []
    for tag in ("html", "head", "body", "main"):
        assert checker.seen.count(tag) == 1
    return checker


def text_of(checker: Checker) -> str:
    return re.sub(r"\s+", " ", " ".join(checker.text))


@pytest.fixture(scope="module")
def report(results: Path) -> tuple[Path, Checker]:
    path = write_report(results)
    return path, parse(path)


def test_report_files(report, results: Path) -> None:
    path, _ = report
    assert path == results / "report" / "report.html"
    assert (results / "report" / "report.md").exists()
    assert len(list((results / "report").glob("*.png"))) == 8


def test_every_img_is_an_embedded_png_that_is_also_on_disk(report, results: Path) -> None:
    path, checker = report
    on_disk = {p.name: p.read_bytes() for p in (results / "report").glob("*.png")}
    assert len(checker.imgs) == len(on_disk)
    embedded = []
    for img in checker.imgs:
        prefix = "data:image/png;base64,"
        assert img["src"].startswith(prefix) and img.get("alt")
        data = base64.b64decode(img["src"][len(prefix):], validate=True)
        assert data.startswith(PNG_MAGIC)
        embedded.append(data)
    assert sorted(embedded) == sorted(on_disk.values())
    # report.md links exactly the same files.
    md = (results / "report" / "report.md").read_text()
    assert set(re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", md)) == set(on_disk)


def test_report_is_self_contained(report) -> None:
    doc = report[0].read_text()
    assert not re.search(r"""(src|href)=["']?(https?:|//|file:)""", doc)
    assert "<script" not in doc and "<link" not in doc


def test_summary_states_audit_json_numbers(report, results: Path) -> None:
    text = text_of(report[1])
    audit = json.loads((results / "audit-sim" / "audit.json").read_text())
    p, c = audit["position"]["p_first"], audit["position"]["consistency"]
    assert (f"picks the answer shown first in {round(100 * p['estimate'])}% (95% CI "
            f"{round(100 * p['ci'][0])}–{round(100 * p['ci'][1])}%, n = {p['n']} pairs)") in text
    assert p["ci"][0] > 0.5 and "a first-position bias" in text  # injected position = 1.5
    assert f"for {round(100 * c['estimate'])}% (95% CI" in text
    pad = audit["verbosity"]["padding_win_rate"]["estimate"]
    assert f"beats its own original {round(100 * pad)}%" in text
    slope = audit["verbosity"]["length_slope"]
    assert f"Length slope φ = {slope['estimate']:.2f} (95% CI {slope['ci'][0]:.2f} to " in text
    delta = audit["self_preference"]["delta"]["estimate"]
    assert f"its own model (verbose-bot) {delta:+.2f}" in text
    # Probes are read against the placebo: the corrected values, never a bare "least robust".
    assert "corrected for noise" in text and "least robust" not in text
    for name, m in audit["probes"].items():
        assert f"{name} {round(100 * m['robustness_corrected']['estimate'])}%" in text
    assert "placebo baseline of " in text


def test_summary_states_calibration_and_run_numbers(report, results: Path) -> None:
    text = text_of(report[1])
    cal = json.loads((results / "calibration-sim" / "calibration.json").read_text())
    ece = [cal[s]["ece"]["estimate"] for s in ("raw", "swap", "temperature")]
    assert (f"ECE: {ece[0]:.3f} (raw) → {ece[1]:.3f} (swap) → {ece[2]:.3f} (temperature)"
            in text)
    assert cal["swap"]["position_consistency"]["estimate"] == 1.0
    assert "1.00 (swap)" in text
    rows = [json.loads(x) for x in (results / "runs" / "biased" / "metrics.jsonl").read_text()
            .splitlines()]
    assert f"changed by {rows[-1]['length_drift_chars']:+.1f} characters" in text
    assert "under judge 'simulated:verbosity=2.0,seed=0' (no calibration)".lower() in \
        text.lower()
    assert "(calibrated with swap + length)" in text


def test_report_lists_judges_versions_and_configs(report) -> None:
    text = text_of(report[1])
    for pkg in ("judgebench", "torch", "transformers", "trl"):
        assert f"{pkg} {metadata.version(pkg)}" in text
    assert 'spec = "simulated:verbosity=2.0,seed=0"' in text  # config.toml, unescaped text
    assert "sim-biased" in text and "calibrated with swap + temperature" in text


def test_user_text_is_escaped(tmp_path: Path) -> None:
    evil = '<script>alert("x")</script>'
    run_audit(simulate_verdicts(60, seed=0, judge=evil), out_dir=tmp_path / "a", n_boot=20,
              probes=False)
    path = write_report(tmp_path / "a")
    doc = path.read_text()
    assert "<script>" not in doc and "&lt;script&gt;" in doc
    assert evil in text_of(parse(path))  # shown to the reader as the text it is


def test_audit_without_probes_renders_and_lists_missing(report, results: Path) -> None:
    text = text_of(report[1])
    assert "Missing or partial results" in text
    assert "audit-multi: probes.csv: not written (no judge to re-judge" in text
    assert "padding probe not run" not in text  # that is inside a figure, not the text


def test_killed_run_renders_what_exists(tmp_path: Path, make_run) -> None:
    make_run(tmp_path / "killed", n_rows=2, n_iterations=3, drift=5.0)
    path = write_report(tmp_path / "killed")
    checker = parse(path)
    text = text_of(checker)
    assert "iterations 2-3 of 0-3 are missing (2 of 4 measured)" in text
    assert "2 of 4 iterations measured" in text
    assert len(checker.imgs) == 1  # the per-iteration figure of what was measured


def test_sweep_report(sweep_dir: Path) -> None:
    checker = parse(write_report(sweep_dir))
    text = text_of(checker)
    prop = json.loads((sweep_dir / "propagation.json").read_text())
    est = prop["settings"][0]["length_drift_per_unit_bias"]
    assert "With calibration=none, each unit of injected verbosity bias" in text
    assert (f"by {est['estimate']:+.1f} characters (95% CI {est['ci'][0]:.1f} to "
            f"{est['ci'][1]:.1f}, n = 3 seeds)") in text
    assert len(checker.imgs) == 2  # the sweep figure and its runs' per-iteration figure


def test_rerun_replaces_old_figures_and_keeps_other_files(results: Path, copy_of) -> None:
    d = copy_of(results / "calibration-sim")
    (d / "report").mkdir()
    (d / "report" / "07-old-figure.png").write_bytes(PNG_MAGIC)
    (d / "report" / "notes.txt").write_text("mine")
    write_report(d)
    names = sorted(p.name for p in (d / "report").iterdir())
    assert names == ["01-calibration-calibration-sim-calibration.png", "notes.txt",
                     "report.html", "report.md"]


def test_empty_and_missing_directories(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"holds no judgebench results: expected audit\.json"):
        write_report(tmp_path)
    with pytest.raises(FileNotFoundError, match="gone.*does not exist"):
        write_report(tmp_path / "gone")


def test_cli_report(results: Path, tmp_path: Path, capsys) -> None:
    assert main(["report", str(tmp_path)]) == 2
    assert "holds no judgebench results" in capsys.readouterr().err
    d = tmp_path / "one"
    pd.DataFrame().to_csv(tmp_path / "unused.csv")
    run_audit(simulate_verdicts(40, seed=0), out_dir=d, n_boot=20, probes=False)
    assert main(["report", str(d)]) == 0
    assert capsys.readouterr().out.strip() == str(d / "report" / "report.html")
