"""Composing calibration steps: ``Pipeline``, ``CalibratedJudge`` and ``run_calibration``.

A :class:`Pipeline` fits its steps in order (each on the previous steps' output) and saves to
JSON, fitted state included (no pickle). :class:`CalibratedJudge` wraps any
:class:`~judgebench.judges.base.Judge` so that ``judge()`` returns calibrated verdicts.
:func:`run_calibration` is what ``judgebench calibrate`` runs: split by pair, fit on one part,
report every stage on the other (docs/design/calibration.md).

>>> from judgebench.judges.simulated import simulate_verdicts
>>> v = simulate_verdicts(2000, seed=0, temperature=3.0, noise=0.0)
>>> pipe = Pipeline(["swap", "temperature"]).fit(v)
>>> 2.7 < pipe.steps_[1].temperature_["simulated"] < 3.3
True
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from judgebench.audit.position import position_bias
from judgebench.audit.verbosity import length_slope, pair_lengths, quality_covariate
from judgebench.calibration.base import NotFittedError, Step, make_step, prepare
from judgebench.calibration.metrics import calibration_metrics, reliability_table
from judgebench.io import to_jsonable
from judgebench.judges.base import Judge, JudgeOutput, OrderedBatch
from judgebench.results import CalibrationResult
from judgebench.stats import Estimate, per_pair
from judgebench.verdicts import ORDERS, load_table

PIPELINE_FORMAT = "judgebench.calibration.pipeline"
PIPELINE_VERSION = 1
_FIT_EVAL = {"fit", "eval"}
#: Pair columns the audit functions read (lengths, texts, gold, simulated quality).
_PAIR_COLS = ["len_1", "len_2", "response_1", "response_2", "label", "quality_1", "quality_2"]


class Pipeline:
    """Calibration steps applied in order; ``fit`` fits each on the previous steps' output.

    ``steps`` is a list of ``(name, step)`` pairs, as in scikit-learn's Pipeline; a step is a
    :class:`Step` or a registered name (``"swap"``, ``"ensemble:majority"``). A bare step or
    name is named after the step's registered name, ``NAME#2`` for the second of a kind (the
    stage keys of calibration.json). ``get_params``/``set_params`` follow scikit-learn
    (``pipe.set_params(temperature__clip=1e-3)``), so ``sklearn.base.clone(pipe)`` gives an
    unfitted copy. The names are not saved: :meth:`from_json` names steps the default way.

    >>> pipe = Pipeline([("pos", "swap"), ("temp", make_step("temperature"))])
    >>> list(pipe.named_steps), pipe.get_params()["temp__clip"]
    (['pos', 'temp'], 1e-06)
    >>> list(Pipeline(["temperature", "temperature"]).named_steps)
    ['temperature', 'temperature#2']
    """

    def __init__(self, steps: Sequence[Step | str | tuple[str, Step | str]]):
        self.steps = steps

    def _specs(self) -> list[tuple[str, Step | str]]:
        """``(name, step or registered name)`` per step, in order; names checked."""
        entries = []
        for entry in self.steps:
            if isinstance(entry, tuple | list):
                if len(entry) != 2 or not isinstance(entry[0], str):
                    raise ValueError(f"A pipeline step is a Step, a registered name or a "
                                     f"(name, step) pair; got {entry!r}.")
                entries.append((entry[0], entry[1]))
            else:
                entries.append((None, entry))
        for _, spec in entries:
            if not isinstance(spec, Step | str):
                raise ValueError(f"A pipeline step is a Step, a registered name or a (name, "
                                 f"step) pair; got {type(spec).__name__} {spec!r}.")
        kinds = [spec.name if isinstance(spec, Step) else make_step(spec).name
                 for _, spec in entries]
        names = [given if given is not None else key
                 for (given, _), key in zip(entries, _stage_keys(kinds))]
        bad = sorted({n for n in names if names.count(n) > 1 or "__" in n or n == "steps"})
        if bad:
            raise ValueError(f"Pipeline step names must be unique, without '__' and not "
                             f"'steps'; got {names}. Rename {bad}.")
        return [(name, spec) for name, (_, spec) in zip(names, entries)]

    # -- the sklearn contract -----------------------------------------------------------------

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """``{"steps": steps}``; with ``deep`` also each step by name and its ``NAME__PARAM``.

        A step given by its registered name has no parameters to list (it is built at fit).
        """
        out: dict[str, Any] = {"steps": self.steps}
        if deep:
            for name, spec in self._specs():
                out[name] = spec
                if isinstance(spec, Step):
                    out.update({f"{name}__{k}": v for k, v in spec.get_params(deep=True).items()})
        return out

    def set_params(self, **params: Any) -> Pipeline:
        """Set ``steps``, replace a step by name, or set ``NAME__PARAM``; returns self.

        Changing which steps there are drops the fitted state (fit again); a parameter set on
        a fitted step object changes that object, as in scikit-learn.
        """
        if "steps" in params:
            self.steps = params.pop("steps")
            self.__dict__.pop("steps_", None)
        specs = self._specs()
        swap = {k: params.pop(k) for k in list(params) if k in dict(specs)}
        if swap:
            self.steps = [(name, swap.get(name, spec)) for name, spec in specs]
            self.__dict__.pop("steps_", None)
            specs = self._specs()  # checks the new steps now, not at the next fit
        by_name = dict(specs)
        nested: dict[str, dict[str, Any]] = {}
        for key, value in params.items():
            name, _, sub = key.partition("__")
            if not sub or name not in by_name:
                raise ValueError(f"Invalid parameter {key!r} for Pipeline; valid: 'steps', a "
                                 f"step name of {list(by_name)} or 'NAME__PARAM'.")
            if not isinstance(by_name[name], Step):
                raise ValueError(f"Step {name!r} is given by its name {by_name[name]!r}, which "
                                 f"has no parameters to set; give a step object instead, e.g. "
                                 f"set_params({name}=make_step({by_name[name]!r}, ...)).")
            nested.setdefault(name, {})[sub] = value
        for name, sub_params in nested.items():
            by_name[name].set_params(**sub_params)
        return self

    @property
    def named_steps(self) -> dict[str, Step]:
        """The steps by their names in this pipeline (see class doc), fitted once fitted."""
        return dict(zip([name for name, _ in self._specs()], self._built()))

    @property
    def names(self) -> list[str]:
        """The steps' registered names, in order."""
        return [s.name for s in self._built()]

    def _built(self) -> list[Step]:
        if hasattr(self, "steps_"):
            return self.steps_
        return [make_step(s) if isinstance(s, str) else s for _, s in self._specs()]

    def fit(self, verdicts: pd.DataFrame) -> Pipeline:
        """Fit every step in order on ``verdicts`` (the fit split); returns self."""
        steps = self._built()
        if not steps:
            raise ValueError("A calibration pipeline needs at least one step; got none. "
                             "Pass e.g. ['swap', 'temperature'].")
        table = verdicts
        for step in steps:
            table = step.fit_transform(table)
        self.steps_ = steps
        return self

    def transform(self, verdicts: pd.DataFrame, upto: int | None = None) -> pd.DataFrame:
        """Apply the fitted steps (the first ``upto`` of them when given)."""
        if not hasattr(self, "steps_"):
            raise NotFittedError("The pipeline is not fitted; call .fit(verdicts) on the fit "
                                 "split first or load one with Pipeline.from_json.")
        table = verdicts
        for step in self.steps_[:upto]:
            table = step.transform(table)
        return table

    def fit_transform(self, verdicts: pd.DataFrame) -> pd.DataFrame:
        """``fit(verdicts).transform(verdicts)``."""
        return self.fit(verdicts).transform(verdicts)

    # -- JSON -----------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict of every step's name, arguments and fitted state."""
        return {"format": PIPELINE_FORMAT, "version": PIPELINE_VERSION,
                "steps": [s.to_dict() for s in self._built()]}

    def to_json(self, path: str | Path | None = None) -> str:
        """The pipeline as JSON text; also written to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=2, allow_nan=False)
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(text)
        return text

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> Pipeline:
        """Rebuild a pipeline (fitted if it was saved fitted) from :meth:`to_dict`'s output."""
        if not isinstance(spec, dict) or spec.get("format") != PIPELINE_FORMAT:
            raise ValueError(f"Not a saved calibration pipeline: 'format' must be "
                             f"{PIPELINE_FORMAT!r}. Save one with Pipeline.to_json().")
        if spec.get("version") != PIPELINE_VERSION:
            raise ValueError(f"Saved pipeline 'version' {spec.get('version')!r} is not "
                             f"supported (this judgebench reads {PIPELINE_VERSION}).")
        steps = [Step.from_dict(s) for s in spec["steps"]]
        pipe = cls(steps)
        if steps and all(s.is_fitted() for s in steps):
            pipe.steps_ = steps
        return pipe

    @classmethod
    def from_json(cls, source: str | Path) -> Pipeline:
        """Load from JSON text or from a file path."""
        text = str(source)
        if isinstance(source, Path) or not text.lstrip().startswith("{"):
            text = Path(source).read_text()
        return cls.from_dict(json.loads(text))

    def __repr__(self) -> str:
        return f"Pipeline({self._built()!r})"


