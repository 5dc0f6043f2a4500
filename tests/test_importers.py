"""Importers reproduce the numbers their sources published (shared/realdata) and fail loudly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from judgebench.importers import IMPORTERS, import_generic, import_log, import_trl
from judgebench.verdicts import label_to_p1, validate_pairs, validate_verdicts

REAL = Path(__file__).resolve().parents[1] / ".." / "shared" / "realdata"
LLMBAR, MTBENCH, PANDALM = REAL / "llmbar", REAL / "mt_bench", REAL / "pandalm" / "data"
PHI3 = MTBENCH / "third_party_Stefanstud_phi3"


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"real data not present at {path}")
    return path


def winners(verdicts: pd.DataFrame) -> pd.DataFrame:
    """Wide (judge, pair_id) x order table of winners: 1.0, 0.0 (response_2), 0.5 tie, NaN failed."""
    w = verdicts.assign(w=np.select([verdicts.p_1 > 0.5, verdicts.p_1 < 0.5,
                                     verdicts.p_1 == 0.5], [1.0, 0.0, 0.5], np.nan))
    return w.pivot_table(index=["judge", "pair_id"], columns="order", values="w",
                         aggfunc="first", dropna=False)


def consistency(verdicts: pd.DataFrame) -> float:
    """Share of pairs with the same winner in both orders; a failed side is inconsistent."""
    w = winners(verdicts)
    return float((w["12"] == w["21"]).mean())


def p_first_decisive(verdicts: pd.DataFrame) -> float:
    """P(the answer shown first wins) over decisive (non-tie, non-failed) verdicts."""
    p = verdicts.loc[~verdicts.failed & (verdicts.p_first != 0.5), "p_first"]
    return float((p > 0.5).mean())


def accuracy(verdicts: pd.DataFrame) -> float:
    """Three-class accuracy against the label over all rows; a failed verdict counts as wrong."""
    w = np.select([verdicts.p_1 > 0.5, verdicts.p_1 < 0.5, verdicts.p_1 == 0.5],
                  [1.0, 0.0, 0.5], np.nan)
    return float((w == verdicts.label.map(label_to_p1).to_numpy()).mean())


# ---------------------------------------------------------------------------------------------
# LLMBar


@pytest.fixture(scope="module")
def llmbar() -> pd.DataFrame:
    return import_log("llmbar", need(LLMBAR))


def test_llmbar_imports_every_verdict_in_both_orders(llmbar):
    # 40,413 compact rows, each judged in both orders; 1,200 instances over 13 subsets.
    assert len(llmbar) == 2 * 40_413 == 80_826
    assert llmbar.pair_id.nunique() == 1_200
    assert llmbar.groupby(["judge", "pair_id"]).size().eq(2).all()
    assert llmbar.failed.sum() == 170 + 172  # missing winner_noswap + winner_swap
    assert llmbar.loc[llmbar.failed, ["p_first", "p_1"]].isna().all().all()
    natural = llmbar[llmbar.subset == "LLMBar/Natural"]
    assert natural.pair_id.nunique() == 100
    # Texts joined from dataset.json by position: lengths agree with the csv's own lengths.
    assert llmbar.prompt.notna().all()
    assert (llmbar.len_1 == llmbar.response_1.str.len()).all()
    validate_verdicts(llmbar)


def test_llmbar_reproduces_every_published_vanilla_number(llmbar):
    rows = []
    for line in need(LLMBAR / "vanilla_summary.txt").read_text().splitlines()[2:]:
        parts = line.split()
        if len(parts) == 7:
            subset = parts.pop(0)
        if len(parts) == 6:
            rows.append([subset, *parts])
    assert len(rows) == 42  # 5 LLMBar subsets x 6 judges + 3 Processed x 4
    for subset, evaluator, n, acc12, acc21, cons, p_first in rows:
        group = llmbar[(llmbar.subset == subset) & (llmbar.evaluator == evaluator)]
        # LLMBar subsets were run with "Vanilla"; the Processed ones only with "Vanilla_NoRules".
        strategy = "Vanilla" if (group.strategy == "Vanilla").any() else "Vanilla_NoRules"
        v = group[group.strategy == strategy]
        assert v.pair_id.nunique() == int(n)
        got = {
            "acc_noswap": accuracy(v[v.order == "12"]), "acc_swap": accuracy(v[v.order == "21"]),
            "consistency": consistency(v),
            # The summary divides first-shown wins by all 2n verdicts, failed ones included.
            "p_first": float((v.p_first > 0.5).sum() / len(v)),
        }
        want = dict(zip(got, map(float, (acc12, acc21, cons, p_first)), strict=True))
        for key in got:  # published to 3 decimals (243/400 = 0.6075 is printed 0.607)
            assert abs(got[key] - want[key]) <= 5.01e-4, (subset, evaluator, key, got[key])


def test_llmbar_filters_and_headline_numbers():
    v = import_log("llmbar", need(LLMBAR), subset="LLMBar/Natural", evaluator="GPT-4,ChatGPT",
                   strategy="Vanilla")
    assert len(v) == 2 * 2 * 100
    gpt4, chatgpt = v[v.evaluator == "GPT-4"], v[v.evaluator == "ChatGPT"]
    assert set(v.judge) == {"GPT-4/Vanilla", "ChatGPT/Vanilla"}
    assert consistency(gpt4) == pytest.approx(0.95)
    assert p_first_decisive(gpt4) == pytest.approx(0.505)
    assert consistency(chatgpt) == pytest.approx(0.71)
    assert p_first_decisive(chatgpt) == pytest.approx(0.605)
    # order "21" shows response_2 first: p_first and p_1 are complements there.
    swap = v[v.order == "21"]
    assert np.allclose(swap.p_first, 1 - swap.p_1)


def test_llmbar_unknown_filter_lists_what_exists():
    with pytest.raises(ValueError, match=r"LLMBar subset \['Nope'\].*available.*LLMBar/Natural"):
        import_log("llmbar", need(LLMBAR), subset="Nope")
    with pytest.raises(FileNotFoundError, match="LLMBar directory"):
        import_log("llmbar", "/nonexistent/llmbar")


def test_llmbar_join_is_checked_and_missing_texts_keep_verdicts(tmp_path):
    (tmp_path / "datasets" / "S").mkdir(parents=True)
    (tmp_path / "datasets" / "S" / "dataset.json").write_text(json.dumps(
        [{"input": "q", "output_1": "abc", "output_2": "de", "label": 2}]))
    rows = pd.DataFrame({"subset": ["S", "T"], "evaluator": "E", "strategy": "V", "idx": 0,
                         "label": 2, "winner_noswap": [2.0, None], "winner_swap": [1.0, 2.0],
                         "len_output_1": [3, 10], "len_output_2": [2, 20]})
    csv = tmp_path / "llmbar_all_evaluator_results_compact.csv.gz"
    rows.to_csv(csv, index=False)
    v = import_log("llmbar", tmp_path).set_index(["pair_id", "order"])
    assert v.loc[("S/0", "21"), "p_first"] == 0.0 and v.loc[("S/0", "21"), "p_1"] == 1.0
    assert v.loc[("S/0", "12"), "response_1"] == "abc"
    # Subset T has no dataset.json: its verdicts stay, with the csv's lengths and no texts.
    assert np.isnan(v.loc[("T/0", "12"), "p_1"]) and v.loc[("T/0", "12"), "failed"]
    assert v.loc[("T/0", "21"), "len_2"] == 20 and pd.isna(v.loc[("T/0", "21"), "prompt"])
    rows.assign(idx=[1, 0]).to_csv(csv, index=False)  # idx 1 does not exist in S
    with pytest.raises(ValueError, match="do not match dataset.json for subset 'S' idx 1"):
        import_log("llmbar", csv)
    rows.assign(len_output_1=[4, 10]).to_csv(csv, index=False)
    with pytest.raises(ValueError, match="output lengths or label"):
        import_log("llmbar", tmp_path)


# ---------------------------------------------------------------------------------------------
# MT-Bench (FastChat pairwise judgments)


@pytest.fixture(scope="module")
def mtbench() -> pd.DataFrame:
    return import_log("mtbench", need(PHI3 / "gpt-4_pair.jsonl"))


def test_mtbench_reproduces_published_position_numbers(mtbench):
    assert len(mtbench) == 150 and mtbench.pair_id.nunique() == 75
    assert set(mtbench.judge) == {"gpt-4"}
    assert set(mtbench.judge_prompt) == {"pair-v2", "pair-math-v1"}  # math prompts hold a reference
    assert mtbench.failed.sum() == 3  # one g1 and two g2 "error" verdicts
    assert mtbench.error[mtbench.failed].str.contains("error").all()
    # Published with this run: swap consistency 0.627 = 47/75, which compares the raw winner
    # strings, so the pair with "error" in both orders counts as agreeing. Failures are never
    # preferences here: that pair is inconsistent (46/75), or dropped (46/73 pairs judged twice).
    w = winners(mtbench)
    assert round(float(((w["12"] == w["21"]) | (w["12"].isna() & w["21"].isna())).mean()),
                 3) == 0.627
    assert round(consistency(mtbench), 3) == round(46 / 75, 3) == 0.613
    both = w.dropna()
    assert len(both) == 73 and round(float((both["12"] == both["21"]).mean()), 3) == 0.630
    # P(first shown wins | decisive) 0.648 = 79/122: ties and failures excluded.
    assert round(p_first_decisive(mtbench), 3) == 0.648
    ties = mtbench[mtbench.p_1 == 0.5]
    assert len(ties) == 11 + 14 and np.allclose(ties.p_first, 0.5)


def test_mtbench_g2_winner_is_already_in_model_names(mtbench):
    # In g2 model_2 is shown as A; "[[A]]" with g2_winner == "model_2" proves FastChat mapped it.
    g2 = mtbench[mtbench.order == "21"]
    said_a = g2.raw.str.contains(r"\[\[A\]\]")
    assert (g2.loc[said_a & ~g2.failed, "p_1"] == 0.0).all()
    assert (g2.loc[said_a & ~g2.failed, "p_first"] == 1.0).all()


def test_mtbench_texts_match_the_model_answers(mtbench):
    answers = {}
    for model in ("phi-3", "phi-3-dpo"):
        for line in need(PHI3 / f"{model}.jsonl").read_text().splitlines():
            rec = json.loads(line)
            answers[model, rec["question_id"]] = rec["choices"][0]["turns"][0]
    questions = {json.loads(x)["question_id"]: json.loads(x)["turns"][0] for x in
                 (MTBENCH / "data" / "mt_bench" / "question.jsonl").read_text().splitlines()}
    for _, row in mtbench.iterrows():
        assert row.response_1 == answers[row.model_1, row.question_id]
        assert row.response_2 == answers[row.model_2, row.question_id]
        assert row.prompt == questions[row.question_id]


def _fastchat_record(tmp: dict) -> dict:
    base = {"question_id": 7, "model_1": "m1", "model_2": "m2", "judge": ["j", "pair-v2"],
            "turn": 1, "g1_winner": "model_1", "g2_winner": "tie"}
    return {**base, **tmp}


def test_mtbench_multi_turn_prompts_and_fill_ins(tmp_path):
    conv = ("<|The Start of Assistant {k}'s Conversation with User|>\n\n### User:\nq1\n\n"
            "### Assistant {k}:\n{a1}\n\n### User:\nq2\n\n### Assistant {k}:\n{a2}\n\n"
            "<|The End of Assistant {k}'s Conversation with User|>")
    two = (conv.format(k="A", a1="x1", a2="x2") + "\n\n\n"
           + conv.format(k="B", a1="y1", a2="y2"))
    recs = [
        _fastchat_record({"turn": 2, "g1_user_prompt": two, "g2_winner": "model_2"}),
        # only the swapped prompt: A is model_2's answer there
        _fastchat_record({"question_id": 8, "g2_user_prompt": two.replace("q2", "q")}),
        _fastchat_record({"question_id": 9, "g1_winner": "bogus"}),  # no prompt text at all
    ]
    file = tmp_path / "j_pair.jsonl"
    file.write_text("\n".join(json.dumps(r) for r in recs))
    qfile = tmp_path / "question.jsonl"
    qfile.write_text(json.dumps({"question_id": 9, "turns": ["from file", "t2"]}))
    adir = tmp_path / "answers"
    adir.mkdir()
    for m in ("m1", "m2"):
        (adir / f"{m}.jsonl").write_text(json.dumps(
            {"question_id": 9, "choices": [{"turns": [f"{m} said"]}]}))
    v = import_log("mtbench", file, questions=str(qfile), answers=str(adir)).set_index(
        ["pair_id", "order"])
    first = v.loc[("7/m1/m2/turn2", "12")]
    assert (first.prompt, first.response_1, first.response_2) == ("q2", "x2", "y2")
    assert v.loc[("7/m1/m2/turn2", "21"), "p_1"] == 0.0
    swapped = v.loc[("8/m1/m2/turn1", "12")]
    assert (swapped.response_1, swapped.response_2) == ("y2", "x2")
    filled = v.loc[("9/m1/m2/turn1", "12")]
    assert (filled.prompt, filled.response_1, filled.response_2) == ("from file", "m1 said",
                                                                     "m2 said")
    assert filled.failed and "bogus" in filled.error
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['g2_winner'\]"):
        bad = tmp_path / "bad.jsonl"
        bad.write_text(json.dumps({k: v for k, v in recs[2].items() if k != "g2_winner"}))
        import_log("mtbench", bad)


# ---------------------------------------------------------------------------------------------
# PandaLM


@pytest.fixture(scope="module")
def pandalm() -> pd.DataFrame:
    return import_log("pandalm", need(PANDALM))


def test_pandalm_reproduces_published_accuracies(pandalm):
    assert len(pandalm) == 2 * 999
    assert set(pandalm.judge) == {"gpt-3.5-turbo", "pandalm-7b"}
    gpt, panda = pandalm[pandalm.judge == "gpt-3.5-turbo"], pandalm[pandalm.judge == "pandalm-7b"]
    assert gpt.failed.sum() == 25 and panda.failed.sum() == 0  # gpt_result == "garbage"
    assert (gpt.p_1 == 0.5).sum() == 38 and (panda.p_1 == 0.5).sum() == 107
    # Ties as a third class, garbage as wrong, all 999 pairs: the published 0.698 and 0.668.
    assert round(accuracy(gpt), 3) == 0.698
    assert round(accuracy(panda), 3) == 0.668
    # Dropping the failed verdicts instead would give 0.716: the published number counts them.
    assert round(accuracy(gpt[~gpt.failed]), 3) == 0.716


def test_pandalm_labels_and_human_agreement(pandalm):
    pairs = pandalm[pandalm.judge == "pandalm-7b"]
    votes = pairs[["annotator1", "annotator2", "annotator3"]].to_numpy()
    agree = [round(float((votes[:, i] == votes[:, k]).mean()), 3)
             for i, k in ((0, 1), (0, 2), (1, 2))]
    assert agree == [0.913, 0.929, 0.918]
    assert pairs.label.value_counts().to_dict() == {2.0: 472, 1.0: 422, 0.5: 105}
    # Four responses are JSON `true` in testset-v1: kept as the text "True", never a bool.
    assert pairs.response_1.map(type).eq(str).all() and pairs.response_2.map(type).eq(str).all()
    assert pairs.set_index("pair_id").loc["pandalm/157", "response_1"] == "True"
    row = pairs.set_index("pair_id").loc["pandalm/0"]
    assert (row.model_1, row.model_2) == ("bloom-7b", "llama-7b")


def test_pandalm_single_file_finds_its_test_set_and_no_majority_is_nan(tmp_path):
    v = import_log("pandalm", need(PANDALM / "gpt-3.5-turbo-testset-v1.json"))
    assert len(v) == 999 and set(v.judge) == {"gpt-3.5-turbo"}
    assert set(v.raw.iloc[0]) == {"result", "reason", "reference"}
    ts = [{"idx": 0, "instruction": "i", "input": "", "response1": "a", "response2": "b",
           "annotator1": 0, "annotator2": 1, "annotator3": 2}]
    (tmp_path / "set.json").write_text(json.dumps(ts))
    (tmp_path / "j-set.json").write_text(json.dumps([{"idx": 0, "j_result": "1"}]))
    v = import_log("pandalm", tmp_path / "j-set.json")
    assert v.judge.tolist() == ["j"] and np.isnan(v.label.iloc[0]) and v.p_1.iloc[0] == 1.0
    with pytest.raises(ValueError, match="No PandaLM judge results"):
        import_log("pandalm", tmp_path / "set.json")
    (tmp_path / "k-set.json").write_text(json.dumps([{"idx": 5, "k_result": "1"}]))
    with pytest.raises(ValueError, match=r"judges idx \[5\] that the test set"):
        import_log("pandalm", tmp_path / "k-set.json", testset=str(tmp_path / "set.json"))
    lonely = tmp_path / "lonely"
    lonely.mkdir()
    (lonely / "j.json").write_text(json.dumps([{"idx": 0, "j_result": "1"}]))
    with pytest.raises(ValueError, match="pass testset=PATH"):
        import_log("pandalm", lonely / "j.json")


# ---------------------------------------------------------------------------------------------
# AlpacaEval (no real file is bundled: a small fixture in its format)


def _alpaca_records() -> list[dict]:
    rec = {"instruction": "Name a colour.", "output_1": "Red.", "output_2": "Blue, a calm hue.",
           "generator_1": "gpt4_1106_preview", "generator_2": "my-model",
           "annotator": "weighted_alpaca_eval_gpt4_turbo", "dataset": "helpful_base",
           "time_per_example": 0.8, "price_per_example": 0.01,
           "raw_completion": {"logprobs": {"content": [{"token": "m", "top_logprobs": [
               {"token": "m", "logprob": -0.36}, {"token": "M", "logprob": -1.2}]}]}}}
    prefs = [1.0, 2.0, 1.5, 1.3, None, 0, -1]
    return [{**rec, "instruction": f"{rec['instruction']} #{i}", "preference": p}
            for i, p in enumerate(prefs)]


def test_alpacaeval_maps_preferences(tmp_path):
    file = tmp_path / "annotations.json"
    file.write_text(json.dumps(_alpaca_records(), indent=2))
    v = import_log("alpacaeval", file)
    assert np.allclose(v.p_1, [1.0, 0.0, 0.5, 0.7, np.nan, 0.5, np.nan], equal_nan=True)
    assert v.failed.tolist() == [False] * 4 + [True, False, True]
    assert (v.order == "12").all() and not v.order_known.any()
    assert set(v.judge) == {"weighted_alpaca_eval_gpt4_turbo"}
    assert (v.model_1.iloc[0], v.model_2.iloc[0]) == ("gpt4_1106_preview", "my-model")
    assert v.latency_s.iloc[0] == 0.8 and v.price_per_example.iloc[0] == 0.01
    assert v.raw.iloc[0]["logprobs"]["content"][0]["token"] == "m"
    assert v.pair_id.is_unique and (v.len_2 == len("Blue, a calm hue.")).all()
    assert import_log("alpacaeval", file, judge="mine").judge.eq("mine").all()


def test_alpacaeval_honours_a_switched_order_field(tmp_path):
    recs = _alpaca_records()[:2]
    recs[0]["is_switched_outputs"], recs[1]["is_switched_outputs"] = True, False
    file = tmp_path / "annotations.jsonl"
    file.write_text("\n".join(json.dumps(r) for r in recs))
    v = import_log("alpacaeval", file)
    assert v.order.tolist() == ["21", "12"] and v.order_known.all()
    # output_1 preferred while shown second: p_1 = 1, p_first = 0.
    assert (v.p_1.iloc[0], v.p_first.iloc[0]) == (1.0, 0.0)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"instruction": "x", "output_1": "a", "output_2": "b"}]))
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['preference'\]"):
        import_log("alpacaeval", bad)


# ---------------------------------------------------------------------------------------------
# Generic tables


def test_generic_maps_columns_and_winner_codes(tmp_path):
    df = pd.DataFrame({
        "question": ["q1", "q1", "q2", "q3", "q4", "q5"],
        "answer_a": ["a", "a", "c", "e", "g", "i"], "answer_b": ["b", "b", "d", "f", "h", "j"],
        "choice": ["1", "B", "tie", "garbage", "2", "A"], "slot": ["12", "21", "12", "12",
                                                                    "12", "21"],
        "who": "judge-x", "note": list("uvwxyz")})
    file = tmp_path / "log.csv"
    df.to_csv(file, index=False)
    v = import_log("generic", file, prompt="question", response_1="answer_a",
                   response_2="answer_b", winner="choice", order="slot", judge="who")
    # "B" in order 21 is the second shown = response_1; "A" in order 21 is response_2.
    assert np.allclose(v.p_1, [1.0, 1.0, 0.5, np.nan, 0.0, 0.0], equal_nan=True)
    assert np.allclose(v.p_first, [1.0, 0.0, 0.5, np.nan, 0.0, 1.0], equal_nan=True)
    assert v.failed.tolist() == [False, False, False, True, False, False]
    assert "garbage" in v.error.iloc[3] and v.raw.iloc[3] == "garbage"
    assert v.pair_id.iloc[0] == v.pair_id.iloc[1] != v.pair_id.iloc[2]  # both orders: one pair
    assert set(v.judge) == {"judge-x"} and v.note.tolist() == list("uvwxyz")
    # Default judge name is the file stem; default order is "12" (so one row per pair here).
    df.iloc[2:].to_csv(file, index=False)
    w = import_generic(file, prompt="question", response_1="answer_a", response_2="answer_b",
                       winner="choice")
    assert set(w.judge) == {"log"} and set(w.order) == {"12"}


def test_generic_ready_verdicts(tmp_path):
    df = pd.DataFrame({"pair_id": ["p", "p"], "order": ["12", "21"], "prob": [0.8, 0.3],
                       "failed": ["False", "True"], "label": [1, 1]})
    file = tmp_path / "v.jsonl"
    df.to_json(file, orient="records", lines=True)
    v = import_log("generic", file, p_first="prob", judge_name="J")
    assert v.p_1.iloc[0] == 0.8 and v.failed.tolist() == [False, True]
    assert np.isnan(v.p_1.iloc[1]) and set(v.judge) == {"J"}
    pq = tmp_path / "v.parquet"
    df.rename(columns={"prob": "p_1"}).drop(columns="failed").to_parquet(pq)
    w = import_log("generic", pq)  # identity mapping: a p_1 column is read as p_1
    assert np.allclose(w.p_first, [0.8, 0.7])


def test_generic_errors_name_the_column(tmp_path):
    file = tmp_path / "t.csv"
    pd.DataFrame({"q": ["x"], "a": ["y"], "b": ["z"], "w": [1]}).to_csv(file, index=False)
    with pytest.raises(ValueError, match=r"Column 'question' \(mapped to prompt\).*"
                                         r"available columns: \['q', 'a', 'b', 'w'\]"):
        import_log("generic", file, prompt="question", winner="w")
    with pytest.raises(ValueError, match=r"Unknown generic option\(s\) \['promt'\]"):
        import_log("generic", file, promt="q")
    with pytest.raises(ValueError, match="has no judgment: map p_first=, p_1= or winner="):
        import_log("generic", file, prompt="q")
    with pytest.raises(ValueError, match="order must be '12' or '21'"):
        import_log("generic", file, winner="w", default_order="ab")
    pd.DataFrame({"p_1": [1.7]}).to_csv(file, index=False)
    with pytest.raises(ValueError, match=r"p_1 \(column 'p_1'\) must lie in \[0, 1\]; t.csv row 0 "):
        import_log("generic", file)


# ---------------------------------------------------------------------------------------------
# TRL preference sets -> pairs


def test_trl_returns_pairs_with_chosen_first(tmp_path):
    file = tmp_path / "prefs.jsonl"
    rows = [{"prompt": "2+2?", "chosen": "4", "rejected": "5", "id": "a"},
            {"prompt": "Hi", "chosen": "Hello!", "rejected": "Go away."}]
    file.write_text("\n".join(json.dumps(r) for r in rows))
    pairs = import_log("trl", file)
    assert pairs.pair_id.tolist() == ["a", "prefs/1"]
    assert pairs.response_1.tolist() == ["4", "Hello!"] and (pairs.label == 1.0).all()
    assert "p_1" not in pairs  # a pairs table, to be judged
    validate_pairs(pairs)


def test_trl_conversational_with_implicit_prompt(tmp_path):
    user = {"role": "user", "content": "Capital of France?"}
    rows = [{"chosen": [user, {"role": "assistant", "content": "Paris."}],
             "rejected": [user, {"role": "assistant", "content": "Lyon."}]}]
    file = tmp_path / "chat.parquet"
    pd.DataFrame(rows).to_parquet(file)
    pairs = import_trl(file)
    assert pairs.prompt.iloc[0] == "user: Capital of France?"
    assert (pairs.response_1.iloc[0], pairs.response_2.iloc[0]) == (
        "assistant: Paris.", "assistant: Lyon.")
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['better'\]"):
        import_trl(file, chosen="better")


# ---------------------------------------------------------------------------------------------
# Dispatch


def test_import_log_rejects_unknown_formats_and_options(tmp_path):
    assert set(IMPORTERS) == {"llmbar", "alpacaeval", "mtbench", "pandalm", "generic", "trl"}
    with pytest.raises(ValueError, match=r"Unknown import format 'fastchat'; allowed formats: "
                                         r"\['alpacaeval', 'generic', 'llmbar'"):
        import_log("fastchat", tmp_path)
    with pytest.raises(ValueError, match=r"Unknown option\(s\) \['subsets'\] for format "
                                         r"'llmbar'; allowed: \['subset', 'evaluator'"):
        import_log("llmbar", tmp_path, subsets="x")


# ---------------------------------------------------------------------------------------------
# Generic logs without hand conversion: recodes, drops, gzip, nested games, codings


def _log(tmp_path, name: str, records: list[dict]) -> Path:
    """Write ``records`` in the format ``name``'s suffix says (.csv[.gz], .json, .jsonl[.gz])."""
    import gzip

    path = tmp_path / name
    df = pd.DataFrame(records)
    inner = name[:-3] if name.endswith(".gz") else name
    if inner.endswith(".csv"):
        text = df.to_csv(index=False)
    elif inner.endswith(".jsonl"):
        text = df.to_json(orient="records", lines=True)
    else:
        text = json.dumps(records)
    if name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


