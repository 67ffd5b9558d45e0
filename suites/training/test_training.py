"""Whole training runs on every target against the reference target's float64 run.

From identical initial parameters and batch order, each step's loss must agree with the
reference within :data:`harness.trajectory.TOLERANCES` (a tolerance that grows like the
square root of the step count for float32; see that module for the measurements), and the
last epoch's test accuracy must reach 0.95 on breast cancer and 0.93 on digits. Runs are
cached per process, so each (target, workload, dtype) trains once per session.

The cases are :data:`harness.oracles.TRAINING_CASES`, or the mini-batch ones only
(:data:`harness.oracles.QUICK_TRAINING_CASES`) with ``--training-cases quick`` or
``HARNESS_TRAINING_CASES=quick`` (``harness check --quick``).
"""

from __future__ import annotations

import pytest

from harness.discovery import Target
from harness.oracles import TrainingCase
from harness.pytest_plugin import training_cases

DTYPES = ["float32", "float64"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize ``case`` over the selected training cases."""
    if "case" in metafunc.fixturenames:
        cases = training_cases(metafunc.config)
        metafunc.parametrize("case", cases, ids=[c.id for c in cases])


@pytest.mark.parametrize("dtype", DTYPES)
def test_trajectory(target: Target, case: TrainingCase, dtype: str, parity) -> None:
    """Every step's loss agrees with the reference run; on failure, the first diverging step."""
    parity.trajectory(target, case, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_accuracy(target: Target, case: TrainingCase, dtype: str, parity) -> None:
    """The trained model reaches the dataset's test-accuracy threshold."""
    parity.accuracy(target, case, dtype)
