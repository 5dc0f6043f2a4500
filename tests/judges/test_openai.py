"""OpenAIJudge against a real HTTP server on 127.0.0.1 (tests/judges/fake_openai_server.py)."""

from __future__ import annotations

import importlib.util
import math
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from judgebench.judges.cache import VerdictCache
from judgebench.judges.http import CircuitBreaker
from judgebench.judges.openai import (
    OpenAIJudge,
    decision_position,
    expected_score_from_top_logprobs,
    normalize_token,
    p_first_from_top_logprobs,
    parse_pairwise_verdict,
    parse_pointwise_score,
)
from judgebench.judges.templates import get_template
from judgebench.verdicts import load_table, save_table, validate_verdicts


def _load_beside(name: str):
    # pytest runs with --import-mode=importlib, so a helper beside this file is not importable
    # by name; load it from its path (registered, so that its dataclasses work).
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


_srv = _load_beside("fake_openai_server")
GOOD, BAD, P_FIRST_GOOD = _srv.GOOD, _srv.BAD, _srv.P_FIRST_GOOD
FakeOpenAIServer, Reply, chat_body = _srv.FakeOpenAIServer, _srv.Reply, _srv.chat_body
prefers_good, user_text = _srv.prefers_good, _srv.user_text
not_supported, dead_url = _srv.not_supported, _srv.dead_url

FAST = dict(backoff_s=0.01, timeout_s=5)  # retries in milliseconds, keep tests fast
LN = math.log


def _pairs(n: int = 4) -> pd.DataFrame:
    # Good answer first in even rows, second in odd rows.
    r_good = [f"{GOOD} answer {i}" for i in range(n)]
    r_bad = [f"{BAD} answer {i}" for i in range(n)]
    return pd.DataFrame({
        "pair_id": [f"p{i}" for i in range(n)],
        "prompt": [f"question {i}" for i in range(n)],
        "response_1": [g if i % 2 == 0 else b for i, (g, b) in enumerate(zip(r_good, r_bad))],
        "response_2": [b if i % 2 == 0 else g for i, (g, b) in enumerate(zip(r_good, r_bad))],
    })


def _judge(srv: FakeOpenAIServer, **kw) -> OpenAIJudge:
    return OpenAIJudge("fake-model", srv.url, **{**FAST, **kw})


# -- pure readers --------------------------------------------------------------------------


def test_normalize_token_strips_space_brackets_and_stars():
    assert [normalize_token(t) for t in ("A", " A", "[[A", "(B)", "**B**", " [[C]]")] == \
        ["A", "A", "A", "B", "B", "C"]


def test_p_first_is_softmax_over_the_labels_with_spellings_summed():
    top = {"A": LN(0.5), " A": LN(0.1), "B": LN(0.2), "The": LN(0.1)}
    assert p_first_from_top_logprobs(top) == pytest.approx(0.6 / 0.8)
    assert p_first_from_top_logprobs({"A": LN(0.3), "B": LN(0.6)}, ("B", "A")) == \
        pytest.approx(2 / 3)  # labels[0] is the first slot whatever its letter


def test_absent_label_is_bounded_by_the_smallest_listed_or_the_unlisted_mass():
    # Listed mass 0.9: B can have at most min(0.05, 0.1) = 0.05.
    top = {"A": LN(0.85), "The": LN(0.05)}
    assert p_first_from_top_logprobs(top) == pytest.approx(0.85 / 0.90)
    # Listed mass 0.99: the unlisted 0.01 is the tighter bound.
    top = {"B": LN(0.5), "The": LN(0.49)}
    assert p_first_from_top_logprobs(top) == pytest.approx(0.01 / 0.51)
    assert p_first_from_top_logprobs({"The": LN(0.9)}) is None


def test_tie_label_counts_half():
    top = {"A": LN(0.2), "B": LN(0.1), "C": LN(0.6)}
    assert p_first_from_top_logprobs(top, tie_label="C") == pytest.approx(0.5 / 0.9)
    assert p_first_from_top_logprobs({"A": -math.inf, "B": -math.inf}) == 0.5


