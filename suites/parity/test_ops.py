"""Every catalog op against every oracle, on every selected target, in float32 and float64.

Each test is one Hypothesis property (inputs from :mod:`harness.strategies`, the comparison
from :mod:`harness.oracles`); the ``parity`` fixture applies known divergences, turns missing
ops and capabilities into skip-unsupported, and records the outcome in the parity report.
"""

from __future__ import annotations

import pytest

from harness.discovery import Target
from harness.oracles import ops_for

DTYPES = ["float32", "float64"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ops_for("forward"))
def test_forward(target: Target, op: str, dtype: str, parity) -> None:
    """The value agrees with the float64 NumPy reference (shape, dtype, values)."""
    parity.op("forward", target, op, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ops_for("vjp_reference"))
def test_vjp_reference(target: Target, op: str, dtype: str, parity) -> None:
    """Reverse mode agrees with the reference target's float64 VJP."""
    parity.op("vjp_reference", target, op, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ops_for("finite_differences"))
def test_finite_differences(target: Target, op: str, dtype: str, parity) -> None:
    """<u, VJP(v)> agrees with float64 central differences of the NumPy reference."""
    parity.op("finite_differences", target, op, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ops_for("jvp_vjp"))
def test_jvp_vjp(target: Target, op: str, dtype: str, parity) -> None:
    """Forward mode agrees with reverse mode: <JVP(u), v> = <u, VJP(v)>."""
    parity.op("jvp_vjp", target, op, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ops_for("second_order"))
def test_second_order(target: Target, op: str, dtype: str, parity) -> None:
    """The gradient of a gradient agrees with central differences of a float64 VJP."""
    parity.op("second_order", target, op, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ops_for("kink_convention"))
def test_kink_convention(target: Target, op: str, dtype: str, parity) -> None:
    """At exactly a kink or a tie, the subgradient agrees with the reference target's."""
    parity.op("kink_convention", target, op, dtype)
