"""Reductions: sums, means, variances, extrema, norms and the softmax family."""

from __future__ import annotations

import builtins
import math
from collections import namedtuple
from typing import Any

import numpy as np

from .. import dtypes
from ..tensor import Tensor
from .arithmetic import maximum, minimum, pow
from .core import _alias, _axes, _floating, _make, _record, norm_dim
from .elementwise import abs, sqrt

max_result = namedtuple("max_result", ["values", "indices"])
min_result = namedtuple("min_result", ["values", "indices"])


def sum(
    input: Tensor,
    dim: Any = None,
    keepdim: bool = False,
    *,
    dtype: Any = None,
    axis: Any = None,
    keepdims: Any = None,
) -> Tensor:
    """Sum over ``dim`` (all dims by default); bool and int sum to int64."""
    dim, keepdim = _alias(dim, axis, keepdim, keepdims)
    xd = input._data
    axes = _axes(dim, xd.ndim)
    if dtype is not None:
        xd = xd.astype(dtypes.canonical(dtype), copy=False)
    elif xd.dtype.kind == "b":
        xd = xd.astype(dtypes.int64)
    return _record("sum", np.sum(xd, axis=axes, keepdims=keepdim), (input,), (axes, keepdim))


def mean(
    input: Tensor,
    dim: Any = None,
    keepdim: bool = False,
    *,
    dtype: Any = None,
    axis: Any = None,
    keepdims: Any = None,
) -> Tensor:
    """Mean over ``dim`` (all dims by default); floating tensors only, as in PyTorch."""
    dim, keepdim = _alias(dim, axis, keepdim, keepdims)
    xd = input._data if dtype is None else input._data.astype(dtypes.canonical(dtype))
    if xd.dtype.kind != "f":
        raise RuntimeError(
            "mean(): could not infer output dtype. Input dtype must be either a floating point "
            f"or complex dtype. Got: {dtypes.name(xd.dtype)}"
        )
    axes = _axes(dim, xd.ndim)
    count = xd.size if axes is None else math.prod(xd.shape[a] for a in axes)
    out = np.sum(xd, axis=axes, keepdims=keepdim) / count
    return _record("mean", out, (input,), (axes, keepdim))


def var(
    input: Tensor,
    dim: Any = None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    *,
    correction: float | None = None,
    axis: Any = None,
    keepdims: Any = None,
) -> Tensor:
    """Variance over ``dim`` with ``correction`` (default 1: unbiased, PyTorch's default)."""
    if isinstance(dim, builtins.bool):  # legacy var(unbiased)
        unbiased, dim = dim, None
    dim, keepdim = _alias(dim, axis, keepdim, keepdims)
    if correction is None:
        correction = 0 if unbiased is False else 1
    xd = _floating(input._data)
    axes = _axes(dim, xd.ndim)
    out = np.var(xd, axis=axes, ddof=correction, keepdims=keepdim)
    return _record("var", out, (input,), (axes, correction, keepdim))


def std(
    input: Tensor,
    dim: Any = None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    *,
    correction: float | None = None,
) -> Tensor:
    """Standard deviation: ``sqrt(var(...))``."""
    return sqrt(var(input, dim, unbiased, keepdim, correction=correction))


def _extreme(name: str, input: Tensor, dim: Any, keepdim: bool) -> Any:
    if isinstance(dim, Tensor):  # torch.max(a, b) is the elementwise maximum
        return (maximum if name == "max" else minimum)(input, dim)
    xd = input._data
    reduce, arg = (np.max, np.argmax) if name == "max" else (np.min, np.argmin)
    if dim is None:
        if xd.size == 0:
            raise RuntimeError(
                f"{name}(): Expected reduction dim to be specified for input.numel() == 0."
            )
        return _record(name, reduce(xd), (input,))
    ax = norm_dim(dim, xd.ndim)
    if xd.ndim == 0:
        return (max_result if name == "max" else min_result)(
            _record("clone", xd.copy(), (input,)), _make(np.zeros((), dtypes.int64))
        )
    idx = arg(xd, axis=ax, keepdims=True)
    values = np.take_along_axis(xd, idx, axis=ax)
    if not keepdim:
        values, idx = values.squeeze(ax), idx.squeeze(ax)
    node_idx = idx if keepdim else np.expand_dims(idx, ax)
    v = _record(f"{name}_dim", values, (input,), (ax, keepdim, node_idx))
    return (max_result if name == "max" else min_result)(v, _make(idx.astype(dtypes.int64)))


