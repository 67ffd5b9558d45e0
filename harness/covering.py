"""Covering sets: for every catalog op, deterministic inputs where backend bugs live.

Random draws (:mod:`harness.strategies`) stay inside each argument's domain, keep away from
kinks and ties and never draw empty arrays. Every profile also runs, as explicit Hypothesis
examples beside those draws (:func:`harness.oracles.check_op`), the covering set of the op
derived here from its catalog entry alone:

``signs``         negative values, zero and positive values (the domain's edges where it
                  excludes 0), every argument a different rotation of them
``kinks``         both sides of every kink at the margin (``kink +- margin``)
``ties``          equal values where the op must not see ties (``separate``,
                  ``distinct_last``, ``distinct_all``): the strategies' map moves them
                  exactly the margin apart, so both sides of the tie are tried
``extreme:NAME``  magnitudes near the dtype's overflow and underflow
                  (:data:`EXTREMES`, named by ``ArgSpec.extremes``): a missing max-shift or a
                  cast to a narrower type inside the op shows
``broadcast``     every broadcast axis with a size-1 (or missing) dimension, and a
                  lower-rank operand with a stretched size-1 dimension, on each side
                  (:data:`BROADCAST`)
``transposed``,   the inputs as non-contiguous views (Fortran order, or reversed strides for
``strided``       1-D; every other element of a larger buffer)
``empty``         one case with a size-0 dimension, where the shape rule allows one
``mask:rows``     for an op with a bool mask: its first row (last axis) all True and its
                  second all False, so a row is fully masked whichever value masks (a
                  masked softmax's NaN row, an attention query with nothing to attend to)
``param:N=V``     each parameter's other values, one at a time, at the shapes the rule
                  gives for them (every other case runs with the defaults)

Non-differentiable points themselves are left to the kink-convention oracle, whose inputs
:func:`kink_cases` builds exactly at them. Everything is a pure function of the op and the
dtype, so every run, profile and seed tries the same covering set.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness import catalog, shape_rules
from harness import strategies as strat
from harness.catalog import ArgSpec, OpSpec

Shape = tuple[int, ...]
Interval = tuple[float, float]


@dataclass(frozen=True)
class Extreme:
    """A named region of magnitudes near a dtype's limits.

    ``intervals(finfo)`` gives the value intervals (one row of the array is filled across
    each in turn); ``finite_differences`` says whether central differences with the
    oracles' absolute step mean anything there, and ``reason`` why not.
    """

    intervals: Callable[[np.finfo], list[Interval]]
    finite_differences: bool = True
    reason: str = ""


def _log_max(fi: np.finfo) -> float:
    return math.log(float(fi.max))


def _log_tiny(fi: np.finfo) -> float:
    return math.log(float(fi.tiny))


def _log_subnormal(fi: np.finfo) -> float:
    return math.log(float(fi.smallest_subnormal))


EXTREMES: dict[str, Extreme] = {
    # exp's result within a factor 150-400 of the largest and of the smallest normal number:
    # a float64 exp computed in float32 overflows; the gradient times a cotangent still fits.
    "exp_range": Extreme(
        lambda fi: [
            (_log_max(fi) - 6, _log_max(fi) - 5),
            (_log_tiny(fi) + 5, _log_tiny(fi) + 6),
        ]
    ),
    # Just past where exp overflows, and where it underflows to exactly 0 (below the
    # smallest subnormal): without a max-shift, softmax / logsumexp / softplus / a logit
    # loss give inf or 0 / 0.
    "large": Extreme(
        lambda fi: [
            (_log_max(fi) + 1, _log_max(fi) + 2),
            (_log_subnormal(fi) - 2, _log_subnormal(fi) - 1),
        ]
    ),
    # Positive values near the smallest normal number and near the largest: a float64 log
    # or sqrt computed in float32 gives -inf / 0 and inf.
    "tiny_huge": Extreme(
        lambda fi: [
            (32 * float(fi.tiny), 64 * float(fi.tiny)),
            (float(fi.max) / 64, float(fi.max) / 32),
        ],
        finite_differences=False,
        reason="an absolute step of 1e-3 is far above 1e-36 and below the spacing of 1e36",
    ),
    # Probabilities within 2**-20 of 0 and of 1.
    "near01": Extreme(
        lambda fi: [(2.0**-21, 2.0**-20), (1 - 2.0**-20, 1 - 2.0**-21)],
        finite_differences=False,
        reason="a step of 1e-3 leaves (0, 1) from within 2**-20 of its ends",
    ),
}
"""The magnitude regions ``ArgSpec.extremes`` names."""

BASE: dict[str, tuple[Shape, ...]] = {
    "any": ((2, 1, 3),),
    "nonempty": ((2, 1, 3),),
    "vector": ((2, 1, 3),),
    "rows": ((2, 1, 3),),
    "rows2": ((2, 1, 3),),
    "matrix": ((2, 3),),
    "broadcast2": ((2, 1, 3), (2, 1, 3)),
    "broadcast3": ((2, 3), (2, 3), (2, 3)),
    "same": ((2, 1, 3),),
    "matmul": ((2, 3), (3, 2)),
    "bmm": ((2, 2, 3), (2, 3, 2)),
    "mv": ((2, 3), (3,)),
    "linear": ((2, 3), (2, 3), (2,)),
    "cat": ((2, 3), (1, 3)),
    "take": ((3, 2), (5,)),
    "gather": ((2, 3), (2, 2)),
    "classify": ((2, 3), (2,)),
}
"""The shapes the value cases use, per shape rule (``broadcast`` by arity): entries of
:data:`harness.strategies.COMPACT`, so a JIT target compiles nothing new for them."""

BROADCAST: dict[str, tuple[tuple[Shape, ...], ...]] = {
    # Result (3, 2, 2): axis 0 missing and axis 2 stretched in (2, 1), axis 1 stretched in
    # (3, 1, 2) -- every axis has a size-1 or missing operand, each side lower rank once.
    "broadcast2": (((2, 1), (3, 1, 2)), ((3, 1, 2), (2, 1))),
    "broadcast3": (
        ((2, 1), (3, 1, 2), (1, 2, 2)),
        ((3, 1, 2), (1, 2, 2), (2, 1)),
        ((1, 2, 2), (2, 1), (3, 1, 2)),
    ),
}
"""Broadcasting cases: size-1 dimensions on every broadcast axis, lower rank on each side."""

EMPTY: dict[str, tuple[Shape, ...]] = {
    "any": ((0, 3),),
    "vector": ((2, 0),),
    "rows": ((0, 3),),
    "matrix": ((0, 3),),
    "broadcast2": ((0, 3), (3,)),
    "broadcast3": ((0, 3), (3,), (1, 3)),
    "matmul": ((2, 0), (0, 3)),
    "bmm": ((0, 2, 3), (0, 3, 2)),
    "mv": ((2, 0), (0,)),
    "linear": ((0, 3), (2, 3), (2,)),
    "cat": ((0, 3), (2, 3)),
    "take": ((2, 1, 3), (0,)),
    "gather": ((0, 3), (0, 2)),
}
"""The one empty case per shape rule that allows a size-0 dimension (``nonempty``,
``rows2``, ``same`` and ``classify`` do not)."""

_SIGN_ORDER = (-1.0, 0.0, 0.5, "lo", "hi", -0.5, 1.5, -1.5, 1.0)


def _menu(op: OpSpec) -> str:
    return f"broadcast{op.arity}" if op.shapes == "broadcast" else op.shapes


def _base(op: OpSpec, params: dict[str, Any] | None = None) -> list[Shape]:
    """The value cases' shapes: :data:`BASE`, or the rule's fixed shapes for ``params``."""
    if op.shapes in shape_rules.RULES:
        return shape_rules.base(op.shapes, op.defaults() if params is None else params)
    return _shapes(op, BASE[_menu(op)])


def _empty(op: OpSpec) -> list[Shape] | None:
    menu = _menu(op)
    if menu in EMPTY:
        return _shapes(op, EMPTY[menu])
    if op.shapes in shape_rules.EMPTY:
        return list(shape_rules.EMPTY[op.shapes])
    return None


def _fill(shape: Shape, values: Sequence[float], dtype: str) -> np.ndarray:
    n = int(np.prod(shape))
    flat = np.resize(np.asarray(values, dtype=np.float64), n) if n else np.zeros(0)
    return flat.reshape(shape).astype(dtype)


def signs(arg: ArgSpec, dtype: str, rotation: int = 0) -> list[float]:
    """Negative values, zero and positive values inside ``arg``'s domain (its edges
    included): the first three a negative, zero and a positive value where the domain has
    them, in an order rotated by ``rotation`` so that the arguments of one op pair signs
    differently."""
    lo, hi = strat.representable(arg.domain, dtype)
    out: list[float] = []
    for v in _SIGN_ORDER:
        x = lo if v == "lo" else hi if v == "hi" else float(v)
        if lo <= x <= hi and x not in out:
            out.append(x)
    core = min(3, len(out))
    k = rotation % core
    return out[k:core] + out[:k] + out[core:]


def _kink_sides(op: OpSpec, arg: ArgSpec, dtype: str) -> list[float]:
    g = op.margin * (1 + 1e-3)  # what the strategies' map uses: survives the float32 cast
    lo, hi = arg.domain
    sides = [v for k in arg.kinks for v in (k - g, k + g) if lo <= v <= hi]
    return sides + signs(arg, dtype)


def _extreme(shape: Shape, name: str, dtype: str) -> np.ndarray:
    """Fill each row (last axis) across one interval of ``EXTREMES[name]`` in turn."""
    intervals = EXTREMES[name].intervals(np.finfo(dtype))
    if not shape:
        return np.asarray(intervals[0][1], dtype=np.float64).astype(dtype)
    rows = int(np.prod(shape[:-1]))
    out = np.empty((rows, shape[-1]))
    for r in range(rows):
        lo, hi = intervals[r % len(intervals)]
        out[r] = np.linspace(hi, lo, shape[-1]) if shape[-1] > 1 else hi
    return out.reshape(shape).astype(dtype)


def _indices(shape: Shape, bound: int) -> np.ndarray:
    n = int(np.prod(shape))
    # 1, 3, 5, ... modulo the bound: repeats once the array is longer than the bound.
    return ((np.arange(n, dtype=np.int64) * 2 + 1) % max(bound, 1)).reshape(shape)


def _arrays(
    op: OpSpec, shapes: Sequence[Shape], dtype: str, values: Callable[[int, ArgSpec], np.ndarray]
) -> list[np.ndarray]:
    out: list[np.ndarray] = []
    for i, (arg, shape) in enumerate(zip(op.args, shapes, strict=True)):
        if arg.kind == "float":
            out.append(values(i, arg))
        elif arg.kind == "index":
            out.append(_indices(shape, strat.index_bound(op.shapes, shapes)))
        else:
            n = int(np.prod(shape))
            out.append((np.arange(n) % 2 == i % 2).reshape(shape))
    return out


def _shapes(op: OpSpec, shapes: Sequence[Shape]) -> list[Shape]:
    return list(shapes) * op.arity if op.shapes == "same" else list(shapes)


def transposed(x: np.ndarray) -> np.ndarray:
    """The same values as a non-C-contiguous view: Fortran order, or (1-D, or a shape whose
    Fortran order is still C-contiguous) reversed strides along the first long axis."""
    y = np.asfortranarray(x) if x.ndim >= 2 else x
    if y.flags.c_contiguous and x.size > 1:
        axis = next(i for i, s in enumerate(x.shape) if s > 1)
        y = np.flip(np.flip(x, axis).copy(), axis)
    return y


def strided(x: np.ndarray) -> np.ndarray:
    """The same values as a view of every other element of a buffer twice as long."""
    if x.ndim == 0:
        return x
    return np.stack([x, np.zeros_like(x)], axis=-1)[..., 0]


@dataclass(frozen=True)
class Covering:
    """One covering case before it becomes an :class:`~harness.strategies.OpCase`."""

    label: str
    inputs: tuple[np.ndarray, ...]
    finite_differences: bool = True
    """False where central differences mean nothing (:attr:`Extreme.reason`)."""
    params: Mapping[str, Any] = field(default_factory=dict)
    """The op's parameters for this case (the defaults but in a ``param:`` case)."""


