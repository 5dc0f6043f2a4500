"""Rescaling a judge's probabilities against gold: temperature, Platt and isotonic (DESIGN §5).

Each estimator is fitted per judge on the labelled rows of the fit split (NLL with gold ties as
soft 0.5 targets) and has a pure function beside it:

- :func:`temperature_scale` — p = sigmoid(z / T) with z = logit(p_1) (Guo et al. 2017). One
  parameter; it changes confidence, never the winner.
- :func:`platt_scale` — p_first = sigmoid(a * z_first + b) fitted in the *shown-first* frame
  (z_first = logit(p_first), target = whether the first shown is better; Platt 1999). ``b``
  absorbs the judge's prior for the first slot, so ``position_offset = -b / a`` estimates the
  position bias on the judge's logit scale and the transform removes it on average.
- :func:`isotonic_calibrate` — a monotone step map of p_1 (Zadrozny & Elkan 2002; sklearn's
  IsotonicRegression), saved as its thresholds and applied by linear interpolation.

>>> temperature_scale(np.array([2.0]), 2.0).round(3)
array([0.731])
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize, minimize_scalar
from sklearn.isotonic import IsotonicRegression

from judgebench.calibration.base import (
    PerJudgeStep,
    labelled_rows,
    register,
    row_gold,
    sigmoid,
)
from judgebench.calibration.metrics import row_nll
from judgebench.probability import PROB_EPS, safe_logit

# log T is searched in [log 1e-2, log 1e3]: a hard 0/1 judge (|z| = 13.8) needs T near 15.
_LOG_T_BOUNDS = (np.log(1e-2), np.log(1e3))


# ---------------------------------------------------------------------------------------------
# Pure functions


def temperature_scale(logits: np.ndarray, temperature: float) -> np.ndarray:
    """sigmoid(z / T): temperature scaling of logit margins (Guo et al. 2017, §4.2).

    Example:

    >>> temperature_scale(np.array([-2.0, 0.0, 4.0]), temperature=2.0).round(3)
    array([0.269, 0.5  , 0.881])
    """
    return sigmoid(np.asarray(logits, float) / float(temperature))


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The T > 0 minimising the NLL of sigmoid(z / T) against (soft) targets y.

    Example:

    >>> z = np.array([-3.0, -1.0, 0.5, 1.0, 2.0, 4.0])
    >>> round(fit_temperature(z, 1 / (1 + np.exp(-z / 2))), 3)   # targets made with T = 2
    2.0
    """
    z, y = np.asarray(logits, float), np.asarray(y, float)
    res = minimize_scalar(lambda lt: row_nll(sigmoid(z / np.exp(lt)), y).mean(),
                          bounds=_LOG_T_BOUNDS, method="bounded", options={"xatol": 1e-6})
    return float(np.exp(res.x))


def platt_scale(logits: np.ndarray, a: float, b: float) -> np.ndarray:
    """sigmoid(a z + b): Platt scaling (Platt 1999).

    Example:

    >>> platt_scale(np.array([0.0, 2.0]), a=0.5, b=0.5).round(3)
    array([0.622, 0.818])
    """
    return sigmoid(a * np.asarray(logits, float) + b)


