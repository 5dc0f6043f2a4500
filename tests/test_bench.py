"""The benchmark's bookkeeping (no timings are asserted: speed claims live in bench/)."""

import pytest

from bench.common import fmt, matmul_gflops, spread
from bench.judge_throughput import WorkCounter, flop_params, settings_for
from bench.run import parse_args, summary
from judgebench.judges.base import OrderedBatch
from judgebench.judges.hf import HFJudge
from judgebench.models import load_model


def test_spread_is_median_and_quartiles():
    s = spread([4.0, 1.0, 3.0, 2.0, float("nan")])
    assert (s["median"], s["q1"], s["q3"], s["n"]) == (2.5, 1.75, 3.25, 4)
    assert s["iqr"] == pytest.approx(1.5)
    assert fmt(s, 1, "x") == "2.5x [1.8, 3.2]"
    assert spread([])["median"] is None and fmt(spread([])) == "-"


def test_matmul_rate_is_positive():
    assert matmul_gflops(n=64, min_time_s=0.01) > 0


def test_work_counter_counts_real_tokens_and_padding():
    tiny = load_model("tiny:0")
    params = flop_params(tiny.model)
    # Tied embeddings: the head is the embedding, counted once; the body is the rest.
    assert params["tied"] and params["body"] == params["total"] - params["embedding"]
    judge = HFJudge(tiny, batch_size=2, share_prefix=False)
    prompts, first, second = ["q", "a longer question here"], ["a", "b " * 30], ["c", "d"]
    lengths = [len(tiny.tokenizer.encode(t, add_special_tokens=False))
               for t in judge.pairwise_prompts(
                   OrderedBatch(prompts, first, second))]
    with WorkCounter(tiny.model, params) as counter:
        judge.compare(prompts, first, second)
    assert counter.tokens == sum(lengths) and counter.rows == 2
    assert counter.positions == 2 * max(lengths)
    assert counter.padding() == pytest.approx(1 - sum(lengths) / (2 * max(lengths)))
    assert counter.flops() == 2 * params["body"] * sum(lengths) + 2 * params["head"] * 2
    # With the shared prefix, the prefix is counted once and cut from both rows.
    with WorkCounter(tiny.model, params) as shared:
        HFJudge(tiny, batch_size=2).compare(prompts, first, second)
    assert shared.rows == 3 and shared.tokens < counter.tokens


def test_settings_profiles():
    assert settings_for("tiny:0")["n_pairs"] == 200
    assert settings_for("bundled:smollm2", "full")["n_pairs"] == 200
    assert settings_for("bundled:smollm2", n_pairs=7)["n_pairs"] == 7
    with pytest.raises(ValueError, match="profile must be one of"):
        settings_for("tiny:0", "huge")


def test_cli_checks_and_quick_prefix(tmp_path):
    with pytest.raises(SystemExit):
        parse_args(["--repeats", "2"])
    args = parse_args(["--quick", "--out", str(tmp_path)])
    assert args.prefix == "quick-"  # a smoke run never overwrites the committed figures
    assert "No results yet" in summary(args)
    assert parse_args([]).prefix == ""


def test_amortised_instrument_share_interpolates_between_iterations():
    from bench.loop_overhead import amortised_share

    evaluated = {"instrument_detail_s": {"instrument": 1.0, "eval_generate": 6.0,
                                         "eval_judge": 2.0}}
    skipped = {"phases_s": {"instrument": 1.0}, "iteration_s": 92.0}
    # every iteration evaluated: (1 + 8) / (92 + 8); every 4th: (1 + 2) / (92 + 2)
    assert amortised_share(evaluated, skipped, 1) == pytest.approx(9 / 100)
    assert amortised_share(evaluated, skipped, 4) == pytest.approx(3 / 94)
    assert amortised_share(evaluated, skipped, 10**9) == pytest.approx(1 / 92)
