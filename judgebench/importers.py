"""Import judge logs from elsewhere into the verdict table, so every audit runs on them (DESIGN §1).

One public function per format, registered by name in :data:`IMPORTERS`;
``import_log(fmt, path, **options)`` dispatches to it (the CLI passes ``--map key=value`` options,
so every option arrives as a string). Each importer returns a table that passes
:func:`~judgebench.verdicts.validate_verdicts` with the pair columns attached, except ``trl``:
prompt/chosen/rejected files carry no verdicts, so it returns a *pairs* table, ready to be judged.

Shared conventions (docs/design/importers.md): a winner becomes ``p_1`` (1 = response_1 wins,
0 = response_2 wins, 0.5 = tie) and ``p_first`` follows from the order; a missing, erroneous or
unparseable judgment is ``failed=True`` with NaN and the reason in ``error``, never a
preference; source columns the schema does not name are kept as metadata.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from judgebench.verdicts import (
    ORDERS,
    load_table,
    p1_from_p_first,
    validate_pairs,
    validate_verdicts,
)

_LEAD = ["pair_id", "judge", "order", "p_first", "p_1", "failed", "error", "raw", "latency_s",
         "n_tokens", "len_1", "len_2", "prompt", "response_1", "response_2", "label", "model_1",
         "model_2", "source"]


# ---------------------------------------------------------------------------------------------
# Shared helpers


def _existing(path: str | Path, what: str) -> Path:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No {what} at {str(path)!r}; check the path.")
    return path


def _split(value: str | list[str] | None) -> list[str]:
    """Options arrive as 'a,b,c' from the command line; a Python caller may pass a list."""
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    return [s.strip() for s in items if s.strip()]


def _require(df: pd.DataFrame, columns: list[str], where: Path | str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{str(where)!r} lacks column(s) {missing}; available columns: "
                         f"{list(df.columns)}.")


def _read_records(path: Path) -> pd.DataFrame:
    """A JSON array or JSON lines file as a DataFrame (logs come in both shapes)."""
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        return pd.DataFrame(json.loads(text))
    return pd.DataFrame([json.loads(line) for line in text.splitlines() if line.strip()])


def _hash_id(*texts: object) -> str:
    """A stable pair_id from the pair's texts, so both orders of one pair share it."""
    return hashlib.sha1("\x1f".join(map(str, texts)).encode("utf-8")).hexdigest()[:16]


def _text_len(texts: pd.Series) -> np.ndarray:
    return np.array([len(t) if isinstance(t, str) else np.nan for t in texts], dtype=float)


def _finish(frame: pd.DataFrame) -> pd.DataFrame:
    """Fill p_first from p_1 and the order, mark failures, order the columns and validate.

    ``frame`` holds p_1 (NaN where the judgment failed), order and failed; the mapping
    p_1 -> p_first is the same involution as p_first -> p_1.
    """
    out = frame.reset_index(drop=True)
    failed = out["failed"].astype(bool).to_numpy() | out["p_1"].isna().to_numpy()
    p1 = np.where(failed, np.nan, pd.to_numeric(out["p_1"], errors="coerce"))
    out["failed"], out["p_1"] = failed, p1
    out["p_first"] = p1_from_p_first(p1, out["order"].astype(str).to_numpy())
    for col in ("prompt", "response_1", "response_2"):
        if col in out.columns:  # e.g. PandaLM has JSON `true` as a response: keep it as text
            out[col] = out[col].map(lambda t: t if isinstance(t, str) or pd.isna(t) else str(t))
    defaults = {"error": None, "raw": None, "latency_s": np.nan, "n_tokens": np.nan}
    for col, value in defaults.items():
        if col not in out.columns:
            out[col] = value
    for k in ("1", "2"):
        if f"len_{k}" not in out.columns:
            col = f"response_{k}"
            out[f"len_{k}"] = _text_len(out[col]) if col in out.columns else np.nan
    lead = [c for c in _LEAD if c in out.columns]
    out = out[lead + [c for c in out.columns if c not in lead]]
    return validate_verdicts(out)


def _error_text(p1: pd.Series, winner: pd.Series, field: str) -> pd.Series:
    return pd.Series(np.where(p1.isna(), [f"{field}={w!r}" for w in winner], None),
                     index=winner.index, dtype=object)


# ---------------------------------------------------------------------------------------------
# LLMBar (Zeng et al. 2024)

