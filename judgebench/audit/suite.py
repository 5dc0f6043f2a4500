"""Run every audit on a verdict table (or on a judge and pairs) and write the results (DESIGN §4).

``run_audit`` is what ``judgebench audit`` calls. It reads or makes verdicts, computes position,
verbosity, self-preference, agreement and (with a judge) the counterfactual probes, and returns
an :class:`~judgebench.results.AuditResult` (one shape for any number of judges; ``.tables``,
``.to_dict()``, ``.save(dir)``), which writes (unchanged from when it returned the dict), plus
the manifest ``.judgebench-result.json``:

* ``audit.json``: one ``{"estimate", "ci": [lo, hi], "n"}`` per measure, nested by group
  (``{"position": {"consistency": {...}}}``), with ``n_verdicts``, ``n_failed`` and
  ``skipped`` ({measure: reason}) beside them. One judge: these keys sit at the top level.
  Several judges: ``{"judges": {name: {...}}, "n_verdicts", "n_failed", "settings"}``, and
  ``panel``: the judges' Krippendorff's alpha (``audit/agreement.py``).
  Each bias measure is also tested against its null (``p_value``, Benjamini–Hochberg
  ``q_value``, ``mde``, ``verdict``; ``audit/decisions.py``), and ``flags`` lists the flagged
  ones; ``noise`` holds the probes' baselines (placebo, repeat).
* ``measures.csv`` (every measure, long form), ``position.csv`` (per judge, and per ``source``
  when the table has several), ``verbosity_bins.csv``, ``padding.csv`` (dose-response),
  ``probes.csv``, ``agreement.csv``, ``self_preference.csv``.
* ``verdicts.parquet`` (the audited verdicts) and ``probe_verdicts.parquet`` (padding and CALM).
* ``features`` in audit.json (``features.<name>.observational_slope``, ``.p_prefer_feature``,
  ``.gold_prefer_feature``; with a judge ``.effect_logit`` and ``.win_rate`` from the
  counterfactual probes, and a ``skipped`` dict of its own), ``features.csv`` (every feature
  measure, per dose too) and ``feature_probe_verdicts.parquet`` (see ``audit/features.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from judgebench.audit.agreement import agreement_table, panel_agreement
from judgebench.audit.decisions import ALPHA, OBSERVATIONAL, SLOPE_NOTE, decide, mcnemar_table
from judgebench.audit.features import (
    FEATURE_DOSES,
    features_block,
    features_table,
    resolve_features,
    run_feature_probes,
)
from judgebench.audit.perturb import EDITS, NOISE_EDITS, padded_pairs
from judgebench.audit.position import TABLE_COLUMNS, position_table
from judgebench.audit.probes import (
    baseline_loser,
    identical_pairs,
    identical_table,
    judge_probe_pairs,
    probe_pairs,
    probe_table,
    repeat_pairs,
)
from judgebench.audit.self_preference import self_preference_table
from judgebench.audit.verbosity import length_bins_table, padding_table, verbosity_table
from judgebench.judges.base import progress_label
from judgebench.results import AuditResult
from judgebench.stats import per_pair
from judgebench.verdicts import (
    PAIR_REQUIRED,
    load_pairs,
    load_table,
    validate_pairs,
    validate_verdicts,
)

#: Pairs sampled (seeded) for the counterfactual probes: each costs ~32 extra judge calls.
PROBE_SAMPLE = 200
#: Padding doses (characters added) judged by run_audit.
PADDING_DOSES = (50, 200, 800)
_GROUPS = ("position", "verbosity", "self_preference", "probes", "noise", "agreement")
#: Pair columns of the per-pair table run_audit builds once and hands to every measure: the
#: union of those the measures read (those absent from the verdicts table are left out).
PAIR_COLUMNS = ("prompt", "label", "source", "len_1", "len_2", "response_1", "response_2",
                "quality_1", "quality_2", "model_1", "model_2")


def run_audit(
    verdicts: str | Path | pd.DataFrame | None = None,
    judge: Any = None,
    pairs: str | Path | pd.DataFrame | None = None,
    out_dir: str | Path | None = None,
    seed: int = 0,
    n_boot: int = 1000,
    probes: bool = True,
    judge_model: str | None = None,
    probe_sample: int = PROBE_SAMPLE,
    progress: bool = True,
    padding_doses: tuple[int, ...] = PADDING_DOSES,
    features: Any = None,
    feature_doses: tuple[int, ...] = FEATURE_DOSES,
) -> AuditResult:
    """Audit a judge: position, verbosity, self-preference, probes, agreement (DESIGN §4).

    Give ``verdicts`` (a table or file), or ``judge`` (a Judge or a spec string) with ``pairs``
    to judge in both orders. With a judge and ``probes=True`` it also re-judges padded copies
    (``padding_doses`` characters added) and CALM-edited copies of up to ``probe_sample``
    pairs. ``judge_model`` names the judge's own model in model_1/model_2 for self-preference
    (applied to every judge in the table). ``features`` (names, Features or {name: detector};
    None: lexical, tone, self_praise, format; ``()``: none) are audited observationally on the
    verdicts and, with a judge and probes, by adding ``feature_doses`` units of each to one
    response of the probe sample (``audit/features.py``).
    Returns an :class:`~judgebench.results.AuditResult` (``.tables["measures"]``: one row per
    measure; ``.to_dict()``: what ``audit.json`` holds; ``.save(dir)``) and writes its files
    when ``out_dir`` is given. Indexing the result as a dict (``res["position"]``) still works
    but is deprecated: use ``res.measure("position.offset_logit")`` or ``res.tables``.

    >>> from judgebench.judges.simulated import simulate_verdicts
    >>> res = run_audit(simulate_verdicts(200, seed=0, position=1.0), n_boot=100)
    >>> res.measure("position.offset_logit")["ci"][0] > 0.5, "agreement" in res.to_dict()
    (True, True)
    """
    # The tables first: a bad file fails in seconds, before a judge's model loads.
    pairs_df = None if pairs is None else _as_pairs(pairs)
    table = None if verdicts is None else _as_table(verdicts, "verdicts")
    judge_obj = _resolve_judge(judge)
    if table is None and judge_obj is None:
        raise ValueError("run_audit needs verdicts=TABLE_OR_FILE, or judge=JUDGE with "
                         "pairs=TABLE_OR_FILE to judge in both orders.")
    if table is None and pairs_df is None:
        raise ValueError(f"judge {judge_obj.name!r} needs pairs=TABLE_OR_FILE: the pairs to "
                         "judge (columns pair_id, prompt, response_1, response_2).")
    out = None if out_dir is None else Path(out_dir)
    cache = _cache(out, judge_obj)
    if table is not None and pairs_df is not None:
        table = _attach_pair_columns(table, pairs_df)
    if judge_obj is not None and (table is None or judge_obj.name not in set(table["judge"])):
        # The probing judge must have unedited verdicts to compare the edits with.
        fresh = judge_obj.judge(pairs_df if pairs_df is not None else _pairs_from(table),
                                cache=cache, progress=progress)
        table = fresh if table is None else pd.concat([table, fresh], ignore_index=True)
    table = validate_verdicts(table)
    # One row per (judge, pair): built once here, shared by every measure on this table.
    pp = per_pair(table, PAIR_COLUMNS)

    tables = _observational_tables(table, judge_model, n_boot, seed, pp)
    skipped: dict[str, str] = {}
    probe_verdicts = None
    if not probes:
        skipped["probes"] = skipped["verbosity.padding_win_rate"] = "probes=False"
    elif judge_obj is None:
        skipped["probes"] = skipped["verbosity.padding_win_rate"] = (
            "no judge to re-judge edited pairs: pass judge=SPEC_OR_JUDGE (and pairs)")
    else:
        src = pairs_df if pairs_df is not None else _pairs_from(table)
        probe_verdicts, probe_tabs = _run_probes(judge_obj, table, src, cache, n_boot, seed,
                                                 probe_sample, progress, padding_doses)
        tables.update(probe_tabs)

    feature_rows, feature_verdicts = _feature_audit(
        features, feature_doses, table, judge_obj, pairs_df, probes, probe_sample, n_boot, seed,
        cache, progress, pp)
    if feature_rows is not None:
        tables["features"] = feature_rows
    measures = pd.concat([t for k, t in tables.items() if k in _MEASURE_TABLES],
                         ignore_index=True)
    result = _assemble(table, measures, skipped, judge_obj,
                       {"seed": seed, "n_boot": n_boot, "level": 0.95, "probes": bool(probes),
                        "judge_model": judge_model, "probe_sample": probe_sample,
                        "padding_doses": list(padding_doses), "alpha": ALPHA,
                        "tests": "Benjamini-Hochberg q-values per judge; "
                                 "docs/design/audit-definitions.md"}, feature_rows)
    if "judges" in result:
        # Several judges: how far they agree with each other (Krippendorff's alpha).
        result["panel"] = panel_agreement(table, n_boot=n_boot, seed=seed, pp=pp)
    if feature_rows is not None:
        result["settings"]["features"] = sorted(set(feature_rows["measure"].str.split(
            ".").str[1]))
        result["settings"]["feature_doses"] = list(feature_doses)
    audit = AuditResult.from_dict(
        result, csv_tables=_csv_tables(measures, tables), verdicts=table,
        probe_verdicts=probe_verdicts, feature_probe_verdicts=feature_verdicts)
    if out is not None:
        audit.save(out)
    return audit


def _feature_audit(features: Any, doses: tuple[int, ...], table: pd.DataFrame, judge_obj: Any,
                   pairs_df: pd.DataFrame | None, probes: bool, probe_sample: int, n_boot: int,
                   seed: int, cache: Any, progress: bool, pp: pd.DataFrame | None = None
                   ) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """Feature rows (observational, plus counterfactual with a judge) and the probe verdicts."""
    feats = resolve_features(features) if features is None or len(features) else []
    if not feats:
        return None, None
    rows = features_table(table, feats, n_boot=n_boot, seed=seed, pp=pp)
    if not probes or judge_obj is None:
        return rows, None
    src = pairs_df if pairs_df is not None else _pairs_from(table)
    # The same seeded sample of pairs as the padding and CALM probes.
    src = src[src["pair_id"].isin(set(table.loc[table["judge"] == judge_obj.name, "pair_id"]))]
    if len(src) > probe_sample:
        pick = np.random.default_rng(seed).choice(len(src), probe_sample, replace=False)
        src = src.iloc[np.sort(pick)]
    if src.empty:
        return rows, None
    with progress_label(f"probes: features ({len(src)} pairs)"):
        verdicts, probe_rows = run_feature_probes(
            judge_obj, src.reset_index(drop=True), feats, doses, seed=seed, n_boot=n_boot,
            cache=cache, progress=progress)
    return pd.concat([rows, probe_rows], ignore_index=True), verdicts


def _features_block(rows: pd.DataFrame, judge: str, judge_obj: Any,
                    skipped: dict[str, str]) -> dict:
    block = features_block(rows[rows["judge"] == judge])
    if "probes" in skipped or judge_obj is None or judge != judge_obj.name:
        block.setdefault("skipped", {})["probes"] = skipped.get(
            "probes", f"feature probes were run with judge "
            f"{getattr(judge_obj, 'name', None)!r} only")
    return block


_MEASURE_TABLES = ("position", "mcnemar", "verbosity", "self_preference", "agreement",
                   "padding_all", "probes", "identical")


def _observational_tables(table: pd.DataFrame, judge_model: str | None, n_boot: int,
                          seed: int, pp: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """The measures on the verdicts themselves; ``pp``: per_pair(table, PAIR_COLUMNS)."""
    if pp is None:
        pp = per_pair(table, PAIR_COLUMNS)
    kw = {"n_boot": n_boot, "seed": seed, "pp": pp}
    tables = {"position": position_table(table, **kw),
              "mcnemar": mcnemar_table(table, pp=pp),
              "verbosity": verbosity_table(table, **kw),
              "verbosity_bins": length_bins_table(table, **kw),
              "self_preference": self_preference_table(table, judge_model, **kw),
              "agreement": agreement_table(table, **kw)}
    by_source = tables["position"].assign(source="all")
    if "source" in table.columns and table["source"].nunique() > 1:
        by_source = pd.concat([by_source, position_table(table, by="source", **kw)],
                              ignore_index=True)
    tables["position_csv"] = by_source
    return tables


def _run_probes(judge_obj: Any, table: pd.DataFrame, src: pd.DataFrame, cache: Any,
                n_boot: int, seed: int, probe_sample: int = PROBE_SAMPLE,
                progress: bool = False, padding_doses: tuple[int, ...] = PADDING_DOSES,
                ) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Padding and CALM probes on a seeded sample of pairs, judged by ``judge_obj``."""
    baseline = table[table["judge"] == judge_obj.name]
    # Only pairs with an unedited verdict can show whether an edit changed it.
    src = src[src["pair_id"].isin(set(baseline["pair_id"]))]
    rng = np.random.default_rng(seed)
    if len(src) > probe_sample:
        src = src.iloc[np.sort(rng.choice(len(src), probe_sample, replace=False))]
    src = src.reset_index(drop=True)
    baseline = baseline[baseline["pair_id"].isin(set(src["pair_id"]))]
    # Each pass labels its bars, so they are not mistaken for the main judging.
    with progress_label(f"probes: padding ({len(src)} pairs)"):
        padded = judge_obj.judge(padded_pairs(src, added_chars=tuple(padding_doses)),
                                 cache=cache, progress=progress)
    loser = baseline_loser(baseline)
    edits = (*EDITS, *NOISE_EDITS)  # the placebo is every CALM probe's noise baseline
    with progress_label(f"probes: {', '.join(edits)}"):
        edited = judge_probe_pairs(judge_obj, probe_pairs(src, edits, target=loser),
                                   cache=cache, progress=progress)
    with progress_label(f"probes: identical pairs ({len(src)} pairs)"):
        same = judge_probe_pairs(judge_obj, identical_pairs(src, loser, edits), cache=cache,
                                 progress=progress)
    with progress_label(f"probes: repeat ({len(src)} pairs)"):
        # A repeat of the same call must reach the judge: no cache.
        repeat = judge_obj.judge(repeat_pairs(src), cache=None, progress=progress)
    pad_tab = padding_table(padded, n_boot=n_boot, seed=seed)
    overall = pad_tab[(pad_tab["perturbation"] == "all") & (pad_tab["added_chars"] == "all")]
    tabs = {"padding": pad_tab, "padding_all": overall[TABLE_COLUMNS],
            "probes": probe_table(baseline, pd.concat([edited, repeat], ignore_index=True),
                                  n_boot=n_boot, seed=seed),
            "identical": identical_table(same, n_boot=n_boot, seed=seed)}
    # Column `identical` tells an identical-pair verdict from the same probe on the real pair.
    probe_verdicts = pd.concat([padded.assign(probe="padding", identical=False),
                                edited.assign(identical=False), same.assign(identical=True),
                                repeat.assign(identical=False)], ignore_index=True)
    return probe_verdicts, tabs


