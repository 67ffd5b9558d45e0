"""Only programs catch a reverse mode that overwrites a reused value's gradient.

:class:`~suites.broken.update_targets.OverwritingTape` stores each use's gradient over the
previous one instead of adding it. The single-op oracles pass it (every input of one op is
a distinct leaf); :func:`harness.oracles.check_programs` -- the property the program suite
runs -- fails it, shrunk to a minimal program in which a value feeds two op inputs, with a
reproducer that runs.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import settings

from harness import oracles, programs
from harness.discovery import Target

from .targets import as_target
from .update_targets import OverwritingTape

SEARCH = settings(max_examples=100, derandomize=True, database=None, deadline=None)
"""The program search's own budget: ``settings.default`` is the loaded profile, and ``ci``'s
5 random draws (plus no covering set for programs) did not find the reuse bug."""


@pytest.fixture
def inner(reference: Target | None) -> Target:
    """The real target the tape wraps (the reference target)."""
    if reference is None:
        pytest.skip("no reference target to wrap")
    return reference


@pytest.fixture
def tape(inner: Target) -> Target:
    """The overwriting tape over the reference backend."""
    return as_target(OverwritingTape(inner.backend), inner.device)


SINGLE = [
    (oracle, op)
    for oracle in ("vjp_reference", "finite_differences", "broadcast_reduction")
    for op in ("mul", "add", "tanh", "softmax", "logsumexp")
    if op in oracles.ops_for(oracle)
]


@pytest.mark.parametrize(("oracle", "op"), SINGLE)
def test_single_op_oracles_pass_the_tape(tape: Target, inner: Target, oracle: str, op: str) -> None:
    """Every single-op gradient oracle passes it: one op never reuses a value."""
    observed = oracles.check_op(
        oracle, tape, op, "float64", reference=inner, settings=settings.default, compact=True
    )
    assert observed.examples > 0 and observed.worst.passed


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_programs_catch_the_tape(tape: Target, inner: Target, dtype: str) -> None:
    """The program property fails it, on a shrunk program that reuses a value."""
    with pytest.raises(oracles.OracleFailure) as info:
        oracles.check_programs(tape, dtype, reference=inner, settings=SEARCH)
    message = str(info.value)
    assert message.startswith(f"{tape.name}  program  program  {dtype}:"), message
    assert "gradient of leaf" in message or "<u, VJP(v)>" in message, message
    assert "feeds 2 op inputs" in message, message  # the reused value, marked
    listing = message.split("program:\n", 1)[1].split("reproducer:", 1)[0]
    assert len([line for line in listing.splitlines() if "= leaf" not in line]) <= 3, message


def test_program_reproducer_runs(tape: Target, inner: Target) -> None:
    """The printed reproducer is valid Python that fails the same way; unbroken, it passes."""
    with pytest.raises(oracles.OracleFailure) as info:
        oracles.check_programs(tape, "float64", reference=inner, settings=SEARCH)
    code = str(info.value).split("reproducer:\n", 1)[1]
    code = code.replace(f'discovery.get_target("{tape.name}")', "target")
    code = code.replace(f'discovery.get_target("{inner.name}")', "inner")
    with pytest.raises(oracles.OracleFailure, match="program  program  float64"):
        exec(code, {"target": tape, "inner": inner, "np": np})
    namespace: dict = {"target": inner, "inner": inner, "np": np}
    exec(code.replace("oracles.program(", "result = oracles.program(", 1), namespace)
    assert namespace["result"].passed


def test_correct_backend_passes_programs(inner: Target) -> None:
    """The unbroken backend passes the same property (the program oracle is not strict)."""
    observed = oracles.check_programs(inner, "float64", reference=None, settings=settings.default)
    assert observed.examples > 0 and observed.worst.passed


def test_reused_value_needs_summed_gradients(inner: Target) -> None:
    """A hand-written program: tanh(x) * x, x used twice, agrees on the real backend and not
    on the tape (the tape's gradient of x is one path's only)."""
    program = programs.Program(((3,),), (("tanh", (0,)), ("mul", (1, 0))))
    assert program.reused() == [0]
    x = [np.array([0.5, -1.0, 1.5])]
    assert oracles.program(inner, program, x, seed=3, reference=None).passed
    tape = as_target(OverwritingTape(inner.backend), inner.device)
    with pytest.raises(oracles.OracleFailure):
        oracles.program(tape, program, x, seed=3, reference=inner)
