"""Feature control: length control generalised to any feature covariates (``feature:`` steps).

The LC GLM of ``length.py`` (Dubois et al. 2024), with one column per named feature (a
detector of ``judgebench.judges.features``) in place of, or beside, the length term::

    logit P(response_1 preferred) = c + ψ·s + Σ_k φ_k·(f_k(response_1) − f_k(response_2))
                                    [+ φ_len·tanh(Δlen / sd)]   # "length" named: removed too;
                                                                 # else kept as a covariate
                                    + γ·logit(y) + θ[model_1] − θ[model_2] + η[instruction]

fitted on the fit split's pairs (on the labelled ones when at least 20 are labelled, as length
control does), and each named feature's term is removed at prediction:
``p_controlled = sigmoid(logit(p_1) − Σ_k φ_k·Δf_k)``. As for length, the removed φ is the one
whose removal leaves the refitted GLM with no feature term (a root: brentq for one term, a
per-term secant iteration for several), not the attenuated GLM coefficient (kept as ``phi_lc``). The
length term stays in the model when it is not removed, so a feature that comes with extra
length is not charged with a verbosity bias, nor the reverse.

A feature that never fires on the fit split (Δf = 0 on every pair) has nothing to fit: it is
left out of the model, listed in ``not_fired`` and in ``warnings_`` (and so in
calibration.json's ``warnings``), and nothing is removed for it — never a silent φ = 0.

Spec: ``feature:lexical``, ``feature:lexical/tone``, ``feature:length/lexical`` (names joined
by '/', because '+' and ',' already separate steps).

>>> feature_control(np.array([0.5]), np.array([[2.0]]), np.array([1.0])).round(3)
array([0.119])
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from judgebench.calibration.base import (
    MIN_LABELLED_PAIRS,
    PerJudgeStep,
    register,
    register_parameterised,
    sigmoid,
)
from judgebench.calibration.length import (
    _removal_phi,
    _require_lengths,
    coefficient_se,
    fit_penalised_logistic,
    gold_rows,
    lc_design,
    length_feature,
)
from judgebench.judges.features import FEATURES, detect, make_feature
from judgebench.probability import safe_logit


def feature_control(p1: np.ndarray, dfeat: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Remove feature terms from P: sigmoid(logit(p) − Δf @ φ), Δf of shape (rows, features).

    Example:

    >>> p1, dfeat = np.array([0.731, 0.5]), np.array([[1.0, 0.0], [0.0, 2.0]])  # Δf per feature
    >>> feature_control(p1, dfeat, phi=np.array([1.0, 0.5])).round(3)
    array([0.5  , 0.269])
    """
    return sigmoid(safe_logit(p1) - np.asarray(dfeat, float) @ np.asarray(phi, float))


def feature_differences(rows: pd.DataFrame, names: Sequence[str], step: str) -> np.ndarray:
    """(rows, features): f(response_1) − f(response_2) per named built-in feature.

    Example:

    >>> p = pd.DataFrame({"pair_id": ["a", "b"], "response_1": ["Fine.", "Let us delve in."],
    ...                   "response_2": ["Let us delve in.", "I hope this helps!"]})
    >>> feature_differences(p, ["lexical", "tone"], "feature:lexical/tone").tolist()
    [[-1.0, 0.0], [1.0, -1.0]]
    """
    missing = [c for c in ("response_1", "response_2") if c not in rows.columns]
    if missing:
        raise ValueError(f"The {step!r} step needs the response texts in 'response_1' and "
                         f"'response_2'; the verdicts lack {missing}. Judge with judgebench "
                         "(it keeps the pair columns) or add the texts.")
    ids = rows["pair_id"].astype(str).tolist()
    cols = []
    for name in names:
        feat = make_feature(name)
        cols.append(detect(rows["response_1"].astype(str).tolist(), feat, ids=ids,
                           where="response_1")
                    - detect(rows["response_2"].astype(str).tolist(), feat, ids=ids,
                             where="response_2"))
    return np.column_stack(cols) if cols else np.zeros((len(rows), 0))


