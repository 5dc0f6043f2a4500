"""Length control: the AlpacaEval LC logistic model as a calibrator (Dubois et al. 2024).

The judge's own preference (its p_1, a soft target; no gold needed) is modelled per judge as::

    logit P(response_1 preferred) = c + ψ·s + φ·tanh(Δlen / sd(Δlen))
                                    + γ·logit(y)               # gold, when labels are present
                                    + θ[model_1] - θ[model_2]  # model terms, when known
                                    + η[instruction]           # prompts with several pairs

with Δlen = len_1 - len_2 in characters, sd(Δlen) over the fit split's pairs, s = +1 for order
"12" and -1 for "21" (the first slot's pull on p_1; fitted only when both orders occur: with
one order s is the intercept's column again, and the two would split one effect). θ and η are L2-regularised (``l2``); c, ψ,
φ and γ are not. The controlled preference is the model's prediction with Δlen = 0; as a
calibrator the step removes only the length term from each verdict:
``p_controlled = sigmoid(logit(p_1) - φ·tanh(Δlen / sd))``.

Why gold enters as a covariate: in real data longer answers are often better. Without a quality
term φ would soak up that genuine correlation and the step would punish length that earned its
win; with it, φ measures the judge's length preference *beyond* quality (AlpacaEval's model
terms play the same role). The control is only as good as the gold: a soft label (P(response_1
better)) carries the quality margin and removes the confound; a hard 1/2 label is a noisy proxy
of quality, so part of a genuine quality-length correlation can still load on φ. Without labels
φ is the total length association (recorded as ``used_gold = False``). With some pairs labelled
(at least 20) the model is fitted on the labelled pairs only: an unlabelled pair has no gold
covariate, and scoring it 0 (a tie) would hand its quality-length correlation to φ
(``n_unlabelled_pairs_skipped`` counts them). ``phi_ci`` is a 95% Wald interval for φ from the
cluster-robust (pair) sandwich SE of φ_lc (``phi_lc_se``), carried through the removal root.

φ itself: the LC model's coefficient (``phi_lc``, AlpacaEval's number) is a population-average
effect, attenuated by every quality difference the covariates miss (logistic models are not
collapsible), so subtracting it from each verdict's logit under-corrects. The step therefore
removes ``phi``, the length term whose removal makes the refitted LC model's length coefficient
zero (a one-dimensional root, scipy's brentq); ``phi_lc`` is kept in the fitted parameters.
For hard 0/1 judges put ``temperature`` first: a shifted logit cannot move a clipped 0/1.

>>> length_control(np.array([0.7]), np.array([0.0]), phi=1.0, sd_len=100.0).round(2)
array([0.7])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import brentq, minimize

from judgebench.calibration.base import (
    MIN_LABELLED_PAIRS,
    PerJudgeStep,
    register,
    row_gold,
    sigmoid,
)
from judgebench.probability import GOLD_EPS, PROB_EPS, safe_logit


def gold_covariate(y: np.ndarray) -> np.ndarray:
    """The LC model's quality covariate from gold P(response_1 better); ties give 0.

    logit(clip(y, GOLD_EPS, 1 - GOLD_EPS)): a scaled sign for hard labels, the full quality
    margin for soft ones (a hard label is a noisy proxy of quality, see module doc).

    >>> gold_covariate(np.array([1.0, 0.5])).round(2).tolist()
    [4.6, 0.0]
    """
    return safe_logit(y, GOLD_EPS)


def length_feature(dlen: np.ndarray, sd_len: float) -> np.ndarray:
    """tanh(Δlen / sd(Δlen)): AlpacaEval LC's bounded length term.

    Example:

    >>> length_feature(np.array([-200.0, 0.0, 100.0]), sd_len=100.0).round(3)
    array([-0.964,  0.   ,  0.762])
    """
    return np.tanh(np.asarray(dlen, float) / float(sd_len))


def length_control(p1: np.ndarray, dlen: np.ndarray, phi: float, sd_len: float) -> np.ndarray:
    """Remove the length term from P: sigmoid(logit(p) - φ tanh(Δlen / sd)).

    Example:

    >>> length_control(np.array([0.7, 0.7]), np.array([0.0, 100.0]), phi=1.0, sd_len=100.0).round(3)
    array([0.7  , 0.521])
    """
    return sigmoid(safe_logit(p1) - phi * length_feature(dlen, sd_len))


def fit_penalised_logistic(x: sparse.csr_matrix, y: np.ndarray, penalised: np.ndarray,
                           l2: float, beta0: np.ndarray | None = None) -> np.ndarray:
    """Coefficients minimising sum CE(y, sigmoid(X b)) + l2/2 * ||b[penalised]||^2 (L-BFGS).

    ``y`` may be soft (a judge's probability); ``penalised`` is a boolean mask over columns.

    Example:

    >>> from scipy import sparse
    >>> x = sparse.csr_matrix([[1.0, 0.0], [1.0, 1.0], [1.0, 1.0], [1.0, 0.0]])
    >>> y = np.array([0.6, 0.8, 0.8, 0.6])                      # soft targets
    >>> fit_penalised_logistic(x, y, np.array([False, False]), l2=1.0).round(3).tolist()
    [0.405, 0.981]
    >>> fit_penalised_logistic(x, y, np.array([False, True]), l2=1.0).round(3).tolist()
    [0.766, 0.165]
    """
    y = np.clip(np.asarray(y, float), PROB_EPS, 1 - PROB_EPS)
    pen = np.asarray(penalised, float) * l2

    def loss(beta: np.ndarray) -> tuple[float, np.ndarray]:
        eta = x @ beta
        # log(1 + e^eta) - y eta, computed stably
        nll = np.logaddexp(0.0, eta) - y * eta
        grad = x.T @ (sigmoid(eta) - y)
        return float(nll.sum() + 0.5 * (pen * beta ** 2).sum()), grad + pen * beta

    start = np.zeros(x.shape[1]) if beta0 is None else beta0
    res = minimize(loss, start, jac=True, method="L-BFGS-B",
                   options={"maxiter": 2000, "gtol": 1e-8})
    return res.x


def coefficient_se(x: sparse.csr_matrix, y: np.ndarray, beta: np.ndarray, pen: np.ndarray,
                   clusters: np.ndarray, k: int) -> float:
    """Cluster-robust (sandwich) standard error of coefficient ``k`` of the penalised fit.

    H = Xᵀ diag(p(1-p)) X + diag(pen) is the penalised loss's Hessian; the meat sums the
    score per cluster (a pair's two orders are one cluster): var = ||S H⁻¹ e_k||².

    Example:

    >>> from scipy import sparse
    >>> x = sparse.csr_matrix([[1.0, 0.0], [1.0, 1.0], [1.0, 1.0], [1.0, 0.0]])
    >>> y = np.array([0.5, 0.9, 0.7, 0.4])
    >>> beta = fit_penalised_logistic(x, y, np.array([False, False]), l2=1.0)
    >>> round(coefficient_se(x, y, beta, np.zeros(2), clusters=np.arange(4), k=1), 3)
    0.464
    """
    from scipy.sparse.linalg import spsolve

    p = sigmoid(x @ beta)
    h = (x.T @ sparse.diags(p * (1 - p)) @ x + sparse.diags(pen)).tocsc()
    e = np.zeros(x.shape[1])
    e[k] = 1.0
    v = np.atleast_1d(spsolve(h, e))
    # (n_clusters,): each cluster's score projected on H⁻¹ e_k
    r = (x @ v) * (np.asarray(y, float) - p)
    return float(np.sqrt(np.square(np.bincount(clusters, weights=r)).sum()))


def _refit_length(x: sparse.csr_matrix, z: np.ndarray, penalised: np.ndarray, l2: float,
                  beta0: np.ndarray, k: int, phi: float) -> np.ndarray:
    """The LC model refitted on sigmoid(z - φ x_len), x_len = column ``k`` of ``x``."""
    x_len = x[:, k].toarray().ravel()
    return fit_penalised_logistic(x, sigmoid(z - phi * x_len), penalised, l2, beta0)


def _removal_slope(x: sparse.csr_matrix, p1: np.ndarray, penalised: np.ndarray, l2: float,
                   beta0: np.ndarray, k: int, phi: float, h: float = 0.05) -> float:
    """|g'(φ)| by a central difference (g as in :func:`_removal_phi`)."""
    z = safe_logit(p1)
    up = _refit_length(x, z, penalised, l2, beta0, k, phi + h)[k]
    down = _refit_length(x, z, penalised, l2, beta0, k, phi - h)[k]
    return float(abs(up - down) / (2 * h))


def _removal_phi(x: sparse.csr_matrix, p1: np.ndarray, penalised: np.ndarray, l2: float,
                 beta0: np.ndarray, k: int = 2) -> float:
    """The φ whose removal leaves the LC model with no length term (see module doc).

    Solves g(φ) = 0 where g(φ) is the length coefficient of the LC model refitted on
    sigmoid(logit(p_1) - φ x_len); g(0) is AlpacaEval's φ. Column ``k`` of ``x`` is x_len.
    """
    z = safe_logit(p1)
    start = [beta0]

    def g(phi: float) -> float:
        beta = _refit_length(x, z, penalised, l2, start[0], k, phi)
        start[0] = beta  # warm start: successive φ are close
        return float(beta[k])

    g0 = float(beta0[k])
    if abs(g0) < 1e-10:
        return 0.0
    # g(0) refits from the warm start; its sign, not beta0's, must bracket the root.
    g0 = g(0.0)
    if abs(g0) < 1e-10:
        return 0.0
    hi = 2.0 * g0
    for _ in range(40):  # g falls as φ grows; double until the sign flips
        if np.sign(g(hi)) != np.sign(g0):
            return float(brentq(g, 0.0, hi, xtol=1e-8))
        hi *= 2.0
    raise ValueError(
        f"The 'length' step cannot remove this judge's length term: the refitted length "
        f"coefficient stays {g0:+.3g}-signed for every φ up to {hi:.3g} (the judge's P(response_1) "
        "hardly varies, e.g. after a temperature step flattened a chance-level judge). Drop the "
        "'length' step for this judge, or fit it before 'temperature'.")


def _one_hot_diff(left: pd.Series, right: pd.Series) -> tuple[sparse.csr_matrix, list[str]]:
    """Columns e[left] - e[right] over the names seen on either side (missing -> 0)."""
    names = sorted(set(left.dropna().astype(str)) | set(right.dropna().astype(str)))
    col = {m: i for i, m in enumerate(names)}
    rows, cols, vals = [], [], []
    for i, (a, b) in enumerate(zip(left, right)):
        for m, v in ((a, 1.0), (b, -1.0)):
            if isinstance(m, str) and m in col:
                rows.append(i)
                cols.append(col[m])
                vals.append(v)
    mat = sparse.csr_matrix((vals, (rows, cols)), shape=(len(left), len(names)))
    return mat, names


def _require_lengths(rows: pd.DataFrame, step: str) -> np.ndarray:
    if not {"len_1", "len_2"} <= set(rows.columns):
        raise ValueError(
            f"The {step!r} step needs response lengths in 'len_1' and 'len_2'; the verdicts have "
            "neither. Judge with judgebench (it fills them) or add the lengths in characters.")
    dlen = (pd.to_numeric(rows["len_1"], errors="coerce")
            - pd.to_numeric(rows["len_2"], errors="coerce")).to_numpy(float)
    if not np.isfinite(dlen).all():
        raise ValueError(f"'len_1'/'len_2' are missing or non-numeric on some rows of the "
                         f"{step!r} step's input; fill in every length (characters).")
    return dlen


def gold_rows(ok: pd.DataFrame, use_gold: bool) -> tuple[pd.DataFrame, np.ndarray, bool, int]:
    """The rows the LC model is fitted on: (rows, mask into ``ok``, used_gold, n unlabelled).

    With ``use_gold`` and at least MIN_LABELLED_PAIRS labelled pairs, only labelled rows: an
    unlabelled pair has no gold covariate, and giving it 0 would call it a tie, so a covariate's
    term would absorb the quality correlation on those pairs.

    Example:

    >>> from judgebench.judges.simulated import simulate_verdicts
    >>> v = simulate_verdicts(30, seed=0)
    >>> v = v.assign(label=v["label"].where(~v["pair_id"].isin(["p0", "p1"])))  # 2 unlabelled
    >>> rows, mask, used_gold, n_unlabelled = gold_rows(v, use_gold=True)
    >>> len(rows), used_gold, n_unlabelled
    (56, True, 2)
    """
    y_gold = row_gold(ok)
    labelled = np.isfinite(y_gold)
    used_gold = bool(use_gold and ok.loc[labelled, "pair_id"].nunique() >= MIN_LABELLED_PAIRS)
    if used_gold and not labelled.all():
        return ok[labelled], labelled, True, int(ok.loc[~labelled, "pair_id"].nunique())
    return ok, np.ones(len(ok), dtype=bool), used_gold, 0


@dataclass
class LCDesign:
    """The LC model's design: ``x`` (rows, columns), the unpenalised columns' ``names``
    (intercept, [position], the covariates, [gold]), then ``models`` and ``n_instr``
    penalised columns; ``penalised`` marks each column.

    Example:

    >>> from judgebench.judges.simulated import simulate_verdicts
    >>> v = simulate_verdicts(30, seed=0)
    >>> d = lc_design(v, {"length": length_feature(v["len_1"] - v["len_2"], 300.0)}, used_gold=True)
    >>> d.names, d.models, d.x.shape, sum(d.penalised)
    (['intercept', 'position', 'length', 'gold'], ['model-a', 'model-b', 'model-c'], (60, 7), 3)
    """

    x: sparse.csr_matrix
    names: list[str]
    penalised: list[bool]
    models: list[str]
    n_instr: int


def lc_design(ok: pd.DataFrame, covariates: dict[str, np.ndarray], used_gold: bool,
              model_terms: bool = True, instruction_terms: bool = True) -> LCDesign:
    """The LC GLM's design on ``ok`` with the named covariate columns (length, features...).

    Shared by length control and feature control (``calibration/features.py``).

    Example:

    >>> from judgebench.judges.simulated import simulate_verdicts
    >>> v = simulate_verdicts(30, seed=0, orders=("12",))             # one order: no position
    >>> x_len = length_feature(v["len_1"] - v["len_2"], 300.0)
    >>> d = lc_design(v, {"length": x_len}, used_gold=False, model_terms=False)
    >>> d.names, d.x.shape
    (['intercept', 'length'], (30, 2))
    """
    # With one presentation order s is constant: the same column as the intercept, and
    # unpenalised, so the fit would split the intercept between them. Not fitted then.
    both_orders = ok["order"].astype(str).nunique() > 1
    names = ["intercept", "position"] if both_orders else ["intercept"]
    blocks = [np.ones(len(ok))]
    if both_orders:
        blocks.append(np.where(ok["order"].to_numpy() == "12", 1.0, -1.0))
    for name, column in covariates.items():
        names.append(name)
        blocks.append(np.asarray(column, float))
    if used_gold:
        names.append("gold")
        blocks.append(gold_covariate(row_gold(ok)))
    x = sparse.csr_matrix(np.column_stack(blocks))
    penalised = [False] * len(names)
    models: list[str] = []
    if model_terms and {"model_1", "model_2"} <= set(ok.columns):
        m, models = _one_hot_diff(ok["model_1"], ok["model_2"])
        if len(models) > 1:
            x = sparse.hstack([x, m], format="csr")
            penalised += [True] * len(models)
        else:
            models = []
    n_instr = 0
    if instruction_terms and "prompt" in ok.columns:
        per_prompt = ok.groupby("prompt")["pair_id"].transform("nunique")
        shared = ok["prompt"].where(per_prompt >= 2)
        if shared.notna().any():
            codes, uniq = pd.factorize(shared)
            keep = codes >= 0
            inst = sparse.csr_matrix((np.ones(keep.sum()), (np.flatnonzero(keep), codes[keep])),
                                     shape=(len(ok), len(uniq)))
            x = sparse.hstack([x, inst], format="csr")
            penalised += [True] * len(uniq)
            n_instr = len(uniq)
    return LCDesign(x, names, penalised, models, n_instr)


@register("length")
class LengthControl(PerJudgeStep):
    """Remove a judge's length preference (AlpacaEval LC's φ term) from its p_1.

    Example:

    >>> from judgebench.judges.simulated import simulate_verdicts
    >>> v = simulate_verdicts(60, seed=0, verbosity=1.0)
    >>> step = LengthControl().fit(v)
    >>> fit = step.params_["simulated"]
    >>> round(fit["phi"], 3), round(fit["phi_lc"], 3), fit["used_gold"]
    (1.225, 0.88, True)
    >>> step.transform(v)[["p_1_raw", "p_1"]].round(3).values[:2].tolist()
    [[0.773, 0.832], [0.425, 0.44]]
    """

    name = "length"

    def __init__(self, use_gold: bool = True, model_terms: bool = True,
                 instruction_terms: bool = True, l2: float = 1.0):
        self.use_gold = use_gold
        self.model_terms = model_terms
        self.instruction_terms = instruction_terms
        self.l2 = l2

    def _fit_judge(self, rows: pd.DataFrame, judge: str) -> dict[str, Any]:
        ok = rows[~rows["failed"] & np.isfinite(rows["p_1"].to_numpy(float))]
        if ok.empty:
            raise ValueError(f"p_1 is NaN on every row of judge {judge!r} in the fit split (all "
                             "judgments failed); the 'length' step has nothing to fit.")
        dlen = _require_lengths(ok, self.name)
        n_pairs = ok["pair_id"].nunique()
        if n_pairs < MIN_LABELLED_PAIRS:
            raise ValueError(f"The 'length' step needs at least {MIN_LABELLED_PAIRS} judged "
                             f"pairs for judge {judge!r} in the fit split; 'pair_id' gives "
                             f"{n_pairs}. Judge more pairs or raise fit_frac.")
        sd = float(np.std(dlen[~ok["pair_id"].duplicated().to_numpy()]))
        if not sd > 0:
            raise ValueError(f"'len_1' - 'len_2' is the same on every pair of judge {judge!r} "
                             "in the fit split; a length preference cannot be estimated.")
        ok, keep, used_gold, n_unlabelled = gold_rows(ok, self.use_gold)
        dlen = dlen[keep]
        design = lc_design(ok, {"length": length_feature(dlen, sd)}, used_gold,
                           self.model_terms, self.instruction_terms)
        x, names, models, n_instr = design.x, design.names, design.models, design.n_instr
        penalised = design.penalised
        p1 = ok["p_1"].to_numpy(float)
        pen = np.array(penalised)
        k_len = names.index("length")
        beta = fit_penalised_logistic(x, p1, pen, self.l2)
        phi = _removal_phi(x, p1, pen, self.l2, beta, k_len)
        clusters = pd.factorize(ok["pair_id"])[0]
        se_lc = coefficient_se(x, p1, beta, pen * self.l2, clusters, k_len)
        # The removal φ moves with φ_lc at the rate 1 / |g'(φ)| (g as in _removal_phi).
        slope = _removal_slope(x, p1, pen, self.l2, beta, k_len, phi)
        se = se_lc / slope if slope > 0 else float("nan")
        coef = dict(zip(names, beta[: len(names)].tolist()))
        return {
            "phi": phi, "phi_lc": coef["length"],
            # None, not NaN, where the SE is undefined: the params are saved as strict JSON
            "phi_ci": [phi - 1.96 * se, phi + 1.96 * se] if np.isfinite(se) else None,
            "phi_lc_se": se_lc if np.isfinite(se_lc) else None, "sd_len": sd, "intercept": coef["intercept"],
            "position": coef.get("position"), "gold": coef.get("gold"), "used_gold": used_gold,
            "model_terms": dict(zip(models, beta[len(names): len(names) + len(models)].tolist())),
            "n_instruction_terms": n_instr, "n_fit_rows": len(ok),
            "n_fit_pairs": int(ok["pair_id"].nunique()), "n_unlabelled_pairs_skipped": n_unlabelled,
        }

    def _transform_judge(self, rows: pd.DataFrame, params: dict[str, Any]) -> np.ndarray:
        dlen = _require_lengths(rows, self.name)
        return length_control(rows["p_1"].to_numpy(float), dlen, params["phi"], params["sd_len"])

    def controlled_preference(self, verdicts: pd.DataFrame) -> np.ndarray:
        """The fitted model's P(response_1 preferred) at Δlen = 0 and no position pull.

        Uses the intercept, model terms (unknown models count 0), the gold term where the step
        used gold and the row is labelled; instruction terms are averaged out (0). Averaged per
        model this is an AlpacaEval-style length-controlled win rate.
        """
        self.check_fitted()
        out = np.full(len(verdicts), np.nan)
        y = row_gold(verdicts)
        for k, (judge, row) in enumerate(zip(verdicts["judge"].astype(str),
                                             verdicts.itertuples(index=False))):
            params = self.params_.get(judge)
            if params is None:
                raise ValueError(f"The 'length' step has no fit for judge {judge!r}; fit it "
                                 "on verdicts from that judge.")
            eta = params["intercept"]
            terms = params["model_terms"]
            eta += terms.get(str(getattr(row, "model_1", None)), 0.0)
            eta -= terms.get(str(getattr(row, "model_2", None)), 0.0)
            if params["used_gold"] and np.isfinite(y[k]):
                eta += params["gold"] * float(gold_covariate(np.array([y[k]]))[0])
            out[k] = sigmoid(eta)
        return out
