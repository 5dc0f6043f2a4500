"""Counterfactual probes (CALM, Ye et al. 2025): does a content-free cue change the verdict?

Design (docs/design/audit-definitions.md):

* **Which response is edited**: the one the judge did *not* prefer in the unedited baseline
  (its swap-averaged win for response_1 below 0.5 -> response_1 is edited; above -> response_2;
  an exact tie -> response_2). A cue added to the loser is the one that can flip a verdict, so
  the probe measures something; a cue added to the winner could only confirm it.
* **Injection** names the slot the edited response occupies in each order: "answer A" when it
  is shown first, "answer B" when second. Its probe pairs are therefore built and judged one
  order at a time (column ``probe_order``); the other probes are judged in both orders.
* **robustness** (CALM's robustness rate): share of verdicts whose winner (first, second or
  tie) is the same with and without the edit, comparing each order with the same order;
  per pair over its valid orders, resampled by pair.
* **edited_win_rate**: share of edited verdicts won by the edited response.

Noise baselines (issue 14), so that a noisy judge that ignores the cue is not read as swayed:

* **noise.placebo**: the same loser edited by :func:`~judgebench.audit.perturb.placebo`
  (whitespace only); its robustness is what noise alone leaves unchanged.
* **noise.repeat**: the unedited pair judged again, uncached: call-to-call noise (1.0 for a
  deterministic judge).
* **robustness_corrected** = 1 - (placebo robustness - robustness): one minus the verdicts the
  cue flips *beyond* the placebo, from the same pairs (a paired bootstrap). A judge that ignores
  the cue reads ~1 however noisy it is; raw robustness reads 1 - its noise flip rate.
* **identical_win_rate** (identical pairs): the loser against an edited copy of itself, both
  orders; share of verdicts won by the edited copy, a tie counting 1/2. No quality difference
  and no noise asymmetry, so a judge that ignores the cue reads 0.5 (the placebo's own
  identical pairs are ``noise.placebo.identical_win_rate``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from judgebench.audit.perturb import EDITS, NOISE_EDITS, SLOT_DEPENDENT
from judgebench.audit.position import TABLE_COLUMNS, estimate_rows, swap_averaged_win, winner
from judgebench.stats import Estimate, bootstrap_ci, per_pair, weighted_ratio
from judgebench.verdicts import validate_pairs

PROBE_MEASURES = ("robustness", "edited_win_rate")
#: Probes reported under ``noise.<name>``: the baselines, not cues. "repeat" is the unedited
#: pair judged again (see :func:`repeat_pairs`).
NOISE_PROBES = (*NOISE_EDITS, "repeat")
#: The noise baseline that ``robustness_corrected`` subtracts.
BASELINE_PROBE = "placebo"
_ALL_EDITS = {**EDITS, **NOISE_EDITS}


def baseline_loser(verdicts: pd.DataFrame) -> pd.Series:
    """Per pair_id, the response (1 or 2) the judge did not prefer; a tie -> 2. One judge only.

    Example:

    >>> v = pd.DataFrame({"pair_id": ["a", "a", "b", "b"], "judge": "j", "order": ["12", "21"] * 2,
    ...                   "p_first": [0.9, 0.2, 0.3, 0.6], "failed": False})
    >>> baseline_loser(v).to_dict()    # pair a: response_1 won, so response_2 is edited
    {'a': 2, 'b': 1}
    """
    judges = verdicts["judge"].unique()
    if len(judges) != 1:
        raise ValueError(f"baseline_loser needs the verdicts of one judge; got {list(judges)}. "
                         "Filter the table first, e.g. verdicts[verdicts.judge == name].")
    pp = per_pair(verdicts)
    r1 = swap_averaged_win(pp["p_12"].to_numpy(), pp["p_21"].to_numpy())
    # NaN (both orders failed) falls to 2 as well: the choice is documented, never a verdict.
    return pd.Series(np.where(r1 > 0.5, 2, np.where(r1 < 0.5, 1, 2)), index=pp["pair_id"],
                     name="edited")


def probe_pairs(
    pairs: pd.DataFrame,
    probes: Sequence[str] = tuple(EDITS),
    target: str | Mapping[str, int] | pd.Series = "response_2",
    labels: tuple[str, str] = ("A", "B"),
) -> pd.DataFrame:
    """Edited copies of each pair, one per probe, with the edit applied to ``target``.

    ``target`` is 'response_1', 'response_2', or a mapping pair_id -> 1/2 such as
    :func:`baseline_loser` (what ``run_audit`` uses). ``labels`` are the judge template's
    slot labels, used by the injection text. Columns added: ``source_pair_id``, ``probe``,
    ``edited`` (1/2) and ``probe_order`` ('both', or '12'/'21' for slot-dependent probes).
    Gold labels and model names are kept: the edit adds no content.

    >>> p = pd.DataFrame({"pair_id": ["a"], "prompt": ["q"], "response_1": ["x."],
    ...                   "response_2": ["y."]})
    >>> out = probe_pairs(p, ["injection"])
    >>> [(r[-2:], o) for r, o in zip(out.response_2, out.probe_order)]
    [('B.', '12'), ('A.', '21')]
    """
    pairs = validate_pairs(pairs)
    bad = [p for p in probes if p not in _ALL_EDITS]
    if bad or not probes:
        raise ValueError(f"Unknown probe(s) {bad}; choose from {sorted(_ALL_EDITS)}.")
    edited = _edited_slots(pairs, target)
    rows = []
    for rec, slot in zip(pairs.to_dict("records"), edited):
        col = f"response_{slot}"
        for probe in probes:
            # (order, label the edited response is shown under in that order)
            if probe in SLOT_DEPENDENT:
                plan = [("12", labels[slot - 1]), ("21", labels[2 - slot])]
            else:
                plan = [("both", labels[0])]
            for order, label in plan:
                row = dict(rec)
                row[col] = _ALL_EDITS[probe](rec[col], label)
                suffix = "" if order == "both" else f"|{order}"
                row.update(pair_id=f"{rec['pair_id']}|{probe}{suffix}",
                           source_pair_id=rec["pair_id"], probe=probe, edited=slot,
                           probe_order=order)
                rows.append(row)
    return pd.DataFrame(rows)


def _edited_slots(pairs: pd.DataFrame, target: Any) -> np.ndarray:
    if isinstance(target, str):
        if target not in ("response_1", "response_2"):
            raise ValueError(f"target must be 'response_1', 'response_2' or a mapping pair_id -> "
                             f"1/2; got {target!r}.")
        return np.full(len(pairs), int(target[-1]))
    slots = pd.Series(target).rename(index=str).reindex(pairs["pair_id"])
    if slots.isna().any() or not slots.isin([1, 2]).all():
        missing = pairs["pair_id"][slots.isna().to_numpy()].tolist()[:3]
        raise ValueError(f"target must give 1 or 2 for every pair_id; missing or invalid for "
                         f"{missing or 'some pairs'}. Build it with baseline_loser(verdicts).")
    return slots.to_numpy(dtype=int)


def judge_probe_pairs(judge: Any, probed: pd.DataFrame, *, cache: Any = None,
                      progress: bool = False) -> pd.DataFrame:
    """Judge probe pairs: both orders, or only ``probe_order`` for slot-dependent probes.

    Example:

    >>> from judgebench.judges.simulated import SimulatedJudge
    >>> p = pd.DataFrame({"pair_id": ["a", "b"], "prompt": "q", "response_1": ["x.", "y."],
    ...                   "response_2": ["z.", "w."]})
    >>> probed = probe_pairs(p, ["bandwagon", "injection"])   # injection: one row per order
    >>> v = judge_probe_pairs(SimulatedJudge(), probed)
    >>> len(probed), v.groupby("probe").size().to_dict()
    (6, {'bandwagon': 4, 'injection': 4})
    """
    frames = []
    for order, grp in probed.groupby("probe_order", sort=True):
        orders = ("12", "21") if order == "both" else (order,)
        frames.append(judge.judge(grp.reset_index(drop=True), orders=orders, cache=cache,
                                  progress=progress))
    return pd.concat(frames, ignore_index=True)


def probe_table(baseline: pd.DataFrame, probe_verdicts: pd.DataFrame, *, n_boot: int = 1000,
                seed: int) -> pd.DataFrame:
    """Robustness and edited-response win rate per judge and probe, as a long table.

    ``baseline`` are the unedited verdicts; ``probe_verdicts`` the same judge's verdicts on
    :func:`probe_pairs` (and :func:`repeat_pairs`). Each probe verdict is compared with the
    baseline verdict of the same pair in the same order. Noise probes (:data:`NOISE_PROBES`)
    are reported as ``noise.<name>.*``; when the placebo was judged, every CALM probe also gets
    ``robustness_corrected`` (module doc), bootstrapped jointly with the placebo over pairs.

    Example:

    >>> from judgebench.judges.simulated import SimulatedJudge
    >>> p = pd.DataFrame({"pair_id": ["a", "b"], "prompt": "q", "response_1": ["x.", "y."],
    ...                   "response_2": ["z.", "w."]})
    >>> judge = SimulatedJudge()
    >>> base = judge.judge(p, orders=("12", "21"), progress=False)
    >>> probed = probe_pairs(p, ["bandwagon", "placebo"], target=baseline_loser(base))
    >>> t = probe_table(base, judge_probe_pairs(judge, probed), n_boot=0, seed=0)
    >>> t.set_index("measure")["estimate"].to_dict()
    {'probes.bandwagon.robustness': 1.0, 'probes.bandwagon.edited_win_rate': 0.0,
     'probes.bandwagon.robustness_corrected': 1.0, 'noise.placebo.robustness': 1.0,
     'noise.placebo.edited_win_rate': 0.0}
    """
    per = _per_source(baseline, probe_verdicts)
    rows: list[dict] = []
    for judge, by_judge in per.groupby("judge", sort=True):
        placebo = by_judge[by_judge["probe"] == BASELINE_PROBE].set_index("source_pair_id")
        for probe_name, g in by_judge.groupby("probe", sort=True):
            est = {}
            for name, num, den in (("robustness", "unchanged", "comparable"),
                                   ("edited_win_rate", "edited_wins", "valid")):
                if probe_name == "repeat" and name == "edited_win_rate":
                    continue  # nothing is edited in a repeat
                keep = g[den].to_numpy() > 0
                est[name] = bootstrap_ci(weighted_ratio, g[num].to_numpy(float)[keep],
                                         g[den].to_numpy(float)[keep], n_boot=n_boot,
                                         seed=seed, compress=True)
            if probe_name not in NOISE_PROBES and len(placebo):
                est["robustness_corrected"] = _corrected(g, placebo, n_boot, seed)
            group = "noise" if probe_name in NOISE_PROBES else "probes"
            rows += estimate_rows(judge, f"{group}.{probe_name}", est)
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def _per_source(baseline: pd.DataFrame, probe_verdicts: pd.DataFrame) -> pd.DataFrame:
    """Per (judge, probe, source pair): unchanged/comparable and edited-wins/valid counts."""
    need = ["source_pair_id", "probe", "edited"]
    missing = [c for c in need if c not in probe_verdicts.columns]
    if missing:
        raise ValueError(f"probe_verdicts lacks {missing}: judge the output of probe_pairs().")
    base = baseline[["judge", "pair_id", "order", "p_first", "failed"]].copy()
    base["pair_id"] = base["pair_id"].astype(str)
    probe = probe_verdicts[["judge", "source_pair_id", "order", "p_first", "p_1", "failed",
                            *need[1:]]].copy()
    probe["source_pair_id"] = probe["source_pair_id"].astype(str)
    m = probe.merge(base, left_on=["judge", "source_pair_id", "order"],
                    right_on=["judge", "pair_id", "order"], how="left",
                    suffixes=("", "_base"))
    w_probe = winner(np.where(m["failed"], np.nan, m["p_first"]))
    w_base = winner(np.where(m["failed_base"].fillna(True).astype(bool), np.nan,
                             m["p_first_base"]))
    both = np.isfinite(w_probe) & np.isfinite(w_base)
    r1 = winner(np.where(m["failed"], np.nan, m["p_1"]))  # response_1 terms
    m = m.assign(unchanged=(both & (w_probe == w_base)).astype(float), comparable=both,
                 edited_wins=np.isfinite(r1) & (r1 == np.where(m["edited"] == 1, 1.0, 0.0)),
                 valid=np.isfinite(r1))
    return m.groupby(["judge", "probe", "source_pair_id"], sort=True)[
        ["unchanged", "comparable", "edited_wins", "valid"]].sum().reset_index()


def _corrected(g: pd.DataFrame, placebo: pd.DataFrame, n_boot: int, seed: int) -> Estimate:
    """1 - (placebo robustness - robustness), resampling source pairs jointly (paired)."""
    ids = sorted(set(g["source_pair_id"]) | set(placebo.index))
    # (n_pairs,) counts per source pair; a pair missing from one side counts 0 there.
    e = g.set_index("source_pair_id").reindex(ids).fillna(0.0)
    p = placebo.reindex(ids).fillna(0.0)
    arrays = [e["unchanged"], e["comparable"], p["unchanged"], p["comparable"]]
    keep = (e["comparable"].to_numpy() > 0) | (p["comparable"].to_numpy() > 0)
    arrays = [a.to_numpy(float)[keep] for a in arrays]

    def stat(w: np.ndarray, u_e: np.ndarray, c_e: np.ndarray, u_0: np.ndarray,
             c_0: np.ndarray) -> np.ndarray:
        return 1.0 - (weighted_ratio(w, u_0, c_0) - weighted_ratio(w, u_e, c_e))

    return bootstrap_ci(stat, *arrays, n_boot=n_boot, seed=seed, compress=True)


def repeat_pairs(pairs: pd.DataFrame) -> pd.DataFrame:
    """The pairs unedited, tagged as the ``repeat`` probe: judge them again *without a cache*.

    >>> p = pd.DataFrame({"pair_id": ["a"], "prompt": ["q"], "response_1": ["x"],
    ...                   "response_2": ["y"]})
    >>> repeat_pairs(p)[["pair_id", "source_pair_id", "probe"]].values.tolist()
    [['a|repeat', 'a', 'repeat']]
    """
    pairs = validate_pairs(pairs)
    return pairs.assign(source_pair_id=pairs["pair_id"], pair_id=pairs["pair_id"] + "|repeat",
                        probe="repeat", edited=2, probe_order="both")


def identical_pairs(
    pairs: pd.DataFrame,
    target: Mapping[str, int] | pd.Series,
    probes: Sequence[str] = (*EDITS, *NOISE_EDITS),
    labels: tuple[str, str] = ("A", "B"),
) -> pd.DataFrame:
    """Each pair's ``target`` response (1/2, e.g. :func:`baseline_loser`) against an edited
    copy of itself, one row per probe (and per order for slot-dependent ones).

    The copy is in response_2 (``edited`` = 2); both sides carry the target's model name and
    no label (the two hold the same content). Judge with :func:`judge_probe_pairs` and score
    with :func:`identical_table`.

    >>> p = pd.DataFrame({"pair_id": ["a"], "prompt": ["q"], "response_1": ["x y."],
    ...                   "response_2": ["z."]})
    >>> identical_pairs(p, {"a": 1}, ["placebo"])[["response_1", "response_2"]].values.tolist()
    [['x y.', 'x  y.']]
    """
    pairs = validate_pairs(pairs)
    slot = _edited_slots(pairs, target)
    text = np.where(slot == 1, pairs["response_1"], pairs["response_2"])
    same = pd.DataFrame({"pair_id": pairs["pair_id"] + "|identical", "prompt": pairs["prompt"],
                         "response_1": text, "response_2": text})
    if {"model_1", "model_2"} <= set(pairs.columns):
        # Both sides by the same model, so self-preference cancels.
        same["model_1"] = same["model_2"] = np.where(slot == 1, pairs["model_1"],
                                                     pairs["model_2"])
    out = probe_pairs(same, probes, target="response_2", labels=labels)
    # Report against the original pair, which is what the sample was drawn from.
    return out.assign(source_pair_id=out["source_pair_id"].str.removesuffix("|identical"))


def identical_table(verdicts: pd.DataFrame, *, n_boot: int = 1000, seed: int) -> pd.DataFrame:
    """``identical_win_rate`` per judge and probe: P(edited copy beats its original), a tie
    counting 1/2, over valid verdicts of :func:`identical_pairs`; resampled by source pair.
    Null for a judge that ignores the cue: 0.5. The placebo goes to ``noise.placebo``.

    >>> v = pd.DataFrame({"judge": "j", "source_pair_id": ["a", "a"], "probe": "authority",
    ...                   "order": ["12", "21"], "p_1": [0.2, 0.5], "failed": False})
    >>> float(identical_table(v, n_boot=0, seed=0)["estimate"].iloc[0])  # copy in response_2
    0.75
    """
    r1 = winner(np.where(verdicts["failed"], np.nan, verdicts["p_1"]))
    win = 1.0 - r1  # the edited copy is response_2: 1 win, 0.5 tie, 0 loss, NaN failed
    m = verdicts[["judge", "probe", "source_pair_id"]].assign(
        win=np.nan_to_num(win), valid=np.isfinite(win).astype(float))
    per = m.groupby(["judge", "probe", "source_pair_id"], sort=True)[["win", "valid"]].sum()
    rows: list[dict] = []
    for (judge, probe_name), g in per.reset_index().groupby(["judge", "probe"], sort=True):
        g = g[g["valid"] > 0]
        est = bootstrap_ci(weighted_ratio, g["win"].to_numpy(float), g["valid"].to_numpy(float),
                           n_boot=n_boot, seed=seed, compress=True)
        group = "noise" if probe_name in NOISE_PROBES else "probes"
        rows += estimate_rows(judge, f"{group}.{probe_name}", {"identical_win_rate": est})
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)
