"""Every optimizer field, in every combination PyTorch accepts, step by step on every target.

One check per (target, optimizer case, dtype): :func:`harness.oracles.update_rule` steps the
target's own optimizer (:meth:`harness.contract.Backend.optimizer_step`) and the reference
target's from the same parameters and gradients and compares every parameter after every
step. The combinations PyTorch refuses are listed as skipped, with its reason.
"""

from __future__ import annotations

import pytest

from harness import oracles
from harness.discovery import Target

DTYPES = ["float32", "float64"]
CASES = [pytest.param(c, id=c.id) for c in oracles.OPTIMIZER_CASES] + [
    pytest.param(None, id=label, marks=pytest.mark.skip(reason=f"PyTorch refuses it: {why}"))
    for label, why in oracles.INVALID_CASES
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES)
def test_update_rule(
    target: Target, case: oracles.OptimizerCase, dtype: str, reference: Target | None, parity
) -> None:
    """The target's optimizer moves every parameter as the reference's does, every step."""
    parity.run(
        target,
        case.id,
        "update_rule",
        dtype,
        lambda _: oracles.Observed(
            1, oracles.update_rule(target, case, dtype, reference=reference)
        ),
    )
