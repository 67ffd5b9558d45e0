"""Per-op overhead: forward, and forward plus backward, of small tensors, per target.

On breast-cancer-sized work a training step costs what its ops' dispatch costs, not their
arithmetic; these rows show that cost op by op.

* ``TimeOpForward.time_forward``: the op from :meth:`Backend.ops` on arrays already on the
  device, then :meth:`Backend.sync` (the framework's own dispatch and kernel).
* ``TimeOpVJP.time_vjp``: :meth:`Backend.vjp` from NumPy inputs to NumPy gradients (the cost
  a parity check pays per call: transfer, forward, backward, transfer back).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from benchmarks import common
from benchmarks.opcases import OPS, inputs
from harness import catalog


def _prepare(target: str, op: str, dtype: str) -> tuple[Any, ...]:
    """Backend, device, op function, argnums, NumPy primals, device arrays, cotangent;
    one forward and one VJP already run (warm-up).
    """
    backend, device = common.backend_for(target)
    table = backend.ops()
    if op not in table:
        reason = backend.unsupported_reasons().get(op, "not in Backend.ops()")
        raise NotImplementedError(f"{target} does not support {op}: {reason}")
    fn = table[op]
    argnums = list(catalog.get(op).diff_argnums)
    primals = inputs(op, dtype)
    xs = [backend.asarray(p, device) for p in primals]
    out = fn(*xs)
    backend.sync(device)
    cotangent = np.ones(np.shape(backend.to_numpy(out)), dtype=dtype)
    backend.vjp(fn, primals, cotangent, device=device, argnums=argnums)
    return backend, device, fn, argnums, primals, xs, cotangent


class _OpBench:
    params: ClassVar[list[list[str]]] = [common.TARGETS, list(OPS), list(common.DTYPES)]
    param_names: ClassVar[list[str]] = ["target", "op", "dtype"]
    rounds = 1
    number = 20
    """Calls per sample: asv re-runs (the memoised) ``setup`` before each, out of the timing."""
    repeat = (3, 10, 0.5)
    warmup_time = 0.0
    timeout = 120.0

    def setup(self, target: str, op: str, dtype: str) -> None:
        info = common.INFO.get(target)
        if info is not None and info.available and dtype not in info.dtypes:
            raise NotImplementedError(f"{target} does not support {dtype}")
        (
            self.backend,
            self.device,
            self.fn,
            self.argnums,
            self.primals,
            self.xs,
            self.cotangent,
        ) = common.memo(common.MEMO, ("op", target, op, dtype), lambda: _prepare(target, op, dtype))


class TimeOpForward(_OpBench):
    """Seconds per forward call of one op on resident arrays (device synchronised)."""

    def time_forward(self, target: str, op: str, dtype: str) -> None:
        self.fn(*self.xs)
        self.backend.sync(self.device)


class TimeOpVJP(_OpBench):
    """Seconds per :meth:`Backend.vjp` call (NumPy in, value and gradients out)."""

    def time_vjp(self, target: str, op: str, dtype: str) -> None:
        self.backend.vjp(
            self.fn, self.primals, self.cotangent, device=self.device, argnums=self.argnums
        )
