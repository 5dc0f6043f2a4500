"""Prompt sets with verifiable gold for the loop: train prompts to learn on, eval prompts to measure.

The bundled set (data/tasks.jsonl) holds short factual QA with a word limit,
arithmetic and IFEval-style constraints (word counts, keywords, bullet counts, no commas), each
with its verifier (judges.verifiers.Task). A user file may also hold prompt-only rows
(``{"prompt": ..., "split": ...}``); they have no gold, which is fine unless a gold metric is
asked for (``[tasks] require_gold``, the default), in which case loading names them.

>>> ts = load_task_set(TasksConfig(kinds=["qa"]), seed=0)
>>> len(ts.train) > 0 and len(ts.eval) > 0, {t.kind for t in ts.train}
(True, {'qa'})
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from judgebench.judges.verifiers import Task, TaskIndex, check, gold_score, load_tasks
from judgebench.rlaif.config import TasksConfig


@dataclass
class TaskSet:
    """Train and held-out eval tasks, and a prompt -> verifier index over both.

    Example:

    >>> t = Task("t1", "What is 2 + 3? At most five words.", "arithmetic", answer=("5",),
    ...          max_words=5)
    >>> ts = TaskSet(train=[t], eval=[])
    >>> ts.gold([t.prompt, "an unknown prompt"], ["It is 5.", "x"]).tolist(), ts.kinds([t.prompt])
    ([1.0, nan], ['arithmetic'])
    >>> ts.checks([t.prompt], ["It is five, I think, yes it is."]).to_dict("records")
    [{'answer': 0.0, 'max_words': 0.0}]
    """

    train: list[Task]
    eval: list[Task]

    @cached_property
    def index(self) -> TaskIndex:
        """Find a task's verifier by its prompt text."""
        return TaskIndex(self.train + self.eval)

    def gold(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        """Gold score in [0, 1] per (prompt, response); NaN where a prompt has no verifier."""
        out = np.full(len(prompts), np.nan)
        index = self.index
        for i, (p, r) in enumerate(zip(prompts, responses)):
            task = index.get(p)
            if task is not None and task.checks_defined():
                out[i] = gold_score(task, r)
        return out

    def kinds(self, prompts: Sequence[str]) -> list[str | None]:
        """The task kind of each prompt (None where a prompt has no task)."""
        index = self.index
        return [getattr(index.get(p), "kind", None) for p in prompts]

    def checks(self, prompts: Sequence[str], responses: Sequence[str]) -> pd.DataFrame:
        """One column per check name (answer, max_words, ...): 1.0 passed, 0.0 failed, NaN where
        the prompt's task does not apply that check (or has no task)."""
        rows = []
        index = self.index
        for p, r in zip(prompts, responses):
            task = index.get(p)
            rows.append({k: float(v) for k, v in check(task, r).items()} if task else {})
        return pd.DataFrame(rows, index=range(len(rows)), dtype=float)


def read_tasks(path: str | Path | None) -> list[Task]:
    """Tasks from a JSONL file (the bundled set when None); prompt-only rows have no checks.

    Example:

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = Path(tmp) / "tasks.jsonl"
    ...     _ = path.write_text('{"prompt": "2 + 2?", "answer": ["4"]}\\n{"prompt": "Say hi."}\\n')
    ...     tasks = read_tasks(path)
    >>> [(t.task_id, t.kind, t.checks_defined()) for t in tasks]    # checks: [] = none
    [('task-1', 'custom', ['answer']), ('prompt-2', 'prompt', [])]
    """
    if path is None or str(path) == "":
        return load_tasks(None)
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No tasks file at {str(path)!r} ([tasks] path).")
    tasks = []
    for n, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        if not isinstance(row, dict) or not row.get("prompt"):
            raise ValueError(f"{path}:{n} needs at least a 'prompt' field; got {row!r}.")
        checks = ("answer", "max_words", "keyword", "n_bullets", "no_commas")
        if any(row.get(c) for c in checks):
            row.setdefault("task_id", f"task-{n}")
            row.setdefault("kind", "custom")
            tasks.append(Task.from_dict(row))
        else:
            # Task.from_dict refuses a task without checks; a prompt-only row is legal here.
            tasks.append(Task(task_id=str(row.get("task_id", f"prompt-{n}")),
                              prompt=row["prompt"], kind=str(row.get("kind", "prompt")),
                              split=str(row.get("split", "train"))))
    return tasks


def load_task_set(cfg: TasksConfig, *, seed: int) -> TaskSet:
    """The configured train/eval tasks (filtered by kind, eval subsampled with ``seed``).

    Example:

    >>> ts = load_task_set(TasksConfig(kinds=["arithmetic"], n_eval_prompts=5), seed=0)
    >>> len(ts.eval), {t.kind for t in ts.train + ts.eval}
    (5, {'arithmetic'})
    """
    tasks = read_tasks(cfg.path or None)
    if cfg.kinds:
        kinds = sorted({t.kind for t in tasks})
        unknown = sorted(set(cfg.kinds) - set(kinds))
        if unknown:
            raise ValueError(f"[tasks] kinds {unknown} match no task; kinds present: {kinds}.")
        tasks = [t for t in tasks if t.kind in cfg.kinds]
    train = [t for t in tasks if t.split == "train"]
    held = [t for t in tasks if t.split == "eval"]
    if not train or not held:
        raise ValueError(f"The tasks need both a 'train' and an 'eval' split; got {len(train)} "
                         f"train and {len(held)} eval tasks. Set 'split' in the tasks file.")
    if cfg.require_gold:
        missing = [t.task_id for t in train + held if not t.checks_defined()]
        if missing:
            raise ValueError(
                f"{len(missing)} task(s) have no verifier (e.g. {missing[:3]}), but gold metrics "
                "are asked for ([tasks] require_gold = true). Add checks (answer, max_words, "
                "keyword, n_bullets, no_commas) to them, or set require_gold = false to run "
                "without gold (gold metrics are then NaN).")
    if cfg.n_eval_prompts and cfg.n_eval_prompts < len(held):
        rng = np.random.default_rng(seed)
        pick = np.sort(rng.choice(len(held), size=cfg.n_eval_prompts, replace=False))
        held = [held[i] for i in pick]
    return TaskSet(train=train, eval=held)


def train_prompts(tasks: TaskSet, n: int, iteration: int, *, seed: int) -> list[Task]:
    """The ``n`` training tasks of ``iteration``: one seeded shuffle, walked through in order.

    Consecutive iterations take consecutive slices of the shuffled train split (wrapping
    around), so every prompt is used before any repeats.

    Example:

    >>> ts = load_task_set(TasksConfig(kinds=["arithmetic"]), seed=0)
    >>> first, second = (train_prompts(ts, 3, i, seed=0) for i in (0, 1))
    >>> len(first), set(t.task_id for t in first) & set(t.task_id for t in second)
    (3, set())
    """
    order = np.random.default_rng(seed).permutation(len(tasks.train))
    start = iteration * n
    idx = [order[(start + j) % len(order)] for j in range(n)]
    return [tasks.train[i] for i in idx]
