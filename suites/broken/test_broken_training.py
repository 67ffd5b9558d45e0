"""The trajectory comparison catches deliberately broken training loops.

:class:`~suites.broken.targets.LoopTrainer` trains through the contract (the reference
backend's ops and VJP) with NumPy optimizers. Without a bug it must agree with the reference
target's run to float64 precision; each bug must be reported by
:func:`harness.oracles.trajectory` -- the function the training suite calls -- with the step
where it first shows.
"""

from __future__ import annotations

import pytest

from harness import oracles
from harness.discovery import Target

from .targets import LoopTrainer, as_target

SGD = oracles.TrainingCase("breast_cancer", "logreg", "sgd", "minibatch", 2)
MOMENTUM = oracles.TrainingCase("breast_cancer", "mlp:8,8", "momentum", "minibatch", 2)
STEPS_PER_EPOCH = 15  # 455 training rows in batches of 32: 14 full ones and one of 7


@pytest.fixture(scope="module")
def runs() -> oracles.RunCache:
    """One cache for the module: the reference runs are computed once."""
    return oracles.RunCache()


@pytest.fixture
def inner(reference: Target | None) -> Target:
    """The real target the loops train through (the reference target)."""
    if reference is None:
        pytest.skip("no reference target")
    if "float64" not in reference.backend.capabilities.dtypes:
        pytest.skip(f"{reference.name} has no float64")
    return reference


def _verdict(inner: Target, bug: str | None, case: oracles.TrainingCase, runs: oracles.RunCache):
    loop = as_target(LoopTrainer(inner.backend, bug), inner.device)
    return oracles.trajectory(loop, case, "float64", reference=inner, runs=runs)


@pytest.mark.parametrize("case", [SGD, MOMENTUM], ids=lambda c: c.id)
def test_correct_loop_agrees(inner: Target, case: oracles.TrainingCase, runs) -> None:
    """Without a bug the contract-level loop follows the reference run step by step."""
    verdict = _verdict(inner, None, case, runs)
    assert verdict.agrees and verdict.steps == 2 * STEPS_PER_EPOCH


def test_sum_instead_of_mean_is_caught(inner: Target, runs) -> None:
    """Backpropagating the summed loss (logging the mean) diverges at step 1."""
    with pytest.raises(oracles.TrainingFailure) as info:
        _verdict(inner, "sum_loss", SGD, runs)
    assert info.value.verdict is not None
    assert info.value.verdict.first_diverging_step == 1
    message = str(info.value)
    assert "loop-sum_loss" in message and "trajectory  float64" in message
    assert "first diverging step: 1 (epoch 0, step 1 of the epoch)" in message
    assert "most drifted parameter linear0." in message


def test_wrong_momentum_rule_is_caught(inner: Target, runs) -> None:
    """An EMA momentum buffer instead of PyTorch's diverges after the first update."""
    with pytest.raises(oracles.TrainingFailure) as info:
        _verdict(inner, "ema_momentum", MOMENTUM, runs)
    assert info.value.verdict is not None
    assert info.value.verdict.first_diverging_step == 1
    assert "most drifted parameter" in str(info.value)


def test_dropped_partial_batch_is_caught(inner: Target, runs) -> None:
    """Dropping the last partial batch is reported first as a step count per epoch that
    differs, then the diverging step labelled by the run's own epochs (and the reference's)."""
    with pytest.raises(oracles.TrainingFailure) as info:
        _verdict(inner, "drop_last", SGD, runs)
    message = str(info.value)
    counts = "steps per epoch differ: epoch 0 has 14 against the reference's 15"
    assert counts in message, message
    assert "(28 steps in 2 epochs against 30 in 2)" in message
    assert "within the common 28 steps, step 14 first differs" in message
    label = (
        "first diverging step: 14 (epoch 1, step 0 of the epoch; the reference's epoch 0, step 14)"
    )
    assert label in message, message
    assert message.index(counts) < message.index("first diverging step")
    assert message.index(counts) < message.index("diverges at step")
    assert info.value.verdict is not None and info.value.verdict.first_diverging_step == 14


def test_adam_without_bias_correction_is_caught(inner: Target, runs) -> None:
    """Adam's update without its bias corrections diverges at the first update."""
    case = oracles.TrainingCase("breast_cancer", "logreg", "adam", "minibatch", 2)
    assert _verdict(inner, None, case, runs).agrees  # the loop's Adam is PyTorch's
    with pytest.raises(oracles.TrainingFailure) as info:
        _verdict(inner, "adam_no_bias_correction", case, runs)
    assert info.value.verdict is not None and info.value.verdict.first_diverging_step == 1
    assert "steps per epoch differ" not in str(info.value)


def test_trajectory_reproducer_reruns_the_failing_check(inner: Target) -> None:
    """The reproducer in a trajectory failure is valid Python that fails the same way."""
    loop = as_target(LoopTrainer(inner.backend, "sum_loss"), inner.device)
    with pytest.raises(oracles.TrainingFailure) as info:
        oracles.trajectory(loop, SGD, "float64", reference=inner, runs=oracles.RunCache())
    code = str(info.value).split("reproducer:\n", 1)[1]
    code = code.replace(f'discovery.get_target("{loop.name}")', "loop")
    code = code.replace(f'discovery.get_target("{inner.name}")', "inner")
    with pytest.raises(oracles.TrainingFailure, match="loop-sum_loss"):
        exec(code, {"loop": loop, "inner": inner})
