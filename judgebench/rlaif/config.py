"""The RLAIF loop's configuration: one dataclass per TOML section, each field documented once.

A config file has the sections below; every key is optional (the defaults are the tiny test
loop). Unknown keys are an error that names the key, the section and the allowed keys. Two
sections are passed through to TRL instead of being copied here: ``[trainer]`` (extra keyword
arguments of the policy trainer's config: DPOConfig, GRPOConfig or RLOOConfig),
``[reward_trainer]`` (RewardConfig) and ``[vllm]`` (extra keyword arguments of the sampling
engine, ``vllm.LLM``, with ``[sampling] backend = "vllm"``). Cross-field checks live in one
place, :meth:`LoopConfig.check`. The sections themselves are in ``rlaif/config_sections.py``;
this module reads and writes them (TOML, ``--set`` overrides, the resume check) and is the one
to import from: it re-exports every section.

>>> cfg = loads("[optimize]\\nalgorithm = 'dpo'\\n[judge]\\nspec = 'simulated:verbosity=2.0'")
>>> cfg.optimize.algorithm, cfg.judge.spec
('dpo', 'simulated:verbosity=2.0')
"""

from __future__ import annotations

import copy
import dataclasses
import json
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

from judgebench.rlaif.config_sections import (  # noqa: F401  (re-exported: import from here)
    _PASSTHROUGH,
    _SECTIONS,
    ALGORITHMS,
    RESUMABLE_CHANGES,
    RESUMABLE_SECTIONS,
    SEEDINGS,
    STEPS,
    TRACKERS,
    VLLM_MAX_LORA_RANK,
    VLLM_OWN_KEYS,
    CalibrationConfig,
    InstrumentConfig,
    JudgeConfig,
    LabelingConfig,
    LoopConfig,
    OptimizeConfig,
    PolicyConfig,
    RunConfig,
    SamplingConfig,
    TasksConfig,
    parse_kill_point,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


# ---------------------------------------------------------------------------------------------
# Loading


def from_dict(data: dict[str, Any], where: str = "config") -> LoopConfig:
    """Build and check a LoopConfig from nested dicts (a parsed TOML document).

    Example:

    >>> from_dict({"sampling": {"k": 8}, "trainer": {"max_grad_norm": 1.0}}).sampling.k
    8
    >>> from_dict({"sampling": {"kk": 8}})
    Traceback (most recent call last):
    ...
    ValueError: Unknown key 'kk' in section [sampling] of config; allowed keys: [...].
    """
    unknown = sorted(set(data) - set(_SECTIONS) - set(_PASSTHROUGH))
    if unknown:
        raise ValueError(f"Unknown section(s) {unknown} in {where}; allowed sections: "
                         f"{sorted(list(_SECTIONS) + list(_PASSTHROUGH))}.")
    cfg = LoopConfig()
    for name, cls in _SECTIONS.items():
        table = data.get(name, {})
        if not isinstance(table, dict):
            raise ValueError(f"[{name}] in {where} must be a table; got {table!r}.")
        setattr(cfg, name, _section(cls, name, table, where))
    for name in _PASSTHROUGH:
        table = data.get(name, {})
        if not isinstance(table, dict):
            raise ValueError(f"[{name}] in {where} must be a table of TRL config keys.")
        setattr(cfg, name, dict(table))
    return cfg.check()


def _section(cls: type, name: str, table: dict[str, Any], where: str) -> Any:
    allowed = {f.name: f for f in fields(cls)}
    kwargs: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in table.items():
        if key not in allowed or key == "options":
            if cls is JudgeConfig:
                extra[key] = value  # judge options: validated against the spec's kind below
                continue
            raise ValueError(f"Unknown key {key!r} in section [{name}] of {where}; allowed keys: "
                             f"{sorted(k for k in allowed if k != 'options')}.")
        kwargs[key] = _coerce(name, key, value, allowed[key])
    if cls is JudgeConfig:
        kwargs["options"] = extra
        _check_judge_options(kwargs.get("spec", JudgeConfig.spec), extra, where)
    return cls(**kwargs)


def _coerce(section: str, key: str, value: Any, f: dataclasses.Field) -> Any:
    default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
    kind = type(default)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is list and isinstance(value, str):
        return [v for v in value.replace("+", ",").split(",") if v.strip()]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ValueError(f"[{section}] {key} must be a {kind.__name__}; got {value!r}.")
    return value


def _check_judge_options(spec: str, options: dict[str, Any], where: str) -> None:
    if not options:
        return
    from judgebench.judges.spec import parse_spec

    if str(spec).endswith(".toml"):
        raise ValueError(f"[judge] in {where}: options {sorted(options)} cannot be combined with a "
                         "judge .toml file; put them in that file.")
    merged = ",".join([spec] + [f"{k}={v}" for k, v in options.items()])
    try:
        parse_spec(merged)
    except ValueError as err:
        raise ValueError(f"Section [judge] of {where}: {err} (spec keys: spec, quality, or an "
                         f"option of the judge kind).") from None


def loads(text: str, where: str = "config") -> LoopConfig:
    """A LoopConfig from TOML text.

    Example:

    >>> cfg = loads("[run]\\nseed = 7\\n[judge]\\nspec = 'simulated:position=0.5'")
    >>> cfg.run.seed, cfg.judge.spec
    (7, 'simulated:position=0.5')
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"{where} is not valid TOML: {err}.") from None
    return from_dict(data, where)


def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> LoopConfig:
    """Read a TOML config and apply ``--set`` overrides ("section.key=value").

    ``calibration=none`` / ``calibration=swap+length`` / ``calibration=PATH.json`` is a
    shorthand for the calibration section (what ``judgebench sweep`` grids over).

    Example:

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = Path(tmp) / "loop.toml"
    ...     _ = path.write_text("[run]\\nseed = 1\\n")
    ...     cfg = load_config(path, ["judge.verbosity=2.0", "calibration=swap"])
    >>> cfg.run.seed, cfg.judge.options, cfg.calibration.steps
    (1, {'verbosity': 2.0}, ['swap'])
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No config file at {str(path)!r}.")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"{path} is not valid TOML: {err}.") from None
    data = apply_overrides(data, overrides)
    return from_dict(data, str(path))


def apply_overrides(data: dict[str, Any], overrides: list[str] | tuple[str, ...]) -> dict:
    """A copy of ``data`` with each "section.key=value" set (value read as TOML, else a string).

    Example:

    >>> apply_overrides({"run": {"seed": 0}}, ["run.seed=3", "calibration=swap+length"])
    {'run': {'seed': 3}, 'calibration': {'steps': ['swap', 'length']}}
    """
    data = copy.deepcopy(data)
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"Override {item!r} must look like section.key=value "
                             "(e.g. judge.verbosity=2.0 or calibration=swap+length).")
        key, raw = (s.strip() for s in item.split("=", 1))
        value = _parse_value(raw)
        if key == "calibration":
            data["calibration"] = calibration_shorthand(str(raw), data.get("calibration", {}))
            continue
        if "." not in key:
            raise ValueError(f"Override key {key!r} needs a section: e.g. 'optimize.{key}'. "
                             f"Sections: {sorted(list(_SECTIONS) + list(_PASSTHROUGH))}.")
        section, name = key.split(".", 1)
        data.setdefault(section, {})[name] = value
    return data


