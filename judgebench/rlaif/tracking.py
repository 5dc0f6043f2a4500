"""One experiment-tracker run per loop run: TRL's training logs and the propagation metrics.

A TRL trainer with ``report_to`` set opens its own tracker run (and restarts its step count)
each time it is built; the loop builds one per iteration, so the loop's trainers keep
``report_to="none"`` and a :class:`TrackerCallback` forwards their logs to the loop's single
tracker instead. One step axis serves the whole run: the policy's optimizer steps summed over
the iterations before (``RunDir.tracker_step``), so iteration i's propagation metrics sit at
the step where policy i was saved and its training logs follow them.

    tracker = open_tracker("tensorboard", run_dir, config_dict)   # or "wandb", "trackio"
    tracker.log({"propagation/length_drift_chars": 3.1}, step=12)
    tracker.close()

Backends are small classes registered by name in :data:`BACKENDS`; each is imported only when
asked for, and a missing package is an error that names the one to install.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from transformers import TrainerCallback


class NoTracker:
    """``report_to = "none"`` (and every process but the main one): logs nothing.

    Example:

    >>> tracker = NoTracker()
    >>> tracker.log({"propagation/gold_mean": 0.5}, step=3)      # goes nowhere
    >>> tracker.close()
    """

    def log(self, values: dict[str, float], step: int) -> None:  # noqa: D102
        pass

    def close(self) -> None:  # noqa: D102
        pass


class TensorBoardTracker(NoTracker):
    """TensorBoard event files under RUN_DIR/tracker/tensorboard (a resume appends a file).

    Example:

    >>> BACKENDS["tensorboard"]    # [run] report_to = "tensorboard"; the package to install
    (<class 'judgebench.rlaif.tracking.TensorBoardTracker'>, 'tensorboard')
    >>> tracker = open_tracker("tensorboard", Path("runs/tiny"), {})  # doctest: +SKIP
    >>> tracker.log({"propagation/gold_mean": 0.5}, step=3)     # doctest: +SKIP
    """

    def __init__(self, root: Path, config: dict[str, Any]):
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(root / "tracker" / "tensorboard"))

    def log(self, values: dict[str, float], step: int) -> None:  # noqa: D102
        for key, value in values.items():
            self.writer.add_scalar(key, value, global_step=step)
        self.writer.flush()  # a killed run keeps what it logged

    def close(self) -> None:  # noqa: D102
        self.writer.close()


class WandbTracker(NoTracker):
    """One wandb run per run directory; its id is kept in RUN_DIR/tracker/wandb_id (resume).

    Example:

    >>> BACKENDS["wandb"]          # [run] report_to = "wandb"; the package to install
    (<class 'judgebench.rlaif.tracking.WandbTracker'>, 'wandb')
    >>> tracker = open_tracker("wandb", Path("runs/tiny"), {})  # needs wandb  # doctest: +SKIP
    >>> tracker.log({"propagation/gold_mean": 0.5}, step=3)     # doctest: +SKIP
    """

    def __init__(self, root: Path, config: dict[str, Any]):
        import wandb

        id_path = root / "tracker" / "wandb_id"
        id_path.parent.mkdir(parents=True, exist_ok=True)
        if not id_path.exists():
            id_path.write_text(wandb.util.generate_id())
        self.run = wandb.init(name=root.name, id=id_path.read_text().strip(), resume="allow",
                              config=config, dir=str(id_path.parent))

    def log(self, values: dict[str, float], step: int) -> None:  # noqa: D102
        self.run.log(values, step=step)

    def close(self) -> None:  # noqa: D102
        self.run.finish()


class TrackioTracker(NoTracker):
    """One trackio run (project "judgebench", named after the run directory), resumed.

    Example:

    >>> BACKENDS["trackio"]        # [run] report_to = "trackio"; the package to install
    (<class 'judgebench.rlaif.tracking.TrackioTracker'>, 'trackio')
    >>> tracker = open_tracker("trackio", Path("runs/tiny"), {})  # needs trackio  # doctest: +SKIP
    >>> tracker.log({"propagation/gold_mean": 0.5}, step=3)     # doctest: +SKIP
    """

    def __init__(self, root: Path, config: dict[str, Any]):
        import trackio

        self.trackio = trackio
        trackio.init(project="judgebench", name=root.name, config=config, resume="allow")

    def log(self, values: dict[str, float], step: int) -> None:  # noqa: D102
        self.trackio.log(values, step=step)

    def close(self) -> None:  # noqa: D102
        self.trackio.finish()


BACKENDS: dict[str, tuple[type, str]] = {
    "none": (NoTracker, ""),
    "tensorboard": (TensorBoardTracker, "tensorboard"),
    "wandb": (WandbTracker, "wandb"),
    "trackio": (TrackioTracker, "trackio"),
}


def open_tracker(kind: str, root: Path, config: dict[str, Any]) -> NoTracker:
    """The tracker ``kind`` ([run] report_to) for the run directory ``root``.

    Example:

    >>> type(open_tracker("none", Path("runs/tiny"), {})).__name__
    'NoTracker'
    >>> open_tracker("mlflow", Path("runs/tiny"), {})
    Traceback (most recent call last):
    ...
    ValueError: [run] report_to must be one of ['none', 'tensorboard', ...]; got 'mlflow'.
    """
    if kind not in BACKENDS:
        raise ValueError(f"[run] report_to must be one of {list(BACKENDS)}; got {kind!r}.")
    cls, package = BACKENDS[kind]
    if cls is NoTracker:
        return NoTracker()
    try:
        return cls(Path(root), config)
    except ImportError as err:
        raise ImportError(f"[run] report_to = {kind!r} needs the {package!r} package: pip "
                          f"install {package} (or set report_to = 'none'). {err}") from None


def require(kind: str) -> None:
    """Raise before a run starts if tracker ``kind``'s package is not installed.

    Example:

    >>> require("none")                                    # nothing to install
    """
    import importlib.util

    package = BACKENDS.get(kind, (None, ""))[1]
    if package and importlib.util.find_spec(package) is None:
        raise ImportError(f"[run] report_to = {kind!r} needs the {package!r} package: pip "
                          f"install {package} (or set report_to = 'none'). Nothing was run.")


def scalars(row: dict[str, Any], prefix: str) -> dict[str, float]:
    """The finite numbers of a metrics row as tracker scalars ``prefix + key`` (bools as 0/1).

    Example:

    >>> scalars({"gold_mean": 0.5, "evaluated": True, "position_channel": "none",
    ...          "gold_change": float("nan")}, "propagation/")
    {'propagation/gold_mean': 0.5, 'propagation/evaluated': 1.0}
    """
    out = {}
    for key, value in row.items():
        if isinstance(value, bool):
            value = float(value)
        if isinstance(value, int | float) and math.isfinite(value):
            out[prefix + key] = float(value)
    return out


class TrackerCallback(TrainerCallback):
    """Forward a TRL trainer's logs to the loop's tracker at ``offset + global_step``.

    Example:

    >>> from types import SimpleNamespace
    >>> class Printer(NoTracker):
    ...     def log(self, values, step):
    ...         print(step, values)
    >>> cb = TrackerCallback(Printer(), "train/", offset=10)
    >>> cb.on_log(None, SimpleNamespace(is_world_process_zero=True, global_step=2), None,
    ...           logs={"loss": 0.69})
    12 {'train/loss': 0.69}
    """

    def __init__(self, tracker: NoTracker, prefix: str, offset: int, fixed_step: bool = False):
        self.tracker, self.prefix, self.offset = tracker, prefix, offset
        self.fixed_step = fixed_step  # the reward model logs at the iteration's own step

    def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: D102
        if state.is_world_process_zero and logs:
            step = self.offset + (0 if self.fixed_step else state.global_step)
            self.tracker.log(scalars(logs, self.prefix), step=step)
