"""Programmatic gold: verifiers for the bundled tasks, and a judge built on them.

A task states its checks as data (exact answer, word limit, keyword, bullet count, no commas);
``gold_score`` is the share of checks a response passes, in [0, 1]. The checks are the
IFEval-style ones that a verbose-biased judge pushes a policy to break (Zhou et al. 2023).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from judgebench.judges.base import Judge, JudgeOutput, OrderedBatch
from judgebench.probability import win_score

_BULLET = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)])\s+\S", re.MULTILINE)
_WORD = re.compile(r"\b[\w'-]+\b")


@dataclass(frozen=True)
class Task:
    """A prompt with verifiable gold. Unset checks (None/False/empty) are not applied.

    Example:

    >>> task = Task("fr", "Capital of France, in at most 5 words?", "qa", answer=("Paris",),
    ...             max_words=5)
    >>> task.checks_defined()
    ['answer', 'max_words']
    """

    task_id: str
    prompt: str
    kind: str
    answer: tuple[str, ...] = ()
    max_words: int | None = None
    keyword: str | None = None
    n_bullets: int | None = None
    no_commas: bool = False
    split: str = "train"
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Task:
        """Build a task from its JSON form; unknown keys are an error that names them."""
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"Unknown task field(s) {unknown}; allowed: {sorted(known)}.")
        for key in ("task_id", "prompt", "kind"):
            if not d.get(key):
                raise ValueError(f"Task is missing {key!r}: {d!r}.")
        d = dict(d)
        d["answer"] = tuple(d.get("answer") or ())
        task = cls(**d)
        if not task.checks_defined():
            raise ValueError(f"Task {task.task_id!r} defines no check; a verifier needs at least "
                             "one of answer, max_words, keyword, n_bullets, no_commas.")
        return task

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        d = asdict(self)
        d["answer"] = list(self.answer)
        return d

    def checks_defined(self) -> list[str]:
        """Names of the checks this task applies."""
        names = []
        if self.answer:
            names.append("answer")
        if self.max_words is not None:
            names.append("max_words")
        if self.keyword:
            names.append("keyword")
        if self.n_bullets is not None:
            names.append("n_bullets")
        if self.no_commas:
            names.append("no_commas")
        return names


def count_words(text: str) -> int:
    """Words as runs of letters, digits, apostrophes and hyphens.

    Example:

    >>> count_words("It's a well-known fact: 2 + 2 = 4.")
    7
    """
    return len(_WORD.findall(text))


def count_bullets(text: str) -> int:
    """Lines that start with '-', '*', '•' or '1.'/'1)'.

    Example:

    >>> count_bullets("Fruits:\\n- apple\\n* pear\\n1. fig")
    3
    """
    return len(_BULLET.findall(text))


def contains_answer(text: str, answers: Iterable[str]) -> bool:
    """Whether any acceptable answer appears as a whole word/number (case-insensitive).

    Example:

    >>> contains_answer("The answer is 42.", ["42"]), contains_answer("It is 4.2", ["4"])
    (True, False)
    """
    for ans in answers:
        pattern = r"(?<![\w.])" + re.escape(ans.strip()) + r"(?![\w]|\.\d)"
        if re.search(pattern, text, flags=re.IGNORECASE):
            return True
    return False


def check(task: Task, response: str) -> dict[str, bool]:
    """Each of the task's checks on ``response``: name -> passed.

    Example:

    >>> task = Task("t1", "Name a fruit in at most 3 words, no commas.", "format",
    ...             max_words=3, no_commas=True)
    >>> check(task, "An apple, surely")
    {'max_words': True, 'no_commas': False}
    """
    results: dict[str, bool] = {}
    if task.answer:
        results["answer"] = contains_answer(response, task.answer)
    if task.max_words is not None:
        results["max_words"] = count_words(response) <= task.max_words
    if task.keyword:
        results["keyword"] = re.search(rf"\b{re.escape(task.keyword)}\b", response,
                                       flags=re.IGNORECASE) is not None
    if task.n_bullets is not None:
        results["n_bullets"] = count_bullets(response) == task.n_bullets
    if task.no_commas:
        results["no_commas"] = "," not in response
    return results


def gold_score(task: Task, response: str) -> float:
    """Share of the task's checks that ``response`` passes, in [0, 1].

    Example:

    >>> task = Task("t1", "Name a fruit in at most 3 words, no commas.", "format",
    ...             max_words=3, no_commas=True)
    >>> gold_score(task, "An apple, surely"), gold_score(task, "An apple")
    (0.5, 1.0)
    """
    results = check(task, response)
    return float(np.mean(list(results.values())))


def load_tasks(path: str | Path | None = None) -> list[Task]:
    """Tasks from a JSONL file; the bundled task set when ``path`` is None.

    Example:

    >>> tasks = load_tasks()                 # the bundled tasks
    >>> tasks[0].task_id, tasks[0].checks_defined()
    ('qa-capital-france', ['answer', 'max_words'])
    """
    if path is None:
        text = resources.files("judgebench.data").joinpath("tasks.jsonl").read_text("utf-8")
    else:
        text = Path(path).read_text("utf-8")
    tasks = [Task.from_dict(json.loads(line)) for line in text.splitlines() if line.strip()]
    ids = [t.task_id for t in tasks]
    if len(set(ids)) != len(ids):
        raise ValueError("task_id must be unique in a task file.")
    return tasks


class TaskIndex:
    """Find a task's verifier by its prompt text.

    Example:

    >>> index = TaskIndex([Task("t1", "What is 2+2?", "math", answer=("4",))])
    >>> index.get(" What is 2+2? ").task_id, index.gold_scores(["What is 2+2?", "Hi"],
    ...                                                        ["4", "4"]).tolist()
    ('t1', [1.0, nan])
    """

    def __init__(self, tasks: Sequence[Task]):
        self.by_prompt = {t.prompt.strip(): t for t in tasks}

    def get(self, prompt: str) -> Task | None:
        """The task whose prompt is ``prompt`` (whitespace-insensitive at the ends)."""
        return self.by_prompt.get(prompt.strip())

    def gold_scores(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        """gold_score per (prompt, response); NaN where the prompt has no task."""
        out = np.full(len(prompts), np.nan)
        for i, (p, r) in enumerate(zip(prompts, responses)):
            task = self.get(p)
            if task is not None:
                out[i] = gold_score(task, r)
        return out


class VerifierJudge(Judge):
    """A judge that prefers the response with the higher gold score (0.5 when equal).

    Prompts without a task fail (NaN, with the reason), never a guess.

    Example:

    >>> judge = VerifierJudge([Task("t1", "What is 2+2?", "math", answer=("4",))])
    >>> judge.compare(["What is 2+2?", "Hi"], ["It is 4.", "Hello"], ["It is 5.", "Hey"]).tolist()
    [1.0, nan]
    """

    cacheable = False
    chunk_size = 10_000

    def __init__(self, tasks: Sequence[Task] | str | Path | None = None, name: str | None = None):
        task_list = tasks if isinstance(tasks, list | tuple) else load_tasks(tasks)
        self.index = TaskIndex(task_list)
        self._name = name or "verifier"

    def config(self) -> dict[str, Any]:
        """The task prompts define the judge."""
        return {"kind": "verifier", "n_tasks": len(self.index.by_prompt)}

    def _judge_batch(self, batch: OrderedBatch) -> JudgeOutput:
        g_first = self.index.gold_scores(batch.prompts, batch.first)
        g_second = self.index.gold_scores(batch.prompts, batch.second)
        # Gold scores are shares of checks passed, in [0, 1], or NaN without a task.
        p = win_score(g_first, g_second)
        errors = [None if np.isfinite(x) else
                  f"no bundled task has this prompt: {q[:60]!r}" for x, q in zip(p, batch.prompts)]
        raw = [None if e else {"gold_first": gf, "gold_second": gs}
               for e, gf, gs in zip(errors, g_first, g_second)]
        return JudgeOutput(p_first=p, raw=raw, error=errors)

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        """Gold score of each response (NaN for prompts without a task)."""
        return self.index.gold_scores(prompts, responses)
