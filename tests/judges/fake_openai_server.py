"""A chat-completions server on 127.0.0.1 for tests: real HTTP, scripted replies, counters.

``respond(body, n)`` gets the parsed request body and the 1-based request number and returns a
:class:`Reply`; the server counts requests, connections and the most requests in flight at once.
It speaks HTTP/1.1 with keep-alive, as vLLM and llama.cpp do. Failure modes for the tests: a
reply trickled one byte at a time (``Reply(trickle_s=...)``), a permanent 500
(:func:`not_supported`), and a port nothing listens on (:func:`dead_url`).
"""

from __future__ import annotations

import json
import math
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# Tests mark the better answer with GOOD and the worse with BAD; the server prefers whichever
# slot holds GOOD, with these label probabilities (the rest is spread over other tokens).
GOOD, BAD = "GOODANSWER", "BADANSWER"
P_WIN, P_WIN_SPACE, P_LOSE, P_OTHER = 0.7, 0.1, 0.15, 0.02
# P(first) the judge must report when the first slot holds GOOD: softmax over the two labels,
# with "A" and " A" both spelling label A.
P_FIRST_GOOD = (P_WIN + P_WIN_SPACE) / (P_WIN + P_WIN_SPACE + P_LOSE)


@dataclass
class Reply:
    """What the server sends: a JSON-able body (or raw bytes), a status, headers, a delay.

    ``trickle_s`` > 0 sends the whole response (status line, headers, body) one byte at a time,
    that many seconds apart: a server that is alive but never finishes.
    """

    body: Any = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    trickle_s: float = 0.0


def chat_body(
    text: str,
    logprobs: Sequence[tuple[str, float, Sequence[tuple[str, float]]]] | None = None,
    total_tokens: int | None = 42,
) -> dict[str, Any]:
    """A chat-completions reply; ``logprobs`` = [(token, logprob, [(top token, logprob)...])]."""
    choice: dict[str, Any] = {"index": 0, "finish_reason": "stop",
                              "message": {"role": "assistant", "content": text}}
    choice["logprobs"] = None if logprobs is None else {"content": [
        {"token": tok, "logprob": lp,
         "top_logprobs": [{"token": t, "logprob": v} for t, v in top]}
        for tok, lp, top in logprobs]}
    body: dict[str, Any] = {"id": "fake", "object": "chat.completion", "choices": [choice]}
    if total_tokens is not None:
        body["usage"] = {"prompt_tokens": total_tokens - 1, "completion_tokens": 1,
                         "total_tokens": total_tokens}
    return body


def user_text(body: dict[str, Any]) -> str:
    """The user message of a request."""
    return next(m["content"] for m in body["messages"] if m["role"] == "user")


def prefers_good(body: dict[str, Any], n: int = 0) -> Reply:
    """Top logprobs that favour the slot holding GOOD (A if GOOD is shown before BAD)."""
    text = user_text(body)
    win, lose = ("A", "B") if text.find(GOOD) < text.find(BAD) else ("B", "A")
    top = [(win, math.log(P_WIN)), (" " + win, math.log(P_WIN_SPACE)),
           (lose, math.log(P_LOSE)), ("The", math.log(P_OTHER))]
    return Reply(chat_body(win, [(win, math.log(P_WIN), top)]))


def not_supported(body: dict[str, Any], n: int = 0) -> Reply:
    """A permanent 500, as llama.cpp answers an option it lacks."""
    return Reply({"error": {"code": 500, "type": "server_error",
                            "message": "logprobs is not supported by this server"}}, status=500)


def dead_url() -> str:
    """A ``.../v1`` URL on a loopback port that nothing listens on (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


class FakeOpenAIServer:
    """``with FakeOpenAIServer(respond) as srv:`` serves ``srv.url`` (``.../v1``) until exit."""

    def __init__(self, respond: Callable[[dict[str, Any], int], Reply] = prefers_good):
        self.respond = respond
        self.n_requests = 0
        self.n_connections = 0
        self.max_in_flight = 0
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._in_flight = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()  # ends slow replies at teardown, so tests stay fast

    def __enter__(self) -> FakeOpenAIServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real servers do
            # Headers and body go out in separate writes: without TCP_NODELAY, Nagle's
            # algorithm and the client's delayed ACK would hold each reply ~40 ms.
            disable_nagle_algorithm = True

            def setup(self) -> None:
                super().setup()
                with server._lock:
                    server.n_connections += 1

            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server._lock:
                    server.n_requests += 1
                    n = server.n_requests
                    server.bodies.append(body)
                    server.headers.append(dict(self.headers))
                    server._in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server._in_flight)
                answered = False

                def leave() -> None:
                    # A request stops being in flight once its reply starts: the client may
                    # send its next one as soon as it reads this reply, possibly before this
                    # handler thread returns, and that must not count as a fourth in flight.
                    nonlocal answered
                    if not answered:
                        answered = True
                        with server._lock:
                            server._in_flight -= 1

                try:
                    if self.path != "/v1/chat/completions":
                        reply = Reply({"error": f"no route {self.path}"}, status=404)
                    else:
                        reply = server.respond(body, n)
                    if reply.delay_s:
                        server._stop.wait(reply.delay_s)
                    payload = (reply.body if isinstance(reply.body, bytes)
                               else json.dumps(reply.body).encode())
                    leave()
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    if not reply.trickle_s:
                        self.end_headers()
                        self.wfile.write(payload)
                        return
                    # http.server buffers the headers; send them and the body byte by byte.
                    self._headers_buffer.append(b"\r\n")
                    data = b"".join(self._headers_buffer) + payload
                    self._headers_buffer = []
                    for i in range(len(data)):
                        if server._stop.wait(reply.trickle_s):
                            break
                        self.wfile.write(data[i : i + 1])
                        self.wfile.flush()
                    self.close_connection = True
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)
                finally:
                    leave()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.01,),
                                        daemon=True)  # fast shutdown
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
