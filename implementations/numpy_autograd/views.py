"""Views: tensors that share their base's memory, and what in-place ops do to them.

PyTorch's rules, which this module gives the engine:

* A view (basic indexing, ``view``/``reshape`` when no copy is needed, ``squeeze``,
  ``unsqueeze``, ``flatten``, ``permute``/``transpose``/``T``) shares its base's memory, so
  a write through either is seen by both. NumPy gives that for free: the view's array is a
  NumPy view of the base's.
* An in-place op on a view that is part of a graph rewrites the *base's* history too
  (PyTorch's ``CopySlices``): the base becomes ``write_back(old base, new view value)``, a
  recorded op, so gradients flow through the write.
* An in-place op on the base changes what every existing view holds; a view's graph node is
  then re-derived from the base's new history the next time the view is used (PyTorch does
  the same lazily, from the base's version counter).
* Base and views share one version counter: the base's (:func:`owner`), so a saved view
  that its base overwrote is caught like any other in-place modification.

A view keeps a :class:`View`: the root base (never itself a view) and the view ops that
lead from it to the view, each with the op that writes a new view value back into its
input. Every view refers to its root directly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import grad_mode

Step = tuple[Callable[[Any, Any], Any], Callable[[Any, Any, Any], Any], Any]
"""One view op: ``(forward(base, arg) -> view, write_back(base, value, arg) -> base, arg)``,
both recorded engine ops (module-level functions: no closure per view)."""


class View:
    """How a view tensor is made from its root base (see the module docstring): the view
    ops from the root, outermost first."""

    __slots__ = ("base", "steps", "version")

    def __init__(self, base: Any, steps: tuple[Step, ...]) -> None:
        self.base = base
        self.steps = steps
        self.version = base._version
        """The base's version when the view's graph node was last derived from it."""

    def forward(self, base: Any) -> Any:
        """The view, made again from ``base`` by recorded ops."""
        for fwd, _, arg in self.steps:
            base = fwd(base, arg)
        return base

    def write_back(self, base: Any, value: Any) -> Any:
        """``base`` with this view's elements replaced by ``value`` (recorded ops)."""
        chain = [base]
        for fwd, _, arg in self.steps[:-1]:
            chain.append(fwd(chain[-1], arg))
        for (_, back, arg), b in zip(reversed(self.steps), reversed(chain), strict=True):
            value = back(b, value, arg)
        return value


def track(out: Any, input: Any, step: Step, *, check: bool = False) -> Any:
    """Mark ``out`` (made from ``input`` by the view op ``step``) as a view of ``input``'s
    root base. With ``check``, only if NumPy did not have to copy (a reshape of a
    non-contiguous array): NumPy gives every view the memory owner as its ``base``.
    """
    if check:
        owner = input._data if input._data.base is None else input._data.base
        if out._data.base is not owner:
            return out
    parent = input._view
    if parent is None:
        out._view = View(input, (step,))
    else:
        out._view = View(parent.base, (*parent.steps, step))
    return out


def owner(t: Any) -> Any:
    """The tensor whose version counter ``t`` uses: its root base, or itself."""
    v = t._view
    return t if v is None else v.base


def refresh(t: Any) -> None:
    """Re-derive view ``t``'s graph node if its base was modified in place since."""
    v = t._view
    if v is not None and v.version != v.base._version:
        rederive(t)


def rederive(t: Any) -> None:
    """Make view ``t``'s graph node ``forward(base)`` from the base's current history."""
    v = t._view
    v.version = v.base._version
    if t._node is None and t._requires_grad:
        return  # made a leaf of its own (requires_grad_() on a view of data): keep it one
    with grad_mode.enable_grad():
        fresh = v.forward(v.base)
    t._node, t._requires_grad = fresh._node, fresh._requires_grad
