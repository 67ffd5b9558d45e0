"""Linear algebra: matmul and its 2-D/batched/vector forms, and ``linear``."""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from .. import dtypes
from ..tensor import Tensor
from .core import _operand, _promote, _record, broadcast_error
from .shapes import cast


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


def _einsum_subscripts(equation: str, n: int) -> tuple[tuple[str, ...], str]:
    eq = equation.replace(" ", "")
    if "." in eq:
        raise NotImplementedError("einsum: ellipsis ('...') is not supported by this engine")
    lhs, arrow, rhs = eq.partition("->")
    ins = tuple(lhs.split(","))
    if len(ins) != n:
        raise RuntimeError(
            f"einsum(): {len(ins)} subscripts in the equation for {n} operands ({equation!r})"
        )
    if not arrow:  # implicit output: the letters seen once, alphabetically (NumPy's rule)
        letters = "".join(ins)
        rhs = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    for s in ins:
        if len(set(s)) != len(s):
            raise NotImplementedError(
                f"einsum: a repeated subscript within one operand ({s!r}, a diagonal) is not "
                "supported by this engine"
            )
    return ins, rhs


def einsum(equation: str, *operands: Any) -> Tensor:
    """Einstein summation (``torch.einsum(equation, *operands)``; operands may also come as
    one list), every operand's subscripts distinct, no ellipsis."""
    if len(operands) == 1 and isinstance(operands[0], list | tuple):
        operands = tuple(operands[0])
    ts = [_operand(t) for t in operands]
    ins, out = _einsum_subscripts(equation, len(ts))
    dt = dtypes.result_type(*ts) if len(ts) > 1 else ts[0]._data.dtype
    arrays = [t._data.astype(dt, copy=False) for t in ts]
    result = np.einsum(",".join(ins) + "->" + out, *arrays, optimize=len(ts) > 2)
    return _record("einsum", result, tuple(ts), (ins, out))
