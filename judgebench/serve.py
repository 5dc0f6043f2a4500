"""judgebench inside other engines: a judge as the reward of verl, OpenRLHF or TRL runs.

A pairwise judge gives a pointwise reward as in the loop's direct RLAIF (rlaif/reward_model.py,
``JudgeReward``): P(completion beats an anchor answer to the same prompt), averaged over both
presentation orders, optionally calibrated by a saved pipeline. The anchor is the reference
answer the engine sends (``anchor="reference"``: OpenRLHF's ``labels``, verl's
``ground_truth``) or the first completion seen for the prompt (``anchor="first"``, kept in
``DIR/anchors.jsonl``: a fixed baseline like the loop's iteration-0 response). Both orders must
succeed; otherwise the reward is a logged failure worth ``failure_reward`` (None = skip, for
engines that can; a number for those that cannot), never a preference.

Every verdict lands in ``DIR/verdicts.jsonl``, a verdict table appended one chunk at a time
(one ``write`` each; a torn last chunk is cut on reopen), so ``judgebench audit --verdicts
DIR/verdicts.jsonl`` audits the judge on the run an engine made.

Entry points (all on :class:`RewardScorer`):

- ``judgebench serve-reward`` (:func:`make_server`) on 127.0.0.1, answering
  ``POST /get_reward`` (OpenRLHF ``--remote_rm_url``: ``{"query", "prompts", "labels"}`` ->
  ``{"rewards", "scores", "extra_logs"}``), ``POST /classify`` and ``POST /v1/embeddings``
  (verl's reward loop with a vLLM / SGLang "reward model": ``{"model", "input"}``), and
  ``POST /compute_score`` (one verl sample, what :func:`compute_score` sends);
- :func:`compute_score`, a verl ``custom_reward_function`` that calls that server;
- :class:`TRLReward`, a TRL ``reward_funcs`` entry run in process.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
import threading
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from judgebench.judges.base import Judge
from judgebench.verdicts import load_table, save_table

ANCHORS = ("reference", "first")
# Chat templates whose rendered text is split back into (question, answer): the marker that
# opens a turn of each role, and the ones that end a turn. Rendered prompts come from engines
# that applied the policy's or the reward model's template (OpenRLHF, verl's reward loop).
_TURNS = (("<|im_start|>user\n", "<|im_start|>assistant\n"),  # ChatML (Qwen, SmolLM)
          ("<|start_header_id|>user<|end_header_id|>\n\n",
           "<|start_header_id|>assistant<|end_header_id|>\n\n"))  # Llama 3
_END_TOKENS = ("<|im_end|>", "<|eot_id|>", "<|endoftext|>", "</s>", "<|end_of_text|>")


class RequestError(ValueError):
    """A reward request that cannot be answered as sent (HTTP 400); names the field.

    Example:

    >>> import tempfile
    >>> from judgebench.judges.simulated import SimulatedJudge
    >>> with tempfile.TemporaryDirectory() as d:
    ...     try:
    ...         verl_compute_score(RewardScorer(SimulatedJudge(), d), {"solution_str": "4"})
    ...     except RequestError as err:
    ...         print(err)
    the request has no field 'extra_info.question' (the prompt text; ...
    """


@dataclass
class Reward:
    """One completion's reward: ``value`` is what the engine gets (None = skip).

    Example:

    >>> import tempfile
    >>> from judgebench.judges.simulated import SimulatedJudge
    >>> with tempfile.TemporaryDirectory() as d:
    ...     scorer = RewardScorer(SimulatedJudge(verbosity=1.0), d)
    ...     reward = scorer.score(["2+2?"], ["It is 4."], anchors=["4"])[0]
    >>> type(reward).__name__, round(reward.value, 3), reward.failed
    ('Reward', 0.889, False)
    """

    value: float | None
    p_win: float | None  # P(completion beats the anchor), calibrated if a pipeline is set
    failed: bool
    error: str | None = None


def split_chat_text(text: str) -> tuple[str, str | None]:
    """(last user message, the assistant reply after it or None) from rendered chat text.

    Text in no known template is returned whole as the question.

    >>> split_chat_text("<|im_start|>user\\n2+2?<|im_end|>\\n<|im_start|>assistant\\n4<|im_end|>")
    ('2+2?', '4')
    """
    for user, assistant in _TURNS:
        start = text.rfind(user)
        if start < 0:
            continue
        rest = text[start + len(user):]
        question, sep, answer = rest.partition(assistant)
        return _strip_end(question), (_strip_end(answer) if sep else None)
    return text.strip(), None


def _strip_end(text: str) -> str:
    text = text.strip()
    changed = True
    while changed:  # "...<|im_end|>\n<|endoftext|>": strip every trailing end token
        changed = False
        for tok in _END_TOKENS:
            if text.endswith(tok):
                text, changed = text[: -len(tok)].rstrip(), True
    return text


class VerdictLog:
    """A verdict table in ``DIR/verdicts.jsonl``, appended in chunks of whole lines.

    Each flush is one ``os.write`` of complete JSON lines to a file opened for appending, then
    an fsync; reopening cuts a torn last line left by a crash mid-write, so the file always
    loads with :func:`~judgebench.verdicts.load_table`.

    Example:

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     log = VerdictLog(d, flush_every=64)
    ...     log.append(pd.DataFrame({"pair_id": ["p0", "p0"], "order": ["12", "21"],
    ...                              "p_1": [0.7, 0.6]}))
    ...     log.flush()
    ...     print(load_table(log.path)["p_1"].round(3).tolist())
    [0.7, 0.6]
    """

    def __init__(self, log_dir: str | Path, flush_every: int = 64):
        self.path = Path(log_dir) / "verdicts.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.flush_every = int(flush_every)
        self._pending: list[pd.DataFrame] = []
        self._n_pending = 0
        self._lock = threading.Lock()
        self._repair()

    def _repair(self) -> None:
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            with self.path.open("r+b") as f:
                f.truncate(data.rfind(b"\n") + 1)

    def append(self, verdicts: pd.DataFrame) -> None:
        """Queue rows; they are written once ``flush_every`` rows are waiting."""
        with self._lock:
            self._pending.append(verdicts)
            self._n_pending += len(verdicts)
            if self._n_pending >= self.flush_every:
                self._flush_locked()

    def flush(self) -> None:
        """Write every queued row now."""
        with self._lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        if not self._pending:
            return
        chunk = pd.concat(self._pending, ignore_index=True)
        # The table's own JSONL writer (raw as JSON text, as save_table stores it), into a
        # scratch file beside the log, then appended in one write.
        tmp = self.path.with_name(f".{self.path.name}.chunk.jsonl")
        save_table(chunk, tmp)
        data = tmp.read_bytes()
        tmp.unlink()
        if data and not data.endswith(b"\n"):
            data += b"\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        self._pending, self._n_pending = [], 0


class RewardScorer:
    """Rewards from a pairwise judge against anchors, every verdict logged in ``log_dir``.

    ``pipeline`` is a saved calibration (``pipeline.json`` from ``judgebench calibrate`` or a
    loop iteration) applied to the verdicts before the orders are averaged. A judge that is not
    ``thread_safe`` (local models) is called by one request at a time.

    >>> from judgebench.judges.simulated import SimulatedJudge
    >>> scorer = RewardScorer(SimulatedJudge(seed=0), "runs/rewards")  # doctest: +SKIP
    >>> scorer.score(["2+2?"], ["4"], anchors=["four"])[0].value  # doctest: +SKIP
    0.52
    """

    def __init__(self, judge: Judge, log_dir: str | Path, *, pipeline: Any = None,
                 anchor: str = "reference", failure_reward: float | None = None,
                 cache: Any = None, flush_every: int = 64):
        if anchor not in ANCHORS:
            raise ValueError(f"anchor must be one of {ANCHORS}; got {anchor!r}.")
        if failure_reward is not None and not math.isfinite(failure_reward):
            raise ValueError(f"failure_reward must be a finite number or None; got "
                             f"{failure_reward!r}.")
        if isinstance(pipeline, (str, Path)):
            from judgebench.calibration.pipeline import Pipeline

            pipeline = Pipeline.from_json(Path(pipeline))
        self.judge = judge
        self.log_dir = Path(log_dir)
        self.pipeline = pipeline
        self.anchor = anchor
        self.failure_reward = failure_reward
        self.cache = cache
        self.log = VerdictLog(log_dir, flush_every)
        self.n_calls = self.n_rewards = self.n_failed = 0
        self._lock = threading.Lock()  # counters and first-seen anchors
        self._judge_lock = None if getattr(judge, "thread_safe", False) else threading.Lock()
        self._first: dict[str, str] = {}
        self._anchor_file = self.log_dir / "anchors.jsonl"
        if anchor == "first" and self._anchor_file.exists():
            rows = load_table(self._anchor_file)
            self._first = dict(zip(rows["prompt"], rows["response"]))

    def score(self, prompts: Sequence[str], completions: Sequence[str],
              anchors: Sequence[str | None] | None = None, *, source: str = "python"
              ) -> list[Reward]:
        """One :class:`Reward` per completion; ``anchors`` is used with ``anchor="reference"``.

        An empty completion gets reward 0 (it loses to any anchor), as in the loop.
        """
        n = len(prompts)
        if len(completions) != n or (anchors is not None and len(anchors) != n):
            raise RequestError(f"prompts, completions and anchors must have equal lengths; got "
                               f"{n}, {len(completions)}, "
                               f"{'-' if anchors is None else len(anchors)}.")
        with self._lock:
            self.n_calls += 1
            call = self.n_calls
        anchor_of = self._anchors(prompts, completions, anchors)
        out: list[Reward | None] = [None] * n
        rows = []
        for i, (p, c) in enumerate(zip(prompts, completions)):
            if not c.strip():
                out[i] = Reward(0.0, 0.0, False)
            elif anchor_of[i] is None:  # anchor="first": this completion became the anchor
                out[i] = Reward(0.5, 0.5, False)
            else:
                digest = hashlib.blake2b(f"{p}\x00{c}\x00{anchor_of[i]}".encode(),
                                         digest_size=6).hexdigest()
                rows.append({"pair_id": f"{source}-{call}-{i}-{digest}", "prompt": p,
                             "response_1": c, "response_2": anchor_of[i], "model_1": "policy",
                             "model_2": f"anchor:{self.anchor}", "source": source,
                             "request": call, "_i": i})
        if rows:
            self._judge_rows(pd.DataFrame(rows), out)
        with self._lock:
            self.n_rewards += n
            self.n_failed += sum(r.failed for r in out)
        return out

    def _anchors(self, prompts, completions, anchors) -> list[str | None]:
        if self.anchor == "reference":
            if anchors is None:
                raise RequestError("anchor='reference' needs a reference answer per completion "
                                   "(OpenRLHF labels, verl ground_truth); send them, or serve "
                                   "with --anchor first.")
            bad = [i for i, a in enumerate(anchors) if not isinstance(a, str) or not a.strip()]
            if bad:
                raise RequestError(f"the reference answer (anchor) of item {bad[0]} is empty or "
                                   f"not text ({anchors[bad[0]]!r}); anchor='reference' needs "
                                   "one per completion, or serve with --anchor first.")
            return list(anchors)
        out: list[str | None] = []
        new = []
        with self._lock:
            for p, c in zip(prompts, completions):
                if p not in self._first and c.strip():
                    self._first[p] = c
                    new.append({"prompt": p, "response": c})
                    out.append(None)
                else:
                    out.append(self._first.get(p))
            if new:
                _append_jsonl(self._anchor_file, new)
        return out

    def _judge_rows(self, pairs: pd.DataFrame, out: list[Reward | None]) -> None:
        index = pairs.pop("_i").to_numpy()
        if self._judge_lock is None:
            verdicts = self._judge(pairs)
        else:
            with self._judge_lock:
                verdicts = self._judge(pairs)
        p1 = verdicts["p_1"].astype(float)
        if self.pipeline is not None:
            verdicts["p_1_calibrated"] = self.pipeline.transform(verdicts)["p_1"].to_numpy()
            p1 = verdicts["p_1_calibrated"].astype(float)
        # (n_pairs,): P(policy's completion beats the anchor), both orders averaged.
        grouped = pd.DataFrame({"pair_id": verdicts["pair_id"], "p": p1,
                                "failed": verdicts["failed"] | ~np.isfinite(p1),
                                "error": verdicts["error"]}).groupby("pair_id", sort=False)
        row_of = dict(zip(pairs["pair_id"], index))
        reward_of = {}
        for pid, g in grouped:
            i = row_of[pid]
            if g["failed"].any() or len(g) < 2:
                why = "; ".join(str(e) for e in g["error"].dropna().unique()) or "no error text"
                out[i] = Reward(self.failure_reward, None, True, why)
                print(f"judgebench serve-reward: judge failure on {pid}: {why[:300]}",
                      file=sys.stderr)
            else:
                p = float(g["p"].mean())
                out[i] = Reward(p, p, False)
            reward_of[pid] = out[i].value
        verdicts["reward"] = verdicts["pair_id"].map(reward_of).astype(float)
        self.log.append(verdicts)

    def _judge(self, pairs: pd.DataFrame) -> pd.DataFrame:
        try:
            return self.judge.judge(pairs, orders=("12", "21"), cache=self.cache, progress=False)
        except Exception as exc:  # a judge that raises: every row is a logged failure
            from judgebench.verdicts import text_length

            rows = [{"pair_id": r.pair_id, "judge": self.judge.name, "order": o,
                     "p_first": np.nan, "p_1": np.nan, "raw": None, "failed": True,
                     "error": f"the judge raised {type(exc).__name__}: {exc}",
                     "latency_s": np.nan, "n_tokens": 0} for r in pairs.itertuples()
                    for o in ("12", "21")]
            frame = pd.DataFrame(rows)
            frame["len_1"] = np.repeat(text_length(pairs["response_1"]), 2)
            frame["len_2"] = np.repeat(text_length(pairs["response_2"]), 2)
            extra = pairs.drop(columns=["pair_id"]).loc[pairs.index.repeat(2)]
            return pd.concat([frame, extra.reset_index(drop=True)], axis=1)

    def close(self) -> None:
        """Write every queued verdict."""
        self.log.flush()


def _append_jsonl(path: Path, rows: list[dict]) -> None:
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


# -- engine payloads -----------------------------------------------------------------------


def _field(body: dict, name: str, kind: type | tuple, what: str) -> Any:
    if name not in body:
        raise RequestError(f"the request has no field {name!r} ({what}).")
    value = body[name]
    if not isinstance(value, kind):
        raise RequestError(f"field {name!r} must be {what}; got {type(value).__name__}.")
    return value


def _texts(body: dict, name: str, what: str) -> list[str]:
    value = _field(body, name, list, f"a list of strings: {what}")
    for i, v in enumerate(value):
        if not isinstance(v, str):
            raise RequestError(f"{name}[{i}] must be a string ({what}); got "
                               f"{type(v).__name__}.")
    return value


def openrlhf_reward(scorer: RewardScorer, body: dict) -> dict:
    """OpenRLHF's remote reward request -> ``{"rewards", "scores", "extra_logs"}``.

    ``query[i]`` is prompt + response as the policy saw it, ``prompts[i]`` the prompt (both
    rendered with the chat template), ``labels[i]`` the dataset's label (the anchor with
    ``anchor="reference"``). OpenRLHF stacks the rewards into a tensor, so a failure needs a
    numeric ``failure_reward``; without one the request fails (HTTP 503) rather than guess.

    Example:

    >>> import tempfile
    >>> from judgebench.judges.simulated import SimulatedJudge
    >>> prompt = "<|im_start|>user\\n2+2?<|im_end|>\\n<|im_start|>assistant\\n"
    >>> body = {"query": [prompt + "4<|im_end|>"], "prompts": [prompt], "labels": ["four"]}
    >>> with tempfile.TemporaryDirectory() as d:
    ...     out = openrlhf_reward(RewardScorer(SimulatedJudge(verbosity=1.0), d), body)
    >>> [round(r, 3) for r in out["rewards"]], out["extra_logs"]
    ([0.2], {'judge_failed': [0.0]})
    """
    queries = _texts(body, "query", "prompt + response for each sample")
    prompts = _texts(body, "prompts", "the prompt of each sample")
    if len(prompts) != len(queries):
        raise RequestError(f"query and prompts must have equal lengths; got {len(queries)} "
                           f"and {len(prompts)}.")
    labels = body.get("labels")
    questions, answers = [], []
    for i, (q, p) in enumerate(zip(queries, prompts)):
        cut = q.find(p) if p else -1
        if cut < 0:
            raise RequestError(f"query[{i}] does not contain prompts[{i}]; OpenRLHF sends the "
                               "prompt followed by the response in query.")
        questions.append(split_chat_text(p)[0])
        answers.append(_strip_end(q[cut + len(p):]))
    anchors = None
    if scorer.anchor == "reference":
        if not isinstance(labels, list) or len(labels) != len(queries):
            raise RequestError("field 'labels' must hold one reference answer per query with "
                               "anchor='reference' (OpenRLHF --label_key); or serve with "
                               "--anchor first.")
        anchors = labels
    rewards = scorer.score(questions, answers, anchors, source="openrlhf")
    if any(r.failed for r in rewards) and scorer.failure_reward is None:
        raise _Unavailable(_failure_text(rewards))
    return {"rewards": [r.value for r in rewards],
            "scores": [r.value if r.p_win is None else r.p_win for r in rewards],
            "extra_logs": {"judge_failed": [float(r.failed) for r in rewards]}}


def verl_classify(scorer: RewardScorer, body: dict, embeddings: bool = False) -> dict:
    """verl's reward-loop request to a discriminative reward model (vLLM ``/classify``,
    SGLang ``/v1/embeddings``): ``input`` is the chat-rendered prompt and response; verl reads
    ``data[-1]["probs"][-1]`` (``["embedding"][-1]``). Needs ``anchor="first"`` (the request
    carries no reference answer) and a numeric ``failure_reward``.

    Example:

    >>> import tempfile
    >>> from judgebench.judges.simulated import SimulatedJudge
    >>> chat = "<|im_start|>user\\n2+2?<|im_end|>\\n<|im_start|>assistant\\n{}<|im_end|>"
    >>> with tempfile.TemporaryDirectory() as d:   # the first answer becomes the anchor
    ...     scorer = RewardScorer(SimulatedJudge(verbosity=1.0), d, anchor="first")
    ...     out = verl_classify(scorer, {"input": [chat.format("4"), chat.format("It is 4.")]})
    >>> [round(item["probs"][0], 3) for item in out["data"]]
    [0.5, 0.889]
    """
    value = _field(body, "input", (str, list), "the chat-rendered prompt and response")
    texts = [value] if isinstance(value, str) else value
    questions, answers = [], []
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise RequestError(f"input[{i}] must be a string; got {type(text).__name__}.")
        q, a = split_chat_text(text)
        if a is None:
            raise RequestError(f"input[{i}] has no assistant turn in a known chat template "
                               "(ChatML, Llama 3); verl renders prompt + response with the "
                               "reward model's tokenizer.")
        questions.append(q)
        answers.append(a)
    if scorer.anchor != "first":
        raise RequestError("verl's /classify request carries no reference answer: serve with "
                           "--anchor first, or use judgebench.serve.compute_score as verl's "
                           "custom_reward_function.")
    rewards = scorer.score(questions, answers, None, source="verl-rm")
    if any(r.failed for r in rewards) and scorer.failure_reward is None:
        raise _Unavailable(_failure_text(rewards))
    if embeddings:
        data = [{"object": "embedding", "index": i, "embedding": [r.value]}
                for i, r in enumerate(rewards)]
    else:
        data = [{"index": i, "label": "reward", "probs": [r.value], "num_classes": 1}
                for i, r in enumerate(rewards)]
    return {"object": "list", "model": body.get("model", "judgebench"), "data": data,
            "usage": {"prompt_tokens": 0, "total_tokens": 0}}


def verl_compute_score(scorer: RewardScorer, body: dict) -> dict:
    """One verl sample, as :func:`compute_score` sends it -> ``{"score", "judge_failed", ...}``.

    The question is ``extra_info["question"]`` (or ``["prompt"]``); the anchor is
    ``extra_info["anchor"]`` if given, else ``ground_truth`` with ``anchor="reference"``.

    Example:

    >>> import tempfile
    >>> from judgebench.judges.simulated import SimulatedJudge
    >>> body = {"solution_str": "It is 4.", "ground_truth": "4", "extra_info": {"question": "2+2?"}}
    >>> with tempfile.TemporaryDirectory() as d:
    ...     out = verl_compute_score(RewardScorer(SimulatedJudge(verbosity=1.0), d), body)
    >>> round(out["score"], 3), out["judge_failed"], out["error"]
    (0.889, False, None)
    """
    solution = _field(body, "solution_str", str, "the policy's response")
    extra = body.get("extra_info") or {}
    if not isinstance(extra, dict):
        raise RequestError(f"field 'extra_info' must be an object; got {type(extra).__name__}.")
    question = extra.get("question", extra.get("prompt"))
    if not isinstance(question, str) or not question.strip():
        raise RequestError("the request has no field 'extra_info.question' (the prompt text; "
                           "'extra_info.prompt' also works): put the question in extra_info "
                           "when preparing verl's parquet.")
    anchors = None
    if scorer.anchor == "reference":
        anchors = [extra.get("anchor") or _field(body, "ground_truth", str,
                                                 "the reference answer (the anchor)")]
    reward = scorer.score([question], [solution], anchors, source="verl")[0]
    return {"score": reward.value, "p_win": reward.p_win, "judge_failed": reward.failed,
            "error": reward.error}


def _failure_text(rewards: list[Reward]) -> str:
    bad = [r for r in rewards if r.failed]
    return (f"{len(bad)} of {len(rewards)} judgments failed ({bad[0].error}); logged with "
            "failed=True. Serve with --failure-reward X to give failures a reward instead.")


class _Unavailable(Exception):
    """The judge failed and the engine's answer has no way to say "skip" (HTTP 503)."""


