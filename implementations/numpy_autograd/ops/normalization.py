"""Normalization (``torch.layer_norm``, ``batch_norm``, ``group_norm``; ``nn.functional``
re-exports them): the mean and the biased variance over the normalized dims, composed of
engine ops (so differentiable twice), then the elementwise affine.
"""

from __future__ import annotations

from typing import Any

from ..tensor import Tensor
from .arithmetic import add, mul, sub
from .elementwise import rsqrt
from .reductions import mean as _mean
from .shapes import reshape


def _normalize(x: Tensor, axes: tuple[int, ...], eps: float) -> Tensor:
    """``(x - mean) / sqrt(var + eps)`` over ``axes``, the biased variance (what the
    normalization layers divide by)."""
    mean = _mean(x, axes, keepdim=True)
    centered = sub(x, mean)
    var = _mean(mul(centered, centered), axes, keepdim=True)
    return mul(centered, rsqrt(add(var, eps)))


def _affine(
    y: Tensor, weight: Tensor | None, bias: Tensor | None, shape: tuple[int, ...]
) -> Tensor:
    if weight is not None:
        y = mul(y, reshape(weight, shape))
    if bias is not None:
        y = add(y, reshape(bias, shape))
    return y


def layer_norm(
    input: Tensor,
    normalized_shape: Any,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalize over the trailing ``normalized_shape`` dims, then the elementwise affine."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if tuple(input._data.shape[input.ndim - len(shape) :]) != shape:
        raise RuntimeError(
            f"Given normalized_shape={list(shape)}, expected input with shape [*, "
            f"{', '.join(map(str, shape))}], but got input of size{list(input.shape)}"
        )
    axes = tuple(range(input.ndim - len(shape), input.ndim))
    return _affine(_normalize(input, axes, eps), weight, bias, shape)


def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalize each channel (dim 1) of ``(N, C, *)`` over the other dims.

    Training: with the batch's mean and biased variance; the running statistics, if given,
    move in place by ``momentum`` towards the batch mean and the *unbiased* variance
    (PyTorch's rule). Evaluation: with the running statistics.
    """
    if input.ndim < 2:
        raise ValueError(f"expected 2D or higher input (got {input.ndim}D input)")
    c = input._data.shape[1]
    shape = (1, c) + (1,) * (input.ndim - 2)
    axes = (0, *range(2, input.ndim))
    if training:
        count = input._data.size // c
        if count <= 1:
            raise ValueError(
                f"Expected more than 1 value per channel when training, got input size "
                f"{list(input.shape)}"
            )
        y = _normalize(input, axes, eps)
        if running_mean is not None and running_var is not None:
            xd = input._data
            mean = xd.mean(axis=axes)
            unbiased = xd.var(axis=axes, ddof=1)
            rm, rv = running_mean._data, running_var._data
            rm *= 1 - momentum
            rm += momentum * mean.astype(rm.dtype)
            rv *= 1 - momentum
            rv += momentum * unbiased.astype(rv.dtype)
            for t in (running_mean, running_var):
                t._version += 1
    else:
        if running_mean is None or running_var is None:
            raise RuntimeError("running_mean and running_var must be defined in evaluation mode")
        mean = reshape(running_mean, shape)
        inv = rsqrt(add(reshape(running_var, shape), eps))
        y = mul(sub(input, mean), inv)
    return _affine(y, weight, bias, (c,) + (1,) * (input.ndim - 2))


def group_norm(
    input: Tensor,
    num_groups: int,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalize ``(N, C, *)`` over each group of ``C / num_groups`` channels (and the
    spatial dims), then the per-channel affine."""
    n, c = input._data.shape[:2]
    if c % num_groups:
        raise RuntimeError(
            f"Expected number of channels in input to be divisible by num_groups, but got "
            f"input of shape {list(input.shape)} and num_groups={num_groups}"
        )
    rest = input._data.shape[2:]
    grouped = reshape(input, (n, num_groups, c // num_groups, *rest))
    y = _normalize(grouped, tuple(range(2, grouped.ndim)), eps)
    y = reshape(y, input._data.shape)
    return _affine(y, weight, bias, (c,) + (1,) * len(rest))
