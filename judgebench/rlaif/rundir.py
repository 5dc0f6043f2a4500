"""A run folder's bookkeeping: which steps finished, what they cost, what they left behind.

Everything the loop knows about a run between two processes is in its folder (layout in
rlaif/loop.py); this module is the one place that reads and writes that bookkeeping:

* ``state.json``: the finished ``[iteration, step]`` pairs and the config changes a resume
  accepted; ``config.toml``: the resolved config (checked against the old one on resume);
* ``iter-NNN/timing.json``: seconds per step (and the held-out parts of generate and judge);
* ``metrics.jsonl`` and ``verdicts.parquet``: rebuilt from the iterations' own files, so they
  are always the sum of what finished;
* checkpoint paths and their pruning (``[run] keep_last``), the tracker's step axis, the
  held-out evaluation schedule and the test-only kill points.

A step's seed is re-derived from (seed, iteration, step) by :func:`step_seed`: the derived
seeds are the RNG state, so nothing else needs restoring on resume.

>>> step_seed(0, 1, "generate") == step_seed(0, 1, "generate") != step_seed(0, 2, "generate")
True
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
from pathlib import Path
from typing import Any

import pandas as pd

from judgebench.io import atomic_write
from judgebench.rlaif.config import (
    LoopConfig,
    check_resume_compatible,
    dumps,
    loads,
    parse_kill_point,
)
from judgebench.verdicts import load_table, save_table


def step_seed(seed: int, iteration: int, step: str) -> int:
    """A 31-bit seed for one step of one iteration (stable across processes and resumes).

    >>> 0 <= step_seed(0, 0, "judge") < 2**31
    True
    """
    digest = hashlib.blake2b(f"{seed}:{iteration}:{step}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "little") & 0x7FFFFFFF


class RunDir:
    """The bookkeeping of one run folder: state, timing, paths, metrics, pruning.

    ``dist`` is accelerate's ``PartialState``: only the main process writes, and every
    process meets the others at its barriers, so all of them agree on what finished.

    >>> from accelerate import PartialState                              # doctest: +SKIP
    >>> run_dir = RunDir(Path("runs/tiny"), cfg, PartialState()).open()  # doctest: +SKIP
    >>> run_dir.is_done(0, "generate")                                   # doctest: +SKIP
    False
    """

    def __init__(self, root: Path, cfg: LoopConfig, dist: Any):
        self.root, self.cfg, self.dist = Path(root), cfg, dist
        self.main = dist.is_main_process
        self.kill = parse_kill_point(cfg.run.debug_kill_after) if cfg.run.debug_kill_after \
            else None
        self.state: dict[str, Any] = {"finished": [], "config_changes": []}

    def gather(self, obj: Any) -> list[Any]:
        """Every process's ``obj``, on every process, in rank order ([obj] for one process).

        The one collective the sharded steps use (generation batches, judged chunks): a
        pickled all-gather, which gloo (CPU) and NCCL both carry.

        >>> from types import SimpleNamespace
        >>> one = SimpleNamespace(is_main_process=True, num_processes=1)
        >>> RunDir(Path("runs/x"), LoopConfig(), one).gather({"rows": 3})
        [{'rows': 3}]
        """
        if self.dist.num_processes == 1:
            return [obj]
        import torch.distributed as torch_dist

        parts: list[Any] = [None] * torch_dist.get_world_size()
        torch_dist.all_gather_object(parts, obj)
        return parts

    # -- state ------------------------------------------------------------------------------

    def open(self) -> RunDir:
        """Read (or start) state.json and write config.toml; a resume's config is checked.

        The first write of a run: everything that can fail before it (config, judge, tasks,
        trainer keys) leaves no folder behind.
        """
        state_path, cfg_path = self.root / "state.json", self.root / "config.toml"
        self.dist.wait_for_everyone()
        state = json.loads(state_path.read_text()) if state_path.exists() else \
            {"finished": [], "config_changes": []}
        if self.main:
            self.root.mkdir(parents=True, exist_ok=True)
            if cfg_path.exists() and state["finished"]:
                changed = check_resume_compatible(loads(cfg_path.read_text(), str(cfg_path)),
                                                  self.cfg)
                if changed:
                    state["config_changes"].append({"after": state["finished"][-1],
                                                    "changed": changed})
            atomic_write(cfg_path, dumps(self.cfg))
            atomic_write(state_path, json.dumps(state, indent=1))
        self.dist.wait_for_everyone()
        self.state = state
        return self

    def is_done(self, i: int, step: str) -> bool:
        """Whether ``step`` of iteration ``i`` finished in this or an earlier process."""
        return [i, step] in self.state["finished"]

    def finish(self, i: int, step: str, seconds: float) -> None:
        """Record a finished step (after its outputs are on disk), then maybe the test kill."""
        if self.main:
            self.add_timing(i, step, seconds)
            self.state["finished"].append([i, step])
            atomic_write(self.root / "state.json", json.dumps(self.state, indent=1))
        else:
            self.state["finished"].append([i, step])
        self.dist.wait_for_everyone()
        self.maybe_kill(i, step, mid=False)

    def maybe_kill(self, i: int, step: str, mid: bool) -> None:
        """TEST ONLY ([run] debug_kill_after): die like a preempted job, no cleanup at all."""
        if self.kill == (i, step, mid):
            os.kill(os.getpid(), signal.SIGKILL)

    def add_timing(self, i: int, key: str, seconds: float) -> None:
        """Set ``key`` in iter-NNN/timing.json (a step's seconds, or a held-out part of one)."""
        path = self.iter_dir(i) / "timing.json"
        timing = json.loads(path.read_text()) if path.exists() else {}
        timing[key] = seconds
        atomic_write(path, json.dumps(timing))

    # -- paths ------------------------------------------------------------------------------

    def evaluates(self, i: int) -> bool:
        """Whether iteration ``i`` runs the held-out evaluation ([instrument] eval_every)."""
        return i == 0 or i == self.cfg.run.n_iterations or i % self.cfg.instrument.eval_every == 0

    def iter_dir(self, i: int) -> Path:
        """RUN_DIR/iter-NNN (created on first use)."""
        path = self.root / f"iter-{i:03d}"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def checkpoint_dir(self, i: int) -> Path:
        """RUN_DIR/checkpoints/iter-NNN: policy i, the reward model and trainer files of update i."""
        return self.root / "checkpoints" / f"iter-{i:03d}"

    def policy_dir(self, i: int) -> Path:
        """The checkpoint of the policy measured at iteration ``i`` (weights or an adapter)."""
        return self.checkpoint_dir(i) / "policy"

    # -- what follows the steps -----------------------------------------------------------------

    def tracker_step(self, i: int) -> int:
        """The tracker's step at the start of iteration ``i``: policy optimizer steps before it."""
        total = 0
        for j in range(i):
            path = self.iter_dir(j) / "train_stats.json"
            if path.exists():
                total += int(json.loads(path.read_text()).get("train_steps") or 0)
        return total

    def prune_checkpoints(self, newest: int) -> list[int]:
        """Delete checkpoints/iter-j for 0 < j <= newest - keep_last; returns the j deleted.

        Called only once policy ``newest`` is saved and its training step recorded. From then
        on the unfinished steps read policy ``newest`` (generate, train and a "previous"
        reference) and policy 0 (the LoRA base, the "initial" reference, the reward-model
        backbone), never an older one, so any keep_last >= 1 leaves a resume all it needs.
        """
        gone = []
        for j in range(1, newest - self.cfg.run.keep_last + 1):
            path = self.checkpoint_dir(j)
            if path.exists():
                shutil.rmtree(path)
                gone.append(j)
        return gone

    def write_verdicts(self) -> None:
        """Rebuild RUN_DIR/verdicts.parquet from every iteration's verdicts_*.parquet."""
        files = sorted(self.root.glob("iter-*/verdicts_*.parquet"))
        if files:
            save_table(pd.concat([load_table(f) for f in files], ignore_index=True),
                       self.root / "verdicts.parquet")

    def write_metrics(self) -> None:
        """Rebuild metrics.jsonl from every complete iteration (idempotent, atomic)."""
        if not self.main:
            return
        rows = []
        for i in range(self.cfg.run.n_iterations + 1):
            last = i == self.cfg.run.n_iterations
            if not (self.is_done(i, "instrument") and (last or self.is_done(i, "train"))):
                break
            d = self.iter_dir(i)
            row = json.loads((d / "metrics.json").read_text())
            if (d / "train_stats.json").exists():
                row.update(json.loads((d / "train_stats.json").read_text()))
            t = json.loads((d / "timing.json").read_text())
            # Held-out generation and judging are instrumentation, whichever step ran them.
            eval_t = t.get("eval_generate", 0.0) + t.get("eval_judge", 0.0)
            row.update({
                "time_generate_s": t.get("generate", 0.0) - t.get("eval_generate", 0.0),
                "time_judge_s": t.get("judge", 0.0) - t.get("eval_judge", 0.0),
                "time_train_s": t.get("train", 0.0),
                "time_instrument_s": t.get("instrument", 0.0) + eval_t,
            })
            rows.append(row)
        atomic_write(self.root / "metrics.jsonl",
                     "".join(json.dumps(r, allow_nan=False) + "\n" for r in rows))

    def read_metrics(self) -> list[dict[str, Any]]:
        """The rows of metrics.jsonl (every process, once the main one has written them)."""
        path = self.root / "metrics.jsonl"
        self.dist.wait_for_everyone()
        return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
