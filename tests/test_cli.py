import json

import pytest

from judgebench.cli import main
from judgebench.verdicts import bundled_pairs, load_table, save_table, validate_verdicts


@pytest.fixture
def pairs_file(tmp_path):
    path = tmp_path / "pairs.jsonl"
    save_table(bundled_pairs().head(20), path)
    return path


def test_judge_command_writes_verdicts(tmp_path, pairs_file, capsys):
    out = tmp_path / "v.parquet"
    assert main(["judge", "--judge", "simulated:position=1.0,seed=0", "--pairs",
                 str(pairs_file), "--out", str(out)]) == 0
    v = validate_verdicts(load_table(out))
    assert len(v) == 40 and set(v.order) == {"12", "21"}
    assert "40 verdicts (0 failed)" in capsys.readouterr().out


def test_judge_command_uses_cache(tmp_path, pairs_file):
    out = tmp_path / "v.parquet"
    args = ["judge", "--judge", "tiny:0", "--pairs", str(pairs_file), "--out", str(out)]
    assert main(args) == 0
    cache = tmp_path / ".judgebench-cache.sqlite"
    assert cache.exists()
    from judgebench.judges.cache import VerdictCache

    assert len(VerdictCache(cache)) == 40


def test_bad_spec_is_a_clear_error(tmp_path, pairs_file, capsys):
    out = tmp_path / "v.parquet"
    code = main(["judge", "--judge", "simulated:bias=1", "--pairs", str(pairs_file),
                 "--out", str(out)])
    assert code == 2
    assert "Unknown key 'bias'" in capsys.readouterr().err
    assert not out.exists()


def test_bad_pairs_file_keeps_existing_output(tmp_path, capsys):
    out = tmp_path / "v.csv"
    out.write_text("keep me\n")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"pair_id": 1, "prompt": "q", "response_1": "", "response_2": "b"}))
    assert main(["judge", "--judge", "simulated", "--pairs", str(bad), "--out", str(out)]) == 2
    assert "response_1 is empty" in capsys.readouterr().err
    assert out.read_text() == "keep me\n"


def test_import_command_llmbar(tmp_path, realdata, capsys):
    out = tmp_path / "llmbar.parquet"
    assert main(["import", "llmbar", str(realdata / "llmbar"), "--out", str(out),
                 "--map", "subset=LLMBar/Natural", "evaluator=GPT-4", "strategy=Vanilla"]) == 0
    v = validate_verdicts(load_table(out))
    assert len(v) == 200 and v.pair_id.nunique() == 100
    assert "200 verdict rows" in capsys.readouterr().out


def test_import_command_trl_writes_pairs(tmp_path, capsys):
    src = tmp_path / "prefs.jsonl"
    src.write_text(json.dumps({"prompt": "q", "chosen": "good", "rejected": "bad"}) + "\n")
    out = tmp_path / "pairs.parquet"
    assert main(["import", "trl", str(src), "--out", str(out)]) == 0
    assert "Imported 1 pairs" in capsys.readouterr().out
    assert load_table(out).label.tolist() == [1]


def test_import_unknown_format(tmp_path, capsys):
    assert main(["import", "nope", str(tmp_path), "--out", str(tmp_path / "x.csv")]) == 2
    assert "nope" in capsys.readouterr().err
