"""HIPS autograd as a harness backend: target ``autograd:cpu``.

autograd differentiates plain NumPy code: its arrays *are* NumPy arrays (wrapped in
``ArrayBox`` while being traced), so tensors cross the contract by copy, the only device is
the CPU, and every op runs NumPy's kernels. Reverse mode is ``make_vjp``, forward mode is
``make_jvp`` (autograd's own JVP rules), second order nests ``make_vjp`` inside ``grad``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cached_property
from typing import Any

import numpy as np

from harness.contract import (
    Backend,
    Capabilities,
    DeviceStatus,
    History,
    OpFn,
    Unsupported,
    resolve_argnums,
)

DEVICES = ("cpu",)


def _check_device(device: str) -> None:
    if device not in DEVICES:
        raise Unsupported(f"autograd runs on NumPy: device {device!r} is not one of {DEVICES}")


def _bind(
    fn: OpFn, xs: list[np.ndarray], argnums: list[int]
) -> Callable[..., Any]:  # the differentiable arguments in, the rest held fixed
    def partial(*diff: Any) -> Any:
        args: list[Any] = list(xs)
        for i, d in zip(argnums, diff, strict=True):
            args[i] = d
        return fn(*args)

    return partial


class AutogradBackend(Backend):
    """HIPS autograd (``autograd.numpy``) on the CPU, float32 and float64."""

    name = "autograd"
    capabilities = Capabilities(
        dtypes=("float32", "float64"),
        jvp=True,
        second_order=True,
        training=True,
        compiled=False,
        reference_priority=0,
    )

    def load(self) -> None:
        import autograd  # noqa: F401

    def version(self) -> str:
        from importlib.metadata import version

        return version("autograd")

    def devices(self) -> list[DeviceStatus]:
        return [DeviceStatus("cpu", True)]

    # -- tensors -----------------------------------------------------------------
    def asarray(self, x: np.ndarray, device: str) -> np.ndarray:
        _check_device(device)
        return np.array(x, copy=True)

    def to_numpy(self, x: Any) -> np.ndarray:
        # NumPy reductions return scalars (np.float32) rather than 0-d arrays.
        return np.array(x, copy=True)

    # -- ops and autograd ----------------------------------------------------------
    @cached_property
    def _ops(self) -> dict[str, OpFn]:
        from harness_autograd.ops import build_ops

        return build_ops()

    def ops(self) -> Mapping[str, OpFn]:
        return self._ops

    def unsupported_reasons(self) -> Mapping[str, str]:
        from harness import catalog
        from harness_autograd.ops import UNSUPPORTED_REASON

        return {name: UNSUPPORTED_REASON for name in catalog.CATALOG if name not in self._ops}

    def _zeros_if_none(self, g: Any, like: np.ndarray) -> np.ndarray:
        return np.zeros_like(like) if g is None else self.to_numpy(g)

    def vjp(self, fn, primals, cotangent, *, device, argnums=None):
        from autograd import make_vjp

        argnums = resolve_argnums(argnums, len(primals))
        xs = [self.asarray(p, device) for p in primals]
        if not argnums:
            return self.to_numpy(fn(*xs)), []
        f = _bind(fn, xs, argnums)
        pullback, out = make_vjp(f, argnum=tuple(range(len(argnums))))(*(xs[i] for i in argnums))
        grads = pullback(self.asarray(cotangent, device))
        return self.to_numpy(out), [
            self._zeros_if_none(g, primals[i]) for i, g in zip(argnums, grads, strict=True)
        ]

    def jvp(self, fn, primals, tangents, *, device, argnums=None):
        from autograd import make_jvp

        argnums = resolve_argnums(argnums, len(primals))
        xs = [self.asarray(p, device) for p in primals]
        if not argnums:
            out = self.to_numpy(fn(*xs))
            return out, np.zeros_like(out)
        f = _bind(fn, xs, argnums)
        push = make_jvp(f, argnum=tuple(range(len(argnums))))(*(xs[i] for i in argnums))
        out, tan = push(tuple(self.asarray(t, device) for t in tangents))
        return self.to_numpy(out), self.to_numpy(tan)

    def vjp_vjp(self, fn, primals, cotangent, direction, *, device, argnums=None):
        import autograd.numpy as anp
        from autograd import grad, make_vjp

        argnums = resolve_argnums(argnums, len(primals))
        xs = [self.asarray(p, device) for p in primals]
        f = _bind(fn, xs, argnums)
        k = tuple(range(len(argnums)))
        v = self.asarray(cotangent, device)
        ws = [self.asarray(w, device) for w in direction]

        def inner(*diff: Any) -> Any:
            pullback, _ = make_vjp(f, argnum=k)(*diff)
            return sum(anp.sum(g * w) for g, w in zip(pullback(v), ws, strict=True))

        second = grad(inner, argnum=k)(*(xs[i] for i in argnums))
        return [self._zeros_if_none(g, primals[i]) for i, g in zip(argnums, second, strict=True)]

    # -- training ----------------------------------------------------------------------
    def train(self, workload, *, device, on_epoch=None):
        from harness_autograd.train import train

        _check_device(device)
        history: History = train(workload, on_epoch=on_epoch)
        return history
