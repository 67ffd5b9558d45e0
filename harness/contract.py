"""The one contract every backend implements: tensors, autograd and training.

A backend is one small class (einops-style): a ``name``, static capability flags, and
methods that import their framework lazily. The harness never looks at a backend's name
to decide anything; it reads :class:`Capabilities` and :meth:`Backend.devices`.

Everything that crosses the contract is NumPy on the harness side:

* **Tensors** -- :meth:`Backend.asarray` takes a NumPy array (float32, float64, or int64
  labels/indices, or bool masks) and a device, and returns the backend's array;
  :meth:`Backend.to_numpy` goes back.
* **Autograd** -- :meth:`Backend.vjp` (required), :meth:`Backend.jvp` and
  :meth:`Backend.vjp_vjp` (optional, declared by ``Capabilities.jvp`` and
  ``Capabilities.second_order``). The function being differentiated is written against the
  backend's op namespace (:meth:`Backend.ops`, keyed by :mod:`harness.catalog` names).
* **Optimizers** -- :meth:`Backend.optimizer_step` (optional, ``Capabilities.optimizer_step``)
  applies one step of the backend's own optimizer to given parameters and gradients, so the
  update rule is checked apart from any model.
* **Training** -- :meth:`Backend.train` runs one :class:`harness.workload.Workload` (model,
  loss, optimizer, dtype, initial parameters and batch order, all supplied as NumPy by the
  harness) and returns a :class:`History`.
"""

from __future__ import annotations

import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

if TYPE_CHECKING:
    from harness.workload import OptimizerSpec, Workload

Array = Any
"""A backend's own array type (torch.Tensor, jax.Array, ...); opaque to the harness."""

OpFn = Callable[..., Array]
"""A function of backend arrays that returns one backend array."""


class Unsupported(NotImplementedError):
    """Raised by a backend for an op, capability or device it does not have.

    The harness reports it as *skipped-unsupported* with the message, never as a failure.
    """


@dataclass(frozen=True)
class DeviceStatus:
    """Whether one device of a backend can be used right now, and why not."""

    device: str
    available: bool
    reason: str = ""


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do. Checks that need a missing capability skip with a reason."""

    dtypes: tuple[str, ...] = ("float32", "float64")
    jvp: bool = False
    second_order: bool = False
    training: bool = True
    compiled: bool = False
    """Training is compiled (JIT); :attr:`History.compile_s` is then meaningful."""
    reference_priority: int = 0
    """Higher wins when the harness picks a default reference target (0: never by default)."""
    data_parallel: str = ""
    """Name of the backend's data-parallel scheme (``ddp``, ``shard``; "" for none). A backend
    that sets it implements :meth:`Backend.data_parallel_status` and
    :meth:`Backend.train_data_parallel`, and discovery offers its targets
    ``backend:device@<scheme><N>`` (:mod:`harness.parallel`)."""
    world_sizes: tuple[int, ...] = ()
    """World sizes discovery lists for each device (any other N can still be named)."""
    optimizer_step: bool = False
    """:meth:`Backend.optimizer_step` applies one step of the backend's own optimizer."""
    emulated: tuple[str, ...] = ()
    """Capabilities (among :data:`EMULABLE`, each also declared ``True``) that the backend
    provides by way of another rather than natively: ``("jvp",)`` for a framework without
    forward mode whose :meth:`Backend.jvp` is reverse-over-reverse (the VJP of the VJP).
    Such a JVP counts for ``jvp=True``, but the oracles it would make circular
    (:func:`harness.oracles.registry.circular`: forward against reverse mode then compares
    the VJP with itself) are marked so in ``harness backends`` and the parity report, and
    are not counted as independent coverage."""


EMULABLE = ("jvp", "second_order")
"""The capabilities :attr:`Capabilities.emulated` may name."""


@dataclass
class History:
    """What one training run hands back. Arrays are NumPy, float64 for losses.

    ``step_loss[k]`` is the loss of the batch used at optimizer step ``k``, computed in that
    step's forward pass (before the update). ``epoch_train_loss[e]`` and
    ``epoch_test_acc[e]`` are evaluated on the whole train / test split after epoch ``e``;
    that evaluation is excluded from ``epoch_s``.
    """

    step_loss: np.ndarray
    epoch_train_loss: np.ndarray
    epoch_test_acc: np.ndarray
    final_params: list[np.ndarray]
    epoch_s: np.ndarray
    """Wall-clock seconds of each epoch's training steps, measured after a device sync."""
    compile_s: float | None = None
    """Seconds spent compiling before the first epoch, for compiled backends."""
    meta: dict[str, Any] = field(default_factory=dict)
    epoch_test_loss: np.ndarray | None = None
    """The loss on the whole test split after each epoch (evaluation mode), where the
    backend reports it (the layered models' quality bar for ``gpt`` is its validation loss)."""
    rank_epoch_params: list[list[list[np.ndarray]]] | None = None
    """Data-parallel runs: ``[epoch][rank]`` -> that rank's parameters after the epoch."""
    rank_step_checksums: np.ndarray | None = None
    """Data-parallel runs: ``(steps, ranks, n_params)`` float64 sums of each rank's parameter
    tensors after each step, to locate the step of a desynchronization."""

    @property
    def first_epoch_s(self) -> float:
        """Seconds of the first epoch (includes warm-up and lazy initialisation)."""
        return float(self.epoch_s[0]) if len(self.epoch_s) else float("nan")

    @property
    def steady_epoch_s(self) -> float:
        """Median seconds of the epochs after the first (the steady state)."""
        rest = self.epoch_s[1:] if len(self.epoch_s) > 1 else self.epoch_s
        return float(np.median(rest)) if len(rest) else float("nan")