class CalibratedJudge(Judge):
    """A judge whose verdicts pass through a fitted calibration pipeline.

    ``judge()`` returns the verdict table with p_1/p_first calibrated, the judge's own numbers in
    ``p_1_raw``/``p_first_raw`` and ``judge`` = "<inner name>|<step+step>". Fit it first on a
    labelled verdict table of the inner judge (or on pairs, which it judges for you).

    Example:

    >>> from judgebench.judges.simulated import SimulatedJudge
    >>> from judgebench.verdicts import bundled_pairs
    >>> judge = CalibratedJudge(SimulatedJudge(position=1.0), ["swap"]).fit(bundled_pairs().head(3))
    >>> SimulatedJudge(position=1.0).compare(["2+2?"], ["4"], ["4"]).round(3).tolist()
    [0.731]
    >>> judge.name, judge.compare(["2+2?"], ["4"], ["4"]).round(3).tolist()  # same answer twice
    ('simulated|swap', [0.5])
    """

    cacheable = False  # the inner judge caches its raw calls; calibration is cheap

    def __init__(self, judge: Judge, steps: Sequence[Step | str] | Pipeline):
        self.base_judge = judge
        self.pipeline = steps if isinstance(steps, Pipeline) else Pipeline(steps)

    @property
    def name(self) -> str:
        """The inner judge's name and the steps, e.g. ``"simulated|swap+temperature"``."""
        return f"{self.base_judge.name}|{'+'.join(self.pipeline.names)}"

    def config(self) -> dict[str, Any]:
        """The inner judge's config and the pipeline (fitted state included)."""
        return {"kind": "calibrated", "judge": self.base_judge.config(),
                "pipeline": self.pipeline.to_dict()}

    def _orders(self) -> tuple[str, ...]:
        both = any(s.needs_both_orders for s in self.pipeline._built())
        return ORDERS if both else ("12",)

    def fit(self, data: pd.DataFrame, *, cache: Any = None, progress: bool = False
            ) -> CalibratedJudge:
        """Fit the pipeline on a verdict table (or on pairs, judged here first); returns self."""
        if "order" not in data.columns:
            data = self.base_judge.judge(data, orders=self._orders(), cache=cache,
                                         progress=progress)
        self.pipeline.fit(data)
        return self

    def judge(self, pairs: pd.DataFrame, orders: Sequence[str] = ORDERS, *, cache: Any = None,
              progress: bool = True) -> pd.DataFrame:
        """Judge with the inner judge, then calibrate (see class doc)."""
        if self._orders() == ORDERS and set(orders) != set(ORDERS):
            raise ValueError(f"This pipeline ({self.pipeline.names}) needs both orders; got "
                             f"orders={tuple(orders)!r}. Use orders=('12', '21').")
        raw = self.base_judge.judge(pairs, orders=orders, cache=cache, progress=progress)
        out = self.pipeline.transform(raw)
        out["judge"] = self.name
        return out

    def compare(self, prompts: Sequence[str], first: Sequence[str], second: Sequence[str]
                ) -> np.ndarray:
        """Calibrated P(first wins); judges both orders when the pipeline swaps."""
        pairs = pd.DataFrame({"pair_id": [str(i) for i in range(len(prompts))],
                              "prompt": list(prompts), "response_1": list(first),
                              "response_2": list(second)})
        out = self.judge(pairs, orders=self._orders(), progress=False)
        out = out[out["order"] == "12"].set_index("pair_id").reindex(pairs["pair_id"])
        return out["p_1"].to_numpy(dtype=float)

    def _judge_batch(self, batch: OrderedBatch) -> JudgeOutput:
        return JudgeOutput(p_first=self.compare(batch.prompts, batch.first, batch.second))