@pytest.mark.parametrize("text,p", [
    ("A", 1.0), (" B\n", 0.0), ("**A**", 1.0), ("(B)", 0.0), ("Assistant A.", 1.0),
    ("Response B", 0.0), ("Answer: A", 1.0), ("B is shorter but wrong. [[A]]", 1.0),
    ("First [[A]] then on reflection [[B]]", 0.0), ("Both fine. [[C]]", 0.5),
    ("My final verdict: Assistant B", 0.0), ("The better response is (A).", 1.0),
])
def test_parse_pairwise_verdict(text, p):
    assert parse_pairwise_verdict(text, tie_label="C") == p


@pytest.mark.parametrize("text", ["", "I cannot decide.", "a", "A good answer needs detail",
                                  "[[C]]", "Assistant Z"])
def test_parse_pairwise_verdict_refuses_what_names_no_label(text):
    # "[[C]]" is no verdict for a template without a tie label.
    assert parse_pairwise_verdict(text) is None


def test_parse_pointwise_score_and_expected_score():
    scores = [str(i) for i in range(1, 10)]
    assert parse_pointwise_score("Good. Rating: [[7]]", scores) == 7.0
    assert parse_pointwise_score("Score: 3", scores) == 3.0
    assert parse_pointwise_score(" 5 ", scores) == 5.0
    assert parse_pointwise_score("[[12]]", scores) is None
    top = {"6": LN(0.2), " 7": LN(0.6), "8": LN(0.1), "x": LN(0.05)}
    assert expected_score_from_top_logprobs(top, scores) == pytest.approx(
        (6 * 0.2 + 7 * 0.6 + 8 * 0.1) / 0.9)
    assert expected_score_from_top_logprobs({"x": 0.0}, scores) is None


def test_decision_position_skips_the_explanation_when_a_prefix_marks_the_verdict():
    tokens = ["Assistant", " A", " is", " wordy", ". ", "[[", "B", "]]"]
    tops = [{t: -0.1} for t in tokens]
    tops[1] = {" A": -0.1, " B": -2.0}
    assert decision_position(tokens, tops, "AB") == 1
    assert decision_position(tokens, tops, "AB", answer_prefix="[[") == 6
    # A long reply without the marker has no decision position; a bare answer does.
    assert decision_position(tokens[:5], tops[:5], "AB", answer_prefix="[[") is None
    assert decision_position(["A"], [{"A": -0.1}], "AB", answer_prefix="[[") == 0


# -- against the server --------------------------------------------------------------------


def test_probabilities_match_the_logprobs_the_server_sent():
    with FakeOpenAIServer() as srv:
        p = _judge(srv).compare(["q1", "q2"], [f"{GOOD} x", f"{BAD} y"], [f"{BAD} x", f"{GOOD} y"])
        body = srv.bodies[0]
    np.testing.assert_allclose(p, [P_FIRST_GOOD, 1 - P_FIRST_GOOD])
    assert body["logprobs"] is True and body["top_logprobs"] == 20 and body["max_tokens"] == 1
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert body["temperature"] == 0.0 and body["model"] == "fake-model"


def test_both_orders_give_the_same_p1_and_full_verdict_rows(tmp_path):
    pairs = _pairs(4)
    with FakeOpenAIServer() as srv:
        v = _judge(srv, name="fake").judge(pairs, progress=False)
        assert srv.n_requests == 8
    validate_verdicts(v)
    assert not v["failed"].any() and v["error"].isna().all()
    wide = v.pivot(index="pair_id", columns="order", values="p_1")
    np.testing.assert_allclose(wide["12"], wide["21"])
    good_is_1 = pairs.set_index("pair_id")["response_1"].str.startswith(GOOD)
    expected = np.where(good_is_1[wide.index], P_FIRST_GOOD, 1 - P_FIRST_GOOD)
    np.testing.assert_allclose(wide["12"], expected)
    assert (v["judge"] == "fake").all() and (v["n_tokens"] == 42).all()
    assert (v["latency_s"] > 0).all()
    assert v["raw"][0]["from"] == "logprobs" and v["raw"][0]["pos"] == 0
    save_table(v, tmp_path / "v.parquet")  # raw (dicts with mixed lists) survives Parquet
    np.testing.assert_allclose(load_table(tmp_path / "v.parquet")["p_1"], v["p_1"])


