"""Run every audit on a verdict table (or on a judge and pairs) and write the results (DESIGN §4).

``run_audit`` is what ``judgebench audit`` calls. It reads or makes verdicts, computes position,
verbosity, self-preference, agreement and (with a judge) the counterfactual probes, and writes:

* ``audit.json``: one ``{"estimate", "ci": [lo, hi], "n"}`` per measure, nested by group
  (``{"position": {"consistency": {...}}}``), with ``n_verdicts``, ``n_failed`` and
  ``skipped`` ({measure: reason}) beside them. One judge: these keys sit at the top level.
  Several judges: ``{"judges": {name: {...}}, "n_verdicts", "n_failed", "settings"}``.
* ``measures.csv`` (every measure, long form), ``position.csv`` (per judge, and per ``source``
  when the table has several), ``verbosity_bins.csv``, ``padding.csv`` (dose-response),
  ``probes.csv``, ``agreement.csv``, ``self_preference.csv``.
* ``verdicts.parquet`` (the audited verdicts) and ``probe_verdicts.parquet`` (padding and CALM).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from judgebench.audit.agreement import agreement_table
from judgebench.audit.perturb import EDITS, padded_pairs
from judgebench.audit.position import TABLE_COLUMNS, position_table
from judgebench.audit.probes import baseline_loser, judge_probe_pairs, probe_pairs, probe_table
from judgebench.audit.self_preference import self_preference_table
from judgebench.audit.verbosity import length_bins_table, padding_table, verbosity_table
from judgebench.verdicts import (
    PAIR_REQUIRED,
    load_table,
    save_table,
    validate_pairs,
    validate_verdicts,
)

#: Pairs sampled (seeded) for the counterfactual probes: each costs ~32 extra judge calls.
PROBE_SAMPLE = 200
#: Padding doses (characters added) judged by run_audit.
PADDING_DOSES = (50, 200, 800)
_GROUPS = ("position", "verbosity", "self_preference", "probes", "agreement")


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
) -> dict:
    """Audit a judge: position, verbosity, self-preference, probes, agreement (DESIGN §4).

    Give ``verdicts`` (a table or file), or ``judge`` (a Judge or a spec string) with ``pairs``
    to judge in both orders. With a judge and ``probes=True`` it also re-judges padded copies
    (``padding_doses`` characters added) and CALM-edited copies of up to ``probe_sample``
    pairs. ``judge_model`` names the judge's own model in model_1/model_2 for self-preference
    (applied to every judge in the table).
    Returns the audit dict (what ``audit.json`` holds); writes files when ``out_dir`` is given.

    >>> from judgebench.judges.simulated import simulate_verdicts
    >>> res = run_audit(simulate_verdicts(200, seed=0, position=1.0), n_boot=100)
    >>> res["position"]["offset_logit"]["ci"][0] > 0.5, "agreement" in res
    (True, True)
    """
    judge_obj = _resolve_judge(judge)
    pairs_df = None if pairs is None else validate_pairs(_as_table(pairs, "pairs"))
    table = None if verdicts is None else _as_table(verdicts, "verdicts")
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

    tables = _observational_tables(table, judge_model, n_boot, seed)
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

    measures = pd.concat([t for k, t in tables.items() if k in _MEASURE_TABLES],
                         ignore_index=True)
    result = _assemble(table, measures, skipped, judge_obj,
                       {"seed": seed, "n_boot": n_boot, "level": 0.95, "probes": bool(probes),
                        "judge_model": judge_model, "probe_sample": probe_sample,
                        "padding_doses": list(padding_doses)})
    if out is not None:
        _write(out, result, measures, tables, table, probe_verdicts)
    return result


_MEASURE_TABLES = ("position", "verbosity", "self_preference", "agreement", "padding_all",
                   "probes")


def _observational_tables(table: pd.DataFrame, judge_model: str | None, n_boot: int,
                          seed: int) -> dict[str, pd.DataFrame]:
    kw = {"n_boot": n_boot, "seed": seed}
    tables = {"position": position_table(table, **kw),
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
    padded = judge_obj.judge(padded_pairs(src, added_chars=tuple(padding_doses)), cache=cache,
                             progress=progress)
    loser = baseline_loser(baseline)
    edited = judge_probe_pairs(judge_obj, probe_pairs(src, tuple(EDITS), target=loser),
                               cache=cache, progress=progress)
    pad_tab = padding_table(padded, n_boot=n_boot, seed=seed)
    overall = pad_tab[(pad_tab["perturbation"] == "all") & (pad_tab["added_chars"] == "all")]
    tabs = {"padding": pad_tab, "padding_all": overall[TABLE_COLUMNS],
            "probes": probe_table(baseline, edited, n_boot=n_boot, seed=seed)}
    probe_verdicts = pd.concat([padded.assign(probe="padding"), edited], ignore_index=True)
    return probe_verdicts, tabs


def _assemble(table: pd.DataFrame, measures: pd.DataFrame, skipped: dict[str, str],
              judge_obj: Any, settings: dict) -> dict:
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
                _nest(block, row.measure.split("."),
                      {"estimate": _num(row.estimate), "ci": [_num(row.ci_low),
                                                              _num(row.ci_high)],
                       "n": int(row.n)})
        block["skipped"].update(skipped)
        if judge_obj is not None and judge != judge_obj.name and "probes" not in skipped:
            block["skipped"]["probes"] = f"probes were run with judge {judge_obj.name!r} only"
        blocks[judge] = block
    if len(blocks) == 1:
        (name, block), = blocks.items()
        return {"judge": name, **block, "settings": settings}
    return {"judges": blocks, "n_verdicts": int(len(table)),
            "n_failed": int(table["failed"].sum()), "settings": settings}


def _nest(block: dict, keys: list[str], value: dict) -> None:
    for k in keys[:-1]:
        block = block.setdefault(k, {})
    block[keys[-1]] = value


def _num(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def _write(out: Path, result: dict, measures: pd.DataFrame, tables: dict[str, pd.DataFrame],
           table: pd.DataFrame, probe_verdicts: pd.DataFrame | None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "audit.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    measures.to_csv(out / "measures.csv", index=False)
    for name, file in (("position_csv", "position.csv"), ("verbosity_bins", "verbosity_bins.csv"),
                       ("padding", "padding.csv"), ("probes", "probes.csv"),
                       ("agreement", "agreement.csv"), ("self_preference",
                                                        "self_preference.csv")):
        if name in tables:
            tables[name].to_csv(out / file, index=False)
    save_table(table, out / "verdicts.parquet")
    if probe_verdicts is not None:
        save_table(probe_verdicts, out / "probe_verdicts.parquet")


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
