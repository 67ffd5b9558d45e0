"""How closely a target agreed, and the report when it did not.

:class:`Agreement` carries the largest error one comparison saw; :class:`OracleFailure` (an
AssertionError) carries the report: target, subject, oracle and dtype, the largest absolute
and relative error with their index and both values, the inputs, and a copy-paste
:func:`reproducer` (the inputs as literals and the seed that draws the cotangents and
directions).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

EPS64 = float(np.finfo(np.float64).eps)


class OracleFailure(AssertionError):
    """A target disagreed; ``str()`` is the full report, :attr:`agreement` the numbers."""

    def __init__(self, message: str, agreement: Agreement) -> None:
        super().__init__(message)
        self.agreement = agreement


class ComputationError(Exception):
    """The target raised while a check ran (a crash in its op, VJP, JVP or training).

    Its own outcome, ``error``, apart from a disagreement; ``str()`` is a report like a
    disagreement's (:func:`error_report`): target, subject, oracle, dtype, the exception
    with the innermost frames of its traceback, the inputs and a reproducer.
    """

    def __init__(self, message: str, exc_type: str = "") -> None:
        super().__init__(message)
        self.exc_type = exc_type


def raised(exc: BaseException, frames: int = 3) -> str:
    """``TypeName: message`` and the innermost ``frames`` frames of its traceback, led by the
    innermost frame outside the installed libraries when those are all library code (the
    line of the backend that called into NumPy, not NumPy's internals)."""
    import sysconfig
    import traceback

    full = traceback.extract_tb(exc.__traceback__)
    tb = full[-frames:]
    libs = tuple({sysconfig.get_paths()[k] for k in ("purelib", "platlib", "stdlib")})
    own = [f for f in full if not f.filename.startswith(libs)]
    if own and own[-1] not in tb:
        tb = [own[-1], *tb[1:]]
    where = [f"    {f.filename}:{f.lineno} in {f.name}: {f.line or ''}".rstrip() for f in tb]
    return "\n".join([f"raised {type(exc).__name__}: {exc}".rstrip(), *where])


class NotApplicable(Exception):
    """The check does not apply (the reference compared with itself, no reference target)."""


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
    params: tuple[tuple[str, Any], ...] = ()
    """The op's parameters (keyword arguments), as ``(name, value)`` pairs."""

    @property
    def title(self) -> str:
        """``target  op  oracle  dtype``."""
        return f"{self.target}  {self.op}  {self.oracle}  {self.dtype}"


def rel_floor(atol: float) -> float:
    """The smallest denominator of a relative error: ``atol`` (the tiniest float if 0, or
    if ``atol`` is NaN: an allowance computed from a NaN result must not divide by 0)."""
    tiny = float(np.finfo(np.float64).tiny)
    return tiny if math.isnan(atol) else max(float(atol), tiny)


def compare_arrays(
    actual: np.ndarray, expected: np.ndarray, *, rtol: float, atol: float
) -> Agreement:
    """Elementwise ``|actual - expected| <= atol + rtol * |expected|`` (NaN equals NaN).

    The relative error reported is ``|actual - expected| / max(|expected|, atol)``: where
    the expected value is 0 (or below ``atol``) the error is measured against ``atol``,
    the scale the check allows there, not against a denormal (which gave 4.5e+305).
    """
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
        rel = err / np.maximum(np.abs(e), rel_floor(atol))
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
        max_rel=err / max(abs(rhs), rel_floor(allowed)),
        ratio=err / allowed if allowed > 0 else (0.0 if err == 0 else math.inf),
        actual=lhs,
        expected=rhs,
        mismatched=int(err > allowed),
        total=1,
        detail=detail,
    )


def fmt(x: float | None) -> str:
    """A number for a failure report (10 significant digits, ``None`` as is)."""
    return "None" if x is None else f"{x:.10g}"


def literal(a: np.ndarray) -> str:
    """Python source that rebuilds ``a`` exactly (dtype, shape and every value)."""

    def item(v: Any) -> str:
        if isinstance(v, float) and not math.isfinite(v):
            return f'float("{v}")'
        return repr(v)

    def nested(v: Any) -> str:
        return "[" + ", ".join(nested(x) for x in v) + "]" if isinstance(v, list) else item(v)

    values = f"np.array({nested(a.tolist())}, dtype=np.{a.dtype.name}).reshape({a.shape!r})"
    strides = element_strides(a)
    if strides is None:
        return values
    # A bug that shows only on a non-contiguous input (a backend that reads the buffer as if it
    # were C-ordered) must show in the reproducer too, so the literal rebuilds the layout.
    return f"oracles.with_strides({values}, {strides!r})"


