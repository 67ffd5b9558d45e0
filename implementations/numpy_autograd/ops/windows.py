"""Sliding windows: ``unfold`` (im2col) and its adjoint ``fold`` (col2im), on 2-D images.

Convolution and pooling are built on these two: ``unfold`` turns an ``(N, C, H, W)`` image
into its ``(N, C, OH, OW, KH, KW)`` windows (after padding with a constant, at a stride and
dilation), ``fold`` sums such windows back into an image (overlaps accumulate) and crops the
padding. Each is linear and the other's VJP, so everything built on them is differentiable
any number of times. Both are vectorized: ``unfold`` is one strided view copied, ``fold``
loops over the ``KH * KW`` kernel offsets (never over pixels).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Tensor
from .core import _record

Pair = tuple[int, ...]


def out_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """Output length of a window of ``kernel`` along one axis (PyTorch's floor formula)."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def unfold_array(
    x: np.ndarray, kernel: Pair, stride: Pair, padding: Pair, dilation: Pair, value: float = 0.0
) -> np.ndarray:
    """The windows of ``x`` ``(N, C, H, W)``: ``(N, C, OH, OW, KH, KW)``, a new array."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    if ph or pw:
        x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)
    n, c, h, w = x.shape
    oh = out_size(h, kh, sh, 0, dh)
    ow = out_size(w, kw, sw, 0, dw)
    if oh <= 0 or ow <= 0:
        raise RuntimeError(
            f"the kernel {kernel} (dilation {dilation}) does not fit the padded input of "
            f"spatial size {(h, w)}"
        )
    s = x.strides
    view = np.lib.stride_tricks.as_strided(
        x,
        (n, c, oh, ow, kh, kw),
        (s[0], s[1], s[2] * sh, s[3] * sw, s[2] * dh, s[3] * dw),
        writeable=False,
    )
    return view.copy()


def fold_array(
    cols: np.ndarray, shape: tuple[int, ...], stride: Pair, padding: Pair, dilation: Pair
) -> np.ndarray:
    """Windows ``(N, C, OH, OW, KH, KW)`` summed into an image of ``shape`` (``unfold``'s
    adjoint): overlapping windows accumulate, the padding is cropped."""
    n, c, oh, ow, kh, kw = cols.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    h, w = shape[2] + 2 * ph, shape[3] + 2 * pw
    z = np.zeros((n, c, h, w), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            r, q = i * dh, j * dw
            z[:, :, r : r + sh * (oh - 1) + 1 : sh, q : q + sw * (ow - 1) + 1 : sw] += cols[
                :, :, :, :, i, j
            ]
    return np.ascontiguousarray(z[:, :, ph : ph + shape[2], pw : pw + shape[3]])


def unfold(
    input: Tensor, kernel: Pair, stride: Pair, padding: Pair, dilation: Pair, value: float = 0.0
) -> Tensor:
    """Recorded :func:`unfold_array` (``value`` pads; the gradient ignores the padding)."""
    out = unfold_array(input._data, kernel, stride, padding, dilation, value)
    return _record("unfold", out, (input,), (stride, padding, dilation))


def fold(cols: Tensor, shape: tuple[int, ...], stride: Pair, padding: Pair, dilation: Pair) -> Any:
    """Recorded :func:`fold_array`."""
    out = fold_array(cols._data, shape, stride, padding, dilation)
    return _record("fold", out, (cols,), (stride, padding, dilation))
