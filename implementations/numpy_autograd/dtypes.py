"""The engine's dtypes and PyTorch's type-promotion rule.

The engine stores every tensor as a NumPy array, so its dtypes *are* NumPy dtypes, exported
under PyTorch's names (``float32``/``float``, ``float64``/``double``, ``int64``/``long``,
``bool``). Promotion follows PyTorch, not NumPy: operands are ranked dimensioned tensor >
zero-dim tensor > Python scalar; the highest *category* (bool < integer < floating) among all
operands wins, and within it the highest-ranked operands of that category choose the size.
So ``float32 tensor * 2.5`` stays float32, ``float32 tensor + float64 zero-dim tensor`` stays
float32 and ``int64 tensor * 2.5`` becomes the default float dtype.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int64 = np.dtype(np.int64)
bool_ = np.dtype(np.bool_)

SUPPORTED: tuple[np.dtype, ...] = (float32, float64, int64, bool_)
_NAMES = {float32: "float32", float64: "float64", int64: "int64", bool_: "bool"}
_CATEGORY = {bool_: 0, int64: 1, float32: 2, float64: 2}
_state = {"default": float32}


def get_default_dtype() -> np.dtype:
    """The dtype of floating tensors created from Python floats (float32 unless changed)."""
    return _state["default"]


def set_default_dtype(d: Any) -> None:
    """Set the default floating dtype (float32 or float64), as ``torch.set_default_dtype``."""
    d = canonical(d)
    if d.kind != "f":
        raise TypeError(f"only floating-point types are supported as the default type, got {d}")
    _state["default"] = d


def name(d: np.dtype) -> str:
    """``torch``-style name of a dtype, e.g. ``torch.float32``."""
    return f"torch.{_NAMES.get(d, str(d))}"


def canonical(d: Any) -> np.dtype:
    """One of :data:`SUPPORTED` from a dtype-like; anything else is a TypeError naming them."""
    if d is builtins.float:
        return get_default_dtype()
    if d is builtins.int:
        return int64
    if d is builtins.bool:
        return bool_
    try:
        dt = np.dtype(d)
    except TypeError:
        dt = None
    if dt not in _CATEGORY:
        raise TypeError(
            f"unsupported dtype {d!r}; valid dtypes: float32 (float), float64 (double), "
            "int64 (long), bool"
        )
    return dt


def from_numpy_dtype(dt: np.dtype) -> np.dtype:
    """The engine dtype that stores a NumPy array of dtype ``dt`` (integers widen to int64)."""
    if dt in _CATEGORY:
        return dt
    if dt.kind in "iu":
        return int64
    raise TypeError(
        f"can't convert np.ndarray of type numpy.{dt}. The only supported types are: "
        "float64, float32, int64 (and other integers, widened to int64), and bool."
    )


def is_floating(d: np.dtype) -> bool:
    """True for float32 and float64."""
    return d.kind == "f"


def _scalar_dtype(x: Any) -> np.dtype:
    if isinstance(x, builtins.bool):
        return bool_
    if isinstance(x, builtins.int):
        return int64
    return get_default_dtype()


def result_type(*operands: Any) -> np.dtype:
    """PyTorch's result dtype of an op over Tensors (anything with ``.dtype``/``.ndim``) and
    Python scalars."""
    best: tuple[int, int, np.dtype] | None = None  # (category, rank, dtype)
    for x in operands:
        if x is None:
            continue
        if hasattr(x, "dtype"):
            d = x.dtype
            rank = 2 if x.ndim else 1
        else:
            d = _scalar_dtype(x)
            rank = 0
        key = (_CATEGORY[d], rank)
        if best is None or key > best[:2]:
            best = (*key, d)
        elif key == best[:2] and d.itemsize > best[2].itemsize:
            best = (*key, d)
    if best is None:
        raise TypeError("result_type() needs at least one operand")
    return best[2]