def test_text_fallback_when_the_server_sends_no_logprobs():
    replies = {"q-a": "Assistant A", "q-b": "Looks close, but [[B]]", "q-c": "[[C]]"}

    def respond(body, n):
        question = user_text(body).split("\n")[1]  # "[User Question]\n{question}..."
        return Reply(chat_body(replies[question], logprobs=None, total_tokens=None))

    with FakeOpenAIServer(respond) as srv:
        j = _judge(srv, template="mtbench-pair-v2")
        p = j.compare(list(replies), ["x"] * 3, ["y"] * 3)
        assert srv.bodies[0]["max_tokens"] == 1024  # the verdict follows an explanation
    np.testing.assert_array_equal(p, [1.0, 0.0, 0.5])


def test_pair_v2_reads_the_logprobs_at_the_final_verdict_not_the_explanation():
    lp = [("Assistant", -0.1, [("Assistant", -0.1)]),
          (" A", -0.2, [(" A", -0.2), (" B", -1.8)]),  # "Assistant A" in the explanation
          (" rambles", -0.1, []), (".", -0.1, []), (" [[", -0.1, [(" [[", -0.1)]),
          ("B", LN(0.6), [("B", LN(0.6)), ("A", LN(0.3)), ("C", LN(0.1))]),
          ("]]", -0.1, [])]
    with FakeOpenAIServer(lambda b, n: Reply(chat_body("Assistant A rambles. [[B]]", lp))) \
            as srv:
        v = _judge(srv, template="mtbench-pair-v2").judge(_pairs(1), ["12"], progress=False)
    assert v["p_first"][0] == pytest.approx((0.3 + 0.05) / 1.0)
    assert v["raw"][0]["pos"] == 5


def test_logprobs_without_any_label_fall_back_to_the_text():
    lp = [("Sure", -0.1, [("Sure", -0.1), ("Well", -3.0)])]
    with FakeOpenAIServer(lambda b, n: Reply(chat_body("B", lp))) as srv:
        v = _judge(srv).judge(_pairs(1), ["12"], progress=False)
    assert v["p_first"][0] == 0.0 and v["raw"][0]["from"] == "text"


def _always(reply: Reply):
    return lambda body, n: reply


@pytest.mark.parametrize("respond,kw,n_requests,match", [
    (_always(Reply({"error": "boom"}, status=500)), {"max_retries": 2}, 3,
     r"HTTP 500.*boom.*after 3 attempts"),
    (_always(Reply({"error": "no such model"}, status=404)), {}, 1,
     r"HTTP 404.*not retried.*no such model"),
    (_always(Reply({"error": "no"}, status=501)), {"max_retries": 3}, 1,
     r"HTTP 501.*permanent, not retried"),
    (not_supported, {"max_retries": 3}, 1, r"HTTP 500.*not retried.*logprobs is not supported"),
    (_always(Reply({"error": "slow"}, status=408)), {"max_retries": 1}, 2,
     r"HTTP 408.*after 2 attempts"),
    (_always(Reply({"error": "bad"}, status=400)), {}, 1, r"HTTP 400.*not retried"),
    (_always(Reply(chat_body("I like both of them", None))), {}, 1, r"could not parse"),
    (_always(Reply(b'{"choices": [{"message": ')), {}, 1, r"malformed JSON"),
    (_always(Reply({"object": "error"})), {}, 1, r"no choices\[0\]\.message"),
    (_always(Reply(chat_body("A"), delay_s=3.0)), {"timeout_s": 0.2, "max_retries": 1}, 2,
     r"timed out after 0.2 s.*after 2 attempts"),
])
def test_failures_are_nan_with_a_reason_never_a_preference(respond, kw, n_requests, match):
    t0 = time.perf_counter()
    with FakeOpenAIServer(respond) as srv:
        v = _judge(srv, **kw).judge(_pairs(1), ["12"], progress=False)
        assert srv.n_requests == n_requests
    assert time.perf_counter() - t0 < 2.5  # the timeout case must not wait for the server
    assert v["failed"].all() and v["p_first"].isna().all() and v["p_1"].isna().all()
    assert re.search(match, v["error"][0]), v["error"][0]  # the reason names what went wrong


