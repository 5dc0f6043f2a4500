"""Bias audits: position, verbosity, self-preference, counterfactual probes, agreement."""

from judgebench.audit.stats import Estimate, bootstrap_ci
from judgebench.audit.suite import run_audit

__all__ = ["Estimate", "bootstrap_ci", "run_audit"]
