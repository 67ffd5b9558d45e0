"""Data-parallel training equals the single-process run: every discovered data-parallel
target (world size 2) against the reference target (``torch:cpu``), on breast cancer and
digits, full batch and mini-batch, float32 and float64.

The verdict is :func:`harness.oracles.trajectory`'s, with the training suite's tolerances
(:data:`harness.trajectory.TOLERANCES`, float32 against the reference's float64 run). The
all-reduce changes only the summation order (per-rank partial sums of the loss and the
gradient, then their sum), so the standard tolerances apply unchanged. Measured on these
cases (torch 2.13 DDP/gloo, jax 0.10.2 shard_map, 2 ranks, scripted over the same
RunCache calls) the largest scaled step difference was 3.5e-15 in float64 (torch, digits
mini-batch; tolerance 1e-9) and, in float32 against the float64 reference, 3.2e-7 *
sqrt(k + 1) (torch, breast-cancer mini-batch Adam; tolerance 1e-4 * sqrt(k + 1)); with
``harness compare`` over 20 epochs (momentum, against torch:cpu in the same dtype) 4.2e-14
in float64 and 5.2e-5 in float32. That is the size by which two correct single-process
backends differ (harness/trajectory.py), so no tolerance of its own is needed. The ranks
must moreover stay bit-identical (no desync).
"""

from __future__ import annotations

import pytest

from harness import oracles
from harness.discovery import Target

CASES = [
    oracles.TrainingCase("breast_cancer", "mlp:16", "adam", "batch", 15),
    oracles.TrainingCase("breast_cancer", "mlp:16", "adam", "minibatch", 3),
    oracles.TrainingCase("digits", "mlp:32", "momentum", "batch", 15),
    oracles.TrainingCase("digits", "mlp:32", "momentum", "minibatch", 2),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_agrees_with_one_process(
    dp_target: Target, reference: Target | None, case: oracles.TrainingCase, dtype: str, runs
) -> None:
    """Every step's global loss follows the reference run; every rank holds rank 0's params."""
    verdict = oracles.trajectory(dp_target, case, dtype, reference=reference, runs=runs)
    assert verdict.agrees and verdict.desync is None
    h = runs.get(dp_target, case, dtype)
    assert h.rank_epoch_params is not None and h.rank_step_checksums is not None
    assert [len(ranks) for ranks in h.rank_epoch_params] == [dp_target.world_size] * case.epochs
    assert h.rank_step_checksums.shape[:2] == (len(h.step_loss), dp_target.world_size)