def covering(op: str | OpSpec, dtype: str) -> list[Covering]:
    """The covering set of ``op`` in ``dtype`` (see the module docstring), every case fitted
    to the op's kink and tie rules (:func:`harness.strategies.fit`)."""
    spec = catalog.get(op) if isinstance(op, str) else op
    if dtype not in ("float32", "float64"):
        raise ValueError(f"unknown dtype {dtype!r}; valid choices: float32, float64")
    menu = _menu(spec)
    base = _base(spec)
    defaults = spec.defaults()
    cases: list[Covering] = []

    def add(
        label: str,
        shapes: Sequence[Shape],
        values: Callable[[int, ArgSpec, Shape], np.ndarray],
        fd: bool = True,
        layout: Callable[[np.ndarray], np.ndarray] | None = None,
        params: dict[str, Any] = defaults,
        mask_rows: bool = False,
    ) -> None:
        def fill(i: int, arg: ArgSpec) -> np.ndarray:
            return values(i, arg, shapes[i])

        arrays = _arrays(spec, shapes, dtype, fill)
        if mask_rows:
            for i, arg in enumerate(spec.args):
                if arg.kind == "mask" and arrays[i].ndim and arrays[i].size:
                    rows = arrays[i].reshape(-1, arrays[i].shape[-1])
                    rows[0] = True
                    rows[1:2] = False
        arrays = strat.fit(spec, arrays)
        if layout is not None:
            arrays = [layout(x) for x in arrays]
        cases.append(Covering(label, tuple(arrays), fd, dict(params)))

    def by_signs(i: int, arg: ArgSpec, shape: Shape) -> np.ndarray:
        return _fill(shape, signs(arg, dtype, rotation=i), dtype)

    add("signs", base, by_signs)
    if any(a.kinks for a in spec.args):

        def by_kinks(i: int, arg: ArgSpec, shape: Shape) -> np.ndarray:
            return _fill(shape, _kink_sides(spec, arg, dtype), dtype)

        add("kinks", base, by_kinks)
    if spec.separate or spec.distinct_last or spec.distinct_all:

        def by_ties(i: int, arg: ArgSpec, shape: Shape) -> np.ndarray:
            lo, hi = arg.domain
            return _fill(shape, [0.5 * (lo + hi) + 0.25], dtype)

        add("ties", base, by_ties)
    names = sorted({e for a in spec.args for e in a.extremes})
    for name in names:

        def by_extreme(i: int, arg: ArgSpec, shape: Shape, name: str = name) -> np.ndarray:
            if name in arg.extremes:
                return _extreme(shape, name, dtype)
            return by_signs(i, arg, shape)

        add(f"extreme:{name}", base, by_extreme, fd=EXTREMES[name].finite_differences)
    for shapes in BROADCAST.get(menu, ()):
        add("broadcast", list(shapes), by_signs)
    add("transposed", base, by_signs, layout=transposed)
    add("strided", base, by_signs, layout=strided)
    empty = _empty(spec)
    if empty is not None:
        add("empty", empty, by_signs)
    if any(a.kind == "mask" for a in spec.args):
        add("mask:rows", base, by_signs, mask_rows=True)
    for name, choices in spec.params.items():
        for value in choices[1:]:
            params = defaults | {name: value}
            add(f"param:{name}={value}", _base(spec, params), by_signs, params=params)
    return cases


