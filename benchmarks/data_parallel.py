"""Data-parallel training: seconds per epoch at world sizes 1, 2 (and 4), and scaling.

Targets: every data-parallel target discovery can build (``torch:cpu@ddp1``,
``torch:cpu@ddp2``, ``jax:cpu@shard2``, ...; :data:`benchmarks.common.DP_TARGETS`), a
world size the machine cannot run skipped (``n/a``). Workload: the digits softmax MLP
64-32, float32, full batch (compute-bound: 1437 rows per step, where two ranks can help) and
mini-batches of 32 (communication-bound: an all-reduce per 32 rows).

* ``TimeDataParallelEpoch.time_epoch``: the steady-state epoch time (``History.epoch_s``:
  the slowest rank's, from a barrier to the epoch's last all-reduce; evaluation excluded).
* ``TrackScalingEfficiency.track_efficiency``: ``T(1) / (N * T(N))`` for ``N = 2``, both
  measured interleaved in one process (3 runs each, medians): 1 is perfect strong scaling,
  0.5 means two ranks take as long as one. The baseline is the same target at world size
  1 (same processes, same collectives), so the ratio isolates the parallelism, and it
  survives a change of machine load better than two separate timings.
  ``benchmarks/report.py`` prints the same ratio from the ``time_epoch`` rows.

Worker processes start once per asv process (set-up, untimed) and are reused.
"""

from __future__ import annotations

import os
import statistics
from typing import Any, ClassVar

from benchmarks import common
from harness import parallel

WORKLOAD = "digits_mlp"
MODES = ("batch", "mb32")
DTYPE = "float32"
REPS = 3


def _runnable(target: str) -> None:
    """Skip (asv's ``NotImplementedError``) a world size larger than the CPU count."""
    info = common.INFO.get(target)
    parsed = parallel.parse_device(info.device) if info else None
    if parsed and parsed[0] == "cpu" and parsed[2] > (os.cpu_count() or 1):
        raise NotImplementedError(f"{target}: {parsed[2]} ranks on {os.cpu_count()} CPUs")


def _workload(mode: str) -> Any:
    return common.memo(
        common.MEMO, ("dp", mode), lambda: common.timing_workload(WORKLOAD, mode, DTYPE)
    )


class TimeDataParallelEpoch:
    """Steady-state seconds per epoch of a data-parallel target."""

    params: ClassVar[list[Any]] = [common.DP_TARGETS, list(MODES)]
    param_names: ClassVar[list[str]] = ["target", "mode"]
    rounds = 1
    repeat = (1, 5, 2.0)
    min_run_count = 1
    warmup_time = 0.0
    timeout = 600.0

    def __init__(self) -> None:
        self.timer = common.TrainingClock()

    def setup(self, target: str, mode: str) -> None:
        _runnable(target)
        self.runner = common.runner(target, DTYPE)
        self.workload = _workload(mode)
        # Warm-up: start the workers, compile every shape.
        self.runner.train(common.build(WORKLOAD, mode, DTYPE, epochs=1))

    def time_epoch(self, target: str, mode: str) -> None:
        h = self.runner.train(self.workload)
        self.timer.advance(h.steady_epoch_s)


def _base(target: str) -> str:
    """``torch:cpu@ddp2`` -> ``torch:cpu@ddp``."""
    return target.rstrip("0123456789")


BASES = sorted({_base(t) for t in common.DP_TARGETS})


class TrackScalingEfficiency:
    """``T(1) / (2 T(2))`` of one data-parallel scheme, measured interleaved."""

    params: ClassVar[list[Any]] = [BASES, list(MODES)]
    param_names: ClassVar[list[str]] = ["target", "mode"]
    unit = "efficiency (1 = perfect)"
    timeout = 900.0

    def setup(self, base: str, mode: str) -> None:
        self.runners = []
        for n in (1, 2):
            target = f"{base}{n}"
            _runnable(target)
            self.runners.append(common.runner(target, DTYPE))
        warm = common.build(WORKLOAD, mode, DTYPE, epochs=1)
        for r in self.runners:
            r.train(warm)
        self.workload = _workload(mode)

    def track_efficiency(self, base: str, mode: str) -> float:
        times: list[list[float]] = [[], []]
        for _ in range(REPS):
            for i, r in enumerate(self.runners):
                times[i].append(r.train(self.workload).steady_epoch_s)
        t1, t2 = (statistics.median(t) for t in times)
        return t1 / (2 * t2)
