"""The layered models (issue 15): ``cnn`` and ``cnn-bn`` on digits, ``gpt`` on the sonnets.

Rows: every discovered target; mini-batches of 32, float32 and float64, the training
suite's mini-batch case for each model (:data:`harness.oracles.training.LAYERED_CASES`:
optimizer and epochs), seed 0.

* ``TimeModelStep.time_step``: steady-state seconds per optimizer step (epochs after the
  first; evaluation and compilation excluded), after a one-epoch warm-up.
* ``PeakMemModel.peakmem_train``: peak resident memory after one training run.
* ``TrackModel.track_quality``: the case's quality figure (test accuracy for the cnns,
  validation loss for gpt); ``TrackModelDiff.track_max_scaled_loss_diff``: the largest
  per-step scaled loss difference against the reference target's run
  (:func:`harness.trajectory.compare`; the reference's own row is skipped).
* ``TrackEngineSpeed.track_step_ratio``: the engine's step time over PyTorch CPU eager's on
  the same workload, both single-threaded, runs interleaved in one process (issue 15's
  speed target: at most 3). ``OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python -m
  benchmarks.models`` prints the same ratios and the engine step's profile (what
  dominates), without asv (the variables pin NumPy's BLAS, the engine's, to one thread).
"""

from __future__ import annotations

import cProfile
import io
import pstats
import time
from typing import Any, ClassVar

import numpy as np

from benchmarks import common
from harness import trajectory
from harness import workload as workload_mod
from harness.oracles.training import LAYERED_CASES, TrainingCase

CASES: dict[str, TrainingCase] = {
    f"{c.dataset}_{c.model}": c for c in LAYERED_CASES if c.mode == "minibatch"
}
PARAMS = [common.TARGETS, list(CASES), list(common.DTYPES)]
PARAM_NAMES = ["target", "model", "dtype"]


def build(name: str, dtype: str, epochs: int | None = None) -> workload_mod.Workload:
    """The suite's case ``name`` in ``dtype`` (``epochs`` overrides the case's)."""
    c = CASES[name]
    return workload_mod.build(
        c.dataset, c.model, c.optimizer, mode=c.mode, epochs=epochs or c.epochs, dtype=dtype
    )


def _quality(case: TrainingCase, h: Any) -> float:
    if case.loss_bar is not None:
        return float(h.epoch_test_loss[-1])
    return float(h.epoch_test_acc[-1])


class TimeModelStep:
    """Steady-state seconds per optimizer step."""

    params: ClassVar[list[list[str]]] = PARAMS
    param_names: ClassVar[list[str]] = PARAM_NAMES
    rounds = 1
    repeat = (1, 5, 2.0)
    min_run_count = 1
    warmup_time = 0.0
    timeout = 300.0

    def __init__(self) -> None:
        self.timer = common.TrainingClock()

    def setup(self, target: str, model: str, dtype: str) -> None:
        self.runner = common.runner(target, dtype)

        def prepare() -> Any:
            self.runner.train(build(model, dtype, epochs=1))  # warm-up: every shape
            return build(model, dtype, epochs=3)

        self.workload = common.memo(common.MEMO, ("models", target, model, dtype), prepare)

    def time_step(self, target: str, model: str, dtype: str) -> None:
        h = self.runner.train(self.workload)
        self.timer.advance(common.steady_step_s(h, self.workload.steps_per_epoch))


class PeakMemModel:
    """Peak resident memory of the process after one training run."""

    params: ClassVar[list[list[str]]] = PARAMS
    param_names: ClassVar[list[str]] = PARAM_NAMES
    timeout = 300.0

    def setup(self, target: str, model: str, dtype: str) -> None:
        self.runner = common.runner(target, dtype)
        self.workload = build(model, dtype)

    def peakmem_train(self, target: str, model: str, dtype: str) -> None:
        self.runner.train(self.workload)


class _ModelRuns:
    """One training run per row, shared by the quality and reference-difference tracks."""

    params: ClassVar[list[list[str]]] = PARAMS
    param_names: ClassVar[list[str]] = PARAM_NAMES
    timeout = 600.0

    def setup_cache(self) -> dict[str, Any]:
        """Train every row once; compare each with the reference target's run."""
        cache: dict[str, Any] = {}
        for model in CASES:
            for dtype in common.DTYPES:
                runs: dict[str, Any] = {}
                for target in common.TARGETS:
                    try:
                        runs[target] = common.runner(target, dtype).train(build(model, dtype))
                    except NotImplementedError as e:
                        runs[target] = e
                ref = runs.get(common.REFERENCE) if common.REFERENCE else None
                for target, h in runs.items():
                    key = f"{target}|{model}|{dtype}"
                    if isinstance(h, Exception):
                        cache[key] = h
                        continue
                    entry: dict[str, Any] = {"quality": _quality(CASES[model], h)}
                    if target == common.REFERENCE:
                        entry["diff"] = NotImplementedError(f"{target} is the reference target")
                    elif ref is None or isinstance(ref, Exception):
                        entry["diff"] = NotImplementedError(
                            f"no reference run to compare with ({common.REFERENCE}: {ref})"
                        )
                    else:
                        entry["diff"] = trajectory.compare(ref, h, dtype).max_rel_diff
                    cache[key] = entry
        return cache

    setup_cache.timeout = 1800.0  # type: ignore[attr-defined]

    def setup(self, cache: dict[str, Any], target: str, model: str, dtype: str) -> None:
        entry = cache[f"{target}|{model}|{dtype}"]
        if isinstance(entry, Exception):
            raise entry
        self.entry = entry


