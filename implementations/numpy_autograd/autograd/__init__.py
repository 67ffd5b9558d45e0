"""``torch.autograd``: :func:`backward`, :func:`grad`, grad-mode switches, custom
:class:`Function` s, and :mod:`.functional` (``vjp``, ``jvp``)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import graph, ops
from ..grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from ..tensor import Tensor
from .function import Function, FunctionCtx

__all__ = [
    "Function",
    "FunctionCtx",
    "backward",
    "enable_grad",
    "grad",
    "inference_mode",
    "is_grad_enabled",
    "no_grad",
    "set_grad_enabled",
]


@functools.lru_cache(maxsize=64)
def _ones(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """A read-only array of ones: the implicit gradient of a scalar output, made once per
    shape and dtype (VJPs never write into their gradient, and leaves copy it)."""
    a = np.ones(shape, dtype)
    a.setflags(write=False)
    return a


def _tensors(x: Any) -> list[Tensor]:
    return [x] if isinstance(x, Tensor) else list(x)


def _root_grads(outputs: list[Tensor], grad_outputs: Any, create_graph: bool) -> list[Any]:
    """The gradient to start from for each output: arrays, or Tensors for ``create_graph``."""
    if grad_outputs is None or isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs] * len(outputs) if grad_outputs is None else [grad_outputs]
    grad_outputs = list(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise RuntimeError(
            f"grad can be implicitly created only for scalar outputs; got {len(grad_outputs)} "
            f"gradients for {len(outputs)} outputs"
        )
    out = []
    for i, (t, g) in enumerate(zip(outputs, grad_outputs, strict=True)):
        if not t._requires_grad:
            raise RuntimeError(
                f"element {i} of tensors does not require grad and does not have a grad_fn"
            )
        if g is None:
            if t._data.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            g = Tensor(np.ones_like(t._data))
        elif not isinstance(g, Tensor):
            g = Tensor(np.asarray(g, dtype=t._data.dtype))
        if g._data.shape != t._data.shape:
            raise RuntimeError(
                f"Mismatch in shape: grad_output[{i}] has a shape of {g.shape} and output[{i}] "
                f"has a shape of {t.shape}."
            )
        if create_graph:
            out.append(ops.cast(g, t._data.dtype))
        else:
            out.append(g._data.astype(t._data.dtype, copy=False))
    return out


def backward(
    tensors: Any,
    grad_tensors: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    inputs: Any = None,
) -> None:
    """Accumulate the gradients of ``tensors`` into the ``.grad`` of the leaves (or of
    ``inputs`` only, when given)."""
    if (
        tensors.__class__ is Tensor
        and grad_tensors is None
        and inputs is None
        and not create_graph
        and tensors._node is not None
        and tensors._data.size == 1
    ):  # loss.backward(): the common case, without the general argument handling
        graph.backward_scalar(
            tensors, _ones(tensors._data.shape, tensors._data.dtype), bool(retain_graph)
        )
        return
    outputs = _tensors(tensors)
    roots = _root_grads(outputs, grad_tensors, create_graph)
    retain = create_graph if retain_graph is None else retain_graph
    if inputs is None:
        graph.run(outputs, roots, retain_graph=retain, create_graph=create_graph)
        return
    targets = _tensors(inputs)
    captured = graph.run(
        outputs,
        roots,
        retain_graph=retain,
        create_graph=create_graph,
        capture=targets,
        accumulate=False,
    )
    for t, g in zip(targets, captured, strict=True):
        if g is not None:
            graph._accumulate(t, g, create_graph)


def grad(
    outputs: Any,
    inputs: Any,
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool | None = None,
    materialize_grads: bool = False,
) -> tuple[Tensor | None, ...]:
    """The gradients of ``outputs`` with respect to ``inputs`` (not accumulated into
    ``.grad``). With ``create_graph=True`` they are differentiable (second order)."""
    outs = _tensors(outputs)
    ins = _tensors(inputs)
    for i, t in enumerate(ins):
        if not t._requires_grad:
            raise RuntimeError(f"element {i} of the inputs does not require grad")
    roots = _root_grads(outs, grad_outputs, create_graph)
    retain = create_graph if retain_graph is None else retain_graph
    captured = graph.run(
        outs,
        roots,
        retain_graph=retain,
        create_graph=create_graph,
        capture=ins,
        accumulate=False,
    )
    result: list[Tensor | None] = []
    for t, g in zip(ins, captured, strict=True):
        if g is None:
            if materialize_grads:
                result.append(Tensor(np.zeros_like(t._data)))
                continue
            if not allow_unused:
                raise RuntimeError(
                    "One of the differentiated Tensors appears to not have been used in the "
                    "graph. Set allow_unused=True if this is the desired behavior."
                )
            result.append(None)
        elif create_graph:
            result.append(g)
        else:
            result.append(Tensor(np.array(g, copy=True)))
    return tuple(result)


def _seq(x: Any) -> Sequence[Any]:
    return x if isinstance(x, tuple | list) else (x,)


from ..autograd import functional  # noqa: E402

__all__ += ["functional"]