def cases(op: str | OpSpec, dtype: str, *, finite_differences: bool = False) -> list[strat.OpCase]:
    """The covering set as examples, seeded by position; ``finite_differences`` leaves out
    the cases where central differences mean nothing (for the oracles that use them)."""
    chosen = [c for c in covering(op, dtype) if c.finite_differences or not finite_differences]
    return [
        strat.OpCase(c.inputs, seed=k, label=c.label, params=c.params) for k, c in enumerate(chosen)
    ]


def example(op: str | OpSpec, dtype: str = "float64", seed: int = 0) -> strat.OpCase:
    """One seeded random example of ``op``: the covering set's shapes at the default
    parameters, float values uniform over each argument's domain and fitted clear of kinks
    and ties (:func:`harness.strategies.fit`). For self-tests of a backend that need an
    ordinary input of every catalog op without a Hypothesis run."""
    spec = catalog.get(op) if isinstance(op, str) else op
    if dtype not in ("float32", "float64"):
        raise ValueError(f"unknown dtype {dtype!r}; valid choices: float32, float64")
    rng = np.random.default_rng(seed)
    shapes = _base(spec)

    def uniform(i: int, arg: ArgSpec) -> np.ndarray:
        lo, hi = strat.representable(arg.domain, dtype)
        return rng.uniform(lo, hi, shapes[i]).astype(dtype)

    arrays = strat.fit(spec, _arrays(spec, shapes, dtype, uniform))
    return strat.OpCase(tuple(arrays), seed=seed, label="example", params=spec.defaults())


