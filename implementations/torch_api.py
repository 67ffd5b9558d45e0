"""The catalog op table of every backend with PyTorch's API, written once.

The PyTorch backend and the NumPy engine's backend (whose engine is PyTorch's API on
NumPy) map the catalog's op names to the same calls; only the namespace differs. A new
catalog op is added here, once, and both backends have it. A backend whose semantics
differ for an op passes its own entry in ``overrides``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any


def catalog_ops(
    torch: Any, F: Any, overrides: Mapping[str, Callable[..., Any]] | None = None
) -> dict[str, Callable[..., Any]]:
    """The op table on ``torch`` (a ``torch``-like module) and ``F`` (its
    ``nn.functional``); every signature is the catalog's (positional arrays, then the op's
    parameters as keyword arguments with PyTorch's names)."""
    inf = float("inf")

    def batch_norm_stats(x: Any, mean: Any, var: Any, momentum: float) -> Any:
        mean, var = mean.clone(), var.clone()  # the buffers F.batch_norm updates in place
        F.batch_norm(x, mean, var, training=True, momentum=momentum)
        return torch.stack([mean, var])

    ops: dict[str, Callable[..., Any]] = {
        "neg": torch.neg,
        "abs": torch.abs,
        "exp": torch.exp,
        "log": torch.log,
        "sqrt": torch.sqrt,
        "sin": torch.sin,
        "cos": torch.cos,
        "tanh": torch.tanh,
        "sigmoid": torch.sigmoid,
        "relu": torch.relu,
        "leaky_relu": lambda x: F.leaky_relu(x, 0.01),
        "softplus": F.softplus,
        "square": lambda x: x**2,
        "pow_scalar": lambda x: x**2.5,
        "reciprocal": lambda x: 1.0 / x,
        "clamp": lambda x: torch.clamp(x, -0.5, 0.5),
        "add": torch.add,
        "sub": torch.sub,
        "mul": torch.mul,
        "div": torch.div,
        "pow": torch.pow,
        "maximum": torch.maximum,
        "minimum": torch.minimum,
        "where": torch.where,
        "matmul": torch.matmul,
        "bmm": torch.matmul,
        "mv": torch.matmul,
        "linear": F.linear,
        "sum": torch.sum,
        "mean": torch.mean,
        "sum_dim": lambda x: torch.sum(x, dim=-1),
        "mean_dim": lambda x: torch.mean(x, dim=-1),
        "var_dim": lambda x: torch.var(x, dim=-1),
        "max_dim": lambda x: torch.max(x, dim=-1).values,
        "min_dim": lambda x: torch.min(x, dim=-1).values,
        "max": torch.max,
        "logsumexp": lambda x: torch.logsumexp(x, dim=-1),
        "softmax": lambda x: torch.softmax(x, dim=-1),
        "log_softmax": lambda x: torch.log_softmax(x, dim=-1),
        "transpose": lambda x: x.T,
        "reshape": lambda x, shape: x.reshape(shape),
        "expand": lambda x: x.expand(3, *x.shape),
        "slice": lambda x: x[..., 1:],
        "take": lambda x, i: x[i],
        "cat": lambda x, y: torch.cat([x, y], dim=0),
        "stack": lambda x, y: torch.stack([x, y], dim=0),
        "gather": lambda x, i: torch.gather(x, 1, i),
        "mse_loss": F.mse_loss,
        "bce_loss": F.binary_cross_entropy,
        "bce_with_logits": F.binary_cross_entropy_with_logits,
        "cross_entropy": F.cross_entropy,
        "nll_loss": F.nll_loss,
        "conv1d": F.conv1d,
        "conv2d": F.conv2d,
        "max_pool2d": F.max_pool2d,
        "avg_pool2d": F.avg_pool2d,
        "layer_norm": lambda x, eps: F.layer_norm(x, x.shape[-1:], eps=eps),
        "layer_norm_affine": lambda x, w, b, eps: F.layer_norm(x, x.shape[-1:], w, b, eps=eps),
        "batch_norm_train": lambda x, w, b, eps: F.batch_norm(
            x, None, None, w, b, training=True, eps=eps
        ),
        "batch_norm_eval": lambda x, m, v, w, b, eps: F.batch_norm(
            x, m, v, w, b, training=False, eps=eps
        ),
        "batch_norm_stats": batch_norm_stats,
        "group_norm": lambda x, w, b, num_groups, eps: F.group_norm(x, num_groups, w, b, eps),
        "embedding": lambda w, i: F.embedding(i, w),
        "scaled_dot_product_attention": F.scaled_dot_product_attention,
        "scaled_dot_product_attention_masked": lambda q, k, v, m: F.scaled_dot_product_attention(
            q, k, v, attn_mask=m
        ),
        "softmax_masked": lambda x, m: torch.softmax(x.masked_fill(m, -inf), dim=-1),
        "log_softmax_masked": lambda x, m: torch.log_softmax(x.masked_fill(m, -inf), dim=-1),
        "masked_fill": lambda x, m: x.masked_fill(m, 0.5),
        # PyTorch's dropout arithmetic (input * mask * 1/(1-p)) on the harness's mask.
        "dropout": lambda x, m, p: x * m * (1.0 / (1 - p)),
        "gelu": F.gelu,
        "silu": F.silu,
        "logsigmoid": F.logsigmoid,
        "elu": F.elu,
        "hardtanh": F.hardtanh,
        "softsign": F.softsign,
        "erf": torch.erf,
        "log1p": torch.log1p,
        "expm1": torch.expm1,
        "rsqrt": torch.rsqrt,
        "cumsum": torch.cumsum,
        "prod_dim": lambda x: torch.prod(x, dim=-1),
        "norm": lambda x: torch.norm(x, p=2, dim=-1),
        "std_dim": lambda x: torch.std(x, dim=-1),
        "einsum1": lambda x, equation: torch.einsum(equation, x),
        "einsum2": lambda x, y, equation: torch.einsum(equation, x, y),
        "index_add": lambda x, i, s: x.index_add(0, i, s),
        "scatter_add": lambda x, i, s: torch.scatter_add(x, 1, i, s),
        "l1_loss": F.l1_loss,
        "smooth_l1_loss": F.smooth_l1_loss,
    }
    return ops | dict(overrides or {})
