"""The loop end to end on the tiny config: propagation, resume after SIGKILL, every algorithm,
bad inputs, and two processes under accelerate.

The session-scoped ``sweep`` (4 settings x 3 seeds of the tiny loop, about a minute on 2 cores)
is the known-truth experiment: a simulated judge with verbosity bias β = 4 per log-length
ratio versus β = 0, with and without the length-control calibration step.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from judgebench.judges.base import Judge, JudgeOutput
from judgebench.rlaif.config import load_config, loads
from judgebench.rlaif.loop import run_from_config
from judgebench.rlaif.optimize import NonFiniteGuard, NonFiniteLossError
from judgebench.rlaif.sweep import run_sweep
from judgebench.verdicts import load_table

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "configs" / "tiny.toml"
GRID = ["judge.verbosity=0,4", "calibration=none,length"]
METRIC_KEYS = {
    "iteration", "length_chars_mean", "length_chars_median", "length_tokens_mean",
    "length_tokens_median", "length_drift_chars", "length_drift_tokens", "gold_mean",
    "gold_change", "judge_score_raw", "judge_score_calibrated", "judge_win_rate_raw",
    "judge_win_rate_calibrated", "gold_win_rate", "proxy_gold_gap", "label_accuracy",
    "position_decided_raw", "length_explained_share", "judge_position_consistency",
    "judge_p_first", "judge_length_slope", "time_generate_s", "time_judge_s", "time_train_s",
    "time_instrument_s", "evaluated", "rollout_length_chars_mean", "rollout_length_drift_chars",
    "rollout_gold_mean", "rollout_gold_change"}
HELD_OUT_ONLY = {k for k in METRIC_KEYS if k.startswith(("length_", "gold_", "judge_score",
                                                         "judge_win", "proxy_"))}


def _cli(args: list[str], timeout: int = 240) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "judgebench.cli", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


def _metrics(run_dir: Path) -> list[dict]:
    return [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]


def _assert_same_metrics(a: list[dict], b: list[dict]) -> None:
    assert len(a) == len(b)
    for ra, rb in zip(a, b):
        keys = {k for k in ra if not k.startswith("time_")}
        assert keys == {k for k in rb if not k.startswith("time_")}
        for k in keys:
            va, vb = ra[k], rb[k]
            if isinstance(va, dict):
                va, vb = json.dumps(va, sort_keys=True), json.dumps(vb, sort_keys=True)
                assert va == vb, k
            elif isinstance(va, float) or isinstance(vb, float):
                assert va == pytest.approx(vb, abs=1e-6), k
            else:
                assert va == vb, k


@pytest.fixture(scope="session")
def sweep(tmp_path_factory) -> Path:
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("sweep")
    run_sweep(CONFIG, out, GRID, "0,1,2", n_boot=500)
    return out


def _run(sweep: Path, verbosity: str, calibration: str, seed: int) -> Path:
    return sweep / "runs" / f"verbosity={verbosity}__calibration={calibration}__seed={seed}"


# -- the propagation proof ---------------------------------------------------------------------

def test_biased_judge_drifts_length_and_gold_does_not_follow(sweep):
    table = pd.read_csv(sweep / "sweep.csv")
    assert len(table) == 12 and set(table["seed"]) == {0, 1, 2}
    drift = table.pivot_table(index="seed", columns=["judge.verbosity", "calibration"],
                              values="final_length_drift_chars")
    biased, unbiased, controlled = drift[(4, "none")], drift[(0, "none")], drift[(4, "length")]
    assert (biased > 3).all()  # the policy gets longer under a verbose-biased judge ...
    assert biased.mean() > unbiased.mean() + 5 and (biased > unbiased).sum() >= 2
    assert biased.mean() > controlled.mean() + 3 and (biased > controlled).sum() >= 2
    biased_rows = table[(table["judge.verbosity"] == 4) & (table["calibration"] == "none")]
    # ... the judge likes what it sees, and the verifier does not: gold does not rise.
    assert biased_rows["final_judge_win_rate_raw"].mean() > 0.55
    assert biased_rows["final_gold_change"].mean() <= 0.0
    assert biased_rows["final_proxy_gold_gap"].mean() > 0.1
    # Labels of the biased judge prefer the longer response, of the unbiased one at chance.
    assert biased_rows["mean_label_prefers_longer"].mean() > 0.7

    prop = json.loads((sweep / "propagation.json").read_text())
    coef = {s["setting"].get("calibration", "pooled"): s.get("length_drift_per_unit_bias")
            for s in prop["settings"]}
    assert coef["none"]["n"] == 3 and coef["none"]["method"] == "t over per-seed slopes"
    assert coef["none"]["estimate"] > coef["length"]["estimate"] + 1.0
    assert coef["none"]["ci"][0] < coef["none"]["estimate"] < coef["none"]["ci"][1]


def test_sweep_keeps_small_files_per_cell_and_resumes_cell_by_cell(sweep, capsys):
    cell = sweep / "cells" / "verbosity=4__calibration=none__seed=1"
    row = json.loads((cell / "row.json").read_text())
    assert row["status"] == "done" and row["wall_s"] > 0 and row["seed"] == 1
    assert row["record"]["final_length_drift_chars"] is not None
    assert _metrics(cell) == _metrics(_run(sweep, "4", "none", 1))
    responses = load_table(cell / "responses.parquet")
    assert set(responses["phase"]) == {"eval", "train"} and "kind" in responses.columns
    assert set(load_table(cell / "labels.parquet")["iteration"]) == {0, 1, 2}
    assert not list(cell.glob("**/*.safetensors"))  # no weights among the kept files
    study = json.loads((sweep / "study.json").read_text())
    assert study["n_cells"] == 12 and study["failed"] == [] and study["paired"]
    assert "(n = 3, paired t)" in (sweep / "study.md").read_text()
    # A rerun finds every cell done: nothing runs, and the summary is rebuilt the same.
    before = (cell / "row.json").stat().st_mtime_ns
    run_sweep(CONFIG, sweep, GRID, "0,1,2", n_boot=500)
    assert (cell / "row.json").stat().st_mtime_ns == before
    assert "12 already finished, 0 to run" in capsys.readouterr().err


def test_a_failed_cell_is_recorded_and_the_study_goes_on(tmp_path, monkeypatch, capsys):
    import judgebench.rlaif.loop as loop

    real = loop.run_from_config

    def flaky(config, out_dir, overrides):
        if "run.seed=1" in overrides:
            raise RuntimeError("CUDA out of memory (simulated)")
        return real(config, out_dir, list(overrides) + ["run.n_iterations=1"])

    monkeypatch.setattr(loop, "run_from_config", flaky)
    out = tmp_path / "study"
    run_sweep(CONFIG, out, ["judge.verbosity=4"], "0,1")
    failed = json.loads((out / "cells" / "verbosity=4__seed=1" / "row.json").read_text())
    assert failed["status"] == "failed" and "out of memory" in failed["error"]
    study = json.loads((out / "study.json").read_text())
    assert study["n_cells"] == 1 and study["failed"][0]["cell"] == "verbosity=4__seed=1"
    assert "FAILED" in capsys.readouterr().err
    # The rerun retries only the failed cell.
    monkeypatch.setattr(loop, "run_from_config",
                        lambda c, o, ov: real(c, o, list(ov) + ["run.n_iterations=1"]))
    run_sweep(CONFIG, out, ["judge.verbosity=4"], "0,1")
    assert "1 already finished, 1 to run" in capsys.readouterr().err
    assert json.loads((out / "study.json").read_text())["n_cells"] == 2


def test_budget_is_stated_before_starting_and_stops_between_cells(tmp_path, capsys):
    out = tmp_path / "study"
    run_sweep(CONFIG, out, ["judge.verbosity=0,4"], "0,1,2", budget_minutes=0.01,
              keep_checkpoints=False)
    err = capsys.readouterr().err
    assert "exceeds the budget of 0.01 min" in err and "cell(s) left" in err
    assert not list((out / "cells").glob("*/row.json")) if (out / "cells").exists() else True
    with pytest.raises(ValueError, match="Unknown key 'verbosty'"):
        run_sweep(CONFIG, out, ["judge.verbosty=0,4"], "0")  # checked before any cell runs


def test_run_directory_layout_and_metrics_schema(sweep):
    run = _run(sweep, "4", "none", 0)
    rows = _metrics(run)
    assert [r["iteration"] for r in rows] == [0, 1, 2]
    for row in rows:
        assert METRIC_KEYS <= set(row), METRIC_KEYS - set(row)
        assert row["time_train_s"] >= 0 and row["time_instrument_s"] > 0
    assert rows[0]["length_drift_chars"] == 0 and rows[0]["proxy_gold_gap"] == 0
    cfg = load_config(run / "config.toml")
    assert cfg.judge.options["verbosity"] == 4 and cfg.run.seed == 0
    state = json.loads((run / "state.json").read_text())
    assert len(state["finished"]) == 3 * 3 + 2
    verdicts = load_table(run / "verdicts.parquet")
    assert set(verdicts["iteration"]) == {0, 1, 2} and set(verdicts["phase"]) == {"train", "eval"}
    assert {"p_1_raw", "label", "order"} <= set(verdicts.columns)
    assert (verdicts.groupby(["iteration", "phase", "pair_id"]).size() == 2).all()  # 2 orders
    for i in range(3):
        assert (run / "checkpoints" / f"iter-{i:03d}" / "policy" / "config.json").exists()


def test_eval_every_skips_only_the_held_out_evaluation(sweep, tmp_path):
    sets = ["judge.verbosity=4", "calibration=none", "run.seed=0", "instrument.eval_every=2"]
    rows = run_from_config(CONFIG, tmp_path, sets)
    full = _metrics(_run(sweep, "4", "none", 0))
    assert [r["evaluated"] for r in rows] == [True, False, True]  # 0, every 2nd, the last
    assert not (tmp_path / "iter-001" / "eval.parquet").exists()
    assert HELD_OUT_ONLY.isdisjoint(rows[1]) and "n_eval" not in rows[1]
    assert rows[1]["rollout_length_chars_mean"] == full[1]["rollout_length_chars_mean"]
    # Skipping an evaluation changes nothing else: training never sees the held-out set.
    _assert_same_metrics([rows[0], rows[2]], [full[0], full[2]])
    phases = load_table(tmp_path / "verdicts.parquet").groupby("phase")["iteration"].unique()
    assert sorted(phases["eval"]) == [0, 2] and sorted(phases["train"]) == [0, 1, 2]
    timing = json.loads((tmp_path / "iter-001" / "timing.json").read_text())
    assert "eval_generate" not in timing and "eval_judge" not in timing


# -- resume ------------------------------------------------------------------------------------

def test_killed_run_resumes_to_the_same_metrics(sweep, tmp_path):
    out = tmp_path / "run"
    sets = ["judge.verbosity=4", "calibration=none", "run.seed=0"]
    first = _cli(["train", str(CONFIG), "--out", str(out), "--set", *sets,
                  "run.debug_kill_after=iter0:train:mid"])
    assert first.returncode == -9, first.stderr[-2000:]  # SIGKILL halfway through training
    state = json.loads((out / "state.json").read_text())
    assert state["finished"][-1] == [0, "instrument"]
    # A judge that fails to load changes nothing in the directory.
    before = (out / "state.json").read_text()
    with pytest.raises(ValueError, match=r"\[judge\] spec 'hf:/no/such/model' failed to load"):
        run_from_config(CONFIG, out, [*sets[1:], "judge.spec=hf:/no/such/model"])
    assert (out / "state.json").read_text() == before
    second = _cli(["train", str(CONFIG), "--out", str(out), "--set", *sets,
                   "run.debug_kill_after=iter1:generate:mid"])
    assert second.returncode == -9, second.stderr[-2000:]  # SIGKILL mid-generation
    rows = run_from_config(CONFIG, out, sets)
    _assert_same_metrics(rows, _metrics(_run(sweep, "4", "none", 0)))
    changes = json.loads((out / "state.json").read_text())["config_changes"]
    assert [c["changed"] for c in changes] == [["run.debug_kill_after"]] * 2


def test_cached_judge_never_pays_twice(tmp_path):
    sets = ["judge.spec=tiny:0", "run.n_iterations=1", "tasks.n_train_prompts=4",
            "labeling.judge_chunk=8", "tasks.n_eval_prompts=6"]
    out = tmp_path / "killed"
    first = _cli(["train", str(CONFIG), "--out", str(out), "--set", *sets,
                  "run.debug_kill_after=iter1:judge:mid"])
    assert first.returncode == -9, first.stderr[-2000:]
    rows = run_from_config(CONFIG, out, sets)
    cost = json.loads((out / "iter-001" / "judge_cost.json").read_text())
    # The first chunk (8 pairs x 2 orders) was cached before the kill and is not paid again.
    assert cost["n_verdicts_new"] == cost["n_verdicts"] - 16
    verdicts = load_table(out / "verdicts.parquet")
    first_shown = np.where(verdicts["order"] == "12", verdicts["response_1"],
                           verdicts["response_2"])
    second_shown = np.where(verdicts["order"] == "12", verdicts["response_2"],
                            verdicts["response_1"])
    distinct = len(set(zip(verdicts["prompt"], first_shown, second_shown)))
    from judgebench.judges.cache import VerdictCache

    assert len(VerdictCache(out / "cache.sqlite")) == distinct  # each call stored once
    _assert_same_metrics(rows, run_from_config(CONFIG, tmp_path / "straight", sets))


# -- the other algorithms ------------------------------------------------------------------------

def _changed(run: Path, i: int = 1) -> float:
    from transformers import AutoModelForCausalLM

    a = AutoModelForCausalLM.from_pretrained(run / "checkpoints" / "iter-000" / "policy")
    b = AutoModelForCausalLM.from_pretrained(run / "checkpoints" / f"iter-{i:03d}" / "policy")
    return sum(float((p - q).detach().abs().sum()) for p, q in zip(a.parameters(), b.parameters()))


@pytest.mark.parametrize("algorithm", ["rm+grpo", "rm+rloo", "direct"])
def test_rl_algorithms_update_the_policy(algorithm, tmp_path):
    sets = [f"optimize.algorithm={algorithm}", "run.n_iterations=1", "tasks.n_train_prompts=4",
            "sampling.max_new_tokens=12", "optimize.batch_size=8", "optimize.num_generations=4",
            "optimize.learning_rate=1e-2"]
    rows = run_from_config(CONFIG, tmp_path, sets)
    assert len(rows) == 2 and rows[0]["train_steps"] > 0
    assert _changed(tmp_path) > 0
    if algorithm.startswith("rm+"):
        rm = tmp_path / "checkpoints" / "iter-000" / "reward_model"
        assert (rm / "config.json").exists()
        from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

        head = AutoModelForSequenceClassification.from_pretrained(rm)
        base = AutoModelForCausalLM.from_pretrained(tmp_path / "checkpoints/iter-000/policy")
        assert not torch.equal(head.model.layers[0].mlp.up_proj.weight,
                               base.model.layers[0].mlp.up_proj.weight)  # the RM trained
    else:
        phases = set(load_table(tmp_path / "verdicts.parquet")["phase"])
        assert phases == {"train", "eval", "reward"}  # the reward verdicts are kept too


def test_lora_dpo_saves_an_adapter(tmp_path):
    run_from_config(CONFIG, tmp_path, ["policy.lora=true", "run.n_iterations=1",
                                       "optimize.learning_rate=0.05"])
    adapter = tmp_path / "checkpoints" / "iter-001" / "policy"
    assert (adapter / "adapter_config.json").exists()
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tmp_path / "checkpoints/iter-000/policy")
    tuned = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(tmp_path / "checkpoints/iter-000/policy"), adapter)
    x = torch.tensor([[5, 6, 7, 8]])
    assert not torch.allclose(base(x).logits, tuned(x).logits)


# -- bad input -----------------------------------------------------------------------------------

def test_nan_loss_stops_and_leaves_the_run_resumable(tmp_path):
    sets = ["run.n_iterations=1"]
    with pytest.raises(NonFiniteLossError, match=r"NaN/inf .* rerun the same command"):
        run_from_config(CONFIG, tmp_path, [*sets, "optimize.learning_rate=1e30"])
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["finished"][-1] == [0, "instrument"]
    assert not (tmp_path / "checkpoints" / "iter-001").exists()  # no NaN weights saved
    samples = (tmp_path / "iter-000" / "samples.parquet").read_bytes()
    rows = run_from_config(CONFIG, tmp_path, [*sets, "optimize.learning_rate=1e-2"])
    assert len(rows) == 2 and (tmp_path / "iter-000" / "samples.parquet").read_bytes() == samples
    changes = json.loads((tmp_path / "state.json").read_text())["config_changes"]
    assert changes[0]["changed"] == ["optimize.learning_rate"]


def test_nan_guard_raises_on_a_nan_loss():
    class Args:
        learning_rate = 0.1

    class State:
        global_step = 3

    with pytest.raises(NonFiniteLossError, match=r"DPO loss became nan at step 3"):
        NonFiniteGuard("DPO").on_log(Args(), State(), None, logs={"loss": float("nan")})


def test_bad_inputs_fail_before_anything_is_written(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(CONFIG.read_text() + "\n[sampling]\nbeam_width = 2\n")
    with pytest.raises(ValueError):  # TOML refuses a repeated table: say so, never guess
        run_from_config(bad, tmp_path / "a")
    bad.write_text(CONFIG.read_text().replace("k = 4", "k = 4\nbeam_width = 2"))
    with pytest.raises(ValueError, match=r"Unknown key 'beam_width' in section \[sampling\]"):
        run_from_config(bad, tmp_path / "a")
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text('{"prompt": "Say hi.", "split": "train"}\n'
                     '{"prompt": "Say bye.", "split": "eval"}\n')
    with pytest.raises(ValueError, match=r"2 task\(s\) have no verifier"):
        run_from_config(CONFIG, tmp_path / "b", [f"tasks.path={json.dumps(str(tasks))}"])
    with pytest.raises(ValueError, match=r"spec 'openai:gpt' failed to load"):
        run_from_config(CONFIG, tmp_path / "c", ["judge.spec=openai:gpt"])
    assert not any((tmp_path / d).exists() for d in ("a", "b", "c"))


class _DownServer(Judge):
    """A served judge whose server is down: every call fails, with the reason."""

    cacheable = True

    def config(self):
        return {"kind": "down"}

    def _judge_batch(self, batch):
        n = len(batch.prompts)
        return JudgeOutput(p_first=np.full(n, np.nan),
                           error=["ConnectError: connection refused"] * n)


def test_a_failed_judge_step_is_not_marked_done_and_a_rerun_recovers(tmp_path):
    from judgebench.rlaif.loop import JudgeFailuresError, run_loop

    cfg = load_config(CONFIG, ["run.n_iterations=1"])
    with pytest.raises(JudgeFailuresError, match=r"of \d+ verdicts failed .*connection refused"
                                                 r".*retries only the failed"):
        run_loop(cfg, tmp_path / "run", judge=_DownServer())
    state = json.loads((tmp_path / "run" / "state.json").read_text())
    assert [0, "judge"] not in state["finished"] and [0, "generate"] in state["finished"]
    rows = run_loop(cfg, tmp_path / "run")  # the server is back: the same command recovers
    assert [r["iteration"] for r in rows] == [0, 1]


def test_a_python_built_config_goes_through_the_same_checks(tmp_path):
    from judgebench.rlaif.loop import run_loop

    cfg = load_config(CONFIG)
    cfg.optimize.algorithm = "ppo"
    with pytest.raises(ValueError, match=r"\[optimize\] algorithm must be one of \['dpo'"):
        run_loop(cfg, tmp_path / "run")
    assert not (tmp_path / "run").exists()


# -- scale-out -----------------------------------------------------------------------------------

def test_two_processes_under_accelerate_launch(tmp_path):
    if shutil.which("accelerate", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("accelerate's launcher is not installed beside this Python")
    launcher = str(Path(sys.executable).parent / "accelerate")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    # --multi_gpu runs torchrun; on a CPU-only machine the loop's PartialState(cpu=True) makes
    # it a gloo process group (accelerate's --cpu flag alone starts a single process).
    proc = subprocess.run(
        [launcher, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
         "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "judgebench.cli", "train",
         str(CONFIG), "--out", str(tmp_path), "--set", "run.n_iterations=1"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = _metrics(tmp_path)
    assert [r["iteration"] for r in rows] == [0, 1] and METRIC_KEYS <= set(rows[1])
    # The default seeding keeps sampling on the main process, and the run log says why, once.
    assert (tmp_path / "train.log").read_text().count("seeding = 'stream': only the main") == 1
    single = loads(CONFIG.read_text())
    n_pairs = rows[0]["n_train_pairs"]
    per_step = single.optimize.batch_size * 2  # two processes share each optimizer step
    assert rows[0]["train_steps"] == int(np.ceil(n_pairs / per_step)) * 2  # 2 epochs


PER_BATCH = ["sampling.seeding=per_batch", "sampling.batch_size=8"]  # 32 candidates: 4 batches


def _tables(run_dir: Path, i: int) -> dict[str, pd.DataFrame]:
    d = run_dir / f"iter-{i:03d}"
    return {name: load_table(d / f"{name}.parquet").drop(columns=["latency_s"], errors="ignore")
            for name in ("samples", "eval", "pairs", "verdicts_train", "labels", "train_pairs")}


def test_per_batch_generate_gives_the_same_rows_for_any_share_of_the_batches():
    from judgebench.models import load_model
    from judgebench.rlaif.sampling import generate

    m = load_model("tiny:0")
    prompts = ["Say hi.", "Count to three.", "Name a colour.", "Spell cat."]
    kw = dict(n=3, max_new_tokens=6, seed=0, batch_size=4, batch_seeds=lambda b: 100 + b)
    full = generate(m.model, m.tokenizer, prompts, **kw)  # 12 jobs: batches 0, 1, 2
    shares = [generate(m.model, m.tokenizer, prompts, batches={0, 2}, **kw),
              generate(m.model, m.tokenizer, prompts, batches={1}, **kw)]
    merged = sorted(shares[0] + shares[1], key=lambda r: (r["prompt_index"], r["candidate"]))
    assert merged == full and len(full) == 12
    assert [r["prompt_index"] for r in shares[1]] == [1, 1, 2, 2]  # global indices kept
    stream = generate(m.model, m.tokenizer, prompts, n=3, max_new_tokens=6, seed=0,
                      batch_size=4)
    assert [r["response"] for r in stream] != [r["response"] for r in full]
    with pytest.raises(ValueError, match="needs batch_seeds"):
        generate(m.model, m.tokenizer, prompts, n=1, seed=0, batches={0})


def test_seeding_is_checked():
    with pytest.raises(ValueError, match=r"\[sampling\] seeding must be one of "
                                         r"\['stream', 'per_batch'\]; got 'batch'"):
        load_config(CONFIG, ["sampling.seeding=batch"])
    with pytest.raises(ValueError, match=r"seeding = 'per_batch' .*\(backend = 'hf'\)"):
        load_config(CONFIG, ["sampling.seeding=per_batch", "sampling.backend=vllm"])


def test_per_batch_seeding_repeats_itself_and_differs_from_the_stream(tmp_path):
    sets = ["run.n_iterations=1", "sampling.batch_size=8"]
    a = run_from_config(CONFIG, tmp_path / "a", [*sets, "sampling.seeding=per_batch"])
    b = run_from_config(CONFIG, tmp_path / "b", [*sets, "sampling.seeding=per_batch"])
    _assert_same_metrics(list(a), list(b))
    for i in (0, 1):
        for name, table in _tables(tmp_path / "a", i).items():
            pd.testing.assert_frame_equal(table, _tables(tmp_path / "b", i)[name], obj=name)
    run_from_config(CONFIG, tmp_path / "s", sets)  # the default: one stream through 4 batches
    for name in ("samples", "eval"):
        ra = load_table(tmp_path / "a" / "iter-000" / f"{name}.parquet")["response"]
        rs = load_table(tmp_path / "s" / "iter-000" / f"{name}.parquet")["response"]
        assert list(ra) != list(rs), name


def test_per_batch_seeding_gives_two_processes_the_numbers_of_one(tmp_path):
    # Both sampling and judging are sharded (each process its share of batches and chunks).
    if shutil.which("accelerate", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("accelerate's launcher is not installed beside this Python")
    launcher = str(Path(sys.executable).parent / "accelerate")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    sets = ["run.n_iterations=1", *PER_BATCH, "labeling.shard_judging=true"]
    proc = subprocess.run(
        [launcher, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
         "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "judgebench.cli", "train",
         str(CONFIG), "--out", str(tmp_path / "two"), "--set", *sets],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    one = run_from_config(CONFIG, tmp_path / "one", sets)
    two = _metrics(tmp_path / "two")
    # Iteration 0 is sampled, judged and measured before any update: with per-batch seeds it
    # is the same whatever the number of processes. Its update (train_stats.json's keys in the
    # row) and iteration 1, which measures that policy, are DDP's with twice the global batch
    # (test above), so of those only the gathered sampling path is checked.
    trained = set(json.loads((tmp_path / "one" / "iter-000" / "train_stats.json").read_text()))
    _assert_same_metrics(*([{k: v for k, v in r.items() if k not in trained} for r in rows]
                           for rows in (list(one)[:1], two[:1])))
    for name, table in _tables(tmp_path / "one", 0).items():
        pd.testing.assert_frame_equal(table, _tables(tmp_path / "two", 0)[name], obj=name)
    ev = load_table(tmp_path / "two" / "iter-001" / "eval.parquet")
    assert list(ev["prompt_index"]) == list(range(len(ev)))  # gathered back in order
    for i in (0, 1):  # both processes judged, into the one cache the main process counts
        cost = json.loads((tmp_path / "two" / f"iter-{i:03d}" / "judge_cost.json").read_text())
        assert len(cost["n_verdicts_by_process"]) == 2 and min(cost["n_verdicts_by_process"]) > 0
        assert sum(cost["n_verdicts_by_process"]) == cost["n_verdicts"]
    held = [load_table(tmp_path / r / "iter-000" / "verdicts_eval.parquet") for r in ("one", "two")]
    pd.testing.assert_frame_equal(*(v.drop(columns="latency_s") for v in held))
    assert "seeding = 'stream'" not in (tmp_path / "two" / "train.log").read_text()


def test_the_loop_traces_the_judges_feature_and_onset(tmp_path):
    from judgebench.rlaif.sweep import summary_record

    rows = run_from_config(CONFIG, tmp_path / "run", [
        "run.n_iterations=1", 'judge.spec="simulated:lexical=3.0,lexical_words=the|a,noise=0.5"'])
    for row in rows:
        for key in ("rollout_feature_rate_lexical", "label_prefers_lexical",
                    "feature_rate_lexical", "rollout_feature_rate_listness"):
            assert key in row, key
    rec = summary_record({"judge.lexical": "3"}, 0, rows)
    assert "final_onset_lexical" in rec and "mean_label_prefers_lexical" in rec
    with pytest.raises(ValueError, match=r"\[instrument\] features \['delve'\]"):
        load_config(CONFIG, ["instrument.features=['delve']"])


# -- trackers and checkpoints ------------------------------------------------------------------

def test_one_tracker_run_gets_trl_logs_and_propagation_metrics(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    sets = ["run.n_iterations=2", "tasks.n_train_prompts=4", "tasks.n_eval_prompts=4",
            "sampling.max_new_tokens=12", "instrument.n_boot=0", "run.report_to=tensorboard",
            "run.keep_last=1"]
    rows = run_from_config(CONFIG, tmp_path, sets)
    logdir = tmp_path / "tracker" / "tensorboard"
    assert len(list(logdir.glob("events.out.tfevents.*"))) == 1  # one run for the whole loop
    events = EventAccumulator(str(logdir))
    events.Reload()
    tags = events.Tags()["scalars"]
    # The propagation metrics sit at the step where policy i was saved ...
    steps = [0, rows[0]["train_steps"], rows[0]["train_steps"] + rows[1]["train_steps"]]
    drift = events.Scalars("propagation/length_drift_chars")
    assert [e.step for e in drift] == steps
    assert [e.value for e in drift] == pytest.approx([r["length_drift_chars"] for r in rows])
    # ... and TRL's per-step logs continue one step axis across iterations.
    loss = [e.step for e in events.Scalars("train/loss")]
    assert loss == list(range(1, steps[-1] + 1))
    assert "train/rewards/margins" in tags and "propagation/label_accuracy" in tags
    # keep_last = 1: iteration 0 and the newest policy; the resume needs no other.
    kept = sorted(p.name for p in (tmp_path / "checkpoints").glob("iter-*"))
    assert kept == ["iter-000", "iter-002"]
    more = run_from_config(CONFIG, tmp_path, [*sets, "run.n_iterations=3"])
    assert [r["iteration"] for r in more] == [0, 1, 2, 3]
    kept = sorted(p.name for p in (tmp_path / "checkpoints").glob("iter-*"))
    assert kept == ["iter-000", "iter-003"]


def test_a_missing_tracker_package_fails_before_anything_is_written(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "wandb" else real(name, *a))
    with pytest.raises(ImportError, match=r"report_to = 'wandb' needs the 'wandb' package"):
        run_from_config(CONFIG, tmp_path / "run", ["run.report_to=wandb"])
    assert not (tmp_path / "run").exists()
    with pytest.raises(ValueError, match=r"\[run\] report_to must be one of \['none'"):
        load_config(CONFIG, ["run.report_to=mlflow"])
    with pytest.raises(ValueError, match=r"\[trainer\] report_to would open a tracker run"):
        load_config(CONFIG, ["trainer.report_to=wandb"])


def test_style_self_preference_is_traced_as_drift_toward_the_judges_style(tmp_path):
    rows = run_from_config(CONFIG, tmp_path / "run", [
        "run.n_iterations=1",
        'judge.spec="simulated:style=listness,style_preference=3.0,noise=0.5"'])
    assert all("style_score" in r and "style_score_change" in r for r in rows)
    assert rows[0]["style_score_change"] == 0.0
    plain = run_from_config(CONFIG, tmp_path / "plain", ["run.n_iterations=1"])
    assert "style_score" not in plain[-1]