ZERO_BASED = [{"q": f"q{i}", "a": f"a{i}", "b": f"b{i}", "winner": w}
              for i, w in enumerate([0, 1, 2, 0, 0])]


@pytest.mark.parametrize("name", ["log.csv", "log.csv.gz", "log.json", "log.jsonl",
                                  "log.jsonl.gz"])
def test_generic_reads_every_container_and_recodes_values(tmp_path, name):
    path = _log(tmp_path, name, ZERO_BASED)
    with pytest.warns(UserWarning, match=r"Column 'winner' \(winner\) holds only \['0', '1', "
                                         r"'2'\].*--map winner=0:1,1:2,2:tie"):
        naive = import_log("generic", path, prompt="q", response_1="a", response_2="b")
    assert naive.p_1.tolist() == [0.5, 1.0, 0.0, 0.5, 0.5]   # 0 read as a tie: the warning
    import warnings as w
    with w.catch_warnings():
        w.simplefilter("error")  # a recode silences the coding warning
        v = import_log("generic", path, prompt="q", response_1="a", response_2="b",
                       winner="0:1,1:2,2:tie")
    assert v.p_1.tolist() == [1.0, 0.0, 0.5, 1.0, 1.0]


def test_decision_and_label_spellings(tmp_path):
    recs = [{"prompt": "p", "response_1": "x", "response_2": "y", "order": o, "winner": w,
             "label": lab}
            for o, w, lab in [("12", "A>B", "A>B"), ("21", "A>B", "A>B"),
                              ("12", "A=B", "tie"), ("21", "B>A", "A=B"),
                              ("12", "tie", "B"), ("12", "[[B]]", "model_b")]]
    for i, r in enumerate(recs):
        r["prompt"] = f"p{i // 2}"
    v = import_generic(_log(tmp_path, "d.jsonl", recs))
    # A>B in order 21: the first shown (response_2) wins; B>A in 21: response_1 wins
    assert v.p_1.tolist() == [1.0, 0.0, 0.5, 1.0, 0.5, 0.0]
    assert v.label.tolist() == [1.0, 1.0, 0.5, 0.5, 2.0, 2.0]
    with pytest.raises(ValueError, match=r"Label column 'label' row 0 holds 'better'.*"
                                         r"--map label=better:1"):
        import_generic(_log(tmp_path, "e.jsonl", [{**recs[0], "label": "better"}]))


