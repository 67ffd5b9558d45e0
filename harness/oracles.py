"""The comparisons behind every parity check: ops, gradients, model losses and training runs.

Every op oracle has one signature, ``oracle(target, op, inputs, *, seed, reference)``,
returns an :class:`Agreement` (the largest error it saw) and raises :class:`OracleFailure`
(an AssertionError) when the target disagrees. The failure names the target, op, oracle and
dtype, gives the largest absolute and relative error with their index and both values, the
inputs, and a copy-paste reproducer (the inputs as literals and the seed that draws the
cotangents and directions). The suites drive these functions through :func:`run_property`
(Hypothesis), and so do the tests that prove the suites catch broken targets.

The op oracles (see :data:`ORACLES`):

``forward``
    The value against the catalog's float64 NumPy reference, with the per-dtype tolerance
    (:func:`harness.tolerances.for_op`): shape and dtype must match exactly.
``vjp_reference``
    The VJP with a seeded standard-normal cotangent against the reference target's VJP,
    computed in float64 on the same (float32-representable) inputs and cotangent. A float32
    target is thus compared with the exact-to-rounding float64 answer using the float32
    tolerance; its ``atol`` is multiplied by ``max(1, max|v|)`` because a VJP is linear in
    the cotangent ``v``, so its values and its absolute rounding errors scale with ``|v|``
    while ``assert_close``'s atol presumes values of order one.
``finite_differences``
    Independent of every framework: ``<u, VJP(v)>`` of the target against the central
    difference ``<(f(x + h u) - f(x - h u)) / 2h, v>`` of the catalog's float64 NumPy
    reference ``f`` (JAX's ``check_grads`` identity). ``u`` is uniform in [-1, 1] and
    ``h <= margin / 4``, so no perturbation crosses a kink, a tie or a domain edge the
    strategies keep ``margin`` away. The difference is Richardson-extrapolated over
    ``h, h/2, h/4``; the tolerance is the target's elementwise tolerance carried through the
    inner product, plus twice the extrapolation's own error estimate and a generous float64
    round-off bound -- so a correct gradient is never failed for the step's sake.
``jvp_vjp``
    ``<JVP(u), v> = <u, VJP(v)>`` within the target (``Capabilities.jvp``).
``second_order``
    ``<u, d/dx <VJP(v), w>>`` from the target's :meth:`~harness.contract.Backend.vjp_vjp`
    against the central difference of ``<VJP(v), w>`` along ``u`` computed with a float64
    first-order VJP -- the reference target's when it has float64 (for the reference itself
    that is ``gradgradcheck``'s self-consistency), else the target's own
    (``Capabilities.second_order``).
``broadcast_reduction``
    Metamorphic: the gradient with respect to a broadcast input equals the gradient with
    respect to the materialized (``np.broadcast_to``) input, summed back over the broadcast
    dimensions.

Model-level metamorphic properties (:data:`MODEL_PROPERTIES`) and whole training runs
(:func:`trajectory`, :func:`accuracy`) are further down.
"""

from __future__ import annotations

import itertools
import math
import unittest
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from harness import catalog, tolerances
from harness import strategies as strat
from harness.contract import History, Unsupported
from harness.trajectory import Verdict, compare

if TYPE_CHECKING:
    from harness.discovery import Target
    from harness.workload import Workload

EPS64 = float(np.finfo(np.float64).eps)


class OracleFailure(AssertionError):
    """A target disagreed; ``str()`` is the full report, :attr:`agreement` the numbers."""

    def __init__(self, message: str, agreement: Agreement) -> None:
        super().__init__(message)
        self.agreement = agreement


class NotApplicable(Exception):
    """The check does not apply (the reference compared with itself, no reference target)."""


class _SkipUnsupported(unittest.SkipTest):
    """Carries Unsupported out of Hypothesis at once: skip exceptions are never shrunk."""


class _SkipNotApplicable(unittest.SkipTest):
    pass


@dataclass
class Agreement:
    """How closely one comparison agreed. ``ratio`` is error / allowed (<= 1 passes)."""

    passed: bool
    max_abs: float = 0.0
    max_rel: float = 0.0
    ratio: float = 0.0
    index: tuple[int, ...] | None = None
    actual: float | None = None
    expected: float | None = None
    mismatched: int = 0
    total: int = 0
    detail: str = ""

    @staticmethod
    def worst(items: Sequence[Agreement]) -> Agreement:
        """The agreement with the highest ratio (a failed one first)."""
        if not items:
            return Agreement(True)
        return max(items, key=lambda a: (not a.passed, a.ratio))


@dataclass(frozen=True)
class Context:
    """What is being checked, for the failure report and the reproducer."""

    target: str
    op: str
    oracle: str
    dtype: str
    inputs: tuple[np.ndarray, ...] = ()
    seed: int = 0
    reference: str | None = None

    @property
    def title(self) -> str:
        """``target  op  oracle  dtype``."""
        return f"{self.target}  {self.op}  {self.oracle}  {self.dtype}"


# --------------------------------------------------------------------------------------
# Comparing arrays and scalars


def compare_arrays(
    actual: np.ndarray, expected: np.ndarray, *, rtol: float, atol: float
) -> Agreement:
    """Elementwise ``|actual - expected| <= atol + rtol * |expected|`` (NaN equals NaN)."""
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    if a.shape != e.shape:
        return Agreement(
            False, math.inf, math.inf, math.inf, detail=f"shape {a.shape} != {e.shape}"
        )
    if a.size == 0:
        return Agreement(True)
    both_nan = np.isnan(a) & np.isnan(e)
    same_inf = np.isinf(a) & np.isinf(e) & (np.sign(a) == np.sign(e))
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.where(both_nan | same_inf, 0.0, np.abs(a - e))
        err = np.where(np.isnan(err), math.inf, err)
        allowed = atol + rtol * np.abs(np.where(np.isfinite(e), e, 0.0))
        rel = err / np.maximum(np.abs(e), np.finfo(np.float64).tiny)
        ratio = np.where(allowed > 0, err / allowed, np.where(err > 0, math.inf, 0.0))
    bad = ratio > 1.0
    worst = np.unravel_index(int(np.argmax(ratio)), a.shape)
    return Agreement(
        passed=not bad.any(),
        max_abs=float(err.max()),
        max_rel=float(np.where(np.isfinite(rel), rel, math.inf).max()),
        ratio=float(ratio.max()),
        index=tuple(int(i) for i in worst),
        actual=float(a[worst]),
        expected=float(e[worst]),
        mismatched=int(bad.sum()),
        total=int(a.size),
    )


