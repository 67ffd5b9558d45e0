"""The harness plugin for the NumPy engine: target ``numpy:cpu``.

Declared capabilities: float32 and float64; reverse mode; second order through
``create_graph=True``; forward mode (``jvp``) through the double-VJP trick of
:func:`harness.implementations.numpy_autograd.autograd.functional.jvp` (exact, reverse mode twice);
training. With ``reference_priority=50`` it is the default reference when PyTorch (100) is
not installed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any

import numpy as np

from harness.contract import (
    Backend,
    Capabilities,
    DeviceStatus,
    History,
    OpFn,
    resolve_argnums,
)


def _check(device: str) -> None:
    if device != "cpu":
        raise ValueError(f"unknown device {device!r} for numpy; valid devices: cpu")


class NumpyBackend(Backend):
    """The from-scratch NumPy autograd engine (``harness.implementations.numpy_autograd``)."""

    name = "numpy"
    capabilities = Capabilities(
        dtypes=("float32", "float64"),
        jvp=True,
        second_order=True,
        training=True,
        compiled=False,
        reference_priority=50,
        optimizer_step=True,
    )

    def version(self) -> str:
        import harness.implementations.numpy_autograd as engine

        return f"{engine.__version__} (numpy {np.__version__})"

    def devices(self) -> list[DeviceStatus]:
        return [DeviceStatus("cpu", True)]

    # -- tensors ---------------------------------------------------------------------------
    def asarray(self, x: np.ndarray, device: str) -> Any:
        import harness.implementations.numpy_autograd as engine

        _check(device)
        return engine.from_numpy(np.array(x, copy=True))

    def to_numpy(self, x: Any) -> np.ndarray:
        return np.array(x.detach().numpy(), copy=True)

    # -- ops and autograd ------------------------------------------------------------------
    @cached_property
    def _ops(self) -> dict[str, OpFn]:
        from harness.implementations.numpy_backend.ops import build_ops

        return build_ops()

    def snippet(self, request: Any) -> str | None:
        import harness.implementations.numpy_autograd as torch
        import harness.implementations.numpy_autograd.nn.functional as F
        from harness.implementations.torch_snippet import render

        imports = [
            "import harness.implementations.numpy_autograd as torch",
            "import harness.implementations.numpy_autograd.nn.functional as F",
        ]
        return render(request, imports, {"torch": torch, "F": F})

    def ops(self) -> Mapping[str, OpFn]:
        return self._ops

    def _inputs(self, primals: Sequence[np.ndarray], argnums: list[int], device: str) -> list[Any]:
        xs = [self.asarray(p, device) for p in primals]
        for i in argnums:
            xs[i].requires_grad_(True)
        return xs

    def vjp(self, fn, primals, cotangent, *, device, argnums=None):
        from harness.implementations.numpy_autograd import autograd, enable_grad

        argnums = resolve_argnums(argnums, len(primals))
        xs = self._inputs(primals, argnums, device)
        with enable_grad():
            out = fn(*xs)
            diff = [xs[i] for i in argnums]
            if out.requires_grad and diff:
                grads = autograd.grad(out, diff, self.asarray(cotangent, device), allow_unused=True)
            else:
                grads = (None,) * len(diff)
        return self.to_numpy(out), [
            np.zeros_like(primals[i]) if g is None else self.to_numpy(g)
            for i, g in zip(argnums, grads, strict=True)
        ]

    def jvp(self, fn, primals, tangents, *, device, argnums=None):
        from harness.implementations.numpy_autograd.autograd import functional

        argnums = resolve_argnums(argnums, len(primals))
        xs = [self.asarray(p, device) for p in primals]

        def partial(*diff: Any) -> Any:
            args = list(xs)
            for i, d in zip(argnums, diff, strict=True):
                args[i] = d
            return fn(*args)

        out, tan = functional.jvp(
            partial,
            tuple(xs[i] for i in argnums),
            tuple(self.asarray(t, device) for t in tangents),
        )
        return self.to_numpy(out), self.to_numpy(tan)

    def vjp_vjp(self, fn, primals, cotangent, direction, *, device, argnums=None):
        from harness.implementations.numpy_autograd import autograd, enable_grad

        argnums = resolve_argnums(argnums, len(primals))
        xs = self._inputs(primals, argnums, device)
        diff = [xs[i] for i in argnums]
        with enable_grad():
            out = fn(*xs)
            if not out.requires_grad:
                return [np.zeros_like(primals[i]) for i in argnums]
            grads = autograd.grad(
                out, diff, self.asarray(cotangent, device), create_graph=True, allow_unused=True
            )
            terms = [
                (g * self.asarray(w, device)).sum()
                for g, w in zip(grads, direction, strict=True)
                if g is not None
            ]
            inner = terms[0] if terms else None
            for term in terms[1:]:
                inner = inner + term
            if inner is None or not inner.requires_grad:
                return [np.zeros_like(primals[i]) for i in argnums]
            second = autograd.grad(inner, diff, allow_unused=True)
        return [
            np.zeros_like(primals[i]) if g is None else self.to_numpy(g)
            for i, g in zip(argnums, second, strict=True)
        ]

    def optimizer_step(self, spec, params, grads, state, *, device):
        from harness.implementations.numpy_backend.train import optimizer_step

        _check(device)
        return optimizer_step(spec, list(params), list(grads), state)

    # -- training --------------------------------------------------------------------------
    def train(self, workload, *, device, on_epoch=None):
        from harness.implementations.numpy_backend.train import train

        _check(device)
        history: History = train(workload, on_epoch)
        return history
