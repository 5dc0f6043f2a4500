"""The loop config: TOML sections, unknown keys, overrides, cross-field checks, resume rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from judgebench.rlaif.config import (
    LoopConfig,
    apply_overrides,
    check_resume_compatible,
    check_trainer_keys,
    dumps,
    load_config,
    loads,
    parse_kill_point,
)

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_defaults_and_sections():
    cfg = loads("[optimize]\nalgorithm = 'rm+grpo'\n[judge]\nspec = 'simulated:position=1.0'")
    assert cfg.optimize.algorithm == "rm+grpo"
    assert cfg.judge.spec == "simulated:position=1.0"
    assert cfg.sampling.k == 4 and cfg.run.n_iterations == 2


@pytest.mark.parametrize("name", ["tiny.toml", "smollm2-cpu.toml", "gpu-qwen.toml"])
def test_shipped_configs_load(name):
    cfg = load_config(CONFIGS / name)
    assert isinstance(cfg, LoopConfig)


def test_unknown_key_names_key_section_and_allowed():
    with pytest.raises(ValueError, match=r"Unknown key 'lr' in section \[optimize\].*allowed "
                                         r"keys: \[.*'learning_rate'"):
        loads("[optimize]\nlr = 0.1")


def test_unknown_section():
    with pytest.raises(ValueError, match=r"Unknown section\(s\) \['optimise'\]"):
        loads("[optimise]\nalgorithm = 'dpo'")


def test_unknown_judge_option_names_section():
    with pytest.raises(ValueError, match=r"Section \[judge\].*Unknown key 'verbose'"):
        loads("[judge]\nspec = 'simulated:seed=0'\nverbose = 2.0")


def test_judge_options_merge_into_spec():
    cfg = loads("[judge]\nspec = 'simulated:seed=0'\nverbosity = 2")
    assert cfg.judge.options == {"verbosity": 2}


def test_wrong_type():
    with pytest.raises(ValueError, match=r"\[sampling\] k must be a int; got 'four'"):
        loads("[sampling]\nk = 'four'")


@pytest.mark.parametrize("text, match", [
    ("[sampling]\nk = 1", r"k must be >= 2"),
    ("[sampling]\nk = 3\n[labeling]\npairing = 'disjoint'", r"needs an even \[sampling\] k"),
    ("[labeling]\nmin_margin = 0.6", r"min_margin must lie in \[0, 0.5\)"),
    ("[calibration]\nsteps = ['swap']\npipeline = 'p.json'", r"either steps .* or pipeline"),
    ("[optimize]\nalgorithm = 'ppo'", r"algorithm must be one of \['dpo', 'rm\+grpo'"),
    ("[optimize]\nalgorithm = 'direct'\nnum_generations = 1", r"num_generations must be >= 2"),
    ("[run]\ndebug_kill_after = 'after judge'", r"debug_kill_after must look like"),
    ("[run]\ndevice = 'cpu'\n[trainer]\nbf16 = true", r"bf16 = true needs a GPU"),
])
def test_cross_field_checks(text, match):
    with pytest.raises(ValueError, match=match):
        loads(text)


def test_overrides_and_calibration_shorthand():
    data = apply_overrides({}, ["judge.verbosity=0.5", "optimize.algorithm=direct",
                                "calibration=swap+length", "run.progress=false"])
    assert data["judge"]["verbosity"] == 0.5
    assert data["optimize"]["algorithm"] == "direct"
    assert data["calibration"]["steps"] == ["swap", "length"]
    assert data["run"]["progress"] is False
    assert apply_overrides(data, ["calibration=none"])["calibration"] == {}
    assert apply_overrides({}, ["calibration=fit/pipeline.json"])["calibration"] == {
        "pipeline": "fit/pipeline.json"}
    with pytest.raises(ValueError, match=r"needs a section"):
        apply_overrides({}, ["verbosity=1"])
    with pytest.raises(ValueError, match=r"must look like section.key=value"):
        apply_overrides({}, ["judge.verbosity"])


def test_load_config_applies_overrides(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[judge]\nspec = 'simulated:seed=0'\nverbosity = 1.0\n")
    cfg = load_config(path, ["judge.verbosity=2.5", "calibration=length"])
    assert cfg.judge.options["verbosity"] == 2.5 and cfg.calibration.steps == ["length"]
    with pytest.raises(FileNotFoundError, match="No config file"):
        load_config(tmp_path / "missing.toml")


def test_dumps_round_trips():
    cfg = loads("[judge]\nspec = 'simulated:seed=0'\nverbosity = 1.5\n[trainer]\n"
                "max_grad_norm = 0.5\nlr_scheduler_kwargs = {a = 1}\n[calibration]\n"
                "steps = ['swap', 'length']")
    again = loads(dumps(cfg))
    assert again.to_dict() == cfg.to_dict()


def test_resume_rules():
    old = loads("[optimize]\nlearning_rate = 0.1")
    new = loads("[optimize]\nlearning_rate = 0.01\n[run]\ndebug_kill_after = 'iter1:judge'")
    assert check_resume_compatible(old, new) == ["optimize.learning_rate",
                                                 "run.debug_kill_after"]
    with pytest.raises(ValueError, match=r"different config: \['judge.verbosity'\] changed"):
        check_resume_compatible(loads("[judge]\nverbosity = 1.0"),
                                loads("[judge]\nverbosity = 2.0"))


def test_kill_point():
    assert parse_kill_point("iter1:judge") == (1, "judge", False)
    assert parse_kill_point("iter0:train:mid") == (0, "train", True)


def test_trainer_keys_checked_against_trl():
    cfg = loads("[trainer]\nmax_grad_norm = 1.0")
    check_trainer_keys(cfg)
    with pytest.raises(ValueError, match=r"Unknown key 'max_grad_nrm' in section \[trainer\].*"
                                         r"DPOConfig.*did you mean \['max_grad_norm'"):
        check_trainer_keys(loads("[trainer]\nmax_grad_nrm = 1.0"))
    with pytest.raises(ValueError, match=r"\[reward_trainer\].*RewardConfig"):
        check_trainer_keys(loads("[optimize]\nalgorithm = 'rm+rloo'\n[reward_trainer]\nfoo = 1"))


@pytest.mark.parametrize("sets, match", [
    (["policy.model=tiny:0"], r"backend = 'vllm' cannot sample \[policy\] model = 'tiny:0'.*"
                              r"Use backend = 'hf'"),
    (["policy.lora=true", "policy.lora_r=1024"], r"lora_r = 1024 is above the largest LoRA "
                                                 r"rank vLLM serves \(512\).*Lower lora_r"),
    (["vllm.max_lora_rank=64", "vllm.seed=3"], r"\[vllm\] \['max_lora_rank', 'seed'\] are set "
                                               r"by the loop.*remove them"),
    (["sampling.backend=hf", "vllm.gpu_memory_utilization=0.5"],
     r"\[vllm\] \['gpu_memory_utilization'\] configures the vLLM sampling engine, but "
     r"\[sampling\] backend = 'hf'"),
])
def test_vllm_combinations_that_cannot_work_are_refused(sets, match):
    base = ["sampling.backend=vllm", 'policy.model="Qwen/Qwen2.5-0.5B-Instruct"']
    with pytest.raises(ValueError, match=match):
        load_config(CONFIGS / "tiny.toml", [*base, *sets])


def test_a_vllm_config_round_trips_and_an_empty_vllm_table_is_not_written():
    cfg = load_config(CONFIGS / "tiny.toml", ["sampling.backend=vllm", "policy.lora=true",
                                              'policy.model="Qwen/Qwen2.5-0.5B-Instruct"',
                                              "vllm.gpu_memory_utilization=0.5"])
    assert loads(dumps(cfg)).vllm == {"gpu_memory_utilization": 0.5}
    assert "[vllm]" not in dumps(load_config(CONFIGS / "tiny.toml"))  # hf runs: as before


def test_per_batch_seeding_round_trips_and_the_default_is_not_written():
    cfg = load_config(CONFIGS / "tiny.toml", ["sampling.seeding=per_batch"])
    assert loads(dumps(cfg)).sampling.seeding == "per_batch"
    default = dumps(load_config(CONFIGS / "tiny.toml"))
    assert "seeding" not in default  # a run that does not opt in keeps its config.toml
    assert loads(default).sampling.seeding == "stream"


def test_shard_judging_round_trips_is_not_written_by_default_and_may_change_on_resume():
    cfg = load_config(CONFIGS / "tiny.toml", ["labeling.shard_judging=true"])
    assert loads(dumps(cfg)).labeling.shard_judging is True
    default = load_config(CONFIGS / "tiny.toml")
    assert "shard_judging" not in dumps(default)
    # Who judges does not change what is judged: a resume may switch it.
    assert check_resume_compatible(default, cfg) == ["labeling.shard_judging"]