def _assemble(table: pd.DataFrame, measures: pd.DataFrame, skipped: dict[str, str],
              judge_obj: Any, settings: dict, feature_rows: pd.DataFrame | None = None) -> dict:
    blocks = {}
    failed = table.groupby("judge")["failed"].agg(["size", "sum"])
    for judge in sorted(table["judge"].unique()):
        block: dict[str, Any] = {"n_verdicts": int(failed.loc[judge, "size"]),
                                 "n_failed": int(failed.loc[judge, "sum"])}
        for group in _GROUPS:
            block[group] = {}
        block["skipped"] = {}
        for row in measures[measures["judge"] == judge].itertuples(index=False):
            if row.note:
                block["skipped"][row.measure] = row.note
            else:
                _nest(block, row.measure.split("."), _entry(row))
        block["skipped"].update(skipped)
        if judge_obj is not None and judge != judge_obj.name and "probes" not in skipped:
            block["skipped"]["probes"] = f"probes were run with judge {judge_obj.name!r} only"
        # Tests, q-values and verdicts are added to the entries; the flags use the q-values.
        block["flags"] = decide(block, alpha=settings.get("alpha", ALPHA))
        if feature_rows is not None:
            # Its own skipped dict: a feature absent from these texts is not an audit gap.
            block["features"] = _features_block(feature_rows, judge, judge_obj, skipped)
        blocks[judge] = block
    if len(blocks) == 1:
        (name, block), = blocks.items()
        return {"judge": name, **block, "settings": settings}
    return {"judges": blocks, "n_verdicts": int(len(table)),
            "n_failed": int(table["failed"].sum()),
            "flags": sorted({f"{j}: {f}" for j, b in blocks.items() for f in b["flags"]}),
            "settings": settings}


