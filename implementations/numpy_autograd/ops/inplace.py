"""In-place ops (``add_``, ``mul_``, ``clamp_``, ``x[i] = v``...).

Without a graph the op writes into the array. With one (grad mode on and a tensor requires
grad) it is recorded out of place and the tensor is re-pointed at the result, PyTorch's
"rebase history"; doing that to a leaf that requires grad is PyTorch's error. Either way
the tensor's version is bumped, so a backward that saved the old value refuses to run.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from .. import dtypes, grad_mode, views
from ..tensor import Tensor
from .arithmetic import add, div, mul, pow, sub
from .core import _make, _operand, _record
from .elementwise import clamp, leaky_relu, neg, relu
from .shapes import _setitem_op, cast, index_key


def _inplace(t: Tensor, op: Any, write: Any, *args: Any) -> Tensor:
    """Apply ``op(t, *args)`` to ``t`` in place.

    Without a graph, ``write(array, *arrays_or_scalars)`` writes into ``t``'s array. With a
    graph, ``op`` is recorded out of place on a snapshot of ``t`` (its VJP may need the old
    value), the result is written into ``t``'s memory (so views see it) and ``t`` takes the
    result's history. When ``t`` is a view, its base takes ``write_back(base, result)`` as
    its history (see :mod:`..views`).
    """
    _check_writable(t._data)
    args = tuple(a if a is None else _operand(a) for a in args)
    view = t._view
    base = t if view is None else view.base
    graph = grad_mode.enabled and (
        t._requires_grad
        or base._requires_grad
        or builtins.any(isinstance(a, Tensor) and a._requires_grad for a in args)
    )
    if graph:
        _rebase(t, base, op, args)
    else:
        _write(t, base, write, args)
    t._version += 1
    if view is not None:
        base._version += 1
        if graph:
            views.rederive(t)
    return t


def _check_writable(d: np.ndarray) -> None:
    """PyTorch's errors for writing into broadcast (stride-0) or read-only memory."""
    if not d.flags.writeable:
        raise RuntimeError(
            "unsupported operation: more than one element of the written-to tensor refers to a "
            "single memory location. Please clone() the tensor before performing the operation."
            if 0 in d.strides and d.size > 1
            else "the tensor's memory is read-only; clone() it before an in-place operation"
        )


def _rebase(t: Tensor, base: Tensor, op: Any, args: tuple[Any, ...]) -> None:
    """The graph path: record ``op`` out of place, write the result into ``base``'s memory
    and give ``base`` its history (PyTorch's "rebase history")."""
    view = t._view
    if (t._node is None and t._requires_grad) or (base._node is None and base._requires_grad):
        raise RuntimeError(
            "a leaf Variable that requires grad is being used in an in-place operation."
            if view is None
            else "a view of a leaf Variable that requires grad is being used in an "
            "in-place operation."
        )
    if view is not None:
        views.refresh(t)
    res = _fit(op(_snapshot(t), *args), t)
    new_base = res if view is None else view.write_back(_snapshot(base), res)
    if base._node is not None:
        base._node.out_stale = True
    np.copyto(base._data, new_base._data)
    base._node, base._requires_grad = new_base._node, new_base._requires_grad


def _fit(res: Tensor, t: Tensor) -> Tensor:
    """``res`` cast to ``t``'s dtype, or PyTorch's error when a float result would go into an
    integer tensor or the result's shape is not ``t``'s."""
    if res._data.dtype != t._data.dtype:
        if res._data.dtype.kind == "f" and t._data.dtype.kind != "f":
            raise RuntimeError(
                f"result type {dtypes.name(res.dtype)} can't be cast to the desired output "
                f"type {dtypes.name(t.dtype)}"
            )
        res = cast(res, t._data.dtype)
    if res._data.shape != t._data.shape:
        raise RuntimeError(
            f"output with shape {list(t._data.shape)} doesn't match the broadcast shape "
            f"{list(res._data.shape)}"
        )
    return res


def _write(t: Tensor, base: Tensor, write: Any, args: tuple[Any, ...]) -> None:
    """The no-graph path: ``write`` into ``t``'s array, NumPy's errors as PyTorch's."""
    raw = [a._data if isinstance(a, Tensor) else a for a in args]
    try:
        write(t._data, *raw)
    except TypeError as e:  # NumPy's UFuncTypeError: float into an integer tensor
        if "Cannot cast" not in str(e):
            raise
        kind = {"b": "Bool", "i": "Long"}.get(t._data.dtype.kind, str(t._data.dtype))
        raise RuntimeError(
            f"result type Float can't be cast to the desired output type {kind}"
        ) from None
    except ValueError as e:
        if "broadcast" in str(e):
            raise RuntimeError(
                f"output with shape {list(t._data.shape)} doesn't match the broadcast shape "
                f"of {[list(np.shape(r)) for r in raw if r is not None]}"
            ) from None
        raise
    for u in (t, base):
        if u._node is not None:
            u._node.out_stale = True


