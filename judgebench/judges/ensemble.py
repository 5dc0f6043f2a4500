"""A panel of judges that answers as one (PoLL, Verga et al. 2024).

Each member judges the same ordered presentations; their P(first wins) are combined per row by
a named rule. A member that fails on a row abstains there; a row on which every member fails
is failed (NaN), never a preference. Fitted combinations (reliability weights, Dawid–Skene)
need labels or many verdicts and live with the calibrators (``calibration/ensemble.py``), which
work on verdict tables; this judge is for labelling on the fly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy.special import expit

from judgebench.judges.base import Judge, JudgeOutput, OrderedBatch
from judgebench.probability import safe_logit


def _row_mean(x: np.ndarray) -> np.ndarray:
    """Mean over the finite entries of each row; NaN where a row has none (no warning)."""
    ok = np.isfinite(x)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ok, x, 0.0).sum(axis=1) / ok.sum(axis=1)


def mean_logit(p: np.ndarray) -> np.ndarray:
    """sigmoid of the mean logit over the members that answered; p is (n_rows, n_members).

    Example:

    >>> p = np.array([[0.9, 0.6, np.nan], [0.2, 0.7, 0.4]])   # NaN: that member failed
    >>> mean_logit(p).round(3)
    array([0.786, 0.422])
    """
    return expit(_row_mean(safe_logit(p)))


def mean_probability(p: np.ndarray) -> np.ndarray:
    """Mean P(first wins) over the members that answered.

    Example:

    >>> mean_probability(np.array([[0.9, 0.6, np.nan], [0.2, 0.7, 0.4]])).round(3)
    array([0.75 , 0.433])
    """
    return _row_mean(p)


def majority(p: np.ndarray) -> np.ndarray:
    """Share of answering members whose verdict is "first" (ties count half).

    Example:

    >>> majority(np.array([[0.9, 0.6, np.nan], [0.2, 0.7, 0.5]])).round(3)
    array([1. , 0.5])
    """
    votes = np.where(p > 0.5, 1.0, np.where(p < 0.5, 0.0, 0.5))
    votes[np.isnan(p)] = np.nan
    return _row_mean(votes)


COMBINE: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "mean_logit": mean_logit, "mean_prob": mean_probability, "majority": majority}


class EnsembleJudge(Judge):
    """Several judges combined row by row (``combine``: mean_logit, mean_prob or majority).

    >>> from judgebench.judges.simulated import SimulatedJudge
    >>> panel = EnsembleJudge([SimulatedJudge(position=1.0, name="a"),
    ...                        SimulatedJudge(position=-1.0, name="b")])
    >>> float(panel.compare(["q"], ["a"], ["a"])[0])
    0.5
    """

    def __init__(self, members: Sequence[Judge], combine: str = "mean_logit",
                 name: str | None = None):
        if len(members) < 2:
            raise ValueError(f"An ensemble needs at least 2 member judges; got {len(members)}.")
        if combine not in COMBINE:
            raise ValueError(f"combine must be one of {sorted(COMBINE)}; got {combine!r}.")
        names = [m.name for m in members]
        if len(set(names)) != len(names):
            raise ValueError(f"Ensemble members need distinct names (name=...); got {names}.")
        self.members = list(members)
        self.combine = combine
        self._name = name or f"ensemble:{combine}"
        self.chunk_size = min(m.chunk_size for m in self.members)

    @property
    def cacheable(self) -> bool:  # type: ignore[override]
        """Worth caching when any member costs something to call."""
        return any(m.cacheable for m in self.members)

    def config(self) -> dict[str, Any]:
        """The members' configs and the combination rule."""
        return {"kind": "ensemble", "combine": self.combine,
                "members": [m.config() for m in self.members]}

    def _judge_batch(self, batch: OrderedBatch) -> JudgeOutput:
        outs = [m._judge_batch(batch) for m in self.members]
        p = np.column_stack([o.p_first for o in outs])  # (n_rows, n_members)
        combined = COMBINE[self.combine](p)
        combined[np.isnan(p).all(axis=1)] = np.nan
        names = [m.name for m in self.members]
        raw = [{n: (None if np.isnan(v) else round(float(v), 6)) for n, v in zip(names, row)}
               for row in p]
        errors = [None if np.isfinite(c) else
                  "every member failed: " + "; ".join(f"{n}: {o.error[i]}"
                                                      for n, o in zip(names, outs))
                  for i, c in enumerate(combined)]
        n_tokens = np.sum([o.n_tokens for o in outs], axis=0)
        return JudgeOutput(p_first=combined, raw=raw, n_tokens=n_tokens, error=errors)
