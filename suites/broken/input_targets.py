"""Deliberately broken targets whose bugs show only on the inputs of the covering set.

Each wraps a real backend and breaks one op the way real backends break, where random
draws inside the catalog's domains rarely look:

* :class:`LeakyRelu` -- ``relu`` leaks 1% of its input on negative values (it is the
  backend's own ``leaky_relu``): shows on any negative value.
* :class:`NaiveLogsumexp` -- ``logsumexp`` as ``log(sum(exp(x)))``, without the max-shift:
  overflows to inf past ``log(max)`` (composed of the backend's own ops, so every mode works).
* :class:`NaiveSoftmax` -- ``softmax`` as ``exp(x) / sum(exp(x))`` in NumPy, forward and
  VJP in the input's dtype: inf / inf and 0 / 0 at large magnitudes.
* :class:`ReluKinkOne` -- ``relu``'s backward takes ``relu'(0) = 1`` (PyTorch: 0).
* :class:`MaxTiesFull` -- ``max_dim``'s backward gives every tied maximum the full gradient
  (PyTorch gives it to one).
* :class:`WrongAxisBroadcast` -- ``mul``'s backward reduces a lower-rank operand's gradient
  over the stretched axes counted from the left of the result (the operand's own axis
  numbers), not from the right: right for same-rank operands, wrong values of the right
  shape for ``(2, 1)`` against ``(3, 1, 2)``.
* :class:`IgnoresStrides` -- ``asarray`` copies the input's memory in the order it lies in
  and reshapes it as if it were C-ordered (a raw-buffer copy that drops the strides): right
  for every C-contiguous input, transposed values for a Fortran-ordered or reversed one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from harness.contract import Backend, OpFn
from harness.oracles import reduce_to_shape

from .targets import Wrapped, _BrokenOp


class _ReplacedOp(Wrapped):
    """Replaces op ``op`` by ``make(inner_ops)``, a function of the backend's own arrays."""

    op = ""

    def __init__(self, inner: Backend, name: str) -> None:
        super().__init__(inner, name)
        self._ops = {**inner.ops(), self.op: self.make(inner.ops())}

    def make(self, ops: Mapping[str, OpFn]) -> OpFn:
        raise NotImplementedError

    def ops(self) -> Mapping[str, OpFn]:
        return self._ops


class LeakyRelu(_ReplacedOp):
    """``relu`` that leaks 1% of its input on negative values."""

    op = "relu"

    def make(self, ops: Mapping[str, OpFn]) -> OpFn:
        return ops["leaky_relu"]


class NaiveLogsumexp(_ReplacedOp):
    """``logsumexp`` without the max-shift: ``log(sum(exp(x), -1))``."""

    op = "logsumexp"

    def make(self, ops: Mapping[str, OpFn]) -> OpFn:
        exp, total, log = ops["exp"], ops["sum_dim"], ops["log"]
        return lambda x: log(total(exp(x)))


class NaiveSoftmax(_BrokenOp):
    """``softmax`` as ``exp(x) / sum(exp(x))`` along the last axis, in the input's dtype."""

    op = "softmax"

    def __init__(self, inner: Backend, name: str, device: str) -> None:
        super().__init__(inner, name)
        self.device = device

        def naive(x: Any) -> Any:
            return inner.asarray(self._naive(inner.to_numpy(x)), device)

        self._bad = naive
        self._ops = {**inner.ops(), self.op: naive}

    @staticmethod
    def _naive(x: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore", invalid="ignore"):
            e = np.exp(x)
            return e / np.sum(e, axis=-1, keepdims=True)

    def wrong_vjp(self, primals, cotangent, argnums, device):
        x = np.asarray(primals[0])
        y = self._naive(x)
        v = np.asarray(cotangent, dtype=x.dtype)
        with np.errstate(over="ignore", invalid="ignore"):
            grad = y * (v - np.sum(v * y, axis=-1, keepdims=True))
        return y, [grad.astype(x.dtype) for _ in argnums]


class ReluKinkOne(_BrokenOp):
    """``relu``'s backward with ``relu'(0) = 1``: ``v * (x >= 0)``."""

    op = "relu"

    def wrong_vjp(self, primals, cotangent, argnums, device):
        value, _ = self.inner.vjp(self._good, primals, cotangent, device=device, argnums=argnums)
        x = np.asarray(primals[0])
        grad = (np.asarray(cotangent) * (x >= 0)).astype(x.dtype)
        return value, [grad for _ in argnums]


class MaxTiesFull(_BrokenOp):
    """``max_dim``'s backward gives every element equal to the maximum the full gradient."""

    op = "max_dim"

    def wrong_vjp(self, primals, cotangent, argnums, device):
        value, _ = self.inner.vjp(self._good, primals, cotangent, device=device, argnums=argnums)
        x = np.asarray(primals[0])
        top = np.max(x, axis=-1, keepdims=True)
        grad = (np.expand_dims(np.asarray(cotangent), -1) * (x == top)).astype(x.dtype)
        return value, [grad for _ in argnums]


def wrong_axis_reduce(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The bug: the stretched size-1 axes of ``shape`` summed by their own index in the
    result's gradient ``g`` (left-aligned), then the added leading axes; reshaped to fit
    (where the sizes do not fit, the correct reduction: the bug stays silent, never a crash).
    """
    g = np.asarray(g)
    right = reduce_to_shape(g, shape)
    axes = tuple(i for i, s in enumerate(shape) if s == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    lead = g.ndim - len(shape)
    if lead:
        g = g.sum(axis=tuple(range(lead)))
    return g.reshape(shape) if g.size == right.size else right.astype(g.dtype)


class WrongAxisBroadcast(_BrokenOp):
    """``mul``'s backward reduces a lower-rank operand over the wrong (left-aligned) axes."""

    op = "mul"

    def wrong_vjp(self, primals, cotangent, argnums, device):
        value, _ = self.inner.vjp(self._good, primals, cotangent, device=device, argnums=argnums)
        xs = [np.asarray(p) for p in primals]
        shape = np.broadcast_shapes(*(x.shape for x in xs))
        v = np.asarray(cotangent)
        full = [np.broadcast_to(x, shape) for x in xs]
        grads: Sequence[np.ndarray] = [v * full[1], v * full[0]]
        return value, [
            wrong_axis_reduce(grads[i], xs[i].shape).astype(xs[i].dtype) for i in argnums
        ]


class IgnoresStrides(Wrapped):
    """See the module docstring."""

    def asarray(self, x: np.ndarray, device: str) -> Any:
        x = np.asarray(x)
        return self.inner.asarray(np.ravel(x, order="K").reshape(x.shape), device)
