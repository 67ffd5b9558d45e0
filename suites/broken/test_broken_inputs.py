"""The covering set and the kink-convention oracle catch bugs that random draws miss.

Each test runs the parity suite's own property (:func:`harness.oracles.check_op` with the
``ci`` profile and its compact shapes, covering set included) on a broken target of
:mod:`suites.broken.input_targets` and asserts that it fails with a report naming the op
and the oracle; where it says so, the same check passes on the unbroken backend.
"""

from __future__ import annotations

import pytest
from hypothesis import settings

from harness import oracles
from harness.discovery import Target

from .input_targets import (
    IgnoresStrides,
    LeakyRelu,
    MaxTiesFull,
    NaiveLogsumexp,
    NaiveSoftmax,
    ReluKinkOne,
    WrongAxisBroadcast,
)
from .targets import as_target


@pytest.fixture
def inner(reference: Target | None) -> Target:
    """The real target the broken ones wrap (the reference target)."""
    if reference is None:
        pytest.skip("no reference target to wrap")
    return reference


def _ci() -> settings:
    return settings.get_profile("ci")


def _check(oracle: str, target: Target, op: str, dtype: str, reference: Target, **kw) -> object:
    return oracles.check_op(
        oracle, target, op, dtype, reference=reference, settings=_ci(), compact=True, **kw
    )


def _fails(oracle: str, target: Target, op: str, dtype: str, reference: Target, **kw) -> str:
    with pytest.raises(oracles.OracleFailure) as info:
        _check(oracle, target, op, dtype, reference, **kw)
    message = str(info.value)
    assert message.startswith(f"{target.name}  {op}  {oracle}  {dtype}:"), message
    assert "reproducer:" in message and f'"{op}"' in message, message
    return message


def test_relu_leak_is_caught_in_float32_under_ci(inner: Target) -> None:
    """relu leaking 1% on negatives fails forward in float32 with the ci profile; the real
    relu passes the same check."""
    broken = as_target(LeakyRelu(inner.backend, "broken-relu-leak"), inner.device)
    message = _fails("forward", broken, "relu", "float32", inner)
    assert "value disagrees" in message
    assert _check("forward", inner, "relu", "float32", inner).worst.passed  # type: ignore[attr-defined]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_missing_max_shift_is_caught(inner: Target, dtype: str) -> None:
    """softmax and logsumexp without the max-shift overflow at the covering set's large
    magnitudes: forward fails in both dtypes, naming the op."""
    softmax = as_target(NaiveSoftmax(inner.backend, "broken-softmax", inner.device), inner.device)
    _fails("forward", softmax, "softmax", dtype, inner)
    lse = as_target(NaiveLogsumexp(inner.backend, "broken-logsumexp"), inner.device)
    _fails("forward", lse, "logsumexp", dtype, inner)
    _fails("vjp_reference", lse, "logsumexp", dtype, inner)
    assert _check("forward", inner, "logsumexp", dtype, inner).worst.passed  # type: ignore[attr-defined]


def test_missing_max_shift_needs_the_covering_set(inner: Target) -> None:
    """Without the covering set the same draws pass the naive logsumexp: its magnitudes
    are what catches it (the random draws stay inside the domain)."""
    lse = as_target(NaiveLogsumexp(inner.backend, "broken-logsumexp"), inner.device)
    assert _check("forward", lse, "logsumexp", "float32", inner, cover=False).worst.passed  # type: ignore[attr-defined]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_kink_convention_change_is_caught(inner: Target, dtype: str) -> None:
    """relu'(0) = 1 and max ties that all get the full gradient fail kink_convention, while
    every draw away from the kink passes vjp_reference."""
    relu = as_target(ReluKinkOne(inner.backend, "broken-relu-kink"), inner.device)
    message = _fails("kink_convention", relu, "relu", dtype, inner)
    assert "subgradient at a non-differentiable point" in message
    assert _check("vjp_reference", relu, "relu", dtype, inner).worst.passed  # type: ignore[attr-defined]
    ties = as_target(MaxTiesFull(inner.backend, "broken-max-ties"), inner.device)
    _fails("kink_convention", ties, "max_dim", dtype, inner)
    assert _check("vjp_reference", ties, "max_dim", dtype, inner).worst.passed  # type: ignore[attr-defined]


@pytest.mark.parametrize("cover", [True, False], ids=["covering", "menus-only"])
@pytest.mark.parametrize("oracle", ["broadcast_reduction", "vjp_reference"])
def test_wrong_broadcast_axis_is_caught(inner: Target, oracle: str, cover: bool) -> None:
    """mul's backward reducing a lower-rank operand over the wrong axes fails; both the
    covering set and the compact shape menus alone (lower-rank operands on each side) catch
    it, and the failing input has operands of different ranks."""
    broken = as_target(WrongAxisBroadcast(inner.backend, "broken-mul-axis"), inner.device)
    message = _fails(oracle, broken, "mul", "float64", inner, cover=cover)
    ranks = {
        line.split("[", 1)[1].split("]", 1)[0].count(",")
        for line in message.splitlines()
        if line.startswith("  arg ")
    }
    assert len(ranks) == 2, message


def test_layout_bug_is_caught_and_reproduced(inner: Target) -> None:
    """A target that drops the strides of a non-contiguous input fails on the covering set's
    transposed case, and the printed reproducer, run as it is, fails the same way: the
    literal rebuilds the layout, not only the values."""
    broken = as_target(IgnoresStrides(inner.backend, "broken-strides"), inner.device)
    message = _fails("forward", broken, "exp", "float64", inner)
    snippet = message.split("reproducer:", 1)[1]
    assert "oracles.with_strides(" in snippet, snippet
    snippet = snippet.replace(f'discovery.get_target("{broken.name}")', "broken")
    snippet = snippet.replace(f'discovery.get_target("{inner.name}")', "inner")
    with pytest.raises(oracles.OracleFailure):
        exec(snippet, {"broken": broken, "inner": inner})
    assert _check("forward", inner, "exp", "float64", inner).worst.passed  # type: ignore[attr-defined]
