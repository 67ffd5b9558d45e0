"""The differentiable operations: ``torch.*`` functions and the Tensor methods built on them.

Each op computes its forward with NumPy on the inputs' arrays and, when grad mode is on and
an input requires grad, records one :class:`~harness.implementations.numpy_autograd.node.Node`
whose VJP lives in :mod:`harness.implementations.numpy_autograd.vjps` under the same name. Nothing
else happens per op: no shape objects, no per-op classes, no hooks.

Dtypes follow PyTorch's promotion (:func:`.dtypes.result_type`):
arrays are cast to the promoted dtype *before* NumPy sees them, so NumPy's own (different)
rules never apply. Shape errors name both shapes.

In-place ops (``add_``, ``mul_``, ``clamp_``, ``x[i] = v``...) write into the array when no
graph is involved. When one is (grad mode on and a tensor requires grad) the op is recorded
out of place and the tensor is re-pointed at the result, PyTorch's "rebase history"; doing
that to a leaf that requires grad is PyTorch's error. Either way the tensor's version is
bumped, so a backward that saved the old value refuses to run.
"""

from __future__ import annotations

import builtins
import math
from collections import namedtuple
from collections.abc import Sequence
from typing import Any

import numpy as np
from harness.implementations.numpy_autograd import dtypes, grad_mode, views
from harness.implementations.numpy_autograd.node import Node
from harness.implementations.numpy_autograd.tensor import Size, Tensor

_make = Tensor
_ndarray = np.ndarray
_int = builtins.int
_CATEGORY = {dtypes.bool_: 0, dtypes.int64: 1, dtypes.float32: 2, dtypes.float64: 2}

max_result = namedtuple("max_result", ["values", "indices"])
min_result = namedtuple("min_result", ["values", "indices"])


# ---------------------------------------------------------------------------------------
# plumbing
# ---------------------------------------------------------------------------------------
def _record(op: str, out: Any, inputs: tuple[Any, ...], ctx: Any = None) -> Tensor:
    """Wrap ``out``; attach a node when grad mode is on and an input requires grad."""
    if out.__class__ is not _ndarray:
        out = np.asarray(out)
    if grad_mode.enabled:
        for t in inputs:
            if isinstance(t, Tensor):
                if t._view is not None:  # its base may have joined a graph in place since
                    views.refresh(t)
                if t._requires_grad:
                    return _make(out, Node(op, inputs, out, ctx))
    return _make(out)


def mean_all(x: np.ndarray) -> Any:
    """``np.mean(x)`` without NumPy's Python-level wrapper (about 10x slower on small
    arrays): the same pairwise sum in ``x``'s dtype, divided by the count."""
    return np.add.reduce(x, axis=None) / x.size


def _operand(x: Any) -> Any:
    """A Tensor or a Python scalar (NumPy scalars become Python scalars, arrays constants)."""
    if isinstance(x, Tensor):
        return x
    # NumPy scalars first: np.float64 subclasses float, and left as it is NumPy would
    # promote with its own rules (float32 tensor / np.float64 -> float64). PyTorch treats a
    # NumPy scalar as a Python number.
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, builtins.bool | builtins.int | builtins.float):
        return x
    if isinstance(x, np.ndarray):
        return _make(x.astype(dtypes.from_numpy_dtype(x.dtype), copy=False))
    raise TypeError(
        f"unsupported operand type {type(x).__name__}; expected a Tensor or a Python number"
    )


def _scalar_category(x: Any) -> int:
    return 0 if isinstance(x, builtins.bool) else 1 if isinstance(x, builtins.int) else 2


def _promote(a: Any, b: Any) -> tuple[Any, Any]:
    """NumPy operands for ``a`` and ``b`` (Tensors or scalars), cast to PyTorch's dtype."""
    if isinstance(a, Tensor):
        ad = a._data
        if isinstance(b, Tensor):
            bd = b._data
            if ad.dtype != bd.dtype:
                dt = dtypes.result_type(a, b)
                ad = ad.astype(dt, copy=False)
                bd = bd.astype(dt, copy=False)
            return ad, bd
        if _scalar_category(b) > _CATEGORY[ad.dtype]:
            ad = ad.astype(dtypes.result_type(a, b))
        return ad, b
    if isinstance(b, Tensor):
        bd = b._data
        if _scalar_category(a) > _CATEGORY[bd.dtype]:
            bd = bd.astype(dtypes.result_type(a, b))
        return a, bd
    raise TypeError("at least one operand must be a Tensor")


def _shape_of(x: Any) -> tuple[int, ...]:
    return tuple(np.shape(x))


