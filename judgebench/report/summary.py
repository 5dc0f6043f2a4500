"""Plain-language findings: sentences built from the numbers a result directory holds.

Every number is read from audit.json, calibration.json, metrics.jsonl or propagation.json and
printed with its 95% CI and n where the file has them; nothing is recomputed. Shares are
printed as whole percentages, other numbers to 2-3 significant decimals
(docs/design/report.md).

>>> pct({"estimate": 0.853, "ci": [0.80, 0.89], "n": 120})
'85% (95% CI 80–89%, n = 120)'
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from judgebench.report.load import Section, audit_blocks

_NA = "n/a"
#: A titled group of finding sentences ("" = no title).
Findings = tuple[str, list[str]]


# ---------------------------------------------------------------------------------------------
# Formatting


def _ok(x: Any) -> bool:
    return isinstance(x, (int, float)) and np.isfinite(x)


def pct(est: dict | None, unit: str = "") -> str:
    """An estimate dict as '85% (95% CI 80–89%, n = 120)'.

    Example:

    >>> pct({"estimate": 0.853, "ci": [0.804, 0.889], "n": 120}, " pairs")
    '85% (95% CI 80–89%, n = 120 pairs)'
    >>> pct({"estimate": None})
    'n/a'
    """
    if not isinstance(est, dict) or not _ok(est.get("estimate")):
        return _NA
    text = f"{100 * est['estimate']:.0f}%"
    lo, hi = (est.get("ci") or [None, None])[:2]
    extra = []
    if _ok(lo) and _ok(hi):
        extra.append(f"95% CI {100 * lo:.0f}–{100 * hi:.0f}%")
    if _ok(est.get("n")):
        extra.append(f"n = {int(est['n'])}{unit}")
    return text + (f" ({', '.join(extra)})" if extra else "")


def num(est: dict | None, digits: int = 2, signed: bool = False, unit: str = "",
        n_unit: str = "") -> str:
    """An estimate dict as '3.10 logits (95% CI 2.31 to 4.13, n = 120)'.

    Example:

    >>> num({"estimate": 1.4346, "ci": [1.37, 1.51], "n": 7}, unit=" logits")
    '1.43 logits (95% CI 1.37 to 1.51, n = 7)'
    >>> num({"estimate": -0.02, "ci": [None, None], "n": 3}, 3, signed=True)
    '-0.020 (n = 3)'
    """
    if not isinstance(est, dict) or not _ok(est.get("estimate")):
        return _NA
    text = f"{est['estimate']:{'+' if signed else ''}.{digits}f}{unit}"
    lo, hi = (est.get("ci") or [None, None])[:2]
    extra = []
    if _ok(lo) and _ok(hi):
        extra.append(f"95% CI {lo:.{digits}f} to {hi:.{digits}f}")
    if _ok(est.get("n")):
        extra.append(f"n = {int(est['n'])}{n_unit}")
    return text + (f" ({', '.join(extra)})" if extra else "")


def _excludes(est: dict | None, value: float) -> str:
    """'above'/'below' when the CI excludes ``value``, '' otherwise."""
    if not isinstance(est, dict):
        return ""
    lo, hi = (est.get("ci") or [None, None])[:2]
    if _ok(lo) and lo > value:
        return "above"
    if _ok(hi) and hi < value:
        return "below"
    return ""


# ---------------------------------------------------------------------------------------------
# Audit


def audit_findings(sec: Section) -> list[Findings]:
    """One group of findings per judge of an audit directory.

    Example:

    >>> from pathlib import Path
    >>> p_first = {"estimate": 0.3, "ci": [0.2, 0.4], "n": 8}
    >>> sec = Section("audit", Path("audit"), "audit", data={"audit": {
    ...     "judge": "j", "n_verdicts": 10, "n_failed": 2, "position": {"p_first": p_first}}})
    >>> (title, lines), = audit_findings(sec)
    >>> print(title, "|", lines[1])
    judge j | It picks the answer shown first in 30% (95% CI 20–40%, n = 8 pairs) of ...
    """
    result = sec.data.get("audit", {})
    out = []
    padding = sec.tables.get("padding")
    for judge, block in audit_blocks(result).items():
        parts = [f"{block.get('n_verdicts', '?')} verdicts, {block.get('n_failed', 0)} failed "
                 "(failed verdicts are excluded, never counted as preferences)."]
        parts += _position_text(block.get("position", {}))
        parts += _verbosity_text(block.get("verbosity", {}), padding, judge)
        parts += _probe_text(block.get("probes", {}), block.get("noise", {}))
        parts += _self_text(block.get("self_preference", {}),
                            result.get("settings", {}).get("judge_model"))
        parts += _agreement_text(block.get("agreement", {}))
        # One line per skipped group: self-preference's three measures share one reason.
        skipped: dict[str, str] = {}
        for key, why in block.get("skipped", {}).items():
            group = "self_preference" if key.startswith("self_preference") else key
            skipped.setdefault(group, str(why))
        parts += [f"Not measured: {k} ({why})." for k, why in sorted(skipped.items())]
        out.append((f"judge {judge}", parts))
    return out


def _position_text(pos: dict) -> list[str]:
    out = []
    p_first = pos.get("p_first")
    if p_first:
        side = _excludes(p_first, 0.5)
        verdict = {"above": "a first-position bias", "below": "a second-position bias"}.get(
            side, "no clear position bias")
        out.append(f"It picks the answer shown first in {pct(p_first, ' pairs')} of decisive "
                   f"verdicts: {verdict} (0.5 = none).")
    if pos.get("consistency"):
        out.append(f"It names the same winner after the two answers are swapped for "
                   f"{pct(pos['consistency'], ' pairs')} of pairs.")
    if pos.get("offset_logit"):
        out.append(f"Mean position offset: {num(pos['offset_logit'], unit=' logits')}.")
    return out


def _verbosity_text(verb: dict, padding: pd.DataFrame | None, judge: str) -> list[str]:
    out = []
    if verb.get("p_prefer_longer"):
        out.append(f"Where the lengths differ by more than 30 characters it prefers the longer "
                   f"response {pct(verb['p_prefer_longer'])} of the time.")
    if verb.get("length_slope"):
        slope = verb["length_slope"]
        side = _excludes(slope, 0.0)
        # A direction is stated only when the audit's decision rule flags it (q < 0.05 after
        # Benjamini–Hochberg); an interval that just excludes 0 is not yet a finding.
        if slope.get("verdict") not in (None, "flagged"):
            side = ""
        meaning = {"above": "it favours longer answers beyond what gold explains",
                   "below": "it favours shorter answers beyond what gold explains"}.get(
            side, f"not a finding by the audit's decision rule ({slope.get('verdict')}, q = "
                  f"{slope['q_value']:.2g})" if slope.get("q_value") is not None
            else "no clear length effect beyond gold")
        out.append(f"Length slope φ = {num(verb['length_slope'])}: {meaning}.")
    if verb.get("padding_win_rate"):
        text = (f"A copy padded with content-free text beats its own original "
                f"{pct(verb['padding_win_rate'])} of the time")
        if padding is not None and not padding.empty:
            rows = padding[(padding["judge"].astype(str) == judge)
                           & (padding["perturbation"].astype(str) == "all")
                           & (padding["added_chars"].astype(str) != "all")].copy()
            rows["dose"] = pd.to_numeric(rows["added_chars"], errors="coerce")
            rows = rows.dropna(subset=["dose"]).sort_values("dose")
            if len(rows) >= 2:
                lo, hi = rows.iloc[0], rows.iloc[-1]
                text += (f", from {100 * lo['estimate']:.0f}% at +{int(lo['dose'])} characters "
                         f"to {100 * hi['estimate']:.0f}% at +{int(hi['dose'])}")
        out.append(text + " (an unbiased judge would not prefer the padding).")
    return out


def _probe_estimates(probes: dict, key: str) -> dict[str, dict]:
    return {name: m[key] for name, m in probes.items()
            if isinstance(m, dict) and isinstance(m.get(key), dict)
            and _ok(m[key].get("estimate"))}


def _probe_text(probes: dict, noise: dict | None = None) -> list[str]:
    """The CALM probes in words, read against the placebo: the noise-corrected robustness
    decides, and a probe is named as swaying the judge only if it is flagged (or its CI is
    below 1), the most swayed only when it is strictly the lowest."""
    raw = _probe_estimates(probes, "robustness")
    cor = _probe_estimates(probes, "robustness_corrected")
    if not cor:  # an audit without noise baselines: raw only, and said so
        if not raw:
            return []
        values = {round(v["estimate"], 2) for v in raw.values()}
        listed = ", ".join(f"{k} {100 * v['estimate']:.0f}%" for k, v in sorted(raw.items()))
        text = (f"Robustness to counterfactual edits (share of verdicts unchanged): {listed}; "
                "no placebo baseline, so noise is not told from sway")
        if len(values) == 1:
            return [text + " (every probe reads the same)."]
        worst = min(raw, key=lambda k: raw[k]["estimate"])
        return [text + f"; least robust: {worst}, {pct(raw[worst])}."]
    placebo = (noise or {}).get("placebo", {}).get("robustness")
    swayed = {k: v for k, v in cor.items()
              if v.get("verdict") == "flagged" or (
                  "verdict" not in v and _excludes(v, 1.0) == "below")}
    listed = ", ".join(f"{k} {100 * v['estimate']:.0f}%" for k, v in sorted(cor.items()))
    out = [f"Robustness to counterfactual edits, corrected for noise (1 − the verdicts a cue "
           f"flips beyond the placebo edit; 100% = never swayed): {listed}."]
    if raw and isinstance(placebo, dict) and _ok(placebo.get("estimate")):
        lo, hi = min(v["estimate"] for v in raw.values()), max(v["estimate"] for v in
                                                                raw.values())
        span = f"{100 * lo:.0f}%" if round(100 * lo) == round(100 * hi) else \
            f"{100 * lo:.0f}–{100 * hi:.0f}%"
        out.append(f"Raw robustness {span} against a placebo baseline of {pct(placebo)}: "
                   "the placebo (whitespace only) shows what noise alone changes.")
    if not swayed:
        out.append("No probe sways it beyond the placebo's noise.")
    else:
        names = ", ".join(sorted(swayed))
        text = f"Swayed beyond noise: {names}"
        ests = sorted(v["estimate"] for v in swayed.values())
        if len(ests) == 1 or ests[0] < ests[1]:
            worst = min(swayed, key=lambda k: swayed[k]["estimate"])
            text += f"; most swayed: {worst}, corrected {pct(swayed[worst])}"
        out.append(text + ".")
    return out


def _self_text(sp: dict, judge_model: str | None) -> list[str]:
    if not sp.get("delta"):
        return []
    who = f"its own model ({judge_model})" if judge_model else "its own model"
    return [f"It rates responses by {who} {num(sp['delta'], signed=True)} in win rate above "
            f"the reference (judge {pct(sp.get('judge_win_rate'))} vs reference "
            f"{pct(sp.get('reference_win_rate'))})."]


def _agreement_text(agr: dict) -> list[str]:
    if not agr.get("accuracy"):
        return []
    text = f"Against gold labels its accuracy is {pct(agr['accuracy'], ' pairs')}"
    if agr.get("kappa"):
        text += f", Cohen's κ = {num(agr['kappa'])}"
    return [text + "."]


# ---------------------------------------------------------------------------------------------
# Calibration


def calibration_findings(sec: Section) -> list[Findings]:
    """How each calibration step moved the held-out metrics.

    Example:

    >>> from pathlib import Path
    >>> raw, swap = ({"position_consistency": {"estimate": e, "n": 9}} for e in (0.6, 1.0))
    >>> sec = Section("calibration", Path("cal"), "cal",
    ...               data={"calibration": {"raw": raw, "swap": swap}})
    >>> calibration_findings(sec)
    [('', ['Position consistency: 0.60 (raw) → 1.00 (swap).'])]
    """
    result = sec.data.get("calibration", {})
    stages = [s for s, v in result.items() if isinstance(v, dict)]
    if not stages:
        return []
    split = result.get("raw", {}).get("split", {})
    out = []
    if split:
        out.append(f"Steps {' → '.join(s for s in stages if s != 'raw') or '(none)'} were "
                   f"fitted on {split.get('n_fit_pairs', '?')} pairs and evaluated on "
                   f"{split.get('n_eval_pairs', '?')} held-out pairs.")
    for key, label, fmt in (("ece", "ECE", "{:.3f}"), ("brier", "Brier score", "{:.3f}"),
                            ("accuracy", "accuracy", "{:.0%}"),
                            ("position_consistency", "position consistency", "{:.2f}"),
                            ("p_first_wins", "P(first shown wins)", "{:.2f}"),
                            ("length_slope", "length slope φ", "{:.2f}")):
        vals = [(s, result[s].get(key, {}).get("estimate")) for s in stages]
        vals = [(s, v) for s, v in vals if _ok(v)]
        if len(vals) >= 2:
            steps = " → ".join(f"{fmt.format(v)} ({s})" for s, v in vals)
            out.append(f"{label[0].upper() + label[1:]}: {steps}.")
    for note in result.get("raw", {}).get("notes", []):
        out.append(f"Note: {note}.")
    for stage in stages:
        fitted = _flat_params(result[stage].get("params", {}))
        if fitted:
            out.append(f"Fitted by {stage}: " + ", ".join(fitted[:6]) + ".")
    return [("", out)]


def _flat_params(params: Any, path: str = "") -> list[str]:
    """Numeric leaves of a fitted-params dict, counts left out: 'simulated.temperature = 2.32'."""
    if isinstance(params, dict):
        out = []
        for key, value in params.items():
            name = str(key).rstrip("_")
            if name.startswith("n_"):
                continue  # sample sizes, not fitted parameters
            # "params_"/"fitted" are containers: their name adds nothing to the path.
            sub = path if name in ("params", "fitted") else (f"{path}.{name}" if path else name)
            out += _flat_params(value, sub)
        return out
    if isinstance(params, (int, float)) and not isinstance(params, bool) and _ok(params):
        return [f"{path} = {params:.3g}"]
    return []


# ---------------------------------------------------------------------------------------------
# Training runs and sweeps


def _judge_words(sec: Section) -> str:
    cfg = sec.data.get("config", {})
    judge = cfg.get("judge", {})
    steps = cfg.get("calibration", {}).get("steps") or []
    pipe = cfg.get("calibration", {}).get("pipeline")
    spec = judge.get("spec", "?")
    cal = ("calibrated with " + " + ".join(steps)) if steps else (
        f"calibrated by {pipe}" if pipe else "no calibration")
    return f"judge '{spec}' ({cal})" if cfg else "this run's judge"


def train_findings(sec: Section) -> Findings:
    """What the loop did to the policy: length, gold, judge score, labels (first vs last).

    Example:

    >>> from pathlib import Path
    >>> m = pd.DataFrame({"iteration": [0, 1], "length_chars_mean": [56.0, 76.0],
    ...                   "length_drift_chars": [0.0, 20.0]})
    >>> title, lines = train_findings(Section("train", Path("run"), "run", tables={"metrics": m}))
    >>> print(title, "|", lines[1])
    run | The policy's mean response length changed by +20.0 characters (56.0 → 76.0).
    """
    m = sec.tables.get("metrics")
    if m is None or m.empty or "iteration" not in m:
        return (sec.name, ["No iteration was measured yet."])
    first, last = m.iloc[0], m.iloc[-1]
    n_exp = sec.data.get("n_expected")
    done = f"{len(m)} of {n_exp}" if n_exp else f"{len(m)}"
    out = [f"Under {_judge_words(sec)}: {done} iterations measured "
           f"(0–{int(last['iteration'])})."]

    def get(row: pd.Series, key: str) -> float:
        v = row.get(key, np.nan)
        return float(v) if _ok(v) else np.nan

    drift, gold = get(last, "length_drift_chars"), get(last, "gold_change")
    if np.isfinite(drift):
        text = (f"The policy's mean response length changed by {drift:+.1f} characters "
                f"({get(first, 'length_chars_mean'):.1f} → {get(last, 'length_chars_mean'):.1f})")
        if np.isfinite(gold):
            text += (f" while its mean gold score changed by {gold:+.3f} "
                     f"({get(first, 'gold_mean'):.3f} → {get(last, 'gold_mean'):.3f})")
        out.append(text + ".")
    jr, jc, gw = (get(last, k) for k in ("judge_win_rate_raw", "judge_win_rate_calibrated",
                                         "gold_win_rate"))
    if np.isfinite(jc):
        text = (f"At the last iteration the judge prefers the policy to the iteration-0 policy "
                f"on {jc:.0%} of held-out prompts" + (f" (raw judge {jr:.0%})" if np.isfinite(jr)
                                                       and jr != jc else ""))
        if np.isfinite(gw):
            text += f"; gold prefers it on {gw:.0%} (proxy–gold gap {jc - gw:+.2f})"
        out.append(text + ".")
    acc = m["label_accuracy"].astype(float) if "label_accuracy" in m else None
    if acc is not None and acc.notna().any():
        text = f"Training labels agreed with gold {acc.mean():.0%} of the time on average"
        if "position_decided_raw" in m and m["position_decided_raw"].notna().any():
            text += (f"; {m['position_decided_raw'].astype(float).mean():.0%} of raw labels "
                     "flipped when the order was swapped")
        if "label_prefers_longer" in m and m["label_prefers_longer"].notna().any():
            text += (f"; {m['label_prefers_longer'].astype(float).mean():.0%} of labels chose "
                     "the longer response")
        out.append(text + ".")
    channel = m["position_channel"].dropna() if "position_channel" in m else pd.Series()
    if len(channel) and (channel == "none").all():
        out.append("Position bias could not reach this policy: every pair was judged in both "
                   "orders and labelled by the sign of the two-order mean, which a constant "
                   "position offset cannot change.")
    elif len(channel) and (channel == "label_noise").any() and "label_picks_first" in m:
        picks = m["label_picks_first"].astype(float)
        if picks.notna().any():
            out.append(f"Labels came from one random order per pair, so position bias acts as "
                       f"label noise: {picks.mean():.0%} of decisive labels picked the response "
                       "shown first (50% without position bias).")
    out.append("One run, one seed: a comparison between runs needs a study over seeds "
               "(judgebench sweep) before it is a finding.")
    return (sec.name, out)


def runs_comparison(sections: list[Section]) -> list[Findings]:
    """One sentence comparing the final length drift and gold change of several runs.

    Example:

    >>> from pathlib import Path
    >>> runs = [Section("train", Path(n), n, tables={"metrics": pd.DataFrame(
    ...     {"iteration": [0, 1], "length_drift_chars": [0.0, d], "gold_change": [0.0, -0.1]})})
    ...     for n, d in (("biased", 30.0), ("calibrated", 3.0))]
    >>> (title, (line,)), = runs_comparison(runs)
    >>> print(title, "|", line)
    comparison | Final length drift / gold change by run: biased +30.0 characters / gold ...
    """
    finals = []
    for sec in sections:
        m = sec.tables.get("metrics")
        if m is None or m.empty or "length_drift_chars" not in m:
            continue
        last = m.iloc[-1]
        gold = last.get("gold_change", np.nan)
        finals.append(f"{sec.name} {float(last['length_drift_chars']):+.1f} characters"
                      + (f" / gold {float(gold):+.3f}" if _ok(gold) else ""))
    if len(finals) < 2:
        return []
    return [("comparison", ["Final length drift / gold change by run: " + "; ".join(finals)
                            + "."])]


def study_findings(study: dict) -> list[str]:
    """A study's paired tests in words: each stated only as far as its interval goes.

    Example:

    >>> study = {"paired": [{"contrast": "dose 3 - dose 0", "arm": {},
    ...                      "drift": {"estimate": 9.0, "ci": [6.5, 11.5], "n": 3}}]}
    >>> print(study_findings(study)[0])
    all runs, dose 3 - dose 0: final length drift +9.0 chars ... (longer: the interval excludes 0); ...
    """
    out = []
    if study.get("n_seeds"):
        out.append(f"{study.get('n_cells')} finished runs over {study['n_seeds']} seed(s); every "
                   "interval below is a 95% paired t-interval over seeds (same seeds in both "
                   "arms of a contrast).")
    for t in study.get("paired", []):
        d = t.get("drift") or {}
        if not _ok(d.get("estimate")):
            continue
        arm = ", ".join(f"{k.split('.')[-1]}={v}" for k, v in t["arm"].items()) or "all runs"
        side = _excludes(d, 0.0)
        verdict = {"above": "longer: the interval excludes 0",
                   "below": "shorter: the interval excludes 0"}.get(
            side, "not distinguishable from 0 at this n")
        out.append(f"{arm}, {t['contrast']}: final length drift "
                   f"{num(d, 1, signed=True, unit=' chars', n_unit=' seeds')} ({verdict}); "
                   f"gold change {num(t.get('gold_change'), 3, signed=True, n_unit=' seeds')}.")
    if study.get("position_note"):
        out.append(study["position_note"])
    return out


def sweep_findings(sec: Section) -> list[Findings]:
    """The study's paired tests (study.json) and propagation coefficients (propagation.json).

    Example:

    >>> from pathlib import Path
    >>> sec = Section("sweep", Path("sweep"), "sweep", data={"propagation": {
    ...     "note": "no judge.verbosity axis in the grid: no propagation coefficient.",
    ...     "settings": []}})
    >>> sweep_findings(sec)
    [('', ['no judge.verbosity axis in the grid: no propagation coefficient.'])]
    """
    prop = sec.data.get("propagation", {})
    out = study_findings(sec.data.get("study") or {})
    if prop.get("note"):
        out.append(str(prop["note"]))
    for s in prop.get("settings", []):
        setting = ", ".join(f"{k}={v}" for k, v in s.get("setting", {}).items()) or \
            "the sweep"
        length, gold = s.get("length_drift_per_unit_bias"), s.get("gold_change_per_unit_bias")
        label = s.get("length_drift_per_label_bias")
        if isinstance(label, dict) and _ok(label.get("estimate")):
            out.append(f"With {setting}, each unit of label-level bias (the share of training "
                       "labels picking the longer response, above its dose-0 value) moved the "
                       f"final length drift by "
                       f"{num(label, 0, signed=True, unit=' characters', n_unit=' seeds')}.")
        if not isinstance(length, dict):
            continue
        text = (f"With {setting}, each unit of injected verbosity bias "
                f"({prop.get('bias_axis', 'judge.verbosity')}) moved the final length drift by "
                f"{num(length, 1, signed=True, unit=' characters', n_unit=' seeds')}")
        if isinstance(gold, dict) and _ok(gold.get("estimate")):
            text += f" and the final gold score by {num(gold, 3, signed=True, n_unit=' seeds')}"
        out.append(text + ".")
    table = sec.tables.get("sweep")
    if table is not None and not out:
        out.append(f"{len(table)} runs in sweep.csv, no propagation.json.")
    return [("", out)]
