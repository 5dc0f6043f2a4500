"""A judge's own style, so that self-preference can reach a policy (DESIGN §6).

A judge that favours its own model by *name* cannot pass that bias to a policy: every pair the
loop labels holds two responses of the policy itself. What can propagate is a preference for
responses *close to the judge's own style*. A style is either

* a **detector** (:class:`DetectorStyle`): a feature of ``judges/features.py`` (a built-in name,
  a regex, a callable) whose value is "how much of my style this response has"; or
* **reference answers** (:class:`ReferenceStyle`): the judge's own answer per prompt; closeness
  is the cosine similarity of word counts (lowercased ``\\w+`` tokens) between a response and
  the reference for its prompt, in [0, 1] (0 for a prompt without a reference).

The simulated judge's logit gains ``style_preference * (s(first) - s(second))``.

>>> ReferenceStyle({"q": "the cat sat"}).score(["q", "q"], ["the cat sat", "a dog"]).tolist()
[1.0, 0.0]
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from judgebench.judges.features import FEATURES, Feature, as_feature, detect

_TOKEN = re.compile(r"\w+")


def word_cosine(a: str, b: str) -> float:
    """Cosine similarity of the word-count vectors of two texts (0 when either has no words).

    >>> round(word_cosine("a b", "a c"), 3)
    0.5
    """
    ca, cb = Counter(_TOKEN.findall(a.lower())), Counter(_TOKEN.findall(b.lower()))
    if not ca or not cb:
        return 0.0
    dot = sum(v * cb.get(k, 0) for k, v in ca.items())
    return dot / float(np.sqrt(sum(v * v for v in ca.values()) * sum(v * v for v in cb.values())))


@dataclass(frozen=True, eq=False)
class DetectorStyle:
    """Style = a feature's value on the response (the prompt is not used).

    Example:

    >>> style = DetectorStyle(as_feature("hedge", r"\\bperhaps\\b"))
    >>> style.score(["q", "q"], ["Perhaps, perhaps.", "Yes."]).tolist()
    [1.0, 0.0]
    """

    feature: Feature

    def score(self, prompts: Sequence[str], texts: Sequence[str],
              ids: Sequence[Any] | None = None) -> np.ndarray:
        """The detector on each text."""
        return detect(texts, self.feature, ids=ids, where="style")

    def config(self) -> dict[str, Any]:
        """The detector's config."""
        return {"detector": self.feature.config()}


@dataclass(frozen=True, eq=False)
class ReferenceStyle:
    """Style = closeness (word cosine) to the judge's own reference answer for the prompt.

    Example:

    >>> style = ReferenceStyle({"2+2?": "It is 4."})
    >>> style.score(["2+2?", "2+2?", "3+3?"], ["4, it is", "Five.", "It is 4."]).tolist()
    [1.0, 0.0, 0.0]
    """

    references: Mapping[str, str]

    def score(self, prompts: Sequence[str], texts: Sequence[str],
              ids: Sequence[Any] | None = None) -> np.ndarray:
        """Word cosine between each text and its prompt's reference (0 without one)."""
        return np.array([word_cosine(t, self.references[p]) if p in self.references else 0.0
                         for p, t in zip(prompts, texts)])

    def config(self) -> dict[str, Any]:
        """A digest of the references (they may be long)."""
        import hashlib

        blob = "\x00".join(f"{k}\x01{v}" for k, v in sorted(self.references.items()))
        return {"references": len(self.references),
                "sha": hashlib.blake2b(blob.encode(), digest_size=8).hexdigest()}


def make_style(style: Any) -> DetectorStyle | ReferenceStyle | None:
    """A style from a built-in feature name, a Feature/regex/callable, {prompt: reference}, or a
    table file (.jsonl/.csv/.parquet with columns prompt, response) of reference answers.

    >>> make_style("tone").feature.name
    'tone'
    """
    if style is None or isinstance(style, DetectorStyle | ReferenceStyle):
        return style
    if isinstance(style, Mapping):
        return ReferenceStyle(dict(style))
    if isinstance(style, str | Path) and Path(style).suffix in (".jsonl", ".csv", ".parquet",
                                                                 ".json"):
        return ReferenceStyle(_references(Path(style)))
    if isinstance(style, str) and style not in FEATURES:
        raise ValueError(f"style {style!r} is neither a built-in feature ({sorted(FEATURES)}) "
                         "nor a .jsonl/.csv/.parquet file of reference answers (columns prompt, "
                         "response).")
    return DetectorStyle(as_feature(str(style) if isinstance(style, str) else "style",
                                    None if isinstance(style, str) else style))


def _references(path: Path) -> dict[str, str]:
    from judgebench.verdicts import load_table

    if not path.exists():
        raise FileNotFoundError(f"No reference answers at {str(path)!r} (the judge's style).")
    table = load_table(path)
    missing = [c for c in ("prompt", "response") if c not in table.columns]
    if missing:
        raise ValueError(f"{path}: reference answers need columns prompt and response; missing "
                         f"{missing}.")
    dup = table["prompt"][table["prompt"].duplicated()]
    if len(dup):
        raise ValueError(f"{path}: prompt {dup.iloc[0]!r} has several reference answers (row "
                         f"{int(dup.index[0])}); keep one per prompt.")
    return dict(zip(table["prompt"].astype(str), table["response"].astype(str)))
