"""Catalog op names mapped to ``jax.numpy`` / ``jax.nn`` functions (imported lazily).

Every function takes and returns JAX arrays with the catalog's positional signature. The
backend wraps each one in its x64 scope (see :mod:`harness.implementations.jax_backend.backend`),
so a float64 op stays float64 even when the caller has not enabled 64-bit mode.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


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

    return {
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
        "reshape": lambda x: x.reshape(-1),
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