def _entry(row: Any) -> dict:
    """One measure's audit.json entry: estimate, ci, n, n_boot_failed, method, se; an exact
    test's p_value and counts; a ``note`` for observational measures."""
    failed = getattr(row, "n_boot_failed", 0)
    method = getattr(row, "method", "")
    se = getattr(row, "se", np.nan)
    out = {"estimate": _num(row.estimate), "ci": [_num(row.ci_low), _num(row.ci_high)],
           "n": int(row.n),
           "n_boot_failed": int(failed) if pd.notna(failed) else 0,
           "method": method if isinstance(method, str) and method else "percentile",
           "se": _num(se) if pd.notna(se) else None}
    exact = getattr(row, "p_exact", np.nan)
    if pd.notna(exact):  # McNemar: the exact p-value and the discordant counts
        out.update(p_value=float(exact), first_first=int(row.first_first),
                   second_second=int(row.second_second))
    if row.measure == "verbosity.p_prefer_longer":
        out["note"] = OBSERVATIONAL
    elif row.measure == "verbosity.length_slope":
        out["note"] = SLOPE_NOTE.get(str(getattr(row, "covariate", "none")), SLOPE_NOTE["none"])
    return out


def _nest(block: dict, keys: list[str], value: dict) -> None:
    for k in keys[:-1]:
        block = block.setdefault(k, {})
    block[keys[-1]] = value


