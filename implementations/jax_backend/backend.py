"""JAX implementation of the harness contract: ``jax:cpu`` and ``jax:gpu``.

64-bit mode, scoped
-------------------
JAX keeps float64 off by default (``jax_enable_x64``); turning the global flag on would
change every other piece of JAX code in the process (a ``jnp.ones(3)`` elsewhere would
become float64). This backend never touches the global flag. Every method that creates,
transforms or computes JAX arrays runs inside :func:`scope`, which enters the thread-local
context managers ``jax.enable_x64(True)`` and ``jax.default_matmul_precision("highest")``
and restores both on exit. Inside the scope float32 data stays float32 (dtypes are explicit
everywhere) and int64 indices stay int64; outside it, other code sees JAX exactly as it was.
The functions returned by :meth:`JaxBackend.ops` enter the scope themselves, so a float64
op called directly by harness code still computes in float64.

``default_matmul_precision("highest")`` matters on GPU only: there JAX's default float32
matmul uses TF32 (10-bit mantissa), which the PyTorch backend also disables for parity.

Autograd is functional: ``jax.vjp`` for reverse mode, ``jax.jvp`` for forward mode, and
second order by differentiating ``<vjp(v), w>`` again with ``jax.grad``.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
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

DEVICES = ("cpu", "gpu")
"""Device names of this backend's targets (``jax:cpu``, ``jax:gpu``)."""


@contextlib.contextmanager
def scope() -> Iterator[None]:
    """64-bit types and full-precision matmuls for the enclosed code, on this thread only."""
    import jax

    with jax.enable_x64(True), jax.default_matmul_precision("highest"):
        yield


def _scoped(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **params: Any) -> Any:
        with scope():
            return fn(*args, **params)

    return wrapper


def jax_device(device: str) -> Any:
    """The first ``jax.Device`` of platform ``device`` (``cpu`` or ``gpu``).

    Raises :class:`Unsupported` naming the valid devices, or with JAX's own reason when the
    platform is absent.
    """
    import jax

    if device not in DEVICES:
        raise Unsupported(f"unknown jax device {device!r}; valid devices: {', '.join(DEVICES)}")
    try:
        return jax.devices(device)[0]
    except RuntimeError as e:
        raise Unsupported(f"jax:{device} is not available: {e}") from None


