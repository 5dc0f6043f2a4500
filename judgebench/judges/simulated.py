"""A judge whose biases are set by the user: the ground truth every estimator is tested against.

The judge's logit that the response shown first wins is (DESIGN §3)::

    z = strength * (g_first - g_second)        # gold quality difference
      + position                                # offset for the first slot
      + verbosity * log(len_first / len_second) # per natural-log length ratio (characters)
      + self_preference * (self_first - self_second)
      + sum_k beta_k * (f_k(first) - f_k(second))  # feature biases (judges/features.py)
      + style_preference * (s(first) - s(second))   # closeness to its own style (style.py)
      + noise * eps,  eps ~ N(0, 1)              # independent per ordered call
    P(first wins) = sigmoid(temperature * z)

Feature biases are set by name and dose, as keyword options (``lexical=1.0``,
``lexical_words=("delve", "unlock")``, ``tone=0.5``; in a spec
``simulated:lexical=1.0,lexical_words=delve|unlock,tone=0.5``) or, for user detectors, with
``features={"hedge": (r"\\bperhaps\\b", 0.5)}`` (a regex, a callable or a Feature, and β).
``style`` (a feature name or detector, or the judge's own reference answers: {prompt: answer}
or a .jsonl/.csv file of prompt, response) with ``style_preference`` models self-preference
that a policy trained on the judge's labels can pick up (``judges/style.py``).

``g`` comes from a ``quality(prompt, response)`` function when given, otherwise from the pair's
gold label (P(first better) mapped to [-1, 1]), otherwise it is 0. ``temperature`` > 1 makes the
judge over-confident by that factor, which temperature scaling (Guo et al. 2017) should recover.
The noise draw is seeded by a hash of (seed, prompt, first, second), so a judgment does not
depend on batch order and the same call always gives the same answer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit

from judgebench.judges.base import Judge, JudgeOutput, OrderedBatch
from judgebench.judges.features import FeatureBias, feature_bias
from judgebench.judges.style import make_style

_PARAMS = ("position", "verbosity", "self_preference", "self_model", "noise", "temperature",
           "strength", "seed", "name")


def simulated_logit(
    gold_diff: np.ndarray,
    log_len_ratio: np.ndarray,
    self_diff: np.ndarray,
    eps: np.ndarray,
    *,
    position: float,
    verbosity: float,
    self_preference: float,
    noise: float,
    strength: float,
) -> np.ndarray:
    """The simulated judge's logit of P(first wins) before the temperature (see module doc).

    Example:

    >>> z = simulated_logit(np.array([0.5]), np.log([2.0]), np.zeros(1), np.zeros(1),
    ...                     position=1.0, verbosity=1.0, self_preference=0.0, noise=0.0,
    ...                     strength=2.0)
    >>> z.round(3)   # 2 * 0.5 + 1.0 + log(2)
    array([2.693])
    """
    return (strength * gold_diff + position + verbosity * log_len_ratio
            + self_preference * self_diff + noise * eps)


class SimulatedJudge(Judge):
    """A seeded judge with known position, verbosity and self-preference biases.

    >>> j = SimulatedJudge(position=1.0, seed=0)
    >>> float(j.compare(["q"], ["same"], ["same"])[0].round(3))  # expit(1.0)
    0.731
    >>> j = SimulatedJudge(lexical=1.0)      # one tic more: +1 logit
    >>> float(j.compare(["q"], ["Let us delve in."], ["Let us look in."])[0].round(3))
    0.731
    """

    cacheable = False  # free and deterministic: nothing to save by caching
    chunk_size = 100_000

    def __init__(
        self,
        position: float = 0.0,
        verbosity: float = 0.0,
        self_preference: float = 0.0,
        self_model: str | None = None,
        noise: float = 0.0,
        temperature: float = 1.0,
        strength: float = 2.0,
        seed: int = 0,
        quality: Callable[[str, str], float] | None = None,
        name: str | None = None,
        features: Mapping[str, Any] | FeatureBias | None = None,
        style: Any = None,
        style_preference: float = 0.0,
        **feature_options: Any,
    ):
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0; got {temperature}.")
        if noise < 0:
            raise ValueError(f"noise must be >= 0 (a standard deviation); got {noise}.")
        if self_preference and not self_model:
            raise ValueError("self_preference needs self_model: the model name the judge favours.")
        self.position = float(position)
        self.verbosity = float(verbosity)
        self.self_preference = float(self_preference)
        self.self_model = self_model
        self.noise = float(noise)
        self.temperature = float(temperature)
        self.strength = float(strength)
        self.seed = int(seed)
        self.quality = quality
        self._name = name or "simulated"
        if style_preference and style is None:
            raise ValueError("style_preference needs style: a feature name or detector (e.g. "
                             "style=tone), or the judge's reference answers ({prompt: answer} "
                             "or a .jsonl/.csv file with prompt, response).")
        self.style = make_style(style)
        self.style_preference = float(style_preference)
        # Built-in doses (lexical=1.0, ...) and user features (name -> (detector, β)).
        self.features = features if isinstance(features, FeatureBias) else feature_bias(
            feature_options, features)

    def config(self) -> dict[str, Any]:
        """The parameters that set the judge's output."""
        cfg = {k: getattr(self, k) for k in _PARAMS if k != "name"}
        cfg["kind"] = "simulated"
        if self.features.features:  # absent when unused: old cache keys stay valid
            cfg["features"] = self.features.config()
        if self.style is not None:
            cfg["style"] = self.style.config()
            cfg["style_preference"] = self.style_preference
        cfg["quality"] = None if self.quality is None else getattr(
            self.quality, "__qualname__", repr(self.quality))
        return cfg

    def _gold_diff(self, batch: OrderedBatch) -> np.ndarray:
        if self.quality is not None:
            qf = np.array([self.quality(p, r) for p, r in zip(batch.prompts, batch.first)])
            qs = np.array([self.quality(p, r) for p, r in zip(batch.prompts, batch.second)])
            return qf - qs
        if batch.gold_first is not None:
            g = np.nan_to_num(np.asarray(batch.gold_first, dtype=float), nan=0.5)
            return 2.0 * g - 1.0
        return np.zeros(len(batch))

    def _eps(self, batch: OrderedBatch) -> np.ndarray:
        if self.noise == 0:
            return np.zeros(len(batch))
        eps = np.empty(len(batch))
        for i, (p, f, s) in enumerate(zip(batch.prompts, batch.first, batch.second)):
            digest = hashlib.blake2b(f"{self.seed}\x00{p}\x00{f}\x00{s}".encode(),
                                     digest_size=8).digest()
            eps[i] = np.random.default_rng(int.from_bytes(digest, "little")).standard_normal()
        return eps

    def _judge_batch(self, batch: OrderedBatch) -> JudgeOutput:
        len_f = np.array([max(len(x), 1) for x in batch.first], dtype=float)
        len_s = np.array([max(len(x), 1) for x in batch.second], dtype=float)
        self_diff = np.zeros(len(batch))
        if self.self_model is not None and batch.model_first is not None:
            self_diff = (np.array([m == self.self_model for m in batch.model_first], float)
                         - np.array([m == self.self_model for m in batch.model_second], float))
        z = simulated_logit(
            self._gold_diff(batch), np.log(len_f / len_s), self_diff, self._eps(batch),
            position=self.position, verbosity=self.verbosity,
            self_preference=self.self_preference, noise=self.noise, strength=self.strength,
        )
        if self.features:
            z = z + self.features.logit(batch.first, batch.second, batch.pair_ids)
        if self.style is not None and self.style_preference:
            z = z + self.style_preference * (
                self.style.score(batch.prompts, batch.first, batch.pair_ids)
                - self.style.score(batch.prompts, batch.second, batch.pair_ids))
        p = expit(self.temperature * z)
        return JudgeOutput(p_first=p, raw=[None] * len(batch))