def test_connection_refused_is_a_failure():
    with FakeOpenAIServer() as srv:
        url = srv.url  # the port is closed once the server is gone
    p = OpenAIJudge("m", url, max_retries=1, backoff_s=0.01, timeout_s=1).judge(
        _pairs(1), ["12"], progress=False)
    assert p["failed"].all()
    assert "connection error" in p["error"][0] and "after 2 attempts" in p["error"][0]


@pytest.mark.parametrize("first_replies,n_requests", [
    ([Reply({"error": "busy"}, status=500)] * 2, 3),
    ([Reply({"error": "slow down"}, status=429, headers={"Retry-After": "0"})], 2),
    ([Reply({"error": "bad gateway"}, status=502)], 2),
])
def test_retries_recover_from_429_and_5xx(first_replies, n_requests):
    def respond(body, n):
        return first_replies[n - 1] if n <= len(first_replies) else prefers_good(body)

    with FakeOpenAIServer(respond) as srv:
        p = _judge(srv, max_retries=3).compare(["q"], [f"{GOOD} a"], [f"{BAD} b"])
        assert srv.n_requests == n_requests
    assert p[0] == pytest.approx(P_FIRST_GOOD)


def test_malformed_logprobs_are_ignored_and_the_text_is_read():
    body = chat_body("A", [("A", 5.0, [("A", "x"), ("B", float("nan"))])], total_tokens=None)
    body["choices"][0]["logprobs"]["content"].append("junk")
    with FakeOpenAIServer(lambda b, n: Reply(body)) as srv:
        v = _judge(srv).judge(_pairs(1), ["12"], progress=False)
    assert v["p_first"][0] == 1.0 and v["raw"][0]["from"] == "text" and v["n_tokens"][0] == 0


def test_backoff_is_exponential_with_jitter_and_honours_retry_after():
    j = OpenAIJudge("m", "http://127.0.0.1:9/v1", backoff_s=1.0)
    delays = np.array([[j._delay(a, None) for _ in range(200)] for a in range(3)])
    for attempt, row in enumerate(delays):
        assert 0.5 * 2**attempt <= row.min() and row.max() <= 1.5 * 2**attempt
        assert row.std() > 0.1 * 2**attempt  # jittered, so workers do not retry in step
    assert j._delay(0, 7.0) == 7.0 and j._delay(0, 1e6) == 60.0


def test_concurrency_limit_is_honoured():
    def slow(body, n):
        reply = prefers_good(body)
        reply.delay_s = 0.1
        return reply

    with FakeOpenAIServer(slow) as srv:
        p = _judge(srv, max_concurrency=3).compare(
            ["q"] * 12, [f"{GOOD} {i}" for i in range(12)], [BAD] * 12)
        assert srv.n_requests == 12
        # Requests overlapped (the limit was used) and never exceeded it; a wall-clock check
        # would say the same less reliably on a busy machine.
        assert 2 <= srv.max_in_flight <= 3
    np.testing.assert_allclose(p, P_FIRST_GOOD)


def test_cache_prevents_a_second_http_call(tmp_path):
    cache = VerdictCache(tmp_path / "cache.sqlite")
    pairs = _pairs(3)
    with FakeOpenAIServer() as srv:
        v1 = _judge(srv).judge(pairs, cache=cache, progress=False)
        assert srv.n_requests == 6
        v2 = _judge(srv).judge(pairs, cache=cache, progress=False)
        assert srv.n_requests == 6
        # Retry settings do not change the verdict, so they are not in the key; the model is.
        _judge(srv, max_retries=0).judge(pairs, ["12"], cache=cache, progress=False)
        assert srv.n_requests == 6
        OpenAIJudge("other", srv.url, **FAST).judge(pairs, ["12"], cache=cache, progress=False)
        assert srv.n_requests == 9
    np.testing.assert_allclose(v1["p_1"], v2["p_1"])
    assert v2["raw"][0] == v1["raw"][0]