def _inner_agreement(lhs: float, rhs: float, allowed: float, detail: str) -> Agreement:
    err = abs(lhs - rhs)
    if not (math.isfinite(lhs) and math.isfinite(rhs)):
        err = 0.0 if lhs == rhs else math.inf
    return Agreement(
        passed=err <= allowed,
        max_abs=err,
        max_rel=err / max(abs(rhs), np.finfo(np.float64).tiny),
        ratio=err / allowed if allowed > 0 else (0.0 if err == 0 else math.inf),
        actual=lhs,
        expected=rhs,
        mismatched=int(err > allowed),
        total=1,
        detail=detail,
    )


def _fmt(x: float | None) -> str:
    return "None" if x is None else f"{x:.10g}"


def _literal(a: np.ndarray) -> str:
    """Python source that rebuilds ``a`` exactly (dtype, shape and every value)."""

    def item(v: Any) -> str:
        if isinstance(v, float) and not math.isfinite(v):
            return f'float("{v}")'
        return repr(v)

    def nested(v: Any) -> str:
        return "[" + ", ".join(nested(x) for x in v) + "]" if isinstance(v, list) else item(v)

    return f"np.array({nested(a.tolist())}, dtype=np.{a.dtype.name}).reshape({a.shape!r})"


def reproducer(ctx: Context) -> str:
    """A short Python snippet that re-runs this one check on these inputs."""
    ref = f'discovery.get_target("{ctx.reference}")' if ctx.reference else "None"
    lines = [
        "import numpy as np",
        "from harness import discovery, oracles",
        "",
        "inputs = [",
        *(f"    {_literal(np.asarray(x))}," for x in ctx.inputs),
        "]",
        f"oracles.{ctx.oracle}(",
        f'    discovery.get_target("{ctx.target}"), "{ctx.op}", inputs, seed={ctx.seed},',
        f"    reference={ref},",
        ")",
    ]
    return "\n".join(lines)


def _describe_inputs(ctx: Context) -> str:
    out = []
    for i, x in enumerate(ctx.inputs):
        x = np.asarray(x)
        out.append(
            f"  arg {i}: {x.dtype.name}{list(x.shape)} = "
            + np.array2string(x, precision=9, separator=", ", threshold=64)
        )
    return "\n".join(out)


def failure_report(ctx: Context, what: str, ag: Agreement, rtol: float, atol: float) -> str:
    """The message of an :class:`OracleFailure`."""
    lines = [f"{ctx.title}: {what}"]
    if ag.detail:
        lines.append(f"  {ag.detail}")
    if ag.total > 1:
        lines.append(f"  mismatched elements: {ag.mismatched} / {ag.total}")
    where = f" at index {ag.index}" if ag.index is not None else ""
    lines.append(
        f"  largest error{where}: got {_fmt(ag.actual)}, expected {_fmt(ag.expected)}; "
        f"absolute {ag.max_abs:.3e}, relative {ag.max_rel:.3e} "
        f"({ag.ratio:.3g}x the allowed rtol={rtol:g}, atol={atol:g})"
    )
    if ctx.inputs:
        lines.append("inputs:")
        lines.append(_describe_inputs(ctx))
    lines.append(f"seed (cotangents, directions): {ctx.seed}")
    lines.append("reproducer:")
    lines.append(reproducer(ctx))
    return "\n".join(lines)


def assert_agree(
    actual: np.ndarray,
    expected: np.ndarray,
    *,
    rtol: float,
    atol: float,
    ctx: Context,
    what: str = "value",
    dtype: str | None = None,
) -> Agreement:
    """Compare shape, dtype (when ``dtype`` is given) and values; raise OracleFailure if not."""
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    if actual.shape != expected.shape:
        ag = Agreement(False, math.inf, math.inf, math.inf, detail="shape mismatch")
        raise OracleFailure(
            failure_report(
                ctx, f"{what} has shape {actual.shape}, expected {expected.shape}", ag, rtol, atol
            ),
            ag,
        )
    if dtype is not None and actual.dtype != np.dtype(dtype):
        ag = Agreement(False, math.inf, math.inf, math.inf, detail="dtype mismatch")
        raise OracleFailure(
            failure_report(
                ctx, f"{what} has dtype {actual.dtype}, expected {dtype}", ag, rtol, atol
            ),
            ag,
        )
    ag = compare_arrays(actual, expected, rtol=rtol, atol=atol)
    if not ag.passed:
        raise OracleFailure(failure_report(ctx, f"{what} disagrees", ag, rtol, atol), ag)
    return ag


def _assert_inner(
    lhs: float, rhs: float, allowed: float, *, ctx: Context, what: str, detail: str
) -> Agreement:
    ag = _inner_agreement(lhs, rhs, allowed, detail)
    if not ag.passed:
        raise OracleFailure(failure_report(ctx, what, ag, 0.0, allowed), ag)
    return ag


# --------------------------------------------------------------------------------------
# Support checks


def require(target: Target, op: str, dtype: str, *, capability: str | None = None) -> None:
    """Raise Unsupported unless ``target`` has ``op``, ``dtype`` and ``capability``."""
    backend = target.backend
    caps = backend.capabilities
    if dtype not in caps.dtypes:
        raise Unsupported(f"{target.name} does not support {dtype} (dtypes: {caps.dtypes})")
    if capability is not None and not getattr(caps, capability):
        raise Unsupported(f"{target.name} does not declare capability {capability!r}")
    if op not in backend.ops():
        why = backend.unsupported_reasons().get(op, "not in its ops()")
        raise Unsupported(f"{target.name} has no op {op!r}: {why}")


def _float_dtype(op: catalog.OpSpec, inputs: Sequence[np.ndarray]) -> str:
    for spec, x in zip(op.args, inputs, strict=True):
        if spec.kind == "float":
            return np.asarray(x).dtype.name
    raise ValueError(f"op {op.name!r} has no float argument")


def _cast(op: catalog.OpSpec, inputs: Sequence[np.ndarray], dtype: str) -> list[np.ndarray]:
    return [
        np.asarray(x).astype(dtype) if spec.kind == "float" else np.asarray(x)
        for spec, x in zip(op.args, inputs, strict=True)
    ]