# ---------------------------------------------------------------------------------------------
# Splitting and evaluation


def split_pairs(verdicts: pd.DataFrame, *, fit_frac: float = 0.5, seed: int,
                split_col: str | None = None) -> tuple[list[str], list[str]]:
    """(fit pair_ids, eval pair_ids): disjoint; every row of a pair lands on one side.

    Without ``split_col`` pairs are shuffled with ``seed`` and the first ``fit_frac`` fit. With
    it, rows whose ``split_col`` is exactly "fit"/"eval" are used as given; any other values are
    groups (e.g. 'prompt', 'source') assigned whole to one side until ``fit_frac`` is reached.

    Example:

    >>> from judgebench.judges.simulated import simulate_verdicts
    >>> v = simulate_verdicts(10, seed=0)
    >>> fit, held_out = split_pairs(v, fit_frac=0.6, seed=0)
    >>> len(fit), len(held_out), set(fit).isdisjoint(held_out)
    (6, 4, True)
    """
    if not 0.0 < float(fit_frac) < 1.0:
        raise ValueError(f"fit_frac must be strictly between 0 and 1; got {fit_frac!r}.")
    ids = np.array(sorted(verdicts["pair_id"].astype(str).unique()))
    if len(ids) < 2:
        raise ValueError(f"Calibration needs at least 2 pairs to split into fit and eval; "
                         f"'pair_id' has {len(ids)}.")
    rng = np.random.default_rng(seed)
    if split_col is None:
        perm = ids[rng.permutation(len(ids))]
        n_fit = int(np.clip(round(fit_frac * len(ids)), 1, len(ids) - 1))
        return sorted(perm[:n_fit]), sorted(perm[n_fit:])
    if split_col not in verdicts.columns:
        raise ValueError(f"split_col {split_col!r} is not a column of the verdicts; choose one "
                         f"of {list(verdicts.columns)} or leave it unset to split by pair.")
    per_pair = verdicts.groupby(verdicts["pair_id"].astype(str))[split_col]
    if per_pair.nunique(dropna=False).max() > 1 or verdicts[split_col].isna().any():
        raise ValueError(f"split_col {split_col!r} must hold one non-missing value per pair_id "
                         "(all rows of a pair go to the same side); it varies or is missing.")
    value = per_pair.first().astype(str)
    if set(value.unique()) <= _FIT_EVAL:
        fit, ev = value[value == "fit"].index, value[value == "eval"].index
    else:
        groups = np.array(sorted(value.unique()))
        groups = groups[rng.permutation(len(groups))]
        sizes = value.value_counts()
        taken, fit_groups = 0, []
        for g in groups:
            if taken >= fit_frac * len(value):
                break
            fit_groups.append(g)
            taken += sizes[g]
        fit, ev = value[value.isin(fit_groups)].index, value[~value.isin(fit_groups)].index
    if len(fit) == 0 or len(ev) == 0:
        raise ValueError(f"split_col {split_col!r} puts every pair on one side (fit: {len(fit)},"
                         f" eval: {len(ev)}); give it at least two groups (or 'fit'/'eval').")
    return sorted(fit), sorted(ev)


