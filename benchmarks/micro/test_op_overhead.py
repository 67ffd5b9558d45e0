"""Per-op overhead of small tensors (16 x 16), per target: forward, and forward + backward.

``test_forward``: the op from ``Backend.ops()`` on arrays already on the device, then
``Backend.sync``. ``test_vjp``: ``Backend.vjp`` from NumPy inputs to NumPy gradients.
The same cases as the asv ``ops`` benchmarks (:mod:`benchmarks.opcases`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from benchmarks.opcases import OPS, inputs
from harness import catalog

DTYPE = "float32"


def _op(target: Any, op: str) -> Any:
    if DTYPE not in target.backend.capabilities.dtypes:
        pytest.skip(f"{target.name} does not support {DTYPE}")
    table = target.backend.ops()
    if op not in table:
        pytest.skip(f"{target.name} does not support {op}")
    return table[op]


@pytest.mark.parametrize("op", OPS)
def test_forward(benchmark: Any, target: Any, op: str) -> None:
    fn = _op(target, op)
    b, dev = target.backend, target.device
    xs = [b.asarray(x, dev) for x in inputs(op, DTYPE)]

    def forward() -> Any:
        out = fn(*xs)
        b.sync(dev)
        return out

    out = benchmark(forward)
    assert np.all(np.isfinite(b.to_numpy(out)))


@pytest.mark.parametrize("op", OPS)
def test_vjp(benchmark: Any, target: Any, op: str) -> None:
    fn = _op(target, op)
    b, dev = target.backend, target.device
    primals = inputs(op, DTYPE)
    argnums = list(catalog.get(op).diff_argnums)
    out = b.to_numpy(fn(*[b.asarray(x, dev) for x in primals]))
    cotangent = np.ones(out.shape, dtype=DTYPE)

    value, grads = benchmark(b.vjp, fn, primals, cotangent, device=dev, argnums=argnums)
    np.testing.assert_allclose(value, catalog.reference(op, *primals), rtol=1e-4, atol=1e-5)
    assert [g.shape for g in grads] == [primals[i].shape for i in argnums]