def _setup(
    target: Target, op: str, inputs: Sequence[np.ndarray], oracle: str, seed: int, ref: str | None
) -> tuple[catalog.OpSpec, str, list[np.ndarray], Context]:
    spec = catalog.get(op)
    inputs = [np.asarray(x) for x in inputs]
    if len(inputs) != spec.arity:
        raise ValueError(f"op {op!r} takes {spec.arity} inputs, got {len(inputs)}")
    dtype = _float_dtype(spec, inputs)
    return spec, dtype, inputs, Context(target.name, op, oracle, dtype, tuple(inputs), seed, ref)


def _vjp(
    target: Target, op: str, inputs: Sequence[np.ndarray], v: np.ndarray, argnums: Sequence[int]
) -> tuple[np.ndarray, list[np.ndarray]]:
    fn = target.backend.ops()[op]
    value, grads = target.backend.vjp(
        fn, list(inputs), v, device=target.device, argnums=list(argnums)
    )
    return np.asarray(value), [np.asarray(g) for g in grads]


def _vjp_scale(v: np.ndarray) -> float:
    return max(1.0, float(np.max(np.abs(v)))) if v.size else 1.0


def _l1(x: np.ndarray) -> float:
    return float(np.sum(np.abs(np.asarray(x, dtype=np.float64))))


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sum(np.asarray(a, dtype=np.float64) * np.asarray(b, dtype=np.float64)))


def _check_grad_shapes(
    grads: Sequence[np.ndarray], inputs: Sequence[np.ndarray], argnums: Sequence[int], ctx: Context
) -> None:
    if len(grads) != len(argnums):
        ag = Agreement(False, math.inf, math.inf, math.inf)
        raise OracleFailure(
            failure_report(ctx, f"{len(grads)} gradients for {len(argnums)} arguments", ag, 0, 0),
            ag,
        )
    for i, g in zip(argnums, grads, strict=True):
        if g.shape != inputs[i].shape:
            ag = Agreement(False, math.inf, math.inf, math.inf)
            raise OracleFailure(
                failure_report(
                    ctx,
                    f"gradient of argument {i} has shape {g.shape}, expected {inputs[i].shape}",
                    ag,
                    0,
                    0,
                ),
                ag,
            )


# --------------------------------------------------------------------------------------
# Op oracles


def forward(
    target: Target,
    op: str,
    inputs: Sequence[np.ndarray],
    *,
    seed: int = 0,
    reference: Target | None = None,
) -> Agreement:
    """Forward value against the catalog's float64 NumPy reference."""
    _, dtype, inputs, ctx = _setup(target, op, inputs, "forward", seed, None)
    require(target, op, dtype)
    expected = catalog.reference(op, *inputs)
    fn = target.backend.ops()[op]
    backend = target.backend
    out = backend.to_numpy(fn(*(backend.asarray(x, target.device) for x in inputs)))
    rtol, atol = tolerances.for_op(op, dtype)
    return assert_agree(out, expected, rtol=rtol, atol=atol, ctx=ctx, what="value", dtype=dtype)


def _reference_dtype(reference: Target, dtype: str) -> str:
    return "float64" if "float64" in reference.backend.capabilities.dtypes else dtype


def vjp_reference(
    target: Target,
    op: str,
    inputs: Sequence[np.ndarray],
    *,
    seed: int = 0,
    reference: Target | None = None,
) -> Agreement:
    """Reverse mode against the reference target's float64 VJP (see the module docstring)."""
    if reference is None:
        raise NotApplicable("no reference target (no backend declares reference_priority)")
    spec, dtype, inputs, ctx = _setup(target, op, inputs, "vjp_reference", seed, reference.name)
    require(target, op, dtype)
    ref_dtype = _reference_dtype(reference, dtype)
    if reference.name == target.name and ref_dtype == dtype:
        raise NotApplicable(f"{target.name} is the reference: {dtype} compared with itself")
    require(reference, op, ref_dtype)
    argnums = spec.diff_argnums
    out_shape = np.shape(catalog.reference(op, *inputs))
    (v,) = strat.directions(seed, [out_shape], dtype, stream=0)
    _, grads = _vjp(target, op, inputs, v, argnums)
    _check_grad_shapes(grads, inputs, argnums, ctx)
    _, ref_grads = _vjp(reference, op, _cast(spec, inputs, ref_dtype), v.astype(ref_dtype), argnums)
    rtol, atol = tolerances.for_op(op, dtype)
    atol *= _vjp_scale(v)
    results = []
    for i, g, r in zip(argnums, grads, ref_grads, strict=True):
        results.append(
            assert_agree(
                g,
                r,
                rtol=rtol,
                atol=atol,
                ctx=ctx,
                what=f"gradient of argument {i} (against {reference.name} in {ref_dtype})",
                dtype=dtype,
            )
        )
    return Agreement.worst(results)


def _fd_step(spec: catalog.OpSpec) -> float:
    # Perturbations h*u with |u| <= 1 stay under margin/4: they cannot cross a kink, a tie
    # (two values >= margin apart move by <= 2h) or a domain edge the strategies respect.
    return min(1e-3, spec.margin / 4)


def richardson(phi: Callable[[float], tuple[float, float]], h: float) -> tuple[float, float, float]:
    """Central-difference derivative of ``phi`` at 0, extrapolated over ``h, h/2, h/4``.

    ``phi(t)`` returns ``(value, magnitude)``; the magnitude bounds the value's round-off.
    Returns ``(estimate, truncation_error_estimate, roundoff_bound)``.
    """
    ds, mags = [], []
    for k in range(3):
        hk = h / 2**k
        fp, mp = phi(hk)
        fm, mm = phi(-hk)
        ds.append((fp - fm) / (2 * hk))
        mags.append(max(mp, mm))
    r1 = (4 * ds[1] - ds[0]) / 3
    r2 = (4 * ds[2] - ds[1]) / 3
    # The extrapolation divides by h/4 and weighs three differences: 64 eps |f| / h covers
    # it with room for the few ulp each float64 evaluation may be off by.
    roundoff = 64 * EPS64 * max(mags) / h
    return r2, abs(r2 - r1), roundoff


