"""Shared helpers for the calibration tests: real-data location and simulated panels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, logit

from judgebench.judges.simulated import simulate_verdicts

REALDATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "realdata"


@pytest.fixture
def realdata() -> Path:
    if not REALDATA.exists():
        pytest.skip(f"real judge logs not found at {REALDATA}")
    return REALDATA


def noisy_panel(n_pairs: int, noises: tuple[float, ...], seed: int) -> pd.DataFrame:
    """Judges that see the same pairs and gold, each with its own independent noise draw.

    simulate_verdicts with one seed gives every judge the *same* noise draws, so the panel is
    built from one noise-free judge plus independent N(0, noise_j) logit noise per call.
    """
    base = simulate_verdicts(n_pairs, seed=seed, noise=0.0)
    rng = np.random.default_rng(seed + 1000)
    frames = []
    for j, noise in enumerate(noises):
        z = logit(base["p_first"].to_numpy()) + noise * rng.standard_normal(len(base))
        p_first = expit(z)
        frames.append(base.assign(
            judge=f"judge{j}", p_first=p_first,
            p_1=np.where(base["order"] == "12", p_first, 1 - p_first)))
    return pd.concat(frames, ignore_index=True)
