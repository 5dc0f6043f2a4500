"""Item 2: the full audit (position, verbosity, self-preference, agreement; 1,000 bootstrap
resamples each) on 10k, 100k and 1M simulated verdicts: time, peak memory, cost per verdict.

Timing runs are interleaved over sizes (repeat 1 of every size, then repeat 2, ...) with no
memory tracing on; one extra run per size under ``tracemalloc`` gives the peak memory the audit
allocates (numpy and pandas report their buffers to it) above what was already held. The cost
per verdict is set against one call of the SmolLM2 logit judge from item 1, so that the audit's
share of a judge-then-audit pipeline can be read off directly.
"""

from __future__ import annotations

import gc
import sys
import time
import tracemalloc
from typing import Any

from bench.common import fmt, fmt_sci, peak_rss_mb, spread
from judgebench.audit.suite import run_audit
from judgebench.judges.simulated import simulate_verdicts

#: The judge whose per-call cost the audit is compared with (item 1), then fallbacks.
REFERENCE_JUDGES = ("bundled:smollm2", "tiny:0")


def log(msg: str) -> None:
    print(f"[audit] {msg}", file=sys.stderr, flush=True)


def judge_seconds_per_verdict(judge_result: dict[str, Any] | None) -> tuple[str | None, float | None]:
    """(model, seconds per verdict) of the logit judge in item 1's results, if there are any."""
    models = (judge_result or {}).get("models", {})
    for spec in REFERENCE_JUDGES:
        vps = models.get(spec, {}).get("headline", {}).get("logit_vps", {}).get("median")
        if vps:
            return spec, 1.0 / vps
    return None, None


def audit_once(verdicts, n_boot: int, seed: int) -> dict[str, Any]:
    """One full observational audit, as ``judgebench audit`` runs it on a verdict table."""
    return run_audit(verdicts=verdicts, n_boot=n_boot, seed=seed, probes=False, progress=False)


def run(sizes: tuple[int, ...] = (10_000, 100_000, 1_000_000), repeats: int = 3,
        n_boot: int = 1000, seed: int = 0,
        judge_result: dict[str, Any] | None = None) -> dict[str, Any]:
    """Time and measure the audit at each size; returns bench/results/audit_scale.json's dict."""
    tables, sim_s = {}, {}
    for n in sizes:
        t0 = time.perf_counter()
        tables[n] = simulate_verdicts(max(1, n // 2), seed=seed)  # two rows (orders) per pair
        sim_s[n] = time.perf_counter() - t0
        log(f"{len(tables[n]):,} verdicts simulated in {sim_s[n]:.1f}s")
    audit_once(tables[sizes[0]], n_boot=50, seed=seed)  # warm-up: imports, first allocations
    times: dict[int, list[float]] = {n: [] for n in sizes}
    for r in range(repeats):
        for n in sizes:
            gc.collect()
            t0 = time.perf_counter()
            res = audit_once(tables[n], n_boot, seed + r)
            times[n].append(time.perf_counter() - t0)
            log(f"repeat {r}: {n:,} verdicts in {times[n][-1]:.2f}s")
    ref_model, ref_s = judge_seconds_per_verdict(judge_result)
    rows = []
    for n in sizes:
        gc.collect()
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        audit_once(tables[n], n_boot, seed)
        peak = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()
        t = spread(times[n])
        per_verdict = [s / len(tables[n]) for s in times[n]]
        rows.append({
            "n_verdicts": len(tables[n]), "n_pairs": len(tables[n]) // 2,
            "simulate_s": sim_s[n], "audit_s": t,
            "table_mb": float(tables[n].memory_usage(deep=True).sum() / 2**20),
            "peak_traced_mb": peak / 2**20,
            "us_per_verdict": spread([1e6 * x for x in per_verdict]),
            "share_of_judge_call": (spread([x / ref_s for x in per_verdict])
                                    if ref_s else None),
        })
    return {"settings": {"sizes": list(sizes), "repeats": repeats, "n_boot": n_boot,
                         "seed": seed, "probes": False},
            "reference_judge": {"model": ref_model, "seconds_per_verdict": ref_s},
            "measures": sorted(k for k in res if k not in ("settings", "skipped")),
            "rows": rows, "process_peak_rss_mb": peak_rss_mb()}


def table(res: dict[str, Any]) -> list[str]:
    """Markdown lines summarising item 2."""
    ref = res["reference_judge"]
    share_head = (f"cost per verdict / one {ref['model']} logit-judge call"
                  if ref.get("model") else "share of a judge call")
    lines = [f"Full audit, {res['settings']['n_boot']} bootstrap resamples, no probes:", "",
             f"| verdicts | audit time (s) | µs per verdict | {share_head} | "
             "peak traced memory (MiB) | table (MiB) |", "|---|---|---|---|---|---|"]
    for r in res["rows"]:
        share = r["share_of_judge_call"]
        lines.append(f"| {r['n_verdicts']:,} | {fmt(r['audit_s'], 2)} | "
                     f"{fmt(r['us_per_verdict'], 1)} | "
                     f"{fmt_sci(share)} | {r['peak_traced_mb']:.0f} | "
                     f"{r['table_mb']:.0f} |")
    return lines
