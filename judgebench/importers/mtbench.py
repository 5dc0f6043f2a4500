"""FastChat MT-Bench pairwise judgment JSONL (g1_winner / g2_winner, both orders)."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from judgebench.importers._common import _error_text, _existing, _finish, _read_records, _require

# ---------------------------------------------------------------------------------------------
# MT-Bench pairwise judgments (FastChat llm_judge; Zheng et al. 2023)

_ANSWER = r"\[The Start of Assistant {k}'s Answer\]\n(.*?)\n\[The End of Assistant {k}'s Answer\]"
_SINGLE = re.compile(r"\[User Question\]\n(.*?)\n\n\[The Start of (?:Reference|Assistant A)",
                     re.S)
_TURN2 = (r"<\|The Start of Assistant {k}'s Conversation with User\|>\n\n### User:\n.*?"
          r"\n\n### User:\n(.*?)\n\n### Assistant {k}:\n(.*?)\n\n"
          r"<\|The End of Assistant {k}'s Conversation with User\|>")


def _parse_fastchat(text: object) -> tuple[str, str, str] | None:
    """(question, answer A, answer B) of the judged turn from a FastChat pairwise prompt."""
    if not isinstance(text, str):
        return None
    a = re.search(_TURN2.format(k="A"), text, re.S)
    b = re.search(_TURN2.format(k="B"), text, re.S)
    if a and b:
        return a.group(1), a.group(2), b.group(2)
    q = _SINGLE.search(text)
    a = re.search(_ANSWER.format(k="A"), text, re.S)
    b = re.search(_ANSWER.format(k="B"), text, re.S)
    return (q.group(1), a.group(1), b.group(1)) if q and a and b else None


def _fastchat_texts(g1: object, g2: object) -> tuple[str | None, str | None, str | None]:
    """(prompt, response_1, response_2) from g1's prompt (A = model_1), else g2's (A = model_2)."""
    parsed = _parse_fastchat(g1)
    if parsed is not None:
        return parsed
    swapped = _parse_fastchat(g2)
    return (swapped[0], swapped[2], swapped[1]) if swapped else (None, None, None)


def import_mtbench(path: str | Path, *, questions: str | None = None,
                   answers: str | None = None, judge: str | None = None) -> pd.DataFrame:
    """FastChat pairwise judgments (``model_judgment/*_pair.jsonl``): two verdicts per record.

    g1 is the original order (model_1 shown as A: order "12"), g2 the swapped one ("21");
    FastChat already writes both winners as model names, so ``g2_winner == "model_1"`` means
    response_1 won. "tie" -> 0.5; "error" or anything else -> failed. The question and the two
    answers of the judged turn are read from ``g1_user_prompt`` (else ``g2_user_prompt``,
    swapped); ``questions`` (a question.jsonl) and ``answers`` (a model_answer folder holding
    ``<model>.jsonl``) fill in what the prompts lack. For turn 2 the response columns hold the
    turn-2 answers (the judge also saw turn 1). pair_id = "question_id/model_1/model_2/turnN".

    >>> import_mtbench("gpt-4_pair.jsonl", questions="question.jsonl")  # doctest: +SKIP
    """
    path = _existing(path, "MT-Bench judgment file")
    df = _read_records(path)
    _require(df, ["question_id", "model_1", "model_2", "g1_winner", "g2_winner"], path)
    turn = pd.to_numeric(df["turn"], errors="coerce").fillna(1).astype(int) if "turn" in df \
        else pd.Series(1, index=df.index)
    none = [None] * len(df)
    texts = [_fastchat_texts(g1, g2) for g1, g2 in
             zip(df.get("g1_user_prompt", none), df.get("g2_user_prompt", none), strict=True)]
    # (n, 3) -> three object Series: prompt, response_1, response_2 (None where unknown)
    prompt, resp1, resp2 = (pd.Series([t[k] for t in texts], index=df.index, dtype=object)
                            for k in range(3))
    keys = list(zip(df["question_id"], turn, strict=True))
    if questions:
        recs = _read_records(_existing(questions, "question file")).to_dict("records")
        asked = {r["question_id"]: r["turns"] for r in recs}
        prompt = prompt.fillna(pd.Series([_turn(asked, k) for k in keys], index=df.index))
    if answers:
        folder = _existing(answers, "model answer folder")
        ans = _load_answers(folder, set(df["model_1"]) | set(df["model_2"]))
        resp1, resp2 = (resp.fillna(pd.Series(
            [_turn(ans.get(m, {}), k) for m, k in zip(df[model], keys, strict=True)],
            index=df.index)) for resp, model in ((resp1, "model_1"), (resp2, "model_2")))
    judge_col = df.get("judge", pd.Series(None, index=df.index))
    names = judge_col.map(lambda j: j[0] if isinstance(j, list) and j else j)
    base = pd.DataFrame({
        "pair_id": (df["question_id"].astype(str) + "/" + df["model_1"].astype(str) + "/"
                    + df["model_2"].astype(str) + "/turn" + turn.astype(str)),
        "judge": judge or names.fillna(path.stem).astype(str),
        "prompt": prompt, "response_1": resp1, "response_2": resp2,
        "model_1": df["model_1"], "model_2": df["model_2"], "source": "mtbench",
        "question_id": df["question_id"], "turn": turn,
        "judge_prompt": judge_col.map(lambda j: j[1] if isinstance(j, list) and len(j) > 1
                                      else None),
    })
    if "tstamp" in df.columns:
        base["tstamp"] = df["tstamp"]
    parts = []
    for order, g in (("12", "g1"), ("21", "g2")):
        # Anything but the three codes ("error", a typo, NaN) is a failed verdict.
        p1 = df[f"{g}_winner"].map({"model_1": 1.0, "model_2": 0.0, "tie": 0.5}).astype(float)
        parts.append(base.assign(order=order, p_1=p1, failed=p1.isna(),
                                 error=_error_text(p1, df[f"{g}_winner"], f"{g}_winner"),
                                 raw=df.get(f"{g}_judgment")))
    return _finish(pd.concat(parts, ignore_index=True).sort_values(["pair_id", "order"],
                                                                    kind="stable"))


def _turn(table: dict, key: tuple[object, int]) -> str | None:
    """The text of turn ``key[1]`` of question ``key[0]``, or None where the table lacks it."""
    turns = table.get(key[0])
    return turns[key[1] - 1] if turns and len(turns) >= key[1] else None


def _load_answers(folder: Path, models: set[str]) -> dict[str, dict]:
    """model -> {question_id: [turn texts]} from FastChat's model_answer/<model>.jsonl."""
    out = {}
    for model in models:
        file = folder / f"{model}.jsonl"
        if file.exists():
            recs = _read_records(file).to_dict("records")
            out[model] = {r["question_id"]: r["choices"][0]["turns"] for r in recs}
    return out