class JaxBackend(Backend):
    """JAX: functional autograd (``jax.vjp`` / ``jax.jvp``) and training compiled with
    ``jax.jit``, one ``lax.scan`` per epoch, optimizers from optax with PyTorch's rules.
    """

    name = "jax"
    capabilities = Capabilities(
        dtypes=("float32", "float64"),
        jvp=True,
        second_order=True,
        training=True,
        compiled=True,
        reference_priority=10,
        data_parallel="shard",
        world_sizes=(2,),
        optimizer_step=True,
    )

    def load(self) -> None:
        import jax  # noqa: F401
        import optax  # noqa: F401

    def set_threads(self, n: int) -> dict[str, Any]:
        import os

        # XLA sizes its CPU thread pool when its backend starts (discovery already asked
        # for the devices), so nothing can be changed here; record what XLA was given.
        return {"xla_flags": os.environ.get("XLA_FLAGS"), "pinned_by_harness": False}

    def version(self) -> str:
        import jax

        return str(jax.__version__)

    def devices(self) -> list[DeviceStatus]:
        statuses = []
        for device in DEVICES:
            try:
                jax_device(device)
            except Unsupported as e:
                statuses.append(DeviceStatus(device, False, str(e)))
            else:
                statuses.append(DeviceStatus(device, True))
        return statuses

    def sync(self, device: str) -> None:
        import jax

        platform = jax_device(device).platform
        # JAX has no per-device barrier: wait for every live array placed on that platform.
        for a in jax.live_arrays():
            if any(d.platform == platform for d in a.devices()):
                a.block_until_ready()

    # -- tensors -----------------------------------------------------------------
    def asarray(self, x: np.ndarray, device: str) -> Any:
        import jax

        with scope():
            return jax.device_put(np.asarray(x), jax_device(device))

    def to_numpy(self, x: Any) -> np.ndarray:
        return np.array(x, copy=True)

    # -- ops and autograd ----------------------------------------------------------
    @cached_property
    def _ops(self) -> dict[str, OpFn]:
        from harness.implementations.jax_backend.ops import build_ops

        return {name: _scoped(fn) for name, fn in build_ops().items()}

    def ops(self) -> Mapping[str, OpFn]:
        return self._ops

    def unsupported_reasons(self) -> Mapping[str, str]:
        return {}

    def _closure(
        self, fn: OpFn, primals: Sequence[np.ndarray], argnums: list[int], device: str
    ) -> tuple[Callable[..., Any], list[Any]]:
        """``fn`` as a function of the ``argnums`` primals only, and those primals."""
        xs = [self.asarray(p, device) for p in primals]

        def partial(*diff: Any) -> Any:
            args = list(xs)
            for i, d in zip(argnums, diff, strict=True):
                args[i] = d
            return fn(*args)

        return partial, [xs[i] for i in argnums]

    def _grads_to_numpy(
        self, grads: Sequence[Any], primals: Sequence[np.ndarray], argnums: list[int]
    ) -> list[np.ndarray]:
        import jax

        out = []
        for i, g in zip(argnums, grads, strict=True):
            # Integer / bool primals get float0 cotangents: report zeros of the primal's shape.
            if g.dtype == jax.dtypes.float0:
                out.append(np.zeros_like(primals[i]))
            else:
                out.append(self.to_numpy(g))
        return out

    def vjp(self, fn, primals, cotangent, *, device, argnums=None):
        import jax
        import jax.numpy as jnp

        argnums = resolve_argnums(argnums, len(primals))
        with scope():
            partial, diff = self._closure(fn, primals, argnums, device)
            out, pullback = jax.vjp(partial, *diff)
            ct = jax.device_put(jnp.asarray(cotangent, dtype=out.dtype), jax_device(device))
            grads = pullback(ct) if diff else ()
            return self.to_numpy(out), self._grads_to_numpy(grads, primals, argnums)

    def jvp(self, fn, primals, tangents, *, device, argnums=None):
        import jax

        argnums = resolve_argnums(argnums, len(primals))
        with scope():
            partial, diff = self._closure(fn, primals, argnums, device)
            tans = [self.asarray(t, device) for t in tangents]
            out, tan = jax.jvp(partial, tuple(diff), tuple(tans))
            return self.to_numpy(out), self.to_numpy(tan)

    def vjp_vjp(self, fn, primals, cotangent, direction, *, device, argnums=None):
        import jax
        import jax.numpy as jnp

        argnums = resolve_argnums(argnums, len(primals))
        with scope():
            partial, diff = self._closure(fn, primals, argnums, device)
            if not diff:
                return []
            ws = [self.asarray(w, device) for w in direction]
            out_dtype = jax.eval_shape(partial, *diff).dtype
            ct = jax.device_put(jnp.asarray(cotangent, dtype=out_dtype), jax_device(device))

            def inner(*d: Any) -> Any:
                _, pullback = jax.vjp(partial, *d)
                return sum(jnp.sum(g * w) for g, w in zip(pullback(ct), ws, strict=True))

            second = jax.grad(inner, argnums=tuple(range(len(diff))))(*diff)
            return self._grads_to_numpy(second, primals, argnums)

    def optimizer_step(self, spec, params, grads, state, *, device):
        from harness.implementations.jax_backend.train import optimizer_step

        return optimizer_step(spec, list(params), list(grads), state, device)

    # -- training ----------------------------------------------------------------------
    def train(self, workload, *, device, on_epoch=None):
        from harness.implementations.jax_backend.train import train

        history: History = train(workload, device, on_epoch=on_epoch)
        return history

    def data_parallel_status(self, device: str, world_size: int) -> DeviceStatus:
        from harness.implementations.jax_backend import shard

        return shard.status(device, world_size)

    def train_data_parallel(self, workload, *, device, world_size, timeout_s, on_epoch=None):
        from harness.implementations.jax_backend import shard

        return shard.train(workload, device, world_size, timeout_s=timeout_s, on_epoch=on_epoch)