def _removal_vector(x, p1, pen, l2, beta0, ks: list[int], step_name: str,
                    judge: str) -> np.ndarray:
    """The φ (one per column in ``ks``) whose removal leaves the refitted GLM with zero terms
    there; one term: length control's brentq root, several: a per-term secant iteration."""
    if len(ks) == 1:
        return np.array([_removal_phi(x, p1, pen, l2, beta0, ks[0])])
    z = safe_logit(p1)
    xk = x[:, ks].toarray()
    start = [beta0]

    def g(phi: np.ndarray) -> np.ndarray:
        beta = fit_penalised_logistic(x, sigmoid(z - xk @ phi), pen, l2, start[0])
        start[0] = beta  # warm start: successive φ are close
        return beta[ks]

    # g(φ) ≈ A (φ* − φ) with A near the identity (the attenuation of each term): iterate
    # φ ← φ + g(φ) / a, a per-term secant slope. Cross-terms only slow it down; Powell's
    # hybrid root stalls on the refits' solver tolerance, this does not.
    phi_prev, g_prev = np.zeros(len(ks)), g(np.zeros(len(ks)))
    phi = g_prev.copy()
    for _ in range(60):
        gk = g(phi)
        # The refits are exact to L-BFGS's tolerance, ~1e-6 in a coefficient.
        if np.max(np.abs(gk)) < 1e-5 or np.max(np.abs(phi - phi_prev)) < 1e-7:
            return phi
        step = phi - phi_prev
        with np.errstate(invalid="ignore", divide="ignore"):
            a = np.where(np.abs(step) > 1e-10, (g_prev - gk) / step, 1.0)
        a = np.where(np.isfinite(a) & (a > 0.05), a, 1.0)
        phi_prev, g_prev = phi, gk
        phi = phi + gk / a
    raise ValueError(f"The {step_name!r} step cannot remove the feature terms of judge "
                     f"{judge!r} jointly (no root after 60 refits; the remaining terms are "
                     f"{np.round(gk, 4).tolist()}); fit the features as separate steps "
                     "(e.g. 'feature:lexical,feature:tone').")


