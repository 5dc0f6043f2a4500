"""What every benchmark shares: the machine's description, a matmul reference rate, spreads.

The machines these run on are shared and noisy, so no figure stands alone: each is either a
ratio of two things measured side by side in the same run, or a median with its interquartile
range over interleaved repeats (``spread``).
"""

from __future__ import annotations

import json
import os
import platform
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from judgebench.io import atomic_write

RESULTS = Path(__file__).resolve().parent / "results"


def spread(values: list[float] | np.ndarray) -> dict[str, Any]:
    """Median, quartiles and IQR of repeated measurements (NaNs dropped), with the values."""
    x = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=float)
    if not len(x):
        return {"median": None, "q1": None, "q3": None, "iqr": None, "n": 0, "values": []}
    q1, med, q3 = np.percentile(x, [25, 50, 75])
    return {"median": float(med), "q1": float(q1), "q3": float(q3), "iqr": float(q3 - q1),
            "n": int(len(x)), "values": [float(v) for v in x]}


def fmt(s: dict[str, Any] | None, digits: int = 2, unit: str = "") -> str:
    """``median [q1, q3]`` for a table cell; '-' when nothing was measured."""
    if not s or s.get("median") is None:
        return "-"
    f = f"{{:.{digits}f}}"
    return f"{f.format(s['median'])}{unit} [{f.format(s['q1'])}, {f.format(s['q3'])}]"


def fmt_sci(s: dict[str, Any] | None) -> str:
    """``median [q1, q3]`` in scientific notation, for very small shares."""
    if not s or s.get("median") is None:
        return "-"
    return f"{s['median']:.1e} [{s['q1']:.1e}, {s['q3']:.1e}]"


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (platform's guess elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict[str, Any]:
    """CPU model, cores, load, torch/transformers versions and threads, and the GPU if any."""
    import transformers

    info: dict[str, Any] = {
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "load_avg_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
        info["cuda"] = torch.version.cuda
    return info


def sync(device: torch.device | str | None) -> None:
    """Wait for queued GPU work so that a wall-clock timing covers it."""
    if device is not None and torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def matmul_gflops(n: int | None = None, dtype: torch.dtype = torch.float32,
                  device: str | torch.device = "cpu", min_time_s: float = 0.4) -> float:
    """This machine's dense matmul rate now: GFLOP/s of one large ``torch.mm`` (2 n^3 FLOPs).

    Run beside each judge timing, so that the share of it a judge reaches is taken under the
    same load. ``n`` defaults to 2048 on CPU and 8192 on a GPU (which a smaller product
    cannot fill).
    """
    if n is None:
        n = 8192 if torch.device(device).type == "cuda" else 2048
    a = torch.randn(n, n, dtype=dtype, device=device)
    b = torch.randn(n, n, dtype=dtype, device=device)
    torch.mm(a, b)  # first call: allocation and kernel selection, not timed
    sync(device)
    reps, t0 = 0, time.perf_counter()
    while True:
        torch.mm(a, b)
        reps += 1
        sync(device)
        elapsed = time.perf_counter() - t0
        if elapsed >= min_time_s:
            return 2.0 * n**3 * reps / elapsed / 1e9


def peak_rss_mb() -> float:
    """This process's peak resident memory so far (MiB; Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / (1024 if sys.platform == "darwin" else 1)


def write_json(name: str, payload: dict[str, Any], results: Path = RESULTS) -> Path:
    """Write ``results/NAME.json`` (pretty, sorted keys) and return its path."""
    # NaN stays NaN here (json's default), unlike judgebench.io.to_jsonable: only the
    # types json cannot write pass through _jsonable.
    text = json.dumps(payload, indent=1, sort_keys=True, default=_jsonable) + "\n"
    return atomic_write(results / f"{name}.json", text)


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)