def _num(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def _csv_tables(measures: pd.DataFrame, tables: dict[str, pd.DataFrame]
                ) -> dict[str, pd.DataFrame]:
    """The tables written beside audit.json, by file stem (position.csv <- position_csv)."""
    out = {"measures": measures}
    for name, stem in (("position_csv", "position"), ("verbosity_bins", "verbosity_bins"),
                       ("features", "features"), ("padding", "padding"), ("probes", "probes"),
                       ("agreement", "agreement"), ("self_preference", "self_preference")):
        if name in tables:
            out[stem] = tables[name]
    return out


# ---------------------------------------------------------------------------------------------
# Inputs


def _resolve_judge(judge: Any) -> Any:
    if judge is None:
        return None
    if isinstance(judge, str):
        from judgebench.judges.spec import load_judge  # judges import nothing above them

        return load_judge(judge)
    if not callable(getattr(judge, "judge", None)):
        raise TypeError(f"judge must be a Judge or a spec string (e.g. 'simulated:position=1'); "
                        f"got {type(judge).__name__}.")
    return judge


def _as_table(value: Any, what: str) -> pd.DataFrame:
    if isinstance(value, pd.DataFrame):
        return value
    if isinstance(value, (str, Path)):
        return load_table(value)
    raise TypeError(f"{what} must be a DataFrame or a path to a .parquet/.csv/.jsonl table; "
                    f"got {type(value).__name__}.")


def _as_pairs(value: Any) -> pd.DataFrame:
    if isinstance(value, (str, Path)):
        return load_pairs(value)  # errors name the file
    return validate_pairs(_as_table(value, "pairs"))


def _attach_pair_columns(table: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    """Add pair columns (label, models, texts...) that the verdict table lacks, by pair_id."""
    extra = [c for c in pairs.columns if c != "pair_id" and c not in table.columns]
    if not extra:
        return table
    table = table.assign(pair_id=table["pair_id"].astype(str))
    return table.merge(pairs[["pair_id", *extra]], on="pair_id", how="left")


def _pairs_from(table: pd.DataFrame | None) -> pd.DataFrame:
    """The pairs table behind a verdict table that carries the pair texts."""
    if table is None or not set(PAIR_REQUIRED) <= set(table.columns):
        raise ValueError("The counterfactual probes need the pair texts: pass pairs=TABLE_OR_FILE "
                         f"(columns {list(PAIR_REQUIRED)}) or a verdict table that has them.")
    keep = [c for c in table.columns if c in PAIR_REQUIRED or c in
            ("label", "model_1", "model_2", "source")]
    return validate_pairs(table[keep].drop_duplicates("pair_id").reset_index(drop=True))


def _cache(out: Path | None, judge_obj: Any) -> Any:
    if out is None or judge_obj is None or not getattr(judge_obj, "cacheable", False):
        return None
    from judgebench.judges.cache import VerdictCache

    return VerdictCache(out / ".judgebench-cache.sqlite")
