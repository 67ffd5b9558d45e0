"""``torch.autograd.functional``: :func:`vjp` and :func:`jvp` of a function of tensors.

:func:`jvp` uses the double-backward trick, as PyTorch's own ``autograd.functional.jvp``
does: ``u -> J^T u`` is linear in ``u``, so differentiating it (with ``create_graph``) with
respect to ``u`` in direction ``v`` gives ``J v``. It needs only reverse mode, and works for
every op whose VJP is itself differentiable, which is all of them here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..autograd import grad
from ..grad_mode import enable_grad
from ..tensor import Tensor


def _as_tuple(x: Any) -> tuple[Tensor, ...]:
    return tuple(x) if isinstance(x, tuple | list) else (x,)


def _detached(xs: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
    return tuple(Tensor(x._data).requires_grad_(True) for x in xs)


def _zeros_for_none(gs: tuple[Any, ...], like: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
    return tuple(
        Tensor(np.zeros_like(x._data)) if g is None else g.detach()
        for g, x in zip(gs, like, strict=True)
    )


def vjp(
    func: Callable[..., Tensor], inputs: Any, v: Any = None, create_graph: bool = False
) -> tuple[Tensor, Any]:
    """``(func(*inputs), v^T J)``; the second item is a tuple when ``inputs`` is."""
    xs = _detached(_as_tuple(inputs))
    with enable_grad():
        out = func(*xs)
        gs = grad(out, xs, v, create_graph=create_graph, allow_unused=True)
    res = _zeros_for_none(gs, xs)
    return out.detach(), res if isinstance(inputs, tuple | list) else res[0]


def jvp(
    func: Callable[..., Tensor], inputs: Any, v: Any = None, create_graph: bool = False
) -> tuple[Tensor, Tensor]:
    """``(func(*inputs), J v)`` by the double-backward trick (see the module docstring)."""
    xs = _detached(_as_tuple(inputs))
    vs = _as_tuple(v) if v is not None else tuple(Tensor(np.ones_like(x._data)) for x in xs)
    with enable_grad():
        out = func(*xs)
        u = Tensor(np.zeros_like(out._data)).requires_grad_(True)
        gs = grad(out, xs, u, create_graph=True, allow_unused=True)
        pairs = [(g, w) for g, w in zip(gs, vs, strict=True) if g is not None and g.requires_grad]
        if not pairs:
            return out.detach(), Tensor(np.zeros_like(out._data))
        (jv,) = grad(
            [g for g, _ in pairs],
            [u],
            [w for _, w in pairs],
            create_graph=create_graph,
            allow_unused=True,
        )
    if jv is None:
        jv = Tensor(np.zeros_like(out._data))
    return out.detach(), jv if create_graph else jv.detach()
