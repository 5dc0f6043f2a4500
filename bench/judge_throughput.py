"""Item 1: verdicts per second of the logit-readout judge vs a generate-and-parse judge.

Both judges run on the same model, the same pairs (``bundled_pairs()``), both orders, with the
same template. The headline splits the pairs into random folds (at least ``repeats``); each
fold times both judges back to back (alternating which goes first), so every ratio is taken
under the same load. Beside each fold one large ``torch.mm`` gives this machine's matmul rate
then, and the logit judge's achieved FLOP rate is reported as a share of it:

    FLOPs = 2 * (parameters outside the embedding and LM head) * real tokens computed
          + 2 * vocab * hidden * (rows whose logits are computed: one per prompt)

counted by a hook on the model's forward (:class:`WorkCounter`): the embedding is a lookup,
not a matmul; ``logits_to_keep=1`` computes the head once per row; padding is not counted, so
it shows up as a lower share; a prefix shared by every prompt counts once, as it runs once.

A sweep then changes one setting at a time (batch size, length sorting, prefix sharing, bf16,
threads) on a fixed sample of ordered prompts; and a dose sweep shows how the generate judge's
cost grows with the number of generated tokens.
"""

from __future__ import annotations

import gc
import os
import sys
import time
from typing import Any

import numpy as np
import pandas as pd
import torch

from bench.common import matmul_gflops, spread, sync
from judgebench.judges.base import OrderedBatch
from judgebench.judges.hf import HFJudge
from judgebench.judges.hf_generate import HFGenerateJudge
from judgebench.models import load_model
from judgebench.verdicts import bundled_pairs


def log(msg: str) -> None:
    print(f"[judge] {msg}", file=sys.stderr, flush=True)


def flop_params(model: torch.nn.Module) -> dict[str, int]:
    """Parameter counts: total, input embedding, LM head, and the body between them."""
    total = sum(p.numel() for p in model.parameters())  # tied weights count once
    emb = model.get_input_embeddings().weight
    head = model.get_output_embeddings().weight
    tied = head.data_ptr() == emb.data_ptr()
    body = total - emb.numel() - (0 if tied else head.numel())
    return {"total": total, "embedding": emb.numel(), "head": head.numel(), "body": body,
            "tied": bool(tied)}


class WorkCounter:
    """Counts what the model really computes, from a hook on its forward calls.

    Real tokens are the attention-mask ones among the new positions (the shared prefix counts
    once, padding not at all); every forward call computes the LM head once per row
    (``logits_to_keep=1``, and one row per step when generating). So
    ``flops = 2 * body * tokens + 2 * head * rows`` and ``padding = 1 - tokens / positions``.
    """

    def __init__(self, model: torch.nn.Module, params: dict[str, int]):
        self.model, self.params = model, params
        self._tokens: Any = 0
        self.positions = self.rows = 0

    @property
    def tokens(self) -> int:
        """Real (unpadded) tokens fed to the model."""
        return int(self._tokens)

    def _hook(self, module, args, kwargs) -> None:
        ids = kwargs.get("input_ids", args[0] if args else None)
        if ids is None:
            return
        mask = kwargs.get("attention_mask")
        width = ids.shape[1]
        # Summed on the device and read at the end: a read here would sync a GPU every call.
        self._tokens = self._tokens + (mask[:, -width:].sum() if mask is not None
                                       else ids.numel())
        self.positions += ids.numel()
        self.rows += ids.shape[0]

    def __enter__(self) -> WorkCounter:
        self._tokens, self.positions, self.rows = 0, 0, 0
        self._handle = self.model.register_forward_pre_hook(self._hook, with_kwargs=True)
        return self

    def __exit__(self, *exc) -> None:
        self._handle.remove()

    def flops(self) -> float:
        """Matmul FLOPs of the counted forward calls."""
        return 2.0 * self.params["body"] * self.tokens + 2.0 * self.params["head"] * self.rows

    def padding(self) -> float:
        """Share of the computed positions that were padding."""
        return 1.0 - self.tokens / self.positions if self.positions else 0.0


