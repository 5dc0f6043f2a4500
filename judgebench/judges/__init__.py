"""Judges: anything that says which of two responses is better, as a probability."""

from judgebench.judges.base import Judge, JudgeOutput, OrderedBatch
from judgebench.judges.cache import VerdictCache
from judgebench.judges.simulated import SimulatedJudge, simulate_verdicts

__all__ = ["Judge", "JudgeOutput", "OrderedBatch", "SimulatedJudge", "VerdictCache",
           "simulate_verdicts"]
