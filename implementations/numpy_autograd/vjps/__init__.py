"""Every vector-Jacobian product of the engine, in one registry keyed by op name.

A VJP is ``vjp(g, node, xp) -> tuple`` with one entry per input of the node: the gradient
for that input (shaped like it; the engine casts dtypes) or ``None`` where the input needs
none. ``g`` is the gradient of the node's output. Saved values come from the node --
``node.input(i, xp)``, ``node.result(xp)`` (checked against in-place modification and
freeing), ``node.raw(i)`` for NumPy-only uses such as masks, ``node.shape(i)`` -- and
``node.ctx`` holds the op's constants.

Each VJP is written once against ``xp`` (see :mod:`harness.implementations.numpy_autograd.xp`):
NumPy arrays in a plain backward, engine Tensors under ``create_graph=True``, which is what
makes every op twice differentiable. Masks and indices are constants in both modes.

Broadcasting is undone by ONE helper, :func:`unbroadcast`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

VJP = Callable[[Any, Any, Any], tuple[Any, ...]]
VJPS: dict[str, VJP] = {}


def register(*names: str) -> Callable[[VJP], VJP]:
    """Register a VJP under one or more op names."""

    def deco(fn: VJP) -> VJP:
        for n in names:
            if n in VJPS:
                raise ValueError(f"VJP for {n!r} registered twice")
            VJPS[n] = fn
        return fn

    return deco


def unbroadcast(g: Any, shape: tuple[int, ...]) -> Any:
    """Sum ``g`` down to ``shape``: undo broadcasting (leading dims, and size-1 dims that
    were stretched). Works on arrays and Tensors alike."""
    gshape = g.shape
    if gshape == shape:
        return g
    lead = len(gshape) - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and gshape[lead + i] != 1
    )
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)


def _keep(g: Any, shape: tuple[int, ...], axes: tuple[int, ...] | None) -> Any:
    """``g`` of a reduction over ``axes`` reshaped with those axes kept as size 1."""
    return g.reshape(tuple(1 if axes is None or i in axes else n for i, n in enumerate(shape)))


def _count(shape: tuple[int, ...], axes: tuple[int, ...] | None) -> int:
    return math.prod(shape if axes is None else (shape[a] for a in axes))


# -- arithmetic -----------------------------------------------------------------------------
@register("add")
def _add(g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
    return (
        unbroadcast(g, node.shape(0)) if node.needs(0) else None,
        unbroadcast(g, node.shape(1)) if node.needs(1) else None,
    )


@register("sub")
def _sub(g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
    return (
        unbroadcast(g, node.shape(0)) if node.needs(0) else None,
        unbroadcast(-g, node.shape(1)) if node.needs(1) else None,
    )


@register("mul")
def _mul(g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
    return (
        unbroadcast(g * node.input(1, xp), node.shape(0)) if node.needs(0) else None,
        unbroadcast(g * node.input(0, xp), node.shape(1)) if node.needs(1) else None,
    )


@register("div")
def _div(g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
    b = node.input(1, xp)
    ga = unbroadcast(g / b, node.shape(0)) if node.needs(0) else None
    gb = None
    if node.needs(1):
        a = node.input(0, xp)
        gb = unbroadcast(-g * a / (b * b), node.shape(1))
    return ga, gb


@register("pow")
def _pow(g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
    a, b = node.input(0, xp), node.input(1, xp)
    ga = gb = None
    if node.needs(0):
        # b a**(b-1) is 0 * inf at a == 0, b == 0: define it as 0 there. PyTorch masks every
        # b == 0, which also zeroes the derivative of this term with respect to b (wrong
        # second order at b == 0); masking only a == b == 0 keeps it right.
        undefined = (node.raw(0) == 0) & (node.raw(1) == 0)
        ga = unbroadcast(xp.where(undefined, 0.0, g * b * a ** (b - 1)), node.shape(0))
    if node.needs(1):
        # d/db a**b = a**b log a, defined as 0 where a == 0 and b >= 0 (PyTorch's choice).
        zero = (node.raw(0) == 0) & (node.raw(1) >= 0)
        gb = unbroadcast(xp.where(zero, 0.0, g * node.result(xp) * xp.log(a)), node.shape(1))
    return ga, gb


@register("round", "floor", "ceil", "trunc")
def _rounding(g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
    # Piecewise constant: PyTorch's backward is zeros (not g * 0, which is NaN where g is inf).
    return (g * 0 if xp.graph else np.zeros_like(g),)


@register("pow_scalar")
def _pow_scalar(g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
    p = node.ctx
    if p == 0:
        return (g * 0,)
    return (g * (p * node.input(0, xp) ** (p - 1)),)


@register("rpow")
def _rpow(g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
    base = node.ctx
    if base == 0:
        return (xp.where(node.raw(0) >= 0, 0.0, g * node.result(xp) * -math.inf),)
    return (g * node.result(xp) * math.log(base),)


def _select_grads(g: Any, node: Any, xp: Any, first_wins: Any) -> tuple[Any, ...]:
    """maximum/minimum: the winner gets g, ties split it in half (PyTorch's rule)."""
    a, b = node.raw(0), node.raw(1)
    tie = a == b
    win_a = first_wins(a, b)
    half = g * 0.5
    return (
        unbroadcast(xp.where(win_a, g, xp.where(tie, half, 0.0)), node.shape(0))
        if node.needs(0)
        else None,
        unbroadcast(xp.where(win_a | tie, xp.where(tie, half, 0.0), g), node.shape(1))
        if node.needs(1)
        else None,
    )


@register("maximum")
def _maximum(g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
    return _select_grads(g, node, xp, np.greater)


@register("minimum")
def _minimum(g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
    return _select_grads(g, node, xp, np.less)


@register("where")
def _where(g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
    c = node.raw(0)
    return (
        None,
        unbroadcast(xp.where(c, g, 0.0), node.shape(1)) if node.needs(1) else None,
        unbroadcast(xp.where(c, 0.0, g), node.shape(2)) if node.needs(2) else None,
    )


# -- elementwise functions -----------------------------------------------------------------
@register("neg")
def _neg(g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
    return (-g,)


@register("abs")
def _abs(g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
    return (g * np.sign(node.raw(0)),)


@register("exp")
def _exp(g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
    return (g * node.result(xp),)


@register("log")
def _log(g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
    return (g / node.input(0, xp),)


@register("log1p")
def _log1p(g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
    return (g / (node.input(0, xp) + 1),)


@register("sqrt")
def _sqrt(g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
    return (g / (2 * node.result(xp)),)


@register("sin")
def _sin(g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
    return (g * xp.cos(node.input(0, xp)),)


@register("cos")
def _cos(g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
    return (-g * xp.sin(node.input(0, xp)),)


@register("tanh")
def _tanh(g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
    y = node.result(xp)
    return (g * (1 - y * y),)


@register("sigmoid")
def _sigmoid(g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
    y = node.result(xp)
    return (g * (1 - y) * y,)


@register("relu")
def _relu(g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
    return (xp.where(node.raw_result() > 0, g, 0.0),)


@register("leaky_relu")
def _leaky_relu(g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
    return (xp.where(node.raw(0) > 0, g, g * node.ctx),)


@register("softplus")
def _softplus(g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
    beta, threshold = node.ctx
    linear = node.raw(0) * beta > threshold
    return (xp.where(linear, g, g * xp.sigmoid(node.input(0, xp) * beta)),)


@register("clamp")
def _clamp(g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
    lo, hi = node.ctx
    x = node.raw(0)
    inside = np.ones(x.shape, dtype=bool)
    if lo is not None:
        inside &= x >= lo
    if hi is not None:
        inside &= x <= hi
    return (xp.where(inside, g, 0.0),)


# -- linear algebra -------------------------------------------------------------------------
@register("matmul")
def _matmul(g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
    sa, sb = node.shape(0), node.shape(1)
    a = node.input(0, xp) if node.needs(1) else None
    b = node.input(1, xp) if node.needs(0) else None
    if len(sa) == 1 and len(sb) == 1:  # dot product: g is a scalar
        return (g * b if b is not None else None, g * a if a is not None else None)
    # Vectors become matrices ((k,) @ M as (1, k) @ M; M @ (k,) as M @ (k, 1)), so one rule
    # covers every case; batch broadcasting is undone by unbroadcast.
    a2 = (1, *sa) if len(sa) == 1 else sa
    b2 = (*sb, 1) if len(sb) == 1 else sb
    g2 = g
    if len(sa) == 1:
        g2 = g2.reshape((*g2.shape[:-1], 1, g2.shape[-1]))
    if len(sb) == 1:
        g2 = g2.reshape((*g2.shape, 1))
    ga = gb = None
    if b is not None:
        ga = unbroadcast(g2 @ b.reshape(b2).mT, a2).reshape(sa)
    if a is not None:
        gb = unbroadcast(a.reshape(a2).mT @ g2, b2).reshape(sb)
    return ga, gb


@register("linear")
def _linear(g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
    # x @ W.T + b in one node: gx = g @ W, gW = g^T x (leading dims flattened), gb = sum g.
    # (The hottest VJP of training: needs/shape are read from the node's lists directly.)
    need_x, need_w, need_b = node.parents
    gx = g @ node.input(1, xp) if need_x is not None else None
    gw = gb = None
    if need_w is not None or need_b is not None:
        sx = node.inputs[0]._data.shape
        g2, x2 = g, None
        if len(sx) != 2:  # flatten leading dims (explicit sizes: size-0 batches too)
            rows = math.prod(sx[:-1])
            g2 = g.reshape((rows, node.inputs[1]._data.shape[0]))
            x2 = (rows, sx[-1])
        if need_w is not None:
            x = node.input(0, xp)
            gw = g2.T @ (x if x2 is None else x.reshape(x2))
        if need_b is not None:
            gb = g2.sum(axis=0) if xp.graph else np.add.reduce(g2, axis=0)
    return gx, gw, gb


# -- reductions -----------------------------------------------------------------------------
@register("sum")
def _sum(g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
    shape = node.shape(0)
    return (xp.broadcast_to(_keep(g, shape, node.ctx[0]), shape),)


@register("mean")
def _mean(g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
    shape = node.shape(0)
    axes = node.ctx[0]
    return (xp.broadcast_to(_keep(g, shape, axes) / _count(shape, axes), shape),)


@register("var")
def _var(g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
    axes, correction, _ = node.ctx
    shape = node.shape(0)
    x = node.input(0, xp)
    centered = x - x.mean(axis=axes, keepdims=True)
    # No degrees of freedom left (one element, unbiased): NaN / inf as PyTorch, not an error.
    dof = _count(shape, axes) - correction
    with np.errstate(invalid="ignore"):
        return (_keep(g, shape, axes) * (2.0 / dof if dof > 0 else math.inf) * centered,)


@register("max", "min", "amax", "amin")
def _extreme(g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
    # Every element equal to the extreme of its slice gets an equal share: PyTorch's rule for
    # amax/amin and for max()/min() without a dim (the all-axes case: ctx None).
    axes = node.ctx
    x = node.raw(0)
    hit = x == _keep(node.raw_result(), x.shape, axes)
    share = np.add.reduce(hit, axis=axes, keepdims=True).astype(x.dtype)
    return (xp.where(hit, _keep(g, x.shape, axes) / share, 0.0),)


@register("max_dim", "min_dim")
def _extreme_dim(g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
    # With a dim: the gradient goes to the returned index only (PyTorch's rule).
    ax, keepdim, idx = node.ctx
    shape = node.shape(0)
    positions = np.arange(shape[ax]).reshape([-1 if d == ax else 1 for d in range(len(shape))])
    gk = g if keepdim else g.reshape(idx.shape)
    return (xp.where(positions == idx, gk, 0.0),)


@register("logsumexp")
def _logsumexp(g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
    axes = node.ctx[0]
    shape = node.shape(0)
    out = _keep(node.result(xp), shape, axes)
    return (_keep(g, shape, axes) * xp.exp(node.input(0, xp) - out),)


@register("softmax")
def _softmax(g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
    y = node.result(xp)
    return (y * (g - (g * y).sum(axis=node.ctx, keepdims=True)),)


@register("log_softmax")
def _log_softmax(g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
    return (g - xp.exp(node.result(xp)) * g.sum(axis=node.ctx, keepdims=True),)


# -- shapes and indexing --------------------------------------------------------------------
@register("reshape")
def _reshape(g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
    return (g.reshape(node.shape(0)),)


@register("permute")
def _permute(g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
    return (xp.permute(g, tuple(np.argsort(node.ctx))),)


@register("expand")
def _expand(g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
    return (unbroadcast(g, node.shape(0)),)


@register("getitem")
def _getitem(g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
    key, advanced = node.ctx
    return (xp.index_scatter(g, key, advanced, node.shape(0)),)


@register("index_scatter")
def _index_scatter(g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
    return (g[node.ctx[0]],)


@register("gather")
def _gather(g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
    ax, idx = node.ctx
    return (xp.scatter_add_zeros(g, ax, idx, node.shape(0)),)


@register("scatter_add_zeros")
def _scatter_add_zeros(g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
    ax, idx = node.ctx
    return (xp.gather(g, ax, idx),)


@register("cat")
def _cat(g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
    ax, sizes = node.ctx
    lead = (slice(None),) * ax
    out, start = [], 0
    for i, n in enumerate(sizes):
        out.append(g[(*lead, slice(start, start + n))] if node.needs(i) else None)
        start += n
    return tuple(out)


@register("stack")
def _stack(g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
    lead = (slice(None),) * node.ctx
    return tuple(g[(*lead, i)] if node.needs(i) else None for i in range(len(node.inputs)))


@register("clone", "cast")
def _identity(g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
    return (g,)


@register("fill")
def _fill(g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
    return (None,)


@register("copy")
def _copy(g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
    return (None, unbroadcast(g, node.shape(1)) if node.needs(1) else None)


@register("setitem")
def _setitem(g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
    key, _ = node.ctx
    kept = np.ones(node.shape(0), dtype=bool)
    kept[key] = False
    return (
        xp.where(kept, g, 0.0) if node.needs(0) else None,
        unbroadcast(g[key], node.shape(1)) if node.needs(1) else None,
    )


# -- fused losses ---------------------------------------------------------------------------
def _loss_scale(g: Any, reduction: str, n: int) -> Any:
    """The per-element weight of the upstream gradient for a mean/sum/none reduction."""
    if reduction == "none":
        return g
    if g.__class__ is np.ndarray:  # a 0-d array: scale in Python, not with a NumPy call
        g = g.item()
    return g / n if reduction == "mean" else g


@register("bce_with_logits")
def _bce_with_logits(g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
    # loss = (1 - y) z + softplus(-z): d/dz = sigmoid(z) - y, d/dy = -z.
    reduction, softplus_neg_z = node.ctx
    need_z, need_y = node.parents
    scale = _loss_scale(g, reduction, softplus_neg_z.size)
    z = node.input(0, xp)
    gz = None
    if need_z is not None:
        # sigmoid(z) = exp(-softplus(-z)) reuses the forward's softplus on the NumPy path;
        # a recorded backward needs sigmoid itself (differentiable in z).
        s = xp.sigmoid(z) if xp.graph else np.exp(-softplus_neg_z)
        gz = (s - node.input(1, xp)) * scale
    gy = -z * scale if need_y is not None else None
    return gz, gy


@register("bce")
def _bce(g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
    # PyTorch's binary_cross_entropy_backward: (p - y) / max(p (1 - p), 1e-12).
    reduction = node.ctx
    scale = _loss_scale(g, reduction, math.prod(node.shape(0)))
    p, y = node.input(0, xp), node.input(1, xp)
    gp = gy = None
    if node.needs(0):
        gp = scale * (p - y) / xp.clamp_min((1 - p) * p, 1e-12)
    if node.needs(1):
        gy = scale * (xp.clamp_min(xp.log1p(-p), -100.0) - xp.clamp_min(xp.log(p), -100.0))
    return gp, gy


def _row_scale(g: Any, reduction: str, weights: np.ndarray, denom: float) -> Any:
    """Per-row weight (shape (N, 1)) of a classification loss's upstream gradient."""
    w = weights[:, None]
    if reduction == "mean":
        return (g / denom) * w
    if reduction == "sum":
        return g * w
    return g.reshape((-1, 1)) * w


@register("cross_entropy")
def _cross_entropy(g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
    # loss_i = logsumexp(z_i) - z_i[t_i]: d/dz_i = softmax(z_i) - onehot(t_i).
    reduction, weights, denom, onehot = node.ctx
    s = _row_scale(g, reduction, weights, denom)
    return ((xp.softmax(node.input(0, xp), 1) - onehot) * s, None)


@register("nll_loss")
def _nll_loss(g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
    reduction, weights, denom, onehot = node.ctx
    return (-(onehot * _row_scale(g, reduction, weights, denom)), None)


# The VJPs of the neural-network ops (windows, normalization statistics, erf, scans) live
# in their own module; importing it registers them.
from . import nn as _nn  # noqa: E402,F401
