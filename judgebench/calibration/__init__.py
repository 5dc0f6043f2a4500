"""Calibration: swap averaging, temperature/Platt/isotonic, ensembles, length control."""

from judgebench.calibration.pipeline import CalibratedJudge, Pipeline, run_calibration

__all__ = ["CalibratedJudge", "Pipeline", "run_calibration"]
