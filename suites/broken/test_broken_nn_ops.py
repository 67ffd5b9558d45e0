"""The op oracles catch the neural-network bugs of :mod:`.nn_targets` in the NumPy engine,
through the catalog's drawn parameters and covering sets, and pass the real engine."""

from __future__ import annotations

import pytest
from hypothesis import settings

from harness import oracles
from harness.discovery import Target

from .nn_targets import (
    BatchNormBiasedRunningVar,
    ConvPaddingGradient,
    EmbeddingOverwrite,
    SoftmaxNoShift,
)
from .targets import as_target

CASES = [
    # (wrapper, op, oracle, dtype, text the report must show)
    (ConvPaddingGradient, "conv2d", "vjp_reference", "float64", "'padding': 1"),
    (ConvPaddingGradient, "conv2d", "finite_differences", "float32", "'padding': 1"),
    (ConvPaddingGradient, "conv1d", "vjp_reference", "float64", "'padding': 1"),
    (EmbeddingOverwrite, "embedding", "vjp_reference", "float64", "arg 1: int64"),
    (EmbeddingOverwrite, "embedding", "finite_differences", "float32", "arg 1: int64"),
    (BatchNormBiasedRunningVar, "batch_norm_stats", "forward", "float64", "value"),
    (SoftmaxNoShift, "softmax", "forward", "float32", "covering case: extreme:large"),
]


def _check(oracle: str, target: Target, op: str, dtype: str, reference: Target | None) -> None:
    oracles.check_op(
        oracle, target, op, dtype, reference=reference, settings=settings.default, compact=True
    )


@pytest.mark.parametrize(("wrapper", "op", "oracle", "dtype", "shown"), CASES)
def test_nn_bug_is_caught(
    engine: Target, reference: Target | None, wrapper: type, op: str, oracle: str, dtype: str,
    shown: str,
) -> None:  # fmt: skip
    if reference is None or reference.name == engine.name:
        pytest.skip("needs a reference target other than the engine")
    broken = as_target(wrapper(engine.backend, f"broken-{op}"), engine.device)
    with pytest.raises(AssertionError) as info:
        _check(oracle, broken, op, dtype, reference)
    message = str(info.value) + "".join(getattr(info.value, "__notes__", []))
    assert message.startswith(f"{broken.name}  {op}  {oracle}  {dtype}:"), message
    assert shown in message, message


@pytest.mark.parametrize(("op", "oracle", "dtype"), sorted({c[1:4] for c in CASES}))
def test_the_real_engine_passes(
    engine: Target, reference: Target | None, op: str, oracle: str, dtype: str
) -> None:
    if reference is None or reference.name == engine.name:
        pytest.skip("needs a reference target other than the engine")
    _check(oracle, engine, op, dtype, reference)
