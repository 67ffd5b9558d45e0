"""The model properties catch gradient bugs that every single op call hides: the chunked
convolution and embedding of :mod:`.nn_targets` pass the op oracles (their draws fit in one
chunk) and fail ``minibatch_mean`` and ``permutation`` on ``cnn`` / ``gpt``, the failure
naming the target, the model, the property and the parameter whose gradient is wrong."""

from __future__ import annotations

import pytest
from hypothesis import settings

from harness import oracles
from harness.contract import Backend, OpFn, Unsupported
from harness.discovery import Target

from .nn_targets import ConvChunkedWeightGradient, EmbeddingChunkedWeightGradient
from .targets import Wrapped, as_target

CNN = oracles.ModelCase("digits", "cnn")
GPT = oracles.ModelCase("sonnets", "gpt")

CASES = [
    # (wrapper, op, model case, property, the gradient the failure names)
    (ConvChunkedWeightGradient, "conv2d", CNN, "minibatch_mean", "gradient of 1."),
    (ConvChunkedWeightGradient, "conv2d", CNN, "permutation", "gradient of 1."),
    (EmbeddingChunkedWeightGradient, "embedding", GPT, "minibatch_mean", "0.tok.weight"),
    (EmbeddingChunkedWeightGradient, "embedding", GPT, "permutation", "0.tok.weight"),
]


def _broken(engine: Target, wrapper: type, op: str) -> Target:
    return as_target(wrapper(engine.backend, f"broken-{op}-chunks"), engine.device)


@pytest.mark.parametrize(
    ("wrapper", "op", "case", "prop", "named"), CASES, ids=[f"{c[2].id}-{c[3]}" for c in CASES]
)
def test_model_property_catches_it(
    engine: Target, wrapper: type, op: str, case: oracles.ModelCase, prop: str, named: str
) -> None:
    broken = _broken(engine, wrapper, op)
    with pytest.raises(AssertionError) as info:
        oracles.check_model(prop, broken, case, "float64", settings=settings.default, compact=True)
    message = str(info.value) + "".join(getattr(info.value, "__notes__", []))
    assert message.startswith(f"{broken.name}  {case.id}  {prop}  float64:"), message
    assert named in message and "disagrees" in message, message


@pytest.mark.parametrize("oracle", ["vjp_reference", "finite_differences"])
@pytest.mark.parametrize(
    ("wrapper", "op"),
    sorted({c[:2] for c in CASES}, key=str),
    ids=lambda v: getattr(v, "__name__", v),
)
def test_every_single_call_is_right(
    engine: Target, reference: Target | None, wrapper: type, op: str, oracle: str
) -> None:
    """The op oracles pass the broken targets: only the model properties see the bug."""
    if reference is None or reference.name == engine.name:
        pytest.skip("needs a reference target other than the engine")
    broken = _broken(engine, wrapper, op)
    observed = oracles.check_op(
        oracle, broken, op, "float64", reference=reference, settings=settings.default,
        compact=False,
    )  # fmt: skip
    assert observed.examples > 0 and observed.worst.passed


class WithoutOp(Wrapped):
    """The engine without one op in its table."""

    def __init__(self, inner: Backend, op: str) -> None:
        super().__init__(inner, f"without-{op}")
        self._ops = {k: v for k, v in inner.ops().items() if k != op}

    def ops(self) -> dict[str, OpFn]:
        return self._ops


@pytest.mark.parametrize(
    ("case", "op"), [(CNN, "max_pool2d"), (GPT, "einsum1")], ids=lambda v: getattr(v, "id", v)
)
def test_a_target_without_a_model_op_skips_it_with_the_reason(
    engine: Target, case: oracles.ModelCase, op: str
) -> None:
    target = as_target(WithoutOp(engine.backend, op), engine.device)
    draw = oracles.ModelDraw(rows=4, cuts=(1,), permutation=(3, 2, 1, 0), seed=0)
    for prop in oracles.MODEL_PROPERTIES:
        with pytest.raises(Unsupported, match=f"has no op '{op}'"):
            oracles.MODEL_PROPERTIES[prop](target, case, "float64", draw)
