"""The update-rule oracle catches a broken optimizer field by field, and names the field.

Each bug of :data:`suites.broken.update_targets.BUGS` runs through
:func:`harness.oracles.update_rule` -- the function the parity suite calls -- on every case
of :data:`harness.oracles.OPTIMIZER_CASES`: every case that sets the broken field must fail,
with the field and its value in the report; no case of another optimizer kind may fail. The
same NumPy optimizer without a bug passes every case (so the oracle is not simply strict).
"""

from __future__ import annotations

import numpy as np
import pytest

from harness import oracles
from harness.discovery import Target

from .targets import as_target
from .update_targets import BUGS, BrokenOptimizer


@pytest.fixture
def inner(reference: Target | None) -> Target:
    """The real target the broken optimizers wrap (the reference target)."""
    if reference is None:
        pytest.skip("no reference target to wrap")
    if not reference.backend.capabilities.optimizer_step:
        pytest.skip(f"{reference.name} has no optimizer_step")
    return reference


def _outcomes(broken: Target, reference: Target, dtype: str) -> dict[str, str | None]:
    """Case id -> failure message (None: it passed)."""
    out: dict[str, str | None] = {}
    for case in oracles.OPTIMIZER_CASES:
        try:
            oracles.update_rule(broken, case, dtype, reference=reference)
            out[case.id] = None
        except oracles.OracleFailure as e:
            out[case.id] = str(e)
    return out


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_correct_numpy_optimizer_passes(inner: Target, dtype: str) -> None:
    """PyTorch's rules written in NumPy agree with the reference on every case."""
    broken = as_target(BrokenOptimizer(inner.backend, None), inner.device)
    failed = {k: m for k, m in _outcomes(broken, inner, dtype).items() if m}
    assert not failed, "\n\n".join(failed.values())


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("bug", list(BUGS))
def test_broken_field_is_caught_and_named(inner: Target, bug: str, dtype: str) -> None:
    """Every case that sets the broken field fails, naming it; other kinds pass."""
    spec_of = {c.id: c for c in oracles.OPTIMIZER_CASES}
    rule = BUGS[bug]
    broken = as_target(BrokenOptimizer(inner.backend, bug), inner.device)
    outcomes = _outcomes(broken, inner, dtype)
    must = {k for k, c in spec_of.items() if rule.must(c.spec)}
    assert must, f"no case of the grid sets {rule.field}"
    missed = sorted(k for k in must if outcomes[k] is None)
    assert not missed, f"{bug} not caught on {missed}"
    stray = sorted(k for k, m in outcomes.items() if m and not rule.may(spec_of[k].spec))
    assert not stray, f"{bug} reported on cases it cannot affect: {stray}"
    for k in must:
        message = outcomes[k]
        assert message is not None
        case = spec_of[k]
        value = getattr(case.spec, rule.field)
        assert message.startswith(f"{broken.name}  {k}  update_rule  {dtype}:"), message
        assert f"{rule.field}={value}" in message, message  # the field, named with its value
        if rule.field in case.fields():
            assert f"{rule.field}={value}*" in message  # marked as set
            assert rule.field in k  # and in the case id of the title
        assert "parameter " in message and "after step " in message, message


def test_update_rule_reproducer_reruns_the_failing_check(inner: Target) -> None:
    """The reproducer in an update-rule failure is valid Python that fails the same way."""
    broken = as_target(BrokenOptimizer(inner.backend, "ignores_dampening"), inner.device)
    case = next(c for c in oracles.OPTIMIZER_CASES if c.spec.dampening and c.spec.momentum)
    with pytest.raises(oracles.OracleFailure) as info:
        oracles.update_rule(broken, case, "float64", reference=inner)
    code = str(info.value).split("reproducer:\n", 1)[1]
    code = code.replace(f'discovery.get_target("{broken.name}")', "broken")
    code = code.replace(f'discovery.get_target("{inner.name}")', "inner")
    with pytest.raises(oracles.OracleFailure, match=f"{case.id}  update_rule  float64"):
        exec(code, {"broken": broken, "inner": inner, "np": np})