_LLMBAR_CSV = "llmbar_all_evaluator_results_compact.csv.gz"


def import_llmbar(path: str | Path, *, subset: str | None = None, evaluator: str | None = None,
                  strategy: str | None = None) -> pd.DataFrame:
    """LLMBar's compact results (both orders per pair) joined with its dataset texts.

    ``path`` is the LLMBar directory (holding ``datasets/<subset>/dataset.json`` and the
    compact csv) or the csv itself. ``winner_noswap`` gives order "12", ``winner_swap`` order
    "21"; both are already expressed as the original output index (1/2). A missing winner is a
    failed verdict. Judge = "evaluator/strategy"; pair_id = "subset/idx", where idx is the
    instance's position in dataset.json (checked against the csv's output lengths).
    ``subset``, ``evaluator``, ``strategy``: comma-separated filters.

    >>> v = import_llmbar("LLMBar", subset="LLMBar/Natural", evaluator="GPT-4")  # doctest: +SKIP
    """
    root = _existing(path, "LLMBar directory")
    csv = root if root.is_file() else root / _LLMBAR_CSV
    root = csv.parent
    res = pd.read_csv(_existing(csv, "LLMBar compact results csv"))
    _require(res, ["subset", "evaluator", "strategy", "idx", "label", "winner_noswap",
                   "winner_swap"], csv)
    for col, wanted in (("subset", subset), ("evaluator", evaluator), ("strategy", strategy)):
        names = _split(wanted)
        if names:
            unknown = sorted(set(names) - set(res[col]))
            if unknown:
                raise ValueError(f"LLMBar {col} {unknown} not found in {csv.name}; available: "
                                 f"{sorted(set(res[col]))}.")
            res = res[res[col].isin(names)]
    texts = _llmbar_texts(root, sorted(res["subset"].unique()))
    res = res.merge(texts, on=["subset", "idx"], how="left", validate="many_to_one")
    _check_llmbar_join(res, set(texts["subset"]))
    base = pd.DataFrame({
        "pair_id": res["subset"] + "/" + res["idx"].astype(str),
        "judge": res["evaluator"] + "/" + res["strategy"],
        "prompt": res["prompt"], "response_1": res["response_1"],
        "response_2": res["response_2"], "label": res["label"].astype(float),
        "source": "llmbar", "len_1": res["len_output_1"].astype(float),
        "len_2": res["len_output_2"].astype(float),
    })
    keep = [c for c in ("subset", "evaluator", "strategy", "idx", "score_1", "score_2")
            if c in res.columns]
    base = pd.concat([base, res[keep]], axis=1)
    parts = []
    for order, col in (("12", "noswap"), ("21", "swap")):
        winner = res[f"winner_{col}"]
        p1 = winner.map({1: 1.0, 2: 0.0}).astype(float)
        part = base.assign(order=order, p_1=p1.to_numpy(), failed=p1.isna().to_numpy(),
                           error=_error_text(p1, winner, f"winner_{col}").to_numpy())
        if f"winner_final_{col}" in res.columns:
            # The Swap strategies' synthesised final winner, for this order.
            part["winner_final"] = res[f"winner_final_{col}"].to_numpy()
        parts.append(part)
    return _finish(pd.concat(parts, ignore_index=True).sort_values(
        ["judge", "pair_id", "order"], kind="stable"))


def _llmbar_texts(root: Path, subsets: list[str]) -> pd.DataFrame:
    """(subset, idx) -> texts from each subset's dataset.json, idx = position in the file."""
    frames = []
    for name in subsets:
        file = root / "datasets" / name / "dataset.json"
        if not file.exists():
            continue  # verdicts are kept without texts; len_1/len_2 still come from the csv
        inst = pd.DataFrame(json.loads(file.read_text(encoding="utf-8")))
        frames.append(pd.DataFrame({
            "subset": name, "idx": np.arange(len(inst)), "prompt": inst["input"],
            "response_1": inst["output_1"], "response_2": inst["output_2"],
            "_label": inst["label"]}))
    if not frames:
        return pd.DataFrame(columns=["subset", "idx", "prompt", "response_1", "response_2",
                                     "_label"])
    return pd.concat(frames, ignore_index=True)


