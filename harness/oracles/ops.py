"""The op oracles: one op of one target on one input, against an independent answer.

See :mod:`harness.oracles` for what each oracle compares.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from harness import catalog, tolerances
from harness import strategies as strat
from harness.contract import Unsupported
from harness.oracles.agreement import (
    Agreement,
    Context,
    NotApplicable,
    OracleFailure,
    assert_agree,
    assert_inner,
    failure_report,
)
from harness.oracles.differences import against_differences, dot, l1

if TYPE_CHECKING:
    from harness.discovery import Target


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


@dataclass(frozen=True)
class Call:
    """One op oracle call, opened: the op, its inputs and parameters, their float dtype,
    the report context."""

    target: Target
    spec: catalog.OpSpec
    dtype: str
    inputs: list[np.ndarray]
    ctx: Context
    seed: int
    reference: Target | None
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def op(self) -> str:
        """The op's catalog name."""
        return self.spec.name

    @property
    def argnums(self) -> tuple[int, ...]:
        """The differentiable arguments."""
        return tuple(self.spec.diff_argnums)

    def fn(self, target: Target | None = None) -> Callable[..., Any]:
        """``target``'s (default: the checked target's) op with the call's parameters bound."""
        fn = (target or self.target).backend.ops()[self.op]
        return functools.partial(fn, **self.params) if self.params else fn

    def expected(self, inputs: Sequence[np.ndarray] | None = None) -> np.ndarray:
        """The catalog's float64 reference at ``inputs`` (default: the call's)."""
        return catalog.reference(
            self.op, *(self.inputs if inputs is None else inputs), **self.params
        )

    def finite(self) -> np.ndarray | None:
        """Where the reference is finite, for an op whose reference is -inf / NaN on purpose
        (``OpSpec.nonfinite_outputs``; None for every other op): only those outputs carry a
        derivative."""
        return np.isfinite(self.expected()) if self.spec.nonfinite_outputs else None

    def tolerance(self) -> tuple[float, float]:
        """``(rtol, atol)`` for this op in this dtype (:func:`harness.tolerances.for_op`)."""
        return tolerances.for_op(self.op, self.dtype)

    def cotangent(self, shape: Sequence[int] | None = None) -> np.ndarray:
        """The seeded standard-normal cotangent ``v``, by default of the output's shape."""
        if shape is None:
            shape = np.shape(self.expected())
        (v,) = strat.directions(self.seed, [tuple(shape)], self.dtype, stream=0)
        finite = self.finite()
        return v if finite is None else np.where(finite, v, 0).astype(v.dtype)

    def directions(self, stream: int) -> list[np.ndarray]:
        """Seeded directions, one per differentiable argument (stream 1: ``u``, 2: ``w``)."""
        shapes = [self.inputs[i].shape for i in self.argnums]
        return strat.directions(self.seed, shapes, self.dtype, stream=stream)

    def inputs_in(self, dtype: str) -> list[np.ndarray]:
        """The inputs with the float arguments cast to ``dtype``."""
        return _cast(self.spec, self.inputs, dtype)

    def vjp(
        self, v: np.ndarray, *, target: Target | None = None, inputs: Sequence[np.ndarray] = ()
    ) -> list[np.ndarray]:
        """The gradients of ``target`` (default: the target checked) at ``inputs`` (default:
        the call's), shape-checked against the inputs."""
        target = target or self.target
        xs = list(inputs) or self.inputs
        _, grads = _vjp(target, self.fn(target), xs, v, self.argnums)
        _check_grad_shapes(grads, xs, self.argnums, self.ctx)
        return grads


