"""OpenAIJudge against a real OpenAI-compatible server: llama.cpp's, serving the bundled GGUF.

Opt-in (``make test-server``; marked ``server``, which pyproject's addopts deselect, so
``make test`` never runs it) and skipped unless ``llama-cpp-python[server]`` is installed
(``pip install 'llama-cpp-python[server]'`` builds llama.cpp: tens of minutes on 2 cores).
The server runs on 127.0.0.1 only. What it checks, printing the numbers for the notes:

- both label readouts: top_logprobs (agreement of P(first) with the local logit judge on the
  same prompts) and the parsed reply (``top_logprobs=0``);
- failures on a killed server: the breaker's one message, fast, no preference;
- resume from the cache once the server is back: only the failed verdicts are requested;
- requests/s of the pooled client over the old urllib one on this server.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.server

_NEEDED = ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "pydantic_settings")
_missing = [m for m in _NEEDED if importlib.util.find_spec(m) is None]
if _missing:
    pytest.skip(f"llama-cpp-python[server] is not installed (missing {', '.join(_missing)}); "
                "pip install 'llama-cpp-python[server]' and run make test-server",
                allow_module_level=True)

from judgebench.judges.cache import VerdictCache  # noqa: E402
from judgebench.judges.openai import OpenAIJudge  # noqa: E402
from judgebench.models import bundled_gguf_path  # noqa: E402
from judgebench.verdicts import bundled_pairs  # noqa: E402

N_PAIRS = 24  # 48 ordered presentations: enough for a correlation, a minute or two on CPU
START_TIMEOUT_S = 180


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(port: int, log: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(bundled_gguf_path()),
           "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048",
           "--logits_all", "true", "--model_alias", "smollm2"]
    proc = subprocess.Popen(cmd, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"llama_cpp.server exited with {proc.returncode}; see {log}:\n"
                               f"{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2):
                return proc
        except OSError:
            time.sleep(0.5)
    _stop(proc)
    raise RuntimeError(f"llama_cpp.server did not answer within {START_TIMEOUT_S} s; see {log}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)  # its own session: the server and nothing else
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = _free_port()
    proc = _start(port, tmp_path_factory.mktemp("llama") / "server.log")
    yield f"http://127.0.0.1:{port}/v1", port, proc
    _stop(proc)


@pytest.fixture(scope="module")
def pairs():
    return bundled_pairs().head(N_PAIRS)


def _judge(url: str, **kw) -> OpenAIJudge:
    return OpenAIJudge("smollm2", url, **{"max_concurrency": 2, "timeout_s": 120, **kw})


def test_top_logprobs_readout_agrees_with_the_local_logit_judge(server, pairs):
    from judgebench.judges.spec import load_judge

    url, _, _ = server
    served = _judge(url).judge(pairs, progress=False)
    local = load_judge("bundled:smollm2").judge(pairs, progress=False)
    assert not served["failed"].any(), served.loc[served["failed"], "error"].head().tolist()
    how = served["raw"].map(lambda r: r["from"])
    key = ["pair_id", "order"]
    both = served.merge(local, on=key, suffixes=("_served", "_local"))
    r = np.corrcoef(both["p_first_served"], both["p_first_local"])[0, 1]
    print(f"\n[real server] {len(served)} verdicts, {int((how == 'logprobs').sum())} from "
          f"top_logprobs; p_first r = {r:.3f} vs the local logit judge")
    assert (how == "logprobs").mean() > 0.9
    assert r > 0.8


def test_parsed_readout_without_logprobs(server, pairs):
    url, _, _ = server
    v = _judge(url, top_logprobs=0, max_tokens=4).judge(pairs.head(8), progress=False)
    ok = ~v["failed"]
    print(f"\n[real server] parsed readout: {int(ok.sum())} of {len(v)} replies named a label")
    assert v.loc[ok, "raw"].map(lambda r: r["from"]).eq("text").all()
    assert v.loc[~ok, "error"].str.contains("could not parse").all()  # a failure, never a guess


def test_pooled_client_is_faster_than_the_old_one(server, pairs):
    from bench.openai_client import UrllibJudge

    url, _, _ = server
    prompts, first, second = (pairs[c].tolist() for c in ("prompt", "response_1", "response_2"))
    rates = {}
    for name, cls in (("old", UrllibJudge), ("new", OpenAIJudge), ("old", UrllibJudge),
                      ("new", OpenAIJudge)):
        t0 = time.perf_counter()
        cls("smollm2", url, max_concurrency=2, timeout_s=120).compare(prompts, first, second)
        rates.setdefault(name, []).append(len(prompts) / (time.perf_counter() - t0))
    ratio = np.median(rates["new"]) / np.median(rates["old"])
    print(f"\n[real server] requests/s old {np.median(rates['old']):.2f}, new "
          f"{np.median(rates['new']):.2f}, ratio {ratio:.2f}x")
    assert ratio > 0.8  # the model dominates here; the pool must at least not cost


def test_killed_server_fails_fast_then_resumes_from_the_cache(tmp_path, pairs):
    port = _free_port()
    proc = _start(port, tmp_path / "server.log")
    url = f"http://127.0.0.1:{port}/v1"
    cache = VerdictCache(tmp_path / "cache.sqlite")
    try:
        head = _judge(url).judge(pairs.head(6), cache=cache, progress=False)
        assert not head["failed"].any()
        _stop(proc)
        t0 = time.perf_counter()
        dead = _judge(url, backoff_s=0.05).judge(pairs.head(12), cache=cache, progress=False)
        elapsed = time.perf_counter() - t0
        failed = dead["failed"]
        print(f"\n[real server] killed: {int(failed.sum())} of {len(dead)} failed in "
              f"{elapsed:.2f} s; first error: {dead.loc[failed, 'error'].iloc[0]!r}")
        assert failed.sum() == 12 and elapsed < 10  # the 12 cached verdicts stand
        assert dead.loc[failed, "p_first"].isna().all()
        assert dead.loc[failed, "error"].str.contains("server unreachable|connection error").all()
        n_cached = len(cache)
        proc = _start(port, tmp_path / "server2.log")
        again = _judge(url).judge(pairs.head(12), cache=cache, progress=False)
        assert not again["failed"].any() and len(cache) == n_cached + 12
    finally:
        _stop(proc)