def finite_differences(
    target: Target,
    op: str,
    inputs: Sequence[np.ndarray],
    *,
    seed: int = 0,
    reference: Target | None = None,
) -> Agreement:
    """``<u, VJP(v)>`` against float64 central differences of the NumPy reference."""
    spec, dtype, inputs, ctx = _setup(target, op, inputs, "finite_differences", seed, None)
    require(target, op, dtype)
    argnums = spec.diff_argnums
    x64 = _cast(spec, inputs, "float64")
    out_shape = np.shape(catalog.reference(op, *x64))
    (v,) = strat.directions(seed, [out_shape], dtype, stream=0)
    us = strat.directions(seed, [inputs[i].shape for i in argnums], dtype, stream=1)
    _, grads = _vjp(target, op, inputs, v, argnums)
    _check_grad_shapes(grads, inputs, argnums, ctx)
    v64 = v.astype(np.float64)

    def phi(t: float) -> tuple[float, float]:
        xs = list(x64)
        for i, u in zip(argnums, us, strict=True):
            xs[i] = x64[i] + t * u.astype(np.float64)
        f = catalog.reference(op, *xs)
        return _dot(f, v64), float(np.sum(np.abs(f) * np.abs(v64)))

    fd, trunc, roundoff = richardson(phi, _fd_step(spec))
    lhs = sum(_dot(u, g) for u, g in zip(us, grads, strict=True))
    rtol, atol = tolerances.for_op(op, dtype)
    atol *= _vjp_scale(v)
    allowed = (
        atol * sum(_l1(u) for u in us)
        + rtol * sum(_dot(np.abs(u), np.abs(g)) for u, g in zip(us, grads, strict=True))
        + 2 * trunc
        + roundoff
    )
    return _assert_inner(
        lhs,
        fd,
        allowed,
        ctx=ctx,
        what="<u, VJP(v)> disagrees with float64 central differences of the NumPy reference",
        detail=(
            f"<u, VJP(v)> = {lhs:.12g}, finite differences = {fd:.12g} "
            f"(extrapolation error {trunc:.2e}, round-off bound {roundoff:.2e}, "
            f"allowed {allowed:.2e})"
        ),
    )


def jvp_vjp(
    target: Target,
    op: str,
    inputs: Sequence[np.ndarray],
    *,
    seed: int = 0,
    reference: Target | None = None,
) -> Agreement:
    """Forward against reverse mode: ``<JVP(u), v> = <u, VJP(v)>``."""
    spec, dtype, inputs, ctx = _setup(target, op, inputs, "jvp_vjp", seed, None)
    require(target, op, dtype, capability="jvp")
    argnums = spec.diff_argnums
    out_shape = np.shape(catalog.reference(op, *inputs))
    (v,) = strat.directions(seed, [out_shape], dtype, stream=0)
    us = strat.directions(seed, [inputs[i].shape for i in argnums], dtype, stream=1)
    fn = target.backend.ops()[op]
    _, tangent = target.backend.jvp(fn, inputs, us, device=target.device, argnums=list(argnums))
    tangent = np.asarray(tangent)
    if tangent.shape != tuple(out_shape):
        ag = Agreement(False, math.inf, math.inf, math.inf)
        raise OracleFailure(
            failure_report(ctx, f"JVP has shape {tangent.shape}, expected {out_shape}", ag, 0, 0),
            ag,
        )
    _, grads = _vjp(target, op, inputs, v, argnums)
    _check_grad_shapes(grads, inputs, argnums, ctx)
    rtol, atol = tolerances.for_op(op, dtype)
    lhs = _dot(tangent, v)
    rhs = sum(_dot(u, g) for u, g in zip(us, grads, strict=True))
    u_scale = max([1.0] + [float(np.max(np.abs(u))) for u in us if u.size])
    allowed = (
        atol * u_scale * _l1(v)
        + rtol * _dot(np.abs(tangent), np.abs(v))
        + atol * _vjp_scale(v) * sum(_l1(u) for u in us)
        + rtol * sum(_dot(np.abs(u), np.abs(g)) for u, g in zip(us, grads, strict=True))
    )
    return _assert_inner(
        lhs,
        rhs,
        allowed,
        ctx=ctx,
        what="<JVP(u), v> disagrees with <u, VJP(v)>",
        detail=f"<JVP(u), v> = {lhs:.12g}, <u, VJP(v)> = {rhs:.12g}, allowed {allowed:.2e}",
    )


def second_order(
    target: Target,
    op: str,
    inputs: Sequence[np.ndarray],
    *,
    seed: int = 0,
    reference: Target | None = None,
) -> Agreement:
    """``vjp_vjp`` against central differences of a float64 first-order VJP."""
    ref_name = reference.name if reference is not None else None
    spec, dtype, inputs, ctx = _setup(target, op, inputs, "second_order", seed, ref_name)
    require(target, op, dtype, capability="second_order")
    # The first-order VJP differentiated numerically: the reference's when it has float64
    # and the op (independent of the target, and cheap for a JIT target whose float64
    # VJPs would each compile), else the target's own (gradgradcheck's self-consistency).
    if (
        reference is not None
        and "float64" in reference.backend.capabilities.dtypes
        and op in reference.backend.ops()
    ):
        first = reference
    elif "float64" in target.backend.capabilities.dtypes:
        first = target
    else:
        raise Unsupported(f"neither {target.name} nor the reference computes float64 VJPs")
    argnums = spec.diff_argnums
    out_shape = np.shape(catalog.reference(op, *inputs))
    (v,) = strat.directions(seed, [out_shape], dtype, stream=0)
    us = strat.directions(seed, [inputs[i].shape for i in argnums], dtype, stream=1)
    ws = strat.directions(seed, [inputs[i].shape for i in argnums], dtype, stream=2)
    fn = target.backend.ops()[op]
    hvp = target.backend.vjp_vjp(fn, inputs, v, ws, device=target.device, argnums=list(argnums))
    hvp = [np.asarray(h) for h in hvp]
    _check_grad_shapes(hvp, inputs, argnums, ctx)
    x64 = _cast(spec, inputs, "float64")
    v64 = v.astype(np.float64)

    def phi(t: float) -> tuple[float, float]:
        xs = list(x64)
        for i, u in zip(argnums, us, strict=True):
            xs[i] = x64[i] + t * u.astype(np.float64)
        _, g = _vjp(first, op, xs, v64, argnums)
        return (
            sum(_dot(gi, w) for gi, w in zip(g, ws, strict=True)),
            sum(_dot(np.abs(gi), np.abs(w)) for gi, w in zip(g, ws, strict=True)),
        )

    fd, trunc, roundoff = richardson(phi, _fd_step(spec))
    lhs = sum(_dot(u, h) for u, h in zip(us, hvp, strict=True))
    rtol, atol = tolerances.for_op(op, dtype)
    w_scale = max([1.0] + [float(np.max(np.abs(w))) for w in ws if w.size])
    atol *= _vjp_scale(v) * w_scale
    allowed = (
        atol * sum(_l1(u) for u in us)
        + rtol * sum(_dot(np.abs(u), np.abs(h)) for u, h in zip(us, hvp, strict=True))
        + 2 * trunc
        + roundoff
    )
    return _assert_inner(
        lhs,
        fd,
        allowed,
        ctx=ctx,
        what=f"second order disagrees with central differences of {first.name}'s float64 VJP",
        detail=(
            f"<u, vjp_vjp> = {lhs:.12g}, finite differences = {fd:.12g} "
            f"(extrapolation error {trunc:.2e}, round-off bound {roundoff:.2e}, "
            f"allowed {allowed:.2e})"
        ),
    )


