"""The Judge protocol: ``compare`` gives P(first wins), ``judge`` gives a verdict table.

Every judge implements one method, :meth:`Judge._judge_batch`, on a batch of *ordered*
presentations. The base class turns that into :meth:`compare` (arrays in, P(first) out) and
:meth:`judge` (a pairs table in, a verdict table out, both orders by default, cached, with a
progress bar, resumable because finished chunks are in the cache before the next one starts).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from judgebench.verdicts import (
    ORDERS,
    label_to_p1,
    p1_from_p_first,
    text_length,
    validate_pairs,
)

# What the current judging pass is for ("probes: padding"), shown before the judge's name in the
# progress bar; set with progress_label(). A context variable, so threads do not mix labels.
_PROGRESS_LABEL: ContextVar[str | None] = ContextVar("judgebench_progress_label", default=None)


@contextmanager
def progress_label(label: str) -> Iterator[None]:
    """Label the progress bars of every ``judge()`` call in the block (e.g. a probe pass).

    >>> with progress_label("probes: padding"):  # doctest: +SKIP
    ...     judge.judge(padded)   # bar: "probes: padding · simulated [12]"
    """
    token = _PROGRESS_LABEL.set(label)
    try:
        yield
    finally:
        _PROGRESS_LABEL.reset(token)


@dataclass
class OrderedBatch:
    """A batch of ordered presentations: ``first`` is shown in slot A, ``second`` in slot B.

    ``model_first``/``model_second`` name who wrote each response and ``gold_first`` is
    P(first is truly better) from the pair's label; ``pair_ids`` (set by :meth:`Judge.judge`)
    let errors name the pair. Judges that do not use them ignore them.

    Example:

    >>> batch = OrderedBatch(prompts=["2+2?", "Capital of France?"], first=["4", "Paris"],
    ...                      second=["5", "Lyon"])
    >>> len(batch), batch.subset([1]).first
    (2, ['Paris'])
    """

    prompts: list[str]
    first: list[str]
    second: list[str]
    model_first: list[str | None] | None = None
    model_second: list[str | None] | None = None
    gold_first: np.ndarray | None = None
    pair_ids: list[str] | None = None

    def __len__(self) -> int:
        return len(self.prompts)

    def subset(self, idx: Sequence[int]) -> OrderedBatch:
        """The rows at ``idx``, in that order."""
        pick = lambda xs: None if xs is None else [xs[i] for i in idx]  # noqa: E731
        return OrderedBatch(
            prompts=pick(self.prompts),
            first=pick(self.first),
            second=pick(self.second),
            model_first=pick(self.model_first),
            model_second=pick(self.model_second),
            gold_first=None if self.gold_first is None else np.asarray(self.gold_first)[idx],
            pair_ids=pick(self.pair_ids),
        )


@dataclass
class JudgeOutput:
    """What a judge returns for a batch: P(first wins) per row (NaN where the call failed).

    Example:

    >>> out = JudgeOutput(p_first=[0.9, float("nan")], error=[None, "timed out"])
    >>> out.p_first.tolist(), out.n_tokens.tolist(), out.raw
    ([0.9, nan], [0, 0], [None, None])
    """

    p_first: np.ndarray
    raw: list[Any] = field(default_factory=list)
    n_tokens: np.ndarray | None = None
    latency_s: np.ndarray | None = None
    error: list[str | None] | None = None

    def __post_init__(self) -> None:
        n = len(self.p_first)
        self.p_first = np.asarray(self.p_first, dtype=float)
        if not self.raw:
            self.raw = [None] * n
        if self.n_tokens is None:
            self.n_tokens = np.zeros(n, dtype=np.int64)
        if self.latency_s is None:
            self.latency_s = np.full(n, np.nan)
        if self.error is None:
            self.error = [None] * n


class Judge(ABC):
    """A pairwise judge. Subclasses implement :meth:`_judge_batch` and :meth:`config`.

    Example:

    >>> import pandas as pd
    >>> class AlwaysFirst(Judge):
    ...     def config(self): return {"kind": "always-first"}
    ...     def _judge_batch(self, batch): return JudgeOutput(p_first=[0.75] * len(batch))
    >>> pairs = pd.DataFrame({"pair_id": ["p0"], "prompt": ["2+2?"], "response_1": ["4"],
    ...                       "response_2": ["5"]})
    >>> AlwaysFirst().judge(pairs, progress=False)[["order", "p_first", "p_1"]].values.tolist()
    [['12', 0.75, 0.75], ['21', 0.75, 0.25]]
    """

    #: Whether verdicts may be cached on disk (a free, deterministic judge need not be).
    cacheable: bool = True
    #: Rows per call to :meth:`_judge_batch` inside :meth:`judge` (also the resume granularity).
    chunk_size: int = 64

    @property
    def name(self) -> str:
        """The judge's name in the verdict table's ``judge`` column."""
        return getattr(self, "_name", None) or self.__class__.__name__

    @abstractmethod
    def config(self) -> dict[str, Any]:
        """Everything that changes the judge's output (the cache key is built from it)."""

    @abstractmethod
    def _judge_batch(self, batch: OrderedBatch) -> JudgeOutput:
        """Judge every ordered presentation in ``batch``."""

    # -- public API -------------------------------------------------------------------------

    def compare(
        self, prompts: Sequence[str], first: Sequence[str], second: Sequence[str]
    ) -> np.ndarray:
        """P(the response shown first wins) for each (prompt, first, second); NaN on failure.

        >>> from judgebench.judges.simulated import SimulatedJudge
        >>> SimulatedJudge(position=0.0, seed=0).compare(["q"], ["a"], ["a"]).round(2)
        array([0.5])
        """
        batch = OrderedBatch(list(prompts), list(first), list(second))
        _check_lengths(batch)
        return self._judge_batch(batch).p_first

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        """Pointwise scores; only judges with a pointwise mode implement it."""
        raise NotImplementedError(
            f"{self.name} has no pointwise mode; use a judge with a pointwise template "
            "(e.g. hf:PATH,template=pointwise-1-9) or compare() instead."
        )

    def judge(
        self,
        pairs: pd.DataFrame,
        orders: Sequence[str] = ORDERS,
        *,
        cache: Any = None,
        progress: bool = True,
    ) -> pd.DataFrame:
        """Judge every pair in each order and return the verdict table (DESIGN §1).

        ``cache`` is a :class:`~judgebench.judges.cache.VerdictCache` (or None): rows already in
        it cost no model call, and each finished chunk is written before the next starts.
        """
        from judgebench.judges.cache import cache_key

        pairs = validate_pairs(pairs)
        bad = [o for o in orders if o not in ORDERS]
        if bad or not orders:
            raise ValueError(f"orders must be a non-empty subset of {ORDERS}; got {orders!r}.")
        gold = pairs["label"].map(label_to_p1).to_numpy() if "label" in pairs else None
        frames = []
        for order in orders:
            batch = _ordered_batch(pairs, order, gold)
            out = self._judge_cached(batch, cache, cache_key, progress, order)
            frames.append(self._verdict_frame(pairs, order, out))
        return pd.concat(frames, ignore_index=True)

    # -- machinery --------------------------------------------------------------------------

    def _judge_cached(self, batch, cache, cache_key, progress, order) -> JudgeOutput:
        n = len(batch)
        p = np.full(n, np.nan)
        raw: list[Any] = [None] * n
        ntok = np.zeros(n, dtype=np.int64)
        lat = np.full(n, np.nan)
        err: list[str | None] = [None] * n
        use_cache = cache is not None and self.cacheable
        keys = (
            [cache_key(self.config(), batch.prompts[i], batch.first[i], batch.second[i])
             for i in range(n)]
            if use_cache
            else None
        )
        todo = list(range(n))
        if use_cache:
            hits = cache.get_many(keys)
            todo = []
            for i, key in enumerate(keys):
                if key in hits:
                    p[i], raw[i], ntok[i], lat[i] = hits[key]
                else:
                    todo.append(i)
        desc = f"{self.name} [{order}]"
        if _PROGRESS_LABEL.get():
            desc = f"{_PROGRESS_LABEL.get()} · {desc}"
        bar = tqdm(total=n, initial=n - len(todo), desc=desc,
                   disable=not progress, leave=False)
        for start in range(0, len(todo), self.chunk_size):
            idx = todo[start : start + self.chunk_size]
            t0 = time.perf_counter()
            out = self._judge_batch(batch.subset(idx))
            elapsed = time.perf_counter() - t0
            if len(out.p_first) != len(idx):
                raise RuntimeError(
                    f"{self.name} returned {len(out.p_first)} probabilities for {len(idx)} rows."
                )
            for j, i in enumerate(idx):
                p[i], raw[i], ntok[i], err[i] = (
                    out.p_first[j], out.raw[j], out.n_tokens[j], out.error[j])
                lat[i] = out.latency_s[j] if np.isfinite(out.latency_s[j]) else elapsed / len(idx)
            if use_cache:
                # Failures are not cached, so a rerun retries them instead of repeating them.
                cache.put_many(
                    [(keys[i], p[i], raw[i], int(ntok[i]), float(lat[i]))
                     for i in idx if np.isfinite(p[i])]
                )
            bar.update(len(idx))
        bar.close()
        return JudgeOutput(p_first=p, raw=raw, n_tokens=ntok, latency_s=lat, error=err)

    def _verdict_frame(self, pairs: pd.DataFrame, order: str, out: JudgeOutput) -> pd.DataFrame:
        p_first = np.clip(out.p_first, 0.0, 1.0)
        frame = pd.DataFrame(
            {
                "pair_id": pairs["pair_id"].to_numpy(),
                "judge": self.name,
                "order": order,
                "p_first": p_first,
                "p_1": p1_from_p_first(p_first, np.full(len(pairs), order)),
                "raw": out.raw,
                "failed": ~np.isfinite(out.p_first),
                "error": out.error,
                "latency_s": out.latency_s,
                "n_tokens": out.n_tokens,
                "len_1": text_length(pairs["response_1"]),
                "len_2": text_length(pairs["response_2"]),
            }
        )
        extra = pairs.drop(columns=["pair_id"]).reset_index(drop=True)
        extra = extra.drop(columns=[c for c in extra.columns if c in frame.columns])
        return pd.concat([frame, extra], axis=1)


def _ordered_batch(pairs: pd.DataFrame, order: str, gold: np.ndarray | None) -> OrderedBatch:
    r1, r2 = pairs["response_1"].tolist(), pairs["response_2"].tolist()
    m1 = pairs["model_1"].tolist() if "model_1" in pairs else None
    m2 = pairs["model_2"].tolist() if "model_2" in pairs else None
    ids = pairs["pair_id"].astype(str).tolist()
    if order == "12":
        return OrderedBatch(pairs["prompt"].tolist(), r1, r2, m1, m2, gold, ids)
    return OrderedBatch(
        pairs["prompt"].tolist(), r2, r1, m2, m1, None if gold is None else 1.0 - gold, ids
    )


def _check_lengths(batch: OrderedBatch) -> None:
    n = {len(batch.prompts), len(batch.first), len(batch.second)}
    if len(n) != 1:
        raise ValueError(
            f"prompts, first and second must have equal lengths; got {len(batch.prompts)}, "
            f"{len(batch.first)}, {len(batch.second)}."
        )
