"""The shape rules that read an op's drawn parameters, or that need more than one size per
dimension kind: convolution, pooling, normalization, embeddings, attention, masks, einsum
and the scatters (the catalog's module docstring lists what each one produces).

Each rule is written once, as a function of ``pick(lo, hi, base)`` -- one size in
``[lo, hi]`` -- and the parameters: :func:`draw` picks with Hypothesis (sizes shrink towards
``lo``), :func:`base` takes every ``base`` (clipped into range), so the covering set and the
compact menus see one fixed shape per parameter choice.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from hypothesis import strategies as st

Shape = tuple[int, ...]
Pick = Callable[[int, int, int], int]


def _pair(v: Any) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _conv(pick: Pick, p: Mapping[str, Any], spatial: int) -> list[Shape]:
    g, s, pad, d = p["groups"], p["stride"], p["padding"], p["dilation"]
    n, cg, og = pick(1, 2, 2), pick(1, 2, 2), pick(1, 2, 1)
    ks = [pick(1, 3, 2) for _ in range(spatial)]
    sizes = []
    for k in ks:
        need = max(1, d * (k - 1) + 1 - 2 * pad)  # the window fits the padded input
        sizes.append(pick(need, need + 2 * s, need + s))
    return [(n, g * cg, *sizes), (g * og, cg, *ks), (g * og,)]


def _pool(pick: Pick, p: Mapping[str, Any]) -> list[Shape]:
    k, pad, d = p["kernel_size"], p["padding"], p.get("dilation", 1)
    need = max(1, d * (k - 1) + 1 - 2 * pad)
    h, w = pick(need, need + 3, need + 1), pick(need, need + 3, need + 2)
    return [(pick(1, 2, 2), pick(1, 2, 2), h, w)]


def _channel_batch(pick: Pick, c: int) -> Shape:
    """``(n, c, *spatial)`` with at least two values per channel."""
    n = pick(1, 2, 2)
    spatial = tuple(pick(1, 3, 2) for _ in range(pick(0, 2, 1)))
    if n * math.prod(spatial) < 2:
        n = 2
    return (n, c, *spatial)


def _channels(pick: Pick, p: Mapping[str, Any]) -> list[Shape]:
    c = pick(1, 3, 2)
    return [_channel_batch(pick, c), (c,), (c,)]


def _channels_eval(pick: Pick, p: Mapping[str, Any]) -> list[Shape]:
    c = pick(1, 3, 2)
    return [_channel_batch(pick, c), (c,), (c,), (c,), (c,)]


def _channels_stats(pick: Pick, p: Mapping[str, Any]) -> list[Shape]:
    c = pick(1, 3, 2)
    return [_channel_batch(pick, c), (c,), (c,)]


def _groups(pick: Pick, p: Mapping[str, Any]) -> list[Shape]:
    per_group = pick(1, 2, 2)
    c = p["num_groups"] * per_group
    spatial = tuple(pick(1, 2, 2) for _ in range(pick(0, 2, 1)))
    if per_group * math.prod(spatial) < 2:  # a group needs two values (PyTorch checks)
        spatial = (*spatial, 2)
    return [(pick(1, 2, 2), c, *spatial), (c,), (c,)]


def _layer(pick: Pick, p: Mapping[str, Any]) -> list[Shape]:
    lead = tuple(pick(1, 3, 2) for _ in range(pick(0, 2, 1)))
    d = pick(2, 4, 3)
    return [(*lead, d), (d,), (d,)]


def _embedding(pick: Pick, p: Mapping[str, Any]) -> list[Shape]:
    v, d = pick(1, 4, 3), pick(1, 3, 2)
    k = pick(1, 5, 3)
    idx = (k,) if pick(1, 2, 2) == 1 else (pick(1, 2, 2), k)
    return [(v, d), idx]


def _attention(pick: Pick, p: Mapping[str, Any]) -> list[Shape]:
    b, h = pick(1, 2, 1), pick(1, 2, 2)
    lq, lk, e, ev = pick(1, 3, 3), pick(1, 3, 3), pick(1, 3, 2), pick(1, 2, 2)
    return [(b, h, lq, e), (b, h, lk, e), (b, h, lk, ev)]


def _attention_mask(pick: Pick, p: Mapping[str, Any]) -> list[Shape]:
    q, k, v = _attention(pick, p)
    return [q, k, v, (q[2], k[2])]


def _masked(pick: Pick, p: Mapping[str, Any]) -> list[Shape]:
    lead = tuple(pick(1, 3, 2) for _ in range(pick(0, 2, 1)))
    shape = (*lead, pick(1, 4, 3))
    return [shape, shape]


def _reshape(pick: Pick, p: Mapping[str, Any]) -> list[Shape]:
    """An input whose size the target shape's fixed sizes divide (none: any shape)."""
    known = math.prod(s for s in p["shape"] if s != -1)
    lead = tuple(pick(1, 3, 2) for _ in range(pick(0, 2, 1)))
    if known == 1:
        return [lead]
    return [(*lead, known * pick(1, 2, 1))]


