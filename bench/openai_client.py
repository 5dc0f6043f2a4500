"""Item 4: the served judge's HTTP client, pooled keep-alive (httpx) vs the old urllib one.

Both clients run inside the same :class:`~judgebench.judges.openai.OpenAIJudge` (only its
``_send`` differs), against the fake chat-completions server of the tests on 127.0.0.1 (HTTP/1.1
with keep-alive, as vLLM and llama.cpp speak), with the same concurrency. The server answers at
once, so the figure is the client's own overhead per request: on a real server each request
also waits for the model, and the saving is the same number of milliseconds out of more.
Each repeat times both clients back to back (who goes first alternates); the headline is the
median of the per-repeat ratios, new / old requests per second.

    python -m bench.openai_client              # or: python -m bench.run client
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from bench.common import spread
from judgebench.judges.http import ConnectFailed, RequestTimedOut, TransportFailed
from judgebench.judges.openai import OpenAIJudge

_SERVER = Path(__file__).resolve().parent.parent / "tests" / "judges" / "fake_openai_server.py"


def fake_server_module():
    """tests/judges/fake_openai_server.py, loaded from its path (tests/ is no package)."""
    name = "fake_openai_server"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, _SERVER)
        sys.modules[name] = module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return sys.modules[name]


class UrllibJudge(OpenAIJudge):
    """The judge with the client it had before: urllib, a new connection per request."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def _send(self, url: str, body: bytes, headers: dict[str, str]):
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with self._opener.open(request, timeout=self.timeout_s) as resp:
                return resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers, exc.read()
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise RequestTimedOut(str(exc)) from None
            raise ConnectFailed(str(exc.reason)) from None
        except TimeoutError as exc:
            raise RequestTimedOut(str(exc)) from None
        except OSError as exc:
            raise TransportFailed(repr(exc)) from None


def _rate(judge: OpenAIJudge, n: int) -> float:
    srv = fake_server_module()
    first = [f"{srv.GOOD} answer {i}" for i in range(n)]
    t0 = time.perf_counter()
    p = judge.compare([f"question {i}" for i in range(n)], first, [srv.BAD] * n)
    elapsed = time.perf_counter() - t0
    if not (p == p).all():  # NaN: a failed request would make the rate meaningless
        raise RuntimeError(f"{type(judge).__name__}: some requests failed in the benchmark.")
    return n / elapsed


def run(requests: int = 400, repeats: int = 5, concurrency: int = 8) -> dict[str, Any]:
    """Requests per second of both clients, side by side in each repeat, and their ratio."""
    srv = fake_server_module()
    old, new, ratio = [], [], []
    with srv.FakeOpenAIServer() as server:
        kw = dict(max_concurrency=concurrency, timeout_s=10, max_retries=0)
        judges = {"old": UrllibJudge("fake", server.url, **kw),
                  "new": OpenAIJudge("fake", server.url, **kw)}
        _rate(judges["new"], 2 * concurrency)  # warm-up: imports, first connections
        _rate(judges["old"], 2 * concurrency)
        for r in range(repeats):
            order = ("old", "new") if r % 2 == 0 else ("new", "old")
            rates = {name: _rate(judges[name], requests) for name in order}
            old.append(rates["old"])
            new.append(rates["new"])
            ratio.append(rates["new"] / rates["old"])
            print(f"[client] repeat {r + 1}/{repeats}: old {rates['old']:.0f} req/s, "
                  f"new {rates['new']:.0f} req/s, ratio {ratio[-1]:.2f}x", file=sys.stderr)
        judges["new"].close()
        connections = server.n_connections
    return {"requests_per_repeat": requests, "repeats": repeats, "concurrency": concurrency,
            "old_urllib_rps": spread(old), "new_httpx_rps": spread(new),
            "ratio_new_over_old": spread(ratio), "server_connections": connections}


def table(res: dict[str, Any]) -> list[str]:
    """The summary.md rows of this item."""
    from bench.common import fmt

    return ["| client | requests/s (median [q1, q3]) |", "|---|---|",
            f"| urllib, a connection per request (before) | {fmt(res['old_urllib_rps'], 0)} |",
            f"| httpx, keep-alive pool (now) | {fmt(res['new_httpx_rps'], 0)} |",
            f"| ratio, same repeat | **{fmt(res['ratio_new_over_old'], 2, 'x')}** |", "",
            f"{res['requests_per_repeat']} requests x {res['repeats']} repeats at concurrency "
            f"{res['concurrency']}, fake server on 127.0.0.1 answering at once."]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.openai_client", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--requests", type=int, default=400)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--concurrency", type=int, default=8)
    args = p.parse_args(argv)
    print(json.dumps(run(args.requests, args.repeats, args.concurrency), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
