"""The backward pass: an iterative topological walk from the outputs to the leaves.

1. Count, for every node reachable from the roots, how many edges of the reachable graph
   point at it (an explicit stack, never recursion: a 10,000-op chain is fine).
2. Start from the roots; a node runs its VJP once every node that uses its output has
   delivered a gradient (Kahn's order), so each node runs exactly once with its full
   gradient, however many paths lead to it.
3. Gradients for leaves are summed and, for ``Tensor.backward``, accumulated into ``.grad``;
   ``autograd.grad`` returns them instead.

Gradients are NumPy arrays (:data:`~implementations.numpy_autograd.xp.NUMPY`) unless
``create_graph`` is set, in which case they are Tensors and every VJP step is recorded
(:data:`~implementations.numpy_autograd.xp.GRAPH`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from implementations.numpy_autograd import grad_mode
from implementations.numpy_autograd.node import Node
from implementations.numpy_autograd.tensor import Tensor
from implementations.numpy_autograd.vjps import VJPS
from implementations.numpy_autograd.xp import GRAPH, NUMPY


def _dependencies(roots: Sequence[Node]) -> dict[Node, int]:
    """For each node reachable from ``roots``: the number of reachable edges into it."""
    deps: dict[Node, int] = {}
    stack = list(roots)
    seen = set(stack)
    while stack:
        node = stack.pop()
        for p in node.parents:
            if p.__class__ is Node:
                deps[p] = deps.get(p, 0) + 1
                if p not in seen:
                    seen.add(p)
                    stack.append(p)
    return deps


def _conform(gi: Any, node: Node, i: int, xp: Any) -> Any:
    """Check a VJP's gradient against its input's shape and cast it to the input's dtype."""
    inp = node.inputs[i]
    want = inp._data.shape
    if gi.shape != want:
        raise RuntimeError(
            f"Function {node.name} returned an invalid gradient at index {i} - got "
            f"{list(gi.shape)} but expected shape compatible with {list(want)}"
        )
    if gi.dtype != inp._data.dtype:
        gi = xp.cast(gi, inp._data.dtype)
    return gi


def run(
    roots: Sequence[Tensor],
    root_grads: Sequence[Any],
    *,
    retain_graph: bool,
    create_graph: bool,
    capture: Sequence[Tensor] | None = None,
    accumulate: bool = True,
) -> list[Any]:
    """Backpropagate ``root_grads`` (arrays, or Tensors with ``create_graph``) from ``roots``.

    With ``accumulate``, leaf gradients are added into ``.grad`` (Tensor.backward). With
    ``capture``, the gradients of those tensors are returned, ``None`` for unreached ones
    (autograd.grad).
    """
    xp = GRAPH if create_graph else NUMPY
    grads: dict[Any, Any] = {}
    for t, g in zip(roots, root_grads, strict=True):
        key = t._node if t._node is not None else t
        grads[key] = grads[key] + g if key in grads else g
    root_nodes = list(dict.fromkeys(k for k in grads if k.__class__ is Node))
    deps = _dependencies(root_nodes)
    wanted = {}
    if capture is not None:
        for i, t in enumerate(capture):
            if t._node is not None:
                wanted.setdefault(t._node, []).append(i)
    captured: list[Any] = [None] * (len(capture) if capture is not None else 0)

    ready = [n for n in root_nodes if n not in deps]
    with grad_mode.set_grad_enabled(create_graph):
        while ready:
            node = ready.pop()
            g = grads.pop(node, None)
            if g is not None:
                if node in wanted:
                    for i in wanted[node]:
                        captured[i] = g
                if node.retained is not None:
                    _retain(node, g)
                in_grads = VJPS[node.op](g, node, xp)
                for i, (p, gi) in enumerate(zip(node.parents, in_grads, strict=True)):
                    if p is None or gi is None:
                        continue
                    gi = _conform(gi, node, i, xp)
                    grads[p] = grads[p] + gi if p in grads else gi
            for p in node.parents:
                if p.__class__ is Node:
                    left = deps[p] - 1
                    deps[p] = left
                    if left == 0:
                        ready.append(p)
            if not retain_graph:
                node.free()

    if capture is not None:
        for i, t in enumerate(capture):
            if t._node is None and t in grads:
                captured[i] = grads[t]
    if accumulate:
        for leaf, g in grads.items():
            if leaf.__class__ is not Node:
                _accumulate(leaf, g, create_graph)
    return captured


def _retain(node: Node, g: Any) -> None:
    t = node.retained()  # type: ignore[misc]
    if t is not None and t._node is node:
        g = g if isinstance(g, Tensor) else Tensor._make(np.array(g))
        t.grad = g if t.grad is None else t.grad + g


def _accumulate(leaf: Tensor, g: Any, create_graph: bool) -> None:
    """``leaf.grad += g`` (in place, as PyTorch's AccumulateGrad), or a fresh copy."""
    if create_graph:
        leaf.grad = g if leaf.grad is None else leaf.grad + g
    elif leaf.grad is None:
        # A copy: the VJP's array may be shared (x + y hands the same g to both leaves).
        leaf.grad = Tensor._make(np.array(g, copy=True))
    elif leaf.grad._requires_grad:
        leaf.grad = Tensor._make(leaf.grad._data + g)
    else:
        np.add(leaf.grad._data, g, out=leaf.grad._data)
