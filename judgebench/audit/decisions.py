"""Decisions, not only estimates: p-values, Benjamini–Hochberg q-values, power and flags.

Each bias measure of an audit is tested against its own null (:data:`HYPOTHESES`; the table
in docs/design/audit-definitions.md says why each null is the one):

* **bootstrap tests** (the default): a two-sided Wald test with the bootstrap standard error,
  p = 2·Φ(−|estimate − null| / SE), SE = the standard deviation of the bootstrap replicates
  (:attr:`~judgebench.stats.Estimate.se`), so a clustered bootstrap gives clustered
  p-values. An SE of 0 (every resample equal) gives p = 0 unless the estimate is the null.
* **exact tests**: McNemar's test for position (:func:`mcnemar_position`), an exact binomial
  test on the discordant pairs.

The p-values of one judge form one family; their Benjamini–Hochberg q-values (false discovery
rate, Benjamini & Hochberg 1995) decide: a measure with q < alpha is **flagged**. Beside each
test, the **minimum detectable effect** MDE = (z_{1−α/2} + z_{power})·SE (2.80·SE for 80%
power at α = 0.05, two-sided): a true effect that large would be detected 80% of the time.
A measure that is not flagged is **underpowered** when its MDE exceeds the smallest effect
worth detecting (``effect_of_interest``) — the audit could not have seen a bias that matters —
and **not detected** otherwise.

>>> benjamini_hochberg(np.array([0.01, 0.04, 0.03, 0.5])).round(3).tolist()
[0.04, 0.053, 0.053, 0.5]
>>> round(minimum_detectable_effect(0.1), 3)
0.28
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import binomtest, norm

from judgebench.audit.position import TABLE_COLUMNS, pair_outcomes, pairs_of

#: Family-wise settings: false discovery rate and the power the MDE is quoted at.
ALPHA = 0.05
POWER = 0.8
#: Verdicts of a test.
FLAGGED, UNDERPOWERED, NOT_DETECTED = "flagged", "underpowered", "not detected"
#: Exit status of ``judgebench audit --fail-on`` when a named flag is raised.
FAIL_EXIT = 3

OBSERVATIONAL = ("observational: the judge's preference for longer answers mixed with the "
                 "answers' quality; confounded whenever the better answer (gold) tends to be "
                 "the longer (or the shorter) one. See verbosity_bins.csv (gold's P(longer is better) per bin), the "
                 "length slope (adjusted for gold when labelled) and padding_win_rate "
                 "(counterfactual).")
SLOPE_NOTE = {
    "none": ("observational, not adjusted for quality (no gold labels or quality columns): "
             "confounded whenever better answers are longer; see padding_win_rate"),
    "label": "observational, adjusted for the gold label (2·P(gold prefers response_1) − 1)",
    "quality": "observational, adjusted for quality_1 − quality_2",
}


@dataclass(frozen=True)
class Hypothesis:
    """The null of one measure (``measure`` may hold a ``*`` for the probe name).

    ``effect_of_interest``: the smallest departure from ``null`` worth detecting, in the
    measure's units; a test whose MDE exceeds it is underpowered.

    Example:

    >>> h = Hypothesis("position.p_first", null=0.5, effect_of_interest=0.05)
    >>> h.test, wald_p_value(0.6, h.null, se=0.04) < 0.05
    ('bootstrap Wald', True)
    """

    measure: str
    null: float
    effect_of_interest: float
    test: str = "bootstrap Wald"
    why: str = ""


HYPOTHESES: tuple[Hypothesis, ...] = (
    Hypothesis("position.p_first", 0.5, 0.05, why="no position bias: either slot wins half"),
    Hypothesis("position.offset_logit", 0.0, 0.2, why="no logit offset for the first slot"),
    Hypothesis("position.mcnemar", 0.5, 0.05, "exact binomial (McNemar)",
               "of pairs whose two verdicts pick the same slot, first as often as second"),
    Hypothesis("verbosity.p_prefer_longer", 0.5, 0.05,
               why="longer answer chosen half the time (observational)"),
    Hypothesis("verbosity.length_slope", 0.0, 0.2, why="no length term beyond the covariate"),
    Hypothesis("verbosity.padding_win_rate", 0.5, 0.05,
               why="padded copy of the same content beats the original half the time"),
    Hypothesis("self_preference.delta", 0.0, 0.05,
               why="own model's win rate equals the reference's"),
    Hypothesis("probes.*.robustness_corrected", 1.0, 0.05,
               why="the cue flips no more verdicts than the placebo (noise) does"),
    Hypothesis("probes.*.identical_win_rate", 0.5, 0.05,
               why="edited copy beats its own original half the time"),
)


def wald_p_value(estimate: float, null: float, se: float) -> float:
    """Two-sided p of ``estimate`` vs ``null`` with standard error ``se`` (NaN if undefined).

    >>> round(wald_p_value(0.6, 0.5, 0.05), 4), wald_p_value(1.0, 0.5, 0.0)
    (0.0455, 0.0)
    """
    if not (np.isfinite(estimate) and np.isfinite(se)):
        return float("nan")
    diff = abs(estimate - null)
    if se == 0.0:
        return 1.0 if diff == 0.0 else 0.0
    return float(2.0 * norm.sf(diff / se))


def minimum_detectable_effect(se: float, alpha: float = ALPHA, power: float = POWER) -> float:
    """(z_{1−α/2} + z_power)·se: 2.80·se at α = 0.05 and 80% power (two-sided).

    >>> round(minimum_detectable_effect(1.0), 2), round(minimum_detectable_effect(1.0, power=0.9), 2)
    (2.8, 3.24)
    """
    return float((norm.ppf(1.0 - alpha / 2.0) + norm.ppf(power)) * se)


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg (1995) q-values of p-values; NaN p-values are left out (and NaN).

    q_(i) = min over j >= i of p_(j)·m / j for the sorted p-values, capped at 1.

    Example:

    >>> benjamini_hochberg(np.array([0.01, np.nan, 0.04])).tolist()
    [0.02, nan, 0.04]
    """
    p = np.asarray(p, dtype=float)
    q = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    m = len(ok)
    if m == 0:
        return q
    order = ok[np.argsort(p[ok], kind="stable")]
    scaled = p[order] * m / np.arange(1, m + 1)
    q[order] = np.minimum(1.0, np.minimum.accumulate(scaled[::-1])[::-1])
    return q


