"""``clip_grad_norm_`` and ``clip_grad_value_`` with PyTorch's arithmetic."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ...tensor import Tensor


def _grads(parameters: Any) -> list[Tensor]:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p.grad for p in params if p.grad is not None]


def _vector_norm(a: np.ndarray, norm_type: float) -> np.ndarray:
    flat = np.abs(a.reshape(-1))
    if norm_type == float("inf"):
        return flat.max() if flat.size else np.zeros((), a.dtype)
    if norm_type == 0:
        return np.asarray(np.count_nonzero(flat), dtype=a.dtype)
    if norm_type == 2:
        return np.sqrt(np.dot(flat, flat))
    return np.sum(flat**norm_type) ** (1.0 / norm_type)


def clip_grad_norm_(
    parameters: Iterable[Tensor] | Tensor,
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> Tensor:
    """Scale every gradient in place by ``min(1, max_norm / (total_norm + 1e-6))``.

    ``total_norm`` is the ``norm_type`` norm of the per-gradient norms (the norm of all
    gradients concatenated), returned as a 0-d tensor, as PyTorch does; the scale is applied
    even when it is 1. With no gradients it returns 0.
    """
    norm_type = float(norm_type)
    grads = _grads(parameters)
    if not grads:
        return Tensor(np.zeros((), np.float32))
    norms = np.stack([_vector_norm(g._data, norm_type) for g in grads])
    total = _vector_norm(norms, norm_type)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is "
            "non-finite, so it cannot be clipped. To disable this error and scale the "
            "gradients by the non-finite norm anyway, set `error_if_nonfinite=False`"
        )
    coef = np.minimum(max_norm / (total + 1e-6), 1.0).astype(total.dtype)
    for g in grads:
        np.multiply(g._data, coef.astype(g._data.dtype), out=g._data)
        g._version += 1
    return Tensor(np.asarray(total))


def clip_grad_value_(parameters: Iterable[Tensor] | Tensor, clip_value: float) -> None:
    """Clamp every gradient in place to ``[-clip_value, clip_value]``."""
    for g in _grads(parameters):
        np.clip(g._data, -clip_value, clip_value, out=g._data)
        g._version += 1
