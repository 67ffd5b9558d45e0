"""Running an oracle as a property: Hypothesis draws the inputs, the oracle judges each."""

from __future__ import annotations

import unittest
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from harness import programs as prog
from harness import strategies as strat
from harness.contract import Unsupported
from harness.oracles import registry
from harness.oracles.agreement import Agreement, NotApplicable
from harness.oracles.models import ModelCase, model_draws
from harness.oracles.ops import require

if TYPE_CHECKING:
    from harness.discovery import Target


class _SkipUnsupported(unittest.SkipTest):
    """Carries Unsupported out of Hypothesis at once: skip exceptions are never shrunk."""


class _SkipNotApplicable(unittest.SkipTest):
    pass


@dataclass
class Observed:
    """What a property run saw: examples tried and the worst agreement."""

    examples: int = 0
    worst: Agreement = field(default_factory=lambda: Agreement(True))

    def observe(self, ag: Agreement) -> None:
        """Count one example and keep the worst agreement."""
        self.examples += 1
        if (not ag.passed, ag.ratio) > (not self.worst.passed, self.worst.ratio):
            self.worst = ag


def run_property(
    test: Callable[[Any], Agreement],
    strategy: Any,
    *,
    settings: Any = None,
    key: str = "",
    expect_failure: bool = False,
) -> Observed:
    """Run ``test`` on examples of ``strategy`` with Hypothesis; return what it observed.

    ``settings`` defaults to the loaded Hypothesis profile; ``key`` names the example
    database entry and seeds derandomized runs: the op checks use ``op/dtype``, so every
    oracle and every target sees the same inputs (and a JIT's per-shape compilations are
    reused), and an input that failed anywhere is replayed everywhere;
    ``expect_failure`` skips shrinking (a known divergence needs no minimal example).
    Unsupported and NotApplicable propagate at once, without shrinking.
    """
    import hypothesis

    observed = Observed()

    def prop(case: Any) -> None:
        try:
            ag = test(case)
        except Unsupported as e:
            raise _SkipUnsupported(str(e)) from e
        except NotApplicable as e:
            raise _SkipNotApplicable(str(e)) from e
        observed.observe(ag)

    prop._hypothesis_internal_add_digest = key.encode()  # type: ignore[attr-defined]
    base = settings if settings is not None else hypothesis.settings()
    overrides: dict[str, Any] = {}
    if expect_failure:
        overrides["phases"] = [
            p for p in base.phases if p is not hypothesis.Phase.shrink and p.name != "explain"
        ]
    wrapped = hypothesis.given(strategy)(hypothesis.settings(base, **overrides)(prop))
    try:
        wrapped()
    except _SkipUnsupported as e:
        raise Unsupported(str(e)) from None
    except _SkipNotApplicable as e:
        raise NotApplicable(str(e)) from None
    return observed


def check_op(
    oracle: str,
    target: Target,
    op: str,
    dtype: str,
    *,
    reference: Target | None = None,
    settings: Any = None,
    key: str = "",
    expect_failure: bool = False,
    compact: bool = False,
) -> Observed:
    """Property: the op oracle ``oracle`` holds for ``target`` on every drawn input of ``op``.

    ``compact`` draws shapes from :data:`harness.strategies.COMPACT` (the ``ci`` profile).
    """
    entry = registry.get(oracle, "op")
    fn = entry.check
    require(target, op, dtype, capability=entry.capability)

    def test(case: strat.OpCase) -> Agreement:
        return fn(target, op, list(case.inputs), seed=case.seed, reference=reference)

    return run_property(
        test,
        strat.op_cases(op, dtype, compact),
        settings=settings,
        key=key or f"{op}/{dtype}",
        expect_failure=expect_failure,
    )


def check_model(
    prop: str,
    target: Target,
    case: ModelCase,
    dtype: str,
    *,
    settings: Any = None,
    key: str = "",
    expect_failure: bool = False,
    compact: bool = False,
) -> Observed:
    """Property: the model property ``prop`` holds for every drawn batch."""
    fn = registry.get(prop, "model").check
    if dtype not in target.backend.capabilities.dtypes:
        raise Unsupported(f"{target.name} does not support {dtype}")
    return run_property(
        lambda d: fn(target, case, dtype, d),
        model_draws(compact=compact),
        settings=settings,
        key=key or f"{case.id}/{dtype}",
        expect_failure=expect_failure,
    )


def check_programs(
    target: Target,
    dtype: str,
    *,
    reference: Target | None = None,
    settings: Any = None,
    key: str = "",
    expect_failure: bool = False,
) -> Observed:
    """Property: the program oracle holds for ``target`` on every drawn program in ``dtype``.

    A failure is shrunk to a minimal program (fewest ops and leaves) and reported with its
    listing and a reproducer (:mod:`harness.oracles.programs`).
    """
    fn = registry.get("program", "program").check
    if dtype not in target.backend.capabilities.dtypes:
        raise Unsupported(f"{target.name} does not support {dtype}")

    def test(case: prog.ProgramCase) -> Agreement:
        return fn(target, case.program, list(case.inputs), seed=case.seed, reference=reference)

    return run_property(
        test,
        prog.program_cases(dtype),
        settings=settings,
        key=key or f"programs/{dtype}",
        expect_failure=expect_failure,
    )