def max(input: Tensor, dim: Any = None, keepdim: bool = False) -> Any:
    """Global max; with ``dim`` a ``(values, indices)`` pair; with a tensor, the maximum."""
    return _extreme("max", input, dim, keepdim)


def min(input: Tensor, dim: Any = None, keepdim: bool = False) -> Any:
    """Global min; with ``dim`` a ``(values, indices)`` pair; with a tensor, the minimum."""
    return _extreme("min", input, dim, keepdim)


def amax(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Max values over ``dim`` (an int or a tuple; all by default). Unlike ``max(dim)``,
    tied maxima share the gradient evenly, as PyTorch's amax."""
    return _amax_amin("amax", np.max, input, dim, keepdim)


def amin(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Min values over ``dim``, tied minima sharing the gradient (see :func:`amax`)."""
    return _amax_amin("amin", np.min, input, dim, keepdim)


def _amax_amin(op: str, fn: Any, input: Tensor, dim: Any, keepdim: bool) -> Tensor:
    xd = input._data
    axes = _axes(dim, xd.ndim)
    if xd.size == 0:
        raise IndexError(f"{op}(): Expected reduction dim to be specified for input.numel() == 0.")
    return _record(op, np.asarray(fn(xd, axis=axes, keepdims=keepdim)), (input,), axes)


def argmax(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the (first) largest element, flat or along ``dim``."""
    xd = input._data
    if dim is None:
        return _make(np.asarray(np.argmax(xd), dtype=dtypes.int64))
    out = np.argmax(xd, axis=norm_dim(dim, xd.ndim), keepdims=keepdim)
    return _make(np.asarray(out, dtype=dtypes.int64))


def argmin(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the (first) smallest element, flat or along ``dim``."""
    xd = input._data
    if dim is None:
        return _make(np.asarray(np.argmin(xd), dtype=dtypes.int64))
    out = np.argmin(xd, axis=norm_dim(dim, xd.ndim), keepdims=keepdim)
    return _make(np.asarray(out, dtype=dtypes.int64))


def all(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """True where every element is non-zero."""
    axes = _axes(dim, input.ndim)
    return _make(np.asarray(np.all(input._data, axis=axes, keepdims=keepdim)))


def any(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """True where some element is non-zero."""
    axes = _axes(dim, input.ndim)
    return _make(np.asarray(np.any(input._data, axis=axes, keepdims=keepdim)))


def logsumexp_array(xd: np.ndarray, axes: tuple[int, ...] | None) -> np.ndarray:
    """``log(sum(exp(x)))`` over ``axes`` with keepdims, shifted by the (finite) max."""
    m = np.max(xd, axis=axes, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    return np.log(np.sum(np.exp(xd - m), axis=axes, keepdims=True)) + m


def logsumexp(input: Tensor, dim: Any, keepdim: bool = False) -> Tensor:
    """``log(sum(exp(input)))`` over ``dim``, computed stably."""
    xd = _floating(input._data)
    if xd.ndim == 0:
        return _record("clone", xd.copy(), (input,))
    axes = _axes(dim, xd.ndim)
    out = logsumexp_array(xd, axes)
    if not keepdim:
        out = out.reshape(_reduced_shape(xd.shape, axes))
    return _record("logsumexp", out, (input,), (axes, keepdim))


def _reduced_shape(shape: tuple[int, ...], axes: tuple[int, ...] | None) -> tuple[int, ...]:
    return () if axes is None else tuple(n for i, n in enumerate(shape) if i not in axes)


def softmax_array(xd: np.ndarray, ax: int) -> np.ndarray:
    """Softmax of an array along ``ax`` (shifted by the max)."""
    e = xd - np.max(xd, axis=ax, keepdims=True)
    np.exp(e, out=e)
    e /= np.sum(e, axis=ax, keepdims=True)
    return e


def softmax(input: Tensor, dim: int, dtype: Any = None) -> Tensor:
    """``exp(x) / sum(exp(x))`` along ``dim``."""
    xd = _floating(input._data if dtype is None else input._data.astype(dtypes.canonical(dtype)))
    if xd.ndim == 0:
        return _record("mul", np.ones_like(xd), (input, 0.0))
    ax = norm_dim(dim, xd.ndim)
    return _record("softmax", softmax_array(xd, ax), (input,), ax)


def log_softmax(input: Tensor, dim: int, dtype: Any = None) -> Tensor:
    """``x - logsumexp(x)`` along ``dim``."""
    xd = _floating(input._data if dtype is None else input._data.astype(dtypes.canonical(dtype)))
    if xd.ndim == 0:
        return _record("mul", np.zeros_like(xd), (input, 0.0))
    ax = norm_dim(dim, xd.ndim)
    s = xd - np.max(xd, axis=ax, keepdims=True)
    out = s - np.log(np.sum(np.exp(s), axis=ax, keepdims=True))
    return _record("log_softmax", out, (input,), ax)


def norm(input: Tensor, p: float = 2, dim: Any = None, keepdim: bool = False) -> Tensor:
    """The ``p``-norm (2 by default) over ``dim`` (all elements by default)."""
    if p == 2:
        return sqrt(sum(input * input, dim, keepdim))
    return pow(sum(pow(abs(input), p), dim, keepdim), 1.0 / p)


def cumsum(input: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    """Inclusive prefix sums along ``dim``."""
    xd = input._data if dtype is None else input._data.astype(dtypes.canonical(dtype))
    if xd.dtype.kind == "b":
        xd = xd.astype(dtypes.int64)
    if xd.ndim == 0:
        return _record("clone", xd.copy(), (input,))
    ax = norm_dim(dim, xd.ndim)
    return _record("cumsum", np.cumsum(xd, axis=ax), (input,), ax)


def prod(input: Tensor, dim: int | None = None, keepdim: bool = False, *, dtype: Any = None) -> Any:
    """Product of the elements (all, flattened, by default; else along ``dim``)."""
    if dim is None:
        from .shapes import reshape

        return prod(reshape(input, (-1,)), 0, dtype=dtype)
    xd = input._data if dtype is None else input._data.astype(dtypes.canonical(dtype))
    if xd.ndim == 0:
        return _record("clone", xd.copy(), (input,))
    ax = norm_dim(dim, xd.ndim)
    return _record("prod", np.prod(xd, axis=ax, keepdims=keepdim), (input,), (ax, keepdim))


def prod_others_array(xd: np.ndarray, ax: int) -> np.ndarray:
    """Per element, the product of the other elements along ``ax`` (exclusive prefix times
    exclusive suffix products: exact where elements are 0, no division)."""
    n = xd.shape[ax]
    if n == 0:
        return np.ones_like(xd)
    ones = np.ones_like(np.take(xd, [0], axis=ax))
    left = np.cumprod(np.concatenate([ones, np.take(xd, range(n - 1), axis=ax)], axis=ax), ax)
    flipped = np.flip(xd, ax)
    right = np.cumprod(np.concatenate([ones, np.take(flipped, range(n - 1), axis=ax)], axis=ax), ax)
    return left * np.flip(right, ax)


def prod_others(input: Tensor, ax: int) -> Tensor:
    """:func:`prod_others_array`, recorded as products (differentiable again): each element's
    row with itself replaced by 1, multiplied out along a new trailing axis."""
    from .arithmetic import where
    from .shapes import movedim, unsqueeze

    n = input._data.shape[ax]
    eye = np.eye(n, dtype=bool)
    moved = movedim(input, ax, -1)  # (..., n)
    rows = where(eye, 1.0, unsqueeze(moved, -2))  # (..., n, n): row i lacks x_i
    return movedim(prod(rows, -1), -1, ax)
