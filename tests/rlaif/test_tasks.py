"""Prompt sets: bundled split, kinds, prompt-only files, the gold requirement, cycling."""

from __future__ import annotations

import json

import numpy as np
import pytest

from judgebench.rlaif.config import TasksConfig
from judgebench.rlaif.tasks import load_task_set, train_prompts


def test_bundled_split_and_gold():
    ts = load_task_set(TasksConfig(), seed=0)
    # The floor for a study: >= 200 train and >= 100 held-out prompts with verifiers.
    assert len(ts.train) == 258 and len(ts.eval) == 136
    assert {t.kind for t in ts.eval} == {"qa", "oneword", "arithmetic", "ifeval"}
    assert not {t.task_id for t in ts.train} & {t.task_id for t in ts.eval}
    qa = next(t for t in ts.train if t.task_id == "qa-capital-france")
    gold = ts.gold([qa.prompt, qa.prompt, "unknown prompt"],
                   ["Paris.", "The capital is Lyon, a very long answer " * 3, "x"])
    assert gold[0] == 1.0 and gold[1] == 0.0 and np.isnan(gold[2])


def test_kinds_and_eval_subsample():
    ts = load_task_set(TasksConfig(kinds=["arithmetic"], n_eval_prompts=5), seed=3)
    assert {t.kind for t in ts.train + ts.eval} == {"arithmetic"} and len(ts.eval) == 5
    again = load_task_set(TasksConfig(kinds=["arithmetic"], n_eval_prompts=5), seed=3)
    assert [t.task_id for t in ts.eval] == [t.task_id for t in again.eval]
    with pytest.raises(ValueError, match=r"kinds \['poetry'\] match no task"):
        load_task_set(TasksConfig(kinds=["poetry"]), seed=0)


def _write(path, rows):
    path.write_text("\n".join(json.dumps(r) for r in rows))
    return str(path)


def test_prompt_only_tasks_need_require_gold_off(tmp_path):
    path = _write(tmp_path / "t.jsonl", [
        {"prompt": "Say hi.", "split": "train"},
        {"prompt": "What is 2+2?", "answer": ["4"], "split": "eval", "task_id": "add"},
    ])
    with pytest.raises(ValueError, match=r"1 task\(s\) have no verifier .*require_gold"):
        load_task_set(TasksConfig(path=path), seed=0)
    ts = load_task_set(TasksConfig(path=path, require_gold=False), seed=0)
    assert np.isnan(ts.gold(["Say hi."], ["hi"])[0]) and ts.gold(["What is 2+2?"], ["4"])[0] == 1


def test_bad_task_files(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"No tasks file"):
        load_task_set(TasksConfig(path=str(tmp_path / "none.jsonl")), seed=0)
    path = _write(tmp_path / "t.jsonl", [{"prompt": "a", "answer": ["1"]}])
    with pytest.raises(ValueError, match=r"both a 'train' and an 'eval' split"):
        load_task_set(TasksConfig(path=path), seed=0)
    bad = _write(tmp_path / "b.jsonl", [{"question": "a"}])
    with pytest.raises(ValueError, match=r"needs at least a 'prompt' field"):
        load_task_set(TasksConfig(path=bad), seed=0)


def test_train_prompts_cycle_without_repeats():
    ts = load_task_set(TasksConfig(), seed=0)
    seen = [t.task_id for i in range(258 // 6) for t in train_prompts(ts, 6, i, seed=5)]
    assert len(seen) == len(set(seen)) == 258  # a full pass before any repeat
    assert [t.task_id for t in train_prompts(ts, 6, 43, seed=5)] == seen[:6]  # wraps around


def test_loop_tasks_cost_gold_when_padded():
    """The kinds added for the loop: a padded or over-long answer fails a check."""
    from judgebench.judges.verifiers import load_tasks

    tasks = {t.task_id: t for t in load_tasks(None)}
    ts = load_task_set(TasksConfig(), seed=0)
    one = next(t for t in tasks.values() if t.kind == "oneword" and t.max_words == 1)
    answer = one.answer[0]
    short, padded = ts.gold([one.prompt] * 2, [answer, f"The answer is {answer}, I think."])
    assert short == 1.0 and padded == 0.5  # right answer, word limit broken
    bullets = tasks["if-bullets4-tea"]
    assert ts.gold([bullets.prompt], ["- a\n- b\n- c\n- d\n- e"])[0] == 0.0
    checks = ts.checks([bullets.prompt, one.prompt], ["- a\n- b\n- c\n- d", answer])
    assert checks.loc[0, "n_bullets"] == 1.0 and np.isnan(checks.loc[0, "answer"])
    assert checks.loc[1, "answer"] == 1.0 and ts.kinds([one.prompt, "?"]) == ["oneword", None]