def test_drop_and_label_read_by_name(tmp_path):
    recs = [{"prompt": "p", "response_1": "x", "response_2": "y", "winner": "1",
             "label": "judge said so"}]
    path = _log(tmp_path, "l.csv", recs)
    with pytest.raises(ValueError, match="Label column 'label'"):
        import_generic(path)
    v = import_generic(path, drop="label")
    assert "label" not in v.columns
    with pytest.raises(ValueError, match=r"Cannot drop column\(s\) \['nope'\]"):
        import_generic(path, drop=["nope"])


def test_pair_ids_hash_model_ids_and_conflicting_repeats_fail(tmp_path):
    base = {"prompt": "p", "response_1": "same", "response_2": "text", "winner": "1"}
    pooled = [{**base, "model_1": "m1", "model_2": "m2"}, {**base, "model_1": "m3",
                                                           "model_2": "m2"}]
    v = import_generic(_log(tmp_path, "pool.jsonl", pooled))
    assert v.pair_id.nunique() == 2          # same texts, other models: two pairs
    repeat = import_generic(_log(tmp_path, "rep.jsonl", [base, base]))
    assert repeat.pair_id.nunique() == 2 and repeat.pair_id.iloc[1].endswith("#2")
    conflict = [{**base, "label": 1}, {**base, "label": 2}]
    with pytest.raises(ValueError, match=r"rows 0 and 1 are the same pair .* conflicting labels"
                                         r" 1 and 2.*--map pair_id=COLUMN"):
        import_generic(_log(tmp_path, "conf.jsonl", conflict))


