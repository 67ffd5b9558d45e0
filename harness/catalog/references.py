"""Float64 NumPy references of the neural-network ops, written from their definitions.

Independent of every backend (the engine included): windows are read position by position
with plain slicing, scatters are Python loops over the indices, einsum multiplies
broadcast operands out by hand. Slow, but the arrays the harness draws are tiny.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

_erf = np.vectorize(math.erf, otypes=[np.float64])


def _pair(v: Any) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _windows(
    x: np.ndarray, kernel: Any, stride: Any, padding: Any, dilation: Any, fill: float
) -> np.ndarray:
    """``(N, C, OH, OW, KH, KW)``: every window of the padded ``x``, one output position at
    a time."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = map(_pair, (kernel, stride, padding, dilation))
    n, c, h, w = x.shape
    padded = np.full((n, c, h + 2 * ph, w + 2 * pw), fill)
    padded[:, :, ph : ph + h, pw : pw + w] = x
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    out = np.empty((n, c, oh, ow, kh, kw))
    for i in range(oh):
        for j in range(ow):
            r, q = i * sh, j * sw
            out[:, :, i, j] = padded[
                :, :, r : r + dh * (kh - 1) + 1 : dh, q : q + dw * (kw - 1) + 1 : dw
            ]
    return out


def conv2d(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> np.ndarray:
    """Cross-correlation: ``out[n, o] = b[o] + sum_{c in o's group, p, q} x[...] w[o, c, p, q]``."""
    o, cg, kh, kw = w.shape
    win = _windows(x, (kh, kw), stride, padding, dilation, 0.0)
    og = o // groups
    out = np.empty((x.shape[0], o, *win.shape[2:4]))
    for g in range(groups):
        xs = win[:, g * cg : (g + 1) * cg]  # (N, Cg, OH, OW, KH, KW)
        ws = w[g * og : (g + 1) * og]  # (Og, Cg, KH, KW)
        out[:, g * og : (g + 1) * og] = np.tensordot(xs, ws, axes=([1, 4, 5], [1, 2, 3])).transpose(
            0, 3, 1, 2
        )
    return out + b.reshape(1, o, 1, 1)


def conv1d(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
    groups: int = 1,
) -> np.ndarray:
    """:func:`conv2d` of height 1."""
    out = conv2d(x[:, :, None], w[:, :, None], b, (1, stride), (0, padding), (1, dilation), groups)
    return out[:, :, 0]


def max_pool2d(
    x: np.ndarray, kernel_size: Any = 2, stride: Any = 1, padding: Any = 0, dilation: Any = 1
) -> np.ndarray:
    """The max of each window; padding is -inf (never the max)."""
    win = _windows(x, kernel_size, stride, padding, dilation, -np.inf)
    return win.max(axis=(-2, -1))


def avg_pool2d(
    x: np.ndarray,
    kernel_size: Any = 2,
    stride: Any = 1,
    padding: Any = 0,
    count_include_pad: bool = True,
) -> np.ndarray:
    """The mean of each window: over the whole window, or over its unpadded part."""
    win = _windows(x, kernel_size, stride, padding, 1, 0.0)
    total = win.sum(axis=(-2, -1))
    if count_include_pad:
        return total / (win.shape[-1] * win.shape[-2])
    inside = _windows(np.ones((1, 1, *x.shape[2:])), kernel_size, stride, padding, 1, 0.0)
    return total / inside.sum(axis=(-2, -1))


def _normalized(x: np.ndarray, axes: tuple[int, ...], eps: float) -> np.ndarray:
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)  # biased
    return (x - mean) / np.sqrt(var + eps)


