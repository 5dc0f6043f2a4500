import numpy as np
import pandas as pd
import pytest

from judgebench.judges.verifiers import (
    Task,
    VerifierJudge,
    check,
    count_bullets,
    count_words,
    gold_score,
    load_tasks,
)


def test_checks():
    t = Task("t", "p", "ifeval", answer=("42",), max_words=5, keyword="cat", n_bullets=2,
             no_commas=True)
    good = "- 42 cat\n- dog"
    assert check(t, good) == {"answer": True, "max_words": True, "keyword": True,
                              "n_bullets": True, "no_commas": True}
    bad = "The answer is 420, said the cat, and then - nothing"
    res = check(t, bad)
    assert res["answer"] is False and res["no_commas"] is False and res["max_words"] is False
    assert gold_score(t, good) == 1.0 and 0 < gold_score(t, bad) < 1


def test_counts():
    assert count_words("Hello, world - it's a well-known fact.") == 6
    assert count_bullets("- a\n* b\n1. c\nnot a bullet\n-no space") == 3


def test_answer_matching_is_whole_number():
    t = Task("t", "p", "arithmetic", answer=("85",))
    assert gold_score(t, "85") == 1 and gold_score(t, "The answer is 85.") == 1
    assert gold_score(t, "185") == 0 and gold_score(t, "85.5") == 0


def test_bundled_tasks_and_pairs_agree():
    tasks = load_tasks()
    assert len(tasks) > 100 and {t.split for t in tasks} == {"train", "eval"}
    from importlib import resources
    pairs = pd.read_json(resources.files("judgebench.data") / "pairs.jsonl", lines=True)
    assert len(pairs) >= 300
    v = VerifierJudge().judge(pairs, progress=False)
    assert not v.failed.any()
    # The verifier judge is the gold: it agrees with every label, in both orders.
    gold_p1 = np.where(v.label == 1, 1.0, 0.0)
    np.testing.assert_array_equal(v.p_1, gold_p1)


def test_unknown_prompt_fails_with_reason():
    j = VerifierJudge([Task("t", "known", "qa", answer=("x",))])
    p = j.compare(["unknown", "known"], ["a", "x"], ["b", "y"])
    assert np.isnan(p[0]) and p[1] == 1.0


@pytest.mark.parametrize("d, match", [
    ({"task_id": "t", "prompt": "p", "kind": "qa", "colour": 1}, "Unknown task field"),
    ({"task_id": "t", "prompt": "p", "kind": "qa"}, "defines no check"),
    ({"prompt": "p", "kind": "qa", "answer": ["x"]}, "missing 'task_id'"),
])
def test_bad_tasks(d, match):
    with pytest.raises(ValueError, match=match):
        Task.from_dict(d)
