"""Feature biases: does the judge reward a surface feature (tics, tone, self-praise, format)?

Two estimates per feature f (a detector of ``judgebench.judges.features``), both in logits per
unit of f, each with a 95% bootstrap interval (``judgebench/stats.py``):

* **effect_logit** (counterfactual). For a seeded sample of pairs, one response r is edited
  twice: ``add(r, d)`` adds d units of the feature (d tics, d tone phrases; a format feature
  rewrites r as exactly N items) and ``control(r, d)`` makes an edit of about the same length
  without it (the same sentence with a neutral word, a neutral sentence, the same lines
  unmarked). The two copies are judged against each other in both orders, so the position
  pull cancels and length hardly differs: per probe, m = (logit p_12 − logit p_21) / 2 is the
  judge's margin for the feature copy, and Δf = f(added) − f(control) is measured by the
  detector. The estimate is the least-squares slope through the origin, Σ m·Δf / Σ Δf², over
  every dose; a judge whose logit gains β·Δf (the simulated judge, a ``biased:`` judge) gives
  β. ``win_rate``: P(feature copy wins) over valid verdicts (ties are not wins), overall and
  per dose. The resampling unit is the source pair (its probes at all doses move together).
* **observational_slope**. On the judged pairs themselves: the OLS slope of the judge's
  swap-averaged logit margin for response_1, (logit p_12 − logit p_21) / 2, on
  Δf = f(response_1) − f(response_2), with the gold (2·P(gold prefers response_1) − 1, or the
  quality difference) and log(len_1 / len_2) as covariates where present, so that a feature
  that comes with better or longer answers is not credited with their wins. Beside it,
  ``p_prefer_feature``: over pairs where exactly one response shows the feature (present vs
  absent), the share of pairs whose swap-averaged verdict prefers that response, and
  ``gold_prefer_feature``, the gold's share on the same pairs. Pairs that share a prompt are
  resampled together.

Probabilities are clipped to [1e-6, 1 − 1e-6] before a logit (a hard 0/1 verdict is ±13.8;
:data:`~judgebench.probability.PROB_EPS`).
A feature that never fires on the audited pairs is skipped with that reason, never reported as
a zero effect. Definitions and sources: ``docs/design/audit-definitions.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from judgebench.audit.position import TABLE_COLUMNS, estimate_rows, pairs_of, swap_averaged_win
from judgebench.audit.verbosity import padding_win_counts, pair_lengths, quality_covariate
from judgebench.judges.features import Feature, as_feature, detect
from judgebench.probability import safe_logit, swap_average
from judgebench.stats import (
    Estimate,
    bootstrap_ci,
    per_pair,
    shared_clusters,
    weighted_mean,
    weighted_ratio,
)

#: Features audited by default (built-ins that need no parameters).
DEFAULT_FEATURES = ("lexical", "tone", "self_praise", "format")
#: Doses added by the counterfactual probes (a feature whose edit ignores the dose gets 1).
FEATURE_DOSES = (1, 2, 3)
_PAIR_COLS = ["prompt", "response_1", "response_2", "len_1", "len_2", "label", "quality_1",
              "quality_2"]


def resolve_features(features: Sequence[str | Feature] | dict[str, Any] | None
                     ) -> list[Feature]:
    """Features from names, Features, or {name: detector (regex / callable / Feature)}.

    >>> [f.name for f in resolve_features(["lexical", "tone"])]
    ['lexical', 'tone']
    """
    if features is None:
        features = DEFAULT_FEATURES
    if isinstance(features, dict):
        return [as_feature(name, det) for name, det in features.items()]
    out = []
    for f in features:
        out.append(f if isinstance(f, Feature) else as_feature(str(f)))
    names = [f.name for f in out]
    if len(set(names)) != len(names):
        raise ValueError(f"feature names must be distinct; got {names}.")
    return out


def logit_margin(p_12: np.ndarray, p_21: np.ndarray) -> np.ndarray:
    """Per pair, the judge's logit for response_1 averaged over the valid orders (NaN if none).

    >>> logit_margin(np.array([0.5, np.nan]), np.array([0.5, 0.5])).tolist()
    [0.0, 0.0]
    """
    # In response_1 terms: order 21 shows response_1 second, so its logit flips sign.
    return swap_average(safe_logit(p_12), -safe_logit(p_21))


def _slope_through_origin(w: np.ndarray, m: np.ndarray, df: np.ndarray) -> np.ndarray:
    return weighted_ratio(w, m * df, df * df)


def probe_effect(p_12: np.ndarray, p_21: np.ndarray, dfeat: np.ndarray, source: np.ndarray,
                 *, n_boot: int = 1000, seed: int) -> Estimate:
    """Counterfactual effect: slope of the feature copy's logit margin on Δf (see module doc).

    ``p_12``/``p_21`` are P(first shown wins) on probe pairs with the feature copy in
    response_1; ``source`` is each probe's source pair (the resampling cluster).

    >>> probe_effect(np.array([0.731]), np.array([0.269]), np.array([1.0]), np.array(["a"]),
    ...              n_boot=0, seed=0).estimate.__round__(2)
    1.0
    """
    m = logit_margin(p_12, p_21)
    df = np.asarray(dfeat, float)
    keep = np.isfinite(m) & (df != 0)
    if not keep.any():
        return Estimate(np.nan, np.nan, np.nan, 0)
    src = np.asarray(source, dtype=object)[keep]
    est = bootstrap_ci(_slope_through_origin, m[keep], df[keep], n_boot=n_boot, seed=seed,
                       clusters=src, cluster_name="source pair")
    # n counts source pairs, the independent units.
    return Estimate(est.estimate, est.ci_low, est.ci_high, int(pd.unique(src).size),
                    est.n_boot_failed, est.method, est.bias)


def _wls_coef(k: int):
    """Statistic: coefficient ``k`` of the weighted least-squares fit of y on X, per resample."""

    def coef(w: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
        p = x.shape[1]
        xx = (x[:, :, None] * x[:, None, :]).reshape(len(x), p * p)
        a = (w @ xx).reshape(len(w), p, p) + 1e-12 * np.eye(p)
        b = w @ (x * y[:, None])
        with np.errstate(invalid="ignore"):
            ok = np.linalg.cond(a) < 1e12
        out = np.full(len(w), np.nan)
        if ok.any():
            out[ok] = np.linalg.solve(a[ok], b[ok][:, :, None])[:, k, 0]
        return out

    return coef


def observational_slope(p_12: np.ndarray, p_21: np.ndarray, dfeat: np.ndarray,
                        covariates: Sequence[np.ndarray] = (), clusters: np.ndarray | None = None,
                        *, n_boot: int = 1000, seed: int) -> Estimate:
    """OLS slope of the swap-averaged logit margin on Δf, with covariates (see module doc).

    >>> observational_slope(np.array([0.73, 0.5, 0.27]), np.array([0.27, 0.5, 0.73]),
    ...                     np.array([1.0, 0.0, -1.0]), n_boot=0, seed=0).estimate.__round__(2)
    0.99
    """
    y = logit_margin(p_12, p_21)
    cols = [np.asarray(dfeat, float), *[np.asarray(c, float) for c in covariates]]
    x = np.column_stack([np.ones(len(y)), *cols])
    keep = np.isfinite(y) & np.isfinite(x).all(axis=1)
    if keep.sum() < x.shape[1] + 1 or np.std(cols[0][keep]) == 0:
        return Estimate(np.nan, np.nan, np.nan, int(keep.sum()))
    cl = None if clusters is None else np.asarray(clusters, dtype=object)[keep]
    return bootstrap_ci(_wls_coef(1), y[keep], x[keep], n_boot=n_boot, seed=seed, clusters=cl,
                        cluster_name="prompt")


def prefer_feature(p_12: np.ndarray, p_21: np.ndarray, f1: np.ndarray, f2: np.ndarray,
                   gold: np.ndarray | None = None, clusters: np.ndarray | None = None, *,
                   n_boot: int = 1000, seed: int) -> tuple[Estimate, Estimate]:
    """(judge's, gold's) share preferring the response that shows the feature, over pairs where
    exactly one does; a split or tie counts half. Gold is NaN-estimated without labels.

    Example:

    >>> judge, gold = prefer_feature(np.array([0.8, 0.3, 0.6]), np.array([0.3, 0.6, 0.5]),
    ...                              np.array([1, 0, 2]), np.array([0, 1, 0]),
    ...                              gold=np.array([1.0, 0.0, 0.0]), n_boot=0, seed=0)
    >>> round(judge.estimate, 3), round(gold.estimate, 3), judge.n
    (0.917, 0.667, 3)
    """
    has1, has2 = np.asarray(f1) > 0, np.asarray(f2) > 0
    sel = has1 != has2
    win1 = swap_averaged_win(p_12, p_21)
    judge_pref = np.where(has1, win1, 1.0 - win1)[sel]
    cl = None if clusters is None else np.asarray(clusters, dtype=object)[sel]

    def share(values: np.ndarray) -> Estimate:
        ok = np.isfinite(values)
        if not ok.any():
            return Estimate(np.nan, np.nan, np.nan, 0)
        return bootstrap_ci(weighted_mean, values[ok], n_boot=n_boot, seed=seed,
                            clusters=None if cl is None else cl[ok], cluster_name="prompt")

    gold_pref = np.full(int(sel.sum()), np.nan)
    if gold is not None:
        g = np.asarray(gold, float)
        gold_pref = np.where(has1, g, 1.0 - g)[sel]
    return share(judge_pref), share(gold_pref)


def features_table(verdicts: pd.DataFrame, features: Sequence[str | Feature] | None = None, *,
                   n_boot: int = 1000, seed: int, pp: pd.DataFrame | None = None
                   ) -> pd.DataFrame:
    """Observational feature measures per judge and feature, as a long table.

    Measures ``features.<name>.observational_slope``, ``.p_prefer_feature``,
    ``.gold_prefer_feature``; a ``covariates`` column says what the slope adjusted for.
    Needs the response texts (response_1, response_2) in the table. ``pp``: this table's
    :func:`~judgebench.stats.per_pair` when already built (run_audit).

    Example:

    >>> from judgebench.judges.simulated import SimulatedJudge
    >>> p = pd.DataFrame({"pair_id": list("abcd"), "prompt": "Capital?",
    ...                   "response_1": ["Paris. I hope this helps!", "Rome.", "Oslo.", "Lima."],
    ...                   "response_2": ["Lyon.", "Milan. Happy to help!", "Bergen.", "Cusco."]})
    >>> v = SimulatedJudge(tone=1.0).judge(p, orders=("12", "21"), progress=False)
    >>> t = features_table(v, ["tone"], n_boot=20, seed=0).set_index("measure")
    >>> t.loc["features.tone.p_prefer_feature", ["estimate", "n"]].tolist()
    [1.0, 2.0]
    """
    feats = resolve_features(features)
    pp = pairs_of(verdicts, _PAIR_COLS, pp)
    rows: list[dict] = []
    names = ("observational_slope", "p_prefer_feature", "gold_prefer_feature")
    for judge, grp in pp.groupby("judge", sort=True):
        for feat in feats:
            prefix = f"features.{feat.name}"
            if not {"response_1", "response_2"} <= set(grp.columns):
                why = "needs the response texts (response_1, response_2): pass pairs="
                rows += estimate_rows(judge, prefix, {m: Estimate(np.nan, np.nan, np.nan, 0)
                                                      for m in names}, dict.fromkeys(names, why))
                continue
            ids = grp["pair_id"].tolist()
            f1 = detect(grp["response_1"].tolist(), feat, ids=ids, where="response_1")
            f2 = detect(grp["response_2"].tolist(), feat, ids=ids, where="response_2")
            a, b = grp["p_12"].to_numpy(), grp["p_21"].to_numpy()
            covs, cov_names = [], []
            gold, gold_name = quality_covariate(grp)
            if gold is not None:
                covs.append(gold)
                cov_names.append(gold_name)
            lens = pair_lengths(grp)
            if lens is not None:
                covs.append(np.log(np.maximum(lens[0], 1) / np.maximum(lens[1], 1)))
                cov_names.append("log_length_ratio")
            clusters = shared_clusters(grp)
            gold_p = None if gold_name != "label" else (gold + 1.0) / 2.0
            pref, gpref = prefer_feature(a, b, f1, f2, gold_p, clusters, n_boot=n_boot,
                                         seed=seed)
            est = {"observational_slope": observational_slope(
                a, b, f1 - f2, covs, clusters, n_boot=n_boot, seed=seed),
                "p_prefer_feature": pref, "gold_prefer_feature": gpref}
            notes = {}
            if not ((f1 > 0).any() or (f2 > 0).any()):
                notes = dict.fromkeys(names, f"feature {feat.name!r} never fires on these "
                                      f"{len(grp)} pairs (f = 0 on every response)")
            elif not (f1 != f2).any():
                notes = dict.fromkeys(names, f"feature {feat.name!r} is the same on both "
                                      "responses of every pair")
            elif gold_p is None:
                notes["gold_prefer_feature"] = "no gold labels"
            rows += estimate_rows(judge, prefix, est, notes, covariates="+".join(cov_names))
    return pd.DataFrame(rows, columns=TABLE_COLUMNS + ["covariates"])


# ---------------------------------------------------------------------------------------------
# Counterfactual probes


def _doses(feat: Feature, doses: Sequence[int]) -> list[int]:
    """The doses that make distinct edits (a format rewrite ignores the dose: dose 1 only)."""
    probe = "One sentence. Another sentence."
    seen, out = set(), []
    for d in doses:
        text = feat.add(probe, d)
        if text not in seen:
            seen.add(text)
            out.append(int(d))
    return out


def feature_probe_pairs(pairs: pd.DataFrame, features: Sequence[str | Feature] | None = None,
                        doses: Sequence[int] = FEATURE_DOSES, *, seed: int) -> pd.DataFrame:
    """Probe pairs: response_1 = a response with the feature added, response_2 = its control.

    For each source pair one response is drawn (seeded) and edited per feature and dose.
    Columns: pair_id (``SRC::feature:NAME:DOSE``), prompt, response_1, response_2,
    source_pair_id, feature, dose, and model_1/model_2 (the source response's model, both).
    Features that cannot be added (no ``add`` edit, e.g. a bare callable) are left out.

    >>> p = pd.DataFrame({"pair_id": ["a"], "prompt": ["q"], "response_1": ["Yes."],
    ...                   "response_2": ["No."]})
    >>> bool(feature_probe_pairs(p, ["tone"], doses=(1,), seed=0)["response_1"].str.endswith("!").all())
    True
    """
    feats = [f for f in resolve_features(features) if f.add is not None]
    rng = np.random.default_rng(seed)
    slot = rng.integers(1, 3, size=len(pairs))
    rows = []
    for feat in feats:
        for dose in _doses(feat, doses):
            for k, src in enumerate(pairs.itertuples(index=False)):
                base = getattr(src, f"response_{slot[k]}")
                model = getattr(src, f"model_{slot[k]}", None)
                rows.append({"pair_id": f"{src.pair_id}::feature:{feat.name}:{dose}",
                             "prompt": src.prompt, "response_1": feat.add(base, dose),
                             "response_2": feat.control(base, dose),
                             "source_pair_id": str(src.pair_id), "feature": feat.name,
                             "dose": dose, "model_1": model, "model_2": model})
    out = pd.DataFrame(rows, columns=["pair_id", "prompt", "response_1", "response_2",
                                      "source_pair_id", "feature", "dose", "model_1",
                                      "model_2"])
    if out[["model_1", "model_2"]].isna().all().all():
        out = out.drop(columns=["model_1", "model_2"])
    return out


def feature_probes_table(probe_verdicts: pd.DataFrame,
                         features: Sequence[str | Feature] | None = None, *,
                         n_boot: int = 1000, seed: int) -> pd.DataFrame:
    """``features.<name>.effect_logit`` and ``.win_rate``, overall (dose "all") and per dose.

    ``probe_verdicts``: a judge's verdicts on :func:`feature_probe_pairs` (both orders).
    Δf is re-measured with the detectors, so a dose that added less than asked counts as such.

    Example:

    >>> from judgebench.judges.simulated import SimulatedJudge
    >>> p = pd.DataFrame({"pair_id": list("ab"), "prompt": "q", "response_1": ["A.", "B."],
    ...                   "response_2": ["C.", "D."]})
    >>> probes = feature_probe_pairs(p, ["tone"], doses=(1, 2), seed=0)
    >>> v = SimulatedJudge(tone=1.0).judge(probes, orders=("12", "21"), progress=False)
    >>> t = feature_probes_table(v, ["tone"], n_boot=0, seed=0)
    >>> t.query("measure == 'features.tone.win_rate'")[["dose", "estimate"]].values.tolist()
    [['all', 1.0], ['1', 1.0], ['2', 1.0]]
    """
    feats = {f.name: f for f in resolve_features(features)}
    pp = per_pair(probe_verdicts, ["feature", "dose", "source_pair_id", "response_1",
                                   "response_2"])
    rows: list[dict] = []
    for (judge, name), grp in pp.groupby(["judge", "feature"], sort=True):
        feat = feats.get(name) or as_feature(name)
        ids = grp["pair_id"].tolist()
        df = (detect(grp["response_1"].tolist(), feat, ids=ids, where="feature copy")
              - detect(grp["response_2"].tolist(), feat, ids=ids, where="control copy"))
        grp = grp.assign(dfeat=df)
        parts = [("all", grp)] + [(str(d), g) for d, g in grp.groupby("dose", sort=True)]
        for dose, g in parts:
            a, b = g["p_12"].to_numpy(), g["p_21"].to_numpy()
            num, den = padding_win_counts(a, b, padded=1)
            keep = den > 0
            win = bootstrap_ci(weighted_ratio, num[keep], den[keep], n_boot=n_boot, seed=seed,
                               clusters=g["source_pair_id"].to_numpy(dtype=object)[keep],
                               cluster_name="source pair")
            est = {"effect_logit": probe_effect(a, b, g["dfeat"].to_numpy(),
                                                g["source_pair_id"].to_numpy(), n_boot=n_boot,
                                                seed=seed),
                   "win_rate": win}
            notes = {}
            if not (g["dfeat"] != 0).any():
                notes["effect_logit"] = (f"the {name!r} edit never changed the detector "
                                         "(Δf = 0 on every probe)")
            rows += estimate_rows(judge, f"features.{name}", est, notes, dose=dose,
                                  mean_dfeat=float(g["dfeat"].mean()))
    return pd.DataFrame(rows, columns=TABLE_COLUMNS + ["dose", "mean_dfeat"])


def run_feature_probes(judge: Any, pairs: pd.DataFrame,
                       features: Sequence[str | Feature] | None = None,
                       doses: Sequence[int] = FEATURE_DOSES, *, seed: int, n_boot: int = 1000,
                       cache: Any = None, progress: bool = False
                       ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Build the probe pairs, judge them in both orders, and tabulate (verdicts, table).

    >>> from judgebench.judges.simulated import SimulatedJudge
    >>> p = pd.DataFrame({"pair_id": list("ab"), "prompt": "q", "response_1": ["A.", "B."],
    ...                   "response_2": ["C.", "D."]})
    >>> _, tab = run_feature_probes(SimulatedJudge(lexical=1.0), p, ["lexical"], seed=0,
    ...                             n_boot=0)
    >>> float(tab.query("dose == 'all' and measure == 'features.lexical.effect_logit'")
    ...       ["estimate"].iloc[0].round(6))
    1.0
    """
    probes = feature_probe_pairs(pairs, features, doses, seed=seed)
    if probes.empty:
        return probes, pd.DataFrame(columns=TABLE_COLUMNS + ["dose", "mean_dfeat"])
    verdicts = judge.judge(probes, orders=("12", "21"), cache=cache, progress=progress)
    verdicts["probe"] = "feature:" + verdicts["feature"].astype(str)
    return verdicts, feature_probes_table(verdicts, features, n_boot=n_boot, seed=seed)


def features_block(rows: pd.DataFrame) -> dict[str, Any]:
    """audit.json's ``features`` group for one judge: {name: {measure: entry}, "skipped": {}}.

    Per-dose rows are left to ``features.csv``; the block holds the all-dose numbers.

    Example:

    >>> from judgebench.judges.simulated import SimulatedJudge
    >>> p = pd.DataFrame({"pair_id": list("ab"), "prompt": "q", "response_1": ["A.", "B."],
    ...                   "response_2": ["C.", "D."]})
    >>> _, t = run_feature_probes(SimulatedJudge(tone=1.0), p, ["tone"], seed=0, n_boot=0)
    >>> block = features_block(t)
    >>> sorted(block["tone"]), block["tone"]["win_rate"]["estimate"]
    (['effect_logit', 'win_rate'], 1.0)
    """
    from judgebench.audit.suite import _entry  # one definition of an audit.json entry

    block: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    for row in rows.itertuples(index=False):
        if str(getattr(row, "dose", "all")) not in ("all", "nan"):
            continue
        _, name, measure = row.measure.split(".", 2)
        if row.note:
            skipped[f"{name}.{measure}"] = row.note
        else:
            block.setdefault(name, {})[measure] = _entry(row)
    if skipped:
        block["skipped"] = skipped
    return block
