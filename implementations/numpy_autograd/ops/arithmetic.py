"""Elementwise arithmetic and comparisons with broadcasting and PyTorch's promotion."""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from .. import dtypes
from ..tensor import Tensor
from .core import _binary, _make, _operand, _promote, _record, _scalar_category, broadcast_error


def add(input: Any, other: Any, *, alpha: float = 1) -> Tensor:
    """``input + alpha * other`` with broadcasting."""
    if alpha != 1:
        other = mul(other, alpha)
    return _binary("add", np.add, input, other)


def sub(input: Any, other: Any, *, alpha: float = 1) -> Tensor:
    """``input - alpha * other`` with broadcasting."""
    if alpha != 1:
        other = mul(other, alpha)
    return _binary("sub", np.subtract, input, other)


def mul(input: Any, other: Any) -> Tensor:
    """``input * other`` with broadcasting."""
    return _binary("mul", np.multiply, input, other)


def div(input: Any, other: Any, *, rounding_mode: str | None = None) -> Tensor:
    """True division (integers give the default float dtype); ``rounding_mode`` ``"floor"``
    or ``"trunc"`` gives a non-differentiable rounded quotient."""
    a, b = _operand(input), _operand(other)
    ad, bd = _promote(a, b)
    if rounding_mode is not None:
        if rounding_mode not in ("floor", "trunc"):
            raise ValueError(
                f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
                f"{rounding_mode!r}"
            )
        q = np.floor_divide(ad, bd) if rounding_mode == "floor" else np.trunc(np.divide(ad, bd))
        return _make(np.asarray(q).astype(np.result_type(ad, bd), copy=False))
    if np.result_type(ad, bd).kind != "f":
        f = dtypes.get_default_dtype()
        ad = ad.astype(f) if isinstance(ad, np.ndarray) else ad
        bd = bd.astype(f) if isinstance(bd, np.ndarray) else bd
    try:
        out = np.divide(ad, bd)
    except ValueError:
        raise broadcast_error(ad, bd) from None
    return _record("div", out, (a, b))


def true_divide(input: Any, other: Any) -> Tensor:
    """Same as :func:`div`."""
    return div(input, other)


def floor_divide(input: Any, other: Any) -> Tensor:
    """Floor division (not differentiable)."""
    return div(input, other, rounding_mode="floor")


def remainder(input: Any, other: Any) -> Tensor:
    """Python-style remainder (not differentiable)."""
    ad, bd = _promote(_operand(input), _operand(other))
    return _make(np.asarray(np.remainder(ad, bd)))


def pow(input: Any, exponent: Any) -> Tensor:
    """``input ** exponent``; either may be a Python scalar."""
    a, b = _operand(input), _operand(exponent)
    if not isinstance(b, Tensor):
        ad, _ = _promote(a, b)
        return _record("pow_scalar", np.power(ad, b), (a,), b)
    if not isinstance(a, Tensor):
        _, bd = _promote(a, b)
        return _record("rpow", np.power(a, bd), (b,), a)
    return _binary("pow", np.power, a, b)


def maximum(input: Tensor, other: Any) -> Tensor:
    """Elementwise maximum (ties split the gradient in half, as PyTorch does)."""
    return _binary("maximum", np.maximum, input, other)


def minimum(input: Tensor, other: Any) -> Tensor:
    """Elementwise minimum (ties split the gradient in half, as PyTorch does)."""
    return _binary("minimum", np.minimum, input, other)


def _compare(fn: Any, a: Any, b: Any) -> Tensor:
    ad, bd = _promote(_operand(a), _operand(b))
    try:
        return _make(np.asarray(fn(ad, bd)))
    except ValueError:
        raise broadcast_error(ad, bd) from None


def eq(input: Any, other: Any) -> Tensor:
    """Elementwise ``==`` (bool tensor)."""
    return _compare(np.equal, input, other)


def ne(input: Any, other: Any) -> Tensor:
    """Elementwise ``!=`` (bool tensor)."""
    return _compare(np.not_equal, input, other)


def lt(input: Any, other: Any) -> Tensor:
    """Elementwise ``<`` (bool tensor)."""
    return _compare(np.less, input, other)


def le(input: Any, other: Any) -> Tensor:
    """Elementwise ``<=`` (bool tensor)."""
    return _compare(np.less_equal, input, other)


def gt(input: Any, other: Any) -> Tensor:
    """Elementwise ``>`` (bool tensor)."""
    return _compare(np.greater, input, other)


def ge(input: Any, other: Any) -> Tensor:
    """Elementwise ``>=`` (bool tensor)."""
    return _compare(np.greater_equal, input, other)


def logical_and(input: Any, other: Any) -> Tensor:
    """Elementwise logical and (bool tensor)."""
    return _compare(np.logical_and, input, other)


def logical_or(input: Any, other: Any) -> Tensor:
    """Elementwise logical or (bool tensor)."""
    return _compare(np.logical_or, input, other)


def logical_not(input: Tensor) -> Tensor:
    """Elementwise logical not (bool tensor)."""
    return _make(np.asarray(np.logical_not(input._data)))


def where(condition: Any, input: Any = None, other: Any = None) -> Any:
    """``input`` where ``condition`` holds, else ``other`` (broadcasting all three); either
    may be a Python number. ``where(condition)`` alone is ``nonzero(condition, as_tuple=True)``.
    """
    c = condition if isinstance(condition, Tensor) else _make(np.asarray(condition))
    if input is None and other is None:
        return tuple(_make(i.astype(dtypes.int64)) for i in np.nonzero(c._data))
    if c._data.dtype != dtypes.bool_:
        raise TypeError(
            f"where expected condition to be a boolean tensor, got {dtypes.name(c.dtype)}"
        )
    a, b = _operand(input), _operand(other)
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        # Two numbers: PyTorch's result is bool, int64 or the default float dtype.
        kind = builtins.max(_scalar_category(a), _scalar_category(b))
        dtype = (dtypes.bool_, dtypes.int64, dtypes.get_default_dtype())[kind]
        a = _make(np.asarray(a, dtype=dtype))
    ad, bd = _promote(a, b)
    try:
        out = np.where(c._data, ad, bd)
    except ValueError:
        raise broadcast_error(c._data, np.broadcast_shapes(np.shape(ad), np.shape(bd))) from None
    return _record("where", out, (c, a, b))
