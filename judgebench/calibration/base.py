"""The calibration step protocol, the step registry and the checks every step shares.

A step is a scikit-learn-style estimator on verdict tables (STYLE §4): ``__init__`` stores its
arguments and nothing else, ``fit(verdicts)`` returns ``self`` and sets attributes whose names end
in ``_``, ``transform(verdicts)`` returns a new verdict table. A transformed table keeps the
verdict schema, so every audit still reads it: ``p_1`` and ``p_first`` hold the calibrated
probabilities, ``p_1_calibrated`` repeats ``p_1`` (DESIGN §1's name) and ``p_1_raw`` /
``p_first_raw`` keep the judge's own numbers (set by the first step, never overwritten).

Steps are registered by name (``"temperature"``, ``"ensemble:dawid_skene"``, ...) so that a spec
string or a saved pipeline rebuilds them from a dictionary lookup, never from ``getattr`` on a
user string.

>>> make_step("temperature").name
'temperature'
"""

from __future__ import annotations

import inspect
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy.special import expit

from judgebench.io import to_jsonable
from judgebench.probability import gold_p1
from judgebench.verdicts import validate_verdicts

#: The fewest labelled pairs a step that learns from gold may be fitted on.
MIN_LABELLED_PAIRS = 20

_REGISTRY: dict[str, type[Step]] = {}
#: Steps named with an argument (``feature:lexical/tone``): prefix -> builder(arg, **params).
_PARAMETERISED: dict[str, Any] = {}


class NotFittedError(ValueError):
    """A step (or pipeline) was used before ``fit``; the message says what to call.

    Example:

    >>> v = pd.DataFrame({"pair_id": ["a", "a"], "judge": "j", "order": ["12", "21"],
    ...                   "p_first": [0.9, 0.5], "p_1": [0.9, 0.5], "failed": False})
    >>> make_step("temperature").transform(v)
    Traceback (most recent call last):
    ...
    judgebench.calibration.base.NotFittedError: The 'temperature' step is not fitted; ...
    """


def register(*names: str):
    """Class decorator: make a step constructible by ``make_step(name)``.

    Example:

    >>> @register("identity")
    ... class Identity(Step):
    ...     name = "identity"
    ...     def fit(self, verdicts):
    ...         self.n_rows_ = len(verdicts)
    ...         return self
    ...     def transform(self, verdicts):
    ...         return prepare(verdicts)
    >>> type(make_step("identity")).__name__
    'Identity'
    >>> del _REGISTRY["identity"]   # leave the registry as shipped
    """

    def deco(cls: type[Step]) -> type[Step]:
        for name in names:
            if name in _REGISTRY:
                raise ValueError(f"step name {name!r} is already registered to {_REGISTRY[name]}.")
            _REGISTRY[name] = cls
        return cls

    return deco


def register_parameterised(prefix: str, builder: Any) -> None:
    """Make ``make_step("PREFIX:ARG")`` call ``builder(ARG, **params)`` (e.g. ``feature:``).

    Example:

    >>> def clipped(arg, **params):
    ...     return make_step("temperature", clip=float(arg))
    >>> register_parameterised("clipped", clipped)
    >>> make_step("clipped:0.01")
    TemperatureScaling(clip=0.01)
    >>> del _PARAMETERISED["clipped"]   # leave the registry as shipped
    """
    _PARAMETERISED[prefix] = builder


def _load_steps() -> None:
    # Importing the step modules fills the registry; they import this module, not the reverse.
    from judgebench.calibration import ensemble, features, length, swap, temperature  # noqa: F401


def step_names() -> list[str]:
    """All registered step names, sorted.

    Example:

    >>> step_names()[:4]
    ['ensemble', 'ensemble:dawid_skene', 'ensemble:majority', 'ensemble:mean_logit']
    >>> "temperature" in step_names()
    True
    """
    _load_steps()
    return sorted(_REGISTRY)


def make_step(spec: str, **params: Any) -> Step:
    """Build an unfitted step from its registered name (e.g. ``"swap"``, ``"ensemble:majority"``).

    >>> make_step("ensemble").name
    'ensemble:mean_logit'
    """
    _load_steps()
    cls = _REGISTRY.get(str(spec).strip())
    prefix, _, arg = str(spec).strip().partition(":")
    if cls is None and arg and prefix in _PARAMETERISED:
        return _PARAMETERISED[prefix](arg, **params)
    if cls is None:
        raise ValueError(
            f"Unknown calibration step {spec!r}. Allowed: {step_names()}. "
            "Separate several steps with commas, e.g. 'swap,temperature'."
        )
    return cls(**params)


