"""Catalog op names mapped to ``jax.numpy`` / ``jax.nn`` functions (imported lazily).

Every function takes and returns JAX arrays with the catalog's signature (positional arrays,
then the op's parameters as keyword arguments). Convolution is
``jax.lax.conv_general_dilated``, pooling ``jax.lax.reduce_window``, activations ``jax.nn``;
normalization and attention are written in ``jax.numpy`` with PyTorch's semantics (batch
norm's running variance is the unbiased one, unlike flax's). The
backend wraps each one in its x64 scope (see :mod:`harness.implementations.jax_backend.backend`),
so a float64 op stays float64 even when the caller has not enabled 64-bit mode.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


def bce_with_logits_rows(z: Any, y: Any) -> Any:
    """Per-element ``BCEWithLogitsLoss``: ``(1 - y) z - log_sigmoid(z)``, PyTorch's form.

    ``log_sigmoid`` is smooth and stable everywhere, so the gradient is ``sigmoid(z) - y``
    even at ``z = 0`` (the ``max(z, 0) + log1p(exp(-|z|))`` form has kinks there).
    """
    import jax

    return (1 - y) * z - jax.nn.log_sigmoid(z)


def build_ops() -> dict[str, Callable[..., Any]]:
    """The op table, keyed by :mod:`harness.catalog` names."""
    import jax
    import jax.numpy as jnp

    def bce_loss(p: Any, y: Any) -> Any:
        # PyTorch's binary_cross_entropy clamps each log at -100 (finite loss at p = 0 or 1).
        logp = jnp.maximum(jnp.log(p), -100.0)
        log1mp = jnp.maximum(jnp.log1p(-p), -100.0)
        return jnp.mean(-(y * logp + (1 - y) * log1mp))

    def bce_with_logits(z: Any, y: Any) -> Any:
        return jnp.mean(bce_with_logits_rows(z, y))

    def nll_loss(logp: Any, labels: Any) -> Any:
        return -jnp.mean(jnp.take_along_axis(logp, labels[:, None], axis=1))

    nn_ops = _nn_ops(jax, jnp)
    return nn_ops | {
        "neg": jnp.negative,
        "abs": jnp.abs,
        "exp": jnp.exp,
        "log": jnp.log,
        "sqrt": jnp.sqrt,
        "sin": jnp.sin,
        "cos": jnp.cos,
        "tanh": jnp.tanh,
        "sigmoid": jax.nn.sigmoid,
        "relu": jax.nn.relu,
        "leaky_relu": lambda x: jax.nn.leaky_relu(x, 0.01),
        "softplus": jax.nn.softplus,
        "square": jnp.square,
        "pow_scalar": lambda x: jnp.power(x, 2.5),
        "reciprocal": lambda x: 1.0 / x,
        "clamp": lambda x: jnp.clip(x, -0.5, 0.5),
        "add": jnp.add,
        "sub": jnp.subtract,
        "mul": jnp.multiply,
        "div": jnp.divide,
        "pow": jnp.power,
        "maximum": jnp.maximum,
        "minimum": jnp.minimum,
        "where": jnp.where,
        "matmul": jnp.matmul,
        "bmm": jnp.matmul,
        "mv": jnp.matmul,
        "linear": lambda x, w, b: x @ w.T + b,
        "sum": jnp.sum,
        "mean": jnp.mean,
        "sum_dim": lambda x: jnp.sum(x, axis=-1),
        "mean_dim": lambda x: jnp.mean(x, axis=-1),
        "var_dim": lambda x: jnp.var(x, axis=-1, ddof=1),
        "max_dim": lambda x: jnp.max(x, axis=-1),
        "min_dim": lambda x: jnp.min(x, axis=-1),
        "max": jnp.max,
        "logsumexp": lambda x: jax.nn.logsumexp(x, axis=-1),
        "softmax": lambda x: jax.nn.softmax(x, axis=-1),
        "log_softmax": lambda x: jax.nn.log_softmax(x, axis=-1),
        "transpose": lambda x: x.T,
        "reshape": lambda x, shape: x.reshape(shape),
        "expand": lambda x: jnp.broadcast_to(x, (3, *x.shape)),
        "slice": lambda x: x[..., 1:],
        "take": lambda x, i: x[i],
        "cat": lambda x, y: jnp.concatenate([x, y], axis=0),
        "stack": lambda x, y: jnp.stack([x, y], axis=0),
        "gather": lambda x, i: jnp.take_along_axis(x, i, axis=1),
        "mse_loss": lambda x, y: jnp.mean(jnp.square(x - y)),
        "bce_loss": bce_loss,
        "bce_with_logits": bce_with_logits,
        "cross_entropy": lambda z, t: nll_loss(jax.nn.log_softmax(z, axis=-1), t),
        "nll_loss": nll_loss,
    }


def _nn_ops(jax: Any, jnp: Any) -> dict[str, Callable[..., Any]]:
    """The neural-network ops of the catalog (:mod:`harness.catalog.nn`)."""
    from jax import lax
    from jax.scipy.special import erf

    def conv(x: Any, w: Any, b: Any, stride: int, padding: int, dilation: int, groups: int) -> Any:
        n = x.ndim - 2
        spec = ("NCH", "OIH", "NCH") if n == 1 else ("NCHW", "OIHW", "NCHW")
        out = lax.conv_general_dilated(
            x, w, (stride,) * n, [(padding, padding)] * n, rhs_dilation=(dilation,) * n,
            dimension_numbers=spec, feature_group_count=groups,
        )  # fmt: skip
        return out + b.reshape((1, -1) + (1,) * n)

    def window(x: Any, init: float, op: Any, k: int, stride: int, padding: int, d: int) -> Any:
        # A concrete NumPy init value: reduce_window differentiates only the monoids it
        # recognizes (max from -inf, add from 0), and under jit a jnp.asarray init is traced,
        # which leaves the generic reduce_window without a VJP ("Linearization failed").
        return lax.reduce_window(
            x, np.asarray(init, x.dtype), op, (1, 1, k, k), (1, 1, stride, stride),
            [(0, 0), (0, 0), (padding, padding), (padding, padding)], window_dilation=(1, 1, d, d),
        )  # fmt: skip

    def max_pool2d(x: Any, kernel_size: int, stride: int, padding: int, dilation: int) -> Any:
        if dilation == 1:
            return window(x, -jnp.inf, lax.max, kernel_size, stride, padding, 1)
        # reduce_window's max has no VJP with window dilation (jax 0.10: NotImplementedError
        # "select_and_gather (MaxPool) with window dilation"): take the dilated windows as
        # strided slices and reduce them with jnp.max.
        k, s, d = kernel_size, stride, dilation
        pad = [(0, 0), (0, 0), (padding, padding), (padding, padding)]
        xp = jnp.pad(x, pad, constant_values=-jnp.inf)
        oh = (xp.shape[2] - d * (k - 1) - 1) // s + 1
        ow = (xp.shape[3] - d * (k - 1) - 1) // s + 1
        slices = [
            xp[:, :, i * d : i * d + s * (oh - 1) + 1 : s, j * d : j * d + s * (ow - 1) + 1 : s]
            for i in range(k)
            for j in range(k)
        ]
        return jnp.max(jnp.stack(slices, axis=-1), axis=-1)

    def avg_pool2d(
        x: Any, kernel_size: int, stride: int, padding: int, count_include_pad: bool
    ) -> Any:
        total = window(x, 0.0, lax.add, kernel_size, stride, padding, 1)
        if count_include_pad:
            return total / (kernel_size * kernel_size)
        ones = jnp.ones((1, 1, *x.shape[2:]), x.dtype)
        return total / window(ones, 0.0, lax.add, kernel_size, stride, padding, 1)

    def normalized(x: Any, axes: tuple[int, ...], eps: float) -> Any:
        mean = jnp.mean(x, axis=axes, keepdims=True)
        var = jnp.mean(jnp.square(x - mean), axis=axes, keepdims=True)  # biased
        return (x - mean) * lax.rsqrt(var + eps)

    def channel(v: Any, ndim: int) -> Any:
        return v.reshape((1, -1) + (1,) * (ndim - 2))

    def batch_axes(x: Any) -> tuple[int, ...]:
        return (0, *range(2, x.ndim))

    def batch_norm_stats(x: Any, mean: Any, var: Any, momentum: float) -> Any:
        axes = batch_axes(x)
        m = jnp.mean(x, axis=axes)
        unbiased = jnp.var(x, axis=axes, ddof=1)  # PyTorch's running variance
        return jnp.stack(
            [(1 - momentum) * mean + momentum * m, (1 - momentum) * var + momentum * unbiased]
        )

    def group_norm(x: Any, w: Any, b: Any, num_groups: int, eps: float) -> Any:
        g = x.reshape(x.shape[0], num_groups, -1)
        y = normalized(g, (2,), eps).reshape(x.shape)
        return y * channel(w, x.ndim) + channel(b, x.ndim)

    def attention(q: Any, k: Any, v: Any, is_causal: bool, scale: float | None) -> Any:
        s = 1 / jnp.sqrt(q.shape[-1]).astype(q.dtype) if scale is None else scale
        scores = jnp.einsum("...qe,...ke->...qk", q, k) * s
        if is_causal:
            keep = jnp.tril(jnp.ones(scores.shape[-2:], dtype=bool))
            scores = jnp.where(keep, scores, -jnp.inf)
        return jax.nn.softmax(scores, axis=-1) @ v

    def attention_masked(q: Any, k: Any, v: Any, mask: Any) -> Any:
        # PyTorch's semantics: a query that may attend to nothing gets zeros.
        # jax.nn.dot_product_attention(mask=) averages the values there instead (it fills
        # with a large finite negative, measured with jax 0.10), so it is not used here.
        scores = jnp.einsum("...qe,...ke->...qk", q, k) / jnp.sqrt(q.shape[-1]).astype(q.dtype)
        scores = jnp.where(mask, scores, -jnp.inf)
        weights = jax.nn.softmax(scores, axis=-1)
        return jnp.where(jnp.any(mask, axis=-1, keepdims=True), weights, 0.0) @ v

    def scatter_add(x: Any, i: Any, s: Any) -> Any:
        rows = jnp.arange(x.shape[0])[:, None]
        return x.at[rows, i].add(s)

    def smooth_l1(x: Any, y: Any) -> Any:
        d = jnp.abs(x - y)
        return jnp.mean(jnp.where(d < 1.0, 0.5 * d * d, d - 0.5))

    return {
        "conv1d": conv,
        "conv2d": conv,
        "max_pool2d": max_pool2d,
        "avg_pool2d": avg_pool2d,
        "layer_norm": lambda x, eps: normalized(x, (-1,), eps),
        "layer_norm_affine": lambda x, w, b, eps: normalized(x, (-1,), eps) * w + b,
        "batch_norm_train": lambda x, w, b, eps: (
            normalized(x, batch_axes(x), eps) * channel(w, x.ndim) + channel(b, x.ndim)
        ),
        "batch_norm_eval": lambda x, m, v, w, b, eps: (
            (x - channel(m, x.ndim)) * lax.rsqrt(channel(v, x.ndim) + eps) * channel(w, x.ndim)
            + channel(b, x.ndim)
        ),
        "batch_norm_stats": batch_norm_stats,
        "group_norm": group_norm,
        "embedding": lambda w, i: jnp.take(w, i, axis=0),
        "scaled_dot_product_attention": attention,
        "scaled_dot_product_attention_masked": attention_masked,
        "softmax_masked": lambda x, m: jax.nn.softmax(jnp.where(m, -jnp.inf, x), axis=-1),
        "log_softmax_masked": lambda x, m: jax.nn.log_softmax(jnp.where(m, -jnp.inf, x), axis=-1),
        "masked_fill": lambda x, m: jnp.where(m, jnp.asarray(0.5, x.dtype), x),
        "dropout": lambda x, m, p: x * m * (1.0 / (1 - p)),
        "gelu": lambda x, approximate: jax.nn.gelu(x, approximate=approximate == "tanh"),
        "silu": jax.nn.silu,
        "logsigmoid": jax.nn.log_sigmoid,
        "elu": jax.nn.elu,
        "hardtanh": jax.nn.hard_tanh,
        "softsign": jax.nn.soft_sign,
        "erf": erf,
        "log1p": jnp.log1p,
        "expm1": jnp.expm1,
        "rsqrt": lax.rsqrt,
        "cumsum": lambda x, dim: jnp.cumsum(x, axis=dim),
        "prod_dim": lambda x: jnp.prod(x, axis=-1),
        "norm": lambda x: jnp.linalg.norm(x, axis=-1),
        "std_dim": lambda x: jnp.std(x, axis=-1, ddof=1),
        "einsum1": lambda x, equation: jnp.einsum(equation, x),
        "einsum2": lambda x, y, equation: jnp.einsum(equation, x, y),
        "index_add": lambda x, i, s: x.at[i].add(s),
        "scatter_add": scatter_add,
        "l1_loss": lambda x, y: jnp.mean(jnp.abs(x - y)),
        "smooth_l1_loss": smooth_l1,
    }
