"""The backward pass: an iterative topological walk from the outputs to the leaves.

1. Count, for every node reachable from the roots, how many edges of the reachable graph
   point at it (an explicit stack, never recursion: a 10,000-op chain is fine).
2. Start from the roots; a node runs its VJP once every node that uses its output has
   delivered a gradient (Kahn's order), so each node runs exactly once with its full
   gradient, however many paths lead to it. When the single root is a tree
   (``Node.tree``: every node below it has one consumer), each node is ready as soon as
   its one consumer has run, and the counting pass is skipped (the usual training step).
3. Gradients for leaves are summed and, for ``Tensor.backward``, accumulated into ``.grad``;
   ``autograd.grad`` returns them instead.

Gradients are NumPy arrays (:data:`~harness.implementations.numpy_autograd.xp.NUMPY`) unless
``create_graph`` is set, in which case they are Tensors and every VJP step is recorded
(:data:`~harness.implementations.numpy_autograd.xp.GRAPH`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from . import grad_mode
from .node import Node
from .tensor import Tensor
from .vjps import VJPS
from .xp import GRAPH, NUMPY


def _dependencies(roots: Sequence[Node]) -> dict[Node, int]:
    """For each node reachable from ``roots``: the number of reachable edges into it.

    The roots start at 0; ``deps`` doubles as the visited set (a node is pushed the first
    time it is seen), so each node's parents are scanned once.
    """
    deps = dict.fromkeys(roots, 0)
    stack = list(deps)
    while stack:
        for p in stack.pop().parents:
            if p.__class__ is Node:
                if p in deps:
                    deps[p] += 1
                else:
                    deps[p] = 1
                    stack.append(p)
    return deps


def _bad_gradient(node: Node, i: int, gi: Any, want: tuple[int, ...]) -> RuntimeError:
    return RuntimeError(
        f"Function {node.name()} returned an invalid gradient at index {i} - got "
        f"{list(gi.shape)} but expected shape compatible with {list(want)}"
    )


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
    (autograd.grad). Root gradients must not be written to afterwards by the caller (a leaf
    root keeps a copy).
    """
    grads: dict[Any, Any] = {}
    for t, g in zip(roots, root_grads, strict=True):
        key = t._node or t
        grads[key] = grads[key] + g if key in grads else g
    root_nodes = [k for k in grads if k.__class__ is Node]
    deps: dict[Node, int] | None = None
    if len(root_nodes) == 1 and root_nodes[0].tree:
        ready = root_nodes
    else:
        deps = _dependencies(root_nodes)
        ready = [n for n, d in deps.items() if d == 0]
    wanted: dict[Node, list[int]] = {}
    captured: list[Any] = []
    if capture is not None:
        captured = [None] * len(capture)
        for i, t in enumerate(capture):
            if t._node is not None:
                wanted.setdefault(t._node, []).append(i)
    if create_graph:  # the backward pass is itself recorded (PyTorch: grad mode = create_graph)
        with grad_mode.enable_grad():
            _walk(ready, grads, deps, wanted, captured, GRAPH, retain_graph)
    else:
        _walk(ready, grads, deps, wanted, captured, NUMPY, retain_graph)
    if capture is not None:
        for i, t in enumerate(capture):
            if t._node is None and t in grads:
                captured[i] = grads[t]
    if accumulate:
        _accumulate_all(grads, set(map(id, root_grads)), create_graph)
    return captured


def backward_scalar(root: Tensor, one: np.ndarray, retain_graph: bool) -> None:
    """``loss.backward()`` on a scalar: :func:`run` from ``root`` with gradient ``one``,
    accumulating into the leaves' ``.grad``, without its multi-root and capture setup."""
    node = root._node
    grads: dict[Any, Any] = {node: one}
    deps = None if node.tree else _dependencies([node])
    _walk([node], grads, deps, _NOTHING_WANTED, [], NUMPY, retain_graph)
    _accumulate_all(grads, {id(one)}, False)


_NOTHING_WANTED: dict[Node, list[int]] = {}


def _walk(
    ready: list[Node],
    grads: dict[Any, Any],
    deps: dict[Node, int] | None,
    wanted: dict[Node, list[int]],
    captured: list[Any],
    xp: Any,
    retain_graph: bool,
) -> None:
    """Run each node's VJP once all its consumers have delivered (at once, for a tree:
    ``deps`` is None); leaf gradients stay in ``grads``."""
    while ready:
        node = ready.pop()
        parents = node.parents
        g = grads.pop(node, None)
        if g is not None:
            if wanted and node in wanted:
                for i in wanted[node]:
                    captured[i] = g
            if node.retained is not None:
                _retain(node, g)
            in_grads = VJPS[node.op](g, node, xp)
            if len(in_grads) != len(parents):
                raise RuntimeError(f"{node.name()} returned {len(in_grads)} gradients")
        inputs = node.inputs
        for i, p in enumerate(parents):
            if p is None:
                continue
            gi = None if g is None else in_grads[i]
            if gi is not None:
                want = inputs[i]._data
                if gi.shape != want.shape:
                    raise _bad_gradient(node, i, gi, want.shape)
                if gi.dtype is not want.dtype and gi.dtype != want.dtype:
                    gi = xp.cast(gi, want.dtype)
                grads[p] = grads[p] + gi if p in grads else gi
            if p.__class__ is Node:  # one consumer fewer to wait for
                if deps is None:
                    ready.append(p)
                else:
                    left = deps[p] - 1
                    deps[p] = left
                    if not left:
                        ready.append(p)
        if not retain_graph:  # node.free(), inlined
            node.freed = True
            node.out = None


def _accumulate_all(grads: dict[Any, Any], kept: set[int], create_graph: bool) -> None:
    """Hand each leaf in ``grads`` (after a full walk, only leaves are left) its gradient,
    into ``.grad`` as PyTorch's AccumulateGrad does.

    A leaf without a gradient may keep the array itself rather than a copy when it owns its
    memory (not a view) and no one else holds it: ``kept`` starts with the ids of the root
    gradients (the caller's arrays, or the shared read-only ones) and collects those kept,
    since x + y hands the same array to both leaves. VJPs only ever return their upstream
    gradient or fresh arrays (or NumPy scalars, which Tensor() converts), never saved ones.
    """
    for leaf, g in grads.items():
        if leaf.grad is None and not create_graph and g.base is None and id(g) not in kept:
            kept.add(id(g))
            leaf.grad = Tensor(g)
        else:
            _accumulate(leaf, g, create_graph)


def _retain(node: Node, g: Any) -> None:
    t = node.retained()  # type: ignore[misc]
    if t is not None and t._node is node:
        g = g if isinstance(g, Tensor) else Tensor(np.array(g))
        t.grad = g if t.grad is None else t.grad + g


def _accumulate(leaf: Tensor, g: Any, create_graph: bool) -> None:
    """``leaf.grad += g`` (in place, as PyTorch's AccumulateGrad), or a copy of ``g`` when
    the leaf has none yet (the leaf will later add into it in place)."""
    if create_graph:
        leaf.grad = g if leaf.grad is None else leaf.grad + g
    elif leaf.grad is None:
        leaf.grad = Tensor(np.array(g, copy=True))
    elif leaf.grad._requires_grad:
        leaf.grad = Tensor(leaf.grad._data + g)
    else:
        np.add(leaf.grad._data, g, out=leaf.grad._data)