def broadcast_error(a: Any, b: Any) -> RuntimeError:
    """PyTorch's broadcast message, naming the first mismatching dim and both shapes."""
    sa, sb = _shape_of(a), _shape_of(b)
    n = builtins.max(len(sa), len(sb))
    pa, pb = (1,) * (n - len(sa)) + sa, (1,) * (n - len(sb)) + sb
    for d in range(n - 1, -1, -1):
        if pa[d] != pb[d] and 1 not in (pa[d], pb[d]):
            return RuntimeError(
                f"The size of tensor a ({pa[d]}) must match the size of tensor b ({pb[d]}) at "
                f"non-singleton dimension {d}; shapes {list(sa)} and {list(sb)} do not "
                "broadcast"
            )
    return RuntimeError(f"shapes {list(sa)} and {list(sb)} do not broadcast")


def _binary(op: str, fn: Any, a: Any, b: Any) -> Tensor:
    a, b = _operand(a), _operand(b)
    ad, bd = _promote(a, b)
    try:
        out = fn(ad, bd)
    except ValueError:
        raise broadcast_error(ad, bd) from None
    return _record(op, out, (a, b))


def _floating(xd: np.ndarray) -> np.ndarray:
    """``xd`` itself if floating, else cast to the default float dtype (PyTorch's rule for
    ops like exp or division of integers)."""
    return xd if xd.dtype.kind == "f" else xd.astype(dtypes.get_default_dtype())


def norm_dim(dim: int, ndim: int) -> int:
    """``dim`` wrapped into ``[0, ndim)``; out of range is PyTorch's IndexError."""
    n = builtins.max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})"
        )
    return dim % n


def _axes(dim: Any, ndim: int) -> tuple[int, ...] | None:
    """Reduction axes: ``None`` for all, else a sorted tuple of non-negative dims."""
    if dim is None:
        return None
    dims = (dim,) if isinstance(dim, builtins.int) else tuple(dim)
    if not dims:
        return None
    axes = sorted(norm_dim(d, ndim) for d in dims)
    if len(set(axes)) != len(axes):
        raise RuntimeError(f"dim {axes[0]} appears multiple times in the list of dims")
    return None if ndim == 0 else tuple(axes)


def _alias(dim: Any, axis: Any, keepdim: bool, keepdims: Any) -> tuple[Any, bool]:
    """Accept NumPy's ``axis``/``keepdims`` spellings as PyTorch does."""
    if axis is not None:
        dim = axis
    if keepdims is not None:
        keepdim = keepdims
    return dim, builtins.bool(keepdim)


def _shape_args(shape: Sequence[Any]) -> tuple[int, ...]:
    """``f(2, 3)``, ``f((2, 3))`` and ``f([2, 3])`` all mean shape ``(2, 3)``."""
    if len(shape) == 1 and isinstance(shape[0], tuple | list | Size):
        shape = shape[0]
    return tuple(builtins.int(s) for s in shape)


# ---------------------------------------------------------------------------------------
# elementwise arithmetic
# ---------------------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------------------
# elementwise functions
# ---------------------------------------------------------------------------------------
def _unary(op: str, fn: Any, x: Tensor) -> Tensor:
    return _record(op, fn(_floating(x._data)), (x,))


def neg(input: Tensor) -> Tensor:
    """``-input``."""
    return _record("neg", np.negative(input._data), (input,))


def abs(input: Tensor) -> Tensor:
    """``|input|`` (gradient ``sign(input)``, 0 at 0)."""
    return _record("abs", np.abs(input._data), (input,))


def _rounding(op: str, fn: Any, input: Tensor) -> Tensor:
    xd = input._data
    return _record(op, fn(xd) if xd.dtype.kind == "f" else xd.copy(), (input,))


def round(input: Tensor, *, decimals: int = 0) -> Tensor:
    """Round half to even, as PyTorch (gradient zero, as PyTorch's RoundBackward)."""
    return _rounding("round", lambda d: np.round(d, decimals), input)


def floor(input: Tensor) -> Tensor:
    """Largest integer not above each element (gradient zero)."""
    return _rounding("floor", np.floor, input)


def ceil(input: Tensor) -> Tensor:
    """Smallest integer not below each element (gradient zero)."""
    return _rounding("ceil", np.ceil, input)


def trunc(input: Tensor) -> Tensor:
    """Round toward zero (gradient zero)."""
    return _rounding("trunc", np.trunc, input)


def sign(input: Tensor) -> Tensor:
    """Sign of each element (not differentiable: its gradient is zero almost everywhere)."""
    return _make(np.asarray(np.sign(input._data)))


def exp(input: Tensor) -> Tensor:
    """``e ** input``."""
    return _unary("exp", np.exp, input)


def log(input: Tensor) -> Tensor:
    """Natural logarithm."""
    return _unary("log", np.log, input)


def log1p(input: Tensor) -> Tensor:
    """``log(1 + input)``, accurate near 0."""
    return _unary("log1p", np.log1p, input)


def sqrt(input: Tensor) -> Tensor:
    """Square root."""
    return _unary("sqrt", np.sqrt, input)


def sin(input: Tensor) -> Tensor:
    """Sine."""
    return _unary("sin", np.sin, input)


def cos(input: Tensor) -> Tensor:
    """Cosine."""
    return _unary("cos", np.cos, input)


