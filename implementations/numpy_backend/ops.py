"""Catalog op names mapped to engine functions (the torch backend's table, on the engine)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness.implementations.torch_api import catalog_ops


def build_ops() -> dict[str, Callable[..., Any]]:
    """The op table (:func:`harness.implementations.torch_api.catalog_ops` on the engine),
    dropout through the engine's own masked dropout."""
    import harness.implementations.numpy_autograd as torch
    import harness.implementations.numpy_autograd.nn.functional as F

    # The engine's own dropout arithmetic (F.dropout calls it with the mask it draws).
    return catalog_ops(torch, F, {"dropout": lambda x, m, p: F.dropout_with_mask(x, m, p)})
