"""The op oracles catch deliberately broken gradients, and pass the real backend they wrap.

Each test runs the very property the parity suite runs (:func:`harness.oracles.check_op`,
the loaded Hypothesis profile's settings) on a broken target and asserts that it fails with a
report naming the target, the op, the oracle and the dtype, with a shrunk input and a
reproducer; then runs it on the unbroken backend and asserts that it passes.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import settings

from harness import oracles
from harness.discovery import Target

from .registered import VjpCrash
from .targets import Wrapped, WrongBroadcastReduction, WrongGradient, as_target


@pytest.fixture
def inner(reference: Target | None) -> Target:
    """The real target the broken ones wrap (the reference target)."""
    if reference is None:
        pytest.skip("no reference target to wrap")
    return reference


def _fails(oracle: str, target: Target, op: str, dtype: str, reference: Target) -> str:
    with pytest.raises(oracles.OracleFailure) as info:
        oracles.check_op(
            oracle, target, op, dtype, reference=reference, settings=settings.default,
            compact=True,
        )  # fmt: skip
    message = str(info.value)
    assert message.startswith(f"{target.name}  {op}  {oracle}  {dtype}:"), message
    assert "reproducer:" in message and f'"{op}"' in message, message
    return message


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("oracle", ["vjp_reference", "finite_differences", "jvp_vjp"])
def test_wrong_gradient_is_caught(inner: Target, oracle: str, dtype: str) -> None:
    """tanh's backward with 1 - y instead of 1 - y**2 fails every gradient oracle."""
    if oracle == "jvp_vjp" and not inner.backend.capabilities.jvp:
        pytest.skip(f"{inner.name} has no forward mode")
    broken = as_target(WrongGradient(inner.backend, "broken-tanh-grad"), inner.device)
    message = _fails(oracle, broken, "tanh", dtype, inner)
    assert "inputs:" in message and "seed" in message


@pytest.mark.parametrize("oracle", ["vjp_reference", "finite_differences"])
def test_wrong_gradient_spares_other_ops(inner: Target, oracle: str) -> None:
    """The same broken target passes on an op it does not break, and the real one on tanh."""
    broken = as_target(WrongGradient(inner.backend, "broken-tanh-grad"), inner.device)
    observed = oracles.check_op(
        oracle, broken, "sigmoid", "float64", reference=inner, settings=settings.default,
        compact=True,
    )  # fmt: skip
    assert observed.examples > 0 and observed.worst.passed
    observed = oracles.check_op(
        "finite_differences", inner, "tanh", "float64", settings=settings.default, compact=True
    )
    assert observed.worst.passed and observed.worst.ratio < 1


@pytest.mark.parametrize("compact", [True, False], ids=["compact", "free"])
@pytest.mark.parametrize("oracle", ["broadcast_reduction", "vjp_reference", "finite_differences"])
def test_wrong_broadcast_reduction_is_caught(inner: Target, oracle: str, compact: bool) -> None:
    """add's backward that averages over broadcast dimensions fails, on a broadcast input."""
    broken = as_target(WrongBroadcastReduction(inner.backend, "broken-add-bcast"), inner.device)
    with pytest.raises(oracles.OracleFailure) as info:
        oracles.check_op(
            oracle, broken, "add", "float64", reference=inner, settings=settings.default,
            compact=compact,
        )  # fmt: skip
    message = str(info.value)
    assert message.startswith(f"broken-add-bcast:{inner.device}  add  {oracle}  float64:")
    # The minimal failing input Hypothesis kept really broadcasts (shapes differ).
    inputs = info.value.agreement  # the numbers are there too
    assert inputs.ratio > 1
    shapes = [line for line in message.splitlines() if line.startswith("  arg ")]
    assert len({s.split("=")[0].split(":")[1] for s in shapes}) == 2, message


def test_broadcast_oracle_passes_the_real_backend(inner: Target) -> None:
    """The unbroken add (and mul, whose gradient depends on the other input) pass."""
    for op in ("add", "mul"):
        observed = oracles.check_op(
            "broadcast_reduction", inner, op, "float32", settings=settings.default, compact=False
        )
        assert observed.examples > 0 and observed.worst.passed


def test_reproducer_reruns_the_failing_check(inner: Target) -> None:
    """The reproducer in a failure report is valid Python that fails the same way."""
    broken = as_target(WrongGradient(inner.backend, "broken-tanh-grad"), inner.device)
    message = _fails("finite_differences", broken, "tanh", "float32", inner)
    code = message.split("reproducer:\n", 1)[1]
    code = code.replace(f'discovery.get_target("{broken.name}")', "broken")
    namespace = {"broken": broken, "np": np}
    with pytest.raises(oracles.OracleFailure, match="tanh  finite_differences  float32"):
        exec(code, namespace)


