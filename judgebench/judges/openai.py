"""A judge over any OpenAI-compatible chat-completions server (vLLM, llama.cpp, Ollama, OpenAI).

One POST to ``{base_url}/chat/completions`` per ordered presentation, with ``logprobs`` and
``top_logprobs`` requested. P(first wins) is read from the top logprobs where the server sends
them, otherwise the reply text is parsed (docs/design/openai-judge.md):

- **Logprobs.** The decision position is the first generated position whose candidates (the top
  tokens plus the sampled one) include a label token once whitespace, brackets and ``*`` are
  stripped (``"A"``, ``" A"``, ``"[[A"``). For templates whose verdict follows an explanation
  (``answer_prefix`` set, e.g. ``"[["`` for MT-Bench pair-v2), the search starts at the last
  occurrence of that prefix, because ``"Assistant A ..."`` in the explanation is not the verdict.
  P(first) = P(A) / (P(A) + P(B)); a tie label in the top-k counts half to each side. A label
  absent from the top-k gets the largest probability it could have: the smaller of the least
  listed token's and the mass left unlisted, which keeps the estimate on the cautious side.
- **Text.** ``[[A]]`` (the last one, i.e. the final verdict), ``Final verdict: B``, or a reply
  that is only the answer (``A``, ``(B)``, ``Assistant A``); the tie label reads as 0.5.
- **Failures** (408/429/5xx, timeouts and connection errors after the retries; permanent errors
  at once: other 4xx, 501, a 500 saying "not supported"; malformed JSON, an unparseable reply)
  give NaN and a reason in ``JudgeOutput.error``; never a preference. After
  ``max_connect_failures`` consecutive connection failures the judge stops sending (a circuit
  breaker) and every remaining row fails at once with one message.

HTTP goes through one pooled keep-alive client per judge (judgebench/judges/http.py, httpx);
``timeout_s`` bounds each whole request, not each socket read.
"""

from __future__ import annotations

import json
import math
import random
import re
import threading
import time
import urllib.parse
import warnings
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from judgebench.judges.base import Judge, JudgeOutput, OrderedBatch
from judgebench.judges.http import (
    CircuitBreaker,
    ConnectFailed,
    PooledClient,
    RequestTimedOut,
    TransportFailed,
)
from judgebench.judges.templates import get_template

# Characters stripped from a token before it is compared with a label: " A", "[[A", "(A)", "**A".
_STRIP = " \t\r\n[](){}*\"'`.:"
# OpenAI's documented maximum for top_logprobs.
_MAX_TOP_LOGPROBS = 20
# A reply without the verdict marker still counts as a bare answer ("A", "**A**") if it is this
# short (in tokens); a longer one is an explanation whose first "A" is not the verdict.
_BARE_ANSWER_TOKENS = 4
# Never sleep longer than this for one retry, whatever Retry-After says.
_MAX_DELAY_S = 60.0
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
# Retried statuses: request timeout, rate limit, and 5xx except the permanent ones below.
_RETRY_4XX = {408, 429}


class _CallFailed(Exception):
    """One request failed for good; the message is the row's ``error``."""


# -- pure readers: top logprobs or text -> probability / score -------------------------------


def normalize_token(token: str) -> str:
    """A token with whitespace, brackets, quotes and ``*`` stripped: ``" [[A"`` -> ``"A"``.

    >>> normalize_token(" [[A"), normalize_token("**B**"), normalize_token("Assistant")
    ('A', 'B', 'Assistant')
    """
    return token.strip(_STRIP)


def _label_mass(top: Mapping[str, float], label: str) -> float | None:
    # Several raw tokens can spell one label ("A" and " A"): their probabilities add up.
    probs = [math.exp(lp) for tok, lp in top.items() if normalize_token(tok) == label]
    return sum(probs) if probs else None