def _check_llmbar_join(res: pd.DataFrame, with_texts: set[str]) -> None:
    """The csv's idx must index dataset.json; its lengths and labels must match the texts."""
    bad = res["subset"].isin(with_texts) & (
        res["prompt"].isna() | (_text_len(res["response_1"]) != res["len_output_1"])
        | (_text_len(res["response_2"]) != res["len_output_2"]) | (res["_label"] != res["label"]))
    if bad.any():
        row = res[bad].iloc[0]
        raise ValueError(f"LLMBar results do not match dataset.json for subset {row['subset']!r} "
                         f"idx {row['idx']} (no such instance, or output lengths or label "
                         "differ); the csv and the "
                         "datasets folder come from different versions.")


# ---------------------------------------------------------------------------------------------
# AlpacaEval (Dubois et al. 2024)


def import_alpacaeval(path: str | Path, *, judge: str | None = None) -> pd.DataFrame:
    """An AlpacaEval annotations.json: one verdict per record, p_1 = 2 - preference.

    preference 1 = output_1 preferred, 2 = output_2, 1.5 = tie, a float in between =
    1 + P(output_2); 0 (AlpacaEval's code for identical outputs) is a tie; missing, -1 or
    out-of-range values are failed. AlpacaEval randomises the presented order and maps the
    preference back before saving, so the order is recorded as "12" unless a record carries
    ``is_switched_outputs``; ``order_known`` says which (position audits need it True).
    Judge = ``judge`` option, else the record's ``annotator``, else the file stem.

    >>> import_alpacaeval("annotations.json").groupby("judge").p_1.mean()  # doctest: +SKIP
    """
    path = _existing(path, "AlpacaEval annotations file")
    df = _read_records(path)
    _require(df, ["instruction", "output_1", "output_2", "preference"], path)
    pref = pd.to_numeric(df["preference"], errors="coerce")
    p1 = (2.0 - pref).where(pref.between(1, 2)).mask(pref == 0, 0.5)
    prompt = df["instruction"].astype(str)
    if "input" in df.columns:  # AlpacaEval joins a non-empty input to the instruction
        extra = df["input"].fillna("").astype(str)
        prompt = prompt.where(extra == "", prompt + "\n\n" + extra)
    names = df["annotator"] if "annotator" in df.columns else pd.Series(None, index=df.index)
    switched = df["is_switched_outputs"] if "is_switched_outputs" in df.columns else None
    out = pd.DataFrame({
        "pair_id": [_hash_id(*t) for t in zip(prompt, df["output_1"], df["output_2"], strict=True)],
        "judge": judge or names.fillna(path.stem).astype(str),
        "order": "12" if switched is None else np.where(switched.fillna(False).astype(bool),
                                                        "21", "12"),
        "order_known": switched is not None,
        "p_1": p1, "failed": p1.isna(), "error": _error_text(p1, df["preference"], "preference"),
        "prompt": prompt, "response_1": df["output_1"], "response_2": df["output_2"],
        "source": "alpacaeval",
    })
    renames = {"raw_completion": "raw", "time_per_example": "latency_s",
               "generator_1": "model_1", "generator_2": "model_2"}
    for src, dst in renames.items():
        if src in df.columns:
            out[dst] = df[src]
    used = {"instruction", "input", "output_1", "output_2", "preference", "annotator",
            "is_switched_outputs", *renames}
    meta = df[[c for c in df.columns if c not in used and c not in out.columns]]
    return _finish(pd.concat([out, meta], axis=1))


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


# ---------------------------------------------------------------------------------------------
# PandaLM test set (Wang et al. 2024)