@register("feature")
class FeatureControl(PerJudgeStep):
    """Remove a judge's preference for named features from its p_1 (LC GLM, any covariates).

    Example:

    >>> from judgebench.judges.simulated import SimulatedJudge
    >>> p = pd.DataFrame({"pair_id": [f"p{i}" for i in range(20)], "prompt": "q",
    ...                   "response_1": [f"A{i}." + " Let us delve in." * (i % 2)
    ...                                  for i in range(20)],
    ...                   "response_2": [f"B{i}." + " Let us delve in." * (i % 3 == 0)
    ...                                  for i in range(20)]})
    >>> v = SimulatedJudge(lexical=1.0).judge(p, progress=False)   # +1 logit per tic
    >>> step = FeatureControl(features=("lexical",)).fit(v)
    >>> step.name, round(step.params_["simulated"]["phi"]["lexical"], 2)
    ('feature:lexical', 1.0)
    >>> step.transform(v)["p_1"].round(3).unique().tolist()   # the tics' pull removed
    [0.5]
    """

    def __init__(self, features: Sequence[str] = ("lexical",), use_gold: bool = True,
                 model_terms: bool = True, instruction_terms: bool = True, l2: float = 1.0):
        self.features = features
        self.use_gold = use_gold
        self.model_terms = model_terms
        self.instruction_terms = instruction_terms
        self.l2 = l2

    @property
    def name(self) -> str:  # type: ignore[override]
        """``feature:NAME[/NAME...]``: the spec that rebuilds this step."""
        return "feature:" + "/".join(self.features)

    @classmethod
    def from_spec(cls, arg: str, **params: Any) -> FeatureControl:
        """``feature:lexical/tone`` -> FeatureControl(features=("lexical", "tone"))."""
        names = tuple(x.strip() for x in arg.split("/") if x.strip())
        given = params.pop("features", None)
        if given is not None and tuple(given) != names:
            raise ValueError(f"feature step {arg!r} was saved with features {list(given)}; "
                             "the name and the params disagree.")
        return cls(features=names, **params)

    def _names(self) -> tuple[list[str], bool]:
        names = [str(f) for f in self.features]
        if not names:
            raise ValueError("The 'feature' step needs at least one feature: 'feature:lexical' "
                             f"or 'feature:lexical/tone' (built-in: {sorted(FEATURES)}, or "
                             "'length').")
        if len(set(names)) != len(names):
            raise ValueError(f"The {self.name!r} step names a feature twice: {names}.")
        for n in names:
            if n != "length":
                make_feature(n)  # an unknown name fails here, naming it
        return [n for n in names if n != "length"], "length" in names

    def fit(self, verdicts: pd.DataFrame) -> FeatureControl:
        """Fit one GLM per judge; features that never fire are reported in ``warnings_``."""
        self._names()
        super().fit(verdicts)
        self.warnings_ = [f"{self.name}: feature {n!r} never fires on the fit split of judge "
                          f"{judge!r} (f(response_1) = f(response_2) on every pair); nothing "
                          "was fitted or removed for it"
                          for judge, p in self.params_.items() for n in p["not_fired"]]
        for w in self.warnings_:
            warnings.warn(w, stacklevel=2)
        return self

    def _fit_judge(self, rows: pd.DataFrame, judge: str) -> dict[str, Any]:
        feats, remove_length = self._names()
        ok = rows[~rows["failed"] & np.isfinite(rows["p_1"].to_numpy(float))]
        n_pairs = ok["pair_id"].nunique()
        if n_pairs < MIN_LABELLED_PAIRS:
            raise ValueError(f"The {self.name!r} step needs at least {MIN_LABELLED_PAIRS} judged "
                             f"pairs for judge {judge!r} in the fit split; 'pair_id' gives "
                             f"{n_pairs}. Judge more pairs or raise fit_frac.")
        ok, _, used_gold, n_unlabelled = gold_rows(ok, self.use_gold)
        dfeat = feature_differences(ok, feats, self.name)
        fired = [n for k, n in enumerate(feats) if np.any(dfeat[:, k] != 0)]
        covariates = {n: dfeat[:, feats.index(n)] for n in fired}
        sd = None
        if {"len_1", "len_2"} <= set(ok.columns) or remove_length:
            dlen = _require_lengths(ok, self.name)
            sd = float(np.std(dlen[~ok["pair_id"].duplicated().to_numpy()]))
            if sd > 0:
                covariates["length"] = length_feature(dlen, sd)
            elif remove_length:
                raise ValueError(f"'len_1' - 'len_2' is the same on every pair of judge "
                                 f"{judge!r} in the fit split; the length term of {self.name!r} "
                                 "cannot be estimated.")
            else:
                sd = None
        removed = fired + (["length"] if remove_length else [])
        out: dict[str, Any] = {"features": feats, "not_fired": [n for n in feats
                                                                if n not in fired],
                               "phi": {}, "phi_lc": {}, "phi_lc_se": {}, "sd_len": sd,
                               "length_removed": remove_length, "used_gold": used_gold,
                               "n_fit_rows": len(ok), "n_fit_pairs": int(ok["pair_id"].nunique()),
                               "n_unlabelled_pairs_skipped": n_unlabelled}
        if not removed:
            return out
        design = lc_design(ok, covariates, used_gold, self.model_terms, self.instruction_terms)
        p1 = ok["p_1"].to_numpy(float)
        pen = np.array(design.penalised)
        beta = fit_penalised_logistic(design.x, p1, pen, self.l2)
        ks = [design.names.index(n) for n in removed]
        phi = _removal_vector(design.x, p1, pen, self.l2, beta, ks, self.name, judge)
        clusters = pd.factorize(ok["pair_id"])[0]
        for n, k, ph in zip(removed, ks, phi):
            se = coefficient_se(design.x, p1, beta, pen * self.l2, clusters, k)
            out["phi"][n] = float(ph)
            out["phi_lc"][n] = float(beta[k])
            out["phi_lc_se"][n] = float(se) if np.isfinite(se) else None
        coef = dict(zip(design.names, beta[: len(design.names)].tolist()))
        out.update({"intercept": coef["intercept"], "position": coef.get("position"),
                    "gold": coef.get("gold"), "length_coef": coef.get("length")})
        return out

    def _transform_judge(self, rows: pd.DataFrame, params: dict[str, Any]) -> np.ndarray:
        feats = [n for n in params["features"] if n in params["phi"]]
        cols = [feature_differences(rows, feats, self.name)]
        phis = [params["phi"][n] for n in feats]
        if params.get("length_removed") and "length" in params["phi"]:
            dlen = _require_lengths(rows, self.name)
            cols.append(length_feature(dlen, params["sd_len"])[:, None])
            phis.append(params["phi"]["length"])
        return feature_control(rows["p_1"].to_numpy(float), np.hstack(cols), np.array(phis))


register_parameterised("feature", FeatureControl.from_spec)
