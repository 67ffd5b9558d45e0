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
from pathlib import Path
from typing import Any

import numpy as np

from harness.contract import (
    Backend,
    Capabilities,
    DeviceStatus,
    History,
    OpFn,
    Unsupported,
    is_reused,
    resolve_argnums,
)

DEVICES = ("cpu", "gpu")
"""Device names of this backend's targets (``jax:cpu``, ``jax:gpu``)."""

COMPILATION_CACHE_BYTES = 2 << 30
"""The bound :meth:`JaxBackend.use_compilation_cache` gives JAX's cache (least recently used
entries go first)."""


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


def _partial(fn: OpFn, xs: Sequence[Any], argnums: list[int]) -> Callable[..., Any]:
    """``fn`` as a function of the ``argnums`` arguments, the others fixed at ``xs``."""

    def partial(*diff: Any) -> Any:
        args = list(xs)
        for i, d in zip(argnums, diff, strict=True):
            args[i] = d
        return fn(*args)

    return partial


def _zero_float0(grads: Sequence[Any], xs: Sequence[Any], argnums: list[int]) -> list[Any]:
    """Integer / bool primals get float0 cotangents: zeros of the primal instead (as the
    eager path reports them)."""
    import jax
    import jax.numpy as jnp

    return [
        jnp.zeros_like(xs[i]) if g.dtype == jax.dtypes.float0 else g
        for i, g in zip(argnums, grads, strict=True)
    ]


def _vjp_program(fn: OpFn, argnums: list[int]) -> Callable[..., Any]:
    """``(primals, cotangent) -> (value, VJP)``: what :meth:`JaxBackend.vjp` computes."""
    import jax

    def run(xs: list[Any], ct: Any) -> Any:
        out, pullback = jax.vjp(_partial(fn, xs, argnums), *[xs[i] for i in argnums])
        grads = pullback(ct.astype(out.dtype)) if argnums else ()
        return out, _zero_float0(grads, xs, argnums)

    return run


def _jvp_program(fn: OpFn, argnums: list[int]) -> Callable[..., Any]:
    """``(primals, tangents) -> (value, JVP)``: what :meth:`JaxBackend.jvp` computes."""
    import jax

    def run(xs: list[Any], tans: list[Any]) -> Any:
        diff = tuple(xs[i] for i in argnums)
        return jax.jvp(_partial(fn, xs, argnums), diff, tuple(tans))

    return run


def _vjp_vjp_program(fn: OpFn, argnums: list[int]) -> Callable[..., Any]:
    """``(primals, cotangent, directions) -> d<VJP(v), w>``: :meth:`JaxBackend.vjp_vjp`."""
    import jax
    import jax.numpy as jnp

    def run(xs: list[Any], ct: Any, ws: list[Any]) -> Any:
        partial = _partial(fn, xs, argnums)
        diff = [xs[i] for i in argnums]
        ct = ct.astype(jax.eval_shape(partial, *diff).dtype)

        def inner(*d: Any) -> Any:
            _, pullback = jax.vjp(partial, *d)
            return sum(jnp.sum(g * w) for g, w in zip(pullback(ct), ws, strict=True))

        second = jax.grad(inner, argnums=tuple(range(len(diff))))(*diff)
        return _zero_float0(second, xs, argnums)

    return run


_TRANSFORMS: dict[str, Callable[[OpFn, list[int]], Callable[..., Any]]] = {
    "vjp": _vjp_program,
    "jvp": _jvp_program,
    "vjp_vjp": _vjp_vjp_program,
}
"""The transforms :meth:`JaxBackend._compiled` jits, one program per op."""