def import_pandalm(path: str | Path, *, testset: str | None = None) -> pd.DataFrame:
    """PandaLM judge results joined with its human-annotated test set; one order ("12").

    ``path`` is a judge result file (records with ``idx`` and one ``*_result`` field, e.g.
    gpt-3.5-turbo-testset-v1.json; judge = the stem less the test set's name) or a folder (every
    judge file in it is imported). The test set is ``testset``, else the file beside the judge
    file holding ``annotator1``. Results 1/2 map to p_1 = 1/0, "Tie"/0 to 0.5, anything else
    ("garbage") to failed. label = the human majority of annotator1..3 (0 = tie -> 0.5); with
    no majority (three different votes; none in testset-v1) the label is NaN: gold unknown.
    annotator1..3 are kept. Scoring ties as a third class and failed
    verdicts as wrong, over all 999 pairs, reproduces the published accuracies (0.698, 0.668).

    >>> import_pandalm("PandaLM/data/gpt-3.5-turbo-testset-v1.json")  # doctest: +SKIP
    """
    path = _existing(path, "PandaLM result file or folder")
    loaded: dict[Path, pd.DataFrame] = {}

    def read(file: Path) -> pd.DataFrame:
        if file not in loaded:
            loaded[file] = _read_records(file)
        return loaded[file]

    siblings = sorted(path.glob("*.json")) if path.is_dir() else [path]
    judged = [f for f in siblings if any(c.endswith("_result") for c in read(f).columns)]
    if not judged:
        raise ValueError(f"No PandaLM judge results (records with a '*_result' field) in "
                         f"{str(path)!r}; give a judge file such as gpt-3.5-turbo-testset-v1.json"
                         " or the folder holding it.")
    if testset:
        tfile = _existing(testset, "PandaLM test set")
    else:
        # Look beside the judge file, first at "<x>.json" for a judge file "<judge>-<x>.json".
        near = sorted(judged[0].parent.glob("*.json"),
                      key=lambda f: (not judged[0].stem.endswith(f"-{f.stem}"), f.name))
        tfile = next((f for f in near if "annotator1" in read(f).columns), None)
        if tfile is None:
            raise ValueError(f"No PandaLM test set (records with annotator1..3) beside "
                             f"{str(judged[0])!r}; pass testset=PATH.")
    pairs = _pandalm_pairs(read(tfile), tfile)
    parts = []
    for file in judged:
        res = loaded[file]
        col = next(c for c in res.columns if c.endswith("_result"))
        unknown = sorted(set(res["idx"]) - set(pairs["idx"]))
        if unknown:
            raise ValueError(f"{file.name} judges idx {unknown[:5]} that the test set "
                             f"{tfile.name} lacks; pass the matching testset=PATH.")
        code = res[col].astype(str).str.strip().str.lower()
        p1 = code.map({"1": 1.0, "2": 0.0, "tie": 0.5, "0": 0.5}).astype(float)
        prefix = col[: -len("result")]  # gpt_result -> gpt_reason, gpt_reference go to raw
        raw = [{k[len(prefix):]: v for k, v in r.items() if k.startswith(prefix)}
               for r in res.to_dict("records")]
        parts.append(pd.DataFrame({
            "idx": res["idx"], "judge": file.stem.replace(f"-{tfile.stem}", ""), "order": "12",
            "p_1": p1, "failed": p1.isna(), "error": _error_text(p1, res[col], col), "raw": raw,
        }).merge(pairs, on="idx", how="left"))
    return _finish(pd.concat(parts, ignore_index=True))


def _pandalm_pairs(ts: pd.DataFrame, file: Path) -> pd.DataFrame:
    votes = ["annotator1", "annotator2", "annotator3"]
    _require(ts, ["idx", "instruction", "response1", "response2", *votes], file)
    v = ts[votes].apply(pd.to_numeric).astype(float).to_numpy()  # (n, 3) in {0 tie, 1, 2}
    # The majority is the vote at least two annotators share; three different votes: none.
    majority = np.where((v[:, 0] == v[:, 1]) | (v[:, 0] == v[:, 2]), v[:, 0],
                        np.where(v[:, 1] == v[:, 2], v[:, 1], np.nan))
    inp = ts["input"].fillna("").astype(str) if "input" in ts else pd.Series("", index=ts.index)
    prompt = ts["instruction"].where(inp == "", ts["instruction"] + "\n\n" + inp)
    # cmp_key "a_b" names the models of response1 and response2, in that order.
    models = (ts["cmp_key"] if "cmp_key" in ts else pd.Series("_", index=ts.index)).astype(
        str).str.split("_", n=1)
    meta = [c for c in ("motivation_app", "cmp_key", "instruction", "input") if c in ts]
    return pd.concat([pd.DataFrame({
        "idx": ts["idx"], "pair_id": "pandalm/" + ts["idx"].astype(str), "prompt": prompt,
        "response_1": ts["response1"], "response_2": ts["response2"],
        "label": np.where(majority == 0, 0.5, majority),
        "model_1": models.str[0], "model_2": models.str[1], "source": "pandalm",
    }), ts[votes].apply(pd.to_numeric), ts[meta]], axis=1)


# ---------------------------------------------------------------------------------------------
# Generic tables and TRL preference sets

_GENERIC_TARGETS = ("pair_id", "prompt", "response_1", "response_2", "label", "model_1",
                    "model_2", "source", "judge", "order", "p_first", "p_1", "winner",
                    "failed", "raw", "latency_s", "n_tokens")
