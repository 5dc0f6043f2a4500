import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from judgebench.judges import SimulatedJudge
from judgebench.verdicts import (
    SchemaError,
    label_to_p1,
    load_table,
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
