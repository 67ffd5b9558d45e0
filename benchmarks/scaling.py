"""Scaling: epoch time against the amount of work, per target.

Synthetic binary data (``synthetic:NxD``: N rows, D features, 80% of them for training),
the MLP 64-32, float32, full batch and mini-batches of 128.

* ``TimeScaling.time_epoch``: steady-state seconds per epoch at 1e3, 1e4 and 1e5 rows of
  30 features, and at 1e4 rows of 300 features (the wider input).
* ``TrackScalingExponent.track_exponent``: the slope ``b`` of ``log(epoch seconds) = a +
  b log(rows)`` fitted over 1e3, 1e4 and 1e5 rows (30 features), full batch: ``b`` near 0
  means fixed per-step overhead dominates, ``b`` near 1 that the arithmetic does. With
  mini-batches of 128 the step count itself grows with the rows, so ``b`` near 1 is the
  expectation there; ``benchmarks/report.py`` fits both modes from ``TimeScaling``.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from benchmarks import common
from harness import workload as workload_mod

DATASETS = (
    "synthetic:1000x30",
    "synthetic:10000x30",
    "synthetic:100000x30",
    "synthetic:10000x300",
)
FIT_DATASETS = DATASETS[:3]
"""The row sweep the exponent is fitted over (30 features)."""
MODES = ("batch", "mb128")
DTYPE = "float32"
MODEL = "mlp"


def build(dataset: str, mode: str, epochs: int) -> workload_mod.Workload:
    """The MLP on ``dataset`` in ``mode`` (float32, SGD, seed 0)."""
    kind, batch_size = common.MODES[mode]
    return workload_mod.build(
        dataset, MODEL, "sgd", mode=kind, batch_size=batch_size, epochs=epochs, dtype=DTYPE
    )


TIMED_ROWS = 10_000
"""Timed epochs of a scaling run go through at least this many training rows (and >= 2)."""


def timing_workload(dataset: str, mode: str) -> workload_mod.Workload:
    """A first (discarded) epoch plus timed epochs covering :data:`TIMED_ROWS` rows."""
    rows = len(build(dataset, mode, 1).dataset.x_train)
    return build(dataset, mode, 1 + max(2, math.ceil(TIMED_ROWS / rows)))


def fit_exponent(rows: list[int], seconds: list[float]) -> float:
    """Least-squares slope of log(seconds) against log(rows)."""
    if len(rows) < 2 or any(s <= 0 for s in seconds):
        raise ValueError(f"need two or more positive timings to fit, got {seconds}")
    slope, _ = np.polyfit(np.log(rows), np.log(seconds), 1)
    return float(slope)


class TimeScaling:
    """Steady-state seconds per epoch as the data grows."""

    params: ClassVar[list[list[str]]] = [common.TRAINING_TARGETS, list(DATASETS), list(MODES)]
    param_names: ClassVar[list[str]] = ["target", "dataset", "mode"]
    rounds = 1
    repeat = (1, 5, 3.0)
    min_run_count = 1
    warmup_time = 0.0
    timeout = 300.0

    def __init__(self) -> None:
        self.timer = common.TrainingClock()

    def setup(self, target: str, dataset: str, mode: str) -> None:
        self.runner = common.runner(target, DTYPE)

        def prepare() -> Any:
            w = timing_workload(dataset, mode)
            self.runner.train(build(dataset, mode, 1))  # warm-up: every shape
            return w

        self.workload = common.memo(common.MEMO, ("scaling", target, dataset, mode), prepare)

    def time_epoch(self, target: str, dataset: str, mode: str) -> None:
        h = self.runner.train(self.workload)
        self.timer.advance(h.steady_epoch_s)


class TrackScalingExponent:
    """The fitted exponent of epoch time in the number of training rows, full batch.

    (With mini-batches the step count grows with the rows, so the exponent is about 1 by
    construction; ``python benchmarks/report.py`` fits it from ``TimeScaling`` for both.)
    """

    params: ClassVar[list[list[str]]] = [common.TRAINING_TARGETS, ["batch"]]
    param_names: ClassVar[list[str]] = ["target", "mode"]
    timeout = 600.0

    def setup(self, target: str, mode: str) -> None:
        self.runner = common.runner(target, DTYPE)

    def track_exponent(self, target: str, mode: str) -> float:
        """Slope of log(steady epoch seconds) over log(training rows), 1e3 to 1e5 rows."""
        self.runner.train(build(FIT_DATASETS[0], mode, 1))  # warm-up
        rows, seconds = [], []
        for dataset in FIT_DATASETS:
            w = timing_workload(dataset, mode)
            rows.append(len(w.dataset.x_train))
            seconds.append(self.runner.train(w).steady_epoch_s)
        return fit_exponent(rows, seconds)

    track_exponent.unit = "exponent"  # type: ignore[attr-defined]
