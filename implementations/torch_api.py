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
    ``nn.functional``); every signature is the catalog's (positional arrays only)."""
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
        "reshape": lambda x: x.reshape(-1),
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
    }
    return ops | dict(overrides or {})