class Step:
    """Base class of calibration steps: sklearn-style ``fit``/``transform`` on verdict tables.

    Example:

    >>> step = make_step("temperature")
    >>> isinstance(step, Step), step.is_fitted(), step.to_dict()
    (True, False, {'step': 'temperature', 'params': {'clip': 1e-06}, 'fitted': {}})
    """

    #: The registered name; ``to_dict`` writes it and ``from_dict`` looks it up.
    name: ClassVar[str] = "step"
    #: Whether ``transform`` needs both orders of a pair (CalibratedJudge then asks for both).
    needs_both_orders: ClassVar[bool] = False

    # -- the sklearn contract -----------------------------------------------------------------
    # get_params/set_params follow scikit-learn's BaseEstimator, so sklearn.base.clone(step)
    # gives an unfitted copy. Not inherited from it: BaseEstimator sorts the parameters (the
    # saved pipeline.json lists them in signature order), swaps in its own repr and adds
    # metadata-routing methods (set_fit_request) that a verdict-table step has no use for.

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor arguments (what ``__init__`` stored), in signature order.

        With ``deep``, a parameter that is itself an estimator adds its own parameters as
        ``NAME__PARAM`` (scikit-learn's convention; no built-in step has one).

        >>> make_step("temperature").get_params()
        {'clip': 1e-06}
        """
        sig = inspect.signature(type(self).__init__)
        # A step without an __init__ of its own has object's (*args, **kwargs): no parameters.
        named = [k for k, p in sig.parameters.items() if k != "self"
                 and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        out = {k: getattr(self, k) for k in named}
        if deep:
            for key, value in list(out.items()):
                if hasattr(value, "get_params") and not isinstance(value, type):
                    out.update({f"{key}__{k}": v for k, v in value.get_params(deep=True).items()})
        return out

    def set_params(self, **params: Any) -> Step:
        """Set constructor arguments (``NAME__PARAM`` reaches into an estimator); returns self.

        >>> make_step("temperature").set_params(clip=1e-3)
        TemperatureScaling(clip=0.001)
        """
        valid = self.get_params(deep=False)
        nested: dict[str, dict[str, Any]] = {}
        for key, value in params.items():
            name, sep, sub = key.partition("__")
            if name not in valid:
                raise ValueError(f"Invalid parameter {name!r} for {type(self).__name__}; "
                                 f"valid parameters: {sorted(valid)}.")
            if sep:
                nested.setdefault(name, {})[sub] = value
            else:
                setattr(self, name, value)
                valid[name] = value
        for name, sub_params in nested.items():
            valid[name].set_params(**sub_params)
        return self

    def fit(self, verdicts: pd.DataFrame) -> Step:
        """Learn the step's parameters from ``verdicts``; returns self."""
        raise NotImplementedError

    def transform(self, verdicts: pd.DataFrame) -> pd.DataFrame:
        """Return calibrated verdicts (a new table; the input is not changed)."""
        raise NotImplementedError

    def fit_transform(self, verdicts: pd.DataFrame) -> pd.DataFrame:
        """``fit(verdicts).transform(verdicts)``."""
        return self.fit(verdicts).transform(verdicts)

    def fitted_params(self) -> dict[str, Any]:
        """The fitted attributes (names ending in ``_``) as JSON-able values."""
        return {k: to_jsonable(v) for k, v in vars(self).items()
                if k.endswith("_") and not k.startswith("_")}

    def is_fitted(self) -> bool:
        """Whether ``fit`` has run."""
        return bool(self.fitted_params())

    def check_fitted(self) -> None:
        """Raise :class:`NotFittedError` unless ``fit`` has run."""
        if not self.is_fitted():
            raise NotFittedError(
                f"The {self.name!r} step is not fitted; call .fit(verdicts) on the fit split "
                "first (or load a fitted pipeline with Pipeline.from_json)."
            )

    # -- JSON ---------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """``{"step": name, "params": constructor args, "fitted": fitted attributes}``."""
        return {"step": self.name, "params": to_jsonable(self.get_params(deep=False)),
                "fitted": self.fitted_params()}

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> Step:
        """Rebuild a (fitted) step from :meth:`to_dict`'s output."""
        if not isinstance(spec, dict) or "step" not in spec:
            raise ValueError(f"A saved step must be a dict with a 'step' name; got {spec!r}.")
        step = make_step(spec["step"], **spec.get("params", {}))
        step._load_fitted(spec.get("fitted", {}))
        return step

    def _load_fitted(self, fitted: dict[str, Any]) -> None:
        # Subclasses whose fitted state is not plain JSON (e.g. arrays) override this.
        for key, value in fitted.items():
            if not key.endswith("_"):
                raise ValueError(f"fitted attribute names end in '_'; got {key!r}.")
            setattr(self, key, value)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params(deep=False).items())
        return f"{type(self).__name__}({args})"