def tanh(input: Tensor) -> Tensor:
    """Hyperbolic tangent."""
    return _unary("tanh", np.tanh, input)


def sigmoid_array(x: np.ndarray) -> np.ndarray:
    """``1 / (1 + e**-x)`` without overflow for any x (relative accuracy in both tails)."""
    return np.exp(-np.logaddexp(0, -x))


def sigmoid(input: Tensor) -> Tensor:
    """Logistic sigmoid."""
    return _unary("sigmoid", sigmoid_array, input)


def relu(input: Tensor) -> Tensor:
    """``max(input, 0)`` (gradient 0 at 0, as PyTorch)."""
    return _record("relu", np.maximum(input._data, 0), (input,))


def leaky_relu(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    """``input`` where positive, else ``negative_slope * input``."""
    xd = input._data
    return _record(
        "leaky_relu", np.where(xd > 0, xd, xd * negative_slope), (input,), negative_slope
    )


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``log(1 + e**(beta x)) / beta``, linear where ``beta x > threshold`` (PyTorch's)."""
    xd = _floating(input._data)
    bx = xd * beta
    out = np.where(bx > threshold, xd, np.logaddexp(0, bx) / beta)
    return _record("softplus", out, (input,), (beta, threshold))


def square(input: Tensor) -> Tensor:
    """``input ** 2``."""
    return pow(input, 2)


def reciprocal(input: Tensor) -> Tensor:
    """``1 / input``."""
    return div(1.0, input)


def rsqrt(input: Tensor) -> Tensor:
    """``1 / sqrt(input)``."""
    return pow(input, -0.5)


def clamp(input: Tensor, min: float | None = None, max: float | None = None) -> Tensor:
    """Clamp into ``[min, max]`` (either may be None); gradient 1 inside, boundaries included."""
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    lo = None if min is None else _operand(min)
    hi = None if max is None else _operand(max)
    if isinstance(lo, Tensor) or isinstance(hi, Tensor):
        # Not maximum/minimum, which split a tie's gradient: PyTorch gives it to the input
        # (x == min passes through) and to a bound only where the bound is taken strictly.
        out = input
        if lo is not None:
            out = where(lt(out, lo), lo, out)
        if hi is not None:
            out = where(gt(out, hi), hi, out)
        return out
    xd = input._data
    if (lo is not None and _scalar_category(lo) > _CATEGORY[xd.dtype]) or (
        hi is not None and _scalar_category(hi) > _CATEGORY[xd.dtype]
    ):
        xd = xd.astype(dtypes.get_default_dtype())
    return _record("clamp", np.clip(xd, lo, hi), (input,), (lo, hi))


clip = clamp


# ---------------------------------------------------------------------------------------
# linear algebra
# ---------------------------------------------------------------------------------------
def _matmul_error(sa: tuple[int, ...], sb: tuple[int, ...]) -> RuntimeError:
    if len(sa) == 2 and len(sb) == 2:
        return RuntimeError(
            f"mat1 and mat2 shapes cannot be multiplied ({sa[0]}x{sa[1]} and {sb[0]}x{sb[1]})"
        )
    return RuntimeError(
        f"matmul: shapes {list(sa)} and {list(sb)} cannot be multiplied (inner dimensions "
        f"{sa[-1] if sa else '-'} and {sb[-2] if len(sb) > 1 else (sb[0] if sb else '-')} differ)"
    )


def matmul(input: Tensor, other: Tensor) -> Tensor:
    """Matrix product with NumPy/PyTorch semantics: vectors, matrices, broadcast batches."""
    a, b = _operand(input), _operand(other)
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError("matmul expects two tensors")
    ad, bd = _promote(a, b)
    if ad.ndim == 0 or bd.ndim == 0:
        raise RuntimeError(
            f"both arguments to matmul need to be at least 1D, but they are {ad.ndim}D and "
            f"{bd.ndim}D"
        )
    try:
        out = np.matmul(ad, bd)
    except ValueError:
        raise _matmul_error(ad.shape, bd.shape) from None
    return _record("matmul", out, (a, b))


def _check_ndim(name: str, t: Tensor, ndim: int, what: str) -> None:
    if t.ndim != ndim:
        raise RuntimeError(f"{name}: {what} must be a {ndim}D tensor, got shape {list(t.shape)}")


def mm(input: Tensor, mat2: Tensor) -> Tensor:
    """Product of two matrices."""
    _check_ndim("mm", input, 2, "self")
    _check_ndim("mm", mat2, 2, "mat2")
    return matmul(input, mat2)


def bmm(input: Tensor, mat2: Tensor) -> Tensor:
    """Batched product of ``(b, n, m)`` and ``(b, m, p)``."""
    _check_ndim("bmm", input, 3, "batch1")
    _check_ndim("bmm", mat2, 3, "batch2")
    if input.shape[0] != mat2.shape[0]:
        raise RuntimeError(
            f"bmm: batch sizes differ: shapes {list(input.shape)} and {list(mat2.shape)}"
        )
    return matmul(input, mat2)


def mv(input: Tensor, vec: Tensor) -> Tensor:
    """Matrix-vector product."""
    _check_ndim("mv", input, 2, "self")
    _check_ndim("mv", vec, 1, "vec")
    return matmul(input, vec)


def dot(input: Tensor, other: Tensor) -> Tensor:
    """Inner product of two vectors."""
    _check_ndim("dot", input, 1, "self")
    _check_ndim("dot", other, 1, "other")
    return matmul(input, other)


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``input @ weight.T + bias`` as ONE node (nn.Linear's op, with a fused VJP)."""
    xd, wd = input._data, weight._data
    if xd.dtype is not wd.dtype or (bias is not None and bias._data.dtype is not xd.dtype):
        dt = dtypes.result_type(input, weight, bias)
        xd, wd = xd.astype(dt, copy=False), wd.astype(dt, copy=False)
        bias = None if bias is None else cast(bias, dt)
    if wd.ndim != 2:
        raise RuntimeError(f"linear: weight must be 2D (out, in), got shape {list(wd.shape)}")
    try:
        out = xd @ wd.T
    except ValueError:
        sa = (builtins.int(np.prod(xd.shape[:-1])), xd.shape[-1]) if xd.ndim else ()
        raise _matmul_error(sa, wd.T.shape) from None
    if bias is not None:
        try:
            out += bias._data
        except ValueError:
            raise broadcast_error(out, bias._data) from None
    return _record("linear", out, (input, weight, bias))


# ---------------------------------------------------------------------------------------
# reductions
# ---------------------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------------------
# shapes and indexing
# ---------------------------------------------------------------------------------------
def reshape(input: Tensor, *shape: Any) -> Tensor:
    """The same elements in a new shape (one dim may be -1)."""
    return _reshape(input, _shape_args(shape))


def _reshape(input: Tensor, shape: tuple[int, ...]) -> Tensor:
    xd = input._data
    try:
        out = xd.reshape(shape)
    except ValueError:
        raise RuntimeError(
            f"shape '{list(shape)}' is invalid for input of size {xd.size}"
        ) from None
    out = _record("reshape", out, (input,))
    return views.track(out, input, (_reshape, _unreshape, shape), check=True)


def _unreshape(base: Tensor, value: Tensor, shape: Any) -> Tensor:
    return _reshape(value, base._data.shape)


def view(input: Tensor, *shape: Any) -> Tensor:
    """:func:`reshape` that never copies: PyTorch's error when the strides do not allow it."""
    out = reshape(input, *shape)
    if out._data.size and out._view is None:  # reshape had to copy: views.track said so
        raise RuntimeError(
            "view size is not compatible with input tensor's size and stride (at least one "
            "dimension spans across two contiguous subspaces). Use .reshape(...) instead."
        )
    return out


def view_as(input: Tensor, other: Tensor) -> Tensor:
    """:func:`view` with ``other``'s shape."""
    return view(input, other._data.shape)


def reshape_as(input: Tensor, other: Tensor) -> Tensor:
    """Reshape to ``other``'s shape."""
    return reshape(input, other._data.shape)


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dims ``start_dim..end_dim`` into one."""
    shape = input._data.shape
    if not shape:
        return reshape(input, (1,))
    s, e = norm_dim(start_dim, len(shape)), norm_dim(end_dim, len(shape))
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    merged = builtins.int(np.prod(shape[s : e + 1], dtype=np.int64))
    return reshape(input, (*shape[:s], merged, *shape[e + 1 :]))


def squeeze(input: Tensor, dim: Any = None) -> Tensor:
    """Drop size-1 dims (all, or those in ``dim`` that have size 1)."""
    shape = input._data.shape
    if dim.__class__ is _int and -len(shape) <= dim < len(shape):  # the common case
        d = dim % len(shape)
        return _reshape(input, shape[:d] + shape[d + 1 :] if shape[d] == 1 else shape)
    if dim is None:
        drop = {i for i, n in enumerate(shape) if n == 1}
    else:
        dims = (dim,) if isinstance(dim, builtins.int) else dim
        drop = {norm_dim(d, len(shape)) for d in dims}
        drop = {d for d in drop if d < len(shape) and shape[d] == 1}
    return reshape(input, tuple(n for i, n in enumerate(shape) if i not in drop))


def unsqueeze(input: Tensor, dim: int) -> Tensor:
    """Insert a size-1 dim at ``dim``."""
    shape = list(input._data.shape)
    n = len(shape) + 1
    if not -n <= dim < n:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})"
        )
    shape.insert(dim % n, 1)
    return reshape(input, tuple(shape))


def permute(input: Tensor, *dims: Any) -> Tensor:
    """Reorder the dims."""
    dims = _shape_args(dims)
    nd = input._data.ndim
    axes = tuple(norm_dim(d, nd) for d in dims) if nd else ()
    if sorted(axes) != list(range(nd)):
        raise RuntimeError(
            f"permute(sparse_coo): number of dimensions in the tensor input does not match the "
            f"length of the desired ordering of dimensions i.e. input.dim() = {nd} is not equal "
            f"to len(dims) = {len(dims)}"
            if len(dims) != nd
            else f"permute(): dims {list(dims)} are not a permutation of {list(range(nd))}"
        )
    out = _record("permute", input._data.transpose(axes), (input,), axes)
    return views.track(out, input, (permute, _unpermute, axes))


def _unpermute(base: Tensor, value: Tensor, axes: tuple[int, ...]) -> Tensor:
    return permute(value, tuple(np.argsort(axes)))


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap two dims."""
    nd = input._data.ndim
    if nd == 0:
        return reshape(input, ())
    axes = list(range(nd))
    a, b = norm_dim(dim0, nd), norm_dim(dim1, nd)
    axes[a], axes[b] = axes[b], axes[a]
    return permute(input, tuple(axes))


swapaxes = transpose


def t(input: Tensor) -> Tensor:
    """Transpose of a matrix (vectors and scalars unchanged)."""
    if input.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {input.ndim}D")
    return transpose(input, 0, 1) if input.ndim == 2 else reshape(input, input._data.shape)


def movedim(input: Tensor, source: int, destination: int) -> Tensor:
    """Move dim ``source`` to position ``destination``."""
    nd = input._data.ndim
    order = [d for d in range(nd) if d != norm_dim(source, nd)]
    order.insert(norm_dim(destination, nd), norm_dim(source, nd))
    return permute(input, tuple(order))


def expand(input: Tensor, *sizes: Any) -> Tensor:
    """Broadcast to ``sizes`` (-1 keeps a dim; new dims go in front) without copying."""
    sizes = _shape_args(sizes)
    shape = input._data.shape
    if len(sizes) < len(shape):
        raise RuntimeError(
            f"expand(torch.FloatTensor{{{list(shape)}}}, size={list(sizes)}): the number of sizes "
            f"provided ({len(sizes)}) must be greater or equal to the number of dimensions in the "
            f"tensor ({len(shape)})"
        )
    lead = len(sizes) - len(shape)
    target = []
    for i, s in enumerate(sizes):
        if i >= lead and s == -1:
            s = shape[i - lead]
        elif i >= lead and shape[i - lead] != 1 and shape[i - lead] != s:
            raise RuntimeError(
                f"The expanded size of the tensor ({s}) must match the existing size "
                f"({shape[i - lead]}) at non-singleton dimension {i}.  Target sizes: "
                f"{list(sizes)}.  Tensor sizes: {list(shape)}"
            )
        target.append(s)
    return _record("expand", np.broadcast_to(input._data, tuple(target)), (input,))


def broadcast_to(input: Tensor, size: Sequence[int]) -> Tensor:
    """Same as :func:`expand`."""
    return expand(input, tuple(size))


def expand_as(input: Tensor, other: Tensor) -> Tensor:
    """Expand to ``other``'s shape."""
    return expand(input, other._data.shape)


def index_key(key: Any) -> tuple[tuple[Any, ...], bool]:
    """A NumPy index tuple for ``key`` and whether it has integer arrays (advanced indexing).

    Tensors and lists become arrays; boolean masks become their ``nonzero()`` arrays (the same
    selection, and a form ``np.add.at`` accepts in backward). A basic key gets a trailing
    ``...`` so that a fully indexed element stays a 0-d *view*, as in PyTorch.
    """
    if not isinstance(key, tuple):
        key = (key,)
    out: list[Any] = []
    advanced = ellipsis = False
    for k in key:
        if isinstance(k, Tensor):
            k = k._data
        elif isinstance(k, list):
            k = np.asarray(k)
        elif isinstance(k, np.integer):
            k = builtins.int(k)
        if isinstance(k, np.ndarray):
            if k.dtype == np.bool_:
                out.extend(np.nonzero(k))
                advanced = True
                continue
            if k.dtype.kind not in "iu":
                raise IndexError(
                    "tensors used as indices must be long, int, byte or bool tensors, got "
                    f"{k.dtype}"
                )
            advanced = True
        elif k is Ellipsis:
            ellipsis = True
        elif not isinstance(k, builtins.int | slice | type(None)):
            raise IndexError(
                f"only integers, slices (`:`), ellipsis (`...`), None and long or bool tensors "
                f"are valid indices (got {type(k).__name__})"
            )
        out.append(k)
    if not advanced and not ellipsis:
        out.append(Ellipsis)
    return tuple(out), advanced


def getitem(input: Tensor, key: Any) -> Tensor:
    """``input[key]`` for ints, slices, None, ``...``, integer arrays and boolean masks."""
    if key.__class__ is Tensor and key._data.dtype is dtypes.int64:  # a batch of row indices
        if not input._requires_grad:  # data, not parameters: nothing to record
            return _make(input._data[key._data])
        k = (key._data,)
        return _record("getitem", input._data[k], (input,), (k, True))
    k, advanced = index_key(key)
    out = _record("getitem", input._data[k], (input,), (k, advanced))
    if advanced:  # NumPy copied: not a view
        return out
    return views.track(out, input, (getitem, _write_item, k))


def _write_item(base: Tensor, value: Tensor, key: Any) -> Tensor:
    """``base`` with ``base[key]`` replaced by ``value`` (a view's write-back)."""
    return _setitem_op(key, False)(base, value)


def index_scatter(
    grad: Tensor, key: tuple[Any, ...], advanced: bool, shape: tuple[int, ...]
) -> Tensor:
    """Zeros of ``shape`` with ``grad`` added at ``key`` (repeats accumulate): the adjoint of
    ``getitem``, recorded so that indexing is twice differentiable."""
    return _record(
        "index_scatter",
        index_scatter_array(grad._data, key, advanced, shape),
        (grad,),
        (key, advanced),
    )


def index_scatter_array(
    g: np.ndarray, key: tuple[Any, ...], advanced: bool, shape: tuple[int, ...]
) -> np.ndarray:
    """NumPy body of :func:`index_scatter`."""
    z = np.zeros(shape, dtype=g.dtype)
    if advanced:
        np.add.at(z, key, g)
    else:
        z[key] = g
    return z


def _along_axis_key(idx: np.ndarray, ax: int) -> tuple[np.ndarray, ...]:
    """Index arrays selecting ``x[..., idx, ...]`` along ``ax`` (as take_along_axis does)."""
    key = []
    for d, n in enumerate(idx.shape):
        if d == ax:
            key.append(idx)
        else:
            shape = [1] * idx.ndim
            shape[d] = n
            key.append(np.arange(n).reshape(shape))
    return tuple(key)


def gather_array(xd: np.ndarray, ax: int, idx: np.ndarray) -> np.ndarray:
    """``torch.gather`` on arrays: ``out[i][j] = x[i][idx[i][j]]`` for ``ax == 1``."""
    return xd[_along_axis_key(idx, ax)]


def gather(input: Tensor, dim: int, index: Tensor) -> Tensor:
    """Pick values along ``dim`` at ``index`` (an int64 tensor with input's ndim)."""
    xd, idx = input._data, _operand(index)._data
    if idx.dtype.kind not in "iu":
        raise RuntimeError(f"gather(): Expected dtype int64 for index, got {idx.dtype}")
    if idx.ndim != xd.ndim:
        raise RuntimeError(
            f"Index tensor must have the same number of dimensions as input tensor (shapes "
            f"{list(xd.shape)} and {list(idx.shape)})"
        )
    ax = norm_dim(dim, xd.ndim)
    for d in range(xd.ndim):
        if d != ax and idx.shape[d] > xd.shape[d]:
            raise RuntimeError(
                f"Size does not match at dimension {d} expected index {list(idx.shape)} to be "
                f"smaller than self {list(xd.shape)} apart from dimension {ax}"
            )
    return _record("gather", gather_array(xd, ax, idx), (input,), (ax, idx))


def scatter_add_zeros(src: Tensor, dim: int, idx: np.ndarray, shape: tuple[int, ...]) -> Tensor:
    """Zeros of ``shape`` with ``src`` added along ``dim`` at ``idx`` (gather's adjoint)."""
    z = np.zeros(shape, dtype=src._data.dtype)
    np.add.at(z, _along_axis_key(idx, dim), src._data)
    return _record("scatter_add_zeros", z, (src,), (dim, idx))


def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """``input`` with ``src`` added along ``dim`` at ``index`` (repeats accumulate)."""
    idx = _operand(index)._data
    ax = norm_dim(dim, input.ndim)
    src_sub = getitem(src, tuple(slice(0, n) for n in idx.shape))
    return add(input, scatter_add_zeros(src_sub, ax, idx, input._data.shape))


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Concatenate along ``dim``."""
    tensors = [_operand(t) for t in tensors]
    if not tensors:
        raise RuntimeError("torch.cat(): expected a non-empty list of Tensors")
    dt = dtypes.result_type(*tensors)
    arrays = [t._data.astype(dt, copy=False) for t in tensors]
    ax = norm_dim(dim, arrays[0].ndim)
    try:
        out = np.concatenate(arrays, axis=ax)
    except ValueError:
        ref = arrays[0].shape
        for i, a in enumerate(arrays):
            if a.ndim != len(ref):
                raise RuntimeError(
                    f"Tensors must have same number of dimensions: got {len(ref)} and {a.ndim}"
                ) from None
            for d, (p, q) in enumerate(zip(ref, a.shape, strict=True)):
                if d != ax and p != q:
                    raise RuntimeError(
                        f"Sizes of tensors must match except in dimension {ax}. Expected size "
                        f"{p} but got size {q} for tensor number {i} in the list (shapes "
                        f"{list(ref)} and {list(a.shape)})."
                    ) from None
        raise
    sizes = tuple(a.shape[ax] for a in arrays)
    return _record("cat", out, tuple(tensors), (ax, sizes))


concat = cat


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Stack equal-shaped tensors along a new dim."""
    tensors = [_operand(t) for t in tensors]
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    dt = dtypes.result_type(*tensors)
    arrays = [t._data.astype(dt, copy=False) for t in tensors]
    for i, a in enumerate(arrays):
        if a.shape != arrays[0].shape:
            raise RuntimeError(
                f"stack expects each tensor to be equal size, but got {list(arrays[0].shape)} at "
                f"entry 0 and {list(a.shape)} at entry {i}"
            )
    ax = norm_dim(dim, arrays[0].ndim + 1)
    return _record("stack", np.stack(arrays, axis=ax), tuple(tensors), ax)


def split(tensor: Tensor, split_size_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
    """Split into chunks of a size, or into the given sizes, along ``dim``."""
    ax = norm_dim(dim, tensor.ndim)
    n = tensor._data.shape[ax]
    if isinstance(split_size_or_sections, builtins.int):
        step = split_size_or_sections
        sizes = [builtins.min(step, n - s) for s in range(0, n, step)]
    else:
        sizes = list(split_size_or_sections)
    out, start = [], 0
    for s in sizes:
        out.append(getitem(tensor, (slice(None),) * ax + (slice(start, start + s),)))
        start += s
    return tuple(out)


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """Split into ``chunks`` nearly equal pieces along ``dim``."""
    n = input._data.shape[norm_dim(dim, input.ndim)]
    return split(input, -(-n // chunks), dim)


def clone(input: Tensor) -> Tensor:
    """A copy (gradient passes through)."""
    return _record("clone", input._data.copy(), (input,))


def cast(input: Tensor, dtype: np.dtype, copy: bool = False) -> Tensor:
    """``input`` in ``dtype``; differentiable between floating dtypes, a plain constant
    otherwise (as in PyTorch, integer results do not require grad)."""
    if input._data.dtype == dtype and not copy:
        return input
    out = input._data.astype(dtype)
    if dtype.kind == "f":
        return _record("cast", out, (input,))
    return _make(out)


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot encoding along a new last dim."""
    idx = tensor._data
    if idx.dtype.kind not in "iu":
        raise RuntimeError("one_hot is only applicable to index tensor")
    n = builtins.int(idx.max()) + 1 if num_classes == -1 else num_classes
    return _make((idx[..., None] == np.arange(n)).astype(dtypes.int64))


# ---------------------------------------------------------------------------------------
# in-place ops
# ---------------------------------------------------------------------------------------
def _inplace(t: Tensor, op: Any, write: Any, *args: Any) -> Tensor:
    """Apply ``op(t, *args)`` to ``t`` in place.

    Without a graph, ``write(array, *arrays_or_scalars)`` writes into ``t``'s array. With a
    graph, ``op`` is recorded out of place on a snapshot of ``t`` (its VJP may need the old
    value), the result is written into ``t``'s memory (so views see it) and ``t`` takes the
    result's history. When ``t`` is a view, its base takes ``write_back(base, result)`` as
    its history (see :mod:`harness.implementations.numpy_autograd.views`).
    """
    if not t._data.flags.writeable:
        raise RuntimeError(
            "unsupported operation: more than one element of the written-to tensor refers to a "
            "single memory location. Please clone() the tensor before performing the operation."
            if 0 in t._data.strides and t._data.size > 1
            else "the tensor's memory is read-only; clone() it before an in-place operation"
        )
    args = tuple(a if a is None else _operand(a) for a in args)
    view = t._view
    base = t if view is None else view.base
    graph = grad_mode.enabled and (
        t._requires_grad
        or base._requires_grad
        or builtins.any(isinstance(a, Tensor) and a._requires_grad for a in args)
    )
    if graph:
        if (t._node is None and t._requires_grad) or (base._node is None and base._requires_grad):
            raise RuntimeError(
                "a leaf Variable that requires grad is being used in an in-place operation."
                if view is None
                else "a view of a leaf Variable that requires grad is being used in an "
                "in-place operation."
            )
        if view is not None:
            views.refresh(t)
        res = op(_snapshot(t), *args)
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
        new_base = res if view is None else view.write_back(_snapshot(base), res)
        if base._node is not None:
            base._node.out_stale = True
        np.copyto(base._data, new_base._data)
        base._node, base._requires_grad = new_base._node, new_base._requires_grad
    else:
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
    t._version += 1
    if view is not None:
        base._version += 1
        if graph:
            views.rederive(t)
    return t


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


def _setitem_op(key: tuple[Any, ...], advanced: bool) -> Any:
    def op(a: Tensor, value: Any) -> Tensor:
        out = a._data.copy()
        out[key] = value._data if isinstance(value, Tensor) else value
        return _record("setitem", out, (a, value), (key, advanced))

    return op


def setitem(self: Tensor, key: Any, value: Any) -> None:
    """``self[key] = value`` (differentiable with respect to both, as in PyTorch)."""
    k, advanced = index_key(key)

    def write(d: np.ndarray, v: Any) -> None:
        d[k] = v

    _inplace(self, _setitem_op(k, advanced), write, value)


def uniform_(self: Tensor, a: float = 0.0, b: float = 1.0, *, generator: Any = None) -> Tensor:
    """Fill with uniform samples from ``[a, b)`` (seeded by the engine's generator)."""
    from harness.implementations.numpy_autograd import random

    rng = random.numpy_rng(generator)
    vals = rng.uniform(a, b, size=self._data.shape)
    return _inplace(self, _fill_op, lambda d, v: np.copyto(d, v, casting="unsafe"), _make(vals))


def normal_(self: Tensor, mean: float = 0.0, std: float = 1.0, *, generator: Any = None) -> Tensor:
    """Fill with normal samples (seeded by the engine's generator)."""
    from harness.implementations.numpy_autograd import random

    rng = random.numpy_rng(generator)
    vals = rng.normal(mean, std, size=self._data.shape)
    return _inplace(self, _fill_op, lambda d, v: np.copyto(d, v, casting="unsafe"), _make(vals))


# ---------------------------------------------------------------------------------------
# Tensor methods
# ---------------------------------------------------------------------------------------
def _method_reshape(self: Tensor, *shape: Any) -> Tensor:
    return reshape(self, *shape)


def _method_view(self: Tensor, *shape: Any) -> Tensor:
    return view(self, *shape)


def bind_methods(cls: type) -> None:
    """Attach the ops above to :class:`Tensor` as methods and operators."""
    methods = {
        "add": add, "sub": sub, "mul": mul, "div": div, "pow": pow, "neg": neg, "abs": abs,
        "exp": exp, "log": log, "log1p": log1p, "sqrt": sqrt, "sin": sin, "cos": cos,
        "tanh": tanh, "sigmoid": sigmoid, "relu": relu, "sign": sign, "square": square,
        "round": round, "floor": floor, "ceil": ceil, "trunc": trunc,
        "reciprocal": reciprocal, "rsqrt": rsqrt, "clamp": clamp, "clip": clamp,
        "maximum": maximum, "minimum": minimum, "matmul": matmul, "mm": mm, "bmm": bmm,
        "mv": mv, "dot": dot, "sum": sum, "mean": mean, "var": var, "std": std, "max": max,
        "min": min, "amax": amax, "amin": amin, "argmax": argmax, "argmin": argmin, "all": all,
        "any": any, "logsumexp": logsumexp, "softmax": softmax, "log_softmax": log_softmax,
        "norm": norm, "reshape": _method_reshape, "view": _method_view, "view_as": view_as,
        "reshape_as": reshape_as, "flatten": flatten, "squeeze": squeeze,
        "unsqueeze": unsqueeze, "permute": permute, "transpose": transpose,
        "swapaxes": transpose, "t": t, "movedim": movedim, "expand": expand,
        "expand_as": expand_as, "broadcast_to": broadcast_to, "gather": gather,
        "scatter_add": scatter_add, "split": split, "chunk": chunk, "clone": clone,
        "eq": eq, "ne": ne, "lt": lt, "le": le, "gt": gt, "ge": ge, "where": where_method,
        "logical_and": logical_and, "logical_or": logical_or, "logical_not": logical_not,
        "add_": add_, "sub_": sub_, "mul_": mul_, "div_": div_, "pow_": pow_, "neg_": neg_,
        "relu_": relu_, "clamp_": clamp_, "clip_": clamp_, "fill_": fill_, "zero_": zero_,
        "copy_": copy_, "uniform_": uniform_, "normal_": normal_,
        "__add__": add, "__radd__": lambda s, o: add(o, s), "__sub__": sub,
        "__rsub__": lambda s, o: sub(o, s), "__mul__": mul, "__rmul__": lambda s, o: mul(o, s),
        "__truediv__": div, "__rtruediv__": lambda s, o: div(o, s), "__pow__": pow,
        "__rpow__": lambda s, o: pow(o, s), "__matmul__": matmul,
        "__rmatmul__": lambda s, o: matmul(o, s), "__neg__": neg, "__abs__": abs,
        "__pos__": lambda s: s, "__floordiv__": floor_divide,
        "__rfloordiv__": lambda s, o: floor_divide(o, s), "__mod__": remainder,
        "__eq__": eq, "__ne__": ne, "__lt__": lt, "__le__": le, "__gt__": gt, "__ge__": ge,
        "__and__": logical_and, "__or__": logical_or, "__invert__": logical_not,
        "__iadd__": add_, "__isub__": sub_, "__imul__": mul_, "__itruediv__": div_,
        "__getitem__": getitem, "__setitem__": setitem,
    }  # fmt: skip
    for name, fn in methods.items():
        setattr(cls, name, fn)
    cls.__hash__ = object.__hash__  # type: ignore[assignment]


def where_method(self: Tensor, condition: Tensor, other: Any) -> Tensor:
    """``Tensor.where(condition, other)`` = ``where(condition, self, other)``."""
    return where(condition, self, other)


bind_methods(Tensor)
