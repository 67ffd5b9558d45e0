"""The op catalog: every op the harness checks, as data.

Each :class:`OpSpec` names an op, its arguments (kind, value domain, differentiability,
points to keep away from), the shape rule that draws compatible shapes, and a float64
NumPy reference. Backends map these names to their own functions in
:meth:`harness.contract.Backend.ops`. Arrays are positional; the op's non-tensor
parameters (stride, padding, eps, dim, approximate, is_causal, ...: ``OpSpec.params``) are
keyword arguments with PyTorch's names, drawn by the strategies like shapes are, recorded in
reports and reproducers. An op without parameters is called with arrays alone.

The ops live by family: :mod:`.core` (elementwise, broadcasting, linear algebra,
reductions, shapes, losses) and :mod:`.nn` (convolution, pooling, normalization,
embeddings, attention, masks, scans, scatters, einsum); :mod:`.spec` holds the dataclasses
and :mod:`.references` the neural-network ops' NumPy references.

Shape rules (``OpSpec.shapes``) -- what the input strategies must produce:

``any``           one array of any shape, scalars and size-0 dimensions included
``nonempty``      one array with at least one element
``vector``        one array of at least 1 dimension (size-0 last dimension allowed)
``rows``          one array of at least 1 dimension whose last dimension is >= 1
``rows2``         like ``rows`` with last dimension >= 2 (unbiased variance)
``matrix``        one 2-D array
``broadcast``     n arrays whose shapes broadcast together (NumPy rules)
``same``          n arrays of one shape (at least one element)
``matmul``        (m, k) and (k, n)
``bmm``           (b, m, k) and (b, k, n)
``mv``            (m, k) and (k,)
``linear``        x (n, i), weight (o, i), bias (o,)
``cat``           two arrays equal except in dimension 0
``take``          x of at least 1 dimension with dim 0 >= 1, int64 indices into dim 0
``gather``        x (n, c), int64 indices (n, k) with values in [0, c)
``classify``      logits (n, c) with n, c >= 1, int64 labels (n,) in [0, c)

Shape rules that read the drawn parameters (:mod:`harness.shape_rules`):

``conv1d``        x (n, c, l), weight (o, c / groups, k), bias (o,); the window fits
``conv2d``        x (n, c, h, w), weight (o, c / groups, kh, kw), bias (o,)
``pool2d``        x (n, c, h, w) that the pooling window fits
``layer``         x (..., d) with d >= 2, weight (d,), bias (d,)
``channels``      x (n, c, *) with >= 2 values per channel, weight (c,), bias (c,)
``channels_eval`` x (n, c, *), running mean (c,), running var (c,), weight (c,), bias (c,)
``channels_stats`` x (n, c, *) with >= 2 values per channel, running mean and var (c,)
``groups``        x (n, c, *) with c a multiple of ``num_groups`` and >= 2 values per
                  group, weight (c,), bias (c,)
``embedding``     weight (v, d), int64 indices (k,) or (b, k) in [0, v), repeats likely
``attention``     q (b, h, l, e), k (b, h, s, e), v (b, h, s, ev)
``attention_mask`` q, k, v as ``attention`` and a bool mask (l, s) (True: attend)
``masked``        x of at least 1 dimension (last >= 1) and a bool mask of its shape
``reshape``       x whose size the fixed sizes of the target ``shape`` divide
``einsum``        one array per operand of ``equation``, one size per subscript
``index_add``     x (n, d), int64 index (k,) in [0, n), source (k, d)
``scatter``       x (n, c), int64 index (n, k) in [0, c), src (n, k)

Argument kinds: ``float`` (drawn in the op's dtype), ``index`` (int64, filled by the shape
rule), ``mask`` (bool). Only ``float`` arguments with ``differentiable=True`` get gradients.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.catalog import core, nn
from harness.catalog.spec import ArgSpec, OpSpec, Tolerance

__all__ = ["CATALOG", "ArgSpec", "OpSpec", "Tolerance", "get", "reference"]

CATALOG: dict[str, OpSpec] = {op.name: op for op in (*core.OPS, *nn.OPS)}
"""Every op, by name, in catalog order."""


def get(name: str) -> OpSpec:
    """The op called ``name``; an unknown name is a KeyError listing the valid ones."""
    try:
        return CATALOG[name]
    except KeyError:
        raise KeyError(f"unknown op {name!r}; valid ops: {', '.join(CATALOG)}") from None


def reference(name: str, *args: np.ndarray, **params: Any) -> np.ndarray:
    """The float64 NumPy reference of op ``name`` (float arguments are cast to float64);
    parameters not given take their defaults."""
    op = get(name)
    cast = [
        np.asarray(a, dtype=np.float64) if spec.kind == "float" else np.asarray(a)
        for a, spec in zip(args, op.args, strict=True)
    ]
    unknown = set(params) - set(op.params)
    if unknown:
        raise TypeError(
            f"op {name!r} has no parameter {sorted(unknown)[0]!r}; its parameters: "
            f"{', '.join(op.params) or 'none'}"
        )
    return np.asarray(op.reference(*cast, **(op.defaults() | params)), dtype=np.float64)
