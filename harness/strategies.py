"""Hypothesis strategies that draw valid inputs for every op of :mod:`harness.catalog`.

Everything an op needs is read from its :class:`harness.catalog.OpSpec`: the shape rule
(the catalog's module docstring lists them), each argument's kind and value domain, the
non-differentiable points to keep ``margin`` away from (``kinks``), the tie rules
(``separate``, ``distinct_last``, ``distinct_all``, ``spread_input``) and the parameters
(``params``: each drawn from its choices before the shapes, which may depend on it). Tests
never special-case an op.

Shapes have at most :data:`MAX_DIMS` dimensions of at most :data:`MAX_SIDE` elements;
scalars (0-d) and size-1 dimensions are drawn, size-0 dimensions never: every random example
carries values, and empty arrays are the covering set's (:mod:`harness.covering`, once per
op). Values are drawn in the requested dtype
(so float32 inputs are exactly representable) and then moved, deterministically, out of
the forbidden neighbourhoods: a map, not a filter, so nothing is rejected and shrinking
still works (shrunk values move towards 0, sides towards 1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from harness import catalog, shape_rules
from harness.catalog import OpSpec

MAX_SIDE = 4
"""Largest dimension drawn."""
MAX_DIMS = 3
"""Most dimensions drawn (4 for the batched matmul operands is not needed: bmm is 3-D)."""
MAX_INDICES = 5
"""Longest index vector drawn for ``take``."""
SEED_MAX = 2**32 - 1
"""Seeds (for cotangents and directions) are drawn in ``[0, SEED_MAX]``; they shrink to 0."""

# Sides shrink towards 1; size 0 is never drawn at random (see the module docstring).
_SIDE = st.integers(1, MAX_SIDE)


@dataclass(frozen=True)
class OpCase:
    """One example: the op's positional inputs, its parameters (keyword arguments) and the
    seed of its random directions.

    ``label`` names a covering-set case (:mod:`harness.covering`); random draws have none.
    """

    inputs: tuple[np.ndarray, ...]
    seed: int
    label: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)


Shape = tuple[int, ...]

COMPACT: dict[str, tuple[tuple[Shape, ...], ...]] = {
    "any": (((),), ((2, 1, 3),), ((3,),)),
    "nonempty": (((),), ((2, 1, 3),), ((3,),)),
    "vector": (((3,),), ((2, 1, 3),), ((2, 2),)),
    "rows": (((3,),), ((2, 1, 3),), ((3, 1),)),
    "rows2": (((3,),), ((2, 1, 3),), ((2, 2),)),
    "matrix": (((2, 3),), ((3, 1),), ((1, 2),)),
    "broadcast2": (
        ((2, 1, 3), (2, 1, 3)),
        ((2, 1, 3), (3,)),
        ((2, 1), (1, 3)),
        ((2, 1), (3, 1, 2)),  # lower rank with a stretched size-1 dim, against a higher rank
        ((3, 1, 2), (2, 1)),  # ... and the other way round
        ((), (2, 3)),
    ),
    "broadcast3": (
        ((2, 3), (2, 3), (2, 3)),
        ((2, 3), (3,), (2, 1)),
        ((), (2, 3), (3,)),
        # each argument once the lower-rank (2, 1) against (3, 2, 2), the others stretched
        ((2, 1), (3, 1, 2), (1, 2, 2)),
        ((3, 1, 2), (1, 2, 2), (2, 1)),
        ((1, 2, 2), (2, 1), (3, 1, 2)),
    ),
    "same": (((),), ((3,),), ((2, 1, 3),)),  # one shape, repeated for every argument
    "matmul": (((2, 3), (3, 2)), ((1, 3), (3, 1)), ((3, 1), (1, 2))),
    "bmm": (((2, 2, 3), (2, 3, 2)), ((1, 3, 1), (1, 1, 2)), ((3, 1, 2), (3, 2, 1))),
    "mv": (((2, 3), (3,)), ((3, 1), (1,)), ((1, 2), (2,))),
    "linear": (((2, 3), (2, 3), (2,)), ((3, 1), (2, 1), (2,)), ((1, 2), (3, 2), (3,))),
    "cat": (((2, 3), (1, 3)), ((1,), (2,)), ((1, 2, 1), (2, 2, 1))),
    "take": (((3,), (3,)), ((3, 2), (5,)), ((2, 1, 3), (1,))),
    "gather": (((2, 3), (2, 2)), ((1, 1), (1, 3)), ((3, 2), (3, 1))),
    "classify": (((2, 3), (2,)), ((1, 1), (1,)), ((3, 2), (3,))),
}
"""Compact shapes, per shape rule (``broadcast`` by arity): a few shapes that still cover
scalars, size-1 dimensions, batches and broadcasting -- every broadcasting op also gets
lower-rank operands with stretched size-1 dimensions, on each side -- shared between rules
where possible (no size-0 dimension: empty arrays are the covering set's). JAX compiles
every primitive once per shape and dtype (~35 ms of CPU each, measured: a float32 softmax
VJP on a new shape is ~14 compilations), so drawing from these keeps the ``ci`` run of a JIT
target to a few compilations per op; ``--shapes free`` draws shapes freely."""


def _shape(draw: st.DrawFn, min_dims: int, max_dims: int, side: st.SearchStrategy[int]) -> Shape:
    ndim = draw(st.integers(min_dims, max_dims))
    return tuple(draw(side) for _ in range(ndim))


def _broadcast(draw: st.DrawFn, n: int) -> list[Shape]:
    """``n`` shapes broadcasting to a drawn result: each keeps trailing dims, some set to 1."""
    result = _shape(draw, 0, MAX_DIMS, _SIDE)
    shapes = []
    for _ in range(n):
        ndim = draw(st.integers(0, len(result)))
        tail = result[len(result) - ndim :]
        shapes.append(tuple(s if draw(st.booleans()) else 1 for s in tail))
    return shapes


@st.composite
def shapes_for(
    draw: st.DrawFn, op: OpSpec, compact: bool = False, params: Mapping[str, Any] | None = None
) -> list[Shape]:
    """Shapes for every argument of ``op`` following its shape rule (from a menu if compact;
    the rules of :mod:`harness.shape_rules` read ``params``, by default the op's defaults)."""
    rule, n = op.shapes, op.arity
    if rule in shape_rules.RULES:
        chosen = op.defaults() if params is None else params
        if compact:
            return shape_rules.base(rule, chosen)
        return shape_rules.draw(draw, rule, chosen)
    if compact:
        menu = f"broadcast{n}" if rule == "broadcast" else rule
        if menu not in COMPACT:
            raise ValueError(f"op {op.name!r}: no compact shapes for rule {rule!r} ({n} args)")
        shapes = list(draw(st.sampled_from(COMPACT[menu])))
        return shapes * n if rule == "same" else shapes
    if rule == "any":
        return [_shape(draw, 0, MAX_DIMS, _SIDE)]
    if rule == "nonempty":
        return [_shape(draw, 0, MAX_DIMS, _SIDE)]
    if rule == "vector":
        return [_shape(draw, 1, MAX_DIMS, _SIDE)]
    if rule in ("rows", "rows2"):
        lead = _shape(draw, 0, MAX_DIMS - 1, _SIDE)
        last = draw(st.integers(1 if rule == "rows" else 2, MAX_SIDE))
        return [(*lead, last)]
    if rule == "matrix":
        return [_shape(draw, 2, 2, _SIDE)]
    if rule == "broadcast":
        return _broadcast(draw, n)
    if rule == "same":
        return [_shape(draw, 0, MAX_DIMS, _SIDE)] * n
    if rule == "matmul":
        m, k, p = (draw(_SIDE) for _ in range(3))
        return [(m, k), (k, p)]
    if rule == "bmm":
        b, m, k, p = (draw(_SIDE) for _ in range(4))
        return [(b, m, k), (b, k, p)]
    if rule == "mv":
        m, k = draw(_SIDE), draw(_SIDE)
        return [(m, k), (k,)]
    if rule == "linear":
        rows, i, o = (draw(_SIDE) for _ in range(3))
        return [(rows, i), (o, i), (o,)]
    if rule == "cat":
        rest = _shape(draw, 0, MAX_DIMS - 1, _SIDE)
        return [(draw(_SIDE), *rest), (draw(_SIDE), *rest)]
    if rule == "take":
        return [
            (draw(_SIDE), *_shape(draw, 0, MAX_DIMS - 1, _SIDE)),
            (draw(st.integers(1, MAX_INDICES)),),
        ]
    if rule == "gather":
        rows, c, k = draw(_SIDE), draw(_SIDE), draw(_SIDE)
        return [(rows, c), (rows, k)]
    if rule == "classify":
        rows, c = draw(_SIDE), draw(_SIDE)
        return [(rows, c), (rows,)]
    raise ValueError(
        f"op {op.name!r} has unknown shape rule {rule!r}; valid rules: any, nonempty, vector, "
        "rows, rows2, matrix, broadcast, same, matmul, bmm, mv, linear, cat, take, gather, "
        f"classify, {', '.join(shape_rules.RULES)}"
    )


def index_bound(rule: str, shapes: Sequence[Shape]) -> int:
    """Exclusive upper bound of the int64 index argument of a ``take``/``gather``/``classify``
    (or of a rule of :mod:`harness.shape_rules` that has one)."""
    if rule in shape_rules.INDEX_BOUND:
        return shape_rules.INDEX_BOUND[rule](shapes)
    if rule == "take":
        return shapes[0][0]
    if rule in ("gather", "classify"):
        return shapes[0][1]
    raise ValueError(f"shape rule {rule!r} has no index argument")


def _guard(margin: float) -> float:
    # A hair over the margin so that the cast back to float32 cannot land inside it.
    return margin * (1 + 1e-3)


def push_from_kinks(
    x: np.ndarray, kinks: Sequence[float], margin: float, domain: tuple[float, float]
) -> np.ndarray:
    """``x`` with every value closer than ``margin`` to a kink moved to ``kink +- margin``.

    Values move to the side they were on (a value at the kink goes up), or to the other
    side when that side leaves the domain.
    """
    if not kinks or x.size == 0:
        return x
    lo, hi = domain
    g = _guard(margin)
    v = x.astype(np.float64)
    for k in kinks:
        near = np.abs(v - k) < margin
        up = np.where(v >= k, k + g, k - g)
        other = np.where(v >= k, k - g, k + g)
        dest = np.where((up < lo) | (up > hi), other, up)
        v = np.where(near, dest, v)
    return v.astype(x.dtype)


def spread(v: np.ndarray, margin: float, domain: tuple[float, float]) -> np.ndarray:
    """A 1-D array with the same order of values, every two at least ``margin`` apart.

    Keeps ``v`` where it already is spread: raises values only as much as needed, then, if
    that overflowed the domain, lowers the top ones only as much as needed.
    """
    if v.size < 2:
        return v
    g = _guard(margin)
    order = np.argsort(v, kind="stable")
    s = v[order].astype(np.float64)
    for i in range(1, len(s)):
        s[i] = max(s[i], s[i - 1] + g)
    lo, hi = domain
    s[-1] = min(s[-1], hi)
    for i in range(len(s) - 2, -1, -1):
        s[i] = min(s[i], s[i + 1] - g)
    if s[0] < lo:
        raise ValueError(f"cannot place {v.size} values {margin} apart inside {domain}")
    out = np.empty_like(s)
    out[order] = s
    return out.astype(v.dtype)


def separate(
    a: np.ndarray, b: np.ndarray, margin: float, domain: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """``a`` and ``b`` adjusted so that, broadcast together, they differ by ``margin`` everywhere.

    The argument that has the full broadcast shape is moved elementwise; when neither has it
    (both are broadcast), both are snapped to interleaved lattices ``2m*i`` and ``2m*i + m``.
    """
    shape = np.broadcast_shapes(a.shape, b.shape)
    if int(np.prod(shape)) == 0:
        return a, b
    lo, hi = domain
    g = _guard(margin)

    def moved(fixed: np.ndarray, free: np.ndarray) -> np.ndarray:
        f = np.broadcast_to(fixed, shape).astype(np.float64)
        v = free.astype(np.float64)
        d = v - f
        step = np.where(d >= 0, g, -g)
        dest = np.where((f + step < lo) | (f + step > hi), f - step, f + step)
        return np.where(np.abs(d) < margin, dest, v).astype(free.dtype)

    if b.shape == shape:
        return a, moved(a, b)
    if a.shape == shape:
        return moved(b, a), b
    spacing = 2 * g

    def snap(x: np.ndarray, offset: float) -> np.ndarray:
        i = np.round((x.astype(np.float64) - offset) / spacing)
        i = np.clip(i, np.ceil((lo - offset) / spacing), np.floor((hi - offset) / spacing))
        return (i * spacing + offset).astype(x.dtype)

    return snap(a, 0.0), snap(b, g)


def fit(op: OpSpec, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
    """``arrays`` moved out of ``op``'s forbidden neighbourhoods: kinks, ties (a map)."""
    out = list(arrays)
    for i, spec in enumerate(op.args):
        if spec.kind == "float" and spec.kinks:
            out[i] = push_from_kinks(out[i], spec.kinks, op.margin, spec.domain)
    if op.separate:
        i, j = op.diff_argnums[:2]
        domain = (
            max(op.args[i].domain[0], op.args[j].domain[0]),
            min(op.args[i].domain[1], op.args[j].domain[1]),
        )
        out[i], out[j] = separate(out[i], out[j], op.margin, domain)
    if op.spread_input and out[0].size:
        x = out[0]
        out[0] = spread(x.reshape(-1), op.margin, op.args[0].domain).reshape(x.shape)
    for i in op.diff_argnums:
        x = out[i]
        if op.distinct_last and x.ndim and x.size:
            rows = x.reshape(-1, x.shape[-1])
            out[i] = np.stack([spread(r, op.margin, op.args[i].domain) for r in rows]).reshape(
                x.shape
            )
        if op.distinct_all and x.size:
            out[i] = spread(x.reshape(-1), op.margin, op.args[i].domain).reshape(x.shape)
    return out


def representable(domain: tuple[float, float], dtype: str) -> tuple[float, float]:
    """``domain``'s bounds rounded inwards to ``dtype`` (0.1 is not a float32)."""
    lo, hi = domain
    if dtype == "float32":
        lo32, hi32 = np.float32(lo), np.float32(hi)
        lo = float(lo32 if lo32 >= lo else np.nextafter(lo32, np.float32(np.inf)))
        hi = float(hi32 if hi32 <= hi else np.nextafter(hi32, np.float32(-np.inf)))
    return lo, hi


def _floats(lo: float, hi: float, dtype: str) -> st.SearchStrategy[float]:
    lo, hi = representable((lo, hi), dtype)
    return st.floats(
        lo,
        hi,
        width=32 if dtype == "float32" else 64,
        allow_nan=False,
        allow_infinity=False,
    )


@st.composite
def op_draws(
    draw: st.DrawFn, op: str | OpSpec, dtype: str, compact: bool = False
) -> tuple[tuple[np.ndarray, ...], dict[str, Any]]:
    """Valid inputs for ``op`` and its parameters: each parameter drawn from its choices
    (shrinking to the default), then shapes for them, float arguments in ``dtype``, int64
    indices, bool masks.

    ``compact`` draws shapes from :data:`COMPACT` (or a rule's fixed shapes) instead of freely.
    """
    spec = catalog.get(op) if isinstance(op, str) else op
    if dtype not in ("float32", "float64"):
        raise ValueError(f"unknown dtype {dtype!r}; valid choices: float32, float64")
    params = {name: draw(st.sampled_from(choices)) for name, choices in spec.params.items()}
    shapes = draw(shapes_for(spec, compact, params))
    arrays: list[np.ndarray] = []
    for i, (arg, shape) in enumerate(zip(spec.args, shapes, strict=True)):
        if arg.kind == "float":
            lo, hi = arg.domain
            arrays.append(draw(hnp.arrays(np.dtype(dtype), shape, elements=_floats(lo, hi, dtype))))
        elif arg.kind == "index":
            upper = index_bound(spec.shapes, shapes)
            arrays.append(
                draw(hnp.arrays(np.int64, shape, elements=st.integers(0, max(upper - 1, 0))))
            )
        elif arg.kind == "mask":
            arrays.append(draw(hnp.arrays(np.bool_, shape)))
        else:
            raise ValueError(
                f"op {spec.name!r} argument {i} has unknown kind {arg.kind!r}; "
                "valid kinds: float, index, mask"
            )
    return tuple(fit(spec, arrays)), params


def op_inputs(
    op: str | OpSpec, dtype: str, compact: bool = False
) -> st.SearchStrategy[tuple[np.ndarray, ...]]:
    """The inputs of :func:`op_draws` alone (for an op without parameters, all it needs)."""
    return op_draws(op, dtype, compact).map(lambda d: d[0])


def op_cases(op: str | OpSpec, dtype: str, compact: bool = False) -> st.SearchStrategy[OpCase]:
    """Inputs and parameters for ``op`` in ``dtype`` with a seed for cotangents and
    directions."""
    return st.builds(
        lambda d, seed: OpCase(d[0], seed, params=d[1]),
        op_draws(op, dtype, compact),
        st.integers(0, SEED_MAX),
    )


def directions(
    seed: int, shapes: Sequence[tuple[int, ...]], dtype: str, *, stream: int
) -> list[np.ndarray]:
    """Seeded random arrays, one per shape, in ``dtype``: stream 0 standard normal (cotangents),
    stream 1 uniform in [-1, 1] (tangent directions, so that ``h * u`` never exceeds ``h``).
    """
    rng = np.random.default_rng([seed, stream])
    if stream == 1:
        return [rng.uniform(-1.0, 1.0, size=s).astype(dtype) for s in shapes]
    return [rng.standard_normal(size=s).astype(dtype) for s in shapes]