def p_first_from_top_logprobs(
    top: Mapping[str, float], labels: Sequence[str] = ("A", "B"), tie_label: str | None = None
) -> float | None:
    """P(first wins) from one position's top logprobs; None if neither label is listed.

    P = (P(A) + P(C)/2) / (P(A) + P(B) + P(C)); a tie label counts only when listed. A label
    absent from the list gets min(smallest listed probability, unlisted mass): an upper bound
    on its true probability, so the estimate is never more confident than the data allow.

    >>> round(p_first_from_top_logprobs({"A": math.log(0.6), " B": math.log(0.2)}), 3)
    0.75
    """
    first, second = labels
    p_a, p_b = _label_mass(top, first), _label_mass(top, second)
    if p_a is None and p_b is None:
        return None
    listed = [math.exp(lp) for lp in top.values()]
    bound = max(0.0, min(min(listed), 1.0 - sum(listed)))
    p_a = bound if p_a is None else p_a
    p_b = bound if p_b is None else p_b
    p_c = (_label_mass(top, tie_label) or 0.0) if tie_label else 0.0
    total = p_a + p_b + p_c
    # Both labels listed with probability 0 (logprob -inf): no information, so no preference.
    return 0.5 if total <= 0 else (p_a + 0.5 * p_c) / total


def expected_score_from_top_logprobs(
    top: Mapping[str, float], scores: Sequence[str]
) -> float | None:
    """Σ s·P(s) over the score tokens listed at one position, renormalised; None if none is.

    Unlisted scores get no mass (bounding nine absent digits would pull every score to the
    middle of the scale).

    >>> expected_score_from_top_logprobs({"7": math.log(0.5), "9": math.log(0.5)}, "123456789")
    8.0
    """
    masses = [(float(s), _label_mass(top, s)) for s in scores]
    masses = [(v, m) for v, m in masses if m is not None]
    total = sum(m for _, m in masses)
    if not masses or total <= 0:
        return None
    return sum(v * m for v, m in masses) / total


def parse_pairwise_verdict(
    text: str, labels: Sequence[str] = ("A", "B"), tie_label: str | None = None
) -> float | None:
    """P(first wins) in {0, 0.5, 1} from a reply's text; None if it names no verdict.

    >>> parse_pairwise_verdict("B is weaker. [[A]]"), parse_pairwise_verdict("Assistant B")
    (1.0, 0.0)
    """
    names = [*labels, tie_label] if tie_label else list(labels)
    value = {labels[0]: 1.0, labels[1]: 0.0, tie_label: 0.5}
    alt = "|".join(re.escape(x) for x in names)
    # MT-Bench's format; the last one is the final verdict.
    found = re.findall(rf"\[\[\s*({alt})\s*\]\]", text)
    if found:
        return value[found[-1]]
    # A reply that is only the answer: "A", "(B)", "Assistant A.", "Answer: B".
    bare = re.fullmatch(
        rf"[\s\W]*(?:(?:final\s+)?(?:answer|verdict|winner|choice)\s*(?:is)?\s*:?\s*)?"
        rf"(?:(?:assistant|response|output)\s+)?[(\[*\"']*\s*({alt})[\s\W]*",
        text, flags=re.IGNORECASE)
    if bare and bare.group(1) in value:
        return value[bare.group(1)]
    # "Final verdict: Assistant B", "The better response is (A)"; the last one counts.
    found = re.findall(
        rf"(?:verdict|answer|winner|better\s+(?:response|answer)\s+is)\s*:?\s*(?:is\s+)?"
        rf"(?:(?:assistant|response|output)\s+)?[(\[*\"']*({alt})\b",
        text, flags=re.IGNORECASE)
    found = [f for f in found if f in value]  # labels are case-sensitive: "a" is an article
    return value[found[-1]] if found else None


def parse_pointwise_score(text: str, scores: Sequence[str]) -> float | None:
    """A score from a reply's text (``[[7]]``, ``Rating: 7`` or just ``7``); None if absent.

    >>> parse_pointwise_score("Fine answer. Rating: [[6]]", [str(i) for i in range(1, 10)])
    6.0
    """
    allowed = set(scores)
    patterns = (r"\[\[\s*(\d+(?:\.\d+)?)\s*\]\]",
                r"(?:rating|score)\s*:?\s*(?:is\s+)?(\d+(?:\.\d+)?)",
                r"^[\s\W]*(\d+(?:\.\d+)?)[\s\W]*$")
    for pattern in patterns:
        found = [f for f in re.findall(pattern, text, flags=re.IGNORECASE) if f in allowed]
        if found:
            return float(found[-1])
    return None