def test_model_reproducer_reruns_the_check(inner: Target) -> None:
    """The reproducer a model-property failure prints is valid Python that runs the check."""
    case = oracles.MODEL_CASES[0]
    draw = oracles.ModelDraw(rows=6, cuts=(2,), permutation=(5, 4, 3, 2, 1, 0), seed=1)
    for prop in oracles.MODEL_PROPERTIES:
        code = oracles.model_reproducer(inner.name, prop, case, "float64", draw)
        assert code.startswith("from harness import discovery, oracles\n"), code
        code = code.replace(f'discovery.get_target("{inner.name}")', "inner")
        code = code.replace(f"oracles.{prop}(", f"result = oracles.{prop}(", 1)
        namespace: dict = {"inner": inner}
        exec(code, namespace)
        assert namespace["result"].passed, prop


def test_a_crash_in_the_vjp_is_an_error_with_a_reproducer(inner: Target) -> None:
    """An exception inside the target's VJP is a ComputationError naming target, op, oracle
    and dtype, with the shrunk inputs and a reproducer that raises the same exception."""
    backend = VjpCrash()
    backend.load()
    crash = as_target(backend, inner.device)
    with pytest.raises(oracles.ComputationError) as info:
        oracles.check_op(
            "vjp_reference", crash, "mul", "float64", reference=inner,
            settings=settings.default, compact=True,
        )  # fmt: skip
    message = str(info.value)
    assert message.startswith(
        f"{crash.name}  mul  vjp_reference  float64: the target raised while the check ran"
    ), message
    assert "raised ValueError: cannot reshape" in message and "inputs:" in message
    assert "registered.py:" in message, message  # the backend's own line, not NumPy's only
    assert info.value.harness_observed.examples >= 1  # type: ignore[attr-defined]
    code = message.split("reproducer:\n", 1)[1]
    code = code.replace(f'discovery.get_target("{crash.name}")', "crash")
    code = code.replace(f'discovery.get_target("{inner.name}")', "inner")
    with pytest.raises(ValueError, match="cannot reshape"):
        exec(code, {"crash": crash, "inner": inner, "np": np})
    # ops it does not break pass
    observed = oracles.check_op(
        "vjp_reference", crash, "add", "float64", reference=inner, settings=settings.default,
        compact=True,
    )  # fmt: skip
    assert observed.worst.passed


def test_observed_records_the_examples_run(inner: Target) -> None:
    """A property run keeps the examples it ran (shapes, dtypes, small arrays' values)."""
    observed = oracles.check_op(
        "forward", inner, "mul", "float32", settings=settings.default, compact=True
    )
    assert observed.inputs and len(observed.inputs) == min(observed.examples, 20)
    first = observed.inputs[0]
    assert set(first) == {"inputs", "seed"} and len(first["inputs"]) == 2
    for x in (i for ex in observed.inputs for i in ex["inputs"]):
        assert x["dtype"] == "float32"
        n = int(np.prod(x["shape"]))
        if n <= 16:
            assert len(x["values"]) == n


class _ScaledSecondOrder(Wrapped):
    """Every second derivative 0.1% too large: a wrong term, not rounding."""

    def vjp_vjp(self, fn, primals, cotangent, direction, *, device, argnums=None):
        got = self.inner.vjp_vjp(fn, primals, cotangent, direction, device=device, argnums=argnums)
        return [np.asarray(g) * 1.001 for g in got]


# Values that agree in their first digits: std's deviations from the mean lose ~8 of float32's
# 24 bits, and PyTorch, the NumPy engine and JAX all land 5.4e-5 (relative) from the float64
# answer, 2.7x over the plain float32 allowance (20-seed ci run, seed 14).
ILL_CONDITIONED = [np.array([1.97998, 1.98999, 2.0], dtype=np.float32)]


def test_float32_rounding_of_an_ill_conditioned_input_is_allowed_a_wrong_term_is_not(
    engine: Target, reference: Target | None
) -> None:
    if reference is None:
        pytest.skip("no reference target")
    ag = oracles.second_order(engine, "std_dim", ILL_CONDITIONED, seed=2, reference=reference)
    assert "float32 input-rounding sensitivity" in ag.detail, ag.detail
    broken = as_target(_ScaledSecondOrder(engine.backend, "scaled-second-order"), engine.device)
    with pytest.raises(oracles.OracleFailure, match="input-rounding sensitivity"):
        oracles.second_order(broken, "std_dim", ILL_CONDITIONED, seed=2, reference=reference)
    # A well-conditioned input never needs the allowance (nor pays for measuring it).
    ag = oracles.second_order(
        engine, "std_dim", [np.array([0.3, -1.2, 2.0], dtype=np.float32)], seed=2,
        reference=reference,
    )  # fmt: skip
    assert "sensitivity" not in ag.detail, ag.detail
