"""JAX's training loops side by side with the floor, in one process: the epoch-time ratios.

For each workload, mode and dtype, alternates a floor run and a run of each JAX loop
(``implementations/jax_backend/train.py``: ``scan``, one compiled call per epoch plus one
per evaluation; ``epochs``, chunks of epochs with their evaluation in one program) on the
workload :class:`benchmarks.training.TrackFloorRatio` times (at least ``STEPS`` timed
steps, ``PAIRS`` rounds after one warm-up run of each), threads pinned to one, and prints
each median steady epoch time over the floor's. It also times an empty compiled call (the
dispatch floor of one call into XLA) to say what a per-epoch call costs by itself.

    python -m benchmarks.jax_loops [--workloads bc_logreg,bc_mlp] [--modes batch,mb32]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from harness import threads

LOOPS = ("scan", "epochs")


def _empty_call_s(repeat: int = 2000) -> float:
    """Median seconds of one call of a compiled identity on a scalar, synchronised."""
    import jax
    import jax.numpy as jnp

    f = jax.jit(lambda a: a + 1).lower(jnp.float32(0)).compile()
    a = jnp.float32(0)
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        jax.block_until_ready(f(a))
        out.append(time.perf_counter() - t)
    return statistics.median(out)


def main(argv: list[str] | None = None) -> None:
    """Print one row per workload, mode and dtype: the floor's epoch and each loop's ratio."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workloads", default="bc_logreg,bc_mlp")
    ap.add_argument("--modes", default="batch,mb32")
    ap.add_argument("--dtypes", default="float32,float64")
    ap.add_argument("--pairs", type=int, default=None, help="rounds (TrackFloorRatio.PAIRS)")
    args = ap.parse_args(argv)
    threads.pin(1)  # before JAX and NumPy's BLAS start their pools

    from harness.implementations.jax_backend.train import train as jax_train

    from benchmarks import common, floor
    from benchmarks.training import TrackFloorRatio

    threads.record(1, 1, [])
    pairs = args.pairs or TrackFloorRatio.PAIRS
    print(f"loadavg before: {Path('/proc/loadavg').read_text().strip()}")
    print(f"empty compiled call (dispatch + sync): {_empty_call_s() * 1e6:.1f} us")
    print(
        f"{'workload':10} {'mode':5} {'dtype':8} {'floor us':>9} "
        + " ".join(f"{loop + ' x':>9}" for loop in LOOPS)
    )
    for wl in args.workloads.split(","):
        for mode in args.modes.split(","):
            for dtype in args.dtypes.split(","):
                warm = common.build(wl, mode, dtype, epochs=1)
                epochs = common.timing_epochs(warm.steps_per_epoch, TrackFloorRatio.STEPS)
                w = common.build(wl, mode, dtype, epochs=epochs)
                floor.train(warm)
                for loop in LOOPS:
                    jax_train(warm, "cpu", loop=loop)
                times: dict[str, list[float]] = {"floor": [], **{loop: [] for loop in LOOPS}}
                for _ in range(pairs):
                    times["floor"].append(floor.train(w).steady_epoch_s)
                    for loop in LOOPS:
                        times[loop].append(jax_train(w, "cpu", loop=loop).steady_epoch_s)
                f = statistics.median(times["floor"])
                ratios = " ".join(f"{statistics.median(times[loop]) / f:9.3f}" for loop in LOOPS)
                print(f"{wl:10} {mode:5} {dtype:8} {f * 1e6:9.1f} {ratios}", flush=True)
    print(f"loadavg after: {Path('/proc/loadavg').read_text().strip()}")


if __name__ == "__main__":
    main()
