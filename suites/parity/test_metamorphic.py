"""Metamorphic properties: they tie broadcasting and mini-batches to the full computation.

* The gradient with respect to a broadcast input equals the gradient with respect to the
  materialized input, summed over the broadcast dimensions (every broadcasting op).
* The full-batch gradient of a mean loss equals the batch-size-weighted average of the
  mini-batch gradients; two accumulated backward passes give twice one; permuting the rows
  leaves the full-batch loss and gradients unchanged (logistic regression on breast cancer,
  a softmax MLP and the ``cnn`` on digits, the ``gpt`` on sonnets, whose rows are sequences).
"""

from __future__ import annotations

import pytest

from harness.discovery import Target
from harness.oracles import MODEL_CASES, MODEL_PROPERTIES, ModelCase, ops_for

DTYPES = ["float32", "float64"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ops_for("broadcast_reduction"))
def test_broadcast_reduction(target: Target, op: str, dtype: str, parity) -> None:
    """Gradients of broadcast inputs are the reduced gradients of the materialized inputs."""
    parity.op("broadcast_reduction", target, op, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", MODEL_CASES, ids=[c.id for c in MODEL_CASES])
@pytest.mark.parametrize("prop", list(MODEL_PROPERTIES))
def test_model_property(target: Target, prop: str, case: ModelCase, dtype: str, parity) -> None:
    """Mini-batch / full-batch / accumulation / permutation identities of a model's loss."""
    parity.model(prop, target, case, dtype)