def calibration_shorthand(value: str, current: dict[str, Any]) -> dict[str, Any]:
    """'none' -> no calibration; 'swap+length' -> steps; 'x.json' -> a fitted pipeline file.

    Example:

    >>> calibration_shorthand("swap+length", {"fit_with_gold": True})
    {'fit_with_gold': True, 'steps': ['swap', 'length']}
    >>> calibration_shorthand("none", {"steps": ["swap"]}), calibration_shorthand("p.json", {})
    ({}, {'pipeline': 'p.json'})
    """
    out = {k: v for k, v in current.items() if k not in ("steps", "pipeline")}
    value = value.strip()
    if value.endswith(".json"):
        out["pipeline"] = value
    elif value.lower() not in ("", "none", "raw"):
        out["steps"] = [s.strip() for s in value.replace("+", ",").split(",") if s.strip()]
    return out


def _parse_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


# ---------------------------------------------------------------------------------------------
# Writing (the resolved config.toml of a run directory)


def dumps(cfg: LoopConfig) -> str:
    """The config as TOML text (round-trips through :func:`loads`).

    Example:

    >>> text = dumps(LoopConfig())
    >>> text.splitlines()[:3], loads(text) == LoopConfig()
    (['[run]', 'seed = 0', 'n_iterations = 2'], True)
    """
    lines: list[str] = []
    for section, table in cfg.to_dict().items():
        if section == "vllm" and not table:
            continue  # a run without vLLM keeps the config.toml it always had
        if section == "sampling" and table.get("seeding") == "stream":
            # the default, left out: a run that does not opt in keeps the config.toml it had
            table = {k: v for k, v in table.items() if k != "seeding"}
        if section == "labeling" and table.get("shard_judging") is False:
            table = {k: v for k, v in table.items() if k != "shard_judging"}  # likewise
        lines.append(f"[{section}]")
        lines.extend(f"{key} = {_toml_value(value)}" for key, value in table.items())
        lines.append("")
    return "\n".join(lines)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {_toml_value(v)}"
                               for k, v in value.items()) + "}"
    raise ValueError(f"Cannot write {value!r} ({type(value).__name__}) to TOML.")