def mcnemar_position(p_12: np.ndarray, p_21: np.ndarray) -> dict[str, float]:
    """McNemar's exact test of position bias on the discordant pairs.

    Per pair, "response_1 wins" in order 12 vs in order 21 is a paired binary outcome; the
    discordant pairs are those whose verdicts disagree in response terms while both are
    decisive, i.e. the same *slot* won twice. Under no position bias first-first and
    second-second are equally likely, so the first-first count is Binomial(n_discordant, 1/2)
    (an exact McNemar test; McNemar 1947). Returns the share of discordant pairs won by the
    first slot twice (``estimate``), its Clopper–Pearson 95% CI, ``n`` (discordant pairs),
    ``first_first``, ``second_second`` and the two-sided ``p_value``.

    >>> r = mcnemar_position(np.array([0.9] * 9 + [0.2]), np.array([0.8] * 9 + [0.3]))
    >>> r["first_first"], r["second_second"], round(r["p_value"], 4)
    (9, 1, 0.0215)
    """
    o = pair_outcomes(np.asarray(p_12, float), np.asarray(p_21, float))
    same = o["same_position"] == 1.0
    # same_position pairs: first_wins is 2 (first slot twice) or 0 (second slot twice).
    ff = int(np.sum(same & (o["first_wins"] == 2.0)))
    ss = int(np.sum(same)) - ff
    n = ff + ss
    if n == 0:
        return {"estimate": float("nan"), "ci_low": float("nan"), "ci_high": float("nan"),
                "n": 0, "first_first": 0, "second_second": 0, "p_value": float("nan")}
    res = binomtest(ff, n, 0.5)
    ci = res.proportion_ci(0.95, method="exact")
    return {"estimate": ff / n, "ci_low": float(ci.low), "ci_high": float(ci.high), "n": n,
            "first_first": ff, "second_second": ss, "p_value": float(res.pvalue)}


def mcnemar_table(verdicts: pd.DataFrame, *, pp: pd.DataFrame | None = None) -> pd.DataFrame:
    """``position.mcnemar`` per judge as a long table (TABLE_COLUMNS + ``p_exact``, counts).

    Skipped (note) for a judge without both orders or without discordant pairs. ``pp``: this
    table's :func:`~judgebench.stats.per_pair` when already built (run_audit).

    Example:

    >>> from judgebench.judges.simulated import simulate_verdicts
    >>> t = mcnemar_table(simulate_verdicts(100, seed=0, position=1.0))
    >>> t[["measure", "n", "first_first", "second_second"]].values.tolist()
    [['position.mcnemar', 31, 30, 1]]
    """
    pp = pairs_of(verdicts, (), pp)
    rows = []
    for judge, grp in pp.groupby("judge", sort=True):
        orders = set(verdicts.loc[verdicts["judge"] == judge, "order"].astype(str))
        r = mcnemar_position(grp["p_12"].to_numpy(), grp["p_21"].to_numpy())
        note = ""
        if not {"12", "21"} <= orders:
            note = f"needs both orders ('12' and '21'); judge {judge!r} has {sorted(orders)}"
        elif r["n"] == 0:
            note = "no discordant pairs (no pair whose two verdicts pick the same slot)"
        rows.append({"judge": judge, "measure": "position.mcnemar",
                     "estimate": np.nan if note else r["estimate"],
                     "ci_low": np.nan if note else r["ci_low"],
                     "ci_high": np.nan if note else r["ci_high"], "n": r["n"], "note": note,
                     "n_boot_failed": 0, "method": "" if note else "exact binomial (McNemar)",
                     # The share's SE under the null, for the MDE (the p-value is exact).
                     "se": np.nan if note else 0.5 / np.sqrt(r["n"]),
                     "p_exact": np.nan if note else r["p_value"],
                     "first_first": r["first_first"], "second_second": r["second_second"]})
    return pd.DataFrame(rows, columns=TABLE_COLUMNS + ["p_exact", "first_first",
                                                       "second_second"])