def reduce_to_shape(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``g`` (float64) over the dimensions that broadcasting added or stretched."""
    g = np.asarray(g, dtype=np.float64)
    lead = g.ndim - len(shape)
    if lead:
        g = g.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, s in enumerate(shape) if s == 1 and g.shape[i] != 1)
    return g.sum(axis=axes, keepdims=True) if axes else g


def broadcast_reduction(
    target: Target,
    op: str,
    inputs: Sequence[np.ndarray],
    *,
    seed: int = 0,
    reference: Target | None = None,
) -> Agreement:
    """Gradient w.r.t. broadcast inputs = reduced gradient w.r.t. the materialized inputs."""
    spec, dtype, inputs, ctx = _setup(target, op, inputs, "broadcast_reduction", seed, None)
    require(target, op, dtype)
    if spec.shapes != "broadcast":
        raise ValueError(f"op {op!r} does not broadcast (shape rule {spec.shapes!r})")
    argnums = spec.diff_argnums
    shape = np.broadcast_shapes(*(x.shape for x in inputs))
    (v,) = strat.directions(seed, [shape], dtype, stream=0)
    _, grads = _vjp(target, op, inputs, v, argnums)
    _check_grad_shapes(grads, inputs, argnums, ctx)
    full = [np.broadcast_to(x, shape).copy() for x in inputs]
    _, full_grads = _vjp(target, op, full, v, argnums)
    _check_grad_shapes(full_grads, full, argnums, ctx)
    rtol, atol = tolerances.for_op(op, dtype)
    results = []
    for i, g, gf in zip(argnums, grads, full_grads, strict=True):
        reduced = reduce_to_shape(gf, inputs[i].shape)
        # Summing k float32 terms in another order moves the result by up to ~k ulp of the
        # largest partial sum: scale atol by how many elements were summed.
        k = max(1, int(np.prod(shape)) // max(1, int(np.prod(inputs[i].shape))))
        results.append(
            assert_agree(
                g,
                reduced,
                rtol=rtol,
                atol=atol * _vjp_scale(v) * k,
                ctx=ctx,
                what=(
                    f"gradient of broadcast argument {i} {inputs[i].shape} is not the "
                    f"sum over the broadcast dimensions of the gradient at {shape}"
                ),
                dtype=dtype,
            )
        )
    return Agreement.worst(results)


Oracle = Callable[..., Agreement]

ORACLES: dict[str, Oracle] = {
    "forward": forward,
    "vjp_reference": vjp_reference,
    "finite_differences": finite_differences,
    "jvp_vjp": jvp_vjp,
    "second_order": second_order,
    "broadcast_reduction": broadcast_reduction,
}
"""Op oracles by name (the names used in reports and known-divergence files)."""

CAPABILITY: dict[str, str | None] = {
    "forward": None,
    "vjp_reference": None,
    "finite_differences": None,
    "jvp_vjp": "jvp",
    "second_order": "second_order",
    "broadcast_reduction": None,
}


def ops_for(oracle: str) -> list[str]:
    """The catalog ops an oracle applies to."""
    if oracle not in ORACLES:
        raise KeyError(f"unknown oracle {oracle!r}; valid oracles: {', '.join(ORACLES)}")
    ops = list(catalog.CATALOG.values())
    if oracle in ("vjp_reference", "finite_differences", "jvp_vjp"):
        ops = [o for o in ops if o.diff_argnums]
    elif oracle == "second_order":
        ops = [o for o in ops if o.second_order and o.diff_argnums]
    elif oracle == "broadcast_reduction":
        ops = [o for o in ops if o.shapes == "broadcast" and o.diff_argnums]
    return [o.name for o in ops]


# --------------------------------------------------------------------------------------
# Running an oracle as a property (Hypothesis)


@dataclass
class Observed:
    """What a property run saw: examples tried and the worst agreement."""

    examples: int = 0
    worst: Agreement = field(default_factory=lambda: Agreement(True))

    def observe(self, ag: Agreement) -> None:
        """Count one example and keep the worst agreement."""
        self.examples += 1
        if (not ag.passed, ag.ratio) > (not self.worst.passed, self.worst.ratio):
            self.worst = ag


def run_property(
    test: Callable[[Any], Agreement],
    strategy: Any,
    *,
    settings: Any = None,
    key: str = "",
    expect_failure: bool = False,
) -> Observed:
    """Run ``test`` on examples of ``strategy`` with Hypothesis; return what it observed.

    ``settings`` defaults to the loaded Hypothesis profile; ``key`` names the example
    database entry and seeds derandomized runs: the op checks use ``op/dtype``, so every
    oracle and every target sees the same inputs (and a JIT's per-shape compilations are
    reused), and an input that failed anywhere is replayed everywhere;
    ``expect_failure`` skips shrinking (a known divergence needs no minimal example).
    Unsupported and NotApplicable propagate at once, without shrinking.
    """
    import hypothesis

    observed = Observed()

    def prop(case: Any) -> None:
        try:
            ag = test(case)
        except Unsupported as e:
            raise _SkipUnsupported(str(e)) from e
        except NotApplicable as e:
            raise _SkipNotApplicable(str(e)) from e
        observed.observe(ag)

    prop._hypothesis_internal_add_digest = key.encode()  # type: ignore[attr-defined]
    base = settings if settings is not None else hypothesis.settings()
    overrides: dict[str, Any] = {}
    if expect_failure:
        overrides["phases"] = [
            p for p in base.phases if p is not hypothesis.Phase.shrink and p.name != "explain"
        ]
    wrapped = hypothesis.given(strategy)(hypothesis.settings(base, **overrides)(prop))
    try:
        wrapped()
    except _SkipUnsupported as e:
        raise Unsupported(str(e)) from None
    except _SkipNotApplicable as e:
        raise NotApplicable(str(e)) from None
    return observed


def check_op(
    oracle: str,
    target: Target,
    op: str,
    dtype: str,
    *,
    reference: Target | None = None,
    settings: Any = None,
    key: str = "",
    expect_failure: bool = False,
    compact: bool = False,
) -> Observed:
    """Property: ``ORACLES[oracle]`` holds for ``target`` on every drawn input of ``op``.

    ``compact`` draws shapes from :data:`harness.strategies.COMPACT` (the ``ci`` profile).
    """
    fn = ORACLES[oracle] if oracle in ORACLES else None
    if fn is None:
        raise KeyError(f"unknown oracle {oracle!r}; valid oracles: {', '.join(ORACLES)}")
    require(target, op, dtype, capability=CAPABILITY[oracle])

    def test(case: strat.OpCase) -> Agreement:
        return fn(target, op, list(case.inputs), seed=case.seed, reference=reference)

    return run_property(
        test,
        strat.op_cases(op, dtype, compact),
        settings=settings,
        key=key or f"{op}/{dtype}",
        expect_failure=expect_failure,
    )


# --------------------------------------------------------------------------------------
# Model losses and the metamorphic properties that tie mini-batch to full batch


@dataclass(frozen=True)
class ModelCase:
    """A small model on a real dataset for the metamorphic properties."""

    dataset: str
    model: str

    @property
    def id(self) -> str:
        """``dataset-model`` (model hidden sizes joined by ``x``)."""
        return f"{self.dataset}-{self.model.replace(':', '').replace(',', 'x')}"


MODEL_CASES: tuple[ModelCase, ...] = (
    ModelCase("breast_cancer", "logreg"),
    ModelCase("digits", "mlp:16"),
)
"""Logistic regression (binary cross-entropy on logits) and a softmax MLP with a hidden layer
(cross-entropy): both losses and a hidden layer's backward pass. (A deeper MLP adds nothing
the properties can see and costs a JIT target a dozen compilations per batch size.)"""
_MODEL_IDS = {c.id for c in MODEL_CASES}


def model_loss(ops: Any, sizes: Sequence[int], activation: str, loss: str) -> Callable[..., Any]:
    """``f(W1, b1, ..., x, y)``: the workload's model and mean loss written with catalog ops.

    Binary labels are passed as ``(n, 1)`` so that ``bce_with_logits`` sees equal shapes.
    """
    n_layers = len(sizes) - 1

    def f(*args: Any) -> Any:
        params, x, y = args[:-2], args[-2], args[-1]
        h = x
        for k in range(n_layers):
            h = ops["linear"](h, params[2 * k], params[2 * k + 1])
            if k < n_layers - 1:
                h = ops[activation](h)
        return ops[loss](h, y)

    return f


@dataclass(frozen=True)
class ModelDraw:
    """A drawn batch: its rows, how it is cut into mini-batches and a row permutation."""

    rows: int
    cuts: tuple[int, ...]
    permutation: tuple[int, ...]
    seed: int


def _model_setup(
    target: Target, case: ModelCase, dtype: str, draw: ModelDraw
) -> tuple[Callable[..., Any], list[np.ndarray], np.ndarray, np.ndarray, Context]:
    from harness import workload as wl

    built = wl.build(case.dataset, case.model, "sgd", dtype=dtype, epochs=1, seed=0)
    spec = built.model
    needed = ["linear", spec.activation if spec.n_layers > 1 else "linear", spec.loss]
    for op in needed:
        require(target, op, dtype)
    rng = np.random.default_rng([draw.seed, 3])
    ds = built.dataset
    idx = rng.choice(len(ds.x_train), size=draw.rows, replace=False)
    x = np.ascontiguousarray(ds.x_train[idx])
    y = ds.y_train[idx]
    y = y.reshape(-1, 1) if spec.loss == "bce_with_logits" else y
    params = [p.copy() for p in wl.init_params(spec.sizes, draw.seed, dtype)]
    f = model_loss(target.backend.ops(), spec.sizes, spec.activation, spec.loss)
    ctx = Context(target.name, case.id, "", dtype, (), draw.seed, None)
    return f, params, x, y, ctx


def _model_grads(
    target: Target, f: Callable[..., Any], params: list[np.ndarray], x: np.ndarray, y: np.ndarray
) -> tuple[float, list[np.ndarray]]:
    one = np.ones((), dtype=params[0].dtype)
    value, grads = target.backend.vjp(
        f, [*params, x, y], one, device=target.device, argnums=list(range(len(params)))
    )
    return float(np.asarray(value)), [np.asarray(g) for g in grads]


def _model_fail(ctx: Context, prop: str, draw: ModelDraw, what: str, ag: Agreement) -> None:
    case = next(c for c in MODEL_CASES if c.id == ctx.op) if ctx.op in _MODEL_IDS else None
    lines = [
        f"{ctx.target}  {ctx.op}  {prop}  {ctx.dtype}: {what}",
        f"  largest error at index {ag.index}: got {_fmt(ag.actual)}, expected "
        f"{_fmt(ag.expected)}; absolute {ag.max_abs:.3e}, relative {ag.max_rel:.3e} "
        f"({ag.ratio:.3g}x allowed)",
        f"  drawn batch: {draw}",
        "reproducer:",
        "from harness import discovery, oracles",
        f"oracles.MODEL_PROPERTIES[{prop!r}](",
        f'    discovery.get_target("{ctx.target}"), oracles.{case!r},',
        f'    "{ctx.dtype}", oracles.{draw!r},',
        ")",
    ]
    raise OracleFailure("\n".join(lines), ag)


def _compare_grads(
    ctx: Context,
    prop: str,
    draw: ModelDraw,
    got: Sequence[np.ndarray],
    want: Sequence[np.ndarray],
    rtol: float,
    atol: float,
    what: str,
) -> Agreement:
    from harness.trajectory import param_names

    results = []
    for name, g, w in zip(param_names(len(got)), got, want, strict=True):
        ag = compare_arrays(g, w, rtol=rtol, atol=atol)
        if not ag.passed:
            _model_fail(ctx, prop, draw, f"{what}: gradient of {name} disagrees", ag)
        results.append(ag)
    return Agreement.worst(results)


def _model_tol(dtype: str, rows: int) -> tuple[float, float]:
    rtol, atol = tolerances.for_dtype(dtype)
    # A mean over n rows summed in a different order (batches, permutation) moves by about
    # sqrt(n) ulp of the summands; the workloads' standardized features and O(1) losses keep
    # the summands of order one, so atol grows with sqrt(rows).
    return rtol, atol * max(1.0, math.sqrt(rows))


def minibatch_mean(target: Target, case: ModelCase, dtype: str, draw: ModelDraw) -> Agreement:
    """Full-batch loss and gradient = batch-size-weighted average of the mini-batch ones."""
    f, params, x, y, ctx = _model_setup(target, case, dtype, draw)
    loss, grads = _model_grads(target, f, params, x, y)
    bounds = [0, *draw.cuts, draw.rows]
    avg_loss = 0.0
    avg = [np.zeros(p.shape) for p in params]
    for a, b in itertools.pairwise(bounds):
        lb, gb = _model_grads(target, f, params, x[a:b], y[a:b])
        w = (b - a) / draw.rows
        avg_loss += w * lb
        avg = [s + w * g.astype(np.float64) for s, g in zip(avg, gb, strict=True)]
    rtol, atol = _model_tol(dtype, draw.rows)
    ag = compare_arrays(np.array(loss), np.array(avg_loss), rtol=rtol, atol=atol)
    if not ag.passed:
        _model_fail(ctx, "minibatch_mean", draw, "full-batch loss != weighted mini-batch mean", ag)
    return Agreement.worst(
        [
            ag,
            _compare_grads(
                ctx, "minibatch_mean", draw, grads, avg, rtol, atol,
                "full-batch gradient != batch-size-weighted mini-batch average",
            ),
        ]
    )  # fmt: skip


def accumulate(target: Target, case: ModelCase, dtype: str, draw: ModelDraw) -> Agreement:
    """The gradient of ``L + L`` (two backward contributions to each parameter) is twice L's."""
    f, params, x, y, ctx = _model_setup(target, case, dtype, draw)
    require(target, "add", dtype)
    add = target.backend.ops()["add"]
    n = len(params)

    def twice(*args: Any) -> Any:
        return add(f(*args), f(*args[:n], args[n], args[n + 1]))

    _, grads = _model_grads(target, f, params, x, y)
    _, grads2 = _model_grads(target, twice, params, x, y)
    rtol, atol = tolerances.for_dtype(dtype)
    return _compare_grads(
        ctx, "accumulate", draw, grads2, [2 * g.astype(np.float64) for g in grads], rtol, atol,
        "two accumulated backward passes != twice one",
    )  # fmt: skip


