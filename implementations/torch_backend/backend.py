"""PyTorch implementation of the harness contract."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any, cast

import numpy as np

from harness.contract import (
    Backend,
    Capabilities,
    DeviceStatus,
    History,
    OpFn,
    resolve_argnums,
)


class TorchBackend(Backend):
    """PyTorch eager: autograd for VJP, ``torch.func.jvp`` for forward mode, and training
    with ``nn.Module``, ``torch.optim`` and a ``DataLoader`` driven by the harness' batches.
    """

    name = "torch"
    capabilities = Capabilities(
        dtypes=("float32", "float64"),
        jvp=True,
        second_order=True,
        training=True,
        compiled=False,
        reference_priority=100,
        data_parallel="ddp",
        world_sizes=(2,),
        optimizer_step=True,
    )

    def load(self) -> None:
        import torch  # noqa: F401

    def version(self) -> str:
        import torch

        return str(torch.__version__)

    def devices(self) -> list[DeviceStatus]:
        import torch

        cuda = torch.cuda.is_available()
        if cuda:
            reason = ""
        elif torch.version.cuda is None:
            reason = f"torch {torch.__version__} is a CPU-only build (torch.version.cuda is None)"
        else:
            reason = (
                f"torch.cuda.is_available() is False (built for CUDA {torch.version.cuda}; "
                "no driver or no visible GPU)"
            )
        return [DeviceStatus("cpu", True), DeviceStatus("cuda", cuda, reason)]

    def sync(self, device: str) -> None:
        if device == "cuda":
            import torch

            torch.cuda.synchronize()

    def set_threads(self, n: int) -> dict[str, Any]:
        import torch

        torch.set_num_threads(n)
        try:
            torch.set_num_interop_threads(n)
        except RuntimeError:
            # Allowed once, before any inter-op work; a second command in one process
            # (tests) keeps the first setting, which the record below shows.
            pass
        return {
            "num_threads": torch.get_num_threads(),
            "num_interop_threads": torch.get_num_interop_threads(),
        }

    # -- tensors -----------------------------------------------------------------
    def asarray(self, x: np.ndarray, device: str) -> Any:
        import torch

        # np.array (not ascontiguousarray, which makes 0-d arrays 1-d) copies, so the
        # tensor never aliases the caller's buffer.
        return torch.from_numpy(np.array(x, order="C")).to(device)

    def to_numpy(self, x: Any) -> np.ndarray:
        if x._is_zerotensor():
            # Autograd returns a ZeroTensor for an exactly-zero second derivative
            # (abs, relu); it has no storage for .numpy().
            return np.zeros(tuple(x.shape), dtype=self.to_numpy(x.new_zeros(())).dtype)
        return x.detach().cpu().numpy().copy()

    # -- ops and autograd ----------------------------------------------------------
    @cached_property
    def _ops(self) -> dict[str, OpFn]:
        from harness.implementations.torch_backend.ops import build_ops

        return build_ops()

    def snippet(self, request: Any) -> str | None:
        import torch
        import torch.nn.functional as F
        from harness.implementations.torch_snippet import render

        imports = ["import torch", "import torch.nn.functional as F"]
        return render(request, imports, {"torch": torch, "F": F})

    def ops(self) -> Mapping[str, OpFn]:
        return self._ops

    def _inputs(self, primals: Sequence[np.ndarray], argnums: list[int], device: str) -> list[Any]:
        xs = [self.asarray(p, device) for p in primals]
        for i in argnums:
            xs[i].requires_grad_(True)
        return xs

    def vjp(self, fn, primals, cotangent, *, device, argnums=None):
        import torch

        argnums = resolve_argnums(argnums, len(primals))
        xs = self._inputs(primals, argnums, device)
        out = fn(*xs)
        diff = [xs[i] for i in argnums]
        grads: Sequence[torch.Tensor | None]  # None: not used by fn (allow_unused)
        if out.requires_grad and diff:
            grads = torch.autograd.grad(
                out, diff, self.asarray(cotangent, device), allow_unused=True
            )
        else:
            grads = (None,) * len(diff)
        return self.to_numpy(out), [
            np.zeros_like(primals[i]) if g is None else self.to_numpy(g)
            for i, g in zip(argnums, grads, strict=True)
        ]

    def jvp(self, fn, primals, tangents, *, device, argnums=None):
        import torch

        argnums = resolve_argnums(argnums, len(primals))
        xs = [self.asarray(p, device) for p in primals]

        def partial(*diff: Any) -> Any:
            args = list(xs)
            for i, d in zip(argnums, diff, strict=True):
                args[i] = d
            return fn(*args)

        # torch types jvp's result as a 2- or (has_aux) 3-tuple; without has_aux it is 2.
        out, tan = cast(
            "tuple[Any, Any]",
            torch.func.jvp(
                partial,
                tuple(xs[i] for i in argnums),
                tuple(self.asarray(t, device) for t in tangents),
            ),
        )
        return self.to_numpy(out), self.to_numpy(tan)

    def vjp_vjp(self, fn, primals, cotangent, direction, *, device, argnums=None):
        import torch

        argnums = resolve_argnums(argnums, len(primals))
        xs = self._inputs(primals, argnums, device)
        diff = [xs[i] for i in argnums]
        out = fn(*xs)
        grads = torch.autograd.grad(
            out, diff, self.asarray(cotangent, device), create_graph=True, allow_unused=True
        )
        inner = sum(
            (g * self.asarray(w, device)).sum()
            for g, w in zip(grads, direction, strict=True)
            if g is not None
        )
        if not isinstance(inner, torch.Tensor) or not inner.requires_grad:
            return [np.zeros_like(primals[i]) for i in argnums]
        second = torch.autograd.grad(inner, diff, allow_unused=True)
        return [
            np.zeros_like(primals[i]) if g is None else self.to_numpy(g)
            for i, g in zip(argnums, second, strict=True)
        ]

    def optimizer_step(self, spec, params, grads, state, *, device):
        from harness.implementations.torch_backend.train import optimizer_step

        return optimizer_step(spec, list(params), list(grads), state, device)

    # -- training ----------------------------------------------------------------------
    def train(self, workload, *, device, on_epoch=None):
        from harness.implementations.torch_backend.train import train

        history: History = train(workload, device, on_epoch)
        return history

    def data_parallel_status(self, device: str, world_size: int) -> DeviceStatus:
        from harness.implementations.torch_backend import ddp

        return ddp.status(device, world_size)

    def train_data_parallel(self, workload, *, device, world_size, timeout_s, on_epoch=None):
        from harness.implementations.torch_backend import ddp

        return ddp.train(workload, device, world_size, timeout_s=timeout_s, on_epoch=on_epoch)