class TrackModel(_ModelRuns):
    """The quality each row reaches."""

    def track_quality(self, cache: Any, target: str, model: str, dtype: str) -> float:
        """Test accuracy (cnn, cnn-bn) or validation loss (gpt) at the last epoch."""
        return float(self.entry["quality"])

    track_quality.unit = "accuracy or nats"  # type: ignore[attr-defined]


class TrackModelDiff(_ModelRuns):
    """The difference to the reference target's run (the reference's own row is skipped)."""

    def setup(self, cache: dict[str, Any], target: str, model: str, dtype: str) -> None:
        super().setup(cache, target, model, dtype)
        if isinstance(self.entry["diff"], Exception):
            raise self.entry["diff"]  # NotImplementedError: asv skips the row

    def track_max_scaled_loss_diff(self, cache: Any, target: str, model: str, dtype: str) -> float:
        """Largest per-step scaled loss difference against the reference target."""
        return float(self.entry["diff"])

    track_max_scaled_loss_diff.unit = "relative"  # type: ignore[attr-defined]


def step_ratio(model: str, dtype: str, pairs: int = 3) -> dict[str, float]:
    """Engine and PyTorch CPU eager median steady step seconds, single-threaded, runs
    interleaved (``pairs`` of each after one warm-up), and their ratio."""
    import torch
    from harness.implementations.numpy_backend import train as engine_train
    from harness.implementations.torch_backend import train as torch_train

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        w = build(model, dtype, epochs=2)
        runs: dict[str, Any] = {
            "engine": lambda: engine_train.train(w),
            "torch": lambda: torch_train.train(w, "cpu"),
        }
        for fn in runs.values():
            fn()
        times: dict[str, list[float]] = {k: [] for k in runs}
        for _ in range(pairs):
            for name, fn in runs.items():
                times[name].append(common.steady_step_s(fn(), w.steps_per_epoch))
    finally:
        torch.set_num_threads(threads)
    out = {k: float(np.median(v)) for k, v in times.items()}
    out["ratio"] = out["engine"] / out["torch"]
    return out


class TrackEngineSpeed:
    """The engine's steady step time over PyTorch CPU eager's (one thread each)."""

    params: ClassVar[list[list[str]]] = [list(CASES), list(common.DTYPES)]
    param_names: ClassVar[list[str]] = ["model", "dtype"]
    timeout = 600.0

    def track_step_ratio(self, model: str, dtype: str) -> float:
        """Engine seconds per step / torch seconds per step (target: at most 3)."""
        return step_ratio(model, dtype)["ratio"]

    track_step_ratio.unit = "ratio"  # type: ignore[attr-defined]


def _profile(model: str, dtype: str, top: int = 12) -> str:
    from harness.implementations.numpy_backend import train as engine_train

    w = build(model, dtype, epochs=1)
    prof = cProfile.Profile()
    prof.enable()
    engine_train.train(w)
    prof.disable()
    s = io.StringIO()
    pstats.Stats(prof, stream=s).sort_stats("tottime").print_stats(top)
    return s.getvalue()


def main() -> None:
    """Print each model's engine/torch step-time ratio (float32 and float64) and the top of
    the engine step's profile, with the load average and thread count."""
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    print(f"load average {' '.join(load)}; one intra-op thread each (torch.set_num_threads(1))")
    for model in CASES:
        for dtype in common.DTYPES:
            t0 = time.perf_counter()
            r = step_ratio(model, dtype)
            print(
                f"{model:16s} {dtype}: engine {r['engine'] * 1e3:7.2f} ms/step  torch "
                f"{r['torch'] * 1e3:7.2f} ms/step  ratio {r['ratio']:.2f}  "
                f"({time.perf_counter() - t0:.0f} s)"
            )
    for model in CASES:
        print(f"--- engine profile, {model} float32, one epoch (tottime) ---")
        print(_profile(model, "float32"))


if __name__ == "__main__":
    main()
