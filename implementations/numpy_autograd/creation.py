"""Creating tensors: ``tensor``, ``from_numpy``, ``zeros``, ``ones``, ``arange``...

Dtype inference follows PyTorch: Python floats give the default float dtype (float32),
Python ints int64, bools bool; a NumPy array keeps its dtype (other integer widths widen to
int64). ``requires_grad=True`` is only allowed for floating dtypes.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from . import dtypes
from .ops.core import _shape_args, _size_or_keyword
from .tensor import Tensor, check_device


def _finish(a: np.ndarray, requires_grad: bool) -> Tensor:
    t = Tensor(a)
    return t.requires_grad_(True) if requires_grad else t


def _infer(data: Any) -> np.ndarray:
    """An array for ``data`` with PyTorch's dtype inference."""
    if isinstance(data, Tensor):
        return data._data.copy()
    if isinstance(data, np.ndarray | np.generic):
        a = np.array(data)
        return a.astype(dtypes.from_numpy_dtype(a.dtype), copy=False)
    flat = _flat(data) if isinstance(data, list | tuple) else [data]
    if builtins.any(isinstance(x, Tensor) for x in flat):
        data = _untensor(data)
    a = np.array(data)
    if a.dtype.kind == "f":
        # A NumPy float64 scalar among the elements keeps its dtype, as in PyTorch; Python
        # floats take the default dtype.
        if builtins.any(isinstance(x, np.float64) for x in flat):
            return a.astype(dtypes.float64)
        return a.astype(dtypes.get_default_dtype())
    if a.dtype.kind in "iu":
        return a.astype(dtypes.int64)
    if a.dtype.kind == "b":
        return a
    raise TypeError(
        f"could not infer a dtype for {type(data).__name__} data (NumPy made {a.dtype}); "
        "valid element types: bool, int, float"
    )


def _flat(data: Any) -> list[Any]:
    out: list[Any] = []
    for x in data:
        out.extend(_flat(x) if isinstance(x, list | tuple) else [x])
    return out


def _untensor(data: Any) -> Any:
    if isinstance(data, Tensor):
        return data.item() if data.ndim == 0 else _untensor(data.tolist())
    if isinstance(data, list | tuple):
        return [_untensor(x) for x in data]
    return data


def tensor(
    data: Any, *, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    """A new tensor (a copy) holding ``data``: a number, nested lists, an array or a tensor."""
    check_device(device)
    a = _infer(data)
    if dtype is not None:
        a = a.astype(dtypes.canonical(dtype), copy=False)
    return _finish(np.array(a, copy=True), requires_grad)


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """Like :func:`tensor` but shares memory with a tensor or array when no cast is needed."""
    check_device(device)
    if isinstance(data, Tensor):
        return data if dtype is None else data.to(dtype)
    if isinstance(data, np.ndarray) and (dtype is None or np.dtype(dtype) == data.dtype):
        return from_numpy(data)
    return tensor(data, dtype=dtype)


def from_numpy(ndarray: np.ndarray) -> Tensor:
    """A tensor sharing ``ndarray``'s memory (float32/float64/int64/bool arrays)."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    if ndarray.dtype not in dtypes.SUPPORTED:
        raise TypeError(
            f"can't convert np.ndarray of type numpy.{ndarray.dtype}. The only supported types "
            "are: float64, float32, int64, and bool."
        )
    return Tensor(ndarray)


def is_tensor(obj: Any) -> bool:
    """True for engine tensors."""
    return isinstance(obj, Tensor)


def numel(input: Tensor) -> int:
    """Number of elements."""
    return input.numel()


def _filled(size: Any, value: Any, dtype: Any, requires_grad: bool, device: Any) -> Tensor:
    check_device(device)
    if dtype is None:
        dt = (
            dtypes.bool_
            if isinstance(value, builtins.bool)
            else dtypes.int64
            if isinstance(value, builtins.int)
            else dtypes.get_default_dtype()
        )
    else:
        dt = dtypes.canonical(dtype)
    return _finish(np.full(_shape_args(size), value, dtype=dt), requires_grad)


def zeros(
    *shape: Any,
    size: Any = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Zeros (float32 by default); the shape positionally or as ``size=``."""
    return _filled(_size_or_keyword(shape, size), 0.0, dtype, requires_grad, device)


def ones(
    *shape: Any,
    size: Any = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Ones (float32 by default)."""
    return _filled(_size_or_keyword(shape, size), 1.0, dtype, requires_grad, device)


def empty(
    *shape: Any,
    size: Any = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """An uninitialized tensor (here: zeros, so results never depend on garbage)."""
    return _filled(_size_or_keyword(shape, size), 0.0, dtype, requires_grad, device)


def full(
    size: Any,
    fill_value: Any,
    *,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """A tensor of ``size`` filled with ``fill_value`` (dtype inferred from the value)."""
    return _filled((size,), fill_value, dtype, requires_grad, device)


def _like(input: Tensor, value: Any, dtype: Any, requires_grad: bool) -> Tensor:
    dt = input.dtype if dtype is None else dtypes.canonical(dtype)
    return _finish(np.full(input._data.shape, value, dtype=dt), requires_grad)


def zeros_like(input: Tensor, *, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Zeros with ``input``'s shape and dtype."""
    return _like(input, 0, dtype, requires_grad)


def ones_like(input: Tensor, *, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Ones with ``input``'s shape and dtype."""
    return _like(input, 1, dtype, requires_grad)


def empty_like(input: Tensor, *, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Zeros with ``input``'s shape and dtype (see :func:`empty`)."""
    return _like(input, 0, dtype, requires_grad)


def full_like(
    input: Tensor,
    fill_value: Any,
    *,
    dtype: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """``fill_value`` with ``input``'s shape and dtype."""
    return _like(input, fill_value, dtype, requires_grad)


def arange(
    start: float,
    end: float | None = None,
    step: float = 1,
    *,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """``start, start + step, ...`` below ``end``; int64 unless an argument is a float."""
    check_device(device)
    if end is None:
        start, end = 0, start
    if dtype is None:
        floats = builtins.any(isinstance(v, builtins.float) for v in (start, end, step))
        dt = dtypes.get_default_dtype() if floats else dtypes.int64
    else:
        dt = dtypes.canonical(dtype)
    return _finish(np.arange(start, end, step).astype(dt), requires_grad)


def linspace(
    start: float,
    end: float,
    steps: int,
    *,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive."""
    check_device(device)
    dt = dtypes.get_default_dtype() if dtype is None else dtypes.canonical(dtype)
    return _finish(np.linspace(start, end, steps).astype(dt), requires_grad)


def eye(
    n: int,
    m: int | None = None,
    *,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Identity matrix."""
    check_device(device)
    dt = dtypes.get_default_dtype() if dtype is None else dtypes.canonical(dtype)
    return _finish(np.eye(n, m, dtype=dt), requires_grad)