class Backend(ABC):
    """Base class of every backend; built-ins and plugins alike subclass it.

    Subclasses set ``name`` and ``capabilities`` as class attributes and import their
    framework only inside methods, so that discovering a backend costs nothing.

    Capabilities are read once, after :meth:`load`: a backend that can only tell what it
    supports once its framework is loaded (float64 enabled, forward mode present) sets
    ``self.capabilities`` in ``load()`` (keeping the class's ``reference_priority``, by
    which discovery picks the default reference without loading every framework);
    otherwise the class attribute stands. Discovery
    then checks the value (:func:`harness.discovery.checked_capabilities`: a
    :class:`Capabilities` with known dtypes, else the targets are unavailable with that
    reason) and nothing reads it before, or changes it after.
    """

    name: ClassVar[str]
    capabilities: ClassVar[Capabilities] = Capabilities()

    # -- identity and devices -------------------------------------------------------
    def load(self) -> None:  # noqa: B027 - optional hook
        """Import the framework. Raise (ImportError, ...) if it cannot be used at all.

        Discovery calls this once; a failure becomes a visible warning and every target of
        the backend is listed as unavailable with the error as its reason. It may set
        ``self.capabilities`` (see the class docstring).
        """

    @abstractmethod
    def version(self) -> str:
        """The framework's version string."""

    @abstractmethod
    def devices(self) -> list[DeviceStatus]:
        """Every device this backend knows, available now or not (with the reason)."""

    def sync(self, device: str) -> None:  # noqa: B027 - optional hook
        """Block until all queued work on ``device`` is done (for timing)."""

    def set_threads(self, n: int) -> dict[str, Any]:
        """Use ``n`` intra-op threads where the framework keeps its own pool (optional hook).

        The CLI sets ``OMP_NUM_THREADS`` and friends before any framework loads; this is
        for pools those variables do not reach. Returns the effective counts to record in
        ``report.json`` (e.g. ``{"num_threads": 1}``); the default does nothing and
        returns ``{}``.
        """
        return {}

    def use_compilation_cache(self, directory: Path) -> bool:
        """Keep compiled programs in ``directory`` across processes (optional hook).

        The parity suites call it before any check runs (``--compile-cache``), so that a
        second run of the same checks loads what the first compiled instead of compiling
        it again; numbers do not change, only the time. Returns whether the backend now
        uses a persistent cache (the default: it has none, False). A backend that already
        uses a cache the user configured keeps that one and returns True.
        """
        return False

    # -- tensors ---------------------------------------------------------------------
    @abstractmethod
    def asarray(self, x: np.ndarray, device: str) -> Array:
        """A backend array on ``device`` holding ``x`` with the same dtype."""

    @abstractmethod
    def to_numpy(self, x: Array) -> np.ndarray:
        """A NumPy copy of a backend array (dtype preserved)."""

    # -- ops and autograd --------------------------------------------------------------
    @abstractmethod
    def ops(self) -> Mapping[str, OpFn]:
        """Catalog op name -> function of backend arrays. Omit an op to declare it unsupported.

        Signatures are those of :mod:`harness.catalog`: positional arrays (float, int64
        index, or bool mask), then the op's parameters (``OpSpec.params``: stride, padding,
        eps, dim, ...) as keyword arguments with PyTorch's names; the result is one array.
        The oracles bind the parameters (``functools.partial``) before calling
        :meth:`vjp` and its siblings, so those see a function of arrays only.
        """

    def unsupported_reasons(self) -> Mapping[str, str]:
        """Catalog op name -> why it is missing from :meth:`ops` (shown in reports)."""
        return {}

    @abstractmethod
    def vjp(
        self,
        fn: OpFn,
        primals: Sequence[np.ndarray],
        cotangent: np.ndarray,
        *,
        device: str,
        argnums: Sequence[int] | None = None,
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Value of ``fn(*primals)`` and the vector-Jacobian product with ``cotangent``.

        Returns the value and one gradient per index of ``argnums`` (default: every
        primal), each shaped like its primal. Primals outside ``argnums`` are constants.
        """

    def jvp(
        self,
        fn: OpFn,
        primals: Sequence[np.ndarray],
        tangents: Sequence[np.ndarray],
        *,
        device: str,
        argnums: Sequence[int] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Value and Jacobian-vector product (forward mode). ``Capabilities.jvp``."""
        raise Unsupported(f"{self.name} does not implement forward mode (jvp)")

    def vjp_vjp(
        self,
        fn: OpFn,
        primals: Sequence[np.ndarray],
        cotangent: np.ndarray,
        direction: Sequence[np.ndarray],
        *,
        device: str,
        argnums: Sequence[int] | None = None,
    ) -> list[np.ndarray]:
        """Second order: the gradient of ``sum_i <VJP_i(cotangent), direction_i>``.

        That is ``d/dx_j <J(x)^T v, w>`` for each ``j`` in ``argnums``; it differentiates
        through the backward pass. ``Capabilities.second_order``.
        """
        raise Unsupported(f"{self.name} does not implement second-order gradients")

    def snippet(self, request: Any) -> str | None:
        """Optional: a failing op check as standalone source in your own framework.

        ``request`` is a :class:`harness.snippets.SnippetRequest` (the op's function, the
        inputs, ``value`` or ``vjp``, the expected result and the tolerance). Return Python
        source that runs without the harness and ends in ``numpy.testing.assert_allclose``
        against the expected literal (:func:`harness.snippets.tail`), or None (the default:
        the failure report then has the harness reproducer only).
        """
        return None

    def known_divergences(self) -> str:
        """Text of this backend's known-divergences file, or "" if it has none.

        By default, ``known_divergences.txt`` beside the module that defines the backend
        class. One entry per line, ``TARGET OP ORACLE DTYPE  # reason`` (``*`` matches
        anything; the reason is required); see :mod:`harness.divergences`.
        """
        module = sys.modules.get(type(self).__module__)
        path = Path(getattr(module, "__file__", "") or "").with_name("known_divergences.txt")
        return path.read_text() if path.is_file() else ""

    # -- optimizers -------------------------------------------------------------------
    def optimizer_step(
        self,
        spec: OptimizerSpec,
        params: Sequence[np.ndarray],
        grads: Sequence[np.ndarray],
        state: Any,
        *,
        device: str,
    ) -> tuple[list[np.ndarray], Any]:
        """One step of the optimizer ``spec`` describes, with the backend's own optimizer.

        ``params`` and ``grads`` are NumPy arrays of one float dtype, one gradient per
        parameter and of its shape; ``state`` is ``None`` on the first step, afterwards
        whatever the previous call returned (opaque to the harness: momentum buffers, Adam's
        moments and step count). Returns the updated parameters (NumPy, same dtypes and
        shapes) and the new state. It must be the optimizer :meth:`train` uses, with
        PyTorch's update rules (:class:`harness.workload.OptimizerSpec`).
        ``Capabilities.optimizer_step``.
        """
        raise Unsupported(f"{self.name} does not implement optimizer_step")

    # -- training ---------------------------------------------------------------------
    def train(
        self,
        workload: Workload,
        *,
        device: str,
        on_epoch: Callable[[int], None] | None = None,
    ) -> History:
        """Run ``workload`` from its initial parameters in its batch order.

        Identical workloads must give every backend the same arithmetic, so trajectories
        can be compared step by step. ``on_epoch(e)``, when given, is called after epoch
        ``e`` (0-based) has finished and been evaluated, outside the timed region (progress
        bars). ``Capabilities.training``.
        """
        raise Unsupported(f"{self.name} does not implement training")

    # -- data-parallel training (``Capabilities.data_parallel``) -------------------------
    def data_parallel_status(self, device: str, world_size: int) -> DeviceStatus:
        """Whether ``world_size`` ranks can train data-parallel on ``device`` right now.

        ``DeviceStatus.device`` is the data-parallel device name (``cpu@ddp2``).
        """
        return DeviceStatus(
            device, False, f"{self.name} declares no data-parallel scheme (Capabilities)"
        )

    def train_data_parallel(
        self,
        workload: Workload,
        *,
        device: str,
        world_size: int,
        timeout_s: float,
        on_epoch: Callable[[int], None] | None = None,
    ) -> History:
        """Run ``workload`` on ``world_size`` ranks, each taking its shard of every batch.

        The result must equal :meth:`train`'s up to summation order: the split rule and the
        loss scaling of :mod:`harness.parallel`, the global per-step loss, rank 0's final
        parameters, and every rank's parameters in :attr:`History.rank_epoch_params` and
        :attr:`History.rank_step_checksums`. A rank that crashes or does not finish within
        ``timeout_s`` seconds raises :class:`harness.workers.WorkerError` naming it, with no
        process left behind.
        """
        raise Unsupported(f"{self.name} does not implement data-parallel training")


def resolve_argnums(argnums: Sequence[int] | None, n: int) -> list[int]:
    """``argnums`` as a list, defaulting to every one of ``n`` positional arguments."""
    return list(range(n)) if argnums is None else list(argnums)


REUSED = "__harness_reused__"
"""The attribute :func:`reused` sets on a function."""


def reused(fn: OpFn) -> OpFn:
    """Mark ``fn`` as one the harness calls again, the same object on new inputs of the
    same few shapes (a model's loss over a property's draws), and pure: a compiling backend
    may compile it once per shape and keep the program (:func:`is_reused`). Returns ``fn``."""
    setattr(fn, REUSED, True)
    return fn


def is_reused(fn: OpFn) -> bool:
    """Whether :func:`reused` marked ``fn``."""
    return bool(getattr(fn, REUSED, False))
