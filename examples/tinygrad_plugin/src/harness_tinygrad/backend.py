"""tinygrad as a harness backend (started from ``harness new-backend tinygrad``).

tinygrad is lazy: an expression builds a graph that is compiled and run when realized
(``.numpy()``). Reverse mode is ``Tensor.gradient(*inputs, gradient=cotangent)`` on the
*unrealized* output (docs/plugins.md, "Lazy frameworks"). It has no forward mode: ``jvp``
is reverse-over-reverse (the gradient, in the cotangent ``c``, of ``<VJP(c), u>``), which
counts for ``jvp=True`` and is declared ``emulated=("jvp",)``, so the harness marks the
forward-against-reverse oracle, which would compare the VJP with itself, as circular.

Its CPU device compiles every kernel with ``clang`` (``--target=`` flags gcc refuses; even
its ``PYTHON`` device copies out through a CPU kernel): without clang the target is listed
unavailable with that reason (Debian: ``apt-get install clang``). Ops: the elementwise,
reduction and matmul ops of the catalog that map one-to-one onto tinygrad's; the others
are reported unsupported.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from typing import Any

import numpy as np

from harness.contract import Backend, Capabilities, DeviceStatus, OpFn, resolve_argnums


class TinygradBackend(Backend):
    """tinygrad on its CPU (or PYTHON) device: ops and reverse mode."""

    name = "tinygrad"
    capabilities = Capabilities(
        dtypes=("float32", "float64"),
        jvp=True,
        emulated=("jvp",),
        second_order=False,
        training=False,
    )

    def load(self) -> None:
        # tinygrad reads DEV when it first opens a device: set it before importing.
        os.environ.setdefault("DEV", "CPU")
        import tinygrad  # noqa: F401

    def version(self) -> str:
        from importlib.metadata import version

        return f"tinygrad {version('tinygrad')}"

    def devices(self) -> list[DeviceStatus]:
        if shutil.which(os.environ.get("CC", "clang")) is None:
            return [
                DeviceStatus(
                    "cpu",
                    False,
                    "tinygrad's CPU device compiles with clang, "
                    "which is not installed (apt-get install clang)",
                )
            ]
        return [DeviceStatus("cpu", True)]

    def asarray(self, x: np.ndarray, device: str) -> Any:
        from tinygrad import Tensor

        return Tensor(np.array(x, copy=True))

    def to_numpy(self, x: Any) -> np.ndarray:
        return np.array(x.numpy(), copy=True)

    def ops(self) -> Mapping[str, OpFn]:
        return {
            "neg": lambda x: -x,
            "exp": lambda x: x.exp(),
            "log": lambda x: x.log(),
            "sqrt": lambda x: x.sqrt(),
            "sin": lambda x: x.sin(),
            "cos": lambda x: x.cos(),
            "tanh": lambda x: x.tanh(),
            "sigmoid": lambda x: x.sigmoid(),
            "square": lambda x: x * x,
            "reciprocal": lambda x: x.reciprocal(),
            "add": lambda a, b: a + b,
            "sub": lambda a, b: a - b,
            "mul": lambda a, b: a * b,
            "div": lambda a, b: a / b,
            "matmul": lambda a, b: a @ b,
            "sum": lambda x: x.sum(),
            "sum_dim": lambda x: x.sum(axis=-1),
            "mean_dim": lambda x: x.mean(axis=-1),
            "transpose": lambda x: x.T,
        }

    def unsupported_reasons(self) -> Mapping[str, str]:
        return {"*": "not mapped in this example (only one-to-one tinygrad ops)"}

    def vjp(self, fn, primals, cotangent, *, device, argnums=None):
        from tinygrad import Tensor

        argnums = resolve_argnums(argnums, len(primals))
        xs = [self.asarray(p, device) for p in primals]
        out = fn(*xs)  # not realized: realizing first would cut the graph (all-zero grads)
        ct = Tensor(np.array(cotangent, copy=True)).cast(out.dtype)
        grads = out.gradient(*(xs[i] for i in argnums), gradient=ct) if argnums else []
        return self.to_numpy(out), [self.to_numpy(g) for g in grads]

    def jvp(self, fn, primals, tangents, *, device, argnums=None):
        from tinygrad import Tensor

        argnums = resolve_argnums(argnums, len(primals))
        xs = [self.asarray(p, device) for p in primals]
        out = fn(*xs)
        dtype = np.result_type(*(primals[i] for i in argnums))
        c = Tensor(np.zeros(tuple(out.shape), dtype=dtype))  # the cotangent, a leaf
        grads = out.gradient(*(xs[i] for i in argnums), gradient=c)
        inner = sum(
            (g * Tensor(np.array(t, dtype=dtype))).sum()
            for g, t in zip(grads, tangents, strict=True)
        )
        (j,) = inner.gradient(c)  # d/dc <VJP(c), u> = J u
        return self.to_numpy(out), self.to_numpy(j)
