"""Training on the learning-path workloads, per target, mode and dtype.

Rows: the floor and every discovered target. Workloads: breast-cancer logistic regression
(``bc_logreg``) and MLP 64-32 (``bc_mlp``), digits softmax MLP 64-32 (``digits_mlp``), all
plain SGD (lr 0.1) from the seeded initial parameters in the seeded batch order. Modes: full
batch (``batch``), mini-batches of 32 (``mb32``) and 128 (``mb128``). Dtypes: float32, float64.

* ``TimeEpoch.time_epoch`` / ``TimeStep.time_step``: steady-state seconds per epoch and per
  optimizer step (mini-batch modes; a full-batch step is an epoch), read from
  :attr:`History.epoch_s` through :class:`common.TrainingClock` (epochs after the first,
  each ending with a device sync; evaluation and compilation excluded). ``setup`` warms up
  with a one-epoch run of the same workload (JIT, lazy initialisation); each sample is one
  :meth:`Backend.train` call.
* ``PeakMemTrain.peakmem_train``: the process' peak resident memory after a training run.
* ``TrackConvergence.track_*``: final training loss, test accuracy, epochs and seconds to
  reach a target loss (the median over three seeds).
* ``TrackReferenceDiff.track_*``: the largest per-step loss difference against the reference
  target (:func:`harness.trajectory.compare`), absolute and scaled.
* ``TrackFloorRatio.track_epoch_ratio``: a target's steady-state epoch time over the
  floor's, both measured in the same process, runs interleaved (breast-cancer logistic
  regression, full batch and mini-batch 32): the overhead figure that survives a change of
  machine or load, tracked commit after commit.
* ``TrackCompile.track_compile_s``: compilation seconds of a first run in a fresh process,
  for targets that declare ``Capabilities.compiled``.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from benchmarks import common
from harness import runner, trajectory

PARAMS = [common.TRAINING_TARGETS, list(common.WORKLOADS), list(common.MODES), list(common.DTYPES)]
PARAM_NAMES = ["target", "workload", "mode", "dtype"]

CONVERGENCE_EPOCHS = {"batch": 100, "mb128": 30, "mb32": 10}
"""Length of the convergence runs per mode (full batch needs many more epochs)."""

TARGET_LOSS = {"bc_logreg": 0.12, "bc_mlp": 0.1, "digits_mlp": 0.8}
"""Training loss to reach, per workload. Chosen so that every mode reaches it within its
convergence run for seeds 0-2 (measured with the floor, float32 and float64 alike: full
batch epochs 63-73 of 100 for bc_logreg, 77-91 for bc_mlp, 75-82 for digits_mlp; mb128 at
most epoch 18, 23 and 7 of 30; mb32 at most 5, 7 and 2 of 10).
"""


class _Timed:
    """Shared set-up of the timing benchmarks: one warm run, then one run per sample."""

    params: ClassVar[list[list[str]]] = PARAMS
    param_names: ClassVar[list[str]] = PARAM_NAMES
    rounds = 1
    repeat = (1, 10, 2.0)
    """At least one sample, at most ten, and no new sample after two seconds."""
    min_run_count = 1
    warmup_time = 0.0
    timeout = 300.0

    def __init__(self) -> None:
        # One clock per benchmark instance: asv binds the timer once, before the samples.
        self.timer = common.TrainingClock()

    def setup(self, target: str, wl: str, mode: str, dtype: str) -> None:
        self.runner = common.runner(target, dtype)

        def prepare() -> Any:
            w = common.timing_workload(wl, mode, dtype)
            self.runner.train(common.build(wl, mode, dtype, epochs=1))  # warm-up: every shape
            return w

        self.workload = common.memo(common.MEMO, ("timing", target, wl, mode, dtype), prepare)


class TimeEpoch(_Timed):
    """Steady-state seconds per training epoch."""

    def time_epoch(self, target: str, wl: str, mode: str, dtype: str) -> None:
        h = self.runner.train(self.workload)
        self.timer.advance(h.steady_epoch_s)


class TimeStep(_Timed):
    """Steady-state seconds per optimizer step (epoch time over steps per epoch).

    Full batch is skipped: one step per epoch, so its step time is ``TimeEpoch``'s row.
    """

    def setup(self, target: str, wl: str, mode: str, dtype: str) -> None:
        if common.MODES[mode][0] == "batch":
            raise NotImplementedError("full batch: one step per epoch, see TimeEpoch.time_epoch")
        super().setup(target, wl, mode, dtype)

    def time_step(self, target: str, wl: str, mode: str, dtype: str) -> None:
        h = self.runner.train(self.workload)
        self.timer.advance(common.steady_step_s(h, self.workload.steps_per_epoch))


class PeakMemTrain:
    """Peak resident memory of the process after one training run."""

    params: ClassVar[list[list[str]]] = PARAMS
    param_names: ClassVar[list[str]] = PARAM_NAMES
    timeout = 300.0

    def setup(self, target: str, wl: str, mode: str, dtype: str) -> None:
        self.runner = common.runner(target, dtype)
        self.workload = common.timing_workload(wl, mode, dtype)

    def peakmem_train(self, target: str, wl: str, mode: str, dtype: str) -> None:
        self.runner.train(self.workload)


def _converge(target: str) -> dict[tuple[str, str, str], Any]:
    """Every convergence run of one target: seed 0's history and each seed's summary."""
    out: dict[tuple[str, str, str], Any] = {}
    try:
        r = common.runner(target)
    except NotImplementedError as e:
        return {
            (wl, m, d): e for wl in common.WORKLOADS for m in common.MODES for d in common.DTYPES
        }
    for wl in common.WORKLOADS:
        for mode in common.MODES:
            for dtype in common.DTYPES:
                try:
                    r = common.runner(target, dtype)
                    runs = []
                    for seed in common.SEEDS:
                        w = common.build(
                            wl, mode, dtype, epochs=CONVERGENCE_EPOCHS[mode], seed=seed
                        )
                        runs.append(r.train(w))
                except NotImplementedError as e:
                    out[wl, mode, dtype] = e
                    continue
                except Exception as e:  # reported by the track benchmarks as a failure
                    out[wl, mode, dtype] = RuntimeError(f"{target} failed: {type(e).__name__}: {e}")
                    continue
                goal = TARGET_LOSS[wl]
                reach = [runner.first_reach(h, goal) for h in runs]
                seconds = [runner.seconds_to_reach(h, goal) for h in runs]
                out[wl, mode, dtype] = {
                    "history": runs[0],
                    "final_loss": float(runs[0].epoch_train_loss[-1]),
                    "test_acc": float(runs[0].epoch_test_acc[-1]),
                    # 1-based epoch count; a seed that never reaches the goal counts as inf.
                    "epochs_to_target": float(
                        np.median([math.inf if e is None else e + 1 for e in reach])
                    ),
                    "seconds_to_target": float(np.median(seconds)),
                }
    return out


class _Converged:
    """The convergence runs, trained once in ``setup_cache`` for every row and shared by
    the track classes below (one cache: they inherit the same ``setup_cache``).
    """

    params: ClassVar[list[list[str]]] = PARAMS
    param_names: ClassVar[list[str]] = PARAM_NAMES
    timeout = 120.0

    def setup_cache(self) -> dict[str, Any]:
        """Train every target once per seed; compare seed 0 with the reference target's."""
        runs = {t: _converge(t) for t in common.TRAINING_TARGETS}
        ref = runs.get(common.REFERENCE) if common.REFERENCE else None
        cache: dict[str, Any] = {}
        for target, per_config in runs.items():
            for (wl, mode, dtype), res in per_config.items():
                key = f"{target}|{wl}|{mode}|{dtype}"
                if isinstance(res, Exception):
                    cache[key] = res
                    continue
                entry = {k: v for k, v in res.items() if k != "history"}
                ref_res = ref.get((wl, mode, dtype)) if ref is not None else None
                if target == common.REFERENCE:
                    entry["diff"] = NotImplementedError(f"{target} is the reference target")
                elif not isinstance(ref_res, dict):
                    entry["diff"] = NotImplementedError(
                        f"no reference run to compare with ({common.REFERENCE}: {ref_res})"
                    )
                else:
                    v = trajectory.compare(ref_res["history"], res["history"], dtype)
                    entry["diff"] = {"abs": v.max_abs_diff, "rel": v.max_rel_diff}
                cache[key] = entry
        return cache

    # asv reads the set-up's own time limit from this attribute (the class' is per combination).
    setup_cache.timeout = 1800.0  # type: ignore[attr-defined]

    def setup(self, cache: dict[str, Any], target: str, wl: str, mode: str, dtype: str) -> None:
        entry = cache[f"{target}|{wl}|{mode}|{dtype}"]
        if isinstance(entry, Exception):
            raise entry
        self.entry = entry


