"""Deliberately broken data-parallel targets: PyTorch DDP with one realistic mistake each.

Each is :class:`harness.implementations.torch_backend.ddp.Recipe` with one method changed,
the way such bugs are written in user training scripts:

* :class:`SkipAllReduce` -- one parameter (the last bias) is left out of DDP's gradient
  synchronization (``_set_params_and_buffers_to_ignore_for_model``): each rank steps it
  with its own shard's gradient, so the ranks drift apart from step 0.
* :class:`LocalMean` -- the loss is averaged over the *local* rows and DDP averages over
  ranks: the mean of the shard means, which is the global mean only when the shards have
  equal sizes (the logged loss is still the true global one). It shows at the first uneven
  split: 455 breast-cancer rows in batches of 32 end with 7 rows, split 4 + 3.
* :class:`DropLast` -- every rank skips the last, partial batch of an epoch (a sampler or
  loader with ``drop_last=True``).
* :class:`Crash`, :class:`Hang`, :class:`Raise` -- rank 1 dies (``os._exit``), blocks
  forever, or raises at step 2: the fault tests.

The recipes are module-level classes so the spawned workers can unpickle them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from harness.implementations.torch_backend import TorchBackend, ddp

from harness.contract import History
from harness.discovery import Target
from harness.parallel import DataParallel
from harness.workload import Workload


class SkipAllReduce(ddp.Recipe):
    """The last parameter is not all-reduced."""

    def ignored(self, names: list[str]) -> list[str]:
        return names[-1:]


class LocalMean(ddp.Recipe):
    """Loss averaged over the local rows, gradients averaged over ranks."""

    reduce = "avg"

    def local_loss(self, loss_sum: Any, n_local: int, n_global: int) -> Any:
        return loss_sum / max(n_local, 1)

    def logged_loss(self, loss_sum: Any, n_local: int, n_global: int) -> Any:
        return loss_sum.detach() / n_global


class DropLast(ddp.Recipe):
    """The last partial batch of each epoch is skipped."""

    def batches(self, workload: Workload) -> list[list[np.ndarray]]:
        full = max(len(b) for b in workload.batches[0])
        return [[b for b in epoch if len(b) == full] for epoch in workload.batches]


class _Fault(ddp.Recipe):
    rank, step = 1, 2

    def before_step(self, rank: int, step: int) -> None:
        if (rank, step) == (self.rank, self.step):
            self.fault()

    def fault(self) -> None:
        raise NotImplementedError


class Crash(_Fault):
    """Rank 1 exits abruptly at step 2 (as a segfault or an OOM kill would)."""

    def fault(self) -> None:
        os._exit(3)


class Hang(_Fault):
    """Rank 1 blocks at step 2 (a deadlock); the other rank waits in the all-reduce."""

    def fault(self) -> None:
        time.sleep(10_000)


class Raise(_Fault):
    """Rank 1 raises at step 2."""

    def fault(self) -> None:
        raise FloatingPointError("deliberate fault on rank 1")


RECIPES: dict[str, type[ddp.Recipe]] = {
    "ddp-skip-allreduce": SkipAllReduce,
    "ddp-local-mean": LocalMean,
    "ddp-drop-last": DropLast,
    "ddp-correct": ddp.Recipe,
    "ddp-crash": Crash,
    "ddp-hang": Hang,
    "ddp-raise": Raise,
}


class RecipeTorch(TorchBackend):
    """PyTorch whose DDP training follows ``recipe`` (a name of :data:`RECIPES`)."""

    def __init__(self, recipe: str) -> None:
        self.name = recipe
        self.recipe = RECIPES[recipe]()

    def known_divergences(self) -> str:
        return ""

    def train_data_parallel(
        self,
        workload: Workload,
        *,
        device: str,
        world_size: int,
        timeout_s: float,
        on_epoch: Callable[[int], None] | None = None,
    ) -> History:
        return ddp.train(
            workload, device, world_size, timeout_s=timeout_s, on_epoch=on_epoch,
            recipe=self.recipe,
        )  # fmt: skip


def dp_target(recipe: str, world_size: int = 2) -> Target:
    """The target ``<recipe>:cpu@ddp<N>``."""
    backend = DataParallel(RecipeTorch(recipe), "cpu", world_size)
    return Target(backend, recipe, backend.device_name, True, "", backend.version())
