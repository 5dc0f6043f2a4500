"""Typed results: :class:`AuditResult`, :class:`CalibrationResult`, :class:`RunResult`,
:class:`SweepResult`.

``run_audit``, ``run_calibration``, ``run_loop`` and ``run_sweep`` return these instead of
bare dicts and lists (issue 16; modelled on inspect_ai's typed, versioned logs). Each result

* has ``.tables``: tidy DataFrames, first of all one row per measure (``tables["measures"]``
  for an audit, ``tables["metrics"]`` for a calibration) with judge, measure, estimate,
  ci_low, ci_high, n, n_failed and the decision columns; a run's ``metrics`` (one row per
  iteration) and ``measures``; a sweep's rows, cells, dose-response and paired tests;
* has ``.to_dict()``: exactly the JSON that ``audit.json`` / ``calibration.json`` hold, which
  are unchanged on disk (a run's config and rows, a sweep's three files);
* loads from a directory (``.load(dir)``) and, but for a sweep, saves to one (``.save(dir)``):
  the same files as before, plus a small manifest, ``.judgebench-result.json``, naming the
  kind of result, the result format version and the judgebench version that wrote it.
  Loading a directory written under another format names that version and what changed
  since. The loop and the sweep write their folders themselves, without a manifest: such a
  folder is read as the current format;
* shows itself as a compact table in a notebook (``_repr_html_``); a run and a sweep also
  draw themselves (``.plot(ax=None)`` returns a Display of ``judgebench.report.displays``);
* has one shape whatever the number of judges: ``result.judges`` always maps judge name ->
  that judge's block, where ``audit.json`` puts a lone judge's keys at its top level.

This package is the public path: ``from judgebench.results import AuditResult`` (or ``from
judgebench import AuditResult``). One module per result type (``audit``, ``calibration``,
``run``, ``sweep``) stands on ``_base``, which holds what they share: the manifest, the version
check with the one changelog of the saved format, the access kept for the transition and the
HTML table. The package is neutral (like ``stats.py`` and ``verdicts.py``): it imports no
stage, so audit/, calibration/, rlaif/ and report/ can all import it without importing each
other. (``.plot`` reaches the report through the package's lazy exports.) The rules the
report shares with the results live here once: :func:`metrics_frame` (a run's rows as a
table) and :func:`grid_axes` (a sweep's grid columns).

**Deprecated:** indexing a result like the dict it replaces (``result["position"]["p_first"]``,
``result.get("judges")``, ``"agreement" in result``, a sweep's ``result["settings"]``) still
works during the transition (each delegates to a view of the old dict) but will go; use
:meth:`AuditResult.measure`, :meth:`CalibrationResult.metric`, ``.tables`` or ``.to_dict()``.
A run stays the sequence of metrics rows that ``run_loop`` returned (``run[-1]``, ``len``):
that is what a run is, not a transition.

>>> from judgebench.judges.simulated import simulate_verdicts
>>> from judgebench.audit import run_audit
>>> res = run_audit(simulate_verdicts(100, seed=0, position=1.0), n_boot=50)
>>> res.measure("position.offset_logit")["ci"][0] > 0.5
True
>>> list(res.tables["measures"].columns[:7])
['judge', 'measure', 'estimate', 'ci_low', 'ci_high', 'n', 'n_failed']
"""

from judgebench.results._base import CHANGES, MANIFEST, RESULT_FORMAT
from judgebench.results.audit import AUDIT_COLUMNS, AUDIT_CSV, AuditResult
from judgebench.results.calibration import CALIBRATION_COLUMNS, CalibrationResult
from judgebench.results.run import RUN_MEASURE_COLUMNS, RunResult, metrics_frame
from judgebench.results.sweep import SweepResult, grid_axes, propagation_rows, study_tables

__all__ = ["AUDIT_COLUMNS", "AUDIT_CSV", "AuditResult", "CALIBRATION_COLUMNS", "CHANGES",
           "CalibrationResult", "MANIFEST", "RESULT_FORMAT", "RUN_MEASURE_COLUMNS", "RunResult",
           "SweepResult", "grid_axes", "metrics_frame", "propagation_rows", "study_tables"]