def ordered_presentations(pairs: pd.DataFrame) -> OrderedBatch:
    """Every pair in order "12" then "21": 2 * len(pairs) ordered prompts."""
    p, r1, r2 = (pairs[c].tolist() for c in ("prompt", "response_1", "response_2"))
    return OrderedBatch(p + p, r1 + r2, r2 + r1)


#: A timed call shorter than this is repeated until this much time has passed (tiny models).
MIN_TIME_S = 1.0


def _timed(fn, device, min_time_s: float = MIN_TIME_S) -> tuple[Any, float, int]:
    """(first output, seconds per call, calls): quick calls repeat until the clock resolves them."""
    sync(device)
    t0 = time.perf_counter()
    out, calls = fn(), 1
    sync(device)
    while time.perf_counter() - t0 < min_time_s:
        fn()
        calls += 1
        sync(device)
    return out, (time.perf_counter() - t0) / calls, calls


def headline(loaded, counter: WorkCounter, pairs: pd.DataFrame, folds: int, batch_size: int,
             max_new_tokens: int, device, mm_dtype, seed: int = 0,
             min_time_s: float = MIN_TIME_S) -> dict[str, Any]:
    """Both judges on the same folds of ``pairs`` (both orders), interleaved; ratio per fold."""
    logit = HFJudge(loaded, batch_size=batch_size)
    gen = HFGenerateJudge(loaded, batch_size=batch_size, max_new_tokens=max_new_tokens)
    rows, tables = [], []
    for r, fold in enumerate(np.array_split(np.random.default_rng(seed).permutation(len(pairs)),
                                            folds)):
        sub = pairs.iloc[np.sort(fold)]
        mm = matmul_gflops(dtype=mm_dtype, device=device)
        # Alternate who goes first, so that a drift in load favours neither judge.
        order = [("logit", logit), ("generate", gen)]
        res = {}
        for name, judge in (order if r % 2 == 0 else order[::-1]):
            with counter:
                table, secs, calls = _timed(lambda j=judge, s=sub: j.judge(s, progress=False),
                                            device, min_time_s)
            res[name] = (table, secs)
            if name == "logit":
                flops, padding = counter.flops() / calls, counter.padding()
                tokens = counter.tokens / calls / len(table)
            log(f"headline {loaded.spec} fold {r}: {name} {len(table)} verdicts in {secs:.1f}s")
        lt, ls = res["logit"]
        gt, gs = res["generate"]
        # Rendering the chat template and tokenizing: the judge's work outside the model.
        prompts = ordered_presentations(sub)
        _, tok_s, _ = _timed(lambda p=prompts: [
            logit.tokenizer.encode(t, add_special_tokens=False)
            for t in logit.pairwise_prompts(p)], None, 0.2)
        rows.append({"padding_share": padding, "tokens_per_verdict": tokens, "logit_vps": len(lt) / ls, "generate_vps": len(gt) / gs,
                     "ratio": gs / ls * len(lt) / len(gt), "logit_gflops": flops / ls / 1e9,
                     "matmul_gflops": mm, "share_of_matmul": flops / ls / 1e9 / mm,
                     "tokenize_share": tok_s / ls})
        tables.append((lt, gt))
    lt = pd.concat([t[0] for t in tables])
    gt = pd.concat([t[1] for t in tables])
    both = lt.merge(gt, on=["pair_id", "order"], suffixes=("_logit", "_gen"))
    decisive = both[~both.failed_gen & (both.p_first_gen != 0.5)]
    agree = ((decisive.p_first_logit > 0.5) == (decisive.p_first_gen > 0.5)).mean()
    return {
        "n_pairs": len(pairs), "n_verdicts_per_judge": len(lt), "batch_size": batch_size,
        "max_new_tokens": max_new_tokens,
        **{k: spread([row[k] for row in rows]) for k in rows[0] if k != "tokens_per_verdict"},
        "mean_prompt_tokens": float(lt["n_tokens"].mean()),
        "logit_tokens_per_verdict": spread([row.pop("tokens_per_verdict") for row in rows]),
        "generate_failed_share": float(gt["failed"].mean()),
        "generate_mean_new_tokens": float(np.mean([r["n_generated"] for r in gt.raw if r])),
        "generate_agrees_with_logit": None if not len(decisive) else float(agree),
        "logit_p_first_mean": float(lt["p_first"].mean()),
        "example_replies": [r["reply"] for r in gt.raw[:3] if r],
    }


