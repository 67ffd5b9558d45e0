"""The composed-program oracle: value and reverse mode of a small DAG of catalog ops.

:func:`program` runs one :class:`harness.programs.Program` on a target, as one function
through its :meth:`~harness.contract.Backend.vjp`, and checks

* the value against the float64 NumPy reference program (the catalog's references chained);
* every leaf's gradient against the reference target's float64 VJP of the same program
  (skipped for the reference itself in the same dtype);
* ``<u, VJP(v)>`` against Richardson-extrapolated central differences of the float64
  NumPy reference program (framework-free, as :func:`harness.oracles.finite_differences`).

Tolerances: the loosest of the program's ops (:func:`harness.tolerances.for_op`), with
atol scaled by the cotangent's size as in :func:`harness.oracles.vjp_reference`; nothing
more for the composition: measured over 150 random programs per dtype on each built-in
target and 400 more on numpy:cpu and torch:cpu (against torch:cpu in float64), the largest
error was 0.086 of that tolerance in float32 and 0.012 in float64 (values are kept within
``BOUND`` and every op is smooth).

A failure's report gives the program as a listing (which values feed several ops), its
shapes and inputs, and a reproducer that rebuilds the program and reruns the check.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from harness import programs as prog
from harness import strategies as strat
from harness import tolerances
from harness.contract import Unsupported
from harness.oracles.agreement import (
    Agreement,
    Context,
    OracleFailure,
    assert_agree,
    assert_inner,
    literal,
)
from harness.oracles.differences import dot, l1, richardson

if TYPE_CHECKING:
    from harness.discovery import Target

FD_STEP = 1e-3
"""Central-difference step: every program op is smooth on all reals (no kink to cross)."""


def reproducer(
    target: str,
    program: prog.Program,
    inputs: Sequence[np.ndarray],
    seed: int,
    reference: str | None,
) -> str:
    """Python that rebuilds ``program`` and its inputs and reruns :func:`program` on them."""
    ref = f'discovery.get_target("{reference}")' if reference else "None"
    return "\n".join(
        [
            "import numpy as np",
            "from harness import discovery, oracles, programs",
            "",
            f"program = {program.source()}",
            "inputs = [",
            *(f"    {literal(np.asarray(x))}," for x in inputs),
            "]",
            f'oracles.program(discovery.get_target("{target}"), program, inputs, seed={seed},',
            f"    reference={ref})",
        ]
    )


def _report(ctx: Context, program: prog.Program, message: str) -> str:
    head, _, _ = message.partition("\nreproducer:\n")
    return "\n".join(
        [
            head,
            "program:",
            *("  " + line for line in program.listing().splitlines()),
            "reproducer:",
            reproducer(ctx.target, program, ctx.inputs, ctx.seed, ctx.reference),
        ]
    )


def _vjp(
    target: Target, program: prog.Program, inputs: Sequence[np.ndarray], v: np.ndarray
) -> tuple[np.ndarray, list[np.ndarray]]:
    backend = target.backend
    missing = [op for op, _ in program.nodes if op not in backend.ops()]
    if missing:
        raise Unsupported(f"{target.name} has no op {missing[0]!r}")
    fn = program.function(backend.ops())
    value, grads = backend.vjp(fn, list(inputs), v, device=target.device)
    return np.asarray(value), [np.asarray(g) for g in grads]


def program(
    target: Target,
    program: prog.Program,
    inputs: Sequence[np.ndarray],
    *,
    seed: int = 0,
    reference: Target | None = None,
) -> Agreement:
    """Check ``program`` on ``target`` at ``inputs`` (see the module docstring)."""
    xs = [np.asarray(x) for x in inputs]
    dtype = xs[0].dtype.name
    if dtype not in target.backend.capabilities.dtypes:
        raise Unsupported(f"{target.name} does not support {dtype}")
    ref_name = reference.name if reference is not None else None
    ctx = Context(target.name, "program", "program", dtype, tuple(xs), seed, ref_name)
    ops = [op for op, _ in program.nodes]
    rtol = max(tolerances.for_op(op, dtype)[0] for op in ops)
    atol = max(tolerances.for_op(op, dtype)[1] for op in ops)
    x64 = [x.astype(np.float64) for x in xs]
    expected = program.reference(*x64)[-1]
    (v,) = strat.directions(seed, [expected.shape], dtype, stream=0)
    us = strat.directions(seed, [x.shape for x in xs], dtype, stream=1)
    scale = max(1.0, float(np.max(np.abs(v)))) if v.size else 1.0
    try:
        value, grads = _vjp(target, program, xs, v)
        results = [
            assert_agree(value, expected, rtol=rtol, atol=atol, ctx=ctx,
                         what="value (against the float64 NumPy reference program)", dtype=dtype)
        ]  # fmt: skip
        for i, g in enumerate(grads):
            if g.shape != xs[i].shape:
                ag = Agreement(False, np.inf, np.inf, np.inf)
                raise OracleFailure(
                    f"{ctx.title}: gradient of leaf v{i} has shape {g.shape}, expected "
                    f"{xs[i].shape}\nreproducer:\n",
                    ag,
                )
        if reference is not None:
            ref_dtype = "float64" if "float64" in reference.backend.capabilities.dtypes else dtype
            if not (reference.name == target.name and ref_dtype == dtype):
                _, ref_grads = _vjp(reference, program, [x.astype(ref_dtype) for x in xs],
                                    v.astype(ref_dtype))  # fmt: skip
                for i, (g, r) in enumerate(zip(grads, ref_grads, strict=True)):
                    results.append(
                        assert_agree(
                            g, r, rtol=rtol, atol=atol * scale, ctx=ctx,
                            what=f"gradient of leaf v{i} (against {reference.name} in "
                            f"{ref_dtype})", dtype=dtype,
                        )
                    )  # fmt: skip
        v64 = v.astype(np.float64)

        def phi(t: float) -> tuple[float, float]:
            f = program.reference(
                *(x + t * u.astype(np.float64) for x, u in zip(x64, us, strict=True))
            )[-1]
            return dot(f, v64), float(np.sum(np.abs(f) * np.abs(v64)))

        fd, trunc, roundoff = richardson(phi, FD_STEP)
        lhs = sum(dot(u, g) for u, g in zip(us, grads, strict=True))
        allowed = (
            atol * scale * sum(l1(u) for u in us)
            + rtol * sum(dot(np.abs(u), np.abs(g)) for u, g in zip(us, grads, strict=True))
            + 2 * trunc
            + roundoff
        )
        results.append(
            assert_inner(
                lhs, fd, allowed, ctx=ctx,
                what="<u, VJP(v)> disagrees with float64 central differences of the NumPy "
                "reference program",
                detail=f"<u, VJP(v)> = {lhs:.12g}, finite differences = {fd:.12g} "
                f"(extrapolation error {trunc:.2e}, round-off bound {roundoff:.2e}, "
                f"allowed {allowed:.2e})",
            )
        )  # fmt: skip
    except OracleFailure as e:
        raise OracleFailure(_report(ctx, program, str(e)), e.agreement) from None
    return Agreement.worst(results)