def decision_position(
    tokens: Sequence[str],
    tops: Sequence[Mapping[str, float]],
    wanted: Sequence[str],
    answer_prefix: str | None = None,
) -> int | None:
    """Index of the first generated position whose candidates include a ``wanted`` token.

    With ``answer_prefix`` the search starts at the token holding its last occurrence; if the
    reply lacks it and is longer than a bare answer, there is no decision position.

    Example:

    >>> tokens = ["B", " is", " worse", ".", " [[", "A", "]]"]
    >>> tops = [{"B": -0.1, "A": -2.0}, {}, {}, {}, {}, {"A": -0.1, "B": -2.4}, {}]
    >>> decision_position(tokens, tops, ["A", "B"]), decision_position(tokens, tops, ["A", "B"],
    ...                                                                 answer_prefix="[[")
    (0, 5)
    """
    start = 0
    if answer_prefix:
        joined = "".join(tokens)
        cut = joined.rfind(answer_prefix)
        if cut >= 0:
            ends = np.cumsum([len(t) for t in tokens])
            start = int(np.searchsorted(ends, cut, side="right"))  # token holding char `cut`
        elif len(tokens) > _BARE_ANSWER_TOKENS:
            return None
    wanted = set(wanted)
    for i in range(start, len(tops)):
        if any(normalize_token(tok) in wanted for tok in tops[i]):
            return i
    return None


# -- the judge -------------------------------------------------------------------------------