def open_call(
    target: Target,
    op: str,
    inputs: Sequence[np.ndarray],
    *,
    oracle: str,
    seed: int,
    reference: Target | None,
    params: Mapping[str, Any] | None = None,
) -> Call:
    """The opening every op oracle shares: look the op up, check the arity and the
    parameters' names (those not given take their defaults), find the dtype."""
    spec = catalog.get(op)
    xs = [np.asarray(x) for x in inputs]
    if len(xs) != spec.arity:
        raise ValueError(f"op {op!r} takes {spec.arity} inputs, got {len(xs)}")
    unknown = set(params or {}) - set(spec.params)
    if unknown:
        raise ValueError(
            f"op {op!r} has no parameter {sorted(unknown)[0]!r}; its parameters: "
            f"{', '.join(spec.params) or 'none'}"
        )
    full = spec.defaults() | dict(params or {})
    dtype = _float_dtype(spec, xs)
    ref = reference.name if reference is not None else None
    ctx = Context(target.name, op, oracle, dtype, tuple(xs), seed, ref, tuple(full.items()))
    return Call(target, spec, dtype, xs, ctx, seed, reference, full)


class OpOracle:
    """An op oracle: ``oracle(target, op, inputs, *, seed=0, reference=None, params=None)
    -> Agreement`` (``params``: the op's parameters, defaults where not given).

    Wraps a comparison ``body(call)`` in the opening every op oracle shares: a
    ``needs_reference`` oracle without a reference target is NotApplicable; the call is
    opened (:func:`open_call`); the target must have the op, the dtype and ``capability``
    (Unsupported otherwise). ``uses_reference`` oracles name the reference in their report.
    ``uses_differences`` oracles compare with central differences (the covering cases
    where those mean nothing are not theirs); ``at_kinks`` oracles check only the op's
    non-differentiable points (:func:`harness.covering.kink_cases`), never random draws.
    """

    def __init__(
        self,
        body: Callable[[Call], Agreement],
        *,
        capability: str | None = None,
        uses_reference: bool = False,
        needs_reference: bool = False,
        uses_differences: bool = False,
        at_kinks: bool = False,
    ) -> None:
        functools.update_wrapper(self, body)
        self.body = body
        self.name = body.__name__
        self.capability = capability
        self.uses_reference = uses_reference or needs_reference
        self.needs_reference = needs_reference
        self.uses_differences = uses_differences
        self.at_kinks = at_kinks

    def __call__(
        self,
        target: Target,
        op: str,
        inputs: Sequence[np.ndarray],
        *,
        seed: int = 0,
        reference: Target | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> Agreement:
        """Check ``op`` of ``target`` on ``inputs``; raise OracleFailure if it disagrees."""
        if self.needs_reference and reference is None:
            raise NotApplicable("no reference target (no backend declares reference_priority)")
        call = open_call(
            target, op, inputs, oracle=self.name, seed=seed,
            reference=reference if self.uses_reference else None, params=params,
        )  # fmt: skip
        require(target, op, call.dtype, capability=self.capability)
        return self.body(call)

    def __repr__(self) -> str:
        return f"<op oracle {self.name}>"


def op_oracle(
    *,
    capability: str | None = None,
    uses_reference: bool = False,
    needs_reference: bool = False,
    uses_differences: bool = False,
    at_kinks: bool = False,
) -> Callable[[Callable[[Call], Agreement]], OpOracle]:
    """Decorator: make ``body(call)`` an :class:`OpOracle`."""

    def wrap(body: Callable[[Call], Agreement]) -> OpOracle:
        return OpOracle(
            body,
            capability=capability,
            uses_reference=uses_reference,
            needs_reference=needs_reference,
            uses_differences=uses_differences,
            at_kinks=at_kinks,
        )

    return wrap


def _vjp(
    target: Target,
    fn: Callable[..., Any],
    inputs: Sequence[np.ndarray],
    v: np.ndarray,
    argnums: Sequence[int],
) -> tuple[np.ndarray, list[np.ndarray]]:
    value, grads = target.backend.vjp(
        fn, list(inputs), v, device=target.device, argnums=list(argnums)
    )
    return np.asarray(value), [np.asarray(g) for g in grads]


def _vjp_scale(v: np.ndarray) -> float:
    return max(1.0, float(np.max(np.abs(v)))) if v.size else 1.0


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


@op_oracle()
def forward(call: Call) -> Agreement:
    """Forward value against the catalog's float64 NumPy reference."""
    target, dtype = call.target, call.dtype
    expected = call.expected()
    fn = call.fn()
    backend = target.backend
    out = backend.to_numpy(fn(*(backend.asarray(x, target.device) for x in call.inputs)))
    rtol, atol = call.tolerance()
    return assert_agree(
        out, expected, rtol=rtol, atol=atol, ctx=call.ctx, what="value", dtype=dtype,
        snippet=_snippet(call, "value"),
    )  # fmt: skip


def _snippet(
    call: Call, what: str, argnum: int | None = None, cotangent: np.ndarray | None = None
) -> Callable[[np.ndarray, float, float], str | None]:
    """The hook rendering this check's failure through the target's ``snippet`` method."""

    def render(expected: np.ndarray, rtol: float, atol: float) -> str | None:
        from harness.snippets import SnippetRequest

        target = call.target
        request = SnippetRequest(
            call.ctx.title, call.op, target.backend.ops()[call.op], tuple(call.inputs),
            target.device, what, np.asarray(expected), rtol, atol, tuple(call.argnums),
            argnum, cotangent, params=dict(call.params),
        )  # fmt: skip
        return target.backend.snippet(request)

    return render


def _reference_dtype(reference: Target, dtype: str) -> str:
    return "float64" if "float64" in reference.backend.capabilities.dtypes else dtype


def _against_reference(call: Call, what: str) -> Agreement:
    """The target's VJP against the reference target's, in float64 where it has it."""
    target, op, dtype, reference = call.target, call.op, call.dtype, call.reference
    assert reference is not None  # needs_reference
    ref_dtype = _reference_dtype(reference, dtype)
    if reference.name == target.name and ref_dtype == dtype:
        raise NotApplicable(f"{target.name} is the reference: {dtype} compared with itself")
    require(reference, op, ref_dtype)
    v = call.cotangent()
    grads = call.vjp(v)
    _, ref_grads = _vjp(
        reference, call.fn(reference), call.inputs_in(ref_dtype), v.astype(ref_dtype), call.argnums
    )
    rtol, atol = call.tolerance()
    atol *= _vjp_scale(v)
    results = []
    for i, g, r in zip(call.argnums, grads, ref_grads, strict=True):
        results.append(
            assert_agree(
                g,
                r,
                rtol=rtol,
                atol=atol,
                ctx=call.ctx,
                what=f"{what} of argument {i} (against {reference.name} in {ref_dtype})",
                dtype=dtype,
                snippet=_snippet(call, "vjp", i, v),
            )
        )
    return Agreement.worst(results)


@op_oracle(needs_reference=True)
def vjp_reference(call: Call) -> Agreement:
    """Reverse mode against the reference target's float64 VJP (see :mod:`harness.oracles`)."""
    return _against_reference(call, "gradient")


@op_oracle(needs_reference=True, at_kinks=True)
def kink_convention(call: Call) -> Agreement:
    """The subgradient picked at a non-differentiable point against the reference target's.

    Run on inputs exactly at the catalog's kinks and ties (:func:`harness.covering.kink_cases`):
    relu / abs / leaky_relu at 0, clamp at its bounds, maximum / minimum of equal values,
    tied max / min reductions. Frameworks choose a convention there (PyTorch: relu'(0) = 0,
    the gradient of tied maxima split evenly); one that picks another silently changes
    training, so a difference fails unless the backend lists it as a known divergence.
    """
    return _against_reference(call, "subgradient at a non-differentiable point")


@op_oracle(uses_differences=True)
def finite_differences(call: Call) -> Agreement:
    """``<u, VJP(v)>`` against float64 central differences of the NumPy reference."""
    argnums = call.argnums
    x64 = call.inputs_in("float64")
    v = call.cotangent()
    us = call.directions(stream=1)
    grads = call.vjp(v)
    v64 = v.astype(np.float64)
    finite = call.finite()

    def phi_at(base: list[np.ndarray]) -> Callable[[float], tuple[float, float]]:
        def phi(t: float) -> tuple[float, float]:
            xs = list(base)
            for i, u in zip(argnums, us, strict=True):
                xs[i] = base[i] + t * u.astype(np.float64)
            f = call.expected(xs)
            if finite is not None:  # outputs without a derivative (their cotangent is 0)
                f = np.where(finite, f, 0.0)
            return dot(f, v64), float(np.sum(np.abs(f) * np.abs(v64)))

        return phi

    return against_differences(
        call, phi_at, x64, us, grads, _vjp_scale(v), "<u, VJP(v)>",
        "<u, VJP(v)> disagrees with float64 central differences of the NumPy reference",
    )  # fmt: skip


@op_oracle(capability="jvp")
def jvp_vjp(call: Call) -> Agreement:
    """Forward against reverse mode: ``<JVP(u), v> = <u, VJP(v)>``."""
    target, ctx = call.target, call.ctx
    out_shape = np.shape(call.expected())
    v = call.cotangent(out_shape)
    us = call.directions(stream=1)
    fn = call.fn()
    _, tangent = target.backend.jvp(
        fn, call.inputs, us, device=target.device, argnums=list(call.argnums)
    )
    tangent = np.asarray(tangent)
    if tangent.shape != tuple(out_shape):
        ag = Agreement(False, math.inf, math.inf, math.inf)
        raise OracleFailure(
            failure_report(ctx, f"JVP has shape {tangent.shape}, expected {out_shape}", ag, 0, 0),
            ag,
        )
    finite = call.finite()
    if finite is not None:  # outputs without a derivative: their tangent is left out
        tangent = np.where(finite, tangent, 0.0)
    grads = call.vjp(v)
    rtol, atol = call.tolerance()
    lhs = dot(tangent, v)
    rhs = sum(dot(u, g) for u, g in zip(us, grads, strict=True))
    u_scale = max([1.0] + [float(np.max(np.abs(u))) for u in us if u.size])
    allowed = (
        atol * u_scale * l1(v)
        + rtol * dot(np.abs(tangent), np.abs(v))
        + atol * _vjp_scale(v) * sum(l1(u) for u in us)
        + rtol * sum(dot(np.abs(u), np.abs(g)) for u, g in zip(us, grads, strict=True))
    )
    return assert_inner(
        lhs,
        rhs,
        allowed,
        ctx=ctx,
        what="<JVP(u), v> disagrees with <u, VJP(v)>",
        detail=f"<JVP(u), v> = {lhs:.12g}, <u, VJP(v)> = {rhs:.12g}, allowed {allowed:.2e}",
    )


@op_oracle(capability="second_order", uses_reference=True, uses_differences=True)
def second_order(call: Call) -> Agreement:
    """``vjp_vjp`` against central differences of a float64 first-order VJP."""
    target, op, reference, argnums = call.target, call.op, call.reference, call.argnums
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
    v = call.cotangent()
    us = call.directions(stream=1)
    ws = call.directions(stream=2)
    fn = call.fn()
    hvp = target.backend.vjp_vjp(
        fn, call.inputs, v, ws, device=target.device, argnums=list(argnums)
    )
    hvp = [np.asarray(h) for h in hvp]
    _check_grad_shapes(hvp, call.inputs, argnums, call.ctx)
    x64 = call.inputs_in("float64")
    v64 = v.astype(np.float64)

    def phi_at(base: list[np.ndarray]) -> Callable[[float], tuple[float, float]]:
        def phi(t: float) -> tuple[float, float]:
            xs = list(base)
            for i, u in zip(argnums, us, strict=True):
                xs[i] = base[i] + t * u.astype(np.float64)
            _, g = _vjp(first, call.fn(first), xs, v64, argnums)
            return (
                sum(dot(gi, w) for gi, w in zip(g, ws, strict=True)),
                sum(dot(np.abs(gi), np.abs(w)) for gi, w in zip(g, ws, strict=True)),
            )

        return phi

    w_scale = max([1.0] + [float(np.max(np.abs(w))) for w in ws if w.size])
    return against_differences(
        call, phi_at, x64, us, hvp, _vjp_scale(v) * w_scale, "<u, vjp_vjp>",
        f"second order disagrees with central differences of {first.name}'s float64 VJP",
    )  # fmt: skip
