"""``torch.autograd.Function``: custom operations with their own backward.

As in PyTorch: subclass with static ``forward(ctx, *args)`` and ``backward(ctx, *grads)``,
call ``MyFn.apply(*args)``. ``forward`` runs with grad mode off; ``ctx.save_for_backward``
keeps tensors for ``backward`` (``ctx.saved_tensors``, checked against in-place
modification), other attributes set on ``ctx`` are kept as they are, and
``ctx.needs_input_grad`` says which inputs need a gradient. ``backward`` returns one
gradient (or None) per ``forward`` argument. Under ``create_graph=True`` ``backward`` runs
with grad mode on, so a backward written in engine ops is itself differentiable. One
tensor output (the common case in PyTorch's tutorials).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..grad_mode import no_grad
from ..ops.core import _record
from ..tensor import Tensor
from ..vjps import register

_OP = "autograd_function"


class FunctionCtx:
    """What ``forward`` hands to ``backward``."""

    def __init__(self, needs_input_grad: tuple[bool, ...]) -> None:
        self.needs_input_grad = needs_input_grad
        self._saved: tuple[Any, ...] = ()
        self._versions: tuple[int | None, ...] = ()

    def save_for_backward(self, *tensors: Any) -> None:
        """Keep ``tensors`` (or None) for ``backward``."""
        self._saved = tensors
        self._versions = tuple(t._version if isinstance(t, Tensor) else None for t in tensors)

    @property
    def saved_tensors(self) -> tuple[Any, ...]:
        """The tensors given to :meth:`save_for_backward`, unmodified since."""
        for i, (t, v) in enumerate(zip(self._saved, self._versions, strict=True)):
            if isinstance(t, Tensor) and t._version != v:
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified "
                    f"by an inplace operation: saved tensor {i} is at version {t._version}; "
                    f"expected version {v} instead."
                )
        return self._saved

    def mark_non_differentiable(self, *tensors: Any) -> None:
        """Accepted for compatibility; outputs of ``apply`` follow its inputs."""

    def set_materialize_grads(self, value: bool) -> None:
        """Accepted for compatibility: gradients reaching ``backward`` are always tensors."""


class Function:
    """Base class of custom autograd operations (see the module docstring)."""

    @staticmethod
    def forward(ctx: FunctionCtx, *args: Any, **kwargs: Any) -> Any:
        """The operation, on tensors, with grad mode off."""
        raise NotImplementedError("subclasses of Function implement forward")

    @staticmethod
    def backward(ctx: FunctionCtx, *grad_outputs: Any) -> Any:
        """One gradient (or None) per ``forward`` argument."""
        raise NotImplementedError("subclasses of Function implement backward")

    @classmethod
    def apply(cls, *args: Any) -> Any:
        """Run ``forward`` and record one graph node whose VJP is ``backward``."""
        needs = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        ctx = FunctionCtx(needs)
        with no_grad():
            out = cls.forward(ctx, *args)
        if not isinstance(out, Tensor):
            raise TypeError(
                f"{cls.__name__}.forward must return one Tensor here, got {type(out).__name__}"
            )
        return _record(_OP, out._data, args, (cls, ctx))


@register(_OP)
def _custom_vjp(g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
    cls, ctx = node.ctx
    grad = g if xp.graph else Tensor(g)
    if xp.graph:
        result = cls.backward(ctx, grad)
    else:
        with no_grad():
            result = cls.backward(ctx, grad)
    grads = result if isinstance(result, tuple) else (result,)
    if len(grads) != len(node.inputs):
        raise RuntimeError(
            f"function {cls.__name__}Backward returned an incorrect number of gradients "
            f"(expected {len(node.inputs)}, got {len(grads)})"
        )
    out: list[Any] = []
    for gi, inp in zip(grads, node.inputs, strict=True):
        if gi is None or not isinstance(inp, Tensor):
            out.append(None)
        elif xp.graph:
            out.append(gi if isinstance(gi, Tensor) else Tensor(np.asarray(gi)))
        else:
            out.append(gi._data if isinstance(gi, Tensor) else np.asarray(gi))
    return tuple(out)
