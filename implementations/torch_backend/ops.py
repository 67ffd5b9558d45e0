"""Catalog op names mapped to PyTorch functions (imported lazily by the backend)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness.implementations.torch_api import catalog_ops


def build_ops() -> dict[str, Callable[..., Any]]:
    """The op table (:func:`harness.implementations.torch_api.catalog_ops` on ``torch``)."""
    import torch
    import torch.nn.functional as F

    return catalog_ops(torch, F)
