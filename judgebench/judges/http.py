"""HTTP for served judges: a pooled keep-alive client whose timeout bounds the whole request,
and a circuit breaker that stops a run from retrying every row against a dead server.

httpx keeps one pool of
connections per client, so a judge reuses its connections instead of opening one per request.
httpx's timeouts, like urllib's, apply to each socket operation: a server that trickles a byte
every half second never trips a 2 s read timeout. So the pool's network backend clamps every
connect, read and write to what is left of the request's deadline (:func:`deadline`), which
makes ``timeout_s`` a bound on the whole request, headers and body included.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import httpcore
import httpx

# When the request running in this thread must be finished (time.monotonic()); None = no bound.
# Each request runs synchronously in one worker thread, so a context variable is per request.
_DEADLINE: ContextVar[float | None] = ContextVar("judgebench_http_deadline", default=None)
_TIMEOUTS = {"connect": httpcore.ConnectTimeout, "read": httpcore.ReadTimeout,
             "write": httpcore.WriteTimeout}


class ConnectFailed(OSError):
    """No connection could be made (refused, unreachable, DNS, connect timeout).

    :meth:`PooledClient.post` raises it; it is an OSError.

    Example:

    >>> err = ConnectFailed("[Errno 111] Connection refused")
    >>> isinstance(err, OSError), str(err)
    (True, '[Errno 111] Connection refused')
    """


class RequestTimedOut(TimeoutError):
    """The request was not finished within its deadline.

    :meth:`PooledClient.post` raises it; it is a TimeoutError.

    Example:

    >>> err = RequestTimedOut("timed out after 2 s")
    >>> isinstance(err, TimeoutError), str(err)
    (True, 'timed out after 2 s')
    """


class TransportFailed(OSError):
    """The connection broke after it was made (reset, server closed it, bad HTTP).

    :meth:`PooledClient.post` raises it; it is an OSError, but not a ConnectFailed.

    Example:

    >>> err = TransportFailed("Server disconnected without sending a response.")
    >>> isinstance(err, OSError), isinstance(err, ConnectFailed)
    (True, False)
    """


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Every socket operation inside the block finishes within ``seconds`` from now, in total.

    >>> with deadline(2.0):  # doctest: +SKIP
    ...     client.post(url, content=body)   # 2 s for connect + send + headers + body
    """
    token = _DEADLINE.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def _left(timeout: float | None, kind: str) -> float | None:
    """The smaller of an operation's own timeout and the time left before the deadline."""
    end = _DEADLINE.get()
    if end is None:
        return timeout
    left = end - time.monotonic()
    if left <= 0:
        raise _TIMEOUTS[kind]("the request's deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream):
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _left(timeout, "read"))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _left(timeout, "write"))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname,
                                                     _left(timeout, "connect")))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's blocking socket backend with every operation clamped to the deadline."""

    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None, socket_options: Any = None
                    ) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.connect_tcp(
            host, port, _left(timeout, "connect"), local_address, socket_options))

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Any = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.connect_unix_socket(
            path, _left(timeout, "connect"), socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class PooledClient:
    """POSTs over one keep-alive pool of at most ``max_connections``, each within ``timeout_s``.

    ``trust_env=False`` ignores proxy variables (right for a server on this machine). Through
    a proxy from the environment only httpx's per-operation timeouts apply.

    >>> client = PooledClient(max_connections=8, timeout_s=60)
    >>> client.timeout_s
    60.0
    >>> status, headers, body = client.post(  # doctest: +SKIP
    ...     "http://127.0.0.1:8000/v1/chat/completions", b"{}")
    """

    def __init__(self, max_connections: int, timeout_s: float, trust_env: bool = True):
        self.timeout_s = float(timeout_s)
        limits = httpx.Limits(max_connections=max_connections,
                              max_keepalive_connections=max_connections)
        transport = httpx.HTTPTransport(limits=limits, trust_env=trust_env)
        # The one place that reaches inside httpx: its transport has no argument for the
        # network backend, so its pool is rebuilt around the deadline-aware one (same limits).
        transport._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=trust_env),
            max_connections=max_connections, max_keepalive_connections=max_connections,
            keepalive_expiry=limits.keepalive_expiry, network_backend=_DeadlineBackend())
        self._client = httpx.Client(transport=transport, trust_env=trust_env,
                                    timeout=httpx.Timeout(self.timeout_s))

    def post(self, url: str, body: bytes, headers: Mapping[str, str] | None = None
             ) -> tuple[int, Mapping[str, str], bytes]:
        """(status, headers, body bytes); raises ConnectFailed, RequestTimedOut, TransportFailed."""
        try:
            with deadline(self.timeout_s):
                resp = self._client.post(url, content=body, headers=dict(headers or {}))
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise ConnectFailed(_why(exc, "could not connect")) from None
        except httpx.TimeoutException:
            raise RequestTimedOut(f"timed out after {self.timeout_s:g} s") from None
        except httpx.TransportError as exc:
            raise TransportFailed(_why(exc, "the connection broke")) from None
        return resp.status_code, resp.headers, resp.content

    def close(self) -> None:
        """Close the pooled connections."""
        self._client.close()


def _why(exc: BaseException, default: str) -> str:
    return str(exc) or type(exc).__name__ or default


class CircuitBreaker:
    """Opens after ``threshold`` consecutive connection failures, across all workers.

    While open, :meth:`check` returns the reason (the caller fails the row without a request);
    once ``cooldown_s`` has passed one probe goes through, and its success closes the breaker.
    A reply of any kind (even an HTTP error) proves the server is there and resets the count.

    >>> b = CircuitBreaker(threshold=2, where="http://127.0.0.1:9/v1")
    >>> b.record(False, "refused"); b.record(False, "refused"); b.check() is not None
    True
    """

    def __init__(self, threshold: int, where: str, cooldown_s: float = 30.0):
        self.threshold = int(threshold)
        self.where = where
        self.cooldown_s = float(cooldown_s)
        self.consecutive = 0
        self._opened_at: float | None = None
        self._last = ""
        self._lock = threading.Lock()

    def check(self) -> str | None:
        """None if a request may go out; otherwise why not (one message for every row)."""
        with self._lock:
            if self._opened_at is None:
                return None
            if time.monotonic() - self._opened_at >= self.cooldown_s:
                self._opened_at = time.monotonic()  # this caller is the probe; others wait
                return None
            return (f"server unreachable: {self.consecutive} consecutive connection failures "
                    f"to {self.where} (last: {self._last}); not sending more requests for "
                    f"{self.cooldown_s:g} s. Is the server running? Rerun once it is: "
                    "finished verdicts are cached")

    def record(self, connected: bool, reason: str = "") -> None:
        """Count one attempt: ``connected`` False for a connection failure."""
        with self._lock:
            if connected:
                self.consecutive, self._opened_at = 0, None
                return
            self.consecutive += 1
            self._last = reason
            if self.consecutive >= self.threshold and self._opened_at is None:
                self._opened_at = time.monotonic()