# ---------------------------------------------------------------------------------------------
# Shared table helpers


def prepare(verdicts: pd.DataFrame) -> pd.DataFrame:
    """Validate and normalise a verdict table (a copy with a clean 0..n-1 index).

    Example:

    >>> v = pd.DataFrame({"pair_id": [1, 1], "judge": "j", "order": ["12", "21"],
    ...                   "p_first": [0.9, 0.5], "p_1": [0.9, 0.5], "failed": False}, index=[5, 7])
    >>> t = prepare(v)
    >>> t.index.tolist(), t["pair_id"].tolist()
    ([0, 1], ['1', '1'])
    """
    if not isinstance(verdicts, pd.DataFrame):
        raise ValueError(f"verdicts must be a pandas DataFrame; got {type(verdicts).__name__}.")
    return validate_verdicts(verdicts).reset_index(drop=True)


def row_gold(verdicts: pd.DataFrame) -> np.ndarray:
    """P(response_1 better) from the gold label per row (NaN where unlabelled or no column).

    >>> row_gold(pd.DataFrame({"label": [1, 2, np.nan]})).tolist()
    [1.0, 0.0, nan]
    """
    if "label" not in verdicts.columns:
        return np.full(len(verdicts), np.nan)
    return gold_p1(verdicts["label"].to_numpy(dtype=float))


def with_p1(verdicts: pd.DataFrame, p1: np.ndarray) -> pd.DataFrame:
    """A copy of ``verdicts`` whose p_1/p_first are replaced; the first call keeps the raw ones.

    Example:

    >>> v = pd.DataFrame({"pair_id": ["a", "a"], "judge": "j", "order": ["12", "21"],
    ...                   "p_first": [0.9, 0.5], "p_1": [0.9, 0.5], "failed": False})
    >>> with_p1(v, np.array([0.8, 0.4]))[["order", "p_1", "p_first", "p_1_raw"]].values.tolist()
    [['12', 0.8, 0.8, 0.9], ['21', 0.4, 0.6, 0.5]]
    """
    out = verdicts.copy()
    for col in ("p_1", "p_first"):
        if f"{col}_raw" not in out.columns:
            out[f"{col}_raw"] = out[col]
    p1 = np.asarray(p1, dtype=float)
    # A failed judgment stays failed: calibration never invents a preference for it.
    p1 = np.where(out["failed"].to_numpy(bool), np.nan, np.clip(p1, 0.0, 1.0))
    out["p_1"] = p1
    out["p_first"] = np.where(out["order"].to_numpy() == "12", p1, 1.0 - p1)
    out["p_1_calibrated"] = p1
    return out


def require_judges(fitted: dict[str, Any], verdicts: pd.DataFrame, step: str) -> None:
    """Raise if ``verdicts`` holds a judge the step was not fitted on.

    Example:

    >>> v = pd.DataFrame({"judge": ["k"]})
    >>> require_judges({"j": {}}, v, "temperature")
    Traceback (most recent call last):
    ...
    ValueError: The 'temperature' step was fitted on judge(s) ['j'] but got verdicts from ['k'] ...
    """
    unseen = sorted(set(verdicts["judge"].astype(str)) - set(fitted))
    if unseen:
        raise ValueError(
            f"The {step!r} step was fitted on judge(s) {sorted(fitted)} but got verdicts from "
            f"{unseen} in 'judge'. Fit the step on a split that contains those judges."
        )