def kink_points(op: OpSpec) -> bool:
    """Whether ``op`` has non-differentiable points: kinks, or ties it must not see."""
    return bool(
        op.diff_argnums
        and (any(a.kinks for a in op.args) or op.separate or op.distinct_last or op.distinct_all)
    )


def kink_cases(op: str | OpSpec, dtype: str) -> list[strat.OpCase]:
    """Inputs exactly at ``op``'s non-differentiable points, where frameworks pick a
    subgradient: every kink of a float argument (with values on both sides beside it),
    elementwise ties between the ``separate`` arguments (same shape and broadcast), tied
    maxima / minima along the last axis (``distinct_last``) or overall (``distinct_all``).
    """
    spec = catalog.get(op) if isinstance(op, str) else op
    if not kink_points(spec):
        raise ValueError(f"op {spec.name!r} has no kinks or ties in the catalog")
    out: list[tuple[str, list[np.ndarray]]] = []
    if any(a.kinks for a in spec.args):
        base = _base(spec)

        def at_kinks(i: int, arg: ArgSpec) -> np.ndarray:
            pts = [v for k in arg.kinks for v in (k - 0.25, k, k + 0.25)]
            lo, hi = arg.domain
            return _fill(base[i], [v for v in pts if lo <= v <= hi] or [lo], dtype)

        out.append(("at kinks", _arrays(spec, base, dtype, at_kinks)))
    if spec.separate:
        pairs: list[tuple[str, list[Shape]]] = [("ties", [(2, 3), (2, 3)])]
        if spec.shapes == "broadcast":
            pairs.append(("broadcast ties", [(2, 3), (3,)]))
        for label, shapes in pairs:
            tie = _fill(shapes[1], [0.0, 1.0, -0.5], dtype)
            a = np.broadcast_to(tie, shapes[0]).copy()
            a[0, 1] += 0.5  # one untied pair beside the ties
            pair = {spec.diff_argnums[0]: a, spec.diff_argnums[1]: tie}

            def paired(i: int, arg: ArgSpec, p: dict[int, np.ndarray] = pair) -> np.ndarray:
                return p[i]

            out.append((label, _arrays(spec, shapes, dtype, paired)))
    if spec.distinct_last or spec.distinct_all:
        shapes = _base(spec)
        rows = [[1.0, 1.0, 0.0], [0.5, 0.5, 0.5]] if spec.distinct_last else [[1.0, -1.0, 1.0]]
        tied = np.resize(np.resize(np.asarray(rows, dtype=np.float64), (2, 3)), shapes[0])
        out.append(
            ("tied extrema", _arrays(spec, shapes, dtype, lambda i, arg: tied.astype(dtype)))
        )
        neg = (-tied).astype(dtype)
        out.append(("tied extrema, negated", _arrays(spec, shapes, dtype, lambda i, arg: neg)))
    return [
        strat.OpCase(tuple(arrays), seed=k, label=f"kink: {label}", params=spec.defaults())
        for k, (label, arrays) in enumerate(out)
    ]