def hypothesis_for(measure: str) -> Hypothesis | None:
    """The :class:`Hypothesis` whose pattern matches ``measure`` ('probes.authority....')."""
    for h in HYPOTHESES:
        if fnmatch.fnmatchcase(measure, h.measure):
            return h
    return None


def decide(block: dict[str, Any], alpha: float = ALPHA, power: float = POWER) -> list[str]:
    """Test every measure of one judge's audit block in place; return the flagged measures.

    Adds to each tested entry ``null``, ``p_value``, ``q_value`` (Benjamini–Hochberg over the
    block's tests), ``mde``, ``effect_of_interest``, ``test`` and ``verdict``. An entry that
    already carries ``p_value`` (an exact test) keeps it; the others get the bootstrap Wald p.

    >>> b = {"position": {"p_first": {"estimate": 0.7, "se": 0.02}},
    ...      "verbosity": {"length_slope": {"estimate": 0.1, "se": 0.3}}}
    >>> decide(b), b["verbosity"]["length_slope"]["verdict"]
    (['position.p_first'], 'underpowered')
    """
    tested: list[tuple[str, dict, Hypothesis]] = []
    for name, entry in _entries(block):
        h = hypothesis_for(name)
        if h is None or entry.get("estimate") is None:
            continue
        se = _float(entry.get("se"))
        if "p_value" not in entry:
            entry["p_value"] = _json(wald_p_value(float(entry["estimate"]), h.null, se))
        entry.update(null=h.null, test=h.test, effect_of_interest=h.effect_of_interest,
                     mde=_json(minimum_detectable_effect(se, alpha, power)))
        tested.append((name, entry, h))
    q = benjamini_hochberg(np.array([_float(e["p_value"]) for _, e, _ in tested]))
    flags = []
    for (name, entry, h), qi in zip(tested, q):
        entry["q_value"] = _json(qi)
        mde = _float(entry["mde"])
        if np.isfinite(qi) and qi < alpha:
            entry["verdict"] = FLAGGED
            flags.append(name)
        elif not np.isfinite(mde) or mde > h.effect_of_interest:
            entry["verdict"] = UNDERPOWERED
        else:
            entry["verdict"] = NOT_DETECTED
    return flags


def matching_flags(flags: Iterable[str], wanted: Iterable[str]) -> list[str]:
    """The raised ``flags`` that any of ``wanted`` names: a measure ('position.p_first'), a
    group ('position', 'probes', 'probes.authority'), a pattern ('probes.*.identical_win_rate')
    or 'any'.

    >>> matching_flags(["position.p_first", "probes.authority.robustness_corrected"], ["probes"])
    ['probes.authority.robustness_corrected']
    """
    out = []
    for flag in flags:
        for w in wanted:
            if w == "any" or flag == w or flag.startswith(w + ".") or \
                    fnmatch.fnmatchcase(flag, w):
                out.append(flag)
                break
    return out


def known_flag_names() -> list[str]:
    """The names ``--fail-on`` accepts: 'any', each group, and each tested measure pattern."""
    groups = sorted({h.measure.split(".")[0] for h in HYPOTHESES})
    return ["any", *groups, *(h.measure for h in HYPOTHESES)]


def check_fail_on(wanted: Iterable[str]) -> list[str]:
    """``wanted`` stripped of blanks and checked: 'any', or a name whose first part is a tested
    group (``position``, ``probes.authority``, ``verbosity.length_slope``...). Anything else is
    a ValueError naming it and the choices.

    >>> check_fail_on(["position", " probes.injection "])
    ['position', 'probes.injection']
    """
    groups = {h.measure.split(".")[0] for h in HYPOTHESES}
    out = []
    for w in (x.strip() for x in wanted):
        if not w:
            continue
        if w != "any" and w.split(".")[0] not in groups:
            raise ValueError(f"--fail-on {w!r} is not a flag; choose from "
                             f"{known_flag_names()} (a probe too: probes.authority, ...), "
                             "comma-separated, e.g. --fail-on position,probes.")
        out.append(w)
    return out


def _entries(block: dict[str, Any], prefix: str = ""):
    """(dotted name, entry) for every estimate entry nested in ``block``."""
    for key, value in block.items():
        if not isinstance(value, dict) or key in ("skipped", "settings"):
            continue
        name = f"{prefix}{key}"
        if "estimate" in value:
            yield name, value
        else:
            yield from _entries(value, name + ".")


def _float(x: Any) -> float:
    return float("nan") if x is None else float(x)


def _json(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


__all__ = ["ALPHA", "FAIL_EXIT", "HYPOTHESES", "Hypothesis", "POWER", "benjamini_hochberg",
           "check_fail_on", "decide", "matching_flags", "mcnemar_position", "mcnemar_table",
           "minimum_detectable_effect", "wald_p_value"]
