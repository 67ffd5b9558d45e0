"""A graph node: one recorded operation, what it saved, and where its gradients go.

Every differentiable op that runs while grad mode is on and one of its inputs requires grad
makes one :class:`Node` and attaches it to its output tensor (``tensor._node``, exposed as
``grad_fn``). The node keeps:

* ``op`` -- the key of its VJP in :data:`harness.implementations.numpy_autograd.vjps.VJPS`;
* ``inputs`` -- the op's inputs as given (Tensors, Python scalars, ``None``);
* ``parents`` -- per input, where its gradient goes: the input's own node, the input itself
  when it is a leaf that requires grad, or ``None``. Captured at creation, so a later
  in-place op that re-points an input's ``_node`` cannot re-route this node's gradients;
* ``versions`` -- each input tensor's ``_version`` (a view's: its base's) at creation; a
  VJP that reads an input whose version moved raises PyTorch's "modified by an inplace
  operation" error;
* ``out`` -- the output array (some VJPs use the result: exp, sigmoid, tanh, softmax...);
* ``ctx`` -- op-specific constants (dims, indices, reduction...).

Backward frees a node (unless ``retain_graph``): reading its saved values afterwards is
PyTorch's "backward through the graph a second time" error. Nodes whose VJP needs no saved
value (add, sum, reshape...) can run again, as in PyTorch. The input tensors stay referenced
(for their shapes) until the graph itself is dropped.
"""

from __future__ import annotations

from typing import Any

from . import dtypes, views
from .tensor import Tensor

_FREED = (
    "Trying to backward through the graph a second time (or directly access saved tensors "
    "after they have already been freed). Saved intermediate values of the graph are freed "
    "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
    "backward through the graph a second time or if you need to access saved tensors after "
    "calling backward."
)


class Node:
    """One recorded operation (see the module docstring)."""

    __slots__ = (
        "consumers",
        "ctx",
        "freed",
        "inputs",
        "op",
        "out",
        "out_stale",
        "parents",
        "retained",
        "tree",
        "versions",
    )

    def __init__(self, op: str, inputs: tuple[Any, ...], out: Any, ctx: Any = None) -> None:
        self.op = op
        self.inputs = inputs
        self.out = out
        self.ctx = ctx
        self.freed = False
        self.out_stale = False
        self.retained = None
        self.consumers = 0
        # tree: every node below this one had exactly one consumer when this one was made.
        # It stays true for backward *from here*: later consumers cannot be ancestors of
        # this node. Backward from a tree needs no dependency count (see graph.py).
        tree = True
        parents: list[Node | Tensor | None] = []
        versions: list[int] = []
        self.parents, self.versions = parents, versions
        for t in inputs:
            if isinstance(t, Tensor):
                view = t._view
                if view is not None:
                    views.refresh(t)  # its base may have been modified in place since
                n = t._node
                if n is not None:
                    n.consumers += 1
                    tree = tree and n.tree and n.consumers == 1
                parents.append(n or (t if t._requires_grad else None))
                versions.append(t._version if view is None else view.base._version)
            else:
                parents.append(None)
                versions.append(0)
        self.tree = tree

    # -- what VJPs read -------------------------------------------------------------------
    def needs(self, i: int) -> bool:
        """Whether input ``i`` wants a gradient."""
        return self.parents[i] is not None

    def shape(self, i: int) -> tuple[int, ...]:
        """Shape of input ``i`` (available even after the node is freed)."""
        return self.inputs[i]._data.shape

    def raw(self, i: int) -> Any:
        """Saved input ``i`` as a NumPy array (or the Python scalar it was)."""
        t = self.inputs[i]
        if self.freed:
            raise RuntimeError(_FREED)
        if isinstance(t, Tensor):
            if views.owner(t)._version != self.versions[i]:
                raise RuntimeError(self._inplace_message(t, i))
            return t._data
        return t

    def input(self, i: int, xp: Any) -> Any:
        """Saved input ``i`` in ``xp``'s kind: an array, or the Tensor itself in graph mode."""
        t = self.inputs[i]
        if self.freed:
            raise RuntimeError(_FREED)
        if not isinstance(t, Tensor):
            return t
        if views.owner(t)._version != self.versions[i]:
            raise RuntimeError(self._inplace_message(t, i))
        return t if xp.graph else t._data

    def raw_result(self) -> Any:
        """The saved output array."""
        if self.freed:
            raise RuntimeError(_FREED)
        if self.out_stale:
            raise RuntimeError(
                "one of the variables needed for gradient computation has been modified by "
                f"an inplace operation: [{dtypes.name(self.out.dtype)} {list(self.out.shape)}], "
                f"which is output 0 of {self.name()}, was modified in place after it was "
                "saved. Hint: the operation that produced it saved its result; do the "
                "in-place operation on a clone."
            )
        return self.out

    def result(self, xp: Any) -> Any:
        """The saved output in ``xp``'s kind; in graph mode a Tensor whose node is ``self``,
        so differentiating through it reaches this node again."""
        out = self.raw_result()
        return Tensor(out, self) if xp.graph else out

    def free(self) -> None:
        """Drop the saved output; later reads of saved values raise."""
        self.freed = True
        self.out = None

    # -- naming ---------------------------------------------------------------------------
    def name(self) -> str:
        """PyTorch-style name, e.g. ``MulBackward0`` (a method, as ``grad_fn.name()``)."""
        return "".join(p.capitalize() for p in self.op.split("_")) + "Backward0"

    @property
    def next_functions(self) -> tuple[tuple[Any, int], ...]:
        """``(parent, 0)`` per input, as PyTorch's ``grad_fn.next_functions``."""
        return tuple((p, 0) for p in self.parents)

    def __repr__(self) -> str:
        return f"<{self.name()}>"

    def _inplace_message(self, t: Tensor, i: int) -> str:
        return (
            "one of the variables needed for gradient computation has been modified by an "
            f"inplace operation: [{dtypes.name(t.dtype)} {list(t._data.shape)}], which is "
            f"input {i} of {self.name()}, is at version {views.owner(t)._version}; expected "
            f"version {self.versions[i]} instead. Hint: do the in-place operation on a clone, or "
            "after backward."
        )
