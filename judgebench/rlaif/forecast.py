"""The forecast: predict a policy's drift from the judge's audit of its iteration-0 candidates.

Before any training, sample the config's iteration-0 candidates, judge and label them as the
loop would (``run_loop`` with ``n_iterations = 0``), and read the **label-level bias** the
trainer would see: the share of decisive labels that pick the longer response (or the response
with more of a feature), minus the share an unbiased judge would give on the same pairs (the
verifier's preference, gold ties split evenly). A dose-response curve fitted on finished study
cells turns it into the policy's drift (and gold change) after N iterations, with a prediction
interval. Decisions and validation: ``docs/design/forecast.md``.

Layers, as elsewhere in judgebench: pure statistics on a label table
(:func:`label_statistics`); one row per (cell, family, horizon) read from study folders
(:func:`study_table`); dose-response forms as small estimators (:class:`SaturatingDoseResponse`,
:class:`LinearDoseResponse`); a :class:`ForecastModel` holding one fit per (family, target,
horizon), saved as JSON; and :func:`forecast` for a config. Validation (leave one cell out) and
refitting on finished studies: ``rlaif/forecast_validation.py``.

>>> import numpy as np
>>> x = np.linspace(-0.1, 0.5, 12)
>>> fit = SaturatingDoseResponse().fit(x, -5 + 70 * np.tanh(4 * x))
>>> [round(float(v), 1) for v in fit.params_]
[-5.0, 70.0, 4.0]
"""

from __future__ import annotations

import json
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize as sopt
from scipy import stats as sps

#: The model shipped with judgebench (fitted on the committed SmolLM2 study).
BUNDLED_MODEL = Path(str(resources.files("judgebench.data").joinpath("forecast.json")))
#: Config fields a model is fitted for: a value outside the training cells' is an extrapolation.
DOMAIN_KEYS = ("policy.model", "policy.lora", "tasks.path", "tasks.kinds",
               "tasks.n_train_prompts", "sampling.k", "sampling.max_new_tokens",
               "sampling.temperature", "labeling.orders", "labeling.pairing",
               "labeling.soft_labels", "optimize.algorithm", "optimize.learning_rate",
               "optimize.beta", "optimize.epochs")
#: What a fit predicts: (name, metrics.jsonl column; "{f}" = the feature of the family).
TARGETS = {"drift": ("length_drift_chars", "feature_rate_change_{f}"),
           "gold_change": ("gold_change", "gold_change")}


# ---------------------------------------------------------------------------------------------
# Label-level statistics (what the trainer sees)


def _prefers(p: np.ndarray, more: np.ndarray, gold: np.ndarray) -> tuple[float, float, int]:
    """(judge share, unbiased share, n) over pairs with ``more != 0`` and a decisive label.

    ``more``: sign of f(response_1) - f(response_2); ``gold``: P(response_1 is better) by the
    verifier (1, 0, 0.5 on a tie, NaN without gold). The unbiased share counts a gold tie 1/2
    and is 0.5 when no pair has gold.
    """
    use = (more != 0) & np.isfinite(p) & (p != 0.5)
    if not use.any():
        return float("nan"), float("nan"), 0
    share = float(np.mean((p[use] > 0.5) == (more[use] > 0)))
    g, m = gold[use], more[use]
    ok = np.isfinite(g)
    ref = np.where(g[ok] == 0.5, 0.5, ((g[ok] > 0.5) == (m[ok] > 0)).astype(float))
    return share, float(ref.mean()) if ref.size else 0.5, int(use.sum())


