"""The trajectory comparison catches deliberately broken data-parallel training.

Each target is PyTorch DDP on 2 CPU ranks with one realistic mistake
(:mod:`suites.broken.dp_targets`), compared with the reference target's float64 run by
:func:`harness.oracles.trajectory`, the function the training suites call. The correct
recipe agrees; each bug is reported where it first shows, and a desynchronization names the
rank, the step and the parameter.
"""

from __future__ import annotations

import pytest

pytest.importorskip("torch.distributed")

from harness import oracles
from harness.discovery import Target

from .dp_targets import dp_target

# 455 training rows in batches of 32: 14 full batches, then 7 rows (4 + 3 on two ranks).
MINI = oracles.TrainingCase("breast_cancer", "logreg", "sgd", "minibatch", 2)
FULL = oracles.TrainingCase("breast_cancer", "logreg", "sgd", "batch", 3)


@pytest.fixture(scope="module")
def runs() -> oracles.RunCache:
    """One cache for the module: the reference runs are computed once."""
    return oracles.RunCache()


@pytest.fixture
def inner(reference: Target | None) -> Target:
    """The single-process reference run's target."""
    if reference is None:
        pytest.skip("no reference target")
    return reference


def _failure(
    recipe: str, case: oracles.TrainingCase, inner: Target, runs
) -> oracles.TrainingFailure:
    with pytest.raises(oracles.TrainingFailure) as info:
        oracles.trajectory(dp_target(recipe), case, "float64", reference=inner, runs=runs)
    return info.value


@pytest.mark.parametrize("case", [MINI, FULL], ids=lambda c: c.mode)
def test_correct_recipe_agrees(inner: Target, case: oracles.TrainingCase, runs) -> None:
    """The unbroken recipe (the one torch:cpu@ddp2 runs) agrees, with no desync."""
    verdict = oracles.trajectory(
        dp_target("ddp-correct"), case, "float64", reference=inner, runs=runs
    )
    assert verdict.agrees and verdict.desync is None


def test_skipped_all_reduce_is_a_desync_naming_rank_step_parameter(inner: Target, runs) -> None:
    """A parameter left out of the all-reduce desynchronizes rank 1 at the first step."""
    failure = _failure("ddp-skip-allreduce", MINI, inner, runs)
    assert failure.verdict is not None and failure.verdict.desync is not None
    d = failure.verdict.desync
    assert (d["rank"], d["step"], d["parameter"]) == (1, 0, "linear0.bias")
    assert d["max_abs_diff"] > 0
    assert "rank 1 desynchronized from rank 0 at step 0 (epoch 0): parameter linear0.bias" in str(
        failure
    )
    assert failure.verdict.first_diverging_step == 0


def test_local_mean_loss_is_caught_at_the_uneven_batch(inner: Target, runs) -> None:
    """Averaging over the local rows equals the global mean until the split is uneven."""
    failure = _failure("ddp-local-mean", MINI, inner, runs)
    assert failure.verdict is not None and failure.verdict.desync is None
    # Step 14 is the 7-row batch (4 + 3 rows): its update is wrong, so step 15's loss shows it.
    assert failure.verdict.first_diverging_step == 15
    assert "first diverging step: 15 (epoch 1, step 0 of the epoch)" in str(failure)


def test_local_mean_loss_is_caught_in_full_batch(inner: Target, runs) -> None:
    """Full batch: 455 rows split 228 + 227, wrong from the first update."""
    failure = _failure("ddp-local-mean", FULL, inner, runs)
    assert failure.verdict is not None and failure.verdict.first_diverging_step == 1


def test_dropped_uneven_batch_is_caught(inner: Target, runs) -> None:
    """Skipping the last partial batch changes the step count; it shows at step 14."""
    failure = _failure("ddp-drop-last", MINI, inner, runs)
    message = str(failure)
    assert "steps per epoch differ: epoch 0 has 14 against the reference's 15" in message
    assert "(28 steps in 2 epochs against 30 in 2)" in message
    assert "step 14 first differs" in message
    assert failure.verdict is not None and failure.verdict.first_diverging_step == 14
