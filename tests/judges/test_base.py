"""The Judge base class machinery: progress labels."""

from __future__ import annotations

import pytest

from judgebench.judges.base import progress_label
from judgebench.judges.simulated import SimulatedJudge


def test_progress_label_prefixes_the_bar(small_pairs, monkeypatch):
    import judgebench.judges.base as base

    seen = []

    class Bar:
        def __init__(self, *a, desc="", **k):
            seen.append(desc)

        def update(self, n):
            pass

        def close(self):
            pass

    monkeypatch.setattr(base, "tqdm", Bar)
    judge = SimulatedJudge(seed=0)
    judge.judge(small_pairs, orders=("12",))
    with progress_label("probes: padding"):
        judge.judge(small_pairs, orders=("12",))
    judge.judge(small_pairs, orders=("12",))
    assert seen == ["simulated [12]", "probes: padding · simulated [12]", "simulated [12]"]


def test_progress_label_resets_after_an_error():
    from judgebench.judges.base import _PROGRESS_LABEL

    with pytest.raises(RuntimeError), progress_label("x"):
        raise RuntimeError
    assert _PROGRESS_LABEL.get() is None
