"""P(response_1 better) arithmetic that every stage shares: clips, logits, labels, two orders.

One home for what the judges, the audits, the calibrators and the loop all compute on a
preference probability:

* the **clip constants**: a probability is clipped before a logit or a log so that a hard 0/1
  verdict gives a finite number. Three values, on purpose (each keeps the numbers its stage has
  always reported): :data:`PROB_EPS` wherever a model's probability enters a logit or a log
  loss, :data:`OFFSET_EPS` in the audit's position offset, :data:`GOLD_EPS` for gold labels
  in the length-controlled GLM; :data:`CV_LOSS_EPS` only guards the cross-validation log loss;
* :func:`safe_logit`, the clipped logit;
* :func:`gold_p1`, a gold label (1, 2, 0.5 or a probability) as P(response_1 better);
* :func:`win_score`, two scores as a preference (1, 0, 0.5 on a tie): gold labels from a
  verifier's scores, win rates against a reference;
* :func:`swap_average`, the mean of a per-pair quantity over the two presentation orders.

>>> swap_average(np.array([0.9, np.nan]), np.array([0.6, 0.3])).tolist()
[0.75, 0.3]
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import logit

from judgebench.verdicts import SchemaError

#: Probabilities are clipped to [PROB_EPS, 1 - PROB_EPS] before a logit (a hard 0/1 verdict
#: then has the finite margin |z| = 13.8) and in the log loss (as scikit-learn's log_loss).
#: Judges that add biases on the logit scale, ensembles, feature audits and calibrators share it.
PROB_EPS = 1e-6
#: The audit's position offset clips harder, logit(1 - 1e-4) = 9.21, so one saturated verdict
#: moves the mean offset by a bounded amount; the clip biases it only when a P falls below 1e-4.
#: It is the offset's documented definition (DESIGN §4, docs/design/audit-definitions.md):
#: PROB_EPS here would change every reported offset, so the two stay distinct.
OFFSET_EPS = 1e-4
#: Gold enters the length-controlled GLM as logit(clip(y, GOLD_EPS, 1 - GOLD_EPS)): a scaled
#: sign (±4.6) for hard labels, which are a noisy proxy of quality, not a 13.8-logit certainty.
GOLD_EPS = 0.01
#: Guards log(0) in the cross-validation log loss that picks the LC win rate's penalty; the
#: fitted probabilities are never near it, so it only stops an infinite score.
CV_LOSS_EPS = 1e-15


def safe_logit(p: np.ndarray, eps: float = PROB_EPS) -> np.ndarray:
    """logit(p) with p clipped to [eps, 1 - eps]; NaN stays NaN.

    >>> safe_logit(np.array([0.5, 1.0, np.nan])).round(2).tolist()
    [0.0, 13.82, nan]
    """
    return logit(np.clip(np.asarray(p, dtype=float), eps, 1.0 - eps))


def gold_p1(labels: pd.Series | np.ndarray) -> np.ndarray:
    """P(response_1 is better) from labels 1, 2, 0.5 (tie) or a probability; NaN stays NaN.

    The vectorised form of :func:`judgebench.verdicts.label_to_p1`.

    >>> gold_p1(np.array([1, 2, 0.5, 0.8, np.nan])).tolist()
    [1.0, 0.0, 0.5, 0.8, nan]
    """
    raw = pd.Series(np.asarray(labels, dtype=object))
    x = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    bad = (np.isnan(x) & raw.notna().to_numpy()) | (
        np.isfinite(x) & ~(((x >= 0) & (x <= 1)) | (x == 2)))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise SchemaError(f"label must be 1, 2, 0.5 (tie) or a probability in [0, 1]; entry {i} "
                          f"is {raw.iloc[i]!r}. Fix or drop that label.")
    return np.where(x == 2, 0.0, x)


def win_score(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """1 where a > b, 0.5 where equal, 0 where a < b; NaN where either is not finite.

    Two gold scores give the gold label in P(response_1 better) form; a judge's P against 0.5
    gives its win.

    >>> win_score([1.0, 0.0, 0.5, np.nan], [0.0, 1.0, 0.5, 1.0]).tolist()
    [1.0, 0.0, 0.5, nan]
    """
    a, b = np.asarray(a, float), np.asarray(b, float)
    out = np.where(a > b, 1.0, np.where(a < b, 0.0, 0.5))
    return np.where(np.isfinite(a) & np.isfinite(b), out, np.nan)


def swap_average(x_12: np.ndarray, x_21: np.ndarray) -> np.ndarray:
    """Per pair, the mean of a quantity over the two orders it is finite in; NaN in neither.

    Both arguments are in response_1 terms (P(response_1 wins), its win, its logit) for orders
    12 and 21. This is Lee et al. 2023's two-order average and Wang et al. 2023's balanced
    position calibration: an additive first-slot preference enters the orders with opposite
    signs and cancels. With one order missing the other is kept as it is.

    >>> swap_average(np.array([0.9, np.nan]), np.array([0.5, np.nan])).tolist()
    [0.7, nan]
    """
    stack = np.stack([np.asarray(x_12, float), np.asarray(x_21, float)])
    ok = np.isfinite(stack)
    n = ok.sum(axis=0)
    # Both orders missing -> 0 / NaN -> NaN: the pair stays failed.
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ok, stack, 0.0).sum(axis=0) / np.where(n > 0, n, np.nan)