class JaxBackend(Backend):
    """JAX: functional autograd (``jax.vjp`` / ``jax.jvp``) and training compiled with
    ``jax.jit`` (by default chunks of epochs with their evaluations as one program; see
    :mod:`~harness.implementations.jax_backend.train`), optimizers from optax with PyTorch's
    rules.
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
        import os

        # A harness run is several processes on one GPU (the command, its pytest, pytest-xdist
        # workers, data-parallel ranks); with JAX's default each would claim 75% of the GPU's
        # memory when it first lists the devices, and the second to start could not allocate.
        # Set before jax is imported; a value the user chose is kept. No effect on the CPU.
        os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
        import jax  # noqa: F401
        import optax  # noqa: F401

    def set_threads(self, n: int) -> dict[str, Any]:
        import os

        # XLA sizes its CPU thread pool when its backend starts (discovery already asked
        # for the devices), so nothing can be changed here; record what XLA was given.
        return {"xla_flags": os.environ.get("XLA_FLAGS"), "pinned_by_harness": False}

    def use_compilation_cache(self, directory: Path) -> bool:
        """JAX's persistent compilation cache in ``directory``, unless the user set one
        (``JAX_COMPILATION_CACHE_DIR`` or ``jax_compilation_cache_dir``), which is kept.

        Process-wide (JAX has one cache), and it changes no result: an entry's key is the
        compiled program, its options and the jax / jaxlib versions. Every program is kept:
        the harness's compile in 0.05-0.5 s each on this 2-core machine, under JAX's
        default threshold of 1 s, and compiling is most of a JAX op check's time (the
        covering cases and derandomized draws repeat the same shapes on every run). A size
        bound turns on JAX's file lock, which pytest-xdist workers writing the same entries
        need (JAX writes an entry unlocked otherwise).
        """
        import jax

        if jax.config.values["jax_compilation_cache_dir"]:
            return True
        jax.config.update("jax_compilation_cache_dir", str(directory))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        if jax.config.values["jax_compilation_cache_max_size"] == -1:
            jax.config.update("jax_compilation_cache_max_size", COMPILATION_CACHE_BYTES)
        return True

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

        # Not jitted here: a jitted op traces its parameters (a conv's padding is then no
        # longer a Python int) and breaks jax.jvp of the pools; the transforms are compiled
        # per op and shape class instead (_compiled), where the parameters are bound.
        return {name: _scoped(fn) for name, fn in build_ops().items()}

    def snippet(self, request: Any) -> str | None:
        from harness.implementations.jax_backend.snippet import render

        return render(request)

    def ops(self) -> Mapping[str, OpFn]:
        return self._ops

    def unsupported_reasons(self) -> Mapping[str, str]:
        return {}

    def _closure(
        self, fn: OpFn, primals: Sequence[np.ndarray], argnums: list[int], device: str
    ) -> tuple[Callable[..., Any], list[Any]]:
        """``fn`` as a function of the ``argnums`` primals only, and those primals."""
        xs = [self.asarray(p, device) for p in primals]
        return _partial(fn, xs, argnums), [xs[i] for i in argnums]

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

    @cached_property
    def _own_ops(self) -> frozenset[int]:
        return frozenset(id(f) for f in self._ops.values())

    def _compiled(self, kind: str, fn: OpFn, argnums: list[int], n: int) -> Any | None:
        """The jitted ``kind`` transform of ``fn`` (one per op, argnums and arity; JAX keeps
        one compilation per shape and dtype under it), or None to run eagerly.

        Only functions with a stable identity are compiled (:meth:`_identity`): this
        backend's own catalog ops, alone or with bound parameters, and functions marked
        :func:`~harness.contract.reused`; a second example of the same shapes reuses the
        compiled program instead of retracing (second order: 4.9 s per op eagerly). Any
        other function (a composed program) is new on every call, where a compilation would
        only add its cost. A function that cannot be traced (it needs concrete values) runs
        eagerly from then on.
        """
        which = self._identity(fn)
        key = (kind, which, tuple(argnums), n)
        if which is None or key in self._eager:
            return None
        if key not in self._jitted:
            import jax

            # The function is kept beside its program: its id is not reused while it lives.
            self._jitted[key] = (fn, jax.jit(_TRANSFORMS[kind](fn, argnums)))
        return self._jitted[key][1]

    def _identity(self, fn: OpFn) -> Any:
        """What identifies ``fn``'s compiled programs, or None where it is not compiled:
        one of this backend's ops; an op with its parameters bound by ``functools.partial``
        (the oracles bind ``stride``, ``eps``, ...: a new partial per call, the same op and
        the same values), the values being part of the program; a function the harness
        marks as :func:`~harness.contract.reused` (a model's loss)."""
        if id(fn) in self._own_ops:
            return id(fn)
        if isinstance(fn, functools.partial) and not fn.args and id(fn.func) in self._own_ops:
            key = (id(fn.func), tuple(sorted(fn.keywords.items())))
            try:
                hash(key)
            except TypeError:  # a parameter value that is not hashable: run eagerly
                return None
            return key
        return id(fn) if is_reused(fn) else None

    @cached_property
    def _jitted(self) -> dict[tuple[Any, ...], Any]:
        return {}

    @cached_property
    def _eager(self) -> set[tuple[Any, ...]]:
        return set()

    def _run_compiled(self, kind: str, fn: OpFn, argnums: list[int], args: tuple[Any, ...]) -> Any:
        """``_compiled(...)(*args)``, or None when it runs eagerly (see :meth:`_compiled`)."""
        import jax

        n = len(args[0])
        compiled = self._compiled(kind, fn, argnums, n)
        if compiled is None:
            return None
        try:
            return compiled(*args)
        except (
            jax.errors.ConcretizationTypeError,
            jax.errors.TracerArrayConversionError,
            jax.errors.TracerIntegerConversionError,
        ):
            self._eager.add((kind, self._identity(fn), tuple(argnums), n))
            return None

    def vjp(self, fn, primals, cotangent, *, device, argnums=None):
        import jax
        import jax.numpy as jnp

        argnums = resolve_argnums(argnums, len(primals))
        with scope():
            xs = [self.asarray(p, device) for p in primals]
            ct_in = jax.device_put(np.asarray(cotangent), jax_device(device))
            done = self._run_compiled("vjp", fn, argnums, (xs, ct_in))
            if done is not None:
                out, grads = done
                return self.to_numpy(out), [self.to_numpy(g) for g in grads]
            partial, diff = self._closure(fn, primals, argnums, device)
            out, pullback = jax.vjp(partial, *diff)
            ct = jax.device_put(jnp.asarray(cotangent, dtype=out.dtype), jax_device(device))
            grads = pullback(ct) if diff else ()
            return self.to_numpy(out), self._grads_to_numpy(grads, primals, argnums)

    def jvp(self, fn, primals, tangents, *, device, argnums=None):
        import jax

        argnums = resolve_argnums(argnums, len(primals))
        with scope():
            tans = [self.asarray(t, device) for t in tangents]
            xs = [self.asarray(p, device) for p in primals]
            done = self._run_compiled("jvp", fn, argnums, (xs, tans))
            if done is None:
                partial, diff = self._closure(fn, primals, argnums, device)
                done = jax.jvp(partial, tuple(diff), tuple(tans))
            out, tan = done
            return self.to_numpy(out), self.to_numpy(tan)

    def vjp_vjp(self, fn, primals, cotangent, direction, *, device, argnums=None):
        import jax
        import jax.numpy as jnp

        argnums = resolve_argnums(argnums, len(primals))
        with scope():
            if not argnums:
                return []
            ws = [self.asarray(w, device) for w in direction]
            xs = [self.asarray(p, device) for p in primals]
            ct_in = jax.device_put(np.asarray(cotangent), jax_device(device))
            done = self._run_compiled("vjp_vjp", fn, argnums, (xs, ct_in, ws))
            if done is not None:
                return [self.to_numpy(g) for g in done]
            partial, diff = self._closure(fn, primals, argnums, device)
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