def test_nested_records_explode_into_both_orders(tmp_path):
    recs = [{"question": f"q{i}", "a": f"a{i}", "b": f"b{i}", "judge": "J",
             "games": [{"score": s1}, {"score": s2}]}
            for i, (s1, s2) in enumerate([("A>B", "B>A"), ("A>B", "A>B"), ("A=B", "B>A")])]
    path = _log(tmp_path, "arena.json", recs)
    v = import_generic(path, explode="games", prompt="question", response_1="a",
                       response_2="b", winner="score")
    assert v.order.tolist() == ["12", "21"] * 3
    assert v.p_1.tolist() == [1.0, 1.0, 1.0, 0.0, 0.5, 1.0]
    assert v.pair_id.nunique() == 3 and (v.groupby("pair_id").order.nunique() == 2).all()
    with pytest.raises(ValueError, match=r"row 0: 'question' holds str, not a list of records"):
        import_generic(path, explode="question", winner="score")


def test_cli_import_map_errors_and_atomic_output(tmp_path, capsys):
    from judgebench.cli import main

    path = _log(tmp_path, "z.csv", ZERO_BASED)
    out = tmp_path / "v.parquet"
    assert main(["import", "generic", str(path), "--out", str(out), "--map", "prompt"]) == 2
    assert "--map 'prompt': expected KEY=VALUE" in capsys.readouterr().err
    assert main(["import", "generic", str(path), "--out", str(out), "--map", "prompt=q",
                 "response_1=a", "response_2=b", "winner=0:1,1:2,2:tie"]) == 0
    assert pd.read_parquet(out).p_1.tolist() == [1.0, 0.0, 0.5, 1.0, 1.0]
    before = out.read_bytes()
    bad = _log(tmp_path, "bad.csv", [*ZERO_BASED[:2], {"q": "x", "a": "y", "b": "z",
                                                       "winner": 1, "order": "ab"}])
    assert main(["import", "generic", str(bad), "--out", str(out), "--map", "prompt=q"]) == 2
    assert out.read_bytes() == before        # a failed import writes nothing
    fresh = tmp_path / "never.parquet"
    assert main(["import", "generic", str(bad), "--out", str(fresh)]) == 2
    assert not fresh.exists()
    assert main(["import", "alpacaeval", str(path), "--out", str(fresh), "--drop", "x"]) == 2
    assert "only the generic format" in capsys.readouterr().err