def permutation(target: Target, case: ModelCase, dtype: str, draw: ModelDraw) -> Agreement:
    """Permuting the rows leaves the full-batch loss and gradients unchanged."""
    f, params, x, y, ctx = _model_setup(target, case, dtype, draw)
    perm = np.asarray(draw.permutation, dtype=np.int64)
    loss, grads = _model_grads(target, f, params, x, y)
    loss_p, grads_p = _model_grads(target, f, params, x[perm], y[perm])
    rtol, atol = _model_tol(dtype, draw.rows)
    ag = compare_arrays(np.array(loss_p), np.array(loss), rtol=rtol, atol=atol)
    if not ag.passed:
        _model_fail(ctx, "permutation", draw, "loss changed when the rows were permuted", ag)
    return Agreement.worst(
        [
            ag,
            _compare_grads(
                ctx, "permutation", draw, grads_p, grads, rtol, atol,
                "gradient changed when the rows were permuted",
            ),
        ]
    )  # fmt: skip


MODEL_PROPERTIES: dict[str, Callable[[Target, ModelCase, str, ModelDraw], Agreement]] = {
    "minibatch_mean": minibatch_mean,
    "accumulate": accumulate,
    "permutation": permutation,
}
"""Metamorphic properties of a model's loss, by name."""


