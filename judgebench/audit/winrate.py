"""Win rates against a baseline: raw, and length-controlled with AlpacaEval's GLM.

Raw win rate (AlpacaEval's ``win_rate``): 100 · mean over pairs of P(model's answer wins),
ties 0.5, failed verdicts left out, both orders averaged within a pair; its 95% interval is the
pair bootstrap of :mod:`judgebench.stats`.

Length-controlled win rate (Dubois et al. 2024, "Length-Controlled AlpacaEval"), fitted per
(judge, model) on that model's verdicts against the baseline::

    logit P(model wins) = θ + φ·tanh(Δlen / sd(Δlen)) + ψ·γ_x  [+ ρ·s]

with Δlen = len(model's answer) − len(baseline's) in characters and sd its sample standard
deviation over the model's verdicts, γ_x a given difficulty of instruction x (AlpacaEval ships
one estimated on its leaderboard; pass yours with ``instruction_difficulty``, or leave it out
and the term goes, AlpacaEval's ``length_controlled_minimal``), and no separate intercept: θ
*is* the model term. s = +1 when the model's answer was shown first, −1 when second; ρ is fitted
only when both presentation orders occur (with one order s is a constant, not estimable beside
θ, and is left out). The soft target is the judge's probability. As in AlpacaEval the fit is an
L1-penalised logistic regression, ``C·Σ CE + ||β||₁``, with C chosen from 10 values in
[1e-4, 1e4] by 5-fold cross-validated log loss grouped by pair. LC = 100 · mean over the model's
pairs of sigmoid(θ + ψ·γ_x): the prediction at Δlen = 0 (and s = 0).

Regularisation to the baseline (AlpacaEval's ``length_controlled_v1``): verdicts of the baseline
against edited copies of itself (e.g. a verbose and a concise version: ``baseline_variants``)
join every model's fit with θ = 0 and weight λ / (number of variants), pulling φ and ψ towards
what they are for the baseline itself.

>>> wr = win_rates(verdicts, baseline="gpt4", length_control=True, seed=0)  # doctest: +SKIP
>>> wr[["model", "win_rate", "lc_win_rate"]]                                  # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from judgebench.probability import CV_LOSS_EPS
from judgebench.stats import bootstrap_ci, weighted_mean

#: AlpacaEval's grid of inverse penalties (LogisticRegressionCV's default Cs=10).
C_GRID = np.logspace(-4, 4, 10)
#: Folds of the cross-validation that picks C.
N_FOLDS = 5


class LCWarning(UserWarning):
    """The length-controlled win rate is far from the raw one (AlpacaEval's GLM warning).

    Example:

    >>> import warnings
    >>> dlen = np.linspace(-100, 500, 10); p = 1 / (1 + np.exp(-dlen / 100))  # the longer wins
    >>> v = pd.DataFrame({"pair_id": range(10), "judge": "j", "order": "12", "p_first": p, "p_1": p,
    ...                   "failed": False, "model_1": "m", "model_2": "base", "len_1": 300 + dlen,
    ...                   "len_2": 300})
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     wr = win_rates(v, "base", seed=0, length_control=True, n_boot=0)
    >>> caught[0].category.__name__, wr[["win_rate", "lc_win_rate"]].round(1).values.tolist()
    ('LCWarning', [[76.6, 51.6]])
    """


@dataclass(frozen=True)
class LCFit:
    """A fitted LC GLM: coefficients by name (``model``, ``length``, ``difficulty``,
    ``position``), the chosen C and the standard deviation that scales Δlen.

    Example:

    >>> fit = LCFit(coef={"length": 0.8, "model": 0.0}, C=1.0, sd_len=120.0)
    >>> lc_predict(fit, pd.DataFrame({"pair_id": ["a", "b"]}))   # θ = 0: an even model
    50.0
    """

    coef: dict[str, float]
    C: float
    sd_len: float


# ---------------------------------------------------------------------------------------------
# The GLM on arrays


def fit_l1_logistic(x: np.ndarray, y: np.ndarray, C: float,
                    sample_weight: np.ndarray | None = None, seed_draw: int = 0) -> np.ndarray:
    """β minimising ``C · Σ w·CE(y, sigmoid(xβ)) + ||β||₁`` (no intercept; y may be soft).

    Solved by liblinear (scikit-learn), AlpacaEval's solver, on the soft-label expansion: each
    row once as a win with weight w·y and once as a loss with weight w·(1 − y). liblinear stops
    at a tolerance of 1e-4, and the cross-validation scores of neighbouring C often differ by
    less than that, so the same solver (same seed) is what makes the chosen C the same.
    ``seed_draw``: liblinear's seed is the ``seed_draw``-th draw from RandomState(123), as
    along LogisticRegressionCV's path (one draw per C); a plain fit uses the first.

    >>> x = np.array([[1.0], [1.0]]); y = np.array([0.75, 0.75])
    >>> float(np.round(fit_l1_logistic(x, y, C=1e4)[0], 2))   # logit(0.75) = 1.10
    1.1
    """
    import sklearn
    from sklearn.linear_model import LogisticRegression

    x = np.asarray(x, float)
    y = np.asarray(y, float)
    w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, float)
    # (2n, k): wins first, then losses
    x2 = np.vstack([x, x])
    t2 = np.concatenate([np.ones(len(y)), np.zeros(len(y))])
    w2 = np.concatenate([w * y, w * (1.0 - y)])
    # scikit-learn 1.8 deprecated penalty= for l1_ratio=; older versions need penalty="l1"
    new_api = tuple(int(p) for p in sklearn.__version__.split(".")[:2]) >= (1, 8)
    l1 = {"l1_ratio": 1.0} if new_api else {"penalty": "l1"}
    rs = np.random.RandomState(123)
    for _ in range(seed_draw):
        rs.randint(np.iinfo("i").max)
    model = LogisticRegression(C=C, solver="liblinear", fit_intercept=False, random_state=rs,
                               **l1)
    model.fit(x2, t2, sample_weight=w2)
    return model.coef_[0].copy()


def fit_lc_glm(x: np.ndarray, y: np.ndarray, groups: np.ndarray,
               sample_weight: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """Fit the LC GLM with C picked by grouped 5-fold CV (AlpacaEval's LogisticRegressionCV).

    Folds are scikit-learn's GroupKFold over the soft-label expansion (a row's win and loss
    copies stay together); each fold's score is the mean of w·CE(y, p) over its held-out
    copies; the C with the lowest total over folds wins (the smallest C on a tie), then β is
    refitted on every row. Returns (β, C).

    Example:

    >>> z = np.tanh(np.linspace(-2, 2, 10))                       # tanh(Δlen / sd), 10 pairs
    >>> x, y = np.column_stack([z, np.ones(10)]), 1 / (1 + np.exp(-(1.5 * z + 0.5)))
    >>> beta, C = fit_lc_glm(x, y, groups=np.arange(10))
    >>> beta.round(1).tolist(), C
    ([1.5, 0.5], 10000.0)
    """
    from sklearn.model_selection import GroupKFold

    w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, float)
    n_groups = len(np.unique(groups))
    if n_groups < N_FOLDS:
        raise ValueError(f"The LC win rate needs at least {N_FOLDS} judged pairs per model to "
                         f"cross-validate its penalty; got {n_groups}.")
    n = len(y)
    folds = GroupKFold(n_splits=N_FOLDS).split(np.zeros(2 * n), None,
                                                np.concatenate([groups, groups]))
    # a fold over the expansion, as row indices of the original n rows (each copy once)
    folds = [(np.unique(tr % n), np.unique(te % n)) for tr, te in folds]
    scores = np.zeros(len(C_GRID))
    for j, c in enumerate(C_GRID):
        for train, test in folds:
            beta = fit_l1_logistic(x[train], y[train], c, w[train], seed_draw=j)
            p = np.clip(_sigmoid(x[test] @ beta), CV_LOSS_EPS, 1 - CV_LOSS_EPS)
            ce = -(y[test] * np.log(p) + (1 - y[test]) * np.log(1 - p))
            scores[j] += float(np.mean(w[test] * ce))
    best = float(C_GRID[int(np.argmin(scores))])
    return fit_l1_logistic(x, y, best, w), best


def is_extreme_change(raw: float, lc: float, abs_diff: float = 10.0,
                      rel_diff: float = 4.0) -> bool:
    """AlpacaEval's warning rule: LC below min(raw − raw/4, raw − 10) or above
    max(raw + (100 − raw)/4, raw + 10) (win rates in percent).

    >>> is_extreme_change(20.0, 9.0), is_extreme_change(20.0, 15.0)
    (True, False)
    """
    too_small = lc < min(raw - raw / rel_diff, raw - abs_diff)
    too_large = lc > max(raw + (100 - raw) / rel_diff, raw + abs_diff)
    return bool(too_small or too_large)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -np.asarray(z, float)))


# ---------------------------------------------------------------------------------------------
# Verdict tables -> per-model rows


def load_instruction_difficulty(path: str | Path) -> pd.Series:
    """γ_x by prompt from a CSV/JSONL/Parquet table with ``prompt`` (or ``instruction``) and
    ``difficulty`` (or ``instruction_difficulty``) columns.

    >>> load_instruction_difficulty("difficulty.csv")["What is 2+2?"]  # doctest: +SKIP
    -1.3
    """
    from judgebench.verdicts import load_table

    table = load_table(path)
    key = next((c for c in ("prompt", "instruction") if c in table.columns), None)
    val = next((c for c in ("difficulty", "instruction_difficulty") if c in table.columns), None)
    if key is None or val is None:
        raise ValueError(f"The instruction difficulty table {str(path)!r} needs a 'prompt' (or "
                         "'instruction') column and a 'difficulty' (or 'instruction_difficulty')"
                         f" column; it has {list(table.columns)}. Rename the columns.")
    gamma = pd.to_numeric(table[val], errors="coerce")
    bad = gamma.isna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(f"Column {val!r} of {str(path)!r} is not a number on row {i} "
                         f"({table[val].iloc[i]!r}); give every instruction a difficulty.")
    return pd.Series(gamma.to_numpy(float), index=table[key].astype(str)).groupby(level=0).first()


def _model_rows(verdicts: pd.DataFrame, model: str, baseline: str) -> pd.DataFrame:
    """The model's verdicts against the baseline, reoriented: q = P(model wins), Δlen, s."""
    m1, m2 = verdicts["model_1"].astype(str), verdicts["model_2"].astype(str)
    first = (m1 == model) & (m2 == baseline)
    rows = verdicts[first | ((m2 == model) & (m1 == baseline))]
    is_1 = first[rows.index].to_numpy()
    p1 = np.where(rows["failed"].to_numpy(bool), np.nan,
                  pd.to_numeric(rows["p_1"], errors="coerce").to_numpy(float))
    len_1, len_2 = _lengths(rows)
    shown_first = (rows["order"].astype(str).to_numpy() == "12") == is_1
    return pd.DataFrame({
        "judge": rows["judge"].astype(str).to_numpy(),
        "pair_id": rows["pair_id"].astype(str).to_numpy(),
        "prompt": rows["prompt"].astype(str).to_numpy() if "prompt" in rows else None,
        "q": np.where(is_1, p1, 1.0 - p1),
        "dlen": np.where(is_1, len_1 - len_2, len_2 - len_1),
        "s": np.where(shown_first, 1.0, -1.0),
        "order_known": (rows["order_known"].fillna(True).astype(bool).to_numpy()
                        if "order_known" in rows else True),
    })


def _lengths(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Answer lengths in characters: from the texts where present, else len_1/len_2."""
    out = []
    for k in ("1", "2"):
        if f"response_{k}" in rows:
            out.append(rows[f"response_{k}"].map(
                lambda t: len(t) if isinstance(t, str) else np.nan).to_numpy(float))
        elif f"len_{k}" in rows:
            out.append(pd.to_numeric(rows[f"len_{k}"], errors="coerce").to_numpy(float))
        else:
            raise ValueError("The LC win rate needs the answers' lengths: the verdicts have "
                             f"neither 'response_{k}' nor 'len_{k}'. Keep the texts or add "
                             "len_1/len_2 in characters.")
    return out[0], out[1]


def _design(rows: pd.DataFrame, gamma: pd.Series | None, sd: float,
            position: bool, model_term: float) -> tuple[np.ndarray, list[str]]:
    # AlpacaEval's column order (patsy's): length, difficulty, model; liblinear's coordinate
    # descent visits columns in a seeded order, so the order matters at its tolerance.
    names = ["length"]
    cols = [np.tanh(rows["dlen"].to_numpy(float) / sd)]
    if gamma is not None:
        names.append("difficulty")
        cols.append(rows["gamma"].to_numpy(float))
    names.append("model")
    cols.append(np.full(len(rows), model_term))
    if position:
        names.append("position")
        cols.append(rows["s"].to_numpy(float))
    return np.column_stack(cols), names


def _attach_difficulty(rows: pd.DataFrame, gamma: pd.Series, model: str) -> pd.DataFrame:
    if rows["prompt"].isna().all():
        raise ValueError("instruction_difficulty is keyed by prompt, but the verdicts have no "
                         "'prompt' column; keep the prompts in the verdict table.")
    g = rows["prompt"].map(gamma)
    missing = g.isna().to_numpy()
    if missing.any():
        i = int(np.flatnonzero(missing)[0])
        raise ValueError(f"Prompt {rows['prompt'].iloc[i][:60]!r} (pair_id "
                         f"{rows['pair_id'].iloc[i]!r}, model {model!r}) has no entry in the "
                         f"instruction difficulty table ({int(missing.sum())} prompts lack one);"
                         " add them, or drop instruction_difficulty to fit without the term.")
    return rows.assign(gamma=g.to_numpy(float))


def _block(rows: pd.DataFrame, gamma: pd.Series | None, sd: float, position: bool,
           model_term: float, prefix: str, weight: float) -> tuple:
    """The judged rows of one comparison as design rows, targets, pair keys and weights."""
    ok = rows[np.isfinite(rows["q"].to_numpy(float))]
    x, _ = _design(ok, gamma, sd, position, model_term)
    return (x, ok["q"].to_numpy(float), (prefix + ok["pair_id"]).to_numpy(),
            np.full(len(ok), weight))


def lc_fit(rows: pd.DataFrame, gamma: pd.Series | None = None,
           variants: Sequence[pd.DataFrame] = (), lam: float | None = None) -> LCFit:
    """Fit the LC GLM on one model's reoriented rows (see :func:`win_rates`).

    ``variants``: the baseline-vs-variant rows for regularisation, weighted λ / len(variants).

    Example:

    >>> dlen = np.linspace(-200, 200, 10)
    >>> rows = pd.DataFrame({"pair_id": [f"p{i}" for i in range(10)], "dlen": dlen,
    ...                      "q": 1 / (1 + np.exp(-(0.4 + np.tanh(dlen / 100)))), "s": 1.0,
    ...                      "order_known": True})
    >>> fit = lc_fit(rows)   # one order only, so no position term
    >>> {k: round(v, 2) for k, v in fit.coef.items()}, round(lc_predict(fit, rows), 1)
    ({'length': 1.13, 'model': 0.4}, 59.8)
    """
    sd = float(np.std(rows["dlen"].to_numpy(float), ddof=1))
    if not sd > 0:
        raise ValueError(f"Δlen is the same on every verdict of model {rows.attrs['model']!r}; "
                         "a length term cannot be fitted. Drop --length-control for it.")
    position = bool(rows["order_known"].all() and rows["s"].nunique() > 1)
    # Blocks of (x, y, pair key, weight); the variants first, as AlpacaEval stacks them, so
    # that the cross-validation folds (assigned by group label) are the same.
    blocks = []
    for k, v in enumerate(variants if lam else ()):
        v_sd = float(np.std(v["dlen"].to_numpy(float), ddof=1))
        blocks.append(_block(v, gamma, v_sd, position, 0.0, f"variant{k}/", lam / len(variants)))
    blocks.append(_block(rows, gamma, sd, position, 1.0, "", 1.0))
    x = np.vstack([b[0] for b in blocks])
    y = np.concatenate([b[1] for b in blocks])
    groups = pd.factorize(np.concatenate([b[2] for b in blocks]))[0]
    w = np.concatenate([b[3] for b in blocks])
    names = _design(rows.iloc[:1], gamma, sd, position, 1.0)[1]
    beta, c = fit_lc_glm(x, y, groups, w)
    return LCFit(coef=dict(zip(names, beta.tolist())), C=c, sd_len=sd)


def lc_predict(fit: LCFit, rows: pd.DataFrame) -> float:
    """LC win rate in percent: mean over the rows' pairs of sigmoid(θ + ψ·γ_x).

    Example:

    >>> fit = LCFit(coef={"length": 0.8, "model": np.log(3)}, C=1.0, sd_len=120.0)
    >>> round(lc_predict(fit, pd.DataFrame({"pair_id": ["a", "a", "b"]})), 1)  # per pair, not row
    75.0
    """
    pairs = rows.drop_duplicates("pair_id")
    eta = np.full(len(pairs), fit.coef["model"])
    if "difficulty" in fit.coef:
        eta = eta + fit.coef["difficulty"] * pairs["gamma"].to_numpy(float)
    return float(100.0 * _sigmoid(eta).mean())


def win_rates(
    verdicts: pd.DataFrame,
    baseline: str,
    *,
    seed: int,
    length_control: bool = False,
    instruction_difficulty: pd.Series | str | Path | None = None,
    regularize_to_baseline: float | None = None,
    baseline_variants: Sequence[str] = (),
    n_boot: int = 1000,
    level: float = 0.95,
) -> pd.DataFrame:
    """Per (judge, model): win rate vs ``baseline`` with a pair-bootstrap CI, and the LC one.

    Columns: judge, model, baseline, n_pairs, n_failed, win_rate, ci_low, ci_high (percent);
    with ``length_control``: lc_win_rate, lc_model, lc_length (φ), lc_difficulty (ψ, when γ is
    given), lc_position (when fitted), lc_C, lc_far_from_raw (AlpacaEval's warning rule; an
    :class:`LCWarning` is also issued). ``instruction_difficulty``: γ by prompt (a Series or a
    table path, see :func:`load_instruction_difficulty`). ``regularize_to_baseline``: λ, with
    ``baseline_variants`` naming the baseline's edited copies in ``model_1``/``model_2``.

    >>> win_rates(v, "gpt4", seed=0).set_index("model")["win_rate"]  # doctest: +SKIP
    """
    need = ["pair_id", "judge", "order", "p_1", "failed", "model_1", "model_2"]
    missing = [c for c in need if c not in verdicts.columns]
    if missing:
        raise ValueError(f"Win rates need column(s) {missing} in the verdicts (model_1/model_2 "
                         "name who wrote each response); import the log with its generators.")
    names = set(verdicts["model_1"].dropna().astype(str)) | set(
        verdicts["model_2"].dropna().astype(str))
    if baseline not in names:
        raise ValueError(f"Baseline {baseline!r} appears in neither 'model_1' nor 'model_2'; "
                         f"models in the verdicts: {sorted(names)[:20]}.")
    if regularize_to_baseline and not baseline_variants:
        raise ValueError("regularize_to_baseline needs baseline_variants: the model names of "
                         "the baseline's edited copies judged against it (e.g. verbose, concise).")
    unknown = sorted(set(baseline_variants) - names)
    if unknown:
        raise ValueError(f"Baseline variant(s) {unknown} appear in neither 'model_1' nor "
                         "'model_2'; name models present in the verdicts.")
    gamma = (instruction_difficulty if isinstance(instruction_difficulty, pd.Series) or
             instruction_difficulty is None else load_instruction_difficulty(
                 instruction_difficulty))
    out = []
    for model in sorted(names - {baseline} - set(baseline_variants)):
        rows_all = _model_rows(verdicts, model, baseline)
        for judge, rows in rows_all.groupby("judge", sort=True):
            rows = rows.reset_index(drop=True)
            rows.attrs["model"] = model
            out.append(_one(rows, judge, model, baseline, gamma, verdicts, baseline_variants,
                            regularize_to_baseline, length_control, n_boot, seed, level))
    return pd.DataFrame(out)


def _one(rows, judge, model, baseline, gamma, verdicts, variant_names, lam, length_control,
         n_boot, seed, level) -> dict:
    # (n_pairs,): P(model wins) per pair, both orders averaged; NaN where every order failed
    q = rows.groupby("pair_id", sort=False)["q"].mean().to_numpy(float)
    est = bootstrap_ci(weighted_mean, q * 100.0, n_boot=n_boot, seed=seed, level=level)
    rec = {"judge": judge, "model": model, "baseline": baseline, "n_pairs": len(q),
           "n_failed": int(np.isnan(rows["q"]).sum()), "win_rate": est.estimate,
           "ci_low": est.ci_low, "ci_high": est.ci_high}
    if not length_control:
        return rec
    if gamma is not None:
        rows = _attach_difficulty(rows, gamma, model)
    variants = []
    for name in variant_names if lam else ():
        v = _model_rows(verdicts, name, baseline)
        v = v[v["judge"] == judge].reset_index(drop=True)
        v.attrs["model"] = name
        variants.append(_attach_difficulty(v, gamma, name) if gamma is not None else v)
    fit = lc_fit(rows, gamma, variants, lam)
    lc = lc_predict(fit, rows)
    far = is_extreme_change(est.estimate, lc)
    if far:
        # AlpacaEval's own wording, so a user who knows it recognises it
        warnings.warn(f"Length controlled win rate is very different from the raw one: {lc:.1f}%"
                      f" vs {est.estimate:.1f}%. This might be a sign of failure of the GLM "
                      f"(judge {judge!r}, model {model!r}).", LCWarning, stacklevel=3)
    rec.update({"lc_win_rate": lc, **{f"lc_{k}": v for k, v in fit.coef.items()},
                "lc_C": fit.C, "lc_far_from_raw": far})
    return rec