def config_diff(old: LoopConfig, new: LoopConfig) -> list[str]:
    """Dotted keys whose values differ between two configs.

    Example:

    >>> config_diff(LoopConfig(), loads("[run]\\nseed = 1\\n[judge]\\nverbosity = 2.0"))
    ['judge.verbosity', 'run.seed']
    """
    a, b = old.to_dict(), new.to_dict()
    keys = []
    for section in sorted(set(a) | set(b)):
        sa, sb = a.get(section, {}), b.get(section, {})
        for key in sorted(set(sa) | set(sb)):
            if sa.get(key) != sb.get(key):
                keys.append(f"{section}.{key}")
    return keys


def check_resume_compatible(old: LoopConfig, new: LoopConfig) -> list[str]:
    """The changed keys a resume may accept; raises if a change would alter finished steps.

    Example:

    >>> check_resume_compatible(LoopConfig(), loads("[run]\\nn_iterations = 4"))
    ['run.n_iterations']
    >>> check_resume_compatible(LoopConfig(), loads("[sampling]\\nk = 8"))
    Traceback (most recent call last):
    ...
    ValueError: The run directory holds a run with a different config: ['sampling.k'] changed. ...
    """
    changed = config_diff(old, new)
    bad = [k for k in changed
           if k not in RESUMABLE_CHANGES and k.split(".", 1)[0] not in RESUMABLE_SECTIONS]
    if bad:
        raise ValueError(
            f"The run directory holds a run with a different config: {bad} changed. Those keys "
            "shape steps that already ran, so resuming would mix two experiments. Use a new "
            "--out directory (or delete this one) to start over; only "
            f"{sorted(RESUMABLE_SECTIONS)} and {sorted(RESUMABLE_CHANGES)} may change on resume."
        )
    return changed


def trainer_config_class(algorithm: str):
    """The TRL config class the [trainer] table is passed to.

    Example:

    >>> trainer_config_class("dpo").__name__, trainer_config_class("rm+rloo").__name__
    ('DPOConfig', 'RLOOConfig')
    """
    if algorithm == "dpo":
        from trl import DPOConfig

        return DPOConfig
    if algorithm in ("rm+grpo", "direct"):
        from trl import GRPOConfig

        return GRPOConfig
    from trl import RLOOConfig

    return RLOOConfig


def check_trainer_keys(cfg: LoopConfig) -> None:
    """Raise if [trainer] / [reward_trainer] name a key the TRL config class does not have.

    Example:

    >>> check_trainer_keys(loads("[trainer]\\nmax_grad_norm = 1.0"))      # a DPOConfig field
    >>> check_trainer_keys(loads("[trainer]\\nmax_grad_nrom = 1.0"))
    Traceback (most recent call last):
    ...
    ValueError: Unknown key 'max_grad_nrom' in section [trainer]: it is passed to TRL's ...
    """
    import difflib

    from trl import RewardConfig

    pairs = [("trainer", cfg.trainer, trainer_config_class(cfg.optimize.algorithm))]
    if cfg.optimize.algorithm.startswith("rm+"):
        pairs.append(("reward_trainer", cfg.reward_trainer, RewardConfig))
    for section, table, cls in pairs:
        allowed = {f.name for f in fields(cls)}
        for key in table:
            if key not in allowed:
                near = difflib.get_close_matches(key, sorted(allowed), n=3)
                raise ValueError(
                    f"Unknown key {key!r} in section [{section}]: it is passed to TRL's "
                    f"{cls.__name__}, which has no such field (did you mean {near}?). See "
                    f"the {cls.__name__} documentation for the allowed keys.")
