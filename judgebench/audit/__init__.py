"""Bias audits: position, verbosity, self-preference, counterfactual probes, agreement.

The bootstrap every audit reports through is the package's one uncertainty layer,
:mod:`judgebench.stats` (``Estimate``, ``bootstrap_ci``).
"""

from judgebench.audit.suite import run_audit

__all__ = ["run_audit"]