def _snapshot(t: Tensor) -> Tensor:
    """A copy of ``t``'s value with ``t``'s history: what an in-place op's node saves."""
    s = _make(t._data.copy(), t._node)
    s._requires_grad = t._requires_grad
    return s


def add_(self: Tensor, other: Any, *, alpha: float = 1) -> Tensor:
    """In-place ``self += alpha * other``."""
    if alpha != 1:
        other = mul(other, alpha) if isinstance(other, Tensor) else other * alpha
    return _inplace(self, add, lambda d, o: np.add(d, o, out=d), other)


def sub_(self: Tensor, other: Any, *, alpha: float = 1) -> Tensor:
    """In-place ``self -= alpha * other``."""
    if alpha != 1:
        other = mul(other, alpha) if isinstance(other, Tensor) else other * alpha
    return _inplace(self, sub, lambda d, o: np.subtract(d, o, out=d), other)


def mul_(self: Tensor, other: Any) -> Tensor:
    """In-place ``self *= other``."""
    return _inplace(self, mul, lambda d, o: np.multiply(d, o, out=d), other)


def div_(self: Tensor, other: Any) -> Tensor:
    """In-place ``self /= other``."""
    return _inplace(self, div, lambda d, o: np.divide(d, o, out=d), other)


def pow_(self: Tensor, exponent: Any) -> Tensor:
    """In-place ``self **= exponent``."""
    return _inplace(self, pow, lambda d, o: np.power(d, o, out=d), exponent)


def neg_(self: Tensor) -> Tensor:
    """In-place negation."""
    return _inplace(self, neg, lambda d: np.negative(d, out=d))


def relu_(self: Tensor) -> Tensor:
    """In-place :func:`relu`."""
    return _inplace(self, relu, lambda d: np.maximum(d, 0, out=d))


def leaky_relu_(self: Tensor, negative_slope: float = 0.01) -> Tensor:
    """In-place :func:`leaky_relu`."""
    return _inplace(
        self,
        lambda a: leaky_relu(a, negative_slope),
        lambda d: np.copyto(d, np.where(d > 0, d, d * negative_slope)),
    )


def clamp_(self: Tensor, min: float | None = None, max: float | None = None) -> Tensor:
    """In-place :func:`clamp`."""
    return _inplace(
        self,
        lambda a, lo, hi: clamp(a, lo, hi),
        lambda d, lo, hi: np.clip(d, lo, hi, out=d),
        min,
        max,
    )


def _fill_op(a: Tensor, value: Any) -> Tensor:
    v = value._data if isinstance(value, Tensor) else value
    return _record("fill", np.full_like(a._data, v), (a,))


def fill_(self: Tensor, value: Any) -> Tensor:
    """Set every element to ``value``."""
    return _inplace(self, _fill_op, lambda d, v: d.fill(v), value)


def zero_(self: Tensor) -> Tensor:
    """Set every element to 0."""
    return fill_(self, 0)


def _copy_op(a: Tensor, src: Tensor) -> Tensor:
    out = np.array(np.broadcast_to(src._data, a._data.shape), dtype=a._data.dtype)
    return _record("copy", out, (a, src))


def copy_(self: Tensor, src: Any) -> Tensor:
    """Copy ``src`` (broadcast, cast) into ``self``."""
    return _inplace(self, _copy_op, lambda d, s: np.copyto(d, s, casting="unsafe"), src)


def setitem(self: Tensor, key: Any, value: Any) -> None:
    """``self[key] = value`` (differentiable with respect to both, as in PyTorch)."""
    k, advanced = index_key(key)

    def write(d: np.ndarray, v: Any) -> None:
        d[k] = v

    _inplace(self, _setitem_op(k, advanced), write, value)


def uniform_(self: Tensor, a: float = 0.0, b: float = 1.0, *, generator: Any = None) -> Tensor:
    """Fill with uniform samples from ``[a, b)`` (seeded by the engine's generator)."""
    from .. import random

    rng = random.numpy_rng(generator)
    vals = rng.uniform(a, b, size=self._data.shape)
    return _inplace(self, _fill_op, lambda d, v: np.copyto(d, v, casting="unsafe"), _make(vals))


def normal_(self: Tensor, mean: float = 0.0, std: float = 1.0, *, generator: Any = None) -> Tensor:
    """Fill with normal samples (seeded by the engine's generator)."""
    from .. import random

    rng = random.numpy_rng(generator)
    vals = rng.normal(mean, std, size=self._data.shape)
    return _inplace(self, _fill_op, lambda d, v: np.copyto(d, v, casting="unsafe"), _make(vals))
