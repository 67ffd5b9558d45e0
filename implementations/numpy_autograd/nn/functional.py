"""``nn.functional``: activations, dropout, the losses, embeddings and attention; the
convolution, pooling and normalization functions of :mod:`..ops` re-exported (PyTorch's
names and keyword arguments throughout).

Convolution and pooling are :func:`~..ops.unfold` (im2col) plus a matmul or a reduction;
normalization, GELU, SiLU and attention compose engine ops, so each is differentiable twice
with no VJP of its own. The three losses a training step uses (binary cross-entropy on
logits, softmax cross-entropy, and ``linear``) are single graph nodes with fused VJPs; the
others compose engine ops. Reductions are ``"mean"`` (default), ``"sum"`` or ``"none"``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import ops, random
from ..ops import (
    avg_pool2d,
    batch_norm,
    conv1d,
    conv2d,
    group_norm,
    layer_norm,
    linear,
    log_softmax,
    max_pool2d,
    one_hot,
    sigmoid,
    softmax,
    softplus,
    tanh,
)
from ..ops.core import _operand, _promote, _record
from ..tensor import Tensor

__all__ = [
    "avg_pool2d",
    "batch_norm",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "conv1d",
    "conv2d",
    "cross_entropy",
    "dropout",
    "dropout_with_mask",
    "elu",
    "embedding",
    "gelu",
    "group_norm",
    "hardtanh",
    "l1_loss",
    "layer_norm",
    "leaky_relu",
    "linear",
    "log_softmax",
    "logsigmoid",
    "max_pool2d",
    "mse_loss",
    "nll_loss",
    "one_hot",
    "relu",
    "scaled_dot_product_attention",
    "sigmoid",
    "silu",
    "smooth_l1_loss",
    "softmax",
    "softplus",
    "softsign",
    "tanh",
]


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """``max(input, 0)``; with ``inplace``, written into ``input``."""
    return ops.relu_(input) if inplace else ops.relu(input)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """``input`` where positive, else ``negative_slope * input``; ``inplace`` as :func:`relu`."""
    if inplace:
        return ops.leaky_relu_(input, negative_slope)
    return ops.leaky_relu(input, negative_slope)


REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction; valid: mean, sum, none")


def _reduce(loss: np.ndarray, reduction: str) -> np.ndarray:
    if reduction == "mean":
        return ops.mean_all(loss)
    if reduction == "sum":
        return np.sum(loss)
    return loss


def _reduce_tensor(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return ops.mean(loss)
    if reduction == "sum":
        return ops.sum(loss)
    return loss


def _same_shape(input: Tensor, target: Tensor) -> None:
    if target._data.shape != input._data.shape:
        raise ValueError(
            f"Target size ({target.shape}) must be the same as input size ({input.shape})"
        )


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero elements with probability ``p`` and scale the rest by ``1/(1-p)`` (training only)."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0:
        return input
    keep = random.numpy_rng(None).random(input._data.shape) >= p
    return dropout_with_mask(input, keep, p)


def dropout_with_mask(input: Tensor, mask: Any, p: float) -> Tensor:
    """Dropout's arithmetic with the kept elements given (bool ``mask``, True = kept):
    ``input * mask / (1 - p)`` (zeros at ``p = 1``). Not in PyTorch: :func:`dropout` draws
    the mask and calls this; the harness supplies the mask so every backend computes alike."""
    keep = np.asarray(_operand(mask)._data, dtype=bool)
    scale = keep.astype(input._data.dtype) / (1 - p) if p < 1 else np.zeros_like(input._data)
    return ops.mul(input, Tensor(scale))


def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Mean squared error."""
    _check_reduction(reduction)
    return _reduce_tensor(ops.pow(ops.sub(input, target), 2), reduction)


