"""One comparable form of what engine code and the same code under real torch return."""

from __future__ import annotations

from typing import Any


def comparable(x: Any) -> Any:
    """Tensors as ``("tensor", dtype name, shape, values)``; dicts, lists and tuples
    (namedtuples included) keep their type name, so a tuple where torch gives a list differs;
    anything else as ``(type name, value)``."""
    if hasattr(x, "dtype") and hasattr(x, "detach"):
        a = x.detach().numpy()
        return "tensor", str(a.dtype), a.shape, a.tolist()
    if isinstance(x, dict):
        return {k: comparable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return type(x).__name__, [comparable(v) for v in x]
    return type(x).__name__, x
