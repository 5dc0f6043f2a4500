"""Short human summaries of an audit or a calibration result, for the command line.

The JSON files hold every number at full precision; these few lines hold the headline measures
at three significant digits, and say where the files are. Pure functions of the result dicts
that ``run_audit`` and ``run_calibration`` return.

>>> fmt_num(0.43612), fmt_num(1307.2), fmt_num(2.46e-18), fmt_num(None)
('0.436', '1,310', '0', 'n/a')
>>> fmt_num(1), fmt_num(0.5), fmt_num(125.4)
('1.00', '0.500', '125')
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

#: Headline audit measures: (group, measure, label). The rest are in audit.json.
AUDIT_HEADLINE = (
    ("position", "consistency", "position consistency"),
    ("position", "p_first", "P(first shown wins)"),
    ("position", "offset_logit", "position offset (logit)"),
    ("verbosity", "length_slope", "length slope"),
    ("verbosity", "padding_win_rate", "padding win rate"),
    ("self_preference", "delta", "self-preference delta"),
    ("agreement", "accuracy", "accuracy (swap-averaged)"),
    ("agreement", "kappa", "Cohen's kappa"),
)
#: Headline calibration metrics: (key, column header).
CALIBRATION_HEADLINE = (("ece", "ECE"), ("accuracy", "accuracy"),
                        ("position_consistency", "consistency"), ("length_slope", "length slope"))
#: With more judges than this, the audit summary is one line per judge.
_BLOCK_JUDGES = 3
_MAX_ROWS = 20


def fmt_num(x: float | None) -> str:
    """A number for people: three significant digits; 'n/a' for None/NaN; float dust is 0.

    Example:

    >>> fmt_num(0.43612), fmt_num(1307.2), fmt_num(float("nan"))
    ('0.436', '1,310', 'n/a')
    """
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    x = float(x)
    if abs(x) < 1e-12:  # e.g. a bootstrap bound of 2.46e-18 is zero
        return "0"
    if abs(x) >= 1000:  # 1307.2 -> '1,310', not '1.31e+03'
        return f"{float(f'{x:.3g}'):,.0f}"
    if abs(x) < 1e-3:
        return f"{x:.3g}"
    return f"{x:#.3g}".rstrip(".")  # '#' keeps the zeros of 1.00 and 0.500


def fmt_estimate(entry: dict[str, Any] | None) -> str:
    """``{"estimate", "ci": [lo, hi], "n"}`` as '0.436 [0.401, 0.47] (n=336)'.

    Example:

    >>> fmt_estimate({"estimate": 0.43612, "ci": [0.401, 0.4702], "n": 336}), fmt_estimate(None)
    ('0.436 [0.401, 0.470] (n=336)', 'n/a')
    """
    if not entry:
        return "n/a"
    lo, hi = (entry.get("ci") or [None, None])[:2]
    text = f"{fmt_num(entry.get('estimate'))} [{fmt_num(lo)}, {fmt_num(hi)}]"
    return text + (f" (n={entry['n']})" if entry.get("n") is not None else "")


def _written(out_dir: str | Path | None, main: str) -> list[str]:
    if out_dir is None:
        return []
    out = Path(out_dir)
    others = sorted(p.name for p in out.iterdir() if p.is_file() and p.name != main
                    and not p.name.startswith(".")) if out.is_dir() else []
    tail = f" (also {', '.join(others)})" if others else ""
    return [f"Wrote {out / main}{tail}"]


def audit_summary(result: dict[str, Any], out_dir: str | Path | None = None) -> str:
    """A few lines: per judge the headline measures with 95% CIs, then where the files are.

    >>> from judgebench.judges.simulated import simulate_verdicts
    >>> from judgebench.audit.suite import run_audit
    >>> print(audit_summary(run_audit(simulate_verdicts(50, seed=0), n_boot=20)))  # doctest: +SKIP
    """
    blocks = result.get("judges") or {result.get("judge", "judge"): result}
    lines = []
    if len(blocks) <= _BLOCK_JUDGES:
        for name, block in blocks.items():
            lines.append(f"Judge {name}: {block['n_verdicts']} verdicts, "
                         f"{block['n_failed']} failed (95% bootstrap CIs)")
            width = max(len(label) for *_, label in AUDIT_HEADLINE)
            for group, measure, label in AUDIT_HEADLINE:
                entry = block.get(group, {}).get(measure)
                if entry:
                    lines.append(f"  {label:<{width}}  {fmt_estimate(entry)}")
            robust = block.get("probes", {})
            if robust:
                lines.append("  probe robustness: " + ", ".join(
                    f"{edit} {fmt_num(m.get('robustness', {}).get('estimate'))}"
                    for edit, m in sorted(robust.items())))
                placebo = block.get("noise", {}).get("placebo", {}).get("robustness")
                if placebo:
                    lines.append(f"  ... placebo (noise) {fmt_num(placebo.get('estimate'))}; "
                                 "corrected: " + ", ".join(
                                     f"{edit} {fmt_num(m.get('robustness_corrected', {}).get('estimate'))}"
                                     for edit, m in sorted(robust.items())))
            lines += _flag_lines(block)
            # A group with nothing measured is named once; otherwise its skipped measures.
            skipped = sorted({k.split(".")[0] if not block.get(k.split(".")[0]) else k
                              for k in block.get("skipped", {})})
            if skipped:
                lines.append(f"  not measured: {', '.join(skipped)} (reasons in audit.json)")
    else:
        lines.append(f"{len(blocks)} judges, {result.get('n_verdicts')} verdicts, "
                     f"{result.get('n_failed')} failed; estimates [95% CI]:")
        rows = []
        for name, block in list(blocks.items())[:_MAX_ROWS]:
            pos, agr = block.get("position", {}), block.get("agreement", {})
            rows.append([str(name)[:40], _short(pos.get("consistency")),
                         _short(pos.get("p_first")), _short(agr.get("accuracy"))])
        lines += _table(["judge", "consistency", "P(first wins)", "accuracy"], rows)
        if len(blocks) > _MAX_ROWS:
            lines.append(f"  ... and {len(blocks) - _MAX_ROWS} more judges (see audit.json)")
    return "\n".join(lines + _written(out_dir, "audit.json"))


def _flag_lines(block: dict[str, Any]) -> list[str]:
    """'flags (q < 0.05): ...' and how many tests were underpowered."""
    if "flags" not in block:
        return []
    verdicts = [e.get("verdict") for g in block.values() if isinstance(g, dict)
                for e in _walk(g)]
    weak = verdicts.count("underpowered")
    text = ", ".join(block["flags"]) or "none"
    return [f"  flags (BH q < 0.05): {text}"
            + (f"; {weak} of {sum(v is not None for v in verdicts)} tests underpowered"
               if weak else "")]


def _walk(group: dict[str, Any]):
    for v in group.values():
        if isinstance(v, dict):
            yield from ([v] if "estimate" in v else _walk(v))


def _table(header: list[str], rows: list[list[str]], indent: str = "  ") -> list[str]:
    """Left-aligned columns as wide as their widest cell."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return [indent + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()
            for r in [header, *rows]]


