import os
import stat

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from judgebench.judges import SimulatedJudge
from judgebench.verdicts import (
    SchemaError,
    label_to_p1,
    load_pairs,
    load_table,
    load_verdicts,
    paired,
    save_table,
    validate_pairs,
    validate_verdicts,
)


def test_label_semantics():
    assert label_to_p1(1) == 1.0 and label_to_p1(2) == 0.0 and label_to_p1(0.5) == 0.5
    assert label_to_p1(0.3) == 0.3
    with pytest.raises(SchemaError, match="label must be"):
        label_to_p1(3)


def test_pairs_keep_metadata_and_normalise_ids(small_pairs):
    out = validate_pairs(small_pairs.assign(pair_id=range(6)))
    assert out["pair_id"].tolist() == [str(i) for i in range(6)]
    assert "topic" in out.columns


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda d: d.drop(columns=["prompt"]), r"missing column\(s\) \['prompt'\]"),
        (lambda d: d.assign(response_1=["", *d.response_1[1:]]), "response_1 is empty at row 0"),
        (lambda d: d.assign(response_2=[3, *d.response_2[1:]]), "response_2 must be a string"),
        (lambda d: d.assign(pair_id=["x"] * 6), "pair_id must be unique"),
        (lambda d: d.assign(label=[3, 1, 1, 1, 1, 1]), "label must be 1, 2, 0.5"),
        (lambda d: d.assign(label=["good", 1, 1, 1, 1, 1]), "label must be numeric"),
        (lambda d: d.iloc[:0], "empty"),
    ],
)
def test_bad_pairs_name_the_field(small_pairs, edit, match):
    with pytest.raises(SchemaError, match=match):
        validate_pairs(edit(small_pairs))


def test_verdict_validation(small_pairs):
    v = SimulatedJudge(position=0.5, seed=0).judge(small_pairs, progress=False)
    validate_verdicts(v)
    bad = v.copy()
    bad.loc[0, "p_first"] = np.nan
    with pytest.raises(SchemaError, match="failed is False"):
        validate_verdicts(bad)
    bad = v.copy()
    bad.loc[0, "p_1"] = 1 - bad.loc[0, "p_first"] + 0.1
    with pytest.raises(SchemaError, match="p_1 must equal p_first"):
        validate_verdicts(bad)
    with pytest.raises(SchemaError, match="must be unique"):
        validate_verdicts(pd.concat([v, v.iloc[:1]]))
    with pytest.raises(SchemaError, match="order must be"):
        validate_verdicts(v.assign(order="ab"))


@pytest.mark.parametrize("suffix", ["parquet", "csv", "jsonl"])
def test_roundtrip(tmp_path, small_pairs, suffix):
    v = SimulatedJudge(position=0.5, noise=0.5, seed=0).judge(small_pairs, progress=False)
    v["raw"] = [{"x": 1}] * len(v)
    path = save_table(v, tmp_path / f"v.{suffix}")
    back = validate_verdicts(load_table(path))
    assert len(back) == len(v)
    np.testing.assert_allclose(back["p_1"], v["p_1"])
    assert back["pair_id"].tolist() == v["pair_id"].tolist()


def test_failed_save_keeps_previous_file(tmp_path, small_pairs):
    path = save_table(small_pairs, tmp_path / "pairs.parquet")

    class Boom:  # a cell pyarrow cannot write
        pass

    with pytest.raises(pa.ArrowInvalid, match="Conversion failed for column prompt"):
        save_table(small_pairs.assign(prompt=[Boom()] * 6), path)
    assert load_table(path)["prompt"].tolist() == small_pairs["prompt"].tolist()
    assert [p.name for p in tmp_path.iterdir()] == ["pairs.parquet"]


def test_unknown_format(tmp_path, small_pairs):
    with pytest.raises(SchemaError, match="Cannot tell the table format"):
        save_table(small_pairs, tmp_path / "pairs.xlsx")


def test_paired_wide(small_pairs):
    v = SimulatedJudge(seed=0).judge(small_pairs, orders=("12",), progress=False)
    wide = paired(v)
    assert list(wide.columns) == ["12", "21"] and wide["21"].isna().all()