def test_failures_are_not_cached(tmp_path):
    cache = VerdictCache(tmp_path / "cache.sqlite")
    with FakeOpenAIServer(_always(Reply({}, status=503))) as srv:
        _judge(srv, max_retries=0).judge(_pairs(1), ["12"], cache=cache, progress=False)
        _judge(srv, max_retries=0).judge(_pairs(1), ["12"], cache=cache, progress=False)
        assert srv.n_requests == 2 and len(cache) == 0


def test_api_key_is_sent_but_never_in_config_or_repr():
    with FakeOpenAIServer() as srv:
        j = _judge(srv, api_key="sk-secret")
        j.compare(["q"], [GOOD], [BAD])
        assert srv.headers[0]["Authorization"] == "Bearer sk-secret"
    assert "sk-secret" not in repr(j.config()) and "sk-secret" not in repr(j)
    assert j.config() == {"kind": "openai", "model": "fake-model", "base_url": srv.url,
                          "template": "default", "temperature": 0.0, "top_logprobs": 20,
                          "max_tokens": 1}


def test_top_logprobs_zero_asks_for_none_and_parses_the_text():
    with FakeOpenAIServer(lambda b, n: Reply(chat_body("B", None))) as srv:
        p = _judge(srv, top_logprobs=0, max_tokens=4).compare(["q"], ["a"], ["b"])
        assert "logprobs" not in srv.bodies[0] and srv.bodies[0]["max_tokens"] == 4
    assert p[0] == 0.0


def test_a_prefill_assistant_turn_is_not_sent_to_a_chat_server():
    @dataclass
    class Prefilled:
        name: str = "prefilled"
        labels: tuple = ("A", "B")

        def messages(self, question, answer_a, answer_b):
            return [{"role": "user", "content": f"{question} {answer_a} {answer_b}"},
                    {"role": "assistant", "content": "Answer:"}]

    with FakeOpenAIServer() as srv:
        p = _judge(srv, template=Prefilled()).compare(["q"], [GOOD], [BAD])
        assert [m["role"] for m in srv.bodies[0]["messages"]] == ["user"]
    assert p[0] == pytest.approx(P_FIRST_GOOD)


def test_timeout_bounds_the_whole_request_against_a_trickling_server():
    # One byte every 50 ms: each read is quick, the response would take ~15 s in all.
    with FakeOpenAIServer(_always(Reply(chat_body("A"), trickle_s=0.05))) as srv:
        t0 = time.perf_counter()
        v = _judge(srv, timeout_s=0.5, max_retries=1).judge(_pairs(1), ["12"], progress=False)
        elapsed = time.perf_counter() - t0
        assert srv.n_requests == 2
    assert v["failed"].all() and "timed out after 0.5 s" in v["error"][0]
    assert elapsed < 2 * 0.5 + 0.6  # two attempts of 0.5 s each, plus backoff and slack


def test_a_dead_server_trips_the_breaker_instead_of_retrying_every_row():
    class Counting(OpenAIJudge):
        attempts = 0

        def _send(self, *args):
            Counting.attempts += 1
            return super()._send(*args)

    j = Counting("m", dead_url(), max_retries=3, backoff_s=0.01, timeout_s=1,
                 max_concurrency=4, max_connect_failures=5)
    t0 = time.perf_counter()
    v = j.judge(_pairs(40), progress=False)
    assert time.perf_counter() - t0 < 2.0
    assert v["failed"].all() and len(v) == 80
    # Without the breaker: 80 rows x 4 attempts. With it: the threshold plus what was in flight.
    assert Counting.attempts <= 5 + 4
    unreachable = v["error"].str.startswith("server unreachable: ")
    assert unreachable.mean() > 0.9 and "Is the server running?" in v["error"][unreachable].iloc[0]


