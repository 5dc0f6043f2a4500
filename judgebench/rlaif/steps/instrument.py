"""The instrument step: iteration i's propagation measurements -> iter-NNN/metrics.json.

Held-out metrics (when the iteration evaluated), rollout metrics from the candidates, the
label-level biases, the traced features, a styled judge's style score, and the judge's own
position / length bias on this iteration's verdicts (propagation.py defines each). Once the
step is recorded the row also goes to the run's tracker, at the step where policy i was saved.

>>> InstrumentStep(cfg, run_dir, judge, tracker).run(0)   # doctest: +SKIP
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from judgebench.io import atomic_write, to_jsonable
from judgebench.judges.base import Judge
from judgebench.rlaif import labeling, propagation
from judgebench.rlaif.config import LoopConfig
from judgebench.rlaif.rundir import RunDir, step_seed
from judgebench.verdicts import load_table


class InstrumentStep:
    """Measure what iteration ``i``'s policy and labels show; log it to the tracker.

    Example:

    >>> from pathlib import Path
    >>> from types import SimpleNamespace
    >>> run_dir = RunDir(Path("runs/tiny"), LoopConfig(), SimpleNamespace(is_main_process=True))
    >>> step = InstrumentStep(LoopConfig(), run_dir, judge=None, tracker=None)
    >>> step.name, sorted(step.traced_features())
    ('instrument', ['format', 'lexical', 'listness', 'self_praise', 'tone'])
    """

    name = "instrument"

    def __init__(self, cfg: LoopConfig, run_dir: RunDir, judge: Judge | None, tracker: Any):
        self.cfg, self.dir, self.judge, self.tracker = cfg, run_dir, judge, tracker

    def run(self, i: int) -> None:
        """The propagation measurements of iteration ``i`` -> iter-NNN/metrics.json."""
        if not self.dir.main:
            return
        d = self.dir.iter_dir(i)
        row: dict[str, Any] = {"iteration": i, "evaluated": (d / "eval.parquet").exists()}
        cur = ini = eval_labels = None
        if row["evaluated"]:
            cur = load_table(d / "eval.parquet")
            ini = load_table(self.dir.iter_dir(0) / "eval.parquet")
            if (d / "verdicts_eval.parquet").exists():
                eval_labels = labeling.preference_labels(load_table(d / "verdicts_eval.parquet"))
            row.update(propagation.eval_metrics(cur, ini, eval_labels))
        samples = load_table(d / "samples.parquet")
        row.update(propagation.rollout_metrics(
            samples, load_table(self.dir.iter_dir(0) / "samples.parquet")))
        labels, kept = load_table(d / "labels.parquet"), load_table(d / "train_pairs.parquet")
        row.update(propagation.label_metrics(labels, kept))
        row.update(propagation.feature_metrics(self.traced_features(), cur, ini, samples, labels,
                                               eval_labels))
        style = getattr(self.judge, "style", None)
        if style is not None and cur is not None:
            # Self-preference that can propagate: how close the policy's held-out responses
            # are to the judge's own style (judges/style.py), now and vs iteration 0.
            now = style.score(cur["prompt"].tolist(), cur["response"].tolist())
            then = style.score(ini["prompt"].tolist(), ini["response"].tolist())
            row.update({"style_score": float(np.mean(now)),
                        "style_score_change": float(np.mean(now) - np.mean(then))})
        bias = propagation.judge_bias(load_table(d / "verdicts_train.parquet"),
                                      n_boot=self.cfg.instrument.n_boot,
                                      seed=step_seed(self.cfg.run.seed, i, "instrument"))
        row.update({f"judge_{k}": v for k, v in bias.items()})
        row.update(json.loads((d / "judge_stats.json").read_text()))
        atomic_write(d / "metrics.json", json.dumps(to_jsonable(row)))

    def after(self, i: int) -> None:
        """Log the recorded row to the tracker (main process), at policy i's step."""
        if self.cfg.run.report_to == "none":
            return
        from judgebench.rlaif.tracking import scalars

        row = json.loads((self.dir.iter_dir(i) / "metrics.json").read_text())
        self.tracker.log(scalars(row, "propagation/"), step=self.dir.tracker_step(i))

    def traced_features(self) -> dict[str, Any]:
        """The features traced per iteration: [instrument] features plus the judge's own."""
        from judgebench.judges.features import make_feature

        out = {name: make_feature(name) for name in self.cfg.instrument.features}
        bias = getattr(self.judge, "features", None)  # a simulated or biased: judge's doses
        for feat in getattr(bias, "features", ()):
            out[feat.name] = feat  # the judge's own definition (its word list, its regex)
        return out