# ---------------------------------------------------------------------------------------------
# Issue 17: text columns read as text, group-readable outputs, errors that name file and fix


def test_numeric_looking_responses_load_as_text(tmp_path):
    path = tmp_path / "pairs.jsonl"
    path.write_text('{"pair_id": 1, "prompt": "2+2?", "response_1": "4", "response_2": "NA"}\n'
                    '{"pair_id": 2, "prompt": "3+3?", "response_1": 6, "response_2": "true"}\n')
    pairs = load_pairs(path)
    assert pairs["response_1"].tolist() == ["4", "6"]  # quoted or not, an answer is text
    assert pairs["response_2"].tolist() == ["NA", "true"]
    assert pairs["pair_id"].tolist() == ["1", "2"]


def test_csv_text_columns_keep_na_and_numbers(tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_text("pair_id,prompt,response_1,response_2,model_1,label\n"
                    "1,q,4,NA,,1\n2,q2,0012,null,m,NA\n")
    pairs = load_pairs(path)
    assert pairs["response_1"].tolist() == ["4", "0012"]
    assert pairs["response_2"].tolist() == ["NA", "null"]
    assert pairs["model_1"].isna().tolist() == [True, False]  # an empty metadata cell: not given
    assert pairs["label"].isna().tolist() == [False, True]  # numeric columns keep NA parsing


def test_csv_empty_response_blames_its_row_and_cause(tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_text("pair_id,prompt,response_1,response_2\n1,q,4,a\n2,q2,,b\n")
    with pytest.raises(SchemaError, match=r"pairs.csv: response_1 is empty at row 1 "
                                          r"\(pair_id='2'\).*fill in the response"):
        load_pairs(path)


def test_missing_response_is_named_missing(small_pairs):
    with pytest.raises(SchemaError, match="response_2 is missing at row 0.*fill it in"):
        validate_pairs(small_pairs.assign(response_2=[None, *small_pairs.response_2[1:]]))


@pytest.mark.parametrize("suffix", ["csv", "jsonl"])
def test_latin1_file_names_file_and_fix(tmp_path, suffix):
    path = tmp_path / f"pairs.{suffix}"
    text = ("pair_id,prompt,response_1,response_2\n1,café,a,b\n" if suffix == "csv" else
            '{"pair_id": 1, "prompt": "café", "response_1": "a", "response_2": "b"}\n')
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(ValueError, match=rf"pairs.{suffix}.*not utf-8.*Re-save it as UTF-8.*"
                                         r"--encoding latin-1"):
        load_pairs(path)
    assert load_pairs(path, encoding="latin-1")["prompt"].tolist() == ["café"]


def test_pairs_table_given_as_verdicts_says_so(tmp_path, small_pairs):
    path = save_table(small_pairs, tmp_path / "pairs.parquet")
    with pytest.raises(SchemaError, match=r"pairs.parquet: This is a pairs table.*"
                                          r"judgebench judge --judge SPEC --pairs FILE"):
        load_verdicts(path)


def test_verdicts_table_given_as_pairs_says_so(small_pairs):
    v = SimulatedJudge(seed=0).judge(small_pairs, progress=False)
    with pytest.raises(SchemaError, match=r"looks like a verdicts table.*--verdicts FILE"):
        validate_pairs(v)


def test_bad_json_line_is_named(tmp_path):
    path = tmp_path / "pairs.jsonl"
    path.write_text('{"pair_id": 1, "prompt": "q", "response_1": "a", "response_2": "b"}\n{oops\n')
    with pytest.raises(SchemaError, match=r"pairs.jsonl.*line 2 does not parse.*one JSON object"):
        load_table(path)


@pytest.mark.parametrize("suffix", ["parquet", "csv", "jsonl"])
def test_written_table_is_group_readable(tmp_path, small_pairs, suffix):
    old = os.umask(0o022)
    try:
        path = save_table(small_pairs, tmp_path / f"pairs.{suffix}")
    finally:
        os.umask(old)
    mode = stat.S_IMODE(path.stat().st_mode)
    assert mode == 0o644, oct(mode)  # 0o666 minus the umask, not mkstemp's 0o600
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left