def label_statistics(labels: pd.DataFrame, features: Sequence[str] = ()) -> dict[str, Any]:
    """Label-level bias of one iteration's labels (``iter-NNN/labels.parquet`` or a cell's).

    Keys: ``share_length`` (the loop's ``label_prefers_longer``), ``reference_length`` (the
    unbiased share on the same pairs), ``x_length`` = share - reference, ``n_length``; the same
    with ``_<f>`` for each feature f; ``position_label_share`` (2·|picks-first - 0.5| for
    one-order labels, else None: both orders cannot carry a constant offset into a label).

    >>> lab = pd.DataFrame({"p_judge": [0.9, 0.8, 0.3, 0.6], "len_1": [9, 9, 1, 9],
    ...                     "len_2": [1, 1, 9, 1], "label": [0.5, 0.5, 0.5, 0.5]})
    >>> s = label_statistics(lab)
    >>> s["share_length"], s["x_length"]
    (1.0, 0.5)
    """
    p = labels["p_judge"].to_numpy(float)
    gold = labels["label"].to_numpy(float) if "label" in labels else np.full(len(p), np.nan)
    out: dict[str, Any] = {"n_labels": int(len(labels))}
    more = np.sign(labels["len_1"].to_numpy(float) - labels["len_2"].to_numpy(float))
    families = {"length": more}
    if features:
        from judgebench.judges.features import detect

        for name in features:
            families[name] = np.sign(detect(labels["response_1"].tolist(), name)
                                     - detect(labels["response_2"].tolist(), name))
    for name, sign in families.items():
        share, ref, n = _prefers(p, sign, gold)
        out.update({f"share_{name}": share, f"reference_{name}": ref,
                    f"x_{name}": share - ref, f"n_{name}": n})
    # One order per pair: p12 xor p21 is finite (the loop's position channel, propagation.py).
    p12 = labels["p12"].to_numpy(float) if "p12" in labels else np.full(len(p), np.nan)
    p21 = labels["p21"].to_numpy(float) if "p21" in labels else np.full(len(p), np.nan)
    one = np.isfinite(p12) ^ np.isfinite(p21)
    out["position_label_share"] = None
    if one.any():
        p_first = np.where(np.isfinite(p12), p12, 1.0 - p21)[one]
        decisive = p_first[p_first != 0.5]
        if decisive.size:
            out["position_label_share"] = 2.0 * abs(float(np.mean(decisive > 0.5)) - 0.5)
    return out


# ---------------------------------------------------------------------------------------------
# Study cells -> one row per (cell, family, horizon)


def _family(values: dict[str, str]) -> tuple[str, float]:
    """(bias family, injected dose) of a cell from its grid values (verbosity -> length)."""
    from judgebench.judges.features import FEATURES

    for key, value in values.items():
        name = key.split(".", 1)[-1]
        if key == "judge.verbosity" or (key.startswith("judge.") and name in FEATURES):
            try:
                dose = float(value)
            except ValueError:
                dose = float("nan")
            return ("length" if name == "verbosity" else name), dose
    return "length", float("nan")


def _domain_values(cfg: Any) -> dict[str, str]:
    """The DOMAIN_KEYS of a LoopConfig, each as canonical JSON text."""
    out = {}
    for key in DOMAIN_KEYS:
        section, name = key.split(".")
        out[key] = json.dumps(getattr(getattr(cfg, section), name))
    return out