class TrackConvergence(_Converged):
    """Quality of the convergence runs: final loss and accuracy, epochs and seconds to target."""

    def track_final_loss(self, cache: Any, target: str, wl: str, mode: str, dtype: str) -> float:
        """Training loss after the last epoch of the seed-0 convergence run."""
        return float(self.entry["final_loss"])

    track_final_loss.unit = "loss"  # type: ignore[attr-defined]

    def track_test_accuracy(self, cache: Any, target: str, wl: str, mode: str, dtype: str) -> float:
        """Test accuracy after the last epoch of the seed-0 convergence run."""
        return float(self.entry["test_acc"])

    track_test_accuracy.unit = "fraction"  # type: ignore[attr-defined]

    def track_epochs_to_target(
        self, cache: Any, target: str, wl: str, mode: str, dtype: str
    ) -> float:
        """Median over seeds of the epochs until the training loss reaches the target."""
        v = float(self.entry["epochs_to_target"])
        return v if math.isfinite(v) else math.nan

    track_epochs_to_target.unit = "epochs"  # type: ignore[attr-defined]

    def track_seconds_to_target(
        self, cache: Any, target: str, wl: str, mode: str, dtype: str
    ) -> float:
        """Median over seeds of the seconds to the target (:func:`harness.runner.seconds_to_reach`:
        steady training time, compilation excluded; ``TrackCompile`` reports it beside)."""
        v = float(self.entry["seconds_to_target"])
        return v if math.isfinite(v) else math.nan

    track_seconds_to_target.unit = "seconds"  # type: ignore[attr-defined]


