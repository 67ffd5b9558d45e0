"""The program strategy draws what it promises: valid DAGs that reuse values and broadcast.

Framework-free (no target): :func:`harness.programs.programs` and :class:`Program` itself,
and that the parity report has a table for every kind of oracle (the new kinds included).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from harness import oracles, parity_report, programs


@settings(max_examples=50, deadline=None, database=None)
@given(programs.program_cases("float64"))
def test_drawn_programs_are_valid(case: programs.ProgramCase) -> None:
    """2 to 8 ops, 1 to 3 leaves of the menu's shapes, finite bounded values; the source
    rebuilds the same program."""
    p = case.program
    assert programs.MIN_OPS <= len(p.nodes) <= programs.MAX_OPS
    assert 1 <= len(p.leaves) <= programs.MAX_LEAVES
    assert set(p.leaves) <= set(programs.LEAF_SHAPES)
    values = p.reference(*case.inputs)
    assert [v.shape for v in values] == p.shapes()
    assert all(np.all(np.abs(v) <= programs.BOUND) for v in values)
    assert eval(p.source(), {"programs": programs}) == p


def test_programs_reuse_values_and_broadcast() -> None:
    """Over 300 draws: most programs reuse a value, many an intermediate one, some
    broadcast two different shapes in one op (the figures harness.programs states)."""
    seen = {"any": 0, "intermediate": 0, "broadcast": 0, "n": 0}

    @settings(max_examples=300, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(programs.programs())
    def draw(p: programs.Program) -> None:
        seen["n"] += 1
        reused = p.reused()
        seen["any"] += bool(reused)
        seen["intermediate"] += any(i >= len(p.leaves) for i in reused)
        shapes = p.shapes()
        seen["broadcast"] += any(
            op in programs.BINARY and shapes[ins[0]] != shapes[ins[1]] for op, ins in p.nodes
        )

    draw()
    n = seen["n"]
    assert seen["any"] >= 0.6 * n and seen["intermediate"] >= 0.25 * n, seen
    assert seen["broadcast"] >= 0.08 * n, seen


def test_program_validates_its_nodes() -> None:
    """A node reading a value not yet made, or shapes that do not broadcast, is refused."""
    with pytest.raises(ValueError, match="node 0"):
        programs.Program(((3,),), (("mul", (0, 1)),))
    with pytest.raises(ValueError, match="broadcast"):
        programs.Program(((3,), (2,)), (("add", (0, 1)),))
    with pytest.raises(ValueError, match="at least one dimension"):
        programs.Program(((),), (("softmax", (0,)),))
    p = programs.Program(((2, 3), (3,)), (("mul", (0, 1)), ("tanh", (2,)), ("add", (3, 2))))
    assert p.reused() == [2] and "v2 = mul(v0, v1)" in p.listing()


def test_every_oracle_kind_has_a_report_table() -> None:
    """The coverage matrix has a table for each kind of the registry (else its rows vanish)."""
    assert set(parity_report.KIND_TITLES) == set(oracles.KINDS)
    assert oracles.names("optimizer") == ["update_rule"]
    assert oracles.names("program") == ["program"]
    assert oracles.REGISTRY["update_rule"].subjects() == [c.id for c in oracles.OPTIMIZER_CASES]
