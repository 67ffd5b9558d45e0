"""Data-parallel targets: their names, the split rule, and the desynchronization check.

Names
-----
A data-parallel target is ``backend:device@<scheme><N>``: ``torch:cpu@ddp2`` is PyTorch's
``DistributedDataParallel`` over 2 ranks on the CPU, ``jax:cpu@shard2`` JAX's
``shard_map`` over a 2-device mesh. ``<scheme>`` is the backend's
``Capabilities.data_parallel`` and ``N >= 1`` the world size. Discovery lists each device
of such a backend at the world sizes in ``Capabilities.world_sizes``; any other ``N`` may be
named (``torch:cpu@ddp4``) and is available when
:meth:`harness.contract.Backend.data_parallel_status` says so. A bare backend name
(``torch``) and the default selection (every available target) keep meaning the
single-process targets: data-parallel targets run when they are named, because each run
starts processes (seconds) and their op checks would only repeat the single-process ones.

The same work as one process
----------------------------
Every optimizer step of the harness's batch order (:func:`harness.workload.batch_order`)
is split across ranks by :func:`shard`: **contiguous shards, the first ``B % N`` ranks one
row longer** (``np.array_split``), so rank ``r`` takes rows ``[start_r, stop_r)`` of the
step's index array, in order. Rank ``r`` computes the *sum* of its rows' losses divided by
the **global** batch size ``B``; the gradients are all-reduced with a **sum** (not a mean
over ranks). The sum over ranks is then exactly ``d/dp (1/B) sum_i l_i``, the
single-process mean gradient, whatever the shard sizes: an uneven last batch (455 rows in
batches of 32 end with 7 rows: 4 + 3 on two ranks) or a rank with no row at all (its
contribution is an exact 0). The step's reported loss is the same all-reduced sum of the
local loss sums over ``B``: the global batch loss, not rank 0's. JAX pads each rank's shard
to the longest shard and masks the padding (an exact 0 per padded row), the same numbers.

The only difference from one process is the summation order (per-rank partial sums, then
the all-reduce), measured in ``suites/distributed/test_parity.py``.

Desynchronization
-----------------
After an all-reduce every rank holds the same bytes and applies the same deterministic
optimizer update, so correct ranks stay *bit-identical*: :func:`find_desync` therefore
compares exactly, with no tolerance. Each rank records a float64 checksum (sum) of every
parameter tensor after every step and its full parameters after every epoch
(:attr:`History.rank_step_checksums`, :attr:`History.rank_epoch_params`); the first step
where a rank's checksum differs from rank 0's names the rank, the step and the parameter,
and the epoch's full parameters give the size of the difference.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from harness.contract import Backend, Capabilities, DeviceStatus, History, OpFn, Unsupported

ENV_TIMEOUT = "HARNESS_WORKER_TIMEOUT"
"""Seconds a data-parallel run may take before its workers are killed (default below)."""
DEFAULT_TIMEOUT_S = 600.0

_NAME = re.compile(r"^(?P<device>[^@:]+)@(?P<scheme>[a-z][a-z_]*)(?P<n>[0-9]+)$")


def parse_device(device: str) -> tuple[str, str, int] | None:
    """``(device, scheme, N)`` of a data-parallel device name (``cpu@ddp2``), else None."""
    m = _NAME.match(device)
    if m is None:
        return None
    return m["device"], m["scheme"], int(m["n"])


def dp_device(device: str, scheme: str, world_size: int) -> str:
    """The device part of a data-parallel target name: ``cpu@ddp2``."""
    return f"{device}@{scheme}{world_size}"


def timeout_s() -> float:
    """The worker timeout: ``$HARNESS_WORKER_TIMEOUT`` seconds, else :data:`DEFAULT_TIMEOUT_S`."""
    text = os.environ.get(ENV_TIMEOUT, "").strip()
    if not text:
        return DEFAULT_TIMEOUT_S
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ValueError(f"${ENV_TIMEOUT} must be a positive number of seconds, got {text!r}")
    return value


def shard(rows: np.ndarray, rank: int, world_size: int) -> np.ndarray:
    """Rank ``rank``'s contiguous shard of one step's rows (the module docstring's rule)."""
    return np.array_split(np.asarray(rows), world_size)[rank]


def rank_batches(batches: list[list[np.ndarray]], rank: int, world_size: int) -> list[list[Any]]:
    """:func:`shard` applied to every step of a workload's batch order."""
    return [[shard(b, rank, world_size) for b in epoch] for epoch in batches]


def checksums(params: list[np.ndarray]) -> np.ndarray:
    """The float64 sum of each parameter tensor (one row of ``rank_step_checksums``)."""
    return np.array([float(np.sum(p, dtype=np.float64)) for p in params])


class DataParallel(Backend):
    """The target ``backend:device@<scheme><N>``: ``inner``'s data-parallel training.

    Only training is distributed; ops and autograd are the single-process target's and
    are not offered again here (every op check of this target is skip-unsupported with
    that reason, rather than a second, identical pass counted as coverage).
    """

    def __init__(self, inner: Backend, device: str, world_size: int) -> None:
        self.inner = inner
        self.name = inner.name  # type: ignore[misc]
        self.base_device = device
        self.world_size = world_size
        caps = inner.capabilities
        self.capabilities = Capabilities(  # type: ignore[misc]
            dtypes=caps.dtypes,
            training=caps.training,
            compiled=caps.compiled,
            data_parallel=caps.data_parallel,
            world_sizes=(world_size,),
        )

    @property
    def scheme(self) -> str:
        """The data-parallel scheme (``ddp``, ``shard``)."""
        return self.inner.capabilities.data_parallel

    @property
    def device_name(self) -> str:
        """``cpu@ddp2``."""
        return dp_device(self.base_device, self.scheme, self.world_size)

    def version(self) -> str:
        return self.inner.version()

    def devices(self) -> list[DeviceStatus]:
        return [self.inner.data_parallel_status(self.base_device, self.world_size)]

    def asarray(self, x: np.ndarray, device: str) -> Any:
        return self.inner.asarray(x, self.base_device)

    def to_numpy(self, x: Any) -> np.ndarray:
        return self.inner.to_numpy(x)

    def _why(self) -> str:
        return (
            f"{self.name}:{self.device_name} is data-parallel training only; its ops and "
            f"autograd are those of {self.name}:{self.base_device}"
        )

    def ops(self) -> Mapping[str, OpFn]:
        return {}

    def unsupported_reasons(self) -> Mapping[str, str]:
        from harness import catalog

        return {name: self._why() for name in catalog.CATALOG}

    def vjp(self, fn, primals, cotangent, *, device, argnums=None):  # type: ignore[no-untyped-def]
        raise Unsupported(self._why())

    def known_divergences(self) -> str:
        return self.inner.known_divergences()

    def set_threads(self, n: int) -> dict[str, Any]:
        return self.inner.set_threads(n)

    def train(
        self,
        workload: Any,
        *,
        device: str,
        on_epoch: Callable[[int], None] | None = None,
    ) -> History:
        history = self.inner.train_data_parallel(
            workload,
            device=self.base_device,
            world_size=self.world_size,
            timeout_s=timeout_s(),
            on_epoch=on_epoch,
        )
        history.meta.setdefault("world_size", self.world_size)
        history.meta.setdefault("data_parallel", self.scheme)
        return history


@dataclass(frozen=True)
class Desync:
    """The first step at which a rank's parameters left rank 0's."""

    rank: int
    step: int
    epoch: int
    parameter: str
    max_abs_diff: float
    """Largest |difference| of that parameter from rank 0's at the end of that epoch."""

    def summary(self) -> str:
        """One line naming the rank, the step and the parameter."""
        return (
            f"rank {self.rank} desynchronized from rank 0 at step {self.step} (epoch "
            f"{self.epoch}): parameter {self.parameter} differs (by {self.max_abs_diff:.3e} "
            "at the end of that epoch)"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


def _differs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise: not equal, where two NaNs count as equal (training may blow up)."""
    return ~((a == b) | (np.isnan(a) & np.isnan(b)))


def find_desync(h: History, names: list[str]) -> Desync | None:
    """The first desynchronized (step, rank, parameter) of a data-parallel run, else None.

    ``names`` are the parameter names (``linear0.weight``, ...). Exact comparison: see the
    module docstring. A run without per-rank records (one process) has nothing to compare.
    """
    epochs = h.rank_epoch_params
    if not epochs:
        return None
    per_epoch = max(1, len(h.step_loss) // len(epochs))

    def epoch_diff(e: int, rank: int, p: int) -> float:
        a = np.asarray(epochs[e][rank][p], dtype=np.float64)
        b = np.asarray(epochs[e][0][p], dtype=np.float64)
        return float(np.max(np.abs(a - b))) if a.size and a.shape == b.shape else float("inf")

    def name(p: int) -> str:
        return names[p] if p < len(names) else f"parameter {p}"

    sums = h.rank_step_checksums
    if sums is not None and sums.size:
        bad = _differs(sums, sums[:, :1, :])
        if bad.any():
            step, rank, p = (int(i) for i in np.argwhere(bad)[0])
            e = min(step // per_epoch, len(epochs) - 1)
            return Desync(rank, step, e, name(p), epoch_diff(e, rank, p))
    for e, ranks in enumerate(epochs):
        for rank in range(1, len(ranks)):
            for p in range(len(ranks[0])):
                a = np.asarray(ranks[rank][p])
                b = np.asarray(ranks[0][p])
                if a.shape != b.shape or _differs(a, b).any():
                    step = (e + 1) * per_epoch - 1  # a checksum collision: the epoch's end
                    return Desync(rank, step, e, name(p), epoch_diff(e, rank, p))
    return None
