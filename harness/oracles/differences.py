"""Central differences in float64 and the allowance of a check against them: the derivative
the ``finite_differences`` and ``second_order`` oracles (and the random programs) compare a
target's gradients with.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from harness import catalog
from harness.oracles.agreement import EPS64, Agreement, assert_inner

if TYPE_CHECKING:
    from harness.oracles.ops import Call


def l1(x: np.ndarray) -> float:
    """The L1 norm of ``x``, in float64."""
    return float(np.sum(np.abs(np.asarray(x, dtype=np.float64))))


def dot(a: np.ndarray, b: np.ndarray) -> float:
    """The inner product of ``a`` and ``b``, in float64."""
    return float(np.sum(np.asarray(a, dtype=np.float64) * np.asarray(b, dtype=np.float64)))


def fd_step(spec: catalog.OpSpec) -> float:
    """The central-difference step of ``spec``'s checks."""
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


ROUNDING_FACTOR = 4.0
"""How many times the input-rounding sensitivity (:func:`_rounding_sensitivity`) a target in
a dtype narrower than float64 may be off by. Measured on the 20-seed ``ci`` run: std_dim at
``[1.97998, 1.98999, 2.0]`` (seed 14), where PyTorch, the NumPy engine and JAX all land 5.4e-5
(relative) from the float64 answer, 2.7x over the plain float32 allowance; their error is
0.76x the sensitivity (1.25e-4 against 1.64e-4), so 4 leaves room for an implementation that
rounds differently, while a wrong term (0.1% of the value, 2.3e-3 there) still fails."""


def _rounding_sensitivity(
    call: Call,
    phi_at: Callable[[list[np.ndarray]], Callable[[float], tuple[float, float]]],
    x64: list[np.ndarray],
    fd: float,
) -> float:
    """How much the float64 answer moves when every float input moves by one rounding of the
    call's dtype (relative ``eps``, seeded signs): the error a backward-stable float32
    computation may make on an ill-conditioned input (a deviation from a mean of values that
    agree in their first digits), which no fixed tolerance covers. 0 in float64."""
    if call.dtype == "float64":
        return 0.0
    eps = float(np.finfo(call.dtype).eps)
    rng = np.random.default_rng([call.seed, 11])
    moved = [
        x * (1 + eps * rng.choice([-1.0, 1.0], size=np.shape(x))) if spec.kind == "float" else x
        for spec, x in zip(call.spec.args, x64, strict=True)
    ]
    fd_moved, _, _ = richardson(phi_at(moved), fd_step(call.spec))
    return abs(fd_moved - fd)


def against_differences(
    call: Call,
    phi_at: Callable[[list[np.ndarray]], Callable[[float], tuple[float, float]]],
    x64: list[np.ndarray],
    us: Sequence[np.ndarray],
    grads: Sequence[np.ndarray],
    atol_scale: float,
    label: str,
    what: str,
) -> Agreement:
    """``sum_i <u_i, grads_i>`` against the Richardson-extrapolated derivative of
    ``phi_at(x64)``.

    The allowance is the dtype's tolerance on the inner product (``atol`` scaled by
    ``atol_scale``, the size of what multiplies the gradients) plus the extrapolation's own
    error estimate (twice, for safety) and its float64 round-off bound. Only when that is
    exceeded, in a dtype narrower than float64, is the input-rounding sensitivity measured
    and :data:`ROUNDING_FACTOR` times it allowed as well (it costs a second extrapolation,
    and a check that passes has no need of it).
    """
    fd, trunc, roundoff = richardson(phi_at(x64), fd_step(call.spec))
    lhs = sum(dot(u, g) for u, g in zip(us, grads, strict=True))
    rtol, atol = call.tolerance()
    allowed = (
        atol * atol_scale * sum(l1(u) for u in us)
        + rtol * sum(dot(np.abs(u), np.abs(g)) for u, g in zip(us, grads, strict=True))
        + 2 * trunc
        + roundoff
    )
    detail = (
        f"{label} = {lhs:.12g}, finite differences = {fd:.12g} "
        f"(extrapolation error {trunc:.2e}, round-off bound {roundoff:.2e}"
    )
    if not abs(lhs - fd) <= allowed and call.dtype != "float64":
        sensitivity = _rounding_sensitivity(call, phi_at, x64, fd)
        allowed += ROUNDING_FACTOR * sensitivity
        detail += f", {call.dtype} input-rounding sensitivity {sensitivity:.2e}"
    return assert_inner(
        lhs, fd, allowed, ctx=call.ctx, what=what, detail=f"{detail}, allowed {allowed:.2e})"
    )