def fit_platt(logits: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(a, b) minimising the NLL of sigmoid(a z + b) against (soft) targets y (L-BFGS).

    Example:

    >>> z = np.array([-3.0, -1.0, 0.5, 1.0, 2.0, 4.0])
    >>> a, b = fit_platt(z, 1 / (1 + np.exp(-(0.5 * z + 0.3))))
    >>> round(a, 3), round(b, 3)
    (0.5, 0.3)
    """
    z, y = np.asarray(logits, float), np.asarray(y, float)

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        q = np.clip(sigmoid(theta[0] * z + theta[1]), PROB_EPS, 1 - PROB_EPS)
        r = q - y  # d NLL / d eta for each row
        nll = -(y * np.log(q) + (1 - y) * np.log1p(-q)).mean()
        return nll, np.array([(r * z).mean(), r.mean()])

    res = minimize(loss, x0=np.array([1.0, 0.0]), jac=True, method="L-BFGS-B")
    return float(res.x[0]), float(res.x[1])


def fit_isotonic(p: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Thresholds (x, y) of the increasing least-squares fit of y on p, bounded to [0, 1].

    Example:

    >>> xs, ys = fit_isotonic(np.array([0.2, 0.4, 0.6, 0.8]), np.array([0.0, 1.0, 0.0, 1.0]))
    >>> xs.tolist(), ys.tolist()
    ([0.2, 0.4, 0.6, 0.8], [0.0, 0.5, 0.5, 1.0])
    """
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
    iso.fit(np.asarray(p, float), np.asarray(y, float))
    return iso.X_thresholds_, iso.y_thresholds_


def isotonic_calibrate(p: np.ndarray, x_thresholds: np.ndarray,
                       y_thresholds: np.ndarray) -> np.ndarray:
    """Apply a saved isotonic map: linear interpolation between thresholds, clipped at the ends.

    Identical to sklearn's IsotonicRegression.predict with out_of_bounds="clip".

    Example:

    >>> xs, ys = [0.2, 0.4, 0.6, 0.8], [0.0, 0.5, 0.5, 1.0]     # from fit_isotonic
    >>> isotonic_calibrate(np.array([0.1, 0.5, 0.7, 0.9]), xs, ys)
    array([0.  , 0.5 , 0.75, 1.  ])
    """
    return np.interp(np.asarray(p, float), np.asarray(x_thresholds, float),
                     np.asarray(y_thresholds, float))


# ---------------------------------------------------------------------------------------------
# Steps


@register("temperature")
class TemperatureScaling(PerJudgeStep):
    """p_1 -> sigmoid(logit(p_1) / T), T fitted per judge by NLL on labelled rows.

    ``params_[judge]["temperature"]`` > 1 means the judge was over-confident.

    Example:

    >>> from judgebench.judges.simulated import simulate_verdicts
    >>> v = simulate_verdicts(100, seed=0, temperature=2.0)       # an over-confident judge
    >>> step = TemperatureScaling().fit(v)
    >>> {judge: round(t, 3) for judge, t in step.temperature_.items()}
    {'simulated': 2.155}
    >>> step.transform(v)[["p_1_raw", "p_1"]].round(3).values[:2].tolist()
    [[0.986, 0.877], [0.055, 0.21]]
    """

    name = "temperature"

    def __init__(self, clip: float = PROB_EPS):
        self.clip = clip

    def _fit_judge(self, rows: pd.DataFrame, judge: str) -> dict[str, Any]:
        rows = labelled_rows(rows, self.name, judge)
        z = safe_logit(rows["p_1"].to_numpy(float), self.clip)
        t = fit_temperature(z, row_gold(rows))
        out = {"temperature": t, "n_fit_rows": len(rows), "n_fit_pairs": rows["pair_id"].nunique()}
        if np.log(t) > _LOG_T_BOUNDS[1] - 1e-3:
            # The NLL kept falling towards T = inf: flattening every verdict to 0.5 beats the
            # judge, i.e. its margins are no better than chance on the fit split.
            out["note"] = (f"T hit the search bound {np.exp(_LOG_T_BOUNDS[1]):.0f}: judge "
                           f"{judge!r} is at or below chance on the fit split; its calibrated "
                           "p_1 is ~0.5 everywhere")
        elif _separable(z, row_gold(rows)):
            # The NLL keeps falling towards T = 0 when the judge ranks every fit pair correctly,
            # so sharpening until the probabilities saturate looks optimal. Say so.
            out["note"] = (f"judge {judge!r} makes no error on the fit split (separable), so "
                           f"T = {t:.3g} pushes its calibrated p_1 to ~0/1; fit on harder or "
                           "more pairs for a usable temperature")
        return out

    def _transform_judge(self, rows: pd.DataFrame, params: dict[str, Any]) -> np.ndarray:
        z = safe_logit(rows["p_1"].to_numpy(float), self.clip)
        return temperature_scale(z, params["temperature"])

    @property
    def temperature_(self) -> dict[str, float]:
        """The fitted T per judge."""
        self.check_fitted()
        return {j: p["temperature"] for j, p in self.params_.items()}


@register("platt")
class PlattScaling(PerJudgeStep):
    """p_first -> sigmoid(a logit(p_first) + b), fitted per judge in the shown-first frame.

    ``params_[judge]["position_offset"]`` = -b / a is the judge's first-slot logit offset.

    Example:

    >>> from judgebench.judges.simulated import simulate_verdicts
    >>> v = simulate_verdicts(100, seed=0, position=1.0)          # +1 logit for the first slot
    >>> fit = PlattScaling().fit(v).params_["simulated"]
    >>> round(fit["a"], 3), round(fit["position_offset"], 3)
    (0.928, 0.978)
    """

    name = "platt"

    def __init__(self, clip: float = PROB_EPS):
        self.clip = clip

    def _fit_judge(self, rows: pd.DataFrame, judge: str) -> dict[str, Any]:
        rows = labelled_rows(rows, self.name, judge)
        first_is_1 = rows["order"].to_numpy() == "12"
        y = row_gold(rows)
        y_first = np.where(first_is_1, y, 1.0 - y)  # gold P(the first shown is better)
        a, b = fit_platt(safe_logit(rows["p_first"].to_numpy(float), self.clip), y_first)
        return {"a": a, "b": b, "position_offset": -b / a if a != 0 else float("nan"),
                "n_fit_rows": len(rows), "n_fit_pairs": rows["pair_id"].nunique()}

    def _transform_judge(self, rows: pd.DataFrame, params: dict[str, Any]) -> np.ndarray:
        p_first = platt_scale(safe_logit(rows["p_first"].to_numpy(float), self.clip),
                              params["a"], params["b"])
        return np.where(rows["order"].to_numpy() == "12", p_first, 1.0 - p_first)


@register("isotonic")
class IsotonicCalibration(PerJudgeStep):
    """p_1 -> an increasing step map fitted per judge (sklearn IsotonicRegression).

    Saved as ``params_[judge]["x_thresholds"]``/``["y_thresholds"]``; a table without a
    pickled model. It may output exact 0 or 1 where the fit split had no counter-example.

    Example:

    >>> from judgebench.judges.simulated import simulate_verdicts
    >>> v = simulate_verdicts(100, seed=0, temperature=2.0)
    >>> step = IsotonicCalibration().fit(v)
    >>> len(step.params_["simulated"]["x_thresholds"])
    16
    >>> step.transform(v)[["p_1_raw", "p_1"]].round(3).values[:2].tolist()
    [[0.986, 0.947], [0.055, 0.367]]
    """

    name = "isotonic"

    def __init__(self) -> None:
        pass

    def _fit_judge(self, rows: pd.DataFrame, judge: str) -> dict[str, Any]:
        rows = labelled_rows(rows, self.name, judge)
        xs, ys = fit_isotonic(rows["p_1"].to_numpy(float), row_gold(rows))
        return {"x_thresholds": xs.tolist(), "y_thresholds": ys.tolist(),
                "n_fit_rows": len(rows), "n_fit_pairs": rows["pair_id"].nunique()}

    def _transform_judge(self, rows: pd.DataFrame, params: dict[str, Any]) -> np.ndarray:
        return isotonic_calibrate(rows["p_1"].to_numpy(float), params["x_thresholds"],
                                  params["y_thresholds"])


def _separable(z: np.ndarray, y: np.ndarray) -> bool:
    """Whether the logit margin ``z`` puts every decisive gold label on the right side."""
    decisive = np.isfinite(y) & (y != 0.5)
    return bool(decisive.any() and np.all((z[decisive] > 0) == (y[decisive] > 0.5)))
