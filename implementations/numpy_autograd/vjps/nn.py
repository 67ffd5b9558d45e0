"""VJPs of the neural-network primitives: sliding windows, erf, expm1, scans, products,
einsum (the registry and its rules are :mod:`..vjps`'s; everything written against ``xp``).
"""

from __future__ import annotations

import math
from typing import Any

from . import register

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


@register("unfold")
def _unfold(g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
    stride, padding, dilation = node.ctx
    return (xp.fold(g, node.shape(0), stride, padding, dilation),)


@register("fold")
def _fold(g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
    stride, padding, dilation = node.ctx
    kernel = node.shape(0)[4:]
    return (xp.unfold(g, kernel, stride, padding, dilation),)


@register("erf")
def _erf(g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
    x = node.input(0, xp)
    return (g * (_TWO_OVER_SQRT_PI * xp.exp(-(x * x))),)


@register("expm1")
def _expm1(g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
    return (g * xp.exp(node.input(0, xp)),)


@register("cumsum")
def _cumsum(g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
    # The adjoint of an inclusive prefix sum is the inclusive suffix sum.
    ax = node.ctx
    return (g.sum(axis=ax, keepdims=True) - xp.cumsum(g, ax) + g,)


@register("prod")
def _prod(g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
    # d prod / d x_i = the product of the others: exact with zeros (no division by x_i).
    ax, keepdim = node.ctx
    shape = node.shape(0)
    gk = g if keepdim else g.reshape(tuple(1 if d == ax else n for d, n in enumerate(shape)))
    if shape[ax] == 0:  # nothing to differentiate (an empty product is the constant 1)
        return (xp.broadcast_to(gk * 0, shape),)
    return (gk * xp.prod_others(node.input(0, xp), ax),)


@register("einsum")
def _einsum(g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
    # Operand k's gradient: the output's gradient contracted with every other operand onto
    # k's subscripts; a subscript of k that appears nowhere else was summed out in the
    # forward, so its gradient is broadcast back along it.
    ins, out = node.ctx
    grads: list[Any] = []
    for k, sub in enumerate(ins):
        if not node.needs(k):
            grads.append(None)
            continue
        others = [(s, node.input(i, xp)) for i, s in enumerate(ins) if i != k]
        seen = set(out).union(*(s for s, _ in others))
        kept = "".join(c for c in sub if c in seen)
        spec = ",".join([out, *(s for s, _ in others)]) + "->" + kept
        gk = xp.einsum(spec, g, *(a for _, a in others))
        if kept != sub:
            shape = node.shape(k)
            full = tuple(shape[sub.index(c)] if c in kept else 1 for c in sub)
            order = [kept.index(c) for c in sub if c in kept]
            gk = xp.broadcast_to(xp.permute(gk, tuple(order)).reshape(full), shape)
        grads.append(gk)
    return tuple(grads)
