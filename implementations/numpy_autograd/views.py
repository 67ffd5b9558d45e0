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

A view keeps a :class:`View`: the root base (never itself a view), the function that makes
the view from the base, and the one that writes a new view value back into the base. Views
of views compose both, so every view refers to its root directly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from implementations.numpy_autograd import grad_mode

Forward = Callable[[Any], Any]
"""``base -> view`` as recorded engine ops."""
WriteBack = Callable[[Any, Any], Any]
"""``(base, new view value) -> new base`` as recorded engine ops."""


class View:
    """How a view tensor is made from its root base (see the module docstring)."""

    __slots__ = ("base", "forward", "version", "write_back")

    def __init__(self, base: Any, forward: Forward, write_back: WriteBack) -> None:
        self.base = base
        self.forward = forward
        self.write_back = write_back
        self.version = base._version
        """The base's version when the view's graph node was last derived from it."""


def track(out: Any, input: Any, forward: Forward, write_back: WriteBack) -> Any:
    """Mark ``out`` (made from ``input`` by a view op) as a view when it shares memory.

    ``forward`` and ``write_back`` relate ``out`` to ``input``; when ``input`` is itself a
    view they are composed with its own, so ``out`` refers to the root base.
    """
    if not np.may_share_memory(out._data, input._data):
        return out  # the op had to copy (a reshape of a non-contiguous tensor): not a view
    parent = input._view
    if parent is None:
        out._view = View(input, forward, write_back)
        return out
    f1, w1 = parent.forward, parent.write_back
    out._view = View(
        parent.base,
        lambda root: forward(f1(root)),
        lambda root, value: w1(root, write_back(f1(root), value)),
    )
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
    with grad_mode.enable_grad():
        fresh = v.forward(v.base)
    t._node, t._requires_grad = fresh._node, fresh._requires_grad
    v.version = v.base._version
