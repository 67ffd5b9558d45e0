"""Convolution and pooling (``torch.conv1d``/``conv2d``, ``max_pool2d``, ``avg_pool2d``;
``nn.functional`` re-exports them): windows by :func:`.windows.unfold` (im2col), then one
batched matmul per group or a reduction over each window. Differentiable twice: nothing
here has a VJP of its own.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..tensor import Tensor
from .arithmetic import add, div
from .linalg import matmul
from .reductions import max, sum
from .shapes import permute, reshape, squeeze, transpose, unsqueeze
from .windows import unfold, unfold_array


def _pair(v: Any, name: str, n: int = 2) -> tuple[int, ...]:
    if isinstance(v, int):
        return (v,) * n
    t = tuple(int(a) for a in v)
    if len(t) == 1:
        return t * n
    if len(t) != n:
        raise ValueError(f"{name} must be an int or a tuple of {n} ints, got {v!r}")
    return t


def _batched(input: Tensor, ndim: int, what: str) -> tuple[Tensor, bool]:
    """``input`` with a batch dim (and whether one was added): ``ndim`` is the batched rank."""
    if input.ndim == ndim - 1:
        return unsqueeze(input, 0), True
    if input.ndim != ndim:
        raise RuntimeError(
            f"{what}: expected {ndim - 1}D (unbatched) or {ndim}D (batched) input, "
            f"got {input.ndim}D input of size {list(input.shape)}"
        )
    return input, False


def _conv_padding(padding: Any, kernel: tuple[int, ...], dilation: tuple[int, ...],
                  stride: tuple[int, ...]) -> tuple[int, ...]:  # fmt: skip
    if padding == "valid":
        return (0,) * len(kernel)
    if padding == "same":
        if any(s != 1 for s in stride):
            raise ValueError("padding='same' is not supported for strided convolutions")
        total = [d * (k - 1) for k, d in zip(kernel, dilation, strict=True)]
        if any(t % 2 for t in total):
            raise NotImplementedError(
                "padding='same' with an even total padding split unevenly is not supported "
                "by this engine"
            )
        return tuple(t // 2 for t in total)
    if isinstance(padding, str):
        raise ValueError(f"Invalid padding string {padding!r}; valid: 'valid', 'same'")
    return _pair(padding, "padding", len(kernel))


def conv2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> Tensor:
    """2-D cross-correlation of ``(N, C, H, W)`` (or ``(C, H, W)``) with ``(O, C/groups,
    KH, KW)`` weights: im2col (:func:`~..unfold`) then one batched matmul per group."""
    x, unbatched = _batched(input, 4, "conv2d")
    n, c, _, _ = x._data.shape
    o, cg, kh, kw = weight._data.shape
    if c != cg * groups or o % groups:
        raise RuntimeError(
            f"Given groups={groups}, weight of size {list(weight.shape)}, expected input"
            f"{list(x.shape)} to have {cg * groups} channels, but got {c} channels instead"
        )
    st, dl = _pair(stride, "stride"), _pair(dilation, "dilation")
    pd = _conv_padding(padding, (kh, kw), dl, st)
    cols = unfold(x, (kh, kw), st, pd, dl)  # (N, C, OH, OW, KH, KW)
    oh, ow = cols._data.shape[2:4]
    og = o // groups
    cols = reshape(cols, (n, groups, cg, oh * ow, kh * kw))
    cols = reshape(permute(cols, (0, 1, 3, 2, 4)), (n, groups, oh * ow, cg * kh * kw))
    w = transpose(reshape(weight, (groups, og, cg * kh * kw)), 1, 2)  # (G, K, Og)
    out = matmul(cols, w)  # (N, G, OH*OW, Og)
    out = reshape(permute(out, (0, 1, 3, 2)), (n, o, oh, ow))
    if bias is not None:
        out = add(out, reshape(bias, (1, o, 1, 1)))
    return squeeze(out, 0) if unbatched else out


def conv1d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> Tensor:
    """1-D cross-correlation of ``(N, C, L)`` (or ``(C, L)``) with ``(O, C/groups, K)``: a
    :func:`conv2d` of height 1."""
    x, unbatched = _batched(input, 3, "conv1d")
    k = weight._data.shape[-1]
    (s,), (d,) = _pair(stride, "stride", 1), _pair(dilation, "dilation", 1)
    (p,) = _conv_padding(padding, (k,), (d,), (s,))
    out = conv2d(unsqueeze(x, 2), unsqueeze(weight, 2), bias, (1, s), (0, p), (1, d), groups)
    out = squeeze(out, 2)
    return squeeze(out, 0) if unbatched else out


def _pool_args(kernel_size: Any, stride: Any, padding: Any, ceil_mode: bool, what: str) -> Any:
    if ceil_mode:
        raise NotImplementedError(f"{what}: ceil_mode=True is not supported by this engine")
    k = _pair(kernel_size, "kernel_size")
    st = (
        k
        if stride is None or (not isinstance(stride, int) and not stride)
        else _pair(stride, "stride")
    )
    pd = _pair(padding, "padding")
    if any(2 * p > kk for p, kk in zip(pd, k, strict=True)):
        raise RuntimeError(
            f"{what}: pad should be at most half of effective kernel size, but got "
            f"pad={pd}, kernel_size={k}"
        )
    return k, st, pd


def max_pool2d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Tensor:
    """Max over each window (padding is -inf); the gradient goes to the first maximum of a
    window in row-major order, PyTorch's rule for ties."""
    if return_indices:
        raise NotImplementedError("max_pool2d: return_indices=True is not supported")
    x, unbatched = _batched(input, 4, "max_pool2d")
    k, st, pd = _pool_args(kernel_size, stride, padding, ceil_mode, "max_pool2d")
    cols = unfold(x, k, st, pd, _pair(dilation, "dilation"), value=-math.inf)
    n, c, oh, ow = cols._data.shape[:4]
    out = max(reshape(cols, (n, c, oh, ow, k[0] * k[1])), -1).values
    return squeeze(out, 0) if unbatched else out


def avg_pool2d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    """Mean over each window (zero padding counted unless ``count_include_pad=False``)."""
    x, unbatched = _batched(input, 4, "avg_pool2d")
    k, st, pd = _pool_args(kernel_size, stride, padding, ceil_mode, "avg_pool2d")
    cols = unfold(x, k, st, pd, (1, 1))
    n, c, oh, ow = cols._data.shape[:4]
    total = sum(reshape(cols, (n, c, oh, ow, k[0] * k[1])), -1)
    if divisor_override:
        divisor: Any = float(divisor_override)
    elif count_include_pad or not any(pd):
        divisor = float(k[0] * k[1])
    else:
        ones = np.ones((1, 1, *x._data.shape[2:]), dtype=x._data.dtype)
        count = unfold_array(ones, k, st, pd, (1, 1)).sum(axis=(-1, -2))
        divisor = Tensor(count)
    out = div(total, divisor)
    return squeeze(out, 0) if unbatched else out