def element_strides(a: np.ndarray) -> tuple[int, ...] | None:
    """``a``'s strides in elements where its layout is not C-contiguous, else None (also where
    no buffer can rebuild it: broadcast (0) or non-whole-element strides)."""
    if a.flags.c_contiguous or a.size <= 1:
        return None
    if any(s == 0 or s % a.itemsize for s in a.strides):
        return None
    return tuple(s // a.itemsize for s in a.strides)


def with_strides(values: np.ndarray, strides: Sequence[int]) -> np.ndarray:
    """A view holding ``values`` whose strides are ``strides`` elements (negative allowed):
    the layout :func:`literal` records for a non-contiguous input."""
    values = np.asarray(values)
    if len(strides) != values.ndim or any(s == 0 for s in strides):
        raise ValueError(f"strides {tuple(strides)} do not fit shape {values.shape}")
    extent = 1 + sum((n - 1) * abs(s) for n, s in zip(values.shape, strides, strict=True))
    start = sum((n - 1) * -s for n, s in zip(values.shape, strides, strict=True) if s < 0)
    buffer = np.zeros(extent, dtype=values.dtype)
    view = np.lib.stride_tricks.as_strided(
        buffer[start:], values.shape, tuple(s * values.itemsize for s in strides)
    )
    view[...] = values
    return view


def reproducer(ctx: Context) -> str:
    """A short Python snippet that re-runs this one check on these inputs."""
    ref = f'discovery.get_target("{ctx.reference}")' if ctx.reference else "None"
    lines = [
        "import numpy as np",
        "from harness import discovery, oracles",
        "",
        "inputs = [",
        *(f"    {literal(np.asarray(x))}," for x in ctx.inputs),
        "]",
        f"oracles.{ctx.oracle}(",
        f'    discovery.get_target("{ctx.target}"), "{ctx.op}", inputs, seed={ctx.seed},',
        f"    reference={ref},",
        *([f"    params={dict(ctx.params)!r},"] if ctx.params else []),
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


SnippetHook = Callable[[np.ndarray, float, float], "str | None"]
"""Renders a failure as a standalone snippet in the target's framework from the expected
value and the tolerance (:meth:`harness.contract.Backend.snippet`)."""


def _render_snippet(
    hook: SnippetHook | None, expected: np.ndarray, rtol: float, atol: float
) -> str:
    if hook is None:
        return ""
    try:
        return hook(expected, rtol, atol) or ""
    except Exception as e:  # a broken hook must not hide the failure it reports
        return f"# the backend's snippet hook raised {type(e).__name__}: {e}"


def failure_report(
    ctx: Context, what: str, ag: Agreement, rtol: float, atol: float, snippet: str = ""
) -> str:
    """The message of an :class:`OracleFailure`; ``snippet`` (the backend's standalone
    snippet, :meth:`harness.contract.Backend.snippet`) is printed beside the reproducer."""
    lines = disagreement_lines(ctx.title, what, ag, rtol, atol)
    if ctx.inputs:
        lines.append("inputs:")
        lines.append(_describe_inputs(ctx))
    if ctx.params:
        lines.append(f"params: {dict(ctx.params)!r}")
    lines.append(f"seed (cotangents, directions): {ctx.seed}")
    lines.append("reproducer:")
    lines.append(reproducer(ctx))
    if snippet:
        lines.append("standalone snippet (the target's own framework, without the harness):")
        lines.append(snippet)
    return "\n".join(lines)


def disagreement_lines(title: str, what: str, ag: Agreement, rtol: float, atol: float) -> list[str]:
    """The head of a disagreement's report: what disagrees, where, and by how much."""
    lines = [f"{title}: {what}"]
    if ag.detail:
        lines.append(f"  {ag.detail}")
    if ag.total > 1:
        lines.append(f"  mismatched elements: {ag.mismatched} / {ag.total}")
    where = f" at index {ag.index}" if ag.index is not None else ""
    lines.append(
        f"  largest error{where}: got {fmt(ag.actual)}, expected {fmt(ag.expected)}; "
        f"absolute {ag.max_abs:.3e}, relative {ag.max_rel:.3e} "
        f"({ag.ratio:.3g}x the allowed rtol={rtol:g}, atol={atol:g})"
    )
    return lines


def error_report(ctx: Context, exc: BaseException, reproducer_text: str | None = None) -> str:
    """The message of a :class:`ComputationError`: what raised, the inputs, a reproducer."""
    lines = [f"{ctx.title}: the target raised while the check ran", "  " + raised(exc)]
    if ctx.inputs:
        lines.append("inputs:")
        lines.append(_describe_inputs(ctx))
        if ctx.params:
            lines.append(f"params: {dict(ctx.params)!r}")
        lines.append(f"seed (cotangents, directions): {ctx.seed}")
    lines.append("reproducer:")
    lines.append(reproducer_text if reproducer_text is not None else reproducer(ctx))
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
    snippet: SnippetHook | None = None,
) -> Agreement:
    """Compare shape, dtype (when ``dtype`` is given) and values; raise OracleFailure if not.

    ``snippet`` renders the failure in the target's framework (printed beside the reproducer).
    """
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
        text = _render_snippet(snippet, expected, rtol, atol)
        raise OracleFailure(failure_report(ctx, f"{what} disagrees", ag, rtol, atol, text), ag)
    return ag


def assert_inner(
    lhs: float, rhs: float, allowed: float, *, ctx: Context, what: str, detail: str
) -> Agreement:
    """Compare two inner products, ``|lhs - rhs| <= allowed``; raise OracleFailure if not."""
    ag = _inner_agreement(lhs, rhs, allowed, detail)
    if not ag.passed:
        raise OracleFailure(failure_report(ctx, what, ag, 0.0, allowed), ag)
    return ag
