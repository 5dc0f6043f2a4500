"""The loop's four steps, one small unit each (run in this order every iteration):

* :class:`~judgebench.rlaif.steps.generate.GenerateStep`: k candidates per training prompt and
  one response per held-out prompt -> iter-NNN/samples.parquet, eval.parquet;
* :class:`~judgebench.rlaif.steps.judge.JudgeStep`: pairs, the judge in both orders (or one
  random order), the failure guard, calibration, labels -> verdicts_*, labels, train_pairs;
* :class:`~judgebench.rlaif.steps.instrument.InstrumentStep`: the propagation metrics ->
  iter-NNN/metrics.json (and the tracker);
* :class:`~judgebench.rlaif.steps.train.TrainStep`: the DPO / RM + GRPO / RLOO / direct update
  -> checkpoints/iter-(NNN+1)/policy.

Each has ``name``, ``run(i)`` (read inputs from the run folder, write outputs there; the loop
records the step in state.json only afterwards) and ``after(i)`` (what follows a recorded
step, main process only). ``judgebench.rlaif.loop`` builds them and runs them in order.
"""
