"""Shared fixtures: small pairs tables and the path to shared/realdata (tests only)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

REALDATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "realdata"


@pytest.fixture
def realdata() -> Path:
    """shared/realdata, or skip when this checkout has none beside it."""
    if not REALDATA.exists():
        pytest.skip("../shared/realdata is not present beside this checkout")
    return REALDATA.resolve()


@pytest.fixture
def small_pairs() -> pd.DataFrame:
    """Six labelled pairs with different lengths and writers."""
    return pd.DataFrame({
        "pair_id": [f"p{i}" for i in range(6)],
        "prompt": ["What is 2+2?", "Capital of France?", "Name a colour.",
                   "Say hi.", "What is 3*3?", "Largest planet?"],
        "response_1": ["4", "Paris", "Blue, a calm colour that many people like a lot.",
                       "Hi", "9", "Jupiter is the largest planet."],
        "response_2": ["5", "Lyon is the capital of France, a lovely city.", "Red",
                       "Hello there, friend!", "6", "Mars"],
        "label": [1, 1, 0.5, 2, 1, 1],
        "model_1": ["a", "b", "a", "b", "a", "b"],
        "model_2": ["b", "a", "b", "a", "b", "a"],
        "topic": ["math", "geo", "misc", "misc", "math", "space"],
    })