def labelled_rows(verdicts: pd.DataFrame, step: str, judge: str) -> pd.DataFrame:
    """The judge's usable labelled rows, or a ValueError saying why they cannot fit ``step``.

    Usable = not failed, finite p_1, gold label present. Requires at least
    :data:`MIN_LABELLED_PAIRS` distinct pairs and both outcomes among the decisive labels.

    Example:

    >>> from judgebench.judges.simulated import simulate_verdicts
    >>> len(labelled_rows(simulate_verdicts(30, seed=0), "temperature", "simulated"))  # 2 orders
    60
    >>> labelled_rows(simulate_verdicts(5, seed=0), "temperature", "simulated")
    Traceback (most recent call last):
    ...
    ValueError: The 'temperature' step needs at least 20 labelled pairs ...; 'label' gives 5. ...
    """
    where = f"judge {judge!r} in the fit split"
    if "label" not in verdicts.columns:
        raise ValueError(
            f"The {step!r} step learns from gold labels but the verdicts have no 'label' column. "
            "Add labels (1, 2, 0.5 or P(response_1 better)) or use an unsupervised step "
            "('swap', 'length', 'ensemble:dawid_skene')."
        )
    p = verdicts["p_1"].to_numpy(dtype=float)
    if not np.isfinite(p).any():
        raise ValueError(
            f"p_1 is NaN on every row of {where} (all {len(verdicts)} judgments failed); "
            f"the {step!r} step has nothing to fit. Rerun the judge or drop it from the table."
        )
    y = row_gold(verdicts)
    rows = verdicts[np.isfinite(p) & np.isfinite(y)]
    n_pairs = rows["pair_id"].nunique()
    if n_pairs < MIN_LABELLED_PAIRS:
        raise ValueError(
            f"The {step!r} step needs at least {MIN_LABELLED_PAIRS} labelled pairs with a "
            f"judgment for {where}; 'label' gives {n_pairs}. Label more pairs or raise "
            "fit_frac so that more of them land in the fit split."
        )
    decisive = row_gold(rows)
    decisive = decisive[decisive != 0.5]
    if not ((decisive > 0.5).any() and (decisive < 0.5).any()):
        which = "ties only" if decisive.size == 0 else (
            "response_1 better" if (decisive > 0.5).all() else "response_2 better")
        raise ValueError(
            f"'label' has one class in {where} (all {which}); the {step!r} step cannot tell a "
            "calibrated judge from one that always says the same. Add pairs with the other "
            "outcome or split differently (seed / split_col)."
        )
    return rows


class PerJudgeStep(Step):
    """A step fitted separately for each judge: ``params_[judge]`` holds that judge's numbers.

    Subclasses implement ``_fit_judge(rows, judge) -> dict`` and
    ``_transform_judge(rows, params) -> new p_1`` (an array aligned with ``rows``).

    Example:

    >>> class Shrink(PerJudgeStep):   # pulls each judge's p_1 halfway to its mean
    ...     name = "shrink"
    ...     def _fit_judge(self, rows, judge):
    ...         return {"mean": float(rows["p_1"].mean())}
    ...     def _transform_judge(self, rows, params):
    ...         return (rows["p_1"] + params["mean"]) / 2
    >>> v = pd.DataFrame({"pair_id": ["a", "a"], "judge": "j", "order": ["12", "21"],
    ...                   "p_first": [0.9, 0.5], "p_1": [0.9, 0.5], "failed": False})
    >>> step = Shrink().fit(v)
    >>> step.params_, step.transform(v)["p_1"].round(3).tolist()
    ({'j': {'mean': 0.7}}, [0.8, 0.6])
    """

    def fit(self, verdicts: pd.DataFrame) -> PerJudgeStep:
        """Fit one set of parameters per judge in ``verdicts``; returns self."""
        table = prepare(verdicts)
        self.params_ = {str(judge): self._fit_judge(rows, str(judge))
                        for judge, rows in table.groupby("judge", sort=True)}
        return self

    def transform(self, verdicts: pd.DataFrame) -> pd.DataFrame:
        """Apply each judge's fitted parameters to that judge's rows."""
        self.check_fitted()
        table = prepare(verdicts)
        require_judges(self.params_, table, self.name)
        p1 = table["p_1"].to_numpy(dtype=float).copy()
        for judge, idx in table.groupby("judge").groups.items():
            p1[idx] = self._transform_judge(table.loc[idx], self.params_[str(judge)])
        return with_p1(table, p1)

    def _fit_judge(self, rows: pd.DataFrame, judge: str) -> dict[str, Any]:
        raise NotImplementedError

    def _transform_judge(self, rows: pd.DataFrame, params: dict[str, Any]) -> np.ndarray:
        raise NotImplementedError


def sigmoid(z: np.ndarray) -> np.ndarray:
    """The logistic function (scipy's expit, re-exported so steps import one module).

    Example:

    >>> sigmoid(np.array([0.0, np.log(3)]))
    array([0.5 , 0.75])
    """
    return expit(z)
