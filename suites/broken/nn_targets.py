"""Deliberately broken neural-network ops of the NumPy engine, the way real engines break.

Each wrapper delegates to the engine's backend and breaks one thing:

* :class:`ConvPaddingGradient` -- im2col's VJP (col2im, behind conv2d / conv1d / pooling)
  crops the padded gradient at offset 0 instead of at the padding: right without padding,
  shifted with it;
* :class:`EmbeddingOverwrite` -- indexing's VJP writes each row's gradient (``z[i] = g``)
  instead of accumulating it (``np.add.at``): repeated embedding indices keep one gradient;
* :class:`BatchNormBiasedRunningVar` -- the running variance moves towards the *biased*
  batch variance (the one that normalizes) instead of the unbiased one;
* :class:`SoftmaxNoShift` -- softmax as ``exp(x) / sum(exp(x))`` without subtracting the
  row max: inf / inf = NaN once ``exp`` overflows.

Two bugs that no single op call shows, only a model's metamorphic properties (the op
oracles' convolutions and embedding lookups have batches of at most :data:`CHUNK` rows):

* :class:`ConvChunkedWeightGradient` -- ``conv2d`` runs the batch in chunks of
  :data:`CHUNK` rows (to bound im2col's memory) and every chunk but the last runs on a
  detached copy of the weight and bias: values right, their gradients counting only the
  last chunk's rows;
* :class:`EmbeddingChunkedWeightGradient` -- the same for a batch of sequences' ``embedding``
  lookup (2-D indices): the table's gradient counts only the last chunk of sequences.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

import harness.implementations.numpy_autograd as engine
import numpy as np
from harness.implementations.numpy_autograd import vjps
from harness.implementations.numpy_autograd.ops import fold_array

from harness.contract import Backend, OpFn

from .targets import Wrapped


class _PatchedVjp(Wrapped):
    """The engine with one entry of its VJP registry replaced while it differentiates."""

    op = ""

    def wrong(self, g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
        raise NotImplementedError

    @contextlib.contextmanager
    def _patched(self) -> Iterator[None]:
        right = vjps.VJPS[self.op]
        vjps.VJPS[self.op] = lambda g, node, xp: (
            self.wrong(g, node, xp) if not xp.graph else right(g, node, xp)
        )
        try:
            yield
        finally:
            vjps.VJPS[self.op] = right

    def vjp(self, fn, primals, cotangent, *, device, argnums=None):
        with self._patched():
            return self.inner.vjp(fn, primals, cotangent, device=device, argnums=argnums)

    def jvp(self, fn, primals, tangents, *, device, argnums=None):
        with self._patched():
            return self.inner.jvp(fn, primals, tangents, device=device, argnums=argnums)


class ConvPaddingGradient(_PatchedVjp):
    """col2im crops the padded image at 0, not at the padding (see the module docstring)."""

    op = "unfold"

    def wrong(self, g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
        stride, (ph, pw), dilation = node.ctx
        n, c, h, w = node.shape(0)
        full = fold_array(g, (n, c, h + 2 * ph, w + 2 * pw), stride, (0, 0), dilation)
        return (full[:, :, :h, :w],)


class EmbeddingOverwrite(_PatchedVjp):
    """Indexing's VJP assigns instead of accumulating (see the module docstring)."""

    op = "getitem"

    def wrong(self, g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
        key, _ = node.ctx
        z = np.zeros(node.shape(0), dtype=g.dtype)
        z[key] = g  # the last repeat wins
        return (z,)


class _SwappedOp(Wrapped):
    """The engine with one op of its table replaced by :meth:`broken`."""

    op = ""

    def __init__(self, inner: Backend, name: str) -> None:
        super().__init__(inner, name)
        self._ops = {**inner.ops(), self.op: self.broken}

    def ops(self) -> Mapping[str, OpFn]:
        return self._ops

    def broken(self, *args: Any, **params: Any) -> Any:
        raise NotImplementedError


class BatchNormBiasedRunningVar(_SwappedOp):
    """The running variance moves towards the biased batch variance."""

    op = "batch_norm_stats"

    def broken(self, x: Any, mean: Any, var: Any, momentum: float) -> Any:
        axes = (0, *range(2, x.ndim))
        batch_mean = x.mean(dim=axes)
        biased = x.var(dim=axes, unbiased=False)  # should be the unbiased one
        return engine.stack(
            [
                mean * (1 - momentum) + batch_mean * momentum,
                var * (1 - momentum) + biased * momentum,
            ]
        )


class SoftmaxNoShift(_SwappedOp):
    """Softmax without the max shift."""

    op = "softmax"

    def broken(self, x: Any) -> Any:
        e = engine.exp(x)
        return e / e.sum(dim=-1, keepdim=True)


CHUNK = 2
"""Rows per chunk of the chunked bugs: the op oracles draw at most this many (one chunk)."""


def _chunked(x: Any, table: tuple[Any, ...], call: Any) -> Any:
    """``call(rows, *table)`` on chunks of :data:`CHUNK` rows of ``x``, concatenated; every
    chunk but the last sees the parameters ``table`` detached (the bug)."""
    n = int(x.shape[0])
    outs = []
    for a in range(0, n, CHUNK):
        last = a + CHUNK >= n
        params = table if last else tuple(p.detach() for p in table)
        outs.append(call(x[a : a + CHUNK], *params))
    return engine.cat(outs, dim=0) if len(outs) > 1 else outs[0]


class ConvChunkedWeightGradient(_SwappedOp):
    """conv2d in chunks of the batch, the weight detached in all but the last chunk."""

    op = "conv2d"

    def broken(self, x: Any, w: Any, b: Any, **params: Any) -> Any:
        conv = engine.nn.functional.conv2d
        return _chunked(x, (w, b), lambda rows, w, b: conv(rows, w, b, **params))


class EmbeddingChunkedWeightGradient(_SwappedOp):
    """A batch of sequences looked up in chunks, the table detached in all but the last."""

    op = "embedding"

    def broken(self, w: Any, i: Any) -> Any:
        lookup = engine.nn.functional.embedding
        if i.ndim < 2:
            return lookup(i, w)
        return _chunked(i, (w,), lambda rows, w: lookup(rows, w))
