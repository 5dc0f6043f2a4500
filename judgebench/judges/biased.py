"""Any judge with a known, isolated feature bias planted on top (``biased:`` specs).

The wrapped judge's logit of P(first wins) gains the same terms the simulated judge uses
(``judges/features.py``)::

    z = logit(p_inner) + sum_k beta_k * (f_k(first) - f_k(second))

and a pointwise score gains ``sum_k beta_k * f_k(response)``. A real judge (local HF, served,
an ensemble) then carries a bias whose size is known exactly, so a study can tell the judge's
own judgment from the planted part. A failed inner judgment stays failed (NaN plus its error):
the bias is never added to a guess. P is clipped to [1e-6, 1 - 1e-6]
(:data:`~judgebench.probability.PROB_EPS`) before the logit, so a hard 0/1 verdict (a
generate-and-parse judge) moves only when the planted terms exceed 13.8 logits: plant biases
in judges that give probabilities.

Spec: ``biased:(SPEC),lexical=1.0,tone=0.5`` (parentheses around a SPEC with commas; see
``judges/spec.py``), or a TOML ``[judge]`` table with ``kind = "biased"``, ``judge = "SPEC"``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.special import expit

from judgebench.judges.base import Judge, JudgeOutput, OrderedBatch
from judgebench.judges.features import FeatureBias, feature_bias
from judgebench.probability import safe_logit


class BiasedJudge(Judge):
    """``inner`` with feature doses added to its logit (and its pointwise scores).

    >>> from judgebench.judges.simulated import SimulatedJudge
    >>> j = BiasedJudge(SimulatedJudge(), tone=1.0)
    >>> float(j.compare(["q"], ["Yes. I hope this helps!"], ["Yes."])[0].round(3))
    0.731
    """

    def __init__(self, inner: Judge, name: str | None = None,
                 features: Mapping[str, Any] | FeatureBias | None = None,
                 **feature_options: Any):
        if not isinstance(inner, Judge):
            raise TypeError(f"BiasedJudge wraps a Judge; got {type(inner).__name__}.")
        self.inner = inner
        self.features = features if isinstance(features, FeatureBias) else feature_bias(
            feature_options, features)
        if not self.features.features:
            raise ValueError(f"A biased judge needs at least one feature dose (e.g. "
                             f"'biased:({inner.name}),lexical=1.0'); got none.")
        self._name = name or f"biased:{inner.name}"
        self.chunk_size = inner.chunk_size

    @property
    def cacheable(self) -> bool:  # type: ignore[override]
        """Worth caching when the wrapped judge is."""
        return self.inner.cacheable

    def config(self) -> dict[str, Any]:
        """The wrapped judge's config and the planted doses."""
        return {"kind": "biased", "inner": self.inner.config(),
                "features": self.features.config()}

    def _judge_batch(self, batch: OrderedBatch) -> JudgeOutput:
        out = self.inner._judge_batch(batch)
        p = np.asarray(out.p_first, dtype=float)
        ok = np.isfinite(p)
        z = safe_logit(p)
        if ok.any():
            # Detectors run on the rows the inner judge answered; a failure stays NaN.
            sub = batch.subset(np.flatnonzero(ok))
            z[ok] += self.features.logit(sub.first, sub.second, sub.pair_ids)
        return JudgeOutput(p_first=np.where(ok, expit(z), np.nan), raw=out.raw,
                           n_tokens=out.n_tokens, latency_s=out.latency_s, error=out.error)

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        """The wrapped judge's pointwise score plus Σ β·f(response) (NaN stays NaN)."""
        base = np.asarray(self.inner.score(prompts, responses), dtype=float)
        return base + self.features.score(list(responses), where="scored response")