class OpenAIJudge(Judge):
    """Pairwise (or pointwise) judge over an OpenAI-compatible chat-completions endpoint.

    ``timeout_s`` bounds each whole request (connect, send, headers, body); a retry gets a
    new ``timeout_s``. After ``max_connect_failures`` consecutive connection failures (any
    worker, any row) no more requests are sent for 30 s and the rows fail at once.
    ``top_logprobs=0`` asks for no logprobs (for servers that reject them): text parsing only.
    ``max_tokens=None`` picks 1 for a bare-answer template and 1024 for one whose verdict
    follows an explanation (``answer_prefix`` set). ``api_key`` is sent as a Bearer token and
    kept out of :meth:`config`, the cache key and ``repr``.

    >>> j = OpenAIJudge("Qwen/Qwen2.5-7B-Instruct", "http://localhost:8000/v1")  # doctest: +SKIP
    >>> j.compare(["2+2?"], ["4"], ["5"])  # doctest: +SKIP
    array([0.97])
    """

    def __init__(
        self,
        model: str,
        base_url: str,
        api_key: str | None = None,
        template: str | Any = "default",
        max_concurrency: int = 8,
        timeout_s: float = 60,
        max_retries: int = 3,
        backoff_s: float = 0.5,
        temperature: float = 0.0,
        top_logprobs: int = 20,
        name: str | None = None,
        max_tokens: int | None = None,
        max_connect_failures: int = 8,
    ):
        who = f"OpenAIJudge({model!r})"
        scheme = urllib.parse.urlsplit(base_url).scheme
        if scheme not in ("http", "https"):
            raise ValueError(f"{who}: base_url must start with http:// or https:// "
                             f"(e.g. http://localhost:8000/v1); got {base_url!r}.")
        checks = [("max_concurrency", max_concurrency, max_concurrency >= 1, ">= 1"),
                  ("timeout_s", timeout_s, timeout_s > 0, "> 0"),
                  ("max_retries", max_retries, max_retries >= 0, ">= 0"),
                  ("backoff_s", backoff_s, backoff_s >= 0, ">= 0"),
                  ("temperature", temperature, temperature >= 0, ">= 0"),
                  ("top_logprobs", top_logprobs, 0 <= top_logprobs <= _MAX_TOP_LOGPROBS,
                   f"in [0, {_MAX_TOP_LOGPROBS}] (0 = no logprobs)"),
                  ("max_tokens", max_tokens, max_tokens is None or max_tokens >= 1,
                   ">= 1 or None"),
                  ("max_connect_failures", max_connect_failures, max_connect_failures >= 1,
                   ">= 1")]
        for field, value, ok, rule in checks:
            if not ok:
                raise ValueError(f"{who}: {field} must be {rule}; got {value!r}.")
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.template = get_template(template) if isinstance(template, str) else template
        self.max_concurrency = int(max_concurrency)
        self.timeout_s = float(timeout_s)
        self.max_retries = int(max_retries)
        self.backoff_s = float(backoff_s)
        self.temperature = float(temperature)
        self.top_logprobs = int(top_logprobs)
        self.max_tokens = max_tokens if max_tokens is not None else (
            1024 if getattr(self.template, "answer_prefix", None) else 1)
        self._name = name or model
        # A chunk must hold enough rows to keep every worker busy.
        self.chunk_size = max(Judge.chunk_size, 4 * self.max_concurrency)
        self.max_connect_failures = int(max_connect_failures)
        self._breaker = CircuitBreaker(self.max_connect_failures, self.base_url)
        self._client: PooledClient | None = None  # built on first use (see _http)
        self._client_lock = threading.Lock()

    #: Several threads may judge at once (the reward server relies on it): the pool and the
    #: breaker are thread-safe.
    thread_safe = True

    def _http(self) -> PooledClient:
        with self._client_lock:
            if self._client is None:
                host = urllib.parse.urlsplit(self.base_url).hostname
                # A server on this machine is never reached through a proxy from the environment.
                self._client = PooledClient(self.max_concurrency, self.timeout_s,
                                            trust_env=host not in _LOOPBACK)
            return self._client

    def close(self) -> None:
        """Close the pooled connections (a later call opens new ones)."""
        with self._client_lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def __repr__(self) -> str:
        return (f"OpenAIJudge(model={self.model!r}, base_url={self.base_url!r}, "
                f"template={self.template.name!r})")

    def config(self) -> dict[str, Any]:
        """Everything that changes the output (never the api_key)."""
        return {"kind": "openai", "model": self.model, "base_url": self.base_url,
                "template": self.template.name, "temperature": self.temperature,
                "top_logprobs": self.top_logprobs, "max_tokens": self.max_tokens}

    # -- public modes --------------------------------------------------------------------------

    def _judge_batch(self, batch: OrderedBatch) -> JudgeOutput:
        if _is_pointwise(self.template):
            raise ValueError(
                f"{self.name}: template {self.template.name!r} is pointwise; use score(), or "
                "a pairwise template (e.g. template='default') for compare()/judge().")
        t = self.template
        messages = [t.messages(q, a, b) for q, a, b in zip(batch.prompts, batch.first,
                                                          batch.second)]
        tie = getattr(t, "tie_label", None)

        def read(tokens, tops, text):
            return self._read(tokens, tops, text, [*t.labels, *([tie] if tie else [])],
                              lambda top: p_first_from_top_logprobs(top, t.labels, tie),
                              lambda s: parse_pairwise_verdict(s, t.labels, tie))

        return self._run(messages, read)

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        """Expected score Σ s·P(s) per response (parsed score without logprobs); NaN on failure.

        Needs a pointwise template (e.g. ``template="pointwise-1-9"``); warns with the first
        error when some calls failed.
        """
        t = self.template
        if not _is_pointwise(t):
            raise ValueError(
                f"{self.name}: score() needs a pointwise template (e.g. "
                f"template='pointwise-1-9'); {t.name!r} is pairwise.")
        if len(prompts) != len(responses):
            raise ValueError(f"prompts and responses must have equal lengths; got "
                             f"{len(prompts)} and {len(responses)}.")
        scores = [str(s) for s in t.scores]
        out = self._run(
            [t.messages(q, r) for q, r in zip(prompts, responses)],
            lambda tokens, tops, text: self._read(
                tokens, tops, text, scores,
                lambda top: expected_score_from_top_logprobs(top, scores),
                lambda s: parse_pointwise_score(s, scores)))
        failed = [e for e in out.error if e]
        if failed:
            warnings.warn(f"{self.name}: {len(failed)} of {len(out.error)} score calls failed "
                          f"(NaN); first error: {failed[0]}", RuntimeWarning, stacklevel=2)
        return out.p_first

    # -- machinery -----------------------------------------------------------------------------

    def _read(self, tokens, tops, text, wanted, from_top: Callable, from_text: Callable):
        """(value, how, position) from logprobs if a decision position exists, else the text."""
        if tops:
            pos = decision_position(tokens, tops, wanted,
                                    getattr(self.template, "answer_prefix", None))
            if pos is not None:
                value = from_top(tops[pos])
                if value is not None:
                    return value, "logprobs", pos
        value = from_text(text)
        if value is None:
            raise _CallFailed(f"could not parse a verdict from the reply {_snippet(text)!r}")
        return value, "text", None

    def _run(self, messages: list[list[dict]], read: Callable) -> JudgeOutput:
        """One request per message list, at most ``max_concurrency`` at a time."""
        n = len(messages)
        value, lat = np.full(n, np.nan), np.full(n, np.nan)
        ntok = np.zeros(n, dtype=np.int64)
        raw: list[Any] = [None] * n
        err: list[str | None] = [None] * n

        def one(i: int) -> None:
            t0 = time.perf_counter()
            text = None
            try:
                data = self._post(_chat_messages(messages[i]))
                text, tokens, tops, ntok[i] = _unpack_reply(data)
                value[i], how, pos = read(tokens, tops, text)
                raw[i] = _compact_raw(text, how, pos, tops)
            except _CallFailed as exc:
                err[i] = str(exc)
                raw[i] = None if text is None else {"text": _snippet(text, 2000)}
            lat[i] = time.perf_counter() - t0  # includes retries and backoff

        if n:
            with ThreadPoolExecutor(max_workers=min(self.max_concurrency, n)) as pool:
                list(pool.map(one, range(n)))  # list() re-raises a worker's unexpected error
        return JudgeOutput(p_first=value, raw=raw, n_tokens=ntok, latency_s=lat, error=err)

    def _payload(self, messages: list[dict]) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "messages": messages,
                                "temperature": self.temperature, "max_tokens": self.max_tokens}
        if self.top_logprobs:
            body.update(logprobs=True, top_logprobs=self.top_logprobs)
        return body

    def _post(self, messages: list[dict]) -> Any:
        """POST with retries on 408, 429, 5xx, timeouts and connection errors; the parsed JSON."""
        body = json.dumps(self._payload(messages)).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        url = f"{self.base_url}/chat/completions"
        reason = ""
        for attempt in range(self.max_retries + 1):
            stop = self._breaker.check()
            if stop:
                raise _CallFailed(stop)
            wait = None  # seconds the server asked for (Retry-After)
            try:
                status, resp_headers, payload = self._send(url, body, headers)
            except ConnectFailed as exc:
                reason = f"connection error: {exc}"
                self._breaker.record(False, reason)
            except RequestTimedOut:
                reason = f"timed out after {self.timeout_s:g} s"
                self._breaker.record(True)
            except TransportFailed as exc:
                reason = f"connection error: {exc}"
                self._breaker.record(True)  # it connected: the server is there
            else:
                self._breaker.record(True)
                if 200 <= status < 300:
                    try:
                        return json.loads(payload)
                    except (ValueError, UnicodeDecodeError) as exc:
                        # Not retried: a server that sends broken JSON tends to do it again.
                        raise _CallFailed(f"malformed JSON in the reply ({exc}); body starts "
                                          f"{_snippet(payload)!r}") from None
                detail = _snippet(payload)
                if _permanent(status, payload):
                    # It repeats on every retry (bad model name or key, unsupported option).
                    raise _CallFailed(f"HTTP {status} from {url} (permanent, not retried): "
                                      f"{detail}")
                reason, wait = f"HTTP {status}: {detail}", _retry_after(resp_headers)
            if attempt < self.max_retries:
                time.sleep(self._delay(attempt, wait))
        raise _CallFailed(f"{reason} (gave up after {self.max_retries + 1} attempts)")

    def _send(self, url: str, body: bytes, headers: dict[str, str]
              ) -> tuple[int, Mapping[str, str], bytes]:
        """One POST: (status, headers, body); raises ConnectFailed, RequestTimedOut or
        TransportFailed. The seam that bench/openai_client.py swaps for the old client."""
        return self._http().post(url, body, headers)

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        """Exponential backoff with ±50% jitter, so that many workers do not retry in step."""
        delay = self.backoff_s * 2**attempt * random.uniform(0.5, 1.5)
        if retry_after is not None:
            delay = max(delay, retry_after)
        return min(delay, _MAX_DELAY_S)


