"""Op plumbing: recording a node, operand promotion, broadcast errors and dim arguments.

Every op in this package goes through :func:`_record`; the other helpers turn PyTorch's
argument conventions (Python scalars, ``dim``/``axis``, ``f(2, 3)`` vs ``f((2, 3))``) into
NumPy's.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import dtypes, grad_mode, views
from ..node import Node
from ..tensor import Size, Tensor

_make = Tensor
_ndarray = np.ndarray
_int = builtins.int
_CATEGORY = {dtypes.bool_: 0, dtypes.int64: 1, dtypes.float32: 2, dtypes.float64: 2}


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


def _size_or_keyword(positional: Sequence[Any], size: Any) -> tuple[Any, ...]:
    """The shape of a creation call given positionally (``zeros(2, 3)``) or by PyTorch's
    keyword (``zeros(size=(2, 3))``), not both."""
    if size is None:
        return tuple(positional)
    if positional:
        raise TypeError("size given both positionally and as a keyword")
    return (size,)