def _short(entry: dict[str, Any] | None) -> str:
    """'0.436 [0.401, 0.47]' without n (tables give n elsewhere)."""
    return fmt_estimate({k: v for k, v in entry.items() if k != "n"}) if entry else "n/a"


def calibration_summary(result: dict[str, Any], out_dir: str | Path | None = None) -> str:
    """A few lines: one row per stage (raw, then each step) on the held-out pairs, then files.

    >>> from judgebench.judges.simulated import simulate_verdicts
    >>> from judgebench.calibration.pipeline import run_calibration
    >>> r = run_calibration(simulate_verdicts(100, seed=0), ["swap"], n_boot=20)
    >>> calibration_summary(r).splitlines()[2].split()[0]
    'raw'
    """
    split = result.get("raw", {}).get("split", {})
    lines = [f"Calibration: fitted on {split.get('n_fit_pairs', '?')} pairs, evaluated on "
             f"{split.get('n_eval_pairs', '?')} held-out pairs (seed {split.get('seed', '?')}); "
             "estimates [95% CI]:"]
    stages = [k for k, v in result.items() if isinstance(v, dict) and "params" in v]
    rows = [[stage] + [_short(result[stage].get(key)) for key, _ in CALIBRATION_HEADLINE]
            for stage in stages]
    lines += _table(["stage"] + [h for _, h in CALIBRATION_HEADLINE], rows)
    lines += [f"  note: {n}" for n in result.get("raw", {}).get("notes", [])]
    # A step that made held-out ECE or NLL worse is said, not left to be spotted in a table.
    lines += [f"  warning: {w}" for w in result.get("warnings", [])]
    return "\n".join(lines + _written(out_dir, "calibration.json"))


__all__ = ["audit_summary", "calibration_summary", "fmt_estimate", "fmt_num"]
