"""The reward server on loopback, sent the exact payloads of OpenRLHF and verl, and TRL's call."""

import importlib.util
import json
import sys
import threading
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from judgebench.cli import main
from judgebench.judges.openai import OpenAIJudge
from judgebench.judges.simulated import SimulatedJudge
from judgebench.serve import (
    RewardScorer,
    TRLReward,
    VerdictLog,
    compute_score,
    make_server,
    split_chat_text,
)
from judgebench.verdicts import load_table, validate_verdicts


def _fake():
    name = "fake_openai_server"
    if name not in sys.modules:  # --import-mode=importlib: load the helper from its path
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).parent / "judges" / f"{name}.py")
        sys.modules[name] = module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return sys.modules[name]


def chatml(question, answer=None):
    text = f"<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n"
    return text if answer is None else text + answer + "<|im_end|>"


@contextmanager
def serving(scorer):
    server = make_server(scorer, 0)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        scorer.close()


def post(url, payload):
    request = urllib.request.Request(url, data=json.dumps(payload).encode(),
                                     headers={"Content-Type": "application/json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _served_judge(srv, **kw):
    return OpenAIJudge("m", srv.url, backoff_s=0.01, timeout_s=2, **kw)


def test_openrlhf_payload_gets_rewards_and_every_verdict_is_logged(tmp_path):
    f = _fake()
    with f.FakeOpenAIServer() as judge_srv:
        scorer = RewardScorer(_served_judge(judge_srv), tmp_path, flush_every=1)
        prompts = [chatml("question 0"), chatml("question 1")]
        # OpenRLHF's remote_rm_fn body: query = prompt + response as decoded, labels = --label_key
        payload = {"query": [prompts[0] + f"{f.GOOD} mine<|im_end|>",
                             prompts[1] + f"{f.BAD} mine<|im_end|>"],
                   "prompts": prompts, "labels": [f"{f.BAD} ref", f"{f.GOOD} ref"]}
        with serving(scorer) as url:
            status, answer = post(f"{url}/get_reward", payload)
    assert status == 200
    np.testing.assert_allclose(answer["rewards"], [f.P_FIRST_GOOD, 1 - f.P_FIRST_GOOD])
    assert answer["scores"] == answer["rewards"]
    assert answer["extra_logs"] == {"judge_failed": [0.0, 0.0]}
    v = validate_verdicts(load_table(tmp_path / "verdicts.jsonl"))
    assert len(v) == 4 and set(v["order"]) == {"12", "21"} and not v["failed"].any()
    assert (v["source"] == "openrlhf").all() and v["prompt"].iloc[0] == "question 0"
    assert v["response_1"].iloc[0] == f"{f.GOOD} mine"  # the template's end token is cut
    audit = tmp_path / "audit"
    assert main(["audit", "--verdicts", str(tmp_path / "verdicts.jsonl"), "--out",
                 str(audit)]) == 0
    assert (audit / "audit.json").exists()


def test_verl_classify_and_embeddings_payloads(tmp_path):
    scorer = RewardScorer(SimulatedJudge(seed=0), tmp_path, anchor="first", failure_reward=0.0)
    with serving(scorer) as url:
        # verl's reward loop, vLLM engine: the RM-tokenizer-rendered chat, activation off.
        first = post(f"{url}/classify", {"model": "rm", "input": chatml("2+2?", "4"),
                                         "use_activation": False})
        status, answer = post(f"{url}/classify", {"model": "rm",
                                                  "input": chatml("2+2?", "four, I think")})
        # SGLang engine: /v1/embeddings, read as data[-1]["embedding"][-1].
        status_e, emb = post(f"{url}/v1/embeddings", {"model": "rm",
                                                      "input": chatml("2+2?", "5")})
    assert first[1]["data"][-1]["probs"][-1] == 0.5  # the first completion is the anchor
    assert status == 200 and 0 <= answer["data"][-1]["probs"][-1] <= 1
    assert status_e == 200 and 0 <= emb["data"][-1]["embedding"][-1] <= 1
    assert load_table(tmp_path / "anchors.jsonl")["response"].tolist() == ["4"]
    assert len(load_table(tmp_path / "verdicts.jsonl")) == 4


def test_verl_compute_score_function_calls_the_server(tmp_path):
    f = _fake()
    with f.FakeOpenAIServer() as judge_srv:
        scorer = RewardScorer(_served_judge(judge_srv), tmp_path)
        with serving(scorer) as url:
            # verl calls compute_score(data_source, solution_str, ground_truth, extra_info,
            # **reward_kwargs); the question travels in extra_info.
            out = compute_score("gsm8k", f"{f.GOOD} 72", f"{f.BAD} 70",
                                {"question": "How many?", "index": 3}, url=url)
    assert out["score"] == pytest.approx(f.P_FIRST_GOOD) and out["judge_failed"] is False
    assert (load_table(tmp_path / "verdicts.jsonl")["source"] == "verl").all()


@pytest.mark.parametrize("route,payload,match", [
    ("/get_reward", {"query": ["q a"], "labels": ["r"]}, "no field 'prompts'"),
    ("/get_reward", {"query": ["q a"], "prompts": ["q"]}, "'labels' must hold one reference"),
    ("/get_reward", {"query": ["x a"], "prompts": ["q"], "labels": ["r"]},
     r"query\[0\] does not contain prompts\[0\]"),
    ("/get_reward", {"query": "q a", "prompts": ["q"], "labels": ["r"]}, "'query' must be"),
    ("/compute_score", {"solution_str": "a", "ground_truth": "b", "extra_info": {}},
     "no field 'extra_info.question'"),
    ("/compute_score", {"ground_truth": "b", "extra_info": {"question": "q"}},
     "no field 'solution_str'"),
    ("/classify", {"model": "rm"}, "no field 'input'"),
    ("/classify", {"input": "no template here"}, r"input\[0\] has no assistant turn"),
    ("/nope", {}, "no route POST /nope"),
])
def test_a_request_with_missing_fields_gets_a_4xx_naming_the_field(tmp_path, route, payload,
                                                                   match):
    scorer = RewardScorer(SimulatedJudge(seed=0), tmp_path)
    with serving(scorer) as url:
        status, answer = post(f"{url}{route}", payload)
    assert 400 <= status < 500
    assert match in answer["error"] or __import__("re").search(match, answer["error"])


def test_a_judge_failure_is_logged_and_never_a_preference(tmp_path):
    dead = OpenAIJudge("m", _fake().dead_url(), max_retries=0, timeout_s=1)
    payload = {"query": [chatml("q") + "mine"], "prompts": [chatml("q")], "labels": ["ref"]}
    # Without a failure reward OpenRLHF cannot be told "skip": 503, naming the failure.
    with serving(RewardScorer(dead, tmp_path / "a")) as url:
        status, answer = post(f"{url}/get_reward", payload)
    assert status == 503 and "1 of 1 judgments failed" in answer["error"]
    assert "connection error" in answer["error"] and "--failure-reward" in answer["error"]
    with serving(RewardScorer(dead, tmp_path / "b", failure_reward=-1.0)) as url:
        status, answer = post(f"{url}/get_reward", payload)
        status_s, score = post(f"{url}/compute_score", {
            "solution_str": "mine", "ground_truth": "ref", "extra_info": {"question": "q"}})
    assert status == 200 and answer["rewards"] == [-1.0]
    assert answer["extra_logs"]["judge_failed"] == [1.0]
    assert score["score"] == -1.0 and score["judge_failed"] and score["p_win"] is None
    v = load_table(tmp_path / "b" / "verdicts.jsonl")
    assert v["failed"].all() and v["p_1"].isna().all() and len(v) == 4


def test_trl_reward_function_signature(tmp_path):
    scorer = RewardScorer(SimulatedJudge(seed=0), tmp_path, anchor="first")
    reward = TRLReward(scorer)
    # GRPOTrainer calls reward_func(prompts=..., completions=..., **dataset columns).
    prompts = [[{"role": "user", "content": "2+2?"}]] * 3
    completions = [[{"role": "assistant", "content": c}] for c in ("4", "four", "")]
    out = reward(prompts=prompts, completions=completions, task_id=[1, 1, 1])
    assert out[0] == 0.5 and 0 <= out[1] <= 1 and out[2] == 0.0
    dead = TRLReward(RewardScorer(OpenAIJudge("m", _fake().dead_url(), max_retries=0),
                                  tmp_path / "d"))
    assert dead(["q"], ["a"], anchor=["ref"]) == [None]  # TRL skips None
    with pytest.raises(ValueError, match="needs a dataset column 'anchor'"):
        dead(["q"], ["a"])


def test_split_chat_text_and_the_log_repairs_a_torn_chunk(tmp_path):
    assert split_chat_text(chatml("Hi?", "Hello.")) == ("Hi?", "Hello.")
    llama = ("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi?<|eot_id|>"
             "<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>")
    assert split_chat_text(llama) == ("Hi?", "Hello.")
    assert split_chat_text("plain") == ("plain", None)
    path = tmp_path / "verdicts.jsonl"
    path.write_text('{"pair_id": "a"}\n{"pair_id": "b", "p_')  # a crash mid-append
    VerdictLog(tmp_path)
    assert path.read_text() == '{"pair_id": "a"}\n'


def test_serve_reward_command_checks_its_arguments(tmp_path, capsys):
    assert main(["serve-reward", "--judge", "simulated:bias=1", "--log", str(tmp_path)]) == 2
    assert "Unknown key 'bias'" in capsys.readouterr().err
    assert main(["serve-reward", "--judge", "simulated", "--log", str(tmp_path),
                 "--pipeline", str(tmp_path / "none.json")]) == 2
    assert "--pipeline" in capsys.readouterr().err


def test_a_calibration_pipeline_is_applied_before_the_orders_are_averaged(tmp_path):
    from judgebench.calibration.pipeline import Pipeline
    from judgebench.verdicts import bundled_pairs

    judge = SimulatedJudge(position=1.0, seed=0)
    fitted = Pipeline(["temperature"]).fit(judge.judge(bundled_pairs().head(40), progress=False))
    fitted.to_json(tmp_path / "pipeline.json")
    scorer = RewardScorer(judge, tmp_path, pipeline=tmp_path / "pipeline.json", flush_every=1)
    out = scorer.score(["2+2?"], ["4"], ["four"])[0]
    v = load_table(tmp_path / "verdicts.jsonl")
    assert np.isfinite(v["p_1_calibrated"]).all()
    assert out.value == pytest.approx(v["p_1_calibrated"].mean())
    assert v["reward"].tolist() == [out.value, out.value]