def evaluate(verdicts: pd.DataFrame, *, n_boot: int = 1000, seed: int) -> dict[str, Any]:
    """Every calibration-report metric of one verdict table, each {"estimate", "ci", "n"}.

    Example:

    >>> from judgebench.judges.simulated import simulate_verdicts
    >>> r = evaluate(simulate_verdicts(100, seed=0, temperature=2.0), n_boot=50, seed=0)
    >>> {k: round(r[k]["estimate"], 3) for k in ("accuracy", "ece", "position_consistency")}
    {'accuracy': 0.775, 'ece': 0.125, 'position_consistency': 0.79}
    >>> r["n_rows"], r["judges"]
    (200, ['simulated'])
    """
    out: dict[str, Any] = {k: v.to_dict() for k, v in
                           calibration_metrics(verdicts, n_boot=n_boot, seed=seed).items()}
    # Position measures pool the (judge, pair) units of every judge in the table.
    pp = per_pair(verdicts, _PAIR_COLS)
    pos = position_bias(pp["p_12"].to_numpy(), pp["p_21"].to_numpy(), n_boot=n_boot, seed=seed)
    out["position_consistency"] = pos["consistency"].to_dict()
    out["p_first_wins"] = pos["p_first"].to_dict()
    # The audit's slope: swap-averaged win on tanh(dlen / sd), gold as covariate when present.
    lens = pair_lengths(pp)
    if lens is None:
        out["length_slope"] = Estimate(np.nan, np.nan, np.nan, 0).to_dict()
    else:
        cov, _ = quality_covariate(pp)
        out["length_slope"] = length_slope(pp["p_12"].to_numpy(), pp["p_21"].to_numpy(), *lens,
                                           cov, n_boot=n_boot, seed=seed).to_dict()
    out["n_rows"] = int(len(verdicts))
    out["n_failed"] = int(verdicts["failed"].sum())
    judges = sorted(verdicts["judge"].astype(str).unique())
    out["judges"] = judges
    if len(judges) > 1:
        out["by_judge"] = {
            j: {k: v.to_dict() for k, v in calibration_metrics(
                verdicts[verdicts["judge"] == j], n_boot=n_boot, seed=seed).items()}
            for j in judges}
    return out