def simulate_verdicts(
    n_pairs: int,
    *,
    seed: int,
    position: float = 0.0,
    verbosity: float = 0.0,
    self_preference: float = 0.0,
    noise: float = 1.0,
    temperature: float = 1.0,
    strength: float = 2.0,
    orders: tuple[str, ...] = ("12", "21"),
    judge: str = "simulated",
    models: tuple[str, ...] = ("model-a", "model-b", "model-c"),
    self_model: str = "model-a",
) -> pd.DataFrame:
    """A verdict table drawn without text, vectorised: for scale tests and estimator checks.

    Gold labels are Bernoulli draws from sigmoid(strength * quality difference), so a
    well-calibrated judge (temperature=1, no bias, no noise) reports exactly P(label).
    Lengths are log-normal; the quality difference is independent of the length ratio.

    Example:

    >>> v = simulate_verdicts(50, seed=0, position=1.0)
    >>> len(v), v.groupby("order").size().to_dict(), round(float(v["p_first"].mean()), 2)
    (100, {'12': 50, '21': 50}, 0.64)
    """
    rng = np.random.default_rng(seed)
    quality = rng.uniform(-1, 1, size=(n_pairs, 2))
    lens = np.maximum(rng.lognormal(mean=6.0, sigma=0.6, size=(n_pairs, 2)).round(), 1)
    model_idx = np.stack(
        [rng.integers(0, len(models), n_pairs), rng.integers(0, len(models), n_pairs)], axis=1)
    model_names = np.asarray(models)[model_idx]
    is_self = (model_names == self_model).astype(float)
    true_logit = strength * (quality[:, 0] - quality[:, 1])
    label = np.where(rng.random(n_pairs) < expit(true_logit), 1.0, 2.0)
    frames = []
    for order in orders:
        f, s = (0, 1) if order == "12" else (1, 0)
        z = simulated_logit(
            quality[:, f] - quality[:, s], np.log(lens[:, f] / lens[:, s]),
            is_self[:, f] - is_self[:, s], rng.standard_normal(n_pairs),
            position=position, verbosity=verbosity, self_preference=self_preference,
            noise=noise, strength=strength,
        )
        p_first = expit(temperature * z)
        frames.append(pd.DataFrame({
            "pair_id": np.char.add("p", np.arange(n_pairs).astype(str)),
            "judge": judge,
            "order": order,
            "p_first": p_first,
            "p_1": p_first if order == "12" else 1.0 - p_first,
            "failed": False,
            "len_1": lens[:, 0].astype(np.int64),
            "len_2": lens[:, 1].astype(np.int64),
            "label": label,
            "model_1": model_names[:, 0],
            "model_2": model_names[:, 1],
            "quality_1": quality[:, 0],
            "quality_2": quality[:, 1],
        }))
    return pd.concat(frames, ignore_index=True)