# -- helpers -----------------------------------------------------------------------------------


def _is_pointwise(template: Any) -> bool:
    return hasattr(template, "scores")


def _chat_messages(messages: list[dict]) -> list[dict]:
    # A trailing assistant turn is a prefill for local models; a chat server would read it as
    # history and answer after it, so it is dropped (the prompt states the answer format).
    if messages and messages[-1].get("role") == "assistant":
        return messages[:-1]
    return messages


def _unpack_reply(data: Any) -> tuple[str, list[str], list[dict[str, float]], int]:
    """(text, generated tokens, per-position candidates {token: logprob}, total tokens)."""
    try:
        choice = data["choices"][0]
        message = choice["message"]
    except (KeyError, IndexError, TypeError):
        raise _CallFailed("the reply has no choices[0].message (is this a chat-completions "
                          f"endpoint?); got {_snippet(json.dumps(data))!r}") from None
    text = (message.get("content") if isinstance(message, dict) else None) or ""
    usage = data.get("usage") if isinstance(data, dict) else None
    total = usage.get("total_tokens") if isinstance(usage, dict) else None
    n_tokens = int(total) if isinstance(total, int) and not isinstance(total, bool) else 0
    tokens, tops = _unpack_logprobs(choice.get("logprobs") if isinstance(choice, dict) else None)
    return text, tokens, tops, n_tokens


