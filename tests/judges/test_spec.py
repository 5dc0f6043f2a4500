import pytest

from judgebench.judges.hf import HFJudge
from judgebench.judges.simulated import SimulatedJudge
from judgebench.judges.spec import load_judge, parse_spec
from judgebench.judges.verifiers import VerifierJudge


def test_simulated_spec():
    j = load_judge("simulated:position=1.0,verbosity=0.5,seed=3,name=biased")
    assert isinstance(j, SimulatedJudge)
    assert (j.position, j.verbosity, j.seed, j.name) == (1.0, 0.5, 3, "biased")


def test_tiny_and_verifier_specs():
    j = load_judge("tiny:1,template=mtbench-pair-v2,batch_size=4")
    assert isinstance(j, HFJudge) and j.batch_size == 4 and j.template.name == "mtbench-pair-v2"
    assert isinstance(load_judge("verifier"), VerifierJudge)


def test_toml_spec(tmp_path):
    path = tmp_path / "judge.toml"
    path.write_text('[judge]\nkind = "simulated"\nposition = 2.0\nnoise = 0.1\n')
    j = load_judge(path)
    assert j.position == 2.0 and j.noise == 0.1


@pytest.mark.parametrize("spec, match", [
    ("simulated:positon=1.0", r"Unknown key 'positon' for a simulated judge"),
    ("simulated:position=high", r"Bad value for 'position'"),
    ("magic:thing", r"Unknown judge kind 'magic'"),
    ("hf:", r"needs a model"),
    ("openai:gpt-4o", r"openai:MODEL@BASE_URL"),
    ("hf:a,b", r"names two targets"),
])
def test_bad_specs(spec, match):
    with pytest.raises(ValueError, match=match):
        load_judge(spec)


def test_parse_spec():
    assert parse_spec("hf:/models/x,batch_size=8") == ("hf", "/models/x", {"batch_size": 8})


def test_generate_and_share_prefix_specs():
    from judgebench.judges.hf_generate import HFGenerateJudge

    j = load_judge("hf-generate:tiny:0,max_new_tokens=2")
    assert isinstance(j, HFGenerateJudge)
    assert (j.explain, j.max_new_tokens) == (False, 2)
    j = load_judge("hf-generate:tiny:0,template=mtbench-pair-v2,explain=true")
    assert (j.explain, j.max_new_tokens) == (True, 256)  # max_new_tokens unset: explain default
    assert load_judge("hf-generate:tiny:0,explain=false").max_new_tokens == 8
    with pytest.raises(ValueError, match="expected a boolean"):
        load_judge("hf-generate:tiny:0,explain=maybe")
    assert load_judge("tiny:0,share_prefix=false").share_prefix is False


def test_spec_help_covers_every_kind():
    from judgebench.judges.spec import _OPTIONS, KIND_HELP, spec_help

    assert set(_OPTIONS) | {"ensemble", ".toml"} == set(KIND_HELP)
    text = spec_help()
    assert all(usage in text for usage, _ in KIND_HELP.values())
    assert "options: " + ", ".join(sorted(_OPTIONS["simulated"])) in text


def test_unknown_template_fails_before_the_model_loads(monkeypatch):
    import judgebench.models as models

    monkeypatch.setattr(models, "load_model", lambda *a, **k: pytest.fail("model loaded"))
    with pytest.raises(ValueError, match="Unknown judge template 'mtbench'; choose one of"):
        load_judge("hf:some/model,template=mtbench")


def test_judge_toml_syntax_error_names_the_file(tmp_path):
    path = tmp_path / "judge.toml"
    path.write_text("[judge\nkind = 'simulated'\n")
    with pytest.raises(ValueError, match=r"judge.toml is not valid TOML.*fix the file"):
        load_judge(str(path))
