"""The two array namespaces a VJP computes with.

Every VJP in :mod:`harness.implementations.numpy_autograd.vjps` is written once against ``xp``:

* :data:`NUMPY` -- plain backward: gradients are NumPy arrays and the VJP is straight NumPy,
  no Tensor objects, no graph (the fast path every training step takes);
* :data:`GRAPH` -- ``create_graph=True``: gradients are Tensors and every step of the VJP is
  an engine op, so the backward pass is itself recorded and can be differentiated again
  (second order, and forward mode through the double-VJP trick).

Operators (``+ - * / @``), ``.T``, ``.mT``, ``.reshape``, ``.sum(axis=, keepdims=)``,
``.mean(axis=, keepdims=)`` and indexing work on both arrays and Tensors, so VJPs use them
directly; the rest goes through the functions below.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import ops
from .ops.shapes import _along_axis_key


class _Numpy:
    graph = False
    exp = staticmethod(np.exp)
    log = staticmethod(np.log)
    log1p = staticmethod(np.log1p)
    sin = staticmethod(np.sin)
    cos = staticmethod(np.cos)
    sigmoid = staticmethod(ops.sigmoid_array)
    where = staticmethod(np.where)
    broadcast_to = staticmethod(np.broadcast_to)
    softmax = staticmethod(ops.softmax_array)
    gather = staticmethod(ops.gather_array)
    index_scatter = staticmethod(ops.index_scatter_array)
    fold = staticmethod(ops.fold_array)
    unfold = staticmethod(ops.unfold_array)
    prod_others = staticmethod(ops.prod_others_array)

    @staticmethod
    def cumsum(g: Any, ax: int) -> Any:
        return np.cumsum(g, axis=ax)

    @staticmethod
    def einsum(spec: str, *arrays: Any) -> Any:
        return np.einsum(spec, *arrays)

    @staticmethod
    def clamp_min(x: Any, v: float) -> Any:
        return np.maximum(x, v)

    @staticmethod
    def permute(g: Any, axes: tuple[int, ...]) -> Any:
        return np.transpose(g, axes)

    @staticmethod
    def scatter_add_zeros(g: Any, ax: int, idx: np.ndarray, shape: tuple[int, ...]) -> Any:
        z = np.zeros(shape, dtype=g.dtype)
        np.add.at(z, _along_axis_key(idx, ax), g)
        return z

    @staticmethod
    def cast(g: Any, dtype: np.dtype) -> Any:
        return g.astype(dtype)


class _Graph:
    graph = True
    exp = staticmethod(ops.exp)
    log = staticmethod(ops.log)
    log1p = staticmethod(ops.log1p)
    sin = staticmethod(ops.sin)
    cos = staticmethod(ops.cos)
    sigmoid = staticmethod(ops.sigmoid)
    where = staticmethod(ops.where)
    broadcast_to = staticmethod(ops.broadcast_to)
    softmax = staticmethod(ops.softmax)
    index_scatter = staticmethod(ops.index_scatter)
    permute = staticmethod(ops.permute)
    fold = staticmethod(ops.fold)
    unfold = staticmethod(ops.unfold)
    prod_others = staticmethod(ops.prod_others)
    cumsum = staticmethod(ops.cumsum)
    einsum = staticmethod(ops.einsum)

    @staticmethod
    def clamp_min(x: Any, v: float) -> Any:
        return ops.clamp(x, min=v)

    @staticmethod
    def gather(g: Any, ax: int, idx: np.ndarray) -> Any:
        return ops.gather(g, ax, idx)

    @staticmethod
    def scatter_add_zeros(g: Any, ax: int, idx: np.ndarray, shape: tuple[int, ...]) -> Any:
        return ops.scatter_add_zeros(g, ax, idx, shape)

    @staticmethod
    def cast(g: Any, dtype: np.dtype) -> Any:
        return ops.cast(g, dtype)


NUMPY = _Numpy()
GRAPH = _Graph()