def _stage_keys(kinds: list[str]) -> list[str]:
    """Registered names made unique in order: the second 'temperature' is 'temperature#2'."""
    keys, seen = [], {}
    for kind in kinds:
        seen[kind] = seen.get(kind, 0) + 1
        keys.append(kind if seen[kind] == 1 else f"{kind}#{seen[kind]}")
    return keys


#: Held-out metrics a calibration step must not make worse (lower is better for both).
HARM_METRICS = ("ece", "nll")


def flag_harmful_stages(result: dict[str, Any], stages: list[str]) -> list[str]:
    """Mark each stage whose held-out ECE or NLL is worse than the stage before it.

    Sets ``result[stage]["hurts"]`` (the metrics it made worse; ``[]`` for none) and returns
    one warning line per harm, for calibration.json's top-level ``warnings``.

    >>> r = {"raw": {"ece": {"estimate": 0.1}, "nll": {"estimate": 0.6}},
    ...      "temperature": {"ece": {"estimate": 0.2}, "nll": {"estimate": 0.5}}}
    >>> flag_harmful_stages(r, ["raw", "temperature"])
    ['temperature raised held-out ECE 0.1 -> 0.2 (after raw); it hurts calibration here']
    >>> r["temperature"]["hurts"]
    ['ece']
    """
    warnings = []
    result[stages[0]]["hurts"] = []
    for prev, key in zip(stages, stages[1:]):
        hurts = []
        for m in HARM_METRICS:
            before = (result[prev].get(m) or {}).get("estimate")
            after = (result[key].get(m) or {}).get("estimate")
            if before is None or after is None or not np.isfinite([before, after]).all():
                continue
            if after > before + 1e-12:  # float dust is not harm
                hurts.append(m)
                warnings.append(f"{key} raised held-out {m.upper()} {before:.3g} -> {after:.3g} "
                                f"(after {prev}); it hurts calibration here")
        result[key]["hurts"] = hurts
    return warnings


