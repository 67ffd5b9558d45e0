"""Whole training runs on every target against the reference target's float64 run.

From identical initial parameters and batch order, each step's loss must agree with the
reference within :data:`harness.trajectory.TOLERANCES` (a tolerance that grows like the
square root of the step count for float32; see that module for the measurements), and the
last epoch's test accuracy must reach 0.95 on breast cancer and 0.93 on digits. Runs are
cached per process, so each (target, workload, dtype) trains once per session.
"""

from __future__ import annotations

import pytest

from harness.discovery import Target
from harness.oracles import TRAINING_CASES, TrainingCase

DTYPES = ["float32", "float64"]
IDS = [c.id for c in TRAINING_CASES]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", TRAINING_CASES, ids=IDS)
def test_trajectory(target: Target, case: TrainingCase, dtype: str, parity) -> None:
    """Every step's loss agrees with the reference run; on failure, the first diverging step."""
    parity.trajectory(target, case, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", TRAINING_CASES, ids=IDS)
def test_accuracy(target: Target, case: TrainingCase, dtype: str, parity) -> None:
    """The trained model reaches the dataset's test-accuracy threshold."""
    parity.accuracy(target, case, dtype)