def einsum_operands(equation: str) -> list[str]:
    """The operands' subscripts of ``equation`` (``"ij,jk->ik"`` -> ``["ij", "jk"]``)."""
    return equation.split("->")[0].split(",")


def _einsum(pick: Pick, p: Mapping[str, Any]) -> list[Shape]:
    subs = einsum_operands(p["equation"])
    letters = sorted(set("".join(subs)))
    size = {c: pick(1, 3, 2 + i % 2) for i, c in enumerate(letters)}
    return [tuple(size[c] for c in s) for s in subs]


def _index_add(pick: Pick, p: Mapping[str, Any]) -> list[Shape]:
    n, d, k = pick(1, 4, 3), pick(1, 3, 2), pick(1, 5, 5)
    return [(n, d), (k,), (k, d)]


def _scatter(pick: Pick, p: Mapping[str, Any]) -> list[Shape]:
    n, c, k = pick(1, 3, 2), pick(1, 4, 3), pick(1, 4, 4)
    return [(n, c), (n, k), (n, k)]


RULES: dict[str, Callable[[Pick, Mapping[str, Any]], list[Shape]]] = {
    "conv1d": lambda pick, p: _conv(pick, p, 1),
    "conv2d": lambda pick, p: _conv(pick, p, 2),
    "pool2d": _pool,
    "layer": _layer,
    "channels": _channels,
    "channels_eval": _channels_eval,
    "channels_stats": _channels_stats,
    "groups": _groups,
    "embedding": _embedding,
    "attention": _attention,
    "attention_mask": _attention_mask,
    "masked": _masked,
    "reshape": _reshape,
    "einsum": _einsum,
    "index_add": _index_add,
    "scatter": _scatter,
}
"""Every rule of this module, by name."""

EMPTY: dict[str, tuple[Shape, ...]] = {
    "layer": ((0, 3), (3,), (3,)),
    "embedding": ((3, 2), (0,)),
    "masked": ((0, 3), (0, 3)),
    "reshape": ((0, 6),),
    "index_add": ((3, 2), (0,), (0, 2)),
    "scatter": ((2, 3), (2, 0), (2, 0)),
}
"""The one empty case of the rules here that allow a size-0 dimension."""

INDEX_BOUND: dict[str, Callable[[Sequence[Shape]], int]] = {
    "embedding": lambda shapes: shapes[0][0],
    "index_add": lambda shapes: shapes[0][0],
    "scatter": lambda shapes: shapes[0][1],
}
"""Exclusive upper bound of the int64 index argument, for the rules here that have one."""


def draw(data: st.DrawFn, rule: str, params: Mapping[str, Any]) -> list[Shape]:
    """Shapes of ``rule`` for ``params``, every size drawn."""
    return RULES[rule](lambda lo, hi, base: data(st.integers(lo, hi)), params)


def base(rule: str, params: Mapping[str, Any]) -> list[Shape]:
    """The fixed shapes of ``rule`` for ``params`` (the covering set's and compact menus')."""
    return RULES[rule](lambda lo, hi, b: min(max(b, lo), hi), params)
