"""judgebench: measure, correct and trace the biases of AI judges used for RLAIF.

The Python API in five lines (README):

>>> from judgebench import bundled_pairs, load_judge, run_audit, run_calibration
>>> verdicts = load_judge("simulated:position=1.0,seed=0").judge(bundled_pairs().head(60),
...                                                                progress=False)
>>> audit = run_audit(verdicts, seed=0, n_boot=50)
>>> audit.measure("position.offset_logit")["estimate"] > 0.5
True
>>> run_calibration(verdicts, ["swap"], seed=0, n_boot=50).metric(
...     "swap", "position_consistency")["estimate"]
1.0

The names are imported on first use, not at ``import judgebench``: a judge module may pull
torch, and the CLI's ``--help`` or ``__version__`` must not pay for it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: Public name -> the module that defines it (one home per concept).
_EXPORTS = {
    "load_judge": "judgebench.judges.spec",
    "bundled_pairs": "judgebench.verdicts",
    "run_audit": "judgebench.audit.suite",
    "run_calibration": "judgebench.calibration.pipeline",
    "AuditResult": "judgebench.results",
    "CalibrationResult": "judgebench.results",
    "RunResult": "judgebench.results",
    "SweepResult": "judgebench.results",
    "PositionDisplay": "judgebench.report.displays",
    "VerbosityDisplay": "judgebench.report.displays",
    "CalibrationDisplay": "judgebench.report.displays",
    "PropagationDisplay": "judgebench.report.displays",
    "DoseResponseDisplay": "judgebench.report.displays",
}

__all__ = ["AuditResult", "CalibrationDisplay", "CalibrationResult", "DoseResponseDisplay",
           "PositionDisplay", "PropagationDisplay", "RunResult", "SweepResult",
           "VerbosityDisplay", "__version__", "bundled_pairs", "load_judge", "run_audit",
           "run_calibration"]

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from judgebench.audit.suite import run_audit
    from judgebench.calibration.pipeline import run_calibration
    from judgebench.judges.spec import load_judge
    from judgebench.report.displays import (
        CalibrationDisplay,
        DoseResponseDisplay,
        PositionDisplay,
        PropagationDisplay,
        VerbosityDisplay,
    )
    from judgebench.results import AuditResult, CalibrationResult, RunResult, SweepResult
    from judgebench.verdicts import bundled_pairs


def __getattr__(name: str) -> Any:
    """Import an exported name on first access (PEP 562)."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'judgebench' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