def l1_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Mean absolute error (gradient ``sign(input - target)``, 0 where they are equal)."""
    _check_reduction(reduction)
    return _reduce_tensor(ops.abs(ops.sub(input, target)), reduction)


def smooth_l1_loss(
    input: Tensor, target: Tensor, reduction: str = "mean", beta: float = 1.0
) -> Tensor:
    """``0.5 d**2 / beta`` where ``|d| < beta``, else ``|d| - 0.5 beta``, with
    ``d = input - target``."""
    _check_reduction(reduction)
    d = ops.abs(ops.sub(input, target))
    if beta == 0:
        return _reduce_tensor(d, reduction)
    quad = ops.div(ops.mul(ops.mul(d, d), 0.5), beta)
    return _reduce_tensor(ops.where(ops.lt(d, beta), quad, ops.sub(d, 0.5 * beta)), reduction)


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    reduction: str = "mean",
    pos_weight: Tensor | None = None,
) -> Tensor:
    """Binary cross-entropy on logits, ``(1 - y) z + log(1 + e**-z)``, stable for any z.

    Without ``weight``/``pos_weight`` it is one node: forward PyTorch's
    ``(1 - y) z + softplus(-z)``, VJP ``sigmoid(z) - y`` with ``sigmoid(z)`` taken as
    ``exp(-softplus(-z))`` from the saved ``softplus(-z)`` (accurate for every z; the shorter
    ``softplus(z) - z y`` cancels for confident positives and loses float32 digits exactly
    where Adam magnifies tiny gradients).
    """
    if reduction not in REDUCTIONS:
        _check_reduction(reduction)
    if target.__class__ is not Tensor:
        target = _operand(target)
    if target._data.shape != input._data.shape:
        _same_shape(input, target)
    if weight is not None or pos_weight is not None:
        log_weight = (
            1 if pos_weight is None else ops.add(1, ops.mul(ops.sub(pos_weight, 1), target))
        )
        loss = ops.add(
            ops.mul(ops.sub(1, target), input),
            ops.mul(log_weight, softplus(ops.neg(input))),
        )
        if weight is not None:
            loss = ops.mul(loss, weight)
        return _reduce_tensor(loss, reduction)
    zd, yd = input._data, target._data
    if zd.dtype is not yd.dtype:
        zd, yd = _promote(input, target)
    softplus_neg_z = np.logaddexp(0, -zd)
    elems = (1 - yd) * zd + softplus_neg_z
    # The mean, inlined (the training step's loss): ops.mean_all without the call.
    out = np.add.reduce(elems, axis=None) / elems.size if reduction == "mean" else elems
    if reduction == "sum":
        out = np.add.reduce(elems, axis=None)
    return _record("bce_with_logits", out, (input, target), (reduction, softplus_neg_z))


def binary_cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    reduction: str = "mean",
) -> Tensor:
    """Binary cross-entropy on probabilities; each log is clamped at -100 (PyTorch's rule,
    so p = 0 or 1 gives a finite loss)."""
    _check_reduction(reduction)
    target = _operand(target)
    _same_shape(input, target)
    pd, yd = _promote(input, target)
    if np.any((pd < 0) | (pd > 1)):
        raise RuntimeError("all elements of input should be between 0 and 1")
    with np.errstate(divide="ignore"):
        elems = (yd - 1) * np.maximum(np.log1p(-pd), -100.0) - yd * np.maximum(np.log(pd), -100.0)
    if weight is not None:
        loss = _record("bce", elems, (input, target), "none")
        return _reduce_tensor(ops.mul(loss, weight), reduction)
    return _record("bce", _reduce(elems, reduction), (input, target), reduction)


def _class_targets(
    input: Tensor,
    target: Any,
    weight: Tensor | None,
    ignore_index: int,
    what: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, np.ndarray]:
    """Validate ``(N, C)`` scores against int64 targets ``(N,)``; return the targets, row
    weights (0 for ignored rows), the mean's denominator and the (weighted) one-hot."""
    t = _operand(target)._data
    if t.dtype.kind not in "iu":
        raise RuntimeError(
            f"{what}: expected target of dtype int64 (class indices), got {t.dtype}; "
            "class-probability targets are not supported by this engine"
        )
    n, c = input._data.shape
    if t.ndim != 1:
        raise RuntimeError(
            f"0D or 1D target tensor expected, multi-target not supported (target shape "
            f"{list(t.shape)}, input shape {[n, c]})"
        )
    if t.shape != (n,):
        raise ValueError(
            f"Expected input batch_size ({n}) to match target batch_size "
            f"({t.shape[0] if t.ndim else 'scalar'})"
        )
    valid = t != ignore_index
    safe = np.where(valid, t, 0)
    if np.any((safe < 0) | (safe >= c)):
        bad = int(safe[(safe < 0) | (safe >= c)][0])
        raise IndexError(f"Target {bad} is out of bounds (the input has {c} classes).")
    dtype = input._data.dtype
    rows = valid.astype(dtype)
    if weight is not None:
        rows = rows * weight._data.astype(dtype)[safe]
    onehot = np.zeros((n, c), dtype=dtype)
    onehot[np.arange(n), safe] = 1
    return safe, rows, onehot, float(rows.sum()), valid