def study_table(study_dirs: str | Path | Sequence[str | Path]) -> pd.DataFrame:
    """One row per finished cell, bias family and evaluated iteration > 0 of the given studies.

    Columns: study, cell, seed, family, dose, bias0 (dose 0), calibration, horizon, x, share,
    reference, n_labels (iteration-0 labels), position_label_share, drift, gold_change and the
    :data:`DOMAIN_KEYS`. A cell is finished when its row.json says ``"done"``; read only.

    >>> t = study_table("studies/smollm2-verbosity")            # doctest: +SKIP
    """
    from judgebench.rlaif.config import loads

    dirs = [study_dirs] if isinstance(study_dirs, str | Path) else list(study_dirs)
    rows: list[dict[str, Any]] = []
    for study in map(Path, dirs):
        if not (study / "cells").is_dir():
            raise ValueError(f"{str(study)!r} is not a study folder: it has no cells/ "
                             "subfolder. Give the --out folder of `judgebench sweep`.")
        found = sorted((study / "cells").glob("*/row.json"))
        done = []
        for path in found:
            try:
                row = json.loads(path.read_text())
            except (OSError, ValueError):
                continue  # a cell being written: unfinished
            if row.get("status") == "done":
                done.append((path.parent, row))
        if not done:
            raise ValueError(f"Study {str(study)!r} has no finished cell ({len(found)} "
                             "row.json found, none with status 'done'). Let `judgebench "
                             "sweep` finish at least one cell per dose, or point at another "
                             "study.")
        for cell_dir, row in done:
            family, dose = _family(row.get("values", {}))
            cfg = loads((cell_dir / "config.toml").read_text(), str(cell_dir / "config.toml"))
            labels = pd.read_parquet(cell_dir / "labels.parquet")
            labels = labels[labels["iteration"] == 0]
            if labels.empty:
                raise ValueError(f"Cell {row['cell']!r} of {str(study)!r} has no iteration-0 "
                                 "labels in labels.parquet; its files are incomplete (rerun "
                                 "the cell, or remove its row.json).")
            stats = label_statistics(labels, [] if family == "length" else [family])
            metrics = [json.loads(x) for x in
                       (cell_dir / "metrics.jsonl").read_text().splitlines() if x.strip()]
            base = {"study": str(study), "cell": row["cell"], "seed": int(row.get("seed", 0)),
                    "family": family, "dose": dose, "bias0": bool(dose == 0.0),
                    "calibration": str(row.get("values", {}).get("calibration", "none")),
                    "x": stats[f"x_{family}"], "share": stats[f"share_{family}"],
                    "reference": stats[f"reference_{family}"], "n_labels": stats["n_labels"],
                    "position_label_share": stats["position_label_share"],
                    **_domain_values(cfg)}
            for m in metrics:
                if m["iteration"] == 0 or not m.get("evaluated", True):
                    continue
                drift_col = TARGETS["drift"][family != "length"].format(f=family)
                rows.append({**base, "horizon": int(m["iteration"]),
                             "drift": m.get(drift_col), "gold_change": m.get("gold_change")})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# Dose-response forms


