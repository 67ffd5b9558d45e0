"""Random programs of 2 to 8 catalog ops on every target: value and reverse mode.

Each check is one Hypothesis property (:func:`harness.oracles.check_programs`): programs
from :mod:`harness.programs` (a DAG whose intermediate values feed several ops, leaves of
broadcasting shapes) checked against the float64 NumPy reference program, the reference
target's VJP and finite differences. A failure shrinks to a minimal program and prints it
with a reproducer.
"""

from __future__ import annotations

import pytest

from harness import oracles
from harness.discovery import Target

DTYPES = ["float32", "float64"]


@pytest.mark.parametrize("dtype", DTYPES)
def test_programs(target: Target, dtype: str, reference: Target | None, parity) -> None:
    """Value and every leaf's gradient of random programs agree with the references."""
    parity.run(
        target,
        "programs",
        "program",
        dtype,
        lambda xfail: oracles.check_programs(
            target,
            dtype,
            reference=reference,
            settings=parity.settings,
            expect_failure=xfail,
            seed=parity.state.draws.seed,
        ),
    )