_GENERIC_SETTINGS = ("judge_name", "default_order")
# Winner codes: response index (1/2, model_1/model_2, tie) or position (A/B = shown first/second).
_BY_RESPONSE = {"1": 1.0, "2": 0.0, "response_1": 1.0, "response_2": 0.0, "model_1": 1.0,
                "model_2": 0.0, "tie": 0.5, "draw": 0.5, "0": 0.5, "0.5": 0.5, "c": 0.5}
_BY_POSITION = {"a": 1.0, "b": 0.0}
_TRUE = {"true", "1", "1.0", "yes"}  # a CSV round trip turns booleans into text


def import_generic(path: str | Path, **options: str) -> pd.DataFrame:
    """A CSV/JSONL/Parquet of verdicts or judged pairs, columns mapped by ``target=column``.

    Targets: pair_id, prompt, response_1, response_2, label, model_1, model_2, source, judge,
    order, p_first, p_1, winner, failed, raw, latency_s, n_tokens (an unmapped target is read
    from a column of the same name when there is one). The judgment comes from ``p_first``,
    else ``p_1``, else ``winner``: 1/2 (or model_1/model_2, response_1/response_2) name the
    winning response, A/B the winning position, tie/draw/C/0/0.5 a tie; any other winner
    fails. Settings: ``judge_name`` (default: the file stem) when no judge column is mapped,
    ``default_order`` ("12") when no order column is. Without pair_id, the id hashes the texts.

    >>> import_generic("log.csv", prompt="question", response_1="answer_a",
    ...                response_2="answer_b", winner="choice")  # doctest: +SKIP
    """
    path = _existing(path, "table")
    unknown = sorted(set(options) - set(_GENERIC_TARGETS) - set(_GENERIC_SETTINGS))
    if unknown:
        raise ValueError(f"Unknown generic option(s) {unknown}; map a target with target=column "
                         f"(targets: {list(_GENERIC_TARGETS)}) or set {list(_GENERIC_SETTINGS)}.")
    df = load_table(path)
    cols = {}
    for target in _GENERIC_TARGETS:
        source = options.get(target, target if target in df.columns else None)
        if source is None:
            continue
        if source not in df.columns:
            raise ValueError(f"Column {source!r} (mapped to {target}) is not in {path.name}; "
                             f"available columns: {list(df.columns)}.")
        cols[target] = df[source]
    out = pd.DataFrame(cols, index=df.index)
    order = out["order"].astype(str) if "order" in out else pd.Series(
        options.get("default_order", "12"), index=df.index)
    order = order.str.replace(r"\.0$", "", regex=True)
    bad = ~order.isin(ORDERS)
    if bad.any():
        raise ValueError(f"order must be '12' or '21'; {path.name} row {bad.idxmax()} has "
                         f"{order[bad].iloc[0]!r}. Map the right column or set default_order.")
    out["order"] = order
    failed = (out["failed"].astype(str).str.strip().str.lower().isin(_TRUE) if "failed" in out
              else pd.Series(False, index=df.index))
    given = next((c for c in ("p_first", "p_1") if c in out), None)
    if given:
        p = pd.to_numeric(out[given], errors="coerce")
        bad = ~(p.between(0, 1) | p.isna())
        if bad.any():
            raise ValueError(f"{given} (column {options.get(given, given)!r}) must lie in [0, 1]; "
                             f"{path.name} row {bad.idxmax()} has {p[bad].iloc[0]!r}.")
        p1 = pd.Series(p1_from_p_first(p, order) if given == "p_first" else p, index=df.index)
    elif "winner" in out:
        code = out["winner"].astype(str).str.strip().str.lower().str.replace(
            r"\.0$", "", regex=True)
        by_pos = pd.Series(p1_from_p_first(code.map(_BY_POSITION).astype(float), order),
                           index=df.index)
        p1 = code.map(_BY_RESPONSE).astype(float).fillna(by_pos)
        out["error"] = _error_text(p1, out["winner"], "winner")
        if "raw" not in out:
            out["raw"] = out["winner"]
    else:
        raise ValueError(f"{path.name} has no judgment: map p_first=, p_1= or winner= to a "
                         f"column; available columns: {list(df.columns)}. (For pairs without "
                         "verdicts, load them with load_table and judge them.)")
    out["p_1"], out["failed"] = p1.where(~failed), failed | p1.isna()
    if "judge" not in out:
        out["judge"] = options.get("judge_name") or path.stem
    if "pair_id" not in out:
        texts = [out.get(c, pd.Series("", index=df.index)) for c in
                 ("prompt", "response_1", "response_2")]
        has_text = any(c in out for c in ("prompt", "response_1", "response_2"))
        out["pair_id"] = ([_hash_id(*t) for t in zip(*texts, strict=True)] if has_text
                          else [f"{path.stem}/{i}" for i in range(len(df))])
    used = {options.get(t, t) for t in cols}
    meta = df[[c for c in df.columns if c not in used and c not in out.columns]]
    return _finish(pd.concat([out.drop(columns=["winner"], errors="ignore"), meta], axis=1))


