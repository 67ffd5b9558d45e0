"""Catalog op names mapped to ``autograd.numpy`` functions.

Every function takes the catalog's positional arrays (float arrays, int64 index arrays,
bool masks) and returns one array. ``autograd.numpy`` wraps NumPy, so forward values are
NumPy's; gradients come from autograd's VJP rules (and its JVP rules for forward mode).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import autograd.numpy as anp
import numpy as np

Op = Callable[..., Any]

UNSUPPORTED_REASON = (
    "not ported to HIPS autograd in this example: the catalog's neural-network ops "
    "(convolution, pooling, normalization, attention, scatters) came later"
)
"""Why this backend leaves out a catalog op: every op outside :func:`build_ops`'s table."""


def _logsumexp(x: Any, keepdims: bool = False) -> Any:
    # m shifts the exponent for stability; its gradient cancels exactly (d/dm of
    # m + log(sum(exp(x - m))) is 0), so the max's tie-breaking never reaches the result.
    m = anp.max(x, axis=-1, keepdims=True)
    out = m + anp.log(anp.sum(anp.exp(x - m), axis=-1, keepdims=True))
    return out if keepdims else anp.squeeze(out, -1)


def _log_softmax(x: Any) -> Any:
    return x - _logsumexp(x, keepdims=True)


def _rows(n: int) -> np.ndarray:
    return np.arange(n)


def _expand(x: Any) -> Any:
    # autograd's VJP of broadcast_to asserts ("Can't handle extra leading dims") when the
    # target has more dimensions than the input; adding the leading axis first by indexing
    # keeps the broadcast rank-preserving, which its VJP handles.
    return anp.broadcast_to(x[None], (3, *anp.shape(x)))


def _gather(x: Any, index: np.ndarray) -> Any:
    # torch.gather(x, 1, index): out[r, k] = x[r, index[r, k]]; advanced indexing with a
    # row index broadcast against ``index`` (its VJP accumulates repeats with np.add.at).
    return x[_rows(anp.shape(x)[0])[:, None], index]


def _bce(p: Any, y: Any) -> Any:
    # PyTorch clamps each log at -100 so that p = 0 or 1 stays finite.
    logp = anp.maximum(anp.log(p), -100.0)
    log1mp = anp.maximum(anp.log1p(-p), -100.0)
    return anp.mean(-(y * logp + (1.0 - y) * log1mp))


def _bce_with_logits(z: Any, y: Any) -> Any:
    # softplus(z) - z * y: smooth everywhere (gradient sigmoid(z) - y), stable for any z.
    return anp.mean(anp.logaddexp(0.0, z) - z * y)


def _nll(logp: Any, labels: np.ndarray) -> Any:
    return -anp.mean(logp[_rows(anp.shape(logp)[0]), labels])


def _cross_entropy(z: Any, labels: np.ndarray) -> Any:
    return _nll(_log_softmax(z), labels)


def build_ops() -> dict[str, Op]:
    """The op table; every signature is the catalog's (positional arrays only)."""
    return {
        "neg": anp.negative,
        "abs": anp.abs,
        "exp": anp.exp,
        "log": anp.log,
        "sqrt": anp.sqrt,
        "sin": anp.sin,
        "cos": anp.cos,
        "tanh": anp.tanh,
        "sigmoid": lambda x: anp.exp(-anp.logaddexp(0.0, -x)),
        "relu": lambda x: anp.where(x > 0, x, 0.0 * x),
        "leaky_relu": lambda x: anp.where(x > 0, x, 0.01 * x),
        "softplus": lambda x: anp.logaddexp(0.0, x),
        "square": lambda x: x**2,
        "pow_scalar": lambda x: x**2.5,
        "reciprocal": lambda x: 1.0 / x,
        "clamp": lambda x: anp.clip(x, -0.5, 0.5),
        "add": anp.add,
        "sub": anp.subtract,
        "mul": anp.multiply,
        "div": anp.divide,
        "pow": anp.power,
        "maximum": anp.maximum,
        "minimum": anp.minimum,
        "where": anp.where,
        "matmul": anp.matmul,
        "bmm": anp.matmul,
        "mv": anp.matmul,
        "linear": lambda x, w, b: anp.matmul(x, anp.transpose(w)) + b,
        "sum": anp.sum,
        "mean": anp.mean,
        "sum_dim": lambda x: anp.sum(x, axis=-1),
        "mean_dim": lambda x: anp.mean(x, axis=-1),
        "var_dim": lambda x: anp.var(x, axis=-1, ddof=1),
        "max_dim": lambda x: anp.max(x, axis=-1),
        "min_dim": lambda x: anp.min(x, axis=-1),
        "max": anp.max,
        "logsumexp": _logsumexp,
        "softmax": lambda x: anp.exp(_log_softmax(x)),
        "log_softmax": _log_softmax,
        "transpose": anp.transpose,
        "reshape": lambda x, shape: anp.reshape(x, shape),
        "expand": _expand,
        "slice": lambda x: x[..., 1:],
        "take": lambda x, i: x[i],
        "cat": lambda x, y: anp.concatenate([x, y], axis=0),
        "stack": lambda x, y: anp.stack([x, y], axis=0),
        "gather": _gather,
        "mse_loss": lambda x, y: anp.mean((x - y) ** 2),
        "bce_loss": _bce,
        "bce_with_logits": _bce_with_logits,
        "cross_entropy": _cross_entropy,
        "nll_loss": _nll,
    }
