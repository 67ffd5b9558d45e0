"""Per-dtype comparison tolerances.

The defaults are PyTorch's ``torch.testing.assert_close`` table (rtol, atol). An op may
override them in :mod:`harness.catalog` with a written reason; nothing else loosens them.
"""

from __future__ import annotations

from harness.catalog import get

DEFAULT: dict[str, tuple[float, float]] = {
    "float16": (1e-3, 1e-5),
    "bfloat16": (1.6e-2, 1e-5),
    "float32": (1.3e-6, 1e-5),
    "float64": (1e-7, 1e-7),
}


def for_dtype(dtype: str) -> tuple[float, float]:
    """(rtol, atol) for ``dtype``; an unknown dtype is a KeyError naming the valid ones."""
    try:
        return DEFAULT[dtype]
    except KeyError:
        raise KeyError(f"no tolerance for dtype {dtype!r}; valid: {', '.join(DEFAULT)}") from None


def for_op(op: str, dtype: str) -> tuple[float, float]:
    """(rtol, atol) for ``op`` in ``dtype``: the op's override if it has one, else the default."""
    override = get(op).tolerances.get(dtype)
    return (override.rtol, override.atol) if override else for_dtype(dtype)