def import_trl(path: str | Path, *, prompt: str = "prompt", chosen: str = "chosen",
               rejected: str = "rejected") -> pd.DataFrame:
    """A TRL preference set (prompt/chosen/rejected, JSONL/Parquet/CSV) as a *pairs* table.

    These files hold no judge verdicts, so this importer returns pairs (validate_pairs), not
    verdicts: response_1 = chosen, response_2 = rejected, label = 1; judge them to get
    verdicts. Conversational rows (lists of {role, content}) are rendered as "role: content"
    lines; with no prompt column, the messages chosen and rejected share form the prompt.

    >>> import_trl("prefs.jsonl", chosen="better", rejected="worse")  # doctest: +SKIP
    """
    path = _existing(path, "preference file")
    df = load_table(path)
    # An explicitly mapped prompt column must exist; the default one may be implicit (chat data).
    _require(df, [chosen, rejected] + ([prompt] if prompt != "prompt" else []), path)
    rows = []
    for i, rec in enumerate(df.to_dict("records")):
        p, c, r = rec.get(prompt), rec[chosen], rec[rejected]
        if _is_chat(c) and _is_chat(r):
            c, r = list(c), list(r)
            shared = 0
            if p is None:  # implicit prompt: the messages both conversations start with
                while shared < min(len(c), len(r)) - 1 and c[shared] == r[shared]:
                    shared += 1
                p = c[:shared]
            c, r = _render(c[shared:]), _render(r[shared:])
        ids = [rec.get(k) for k in ("pair_id", "id") if pd.notna(rec.get(k))]
        rows.append({"pair_id": str(ids[0]) if ids else f"{path.stem}/{i}",
                     "prompt": _render(p) if _is_chat(p) else (p if isinstance(p, str) else ""),
                     "response_1": c, "response_2": r, "label": 1.0, "source": "trl"})
    out = pd.DataFrame(rows)
    meta = df[[c for c in df.columns
               if c not in {prompt, chosen, rejected, "pair_id", "id"} | set(out.columns)]]
    return validate_pairs(pd.concat([out, meta], axis=1))


def _is_chat(value: object) -> bool:
    return isinstance(value, (list, np.ndarray)) and all(isinstance(m, dict) for m in value)


def _render(messages: object) -> str:
    if isinstance(messages, str):
        return messages
    return "\n\n".join(f"{m.get('role', '')}: {m.get('content', '')}" for m in messages)


# ---------------------------------------------------------------------------------------------
# Registry and dispatch

IMPORTERS: dict[str, Callable[..., pd.DataFrame]] = {
    "llmbar": import_llmbar,
    "alpacaeval": import_alpacaeval,
    "mtbench": import_mtbench,
    "pandalm": import_pandalm,
    "generic": import_generic,
    "trl": import_trl,
}


def import_log(fmt: str, path: str | Path, **options: str) -> pd.DataFrame:
    """Import an external judge log as a verdict table (``trl``: a pairs table).

    >>> import_log("mtbench", "gpt-4_pair.jsonl", questions="question.jsonl")  # doctest: +SKIP
    """
    if fmt not in IMPORTERS:
        raise ValueError(f"Unknown import format {fmt!r}; allowed formats: {sorted(IMPORTERS)}.")
    importer = IMPORTERS[fmt]
    params = inspect.signature(importer).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        allowed = [n for n, p in params.items() if p.kind is p.KEYWORD_ONLY]
        unknown = sorted(set(options) - set(allowed))
        if unknown:
            raise ValueError(f"Unknown option(s) {unknown} for format {fmt!r}; allowed: "
                             f"{allowed}.")
    return importer(path, **options)