def model_draws(max_rows: int = 48, compact: bool = False) -> Any:
    """Hypothesis strategy of :class:`ModelDraw` (rows, cut points, a permutation, a seed).

    ``compact``: 12 rows cut at 4 and/or 8, so every batch has 4, 8 or 12 rows and batch
    sizes still differ (a JIT compiles once per batch size; see
    :data:`harness.strategies.COMPACT`).
    """
    from hypothesis import strategies as st

    @st.composite
    def draws(draw: st.DrawFn) -> ModelDraw:
        if compact:
            rows = 12
            cuts = draw(st.lists(st.sampled_from((4, 8)), unique=True))
        else:
            rows = draw(st.integers(2, max_rows))
            cuts = draw(st.lists(st.integers(1, rows - 1), unique=True, max_size=6))
        perm = draw(st.permutations(range(rows)))
        seed = draw(st.integers(0, strat.SEED_MAX))
        return ModelDraw(rows, tuple(sorted(cuts)), tuple(perm), seed)

    return draws()


def check_model(
    prop: str,
    target: Target,
    case: ModelCase,
    dtype: str,
    *,
    settings: Any = None,
    key: str = "",
    expect_failure: bool = False,
    compact: bool = False,
) -> Observed:
    """Property: ``MODEL_PROPERTIES[prop]`` holds for every drawn batch."""
    if prop not in MODEL_PROPERTIES:
        raise KeyError(f"unknown property {prop!r}; valid: {', '.join(MODEL_PROPERTIES)}")
    fn = MODEL_PROPERTIES[prop]
    if dtype not in target.backend.capabilities.dtypes:
        raise Unsupported(f"{target.name} does not support {dtype}")
    return run_property(
        lambda d: fn(target, case, dtype, d),
        model_draws(compact=compact),
        settings=settings,
        key=key or f"{case.id}/{dtype}",
        expect_failure=expect_failure,
    )


# --------------------------------------------------------------------------------------
# Whole training runs