def run_calibration(
    verdicts: str | Path | pd.DataFrame,
    steps: list[str],
    fit_frac: float = 0.5,
    seed: int = 0,
    out_dir: str | Path | None = None,
    split_col: str | None = None,
    n_boot: int = 1000,
) -> CalibrationResult:
    """Fit ``steps`` on one split of the pairs and report every stage on the other.

    Returns a :class:`~judgebench.results.CalibrationResult` (``.tables["metrics"]``: one row
    per stage, judge and metric; ``.save(dir)``; ``.pipeline``: the fitted pipeline's JSON)
    whose ``.to_dict()`` (written to ``out_dir/calibration.json``) is
    ``{"raw": {...}, step: {...}, ...}``: each entry is the pipeline up to and including that step on the held-out pairs, with
    ece/ece_adaptive/brier/nll/accuracy/position_consistency/p_first_wins/length_slope as
    {"estimate", "ci", "n"} and the step's fitted "params", "hurts" (the held-out metrics among
    ECE and NLL that the step made worse than the stage before it) and a top-level "warnings"
    list naming each such step. Also writes pipeline.json,
    reliability.csv (bins per stage) and split.csv (pair_id -> fit/eval).

    Indexing the result as a dict (``r["swap"]["ece"]``) still works but is deprecated: use
    ``r.metric("swap", "ece")`` or ``r.tables``.

    >>> from judgebench.judges.simulated import simulate_verdicts
    >>> r = run_calibration(simulate_verdicts(200, seed=0, position=1.0), ["swap"], n_boot=50)
    >>> r.metric("swap", "position_consistency")["estimate"]
    1.0
    """
    table = load_table(verdicts) if isinstance(verdicts, str | Path) else verdicts
    table = prepare(table)
    if isinstance(steps, str):  # "swap,temperature" from a caller who skipped the split
        steps = steps.split(",")
    names = [s.strip() for s in steps if s and s.strip()]
    pipe = Pipeline([make_step(s) for s in names])  # unknown names fail here, before any fit
    fit_ids, eval_ids = split_pairs(table, fit_frac=fit_frac, seed=seed, split_col=split_col)
    fit_part = table[table["pair_id"].isin(set(fit_ids))]
    eval_part = table[table["pair_id"].isin(set(eval_ids))]
    pipe.fit(fit_part)

    result: dict[str, Any] = {"raw": evaluate(eval_part, n_boot=n_boot, seed=seed)}
    result["raw"]["params"] = {}
    result["raw"]["split"] = {"fit_frac": fit_frac, "seed": seed, "split_col": split_col,
                              "n_fit_pairs": len(fit_ids), "n_eval_pairs": len(eval_ids)}
    if "label" not in eval_part or not eval_part["label"].notna().any():
        result["raw"]["notes"] = ["no gold labels in the eval split: accuracy, NLL, Brier and "
                                  "ECE are empty (n = 0)"]
    reliability = [reliability_table(eval_part).assign(stage="raw")]
    stage = eval_part
    for key, step in pipe.named_steps.items():
        stage = step.transform(stage)
        result[key] = evaluate(stage, n_boot=n_boot, seed=seed)
        result[key]["params"] = step.fitted_params()
        reliability.append(reliability_table(stage).assign(stage=key))
    result["warnings"] = flag_harmful_stages(result, ["raw", *pipe.named_steps])
    # What a step reported while fitting (e.g. a feature that never fired on the fit split).
    result["warnings"] += [w for st in pipe.steps_ for w in getattr(st, "warnings_", [])]
    calibration = CalibrationResult.from_dict(
        to_jsonable(result), pipeline=pipe.to_dict(),
        reliability=pd.concat(reliability, ignore_index=True),
        split=pd.DataFrame({"pair_id": fit_ids + eval_ids,
                            "split": ["fit"] * len(fit_ids) + ["eval"] * len(eval_ids)}))
    if out_dir is not None:
        calibration.save(out_dir)
    return calibration


__all__ = ["CalibratedJudge", "Pipeline", "evaluate", "run_calibration",
           "split_pairs"]