def layer_norm(x: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """Normalized over the last dim (biased variance), no affine."""
    return _normalized(x, (-1,), eps)


def layer_norm_affine(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """:func:`layer_norm` times ``w`` plus ``b`` (over the last dim)."""
    return _normalized(x, (-1,), eps) * w + b


def _channel(v: np.ndarray, ndim: int) -> np.ndarray:
    return v.reshape((1, -1) + (1,) * (ndim - 2))


def batch_norm_train(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """Each channel (dim 1) normalized by the batch's mean and biased variance, then affine."""
    axes = (0, *range(2, x.ndim))
    return _normalized(x, axes, eps) * _channel(w, x.ndim) + _channel(b, x.ndim)


def batch_norm_eval(
    x: np.ndarray,
    mean: np.ndarray,
    var: np.ndarray,
    w: np.ndarray,
    b: np.ndarray,
    eps: float = 1e-5,
) -> np.ndarray:
    """Each channel normalized by the given running mean and variance, then affine."""
    y = (x - _channel(mean, x.ndim)) / np.sqrt(_channel(var, x.ndim) + eps)
    return y * _channel(w, x.ndim) + _channel(b, x.ndim)


def batch_norm_stats(
    x: np.ndarray, mean: np.ndarray, var: np.ndarray, momentum: float = 0.1
) -> np.ndarray:
    """The running statistics after one training step, stacked ``(2, C)``: each moves by
    ``momentum`` towards the batch mean and the batch's *unbiased* variance."""
    axes = (0, *range(2, x.ndim))
    n = x.size // x.shape[1]
    m = x.mean(axis=axes)
    unbiased = ((x - _channel(m, x.ndim)) ** 2).sum(axis=axes) / (n - 1)
    return np.stack(
        [(1 - momentum) * mean + momentum * m, (1 - momentum) * var + momentum * unbiased]
    )


def group_norm(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, num_groups: int = 1, eps: float = 1e-5
) -> np.ndarray:
    """Normalized over each group of channels and the spatial dims, then per-channel affine."""
    g = x.reshape(x.shape[0], num_groups, -1)
    y = _normalized(g, (-1,), eps).reshape(x.shape)
    return y * _channel(w, x.ndim) + _channel(b, x.ndim)


def gelu(x: np.ndarray, approximate: str = "none") -> np.ndarray:
    """``x Phi(x)`` exactly (erf), or the tanh approximation."""
    if approximate == "tanh":
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
    return 0.5 * x * (1 + _erf(x / math.sqrt(2)))


def elu(x: np.ndarray) -> np.ndarray:
    """``x`` where positive, else ``e**x - 1``."""
    return np.asarray(np.where(x > 0, x, np.expm1(np.minimum(x, 0.0))))


def erf(x: np.ndarray) -> np.ndarray:
    """The error function (the standard library's, element by element)."""
    return _erf(x)


def _masked_logits(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return np.where(mask, -np.inf, x)


def softmax_masked(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Softmax over the last dim with masked (True) positions at -inf: 0 there; a fully
    masked row is NaN (0 / 0), as in PyTorch and JAX (measured: torch 2.13, jax 0.10)."""
    z = _masked_logits(x, mask)
    with np.errstate(invalid="ignore"):
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)


def log_softmax_masked(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Log-softmax with masked positions at -inf: -inf there, NaN on a fully masked row."""
    z = _masked_logits(x, mask)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = z - z.max(axis=-1, keepdims=True)
        return s - np.log(np.exp(s).sum(axis=-1, keepdims=True))


def attention(
    q: np.ndarray, k: np.ndarray, v: np.ndarray, is_causal: bool = False, scale: Any = None
) -> np.ndarray:
    """``softmax(q k^T scale) v`` over the last two dims; causal keeps key ``j <= i``."""
    s = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = np.einsum("...qe,...ke->...qk", q, k) * s
    if is_causal:
        lq, lk = scores.shape[-2:]
        scores = np.where(np.tril(np.ones((lq, lk), dtype=bool)), scores, -np.inf)
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return (e / e.sum(axis=-1, keepdims=True)) @ v


def attention_masked(q: np.ndarray, k: np.ndarray, v: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """:func:`attention` where ``mask`` is True; a row with nothing to attend to gives 0
    (PyTorch 2.13's safe softmax; ``jax.nn.dot_product_attention`` averages the values
    there instead, and a plain softmax gives NaN: all measured)."""
    scores = np.einsum("...qe,...ke->...qk", q, k) / math.sqrt(q.shape[-1])
    scores = np.where(mask, scores, -np.inf)
    top = scores.max(axis=-1, keepdims=True)
    e = np.exp(scores - np.where(np.isfinite(top), top, 0.0))
    total = e.sum(axis=-1, keepdims=True)
    weights = np.divide(e, total, out=np.zeros_like(e), where=total > 0)
    return weights @ v


def einsum(*operands: np.ndarray, equation: str = "") -> np.ndarray:
    """Each operand broadcast over every subscript, multiplied out, summed over the
    subscripts the output lacks (no ``np.einsum``)."""
    lhs, out = equation.split("->")
    subs = lhs.split(",")
    letters = sorted(set("".join(subs)))
    sizes = {c: a.shape[s.index(c)] for s, a in zip(subs, operands, strict=True) for c in s}
    prod = np.ones([sizes[c] for c in letters])
    for s, a in zip(subs, operands, strict=True):
        order = [s.index(c) for c in letters if c in s]
        shape = [sizes[c] if c in s else 1 for c in letters]
        prod = prod * np.transpose(a, order).reshape(shape)
    summed = tuple(i for i, c in enumerate(letters) if c not in out)
    kept = [c for c in letters if c in out]
    result = prod.sum(axis=summed)
    return np.transpose(result, [kept.index(c) for c in out]) if out else np.asarray(result)


def index_add(x: np.ndarray, index: np.ndarray, src: np.ndarray) -> np.ndarray:
    """``x`` with row ``src[k]`` added to row ``index[k]``, one k at a time."""
    out = x.copy()
    for k, i in enumerate(index):
        out[i] += src[k]
    return out


def scatter_add(x: np.ndarray, index: np.ndarray, src: np.ndarray) -> np.ndarray:
    """``torch.scatter_add(x, 1, index, src)``: ``out[i, index[i, j]] += src[i, j]``."""
    out = x.copy()
    for i in range(index.shape[0]):
        for j in range(index.shape[1]):
            out[i, index[i, j]] += src[i, j]
    return out


def cumsum(x: np.ndarray, dim: int = -1) -> np.ndarray:
    """Running sums along ``dim``, element by element."""
    moved = np.moveaxis(x, dim, 0).copy()
    for i in range(1, moved.shape[0]):
        moved[i] = moved[i - 1] + moved[i]
    return np.moveaxis(moved, 0, dim)


def smooth_l1(x: np.ndarray, y: np.ndarray, beta: float = 1.0) -> np.ndarray:
    """Mean of ``0.5 d**2 / beta`` where ``|d| < beta``, else ``|d| - 0.5 beta``."""
    d = np.abs(x - y)
    return np.asarray(np.mean(np.where(d < beta, 0.5 * d**2 / beta, d - 0.5 * beta)))