def sweep(loaded, loaded_bf16, params, pairs: pd.DataFrame, repeats: int,
          batch_sizes: tuple[int, ...], n_prompts: int, headline_bs: int, device, mm_dtype,
          generate_too: bool, seed: int = 0,
          min_time_s: float = MIN_TIME_S) -> list[dict[str, Any]]:
    """The logit judge over batch sizes, and with sorting, prefix sharing, bf16 or threads
    changed one at a time from the headline setting, on one fixed sample of ordered prompts."""
    everything = ordered_presentations(pairs)
    pick = np.random.default_rng(seed + 1).permutation(len(everything))
    base = {"judge": "logit", "batch_size": headline_bs, "sorted": True, "share_prefix": True,
            "dtype": "default", "threads": torch.get_num_threads()}
    configs = [dict(base, batch_size=b) for b in sorted(set(batch_sizes) | {headline_bs})]
    # Sorting only matters across batches: compare at a batch size that gives four of them.
    sort_bs = max(1, n_prompts // 4)
    if sort_bs not in batch_sizes:
        configs.append(dict(base, batch_size=sort_bs))
    configs += [dict(base, batch_size=sort_bs, sorted=False), dict(base, share_prefix=False)]
    if loaded_bf16 is not None:
        configs.append(dict(base, dtype="bfloat16"))
    if device.type == "cpu":
        other = 1 if base["threads"] > 1 else min(2, os.cpu_count() or 1)
        if other != base["threads"]:
            configs.append(dict(base, threads=other))
    if generate_too:
        configs += [dict(base, judge="generate", batch_size=b) for b in batch_sizes]
    counters = {"default": WorkCounter(loaded.model, params)}
    if loaded_bf16 is not None:
        counters["bfloat16"] = WorkCounter(loaded_bf16.model, params)
    judges, work = [], []
    for c in configs:
        m = loaded_bf16 if c["dtype"] == "bfloat16" else loaded
        if c["judge"] == "logit":
            j = HFJudge(m, batch_size=c["batch_size"], sort_by_length=c["sorted"],
                        share_prefix=c["share_prefix"])
        else:
            j = HFGenerateJudge(m, batch_size=c["batch_size"], sort_by_length=c["sorted"])
        judges.append(j)
        work.append(everything.subset(pick[:min(len(everything),
                                                max(n_prompts, c["batch_size"]))].tolist()))
    results = [dict(c, n_prompts=len(w)) for c, w in zip(configs, work)]
    samples: list[list[tuple[float, float, float, float]]] = [[] for _ in configs]
    p_ref = {}
    mm_dtypes = {"default": mm_dtype, "bfloat16": torch.bfloat16}
    for r in range(repeats):
        # The reference rate in each config's own dtype (bf16 matmuls run faster on CPUs
        # with AVX512-BF16 or AMX, and on every GPU).
        mms = {k: matmul_gflops(dtype=v, device=device) for k, v in mm_dtypes.items()
               if k == "default" or loaded_bf16 is not None}
        for i in np.random.default_rng(seed + 100 + r).permutation(len(configs)):
            j, w, c = judges[i], work[i], configs[i]
            threads = torch.get_num_threads()
            torch.set_num_threads(c["threads"])
            try:
                with counters[c["dtype"]] as counter:
                    p, secs, calls = _timed(
                        lambda j=j, w=w: j.compare(w.prompts, w.first, w.second), device,
                        min_time_s)
            finally:
                torch.set_num_threads(threads)
            samples[i].append((secs, counter.flops() / calls, mms[c["dtype"]],
                               counter.padding()))
            p_ref.setdefault(i, p)
        log(f"sweep {loaded.spec} repeat {r} done")
    ref = next(i for i, c in enumerate(configs) if c == base)
    ref_vps = np.array([results[ref]["n_prompts"] / x[0] for x in samples[ref]])
    for res, smp in zip(results, samples):
        secs, flops, mm, pad = (np.array(x) for x in zip(*smp))
        logit = res["judge"] == "logit"
        res_vps = res["n_prompts"] / secs
        res.update({"vps": spread(res_vps),
                    # Against the headline setting in the same repeat: a side-by-side ratio.
                    "speedup_vs_headline": spread(res_vps / ref_vps),
                    "gflops": spread(flops / secs / 1e9) if logit else None,
                    "share_of_matmul": spread(flops / secs / 1e9 / mm) if logit else None,
                    "padding_share": float(np.median(pad))})
    # A change that may move the numbers (bf16, prefix sharing) vs the headline setting.
    for i, res in enumerate(results):
        if res["judge"] == "logit" and res["n_prompts"] == results[ref]["n_prompts"]:
            res["max_abs_dp_vs_headline"] = float(np.nanmax(np.abs(p_ref[i] - p_ref[ref])))
    return results


def dose(loaded, pairs: pd.DataFrame, repeats: int, n_prompts: int,
         doses: tuple[int, ...], device, seed: int = 0,
         min_time_s: float = MIN_TIME_S) -> list[dict[str, Any]]:
    """Generate-judge time over max_new_tokens, as a ratio to the logit judge on the same prompts."""
    everything = ordered_presentations(pairs)
    w = everything.subset(np.random.default_rng(seed + 2).permutation(len(everything))
                          [:n_prompts].tolist())
    logit = HFJudge(loaded, batch_size=n_prompts)
    gens = {d: HFGenerateJudge(loaded, batch_size=n_prompts, max_new_tokens=d) for d in doses}
    ratios: dict[int, list[float]] = {d: [] for d in doses}
    for r in range(repeats):
        _, base, _ = _timed(lambda: logit.compare(w.prompts, w.first, w.second), device,
                            min_time_s)
        for d in doses:
            _, secs, _ = _timed(lambda d=d: gens[d].compare(w.prompts, w.first, w.second),
                                device, min_time_s)
            ratios[d].append(secs / base)
        log(f"dose {loaded.spec} repeat {r} done")
    return [{"max_new_tokens": d, "n_prompts": n_prompts, "time_ratio_vs_logit": spread(ratios[d])}
            for d in doses]


def mtbench_protocol(loaded, pairs: pd.DataFrame, repeats: int, n_prompts: int,
                     max_new_tokens: int, device, seed: int = 0,
                     min_time_s: float = MIN_TIME_S) -> dict[str, Any]:
    """MT-Bench's judge prompt (mtbench-pair-v2) both ways, on the same ordered prompts: the
    logit readout after "[[" vs FastChat's protocol (write an explanation, then "[[A]]")."""
    everything = ordered_presentations(pairs)
    w = everything.subset(np.random.default_rng(seed + 3).permutation(len(everything))
                          [:n_prompts].tolist())
    logit = HFJudge(loaded, template="mtbench-pair-v2", batch_size=n_prompts)
    gen = HFGenerateJudge(loaded, template="mtbench-pair-v2", batch_size=n_prompts,
                          max_new_tokens=max_new_tokens, explain=True)
    ratios, lvps, gvps = [], [], []
    for r in range(repeats):
        order = [("logit", logit), ("generate", gen)]
        secs = {}
        for name, judge in (order if r % 2 == 0 else order[::-1]):
            # _judge_batch is what compare() runs; it also returns the replies.
            out, secs[name], _ = _timed(lambda j=judge: j._judge_batch(w), device, min_time_s)
            if name == "generate":
                gout = out
        ratios.append(secs["generate"] / secs["logit"])
        lvps.append(n_prompts / secs["logit"])
        gvps.append(n_prompts / secs["generate"])
        log(f"mtbench {loaded.spec} repeat {r}: ratio {ratios[-1]:.1f}x")
    p_gen = np.asarray(gout.p_first, float)
    n_new = [r["n_generated"] for r in gout.raw if r]
    return {"n_prompts": n_prompts, "max_new_tokens": max_new_tokens,
            "logit_vps": spread(lvps), "generate_vps": spread(gvps), "ratio": spread(ratios),
            "generate_mean_new_tokens": float(np.mean(n_new)) if n_new else None,
            # A batch decodes until its longest reply ends: the cost follows the maximum.
            "generate_max_new_tokens": int(np.max(n_new)) if n_new else None,
            "generate_failed_share": float(np.isnan(p_gen).mean()),
            "example_reply_tail": next((r["reply"][-160:] for r in gout.raw if r), None)}


#: Work per model size and profile. "default" fits `make bench` (~15 min on 2 CPU cores);
#: "full" is the issue's whole protocol for every model (200 pairs; ~40 min here, minutes on
#: a GPU); "quick" is a smoke run. "small" = the tiny test models, "large" = anything else.
PROFILES: dict[str, dict[str, dict[str, Any]]] = {
    "quick": {
        "small": {"n_pairs": 40, "sweep_prompts": 32, "batch_sizes": (1, 4, 16, 64),
                  "dose_prompts": 8, "doses": (1, 8), "min_time_s": 0.2,
                  "mtbench_prompts": 8, "mtbench_tokens": 64},
        "large": {"n_pairs": 12, "sweep_prompts": 8, "batch_sizes": (1, 8),
                  "dose_prompts": 4, "doses": (1, 8), "min_time_s": 0.2,
                  "mtbench_prompts": 4, "mtbench_tokens": 64}},
    "default": {
        "small": {"n_pairs": 200, "sweep_prompts": 64, "batch_sizes": (1, 4, 16, 32, 64),
                  "dose_prompts": 8, "doses": (1, 8, 32), "mtbench_prompts": 16,
                  "mtbench_tokens": 256},
        "large": {"n_pairs": 96, "sweep_prompts": 16, "batch_sizes": (1, 4, 16, 32),
                  "dose_prompts": 4, "doses": (1, 8, 32), "mtbench_prompts": 16,
                  "mtbench_tokens": 256}},
    "full": {
        "small": {"n_pairs": 200, "sweep_prompts": 64, "batch_sizes": (1, 4, 16, 32, 64),
                  "dose_prompts": 8, "doses": (1, 8, 32), "mtbench_prompts": 16,
                  "mtbench_tokens": 256},
        "large": {"n_pairs": 200, "sweep_prompts": 32, "batch_sizes": (1, 4, 16, 32, 64),
                  "dose_prompts": 8, "doses": (1, 8, 32), "mtbench_prompts": 32,
                  "mtbench_tokens": 256}},
}


def settings_for(spec: str, profile: str = "default", **overrides: Any) -> dict[str, Any]:
    """The work for one model: its profile's sizes, with any non-None override applied."""
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {sorted(PROFILES)}; got {profile!r}.")
    size = "small" if spec.startswith("tiny") else "large"
    return {**PROFILES[profile][size], **{k: v for k, v in overrides.items() if v is not None}}


def run(models: tuple[str, ...] = ("tiny:0", "bundled:smollm2"), profile: str = "default",
        repeats: int = 3, headline_bs: int = 16, max_new_tokens: int = 8,
        device: str | None = None, dtype: str | None = None, bf16: bool = True,
        n_pairs: int | None = None, batch_sizes: tuple[int, ...] | None = None,
        sweep_prompts: int | None = None, threads_tiny: int | None = 1) -> dict[str, Any]:
    """Run item 1 for each model and return its results (bench/results/judge_throughput.json).

    ``threads_tiny``: torch threads while benchmarking the tiny models (None: leave as is).
    """
    all_pairs = bundled_pairs()
    out: dict[str, Any] = {"settings": {
        "profile": profile, "repeats": repeats, "headline_batch_size": headline_bs,
        "max_new_tokens": max_new_tokens, "device": device, "dtype": dtype}, "models": {}}
    for spec in models:
        cfg = settings_for(spec, profile, n_pairs=n_pairs, batch_sizes=batch_sizes,
                           sweep_prompts=sweep_prompts)
        # The same pairs for both judges of a model: a seeded sample of the bundled pairs.
        pairs = all_pairs.sample(n=min(cfg["n_pairs"], len(all_pairs)), random_state=0
                                 ).reset_index(drop=True)
        threads = torch.get_num_threads()
        if spec.startswith("tiny") and threads_tiny:
            # A 0.1M-parameter model is all per-op overhead: a second thread only adds a
            # barrier per op, which a busy core turns into a long wait (the sweep shows both).
            torch.set_num_threads(threads_tiny)
        try:
            out["models"][spec] = _one_model(spec, cfg, pairs, repeats, headline_bs,
                                             max_new_tokens, device, dtype, bf16)
        finally:
            torch.set_num_threads(threads)
        gc.collect()
    return out


def _one_model(spec: str, cfg: dict[str, Any], pairs: pd.DataFrame, repeats: int,
               headline_bs: int, max_new_tokens: int, device: str | None, dtype: str | None,
               bf16: bool) -> dict[str, Any]:
    t0 = time.perf_counter()
    loaded = load_model(spec, device=device, dtype=dtype)
    load_s = time.perf_counter() - t0
    dev = next(loaded.model.parameters()).device
    model_dtype = next(loaded.model.parameters()).dtype
    params = flop_params(loaded.model)
    # Warm-up: the first forward pages the weights in and picks kernels, and the first
    # judge() call imports what it needs; none of that is timed.
    warm = ordered_presentations(pairs.iloc[:4])
    t0 = time.perf_counter()
    HFJudge(loaded, batch_size=8).judge(pairs.iloc[:4], progress=False)
    HFGenerateJudge(loaded, batch_size=8, max_new_tokens=2).judge(pairs.iloc[:4],
                                                                  progress=False)
    warm_s = time.perf_counter() - t0
    log(f"{spec}: loaded in {load_s:.1f}s, warm-up {warm_s:.1f}s, {params['total']:,} params")
    entry: dict[str, Any] = {"settings": dict(cfg, n_pairs=len(pairs)), "load_s": load_s,
                             "warmup_s": warm_s, "params": params, "device": str(dev),
                             "dtype": str(model_dtype)}
    # Finer folds cost nothing (they partition the same pairs) and interleave the two
    # judges more often, so a burst of load on a shared machine hits fewer of them; but a fold
    # under ~32 pairs is one ragged batch per order, all padding, unlike real use.
    folds = max(repeats, min(5, len(pairs) // 32))
    mt = cfg.get("min_time_s", MIN_TIME_S)
    entry["headline"] = headline(loaded, WorkCounter(loaded.model, params), pairs, folds,
                                 headline_bs, max_new_tokens, dev, model_dtype, min_time_s=mt)
    loaded_bf16 = None
    if bf16 and model_dtype == torch.float32:
        loaded_bf16 = load_model(spec, device=str(dev), dtype="bfloat16")
        loaded_bf16.model.to(torch.bfloat16)  # tiny models are built in float32 regardless
        HFJudge(loaded_bf16, batch_size=8).compare(warm.prompts, warm.first, warm.second)
    entry["sweep"] = sweep(loaded, loaded_bf16, params, pairs, repeats, cfg["batch_sizes"],
                           cfg["sweep_prompts"], headline_bs, dev, model_dtype,
                           generate_too=spec.startswith("tiny"), min_time_s=mt)
    entry["dose"] = dose(loaded, pairs, repeats, min(cfg["dose_prompts"], 2 * len(pairs)),
                         cfg["doses"], dev, min_time_s=mt)
    entry["mtbench"] = mtbench_protocol(loaded, pairs, repeats,
                                        min(cfg["mtbench_prompts"], 2 * len(pairs)),
                                        cfg["mtbench_tokens"], dev, min_time_s=mt)
    entry["threads"] = torch.get_num_threads()
    return entry


def table(res: dict[str, Any]) -> list[str]:
    """Markdown lines summarising item 1."""
    from bench.common import fmt

    lines = ["| model | logit judge (verdicts/s) | generate judge (verdicts/s) | ratio | "
             "logit GFLOP/s | matmul GFLOP/s | share of matmul |",
             "|---|---|---|---|---|---|---|"]
    for spec, e in res["models"].items():
        h = e["headline"]
        lines.append(f"| {spec} ({e['dtype'].replace('torch.', '')}, bs {h['batch_size']}, "
                     f"{e.get('threads', '?')} threads, {h['n_pairs']} pairs x 2 orders) | "
                     f"{fmt(h['logit_vps'], 1)} | "
                     f"{fmt(h['generate_vps'], 1)} | {fmt(h['ratio'], 2, 'x')} | "
                     f"{fmt(h['logit_gflops'], 1)} | {fmt(h['matmul_gflops'], 0)} | "
                     f"{fmt(h['share_of_matmul'], 2)} |")
    lines += ["", "Sweep: one setting changed at a time from the headline's (logit judge, "
              f"batch {res['settings']['headline_batch_size']}, sorted, shared prefix), on a fixed "
              "sample of ordered prompts. 'vs headline setting' = verdicts/s over the headline "
              "setting's in the same repeat; share of the matmul rate (in the row's dtype) "
              "measured in the same repeat; padding = share of computed positions that are "
              "padding; max abs dP = largest change in P(first) vs the headline setting.", "",
              "| model | judge | batch | sorted | shared prefix | dtype | threads | prompts | "
              "verdicts/s | vs headline setting | share of matmul | padding | max abs dP |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for spec, e in res["models"].items():
        for s in e["sweep"]:
            dp = s.get("max_abs_dp_vs_headline")
            lines.append(f"| {spec} | {s['judge']} | {s['batch_size']} | {s['sorted']} | "
                         f"{s['share_prefix'] if s['judge'] == 'logit' else '-'} | "
                         f"{s['dtype']} | {s['threads']} | {s['n_prompts']} | "
                         f"{fmt(s['vps'], 1)} | {fmt(s.get('speedup_vs_headline'), 2, 'x')} | "
                         f"{fmt(s['share_of_matmul'], 2)} | "
                         f"{s['padding_share']:.1%} | {'-' if dp is None else f'{dp:.1e}'} |")
    lines += ["", "Generate-judge time / logit-judge time over generated tokens:", "",
              "| model | " + " | ".join(f"max_new_tokens={d['max_new_tokens']}"
                                       for d in next(iter(res["models"].values()))["dose"])
              + " |", "|---|" + "---|" * len(next(iter(res["models"].values()))["dose"])]
    for spec, e in res["models"].items():
        lines.append(f"| {spec} | " + " | ".join(fmt(d["time_ratio_vs_logit"], 2, "x")
                                                 for d in e["dose"]) + " |")
    rows = [(spec, e["mtbench"]) for spec, e in res["models"].items() if "mtbench" in e]
    if rows:
        lines += ["", "MT-Bench's judge prompt (mtbench-pair-v2) run both ways on the same "
                  "ordered prompts, batch = prompts: the logit readout after \"[[\" vs "
                  "FastChat's protocol (greedy explanation, then the last [[A]]/[[B]]/[[C]] "
                  "parsed; `hf-generate:...,explain=true`):", "",
                  "| model | prompts | max_new_tokens | logit (verdicts/s) | explain-then-verdict "
                  "(verdicts/s) | ratio | new tokens, mean / max | no verdict found |",
                  "|---|---|---|---|---|---|---|---|"]
        for spec, m in rows:
            lines.append(f"| {spec} | {m['n_prompts']} | {m['max_new_tokens']} | "
                         f"{fmt(m['logit_vps'], 1)} | {fmt(m['generate_vps'], 2)} | "
                         f"{fmt(m['ratio'], 1, 'x')} | {m['generate_mean_new_tokens']:.0f} / "
                         f"{m.get('generate_max_new_tokens', '-')} | "
                         f"{m['generate_failed_share']:.0%} |")
    return lines
