"""Elementwise functions of one tensor: exp, log, activations, rounding, clamp."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import dtypes
from ..tensor import Tensor
from .arithmetic import div, gt, lt, pow, where
from .core import _CATEGORY, _floating, _make, _operand, _record, _scalar_category


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


def erf(input: Tensor) -> Tensor:
    """The error function (scipy's kernel; gradient ``2/sqrt(pi) exp(-x**2)``)."""
    from scipy import special

    return _unary("erf", special.erf, input)


def expm1(input: Tensor) -> Tensor:
    """``exp(input) - 1``, accurate near 0."""
    return _unary("expm1", np.expm1, input)