@dataclass(frozen=True)
class TrainingCase:
    """One training configuration of the parity suite (built with ``seed=0``)."""

    dataset: str
    model: str
    optimizer: str
    mode: str
    epochs: int

    @property
    def id(self) -> str:
        """``dataset-model-optimizer-mode``."""
        return f"{self.dataset}-{self.model}-{self.optimizer}-{self.mode}"

    @property
    def threshold(self) -> float:
        """Test accuracy every target must reach at the last epoch."""
        return ACCURACY[self.dataset]

    def build(self, dtype: str) -> Workload:
        """The workload in ``dtype`` (same data, initial parameters and batch order)."""
        from harness import workload

        return workload.build(
            self.dataset, self.model, self.optimizer, mode=self.mode, epochs=self.epochs,
            dtype=dtype, seed=0,
        )  # fmt: skip


ACCURACY = {"breast_cancer": 0.95, "digits": 0.93}
"""Test accuracy every target must reach (issue 5)."""

# Epochs: full batch takes one step per epoch, so it needs many; measured with torch:cpu
# (float64, seed 0) the last epoch that dips below the threshold is 97 (breast cancer MLP,
# SGD) and 152 (digits MLP, SGD; 0.881 at epoch 100): 200 and 250 epochs leave a margin.
# Mini-batch (32 rows) is above the threshold from epoch 6 at the latest: 10 epochs.
_EPOCHS = {
    ("breast_cancer", "batch"): 200,
    ("breast_cancer", "minibatch"): 10,
    ("digits", "batch"): 250,
    ("digits", "minibatch"): 10,
}

TRAINING_CASES: tuple[TrainingCase, ...] = tuple(
    TrainingCase(ds, model, opt, mode, _EPOCHS[ds, mode])
    for ds, model in (("breast_cancer", "logreg"), ("breast_cancer", "mlp"), ("digits", "mlp"))
    for opt in ("sgd", "momentum", "adam")
    for mode in ("batch", "minibatch")
)
"""Logistic regression and a two-hidden-layer MLP (64, 32) on breast cancer, a softmax MLP
(64, 32) on digits; full batch and mini-batch; SGD, momentum and Adam."""


class TrainingFailure(AssertionError):
    """A training run diverged from the reference or missed its accuracy."""

    def __init__(self, message: str, verdict: Verdict | None = None) -> None:
        super().__init__(message)
        self.verdict = verdict


@dataclass
class RunCache:
    """Training histories by (target, case, dtype), each computed once per process."""

    runs: dict[tuple[str, str, str], History | BaseException] = field(default_factory=dict)

    def get(self, target: Target, case: TrainingCase, dtype: str) -> History:
        """``target``'s history for ``case`` in ``dtype`` (Unsupported is cached too)."""
        k = (target.name, case.id, dtype)
        if k not in self.runs:
            try:
                caps = target.backend.capabilities
                if not caps.training:
                    raise Unsupported(f"{target.name} does not declare training")
                if dtype not in caps.dtypes:
                    raise Unsupported(f"{target.name} does not support {dtype}")
                self.runs[k] = target.backend.train(case.build(dtype), device=target.device)
            except Unsupported as e:
                self.runs[k] = e
        run = self.runs[k]
        if isinstance(run, BaseException):
            raise run
        return run


def _step_label(case: TrainingCase, step: int | None) -> str:
    if step is None:
        return "none"
    per = len(case.build("float64").batches[0]) if case.mode == "minibatch" else 1
    return f"{step} (epoch {step // per}, step {step % per} of the epoch)"


def trajectory(
    target: Target,
    case: TrainingCase,
    dtype: str,
    *,
    reference: Target | None,
    runs: RunCache,
) -> Verdict:
    """Every step's loss against the reference target's float64 run of the same workload.

    The reference runs in float64 whatever ``dtype`` is (same data, initial parameters and
    batch order; the float32 run's inputs are the float64 ones rounded): a float32 target is
    held to float64 truth with :data:`harness.trajectory.TOLERANCES` ``["float32"]``, whose
    margin was measured for exactly this comparison. Raises TrainingFailure naming the first
    diverging step (epoch and step in it) and the parameter tensor that drifted most.
    """
    if reference is None:
        raise NotApplicable("no reference target (no backend declares reference_priority)")
    ref_dtype = "float64" if "float64" in reference.backend.capabilities.dtypes else dtype
    if reference.name == target.name and ref_dtype == dtype:
        raise NotApplicable(f"{target.name} is the reference: its {dtype} run is the baseline")
    got = runs.get(target, case, dtype)
    ref = runs.get(reference, case, ref_dtype)
    verdict = compare(ref, got, dtype)
    if verdict.agrees:
        return verdict
    lines = [
        f"{target.name}  {case.id}  trajectory  {dtype}: diverges from {reference.name} "
        f"({ref_dtype})",
        f"  {verdict.summary()}",
        f"  first diverging step: {_step_label(case, verdict.first_diverging_step)}",
    ]
    if len(got.step_loss) != len(ref.step_loss):  # compare() located it in the common prefix
        lines.append(
            f"  step count: {len(got.step_loss)} against {len(ref.step_loss)} in the reference "
            f"({case.epochs} epochs of {len(case.build('float64').batches[0])} steps)"
        )
    lines.append(
        "  parameter drift: " + ", ".join(f"{k} {v:.2e}" for k, v in verdict.param_drift.items())
    )
    lines += [
        "reproducer:",
        "from harness import discovery, oracles",
        f"case = oracles.TrainingCase({case.dataset!r}, {case.model!r}, {case.optimizer!r}, "
        f"{case.mode!r}, {case.epochs})",
        f'print(oracles.trajectory(discovery.get_target("{target.name}"), case, "{dtype}",',
        f'    reference=discovery.get_target("{reference.name}"), runs=oracles.RunCache()))',
    ]
    raise TrainingFailure("\n".join(lines), verdict)


def accuracy(target: Target, case: TrainingCase, dtype: str, *, runs: RunCache) -> float:
    """The last epoch's test accuracy; TrainingFailure when it is below the threshold."""
    h = runs.get(target, case, dtype)
    acc = float(h.epoch_test_acc[-1])
    if not acc >= case.threshold:
        curve = ", ".join(f"{a:.3f}" for a in h.epoch_test_acc[-10:])
        raise TrainingFailure(
            f"{target.name}  {case.id}  accuracy  {dtype}: test accuracy {acc:.4f} after "
            f"{case.epochs} epochs is below {case.threshold} (last epochs: {curve})"
        )
    return acc