def _unbatched(input: Tensor, target: Any, fn: Any, reduction: str) -> Tensor | None:
    """``(C,)`` scores with a 0-d target: run ``fn`` on a batch of one."""
    if input.ndim != 1:
        return None
    out = fn(ops.unsqueeze(input, 0), ops.reshape(_operand(target), (1,)))
    return ops.reshape(out, ()) if reduction == "none" else out


def cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Softmax cross-entropy of ``(N, C)`` logits against int64 labels, one fused node
    (VJP ``softmax(z) - onehot(t)``)."""
    _check_reduction(reduction)
    if label_smoothing:
        raise NotImplementedError("cross_entropy: label_smoothing is not supported by this engine")
    single = _unbatched(
        input, target, lambda z, t: cross_entropy(z, t, weight, ignore_index, reduction), reduction
    )
    if single is not None:
        return single
    if input.ndim != 2:
        raise ValueError(
            f"cross_entropy: expected input of shape (N, C) or (C,), got {list(input.shape)}"
        )
    safe, rows, onehot, denom, _ = _class_targets(
        input, target, weight, ignore_index, "cross_entropy"
    )
    # Shifted by the row max before subtracting the target logit (PyTorch's log_softmax):
    # logsumexp(z) - z_t would cancel for confident rows and lose float32 digits.
    shifted = input._data - np.max(input._data, axis=1, keepdims=True)
    log_norm = np.log(np.sum(np.exp(shifted), axis=1))
    elems = (log_norm - shifted[np.arange(len(safe)), safe]) * rows
    out = elems.sum() / denom if reduction == "mean" else _reduce(elems, reduction)
    return _record(
        "cross_entropy", out, (input, _operand(target)), (reduction, rows, denom, onehot)
    )


def nll_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Tensor:
    """Negative log-likelihood of ``(N, C)`` log-probabilities against int64 labels."""
    _check_reduction(reduction)
    single = _unbatched(
        input, target, lambda z, t: nll_loss(z, t, weight, ignore_index, reduction), reduction
    )
    if single is not None:
        return single
    if input.ndim != 2:
        raise ValueError(
            f"nll_loss: expected input of shape (N, C) or (C,), got {list(input.shape)}"
        )
    safe, rows, onehot, denom, _ = _class_targets(input, target, weight, ignore_index, "nll_loss")
    elems = -input._data[np.arange(len(safe)), safe] * rows
    out = elems.sum() / denom if reduction == "mean" else _reduce(elems, reduction)
    return _record("nll_loss", out, (input, _operand(target)), (reduction, rows, denom, onehot))


# -- activations ----------------------------------------------------------------------------
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
GELU_APPROXIMATIONS = ("none", "tanh")


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """``x * Phi(x)``: the exact erf form, or (``approximate='tanh'``)
    ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x**3)))``."""
    if approximate == "none":
        return ops.mul(ops.mul(input, 0.5), ops.add(ops.erf(ops.mul(input, _SQRT_1_2)), 1.0))
    if approximate == "tanh":
        inner = ops.mul(ops.add(input, ops.mul(ops.pow(input, 3), 0.044715)), _SQRT_2_OVER_PI)
        return ops.mul(ops.mul(input, 0.5), ops.add(tanh(inner), 1.0))
    raise ValueError(f"approximate argument must be either none or tanh, got {approximate!r}")


_SQRT_1_2 = math.sqrt(0.5)


def logsigmoid(input: Tensor) -> Tensor:
    """``log(sigmoid(x)) = -softplus(-x)``, stable for every x."""
    return ops.neg(softplus(ops.neg(input)))


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``x`` where positive, else ``alpha (e**x - 1)`` (a new tensor even with ``inplace``)."""
    negative = ops.mul(ops.expm1(ops.clamp(input, max=0.0)), alpha)
    return ops.where(ops.gt(input, 0), input, negative)