ROUTES = {"/get_reward": openrlhf_reward, "/classify": verl_classify,
          "/v1/embeddings": lambda s, b: verl_classify(s, b, embeddings=True),
          "/compute_score": verl_compute_score}


def make_server(scorer: RewardScorer, port: int = 0, host: str = "127.0.0.1"
                ) -> ThreadingHTTPServer:
    """The reward server (not started): ``server.serve_forever()``; port 0 picks a free one.

    >>> srv = make_server(scorer, 8700)  # doctest: +SKIP
    >>> srv.serve_forever()              # doctest: +SKIP
    """

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            if self.path in ("/health", "/"):
                self._send(200, {"status": "ok", "calls": scorer.n_calls,
                                 "rewards": scorer.n_rewards, "failed": scorer.n_failed,
                                 "log": str(scorer.log.path)})
            else:
                self._send(404, {"error": f"no route GET {self.path}; GET /health"})

        def do_POST(self) -> None:  # noqa: N802
            route = ROUTES.get(self.path.split("?")[0].rstrip("/") or "/")
            try:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if route is None:
                    self._send(404, {"error": f"no route POST {self.path}; routes: "
                                              f"{', '.join(ROUTES)}"})
                    return
                try:
                    body = json.loads(raw)
                except ValueError as exc:
                    raise RequestError(f"the body is not JSON ({exc}).") from None
                if not isinstance(body, dict):
                    raise RequestError("the body must be a JSON object.")
                self._send(200, route(scorer, body))
            except RequestError as exc:
                self._send(400, {"error": str(exc)})
            except _Unavailable as exc:
                self._send(503, {"error": str(exc)})

        def _send(self, status: int, payload: dict) -> None:
            data = json.dumps(payload, allow_nan=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass  # one line per reward request would drown the failures

    return ThreadingHTTPServer((host, port), Handler)


# -- in-engine functions -----------------------------------------------------------------------


def compute_score(data_source: str, solution_str: str, ground_truth: str,
                  extra_info: dict | None = None, *, url: str = "http://127.0.0.1:8700",
                  timeout_s: float = 600.0, **kwargs: Any) -> dict:
    """verl ``custom_reward_function``: POSTs the sample to ``judgebench serve-reward``.

    Set ``custom_reward_function.path`` to this file, ``name=compute_score`` and
    ``reward_kwargs.url`` to the server. Returns verl's dict form, ``{"score", ...}``; the other
    keys (``p_win``, ``judge_failed``) become verl's per-sample reward extra info. A failed
    judgment scores the server's ``--failure-reward`` (None if unset: verl then stops, which
    is better than a made-up preference).

    The example is skipped when the docs are tested: it needs ``judgebench serve-reward``
    running at ``url``.

    Example:

    >>> compute_score("gsm8k", "It is 4.", "4", {"question": "2+2?"},  # doctest: +SKIP
    ...               url="http://127.0.0.1:8700")
    {'score': 0.889, 'p_win': 0.889, 'judge_failed': False}
    """
    body = json.dumps({"data_source": data_source, "solution_str": solution_str,
                       "ground_truth": ground_truth, "extra_info": extra_info or {}}).encode()
    request = urllib.request.Request(f"{url.rstrip('/')}/compute_score", data=body,
                                     headers={"Content-Type": "application/json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=timeout_s) as resp:
        answer = json.loads(resp.read())
    return {"score": answer["score"], "p_win": answer["p_win"],
            "judge_failed": answer["judge_failed"]}


class TRLReward:
    """A TRL ``reward_funcs`` entry: ``f(prompts, completions, **columns) -> list[float|None]``.

    Conversational prompts/completions (lists of messages) are read as the last user message
    and the assistant's reply. With ``anchor="reference"`` the anchor is the dataset column
    named ``anchor_column``. None (a failed judgment) is what TRL skips.

    >>> trainer = GRPOTrainer(..., reward_funcs=[TRLReward(scorer)])  # doctest: +SKIP
    """

    __name__ = "judgebench_reward"  # TRL names the reward's log column after it

    def __init__(self, scorer: RewardScorer, anchor_column: str = "anchor"):
        self.scorer = scorer
        self.anchor_column = anchor_column

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any],
                 **kwargs: Any) -> list[float | None]:
        anchors = kwargs.get(self.anchor_column)
        if self.scorer.anchor == "reference" and anchors is None:
            raise ValueError(f"TRLReward: anchor='reference' needs a dataset column "
                             f"{self.anchor_column!r} with the reference answer; add it, or "
                             "build the RewardScorer with anchor='first'.")
        rewards = self.scorer.score([_message_text(p, "user") for p in prompts],
                                    [_message_text(c, "assistant") for c in completions],
                                    None if self.scorer.anchor == "first" else list(anchors),
                                    source="trl")
        return [r.value for r in rewards]


def _message_text(value: Any, role: str) -> str:
    if isinstance(value, str):
        return value
    turns = [m.get("content", "") for m in value if isinstance(m, dict) and m.get("role") == role]
    return turns[-1] if role == "user" and turns else (turns[0] if turns else "")
