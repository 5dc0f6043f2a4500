"""The look every figure shares and the helpers the figure modules draw with: the scoped
style (:data:`STYLE`, :func:`styled`), the colour-blind-safe palette, an empty figure on the
Agg canvas and its PNG bytes, tick labels, CI error bars, "not available" panels and the
legend below the panels. It draws no figure of its own (judgebench.report.plots).
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable, Sequence
from typing import Any, ParamSpec, TypeVar

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator

_P = ParamSpec("_P")
_R = TypeVar("_R")

#: One look for every figure: readable sizes, light grid, no top/right spines.
STYLE = {
    "font.size": 10, "axes.titlesize": 11, "axes.titleweight": "bold", "axes.labelsize": 10,
    "xtick.labelsize": 9, "ytick.labelsize": 9, "legend.fontsize": 9, "legend.frameon": False,
    "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True,
    "grid.alpha": 0.3, "grid.linewidth": 0.6, "lines.linewidth": 1.8, "lines.markersize": 6,
    "figure.facecolor": "white", "savefig.facecolor": "white",
}
#: Okabe–Ito colours (distinguishable with colour-vision deficiency), black last.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#7F7F7F",
           "#000000")
REF = {"color": "#555555", "linestyle": "--", "linewidth": 1.0}
#: Width of every figure in inches (about 1000 px at the report's 110 dpi).
WIDTH = 9.5
DPI = 110

#: Behind a value label: a reference line passing under it stays visible but cannot cross it.
_LABEL_BOX = {"facecolor": "white", "edgecolor": "none", "alpha": 0.75, "pad": 1.0}


def styled(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run a figure or panel function under :data:`STYLE` (the style is scoped, never global).

    Example:

    >>> @styled
    ... def title_weight():
    ...     return mpl.rcParams["axes.titleweight"]
    >>> title_weight()      # STYLE's bold titles, inside the call only
    'bold'
    """
    @functools.wraps(fn)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with mpl.rc_context(STYLE):
            return fn(*args, **kwargs)
    return wrapper


def new_figure(height: float, width: float = WIDTH) -> Figure:
    """An empty constrained-layout figure on the Agg canvas.

    Example:

    >>> fig = new_figure(3.0)
    >>> fig.get_size_inches().tolist(), type(fig.canvas).__name__
    ([9.5, 3.0], 'FigureCanvasAgg')
    """
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def figure_png(fig: Figure, dpi: int = DPI) -> bytes:
    """The figure as PNG bytes.

    Example:

    >>> figure_png(new_figure(1.0, 1.0))[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
    True
    """
    buf = io.BytesIO()
    with mpl.rc_context(STYLE):
        fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def color(i: int) -> str:
    """The i-th series colour.

    Example:

    >>> color(0), color(1), color(len(PALETTE)) == color(0)   # the palette repeats
    ('#0072B2', '#D55E00', True)
    """
    return PALETTE[i % len(PALETTE)]


def short(text: Any, width: int = 28) -> str:
    """A tick label cut to ``width`` characters (full names are in the report's tables).

    Example:

    >>> short("a-very-long-judge-name", 10), short("sim")
    ('a-very-lo…', 'sim')
    """
    text = str(text)
    return text if len(text) <= width else text[: width - 1] + "…"


def ci_err(rows: pd.DataFrame) -> np.ndarray:
    """(2, n) error-bar lengths from estimate/ci_low/ci_high; 0 where a bound is missing.

    Example:

    >>> t = pd.DataFrame({"estimate": [0.8, 0.5], "ci_low": [0.7, np.nan],
    ...                   "ci_high": [0.85, 0.6]})
    >>> ci_err(t).round(2).tolist()
    [[0.1, 0.0], [0.05, 0.1]]
    """
    est = rows["estimate"].to_numpy(float)
    lo = np.nan_to_num(est - rows["ci_low"].to_numpy(float), nan=0.0)
    hi = np.nan_to_num(rows["ci_high"].to_numpy(float) - est, nan=0.0)
    return np.clip(np.vstack([lo, hi]), 0.0, None)


def _empty(ax: Any, text: str) -> None:
    """An axis that says what is missing instead of showing an empty frame."""
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, wrap=True,
            color="#555555")
    ax.xaxis.set_major_locator(NullLocator())
    ax.yaxis.set_major_locator(NullLocator())
    ax.grid(False)


def legend_columns(labels: Sequence[str], most: int = 4) -> int:
    """How many legend columns fit the figure width for these labels (at most ``most``).

    Example:

    >>> legend_columns(["raw", "calibrated"]), legend_columns(["x" * 50] * 3)
    (2, 2)
    """
    # About 120 characters of legend text fit across WIDTH at 9 pt; a handle takes ~6.
    longest = max((len(str(x)) for x in labels), default=1)
    return max(1, min(most, len(labels), 120 // (longest + 6)))


def _legend_below(fig: Figure, axes: Sequence[Any], ncol: int | None = None) -> None:
    """One legend for the figure, below the panels (constrained layout keeps it clear)."""
    seen: dict[str, Any] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(label, handle)
    if seen:
        fig.legend(list(seen.values()), list(seen), loc="outside lower center",
                   ncol=min(ncol or 4, legend_columns(list(seen))))
