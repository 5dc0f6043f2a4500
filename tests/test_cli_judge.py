"""`judgebench judge` past --max-failures: non-zero exit, one message, the table still written."""

import importlib.util
import sys
from pathlib import Path

import pytest

from judgebench.cli import JUDGE_FAILURES_EXIT, main
from judgebench.verdicts import bundled_pairs, load_table, save_table


def _fake_server():
    name = "fake_openai_server"
    if name not in sys.modules:  # --import-mode=importlib: load the helper from its path
        path = Path(__file__).parent / "judges" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(name, path)
        sys.modules[name] = module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture
def pairs_file(tmp_path):
    path = tmp_path / "pairs.jsonl"
    save_table(bundled_pairs().head(10), path)
    return path


def _judge_args(url, pairs_file, out, *extra):
    spec = f"openai:m@{url},max_retries=1,backoff_s=0.01,timeout_s=1"
    return ["judge", "--judge", spec, "--pairs", str(pairs_file), "--out", str(out), *extra]


def test_a_dead_server_exits_non_zero_with_one_message_and_writes_the_table(
        tmp_path, pairs_file, capsys):
    out = tmp_path / "v.parquet"
    assert main(_judge_args(_fake_server().dead_url(), pairs_file, out)) == JUDGE_FAILURES_EXIT
    err = capsys.readouterr().err
    assert "20 of 20 verdicts failed (more than --max-failures 10% = 2)" in err
    assert "server unreachable" in err and "rerun the same command" in err
    v = load_table(out)
    assert len(v) == 20 and v["failed"].all()


@pytest.mark.parametrize("limit,code", [("20", 0), ("19", JUDGE_FAILURES_EXIT), ("1.0", 0),
                                        ("99%", JUDGE_FAILURES_EXIT)])
def test_max_failures_is_a_count_or_a_share(tmp_path, pairs_file, limit, code):
    srv = _fake_server()
    with srv.FakeOpenAIServer(srv.not_supported) as server:
        args = _judge_args(server.url, pairs_file, tmp_path / "v.csv", "--max-failures", limit)
        assert main(args) == code


def test_a_working_judge_exits_zero(tmp_path, pairs_file, capsys):
    srv = _fake_server()
    with srv.FakeOpenAIServer() as server:
        assert main(_judge_args(server.url, pairs_file, tmp_path / "v.csv",
                                "--max-failures", "0")) == 0
    assert "20 verdicts (0 failed)" in capsys.readouterr().out


@pytest.mark.parametrize("bad", ["-1", "1.5", "ten", "150%"])
def test_a_bad_max_failures_is_a_usage_error(tmp_path, pairs_file, bad, capsys):
    out = tmp_path / "v.csv"
    assert main(_judge_args("http://127.0.0.1:9/v1", pairs_file, out, "--max-failures",
                            bad)) == 2
    assert "--max-failures must be a count (e.g. 5) or a share" in capsys.readouterr().err
    assert not out.exists()