def test_the_breaker_lets_a_probe_through_after_its_cooldown_and_closes_on_success():
    b = CircuitBreaker(threshold=2, where="http://x/v1", cooldown_s=0.05)
    b.record(False, "refused")
    assert b.check() is None  # one failure is not enough
    b.record(False, "refused")
    assert "2 consecutive connection failures to http://x/v1 (last: refused)" in b.check()
    time.sleep(0.06)
    assert b.check() is None  # the probe
    assert b.check() is not None  # everyone else waits for it
    b.record(True)
    assert b.check() is None and b.consecutive == 0


def test_connections_are_kept_alive_and_pooled():
    with FakeOpenAIServer() as srv:
        j = _judge(srv, max_concurrency=3)
        p = j.compare(["q"] * 30, [f"{GOOD} {i}" for i in range(30)], [BAD] * 30)
        assert srv.n_requests == 30 and srv.n_connections <= 3
        j.close()
    np.testing.assert_allclose(p, P_FIRST_GOOD)


# -- pointwise -----------------------------------------------------------------------------


def test_score_is_the_expected_score_or_the_parsed_digit():
    def respond(body, n):
        if "logprob-me" in user_text(body):
            top = [("7", LN(0.5)), ("8", LN(0.3)), (" 9", LN(0.2))]
            return Reply(chat_body("7", [("7", LN(0.5), top)]))
        return Reply(chat_body("Decent. Rating: [[4]]", None))

    with FakeOpenAIServer(respond) as srv:
        s = _judge(srv, template="pointwise-1-9").score(["q", "q"], ["logprob-me", "other"])
    np.testing.assert_allclose(s, [7 * 0.5 + 8 * 0.3 + 9 * 0.2, 4.0])


def test_score_failures_are_nan_and_warned():
    with FakeOpenAIServer(lambda b, n: Reply(chat_body("no idea", None))) as srv:
        j = _judge(srv, template="pointwise-1-9")
        with pytest.warns(RuntimeWarning, match=r"1 of 1 score calls failed.*could not parse"):
            s = j.score(["q"], ["r"])
    assert np.isnan(s[0])


# -- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize("kw,match", [
    ({"base_url": "localhost:8000/v1"}, r"base_url must start with http"),
    ({"max_concurrency": 0}, r"max_concurrency must be >= 1; got 0"),
    ({"timeout_s": 0}, r"timeout_s must be > 0"),
    ({"max_retries": -1}, r"max_retries must be >= 0"),
    ({"backoff_s": -0.1}, r"backoff_s must be >= 0"),
    ({"temperature": -1}, r"temperature must be >= 0"),
    ({"top_logprobs": 21}, r"top_logprobs must be in \[0, 20\]"),
    ({"max_tokens": 0}, r"max_tokens must be >= 1 or None"),
    ({"max_connect_failures": 0}, r"max_connect_failures must be >= 1; got 0"),
    ({"template": "nope"}, r"Unknown judge template 'nope'"),
])
def test_bad_arguments_are_refused(kw, match):
    args = {"model": "m", "base_url": "http://127.0.0.1:9/v1", **kw}
    with pytest.raises(ValueError, match=match):
        OpenAIJudge(**args)


def test_modes_need_the_matching_template():
    pointwise = OpenAIJudge("m", "http://127.0.0.1:9/v1", template="pointwise-1-9")
    with pytest.raises(ValueError, match=r"'pointwise-1-9' is pointwise; use score\(\)"):
        pointwise.compare(["q"], ["a"], ["b"])
    pairwise = OpenAIJudge("m", "http://127.0.0.1:9/v1",
                           template=get_template("mtbench-pair-v2"))
    with pytest.raises(ValueError, match=r"score\(\) needs a pointwise template"):
        pairwise.score(["q"], ["a"])
    with pytest.raises(ValueError, match=r"equal lengths; got 2 and 1"):
        pointwise.score(["q", "r"], ["a"])