class TrackReferenceDiff(_Converged):
    """Differential testing inside asv: the seed-0 run against the reference target's."""

    def setup(self, cache: dict[str, Any], target: str, wl: str, mode: str, dtype: str) -> None:
        super().setup(cache, target, wl, mode, dtype)
        if isinstance(self.entry["diff"], Exception):
            raise self.entry["diff"]  # NotImplementedError: asv skips the row

    def track_max_loss_diff(self, cache: Any, target: str, wl: str, mode: str, dtype: str) -> float:
        """Largest per-step |loss - reference loss|."""
        return float(self.entry["diff"]["abs"])

    track_max_loss_diff.unit = "loss"  # type: ignore[attr-defined]

    def track_max_scaled_loss_diff(
        self, cache: Any, target: str, wl: str, mode: str, dtype: str
    ) -> float:
        """Largest per-step scaled difference (the quantity the trajectory tolerance bounds)."""
        return float(self.entry["diff"]["rel"])

    track_max_scaled_loss_diff.unit = "relative"  # type: ignore[attr-defined]


class TrackFloorRatio:
    """Steady-state epoch time of a target divided by the floor's, measured side by side.

    Each sample alternates a floor run and a target run of the same workload (``PAIRS``
    pairs after one warm-up run of each, every run at least ``STEPS`` timed optimizer
    steps), so both see the same machine state; the value is the ratio of the two medians.
    A ratio of 1 means no framework overhead beyond hand-fused NumPy; below 1, a compiled
    epoch beats an eager Python loop.
    """

    params: ClassVar[list[list[str]]] = [
        common.TARGETS,
        ["bc_logreg"],
        ["batch", "mb32"],
        list(common.DTYPES),
    ]
    param_names: ClassVar[list[str]] = PARAM_NAMES
    timeout = 300.0
    PAIRS = 7
    STEPS = 200

    def setup(self, target: str, wl: str, mode: str, dtype: str) -> None:
        self.runner = common.runner(target, dtype)
        self.floor = common.runner(common.FLOOR, dtype)
        warm = common.build(wl, mode, dtype, epochs=1)
        epochs = common.timing_epochs(warm.steps_per_epoch, self.STEPS)
        self.workload = common.build(wl, mode, dtype, epochs=epochs)
        self.runner.train(warm)
        self.floor.train(warm)

    def track_epoch_ratio(self, target: str, wl: str, mode: str, dtype: str) -> float:
        """Median target epoch time over median floor epoch time, runs interleaved."""
        mine, floor_s = [], []
        for _ in range(self.PAIRS):
            floor_s.append(self.floor.train(self.workload).steady_epoch_s)
            mine.append(self.runner.train(self.workload).steady_epoch_s)
        return float(np.median(mine) / np.median(floor_s))

    track_epoch_ratio.unit = "ratio"  # type: ignore[attr-defined]


class TrackCompile:
    """Compilation seconds of a first training run in a fresh process (compiled targets)."""

    params: ClassVar[list[list[str]]] = [
        common.TARGETS,
        list(common.WORKLOADS),
        list(common.MODES),
        list(common.DTYPES),
    ]
    param_names: ClassVar[list[str]] = PARAM_NAMES
    timeout = 300.0

    def setup(self, target: str, wl: str, mode: str, dtype: str) -> None:
        self.runner = common.runner(target, dtype)
        if not self.runner.compiled:
            raise NotImplementedError(f"{target} is not compiled (Capabilities.compiled)")

    def track_compile_s(self, target: str, wl: str, mode: str, dtype: str) -> float:
        """``History.compile_s`` of a one-epoch run."""
        h = self.runner.train(common.build(wl, mode, dtype, epochs=1))
        if h.compile_s is None:
            raise RuntimeError(f"{target} declares Capabilities.compiled but gave no compile_s")
        return float(h.compile_s)

    track_compile_s.unit = "seconds"  # type: ignore[attr-defined]
