"""The small-tensor cases of the per-op overhead benchmarks (asv and pytest-benchmark).

Kept apart from :mod:`benchmarks.ops` so that the pytest-benchmark micro-benchmarks can use
them without importing :mod:`benchmarks.common` (which discovers targets in a subprocess).
"""

from __future__ import annotations

import numpy as np

from harness import catalog

OPS = (
    "add",
    "mul",
    "exp",
    "tanh",
    "relu",
    "sum",
    "matmul",
    "linear",
    "softmax",
    "cross_entropy",
)
"""The common ops of the learning path (elementwise, reduction, linear algebra, loss)."""

N = 16
"""Side of the small tensors: 16 x 16 (256 elements)."""

SHAPES: dict[str, list[tuple[int, ...]]] = {
    "add": [(N, N), (N, N)],
    "mul": [(N, N), (N, N)],
    "exp": [(N, N)],
    "tanh": [(N, N)],
    "relu": [(N, N)],
    "sum": [(N, N)],
    "matmul": [(N, N), (N, N)],
    "linear": [(N, N), (N // 2, N), (N // 2,)],
    "softmax": [(N, N)],
    "cross_entropy": [(N, 10), (N,)],
}


def inputs(name: str, dtype: str, seed: int = 0) -> list[np.ndarray]:
    """Seeded inputs of op ``name`` inside its catalog domains (labels for index args)."""
    spec = catalog.get(name)
    rng = np.random.default_rng([seed, 7])
    out = []
    for arg, shape in zip(spec.args, SHAPES[name], strict=True):
        if arg.kind == "index":
            classes = SHAPES[name][0][-1]
            out.append(rng.integers(0, classes, size=shape, dtype=np.int64))
        else:
            lo, hi = arg.domain
            out.append(rng.uniform(lo, hi, size=shape).astype(dtype))
    return out