class _DoseResponse:
    """y = curve(x, *params) by least squares, with a prediction interval.

    The interval is ŷ ± t(df = n - p) · sqrt(s² + gᵀΣg): s² the residual variance (the
    cell-to-cell spread the curve does not explain, seed noise included) plus the parameter
    uncertainty by the delta method (Σ the parameters' covariance, g the curve's gradient).
    """

    name = ""
    param_names: tuple[str, ...] = ()

    def __init__(self, level: float = 0.8):
        self.level = level

    @staticmethod
    def curve(x: np.ndarray, *params: float) -> np.ndarray:
        raise NotImplementedError

    def _starts(self, x: np.ndarray, y: np.ndarray) -> list[list[float]]:
        raise NotImplementedError

    bounds: tuple[Any, Any] = (-np.inf, np.inf)

    def fit(self, x: Sequence[float], y: Sequence[float]) -> _DoseResponse:
        """Fit on finite (x, y); needs more points than parameters. Returns self."""
        if not 0.0 < self.level < 1.0:
            raise ValueError(f"The 'level' parameter of {type(self).__name__} must lie in "
                             f"(0, 1); got {self.level!r}.")
        x, y = np.asarray(x, float), np.asarray(y, float)
        ok = np.isfinite(x) & np.isfinite(y)
        x, y = x[ok], y[ok]
        k = len(self.param_names)
        if x.size <= k:
            raise ValueError(f"The {self.name} dose-response has {k} parameters and needs at "
                             f"least {k + 1} cells with a finite label-level bias and drift; "
                             f"got {x.size}. Let the study finish more cells.")
        best = None
        for p0 in self._starts(x, y):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", sopt.OptimizeWarning)
                    params, cov = sopt.curve_fit(self.curve, x, y, p0=p0, bounds=self.bounds,
                                                 maxfev=20000)
            except (RuntimeError, ValueError):
                continue
            sse = float(((y - self.curve(x, *params)) ** 2).sum())
            if best is None or sse < best[0]:
                best = (sse, params, cov)
        if best is None:
            raise ValueError(f"The {self.name} dose-response did not converge on these "
                             f"{x.size} cells; try the linear form (--form linear).")
        sse, self.params_, self.cov_ = best
        self.n_, self.df_ = int(x.size), int(x.size - k)
        self.resid_var_ = sse / self.df_
        self.x_range_ = (float(x.min()), float(x.max()))
        return self

    def _gradient(self, x: np.ndarray) -> np.ndarray:
        # (n_x, n_params): central differences of the curve in each parameter.
        grads = []
        for j, v in enumerate(self.params_):
            h = 1e-6 * max(abs(v), 1.0)
            up, down = np.array(self.params_, float), np.array(self.params_, float)
            up[j], down[j] = v + h, v - h
            grads.append((self.curve(x, *up) - self.curve(x, *down)) / (2 * h))
        return np.stack(grads, axis=1)

    def predict(self, x: Sequence[float]) -> pd.DataFrame:
        """estimate, low, high (the ``level`` prediction interval) and se per x."""
        x = np.atleast_1d(np.asarray(x, float))
        est = self.curve(x, *self.params_)
        g = self._gradient(x)
        cov = np.asarray(self.cov_, float)
        if not np.all(np.isfinite(cov)):
            var = np.full(x.shape, np.inf)  # a parameter the cells do not pin down
        else:
            var = self.resid_var_ + np.einsum("ij,jk,ik->i", g, cov, g)
        se = np.sqrt(np.maximum(var, 0.0))
        half = float(sps.t.ppf(0.5 + self.level / 2, self.df_)) * se
        return pd.DataFrame({"estimate": est, "low": est - half, "high": est + half, "se": se})

    def to_dict(self) -> dict[str, Any]:
        """JSON form of the fitted curve."""
        cov = np.asarray(self.cov_, float)
        return {"form": self.name, "level": self.level,
                "params": dict(zip(self.param_names, map(float, self.params_))),
                "cov": [[float(v) if np.isfinite(v) else None for v in r] for r in cov],
                "resid_var": float(self.resid_var_), "n": self.n_, "df": self.df_,
                "x_range": list(self.x_range_)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> _DoseResponse:
        """The fitted curve back from :meth:`to_dict`."""
        self = FORMS[data["form"]](level=data["level"])
        self.params_ = np.array([data["params"][k] for k in self.param_names])
        self.cov_ = np.array([[np.inf if v is None else v for v in r] for r in data["cov"]])
        self.resid_var_, self.n_, self.df_ = data["resid_var"], data["n"], data["df"]
        self.x_range_ = tuple(data["x_range"])
        return self


class SaturatingDoseResponse(_DoseResponse):
    """y = c + a·tanh(b·x): a centred logistic (tanh z = 2σ(2z) - 1), b in [0.05, 50].

    c is the drift of an unbiased judge (x = 0), c ± a the plateaus: hard labels saturate
    once most of them pick the longer response, and over-corrected labels (x < 0) saturate too.

    Example:

    >>> x = np.linspace(-0.1, 0.5, 12)
    >>> fit = SaturatingDoseResponse(level=0.8).fit(x, 5 + 40 * np.tanh(3 * x))
    >>> fit.predict([0.25])[["estimate"]].round(1).values.tolist()
    [[30.4]]
    """

    name = "saturating"
    param_names = ("c", "a", "b")
    bounds = ([-np.inf, -np.inf, 0.05], [np.inf, np.inf, 50.0])

    @staticmethod
    def curve(x, c, a, b):
        return c + a * np.tanh(b * np.asarray(x, float))

    def _starts(self, x, y):
        slope = np.polyfit(x, y, 1)[0] if np.ptp(x) > 0 else 1.0
        return [[float(np.median(y)), slope / b, b] for b in (0.5, 2.0, 5.0, 15.0)]


class LinearDoseResponse(_DoseResponse):
    """y = c + s·x (the baseline the saturating form is compared with).

    Example:

    >>> fit = LinearDoseResponse().fit([0.0, 0.1, 0.2, 0.3], [1.0, 11.0, 21.0, 31.0])
    >>> [round(float(v), 2) for v in fit.params_], fit.df_
    ([1.0, 100.0], 2)
    """

    name = "linear"
    param_names = ("c", "s")

    @staticmethod
    def curve(x, c, s):
        return c + s * np.asarray(x, float)

    def _starts(self, x, y):
        return [[float(np.mean(y)), 0.0]]


#: The forms by name (a saved model names its form).
FORMS: dict[str, type[_DoseResponse]] = {"saturating": SaturatingDoseResponse,
                                         "linear": LinearDoseResponse}


def _form(name: str) -> type[_DoseResponse]:
    if name not in FORMS:
        raise ValueError(f"The 'form' parameter must be one of {sorted(FORMS)}; got {name!r}.")
    return FORMS[name]


# ---------------------------------------------------------------------------------------------
# The model: one fit per (family, target, horizon)


class ForecastModel:
    """Dose-response fits of final drift and gold change on the iteration-0 label-level bias.

    ``fit(study_table(...))`` fits one curve per (family, target, horizon); ``fitted_`` holds
    them, ``cells_`` the training cells, ``domain_`` the config values they were run with.

    Example (six synthetic cells; ``study_table`` reads real ones from study folders):

    >>> x = np.array([0.0, 0.0, 0.2, 0.2, 0.4, 0.4])
    >>> table = pd.DataFrame({"study": "s", "cell": [f"c{i}" for i in range(6)],
    ...                       "family": "length", "horizon": 4, "x": x, "share": x + 0.5,
    ...                       "reference": 0.5, "bias0": x == 0, "position_label_share": None,
    ...                       "drift": 100 * x + [1, -1, 2, -2, 1, -1], "gold_change": -x})
    >>> model = ForecastModel(form="linear").fit(table)
    >>> model.predict({"length": 0.3}, horizon=4)[["target", "estimate"]].round(2).values.tolist()
    [['drift', 30.0], ['gold_change', -0.3]]
    """

    def __init__(self, form: str = "saturating", level: float = 0.8):
        self.form = form
        self.level = level

    def fit(self, table: pd.DataFrame) -> ForecastModel:
        """Fit on a :func:`study_table`; returns self."""
        cls = _form(self.form)
        if table.empty:
            raise ValueError("The study table is empty: no finished cell has an evaluated "
                             "iteration after 0.")
        self.fitted_: dict[tuple[str, str, int], _DoseResponse] = {}
        for (family, horizon), sub in table.groupby(["family", "horizon"]):
            for target in TARGETS:
                self.fitted_[(family, target, int(horizon))] = cls(level=self.level).fit(
                    sub["x"], sub[target].astype(float))
        self.cells_ = (table[["study", "cell", "family", "x", "share", "reference", "bias0"]]
                       .drop_duplicates("cell").to_dict("records"))
        self.domain_ = {k: sorted(table[k].unique().tolist()) for k in DOMAIN_KEYS
                        if k in table}
        pos = pd.to_numeric(table["position_label_share"], errors="coerce").dropna()
        self.position_range_ = [float(pos.min()), float(pos.max())] if len(pos) else None
        return self

    @property
    def horizons_(self) -> list[int]:
        """The iteration counts the model has fits for."""
        return sorted({h for _, _, h in self.fitted_})

    def predict(self, x: dict[str, float], horizon: int) -> pd.DataFrame:
        """Per family in ``x`` with a fit, and target: estimate, low, high, x, extrapolated.

        A horizon without a fit uses the nearest fitted one (``horizon_used``); an x outside
        the fitted range is marked ``x_outside_fit``.
        """
        rows = []
        near = min(self.horizons_, key=lambda h: (abs(h - horizon), -h))
        for family, value in x.items():
            for target in TARGETS:
                fit = self.fitted_.get((family, target, near))
                if fit is None:
                    continue
                pred = fit.predict([value]).iloc[0]
                lo, hi = fit.x_range_
                rows.append({"family": family, "target": target, "horizon": horizon,
                             "horizon_used": near, "x": value, **pred.to_dict(),
                             "level": fit.level, "form": fit.name, "n_cells": fit.n_,
                             "x_outside_fit": bool(not lo <= value <= hi)})
        return pd.DataFrame(rows)

    def to_json(self, path: str | Path) -> Path:
        """Write the model (fits, training cells, domain) as a small JSON file."""
        from judgebench.io import atomic_write, to_jsonable

        data = {"kind": "judgebench.forecast", "version": 1, "form": self.form,
                "level": self.level,
                "x_definition": "iteration-0 share of decisive labels picking the longer (or "
                                "feature-bearing) response minus the verifier's share on the "
                                "same pairs (gold ties 1/2)",
                "fits": [{"family": f, "target": t, "horizon": h, **fit.to_dict()}
                         for (f, t, h), fit in sorted(self.fitted_.items())],
                "domain": self.domain_, "position_range": self.position_range_,
                "training_cells": self.cells_}
        path = Path(path)
        atomic_write(path, json.dumps(to_jsonable(data), indent=1))
        return path

    @classmethod
    def from_json(cls, path: str | Path) -> ForecastModel:
        """A model written by :meth:`to_json`."""
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise FileNotFoundError(f"No forecast model at {str(path)!r}; write one with "
                                    "`judgebench forecast --refit STUDY_DIR`.") from None
        if data.get("kind") != "judgebench.forecast":
            raise ValueError(f"{str(path)!r} is not a forecast model (no kind "
                             "'judgebench.forecast'); write one with --refit.")
        self = cls(form=data["form"], level=data["level"])
        self.fitted_ = {(f["family"], f["target"], int(f["horizon"])):
                        _DoseResponse.from_dict(f) for f in data["fits"]}
        self.domain_, self.cells_ = data["domain"], data["training_cells"]
        self.position_range_ = data.get("position_range")
        return self


def extrapolation_flags(model: ForecastModel, cfg: Any, stats: dict[str, Any],
                        horizon: int) -> list[str]:
    """Why a forecast for ``cfg`` (a LoopConfig) and its audit ``stats`` is an extrapolation.

    Empty when the config's :data:`DOMAIN_KEYS`, the horizon, the label-level biases and the
    position share all lie within what the model was fitted on.

    Example (the bundled model, the config it was fitted for, a label-level bias beyond it):

    >>> from judgebench.rlaif.config import load_config
    >>> cfg = load_config("configs/smollm2-study.toml")
    >>> extrapolation_flags(ForecastModel.from_json(BUNDLED_MODEL), cfg,
    ...                     {"x_length": 0.9}, horizon=4)
    ['label-level bias x_length = +0.900 outside the fitted [...]']
    """
    flags = []
    for key, value in _domain_values(cfg).items():
        seen = model.domain_.get(key)
        if seen is not None and value not in seen:
            flags.append(f"{key} = {value} (fitted on {', '.join(seen)})")
    if horizon not in model.horizons_:
        flags.append(f"{horizon} iterations (fitted at {model.horizons_})")
    for (family, target, h), fit in model.fitted_.items():
        x = stats.get(f"x_{family}")
        if target == "drift" and h == model.horizons_[-1] and x is not None \
                and np.isfinite(x) and not fit.x_range_[0] <= x <= fit.x_range_[1]:
            flags.append(f"label-level bias x_{family} = {x:+.3f} outside the fitted "
                         f"[{fit.x_range_[0]:+.3f}, {fit.x_range_[1]:+.3f}]")
    pos, rng = stats.get("position_label_share"), model.position_range_
    if pos is not None and (rng is None or not rng[0] - 1e-9 <= pos <= rng[1] + 1e-9):
        flags.append(f"position_label_share = {pos:.3f} (one-order labels) outside the fitted "
                     f"{'range ' + str(rng) if rng else 'cells, which all judged both orders'}")
    return flags


# ---------------------------------------------------------------------------------------------
# Forecasting a config


@dataclass
class Forecast:
    """A forecast: predictions per family and target, the audit behind them, and flags.

    Example (what :func:`forecast` returns, built by hand):

    >>> row = {"family": "length", "target": "drift", "horizon": 4, "x": 0.3,
    ...        "estimate": 31.0, "low": 2.0, "high": 60.0, "level": 0.8, "n_cells": 36}
    >>> fc = Forecast(pd.DataFrame([row]), {"x_length": 0.3}, [], "my.toml", "simulated")
    >>> fc.extrapolation, fc.to_markdown().splitlines()[4]
    (False, '| length | drift | 4 it. | +0.300 | +31 | [+2, +60] (80%, n = 36) |')
    """

    table: pd.DataFrame  #: family, target, horizon, x, estimate, low, high, level, form, ...
    audit: dict[str, Any]  #: label_statistics of the iteration-0 labels
    flags: list[str] = field(default_factory=list)  #: why this is an extrapolation ([] = none)
    config: str = ""
    judge: str = ""

    @property
    def extrapolation(self) -> bool:
        """Whether anything lies outside what the model was fitted on."""
        return bool(self.flags)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        from judgebench.io import to_jsonable

        return to_jsonable({"config": self.config, "judge": self.judge,
                          "extrapolation": self.extrapolation, "flags": self.flags,
                          "audit": self.audit, "predictions": self.table.to_dict("records")})

    def to_markdown(self) -> str:
        """The forecast as a short text table."""
        lines = [f"Forecast for {self.config} (judge {self.judge})", "",
                 "| family | target | after | label-level bias x | forecast | interval |",
                 "|---|---|---|---|---|---|"]
        for r in self.table.itertuples():
            lines.append(f"| {r.family} | {r.target} | {r.horizon} it. | {r.x:+.3f} | "
                         f"{r.estimate:+.3g} | [{r.low:+.3g}, {r.high:+.3g}] "
                         f"({r.level:.0%}, n = {r.n_cells}) |")
        lines.append("")
        lines += ["EXTRAPOLATION: " + f for f in self.flags] or ["Within the fitted range."]
        return "\n".join(lines) + "\n"


def forecast(config: str | Path, *, judge: str | None = None, overrides: Sequence[str] = (),
             iterations: int | None = None, model: str | Path | ForecastModel | None = None,
             work_dir: str | Path | None = None) -> Forecast:
    """Predict the drift a config's training would cause, from its iteration-0 labels.

    Runs the loop with ``n_iterations = 0`` (sample, judge, label; no training) in
    ``work_dir`` (a temporary folder by default; a kept one resumes), with ``judge`` in
    place of the config's [judge] spec, then applies ``model`` (the bundled one by default).

    >>> fc = forecast("configs/smollm2-study.toml", judge="simulated:verbosity=3,noise=0.5",
    ...               iterations=4)                                   # doctest: +SKIP
    >>> fc.table[["target", "estimate", "low", "high"]]                # doctest: +SKIP
    """
    from judgebench.rlaif.config import load_config
    from judgebench.rlaif.loop import run_loop

    fm = model if isinstance(model, ForecastModel) else \
        ForecastModel.from_json(model or BUNDLED_MODEL)
    cfg = load_config(config, list(overrides))
    if judge:
        cfg = replace(cfg, judge=replace(cfg.judge, spec=judge, options={}))
    horizon = cfg.run.n_iterations if iterations is None else int(iterations)
    if horizon < 1:
        raise ValueError(f"iterations must be >= 1 (the drift after N training iterations); "
                         f"got {horizon}.")
    audit_cfg = replace(cfg, run=replace(cfg.run, n_iterations=0))
    families = sorted({f for f, _, _ in fm.fitted_} - {"length"})
    with tempfile.TemporaryDirectory(prefix="judgebench-forecast-") as tmp:
        run_dir = Path(work_dir) if work_dir else Path(tmp)
        run_loop(audit_cfg, run_dir)
        labels = pd.read_parquet(run_dir / "iter-000" / "labels.parquet")
    stats = label_statistics(labels, families)
    x = {f: stats[f"x_{f}"] for f in ["length", *families]}
    table = fm.predict(x, horizon)
    flags = extrapolation_flags(fm, cfg, stats, horizon)
    # The judge as built: the spec with the config's [judge] options (e.g. a --set dose).
    judge_text = ",".join([cfg.judge.spec] + [f"{k}={v}" for k, v in cfg.judge.options.items()])
    return Forecast(table, stats, flags, str(config), judge_text)


__all__ = ["FORMS", "Forecast", "ForecastModel", "LinearDoseResponse",
           "SaturatingDoseResponse", "extrapolation_flags", "forecast", "label_statistics",
           "study_table"]