def _unpack_logprobs(logprobs: Any) -> tuple[list[str], list[dict[str, float]]]:
    # Anything malformed here means "no logprobs": the text is still there to parse.
    content = logprobs.get("content") if isinstance(logprobs, dict) else None
    tokens: list[str] = []
    tops: list[dict[str, float]] = []
    if not isinstance(content, list):
        return [], []
    for entry in content:
        if not isinstance(entry, dict) or not isinstance(entry.get("token"), str):
            return [], []
        top: dict[str, float] = {}
        for cand in entry.get("top_logprobs") or []:
            lp = _logprob(cand.get("logprob")) if isinstance(cand, dict) else None
            if lp is not None and isinstance(cand.get("token"), str):
                # Two ids that spell the same string: keep the larger, not the sum (it may be
                # the sampled token listed twice by a server).
                top[cand["token"]] = max(top.get(cand["token"], -math.inf), lp)
        lp = _logprob(entry.get("logprob"))
        if entry["token"] not in top and lp is not None:
            top[entry["token"]] = lp
        tokens.append(entry["token"])
        tops.append(top)
    return tokens, tops


def _logprob(value: Any) -> float | None:
    # A log-probability is <= 0 (-inf allowed); rounding may push it just above 0.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return None
    return min(float(value), 0.0)


def _compact_raw(text: str, how: str, pos: int | None, tops: list[dict[str, float]]) -> dict:
    raw: dict[str, Any] = {"text": _snippet(text, 2000), "from": how}
    if pos is not None:
        best = sorted(tops[pos].items(), key=lambda kv: -kv[1])[:10]
        raw.update(pos=pos, top=[[tok, round(lp, 4)] for tok, lp in best])
    return raw


def _snippet(text: Any, limit: int = 200) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    text = str(text)
    return text if len(text) <= limit else text[:limit] + "..."


def _permanent(status: int, payload: bytes) -> bool:
    """Whether an HTTP error would come back the same on a retry.

    Any 4xx but 408 (request timeout) and 429 (rate limit); 501 (not implemented); and a 500
    whose body says "not supported" (llama.cpp and vLLM answer an unsupported option so).
    """
    if 400 <= status < 500:
        return status not in _RETRY_4XX
    if status == 501:
        return True
    return status == 500 and b"not supported" in payload.lower()


def _retry_after(headers: Mapping[str, str]) -> float | None:
    try:
        return max(0.0, float(headers.get("Retry-After")))
    except (TypeError, ValueError, AttributeError):
        return None