def hardtanh(
    input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False
) -> Tensor:
    """``clamp(x, min_val, max_val)`` with gradient 1 strictly inside the interval only
    (PyTorch's hardtanh backward: 0 at the bounds, unlike clamp's)."""
    inside = ops.logical_and(ops.gt(input, min_val), ops.lt(input, max_val))
    bounds = Tensor(np.clip(input._data, min_val, max_val))
    return ops.where(inside, input, bounds)


def softsign(input: Tensor) -> Tensor:
    """``x / (1 + |x|)``."""
    return ops.div(input, ops.add(ops.abs(input), 1.0))


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """``x * sigmoid(x)`` (``inplace`` is accepted and ignored: a new tensor is returned)."""
    return ops.mul(input, sigmoid(input))


# -- embeddings and attention -------------------------------------------------------------
def embedding(
    input: Tensor,
    weight: Tensor,
    padding_idx: int | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> Tensor:
    """Rows of ``weight`` at the int64 ``input``; repeated indices accumulate their
    gradients; the ``padding_idx`` row gets none."""
    if max_norm is not None or scale_grad_by_freq or sparse:
        raise NotImplementedError(
            "embedding: max_norm, scale_grad_by_freq and sparse are not supported by this engine"
        )
    idx = _operand(input)
    if idx._data.dtype.kind not in "iu":
        raise RuntimeError(
            "Expected tensor for argument #1 'indices' to have one of the following scalar "
            f"types: Long, Int; but got {idx._data.dtype} instead"
        )
    key = Tensor(idx._data.astype(np.int64, copy=False))
    if weight._requires_grad:
        out = ops.getitem(weight, (key._data,))
    else:
        out = ops.getitem(weight, key)
    if padding_idx is not None:
        rows = weight._data.shape[0]
        pad = padding_idx % rows
        hit = (idx._data == pad)[..., None]
        out = ops.where(hit, Tensor(weight._data[pad]), out)
    return out


def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Tensor | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
) -> Tensor:
    """``softmax(q k^T * scale + mask) v`` over the last two dims (any leading batch/head
    dims). A bool ``attn_mask`` marks the positions that take part (True), a float one is
    added; ``is_causal`` keeps ``j <= i``; ``scale`` defaults to ``1/sqrt(E)``. A query that
    may attend to nothing gets zeros (PyTorch 2.13's safe softmax, measured), not NaN."""
    if dropout_p:
        raise NotImplementedError(
            "scaled_dot_product_attention: dropout_p > 0 is not supported by this engine "
            "(apply dropout to the attention weights with a supplied mask instead)"
        )
    if enable_gqa:
        raise NotImplementedError("scaled_dot_product_attention: enable_gqa is not supported")
    if is_causal and attn_mask is not None:
        raise RuntimeError(
            "_scaled_dot_product_attention: Explicit attn_mask should not be set when "
            "is_causal=True"
        )
    e = query._data.shape[-1]
    s = 1.0 / math.sqrt(e) if scale is None else scale
    scores = ops.mul(ops.matmul(query, ops.transpose(key, -2, -1)), s)
    if is_causal:
        lq, lk = scores._data.shape[-2:]
        allowed = np.tril(np.ones((lq, lk), dtype=bool))
        scores = ops.masked_fill(scores, Tensor(~allowed), -math.inf)
    elif attn_mask is not None:
        m = _operand(attn_mask)
        if m._data.dtype == np.bool_:
            scores = ops.masked_fill(scores, Tensor(~m._data), -math.inf)
        else:
            scores = ops.add(scores, m)
    weights = softmax(scores, -1)
    empty = np.all(np.isneginf(scores._data), axis=-1, keepdims=True)
    if empty.any():
        with np.errstate(invalid="ignore"):
            weights = ops.where(Tensor(empty), 0.0, weights)
    return ops.matmul(weights, value)
