"""Test-only backends with known faults, registered through a throw-away ``.dist-info``.

Each wraps the PyTorch backend and breaks one thing, so the CLI's verdicts can be checked
against a fault whose step and nature are known in advance. They are visible only to the
subprocesses whose ``PYTHONPATH`` holds the temporary ``.dist-info`` (see ``conftest.py``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from harness.contract import Backend, Capabilities, DeviceStatus, History

NAN_STEP = 2
"""The step at which :class:`NanBackend`'s loss becomes NaN."""

LR_FACTOR = 1.5
""":class:`WrongLrBackend` trains with this multiple of the workload's learning rate."""


class _Wrapped(Backend):
    """Delegates everything to the PyTorch backend on its CPU."""

    capabilities = Capabilities(dtypes=("float32", "float64"), training=True)

    def __init__(self) -> None:
        from harness.implementations.torch_backend import TorchBackend

        self._torch = TorchBackend()

    def load(self) -> None:
        self._torch.load()

    def version(self) -> str:
        return "0.0.1"

    def devices(self) -> list[DeviceStatus]:
        return [DeviceStatus("cpu", True)]

    def asarray(self, x: np.ndarray, device: str) -> Any:
        return self._torch.asarray(x, "cpu")

    def to_numpy(self, x: Any) -> np.ndarray:
        return self._torch.to_numpy(x)

    def ops(self) -> Any:
        return self._torch.ops()

    def vjp(self, fn, primals, cotangent, *, device, argnums=None):
        return self._torch.vjp(fn, primals, cotangent, device="cpu", argnums=argnums)

    def _train(self, workload: Any) -> History:
        return self._torch.train(workload, device="cpu")


class WrongLrBackend(_Wrapped):
    """Trains with the learning rate multiplied by :data:`LR_FACTOR` (a silent bug)."""

    name = "wronglr"

    def train(self, workload, *, device, on_epoch=None):
        opt = dataclasses.replace(workload.optimizer, lr=workload.optimizer.lr * LR_FACTOR)
        return self._train(dataclasses.replace(workload, optimizer=opt))


class NanBackend(_Wrapped):
    """Trains correctly, then reports NaN losses from :data:`NAN_STEP` on (a blow-up)."""

    name = "nanny"

    def train(self, workload, *, device, on_epoch=None):
        h = self._train(workload)
        h.step_loss = np.asarray(h.step_loss, dtype=np.float64).copy()
        h.step_loss[NAN_STEP:] = np.nan
        h.epoch_train_loss = np.full_like(h.epoch_train_loss, np.nan)
        return h


class CrashBackend(_Wrapped):
    """Raises in the middle of training."""

    name = "crashy"

    def train(self, workload, *, device, on_epoch=None):
        raise RuntimeError("simulated crash inside train()")


class NoTrainBackend(_Wrapped):
    """Ops and autograd only: declares no training capability."""

    name = "notrain"
    capabilities = Capabilities(dtypes=("float32", "float64"), training=False)


ENTRY_POINTS = {
    "wronglr": "harness.suites.cli.fake_backends:WrongLrBackend",
    "nanny": "harness.suites.cli.fake_backends:NanBackend",
    "crashy": "harness.suites.cli.fake_backends:CrashBackend",
    "notrain": "harness.suites.cli.fake_backends:NoTrainBackend",
}
