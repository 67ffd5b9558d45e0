"""Running an oracle as a property: Hypothesis draws the inputs, the oracle judges each.

Every op check runs, besides the profile's draws, the op's covering set
(:mod:`harness.covering`) as explicit examples; the kink-convention oracle runs only its
points (:func:`harness.covering.kink_cases`). A derandomized profile draws the same examples
on every run; given a seed (``--hypothesis-seed``), a second pass draws as many random ones
beside them, seeded per check by :func:`check_seed`.
"""

from __future__ import annotations

import hashlib
import unittest
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from harness import catalog, covering
from harness import programs as prog
from harness import strategies as strat
from harness.contract import Unsupported
from harness.oracles import registry
from harness.oracles.agreement import (
    Agreement,
    ComputationError,
    Context,
    NotApplicable,
    OracleFailure,
    error_report,
)
from harness.oracles.models import ModelCase, model_draws, model_reproducer
from harness.oracles.ops import require
from harness.oracles.programs import reproducer as program_reproducer

if TYPE_CHECKING:
    from harness.discovery import Target


class _SkipUnsupported(unittest.SkipTest):
    """Carries Unsupported out of Hypothesis at once: skip exceptions are never shrunk."""


class _SkipNotApplicable(unittest.SkipTest):
    pass


RECORDED_EXAMPLES = 20
"""At most this many examples are described in :attr:`Observed.inputs` (and report.json)."""
RECORDED_VALUES = 16
"""An input array of at most this many elements is recorded with its values."""


def describe_example(case: Any) -> dict[str, Any]:
    """A JSON-ready description of one drawn example: its inputs (shape, dtype and, for
    small arrays, the values) and seed, or the drawn batch of a model property."""
    inputs = getattr(case, "inputs", None)
    if inputs is None:
        return {"draw": repr(case)}
    out = []
    for x in inputs:
        a = np.asarray(x)
        d: dict[str, Any] = {"shape": list(a.shape), "dtype": a.dtype.name}
        if a.size <= RECORDED_VALUES:
            d["values"] = [v if not isinstance(v, float) or np.isfinite(v) else repr(v)
                           for v in a.ravel().tolist()]  # fmt: skip
        out.append(d)
    described: dict[str, Any] = {"inputs": out, "seed": int(getattr(case, "seed", 0))}
    params = getattr(case, "params", None)
    if params:
        described["params"] = {k: v if isinstance(v, bool | int | float | str | None) else repr(v)
                               for k, v in params.items()}  # fmt: skip
    return described


@dataclass
class Observed:
    """What a property run saw: examples tried, the worst agreement, and the examples run
    (the first :data:`RECORDED_EXAMPLES`, described by :func:`describe_example`)."""

    examples: int = 0
    worst: Agreement = field(default_factory=lambda: Agreement(True))
    inputs: list[dict[str, Any]] = field(default_factory=list)

    def observe(self, ag: Agreement | None, case: Any = None) -> None:
        """Count one example (``ag`` None: it raised) and keep the worst agreement."""
        self.examples += 1
        if case is not None and len(self.inputs) < RECORDED_EXAMPLES:
            self.inputs.append(describe_example(case))
        if ag is not None and (not ag.passed, ag.ratio) > (not self.worst.passed, self.worst.ratio):
            self.worst = ag


def check_seed(seed: int, key: str) -> int:
    """The seed of one check's random pass: ``seed`` mixed with the check's ``key``, so that
    every check draws its own examples and the same ones on every run with that seed."""
    digest = hashlib.sha256(f"{seed}/{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def run_property(
    test: Callable[[Any], Agreement],
    strategy: Any,
    *,
    settings: Any = None,
    key: str = "",
    expect_failure: bool = False,
    examples: Sequence[Any] = (),
    seed: int | None = None,
    draw: bool = True,
) -> Observed:
    """Run ``test`` on examples of ``strategy`` with Hypothesis; return what it observed.

    ``settings`` defaults to the loaded Hypothesis profile; ``key`` names the example
    database entry and seeds derandomized runs: the op checks use ``op/dtype``, so every
    oracle and every target sees the same inputs (and a JIT's per-shape compilations are
    reused), and an input that failed anywhere is replayed everywhere;
    ``expect_failure`` skips shrinking (a known divergence needs no minimal example).
    Unsupported and NotApplicable propagate at once, without shrinking.

    ``examples`` run first, as explicit examples (a failing one is reported as it is, never
    shrunk); ``draw=False`` runs only them. ``seed``: a derandomized profile draws its fixed
    examples and then, in a second pass, as many random ones seeded by
    :func:`check_seed`; a random profile draws only that seeded pass.
    """
    import hypothesis

    observed = Observed()

    def make_prop() -> Callable[[Any], None]:
        # A new function per pass: Hypothesis' decorators mark the function they decorate.
        def prop(case: Any) -> None:
            try:
                ag = test(case)
            except Unsupported as e:
                raise _SkipUnsupported(str(e)) from e
            except NotApplicable as e:
                raise _SkipNotApplicable(str(e)) from e
            except Exception:
                observed.observe(None, case)
                raise
            observed.observe(ag, case)

        prop._hypothesis_internal_add_digest = key.encode()  # type: ignore[attr-defined]
        return prop

    base = settings if settings is not None else hypothesis.settings()
    phases = list(base.phases)
    if expect_failure:
        phases = [p for p in phases if p is not hypothesis.Phase.shrink and p.name != "explain"]
    explicit = [p for p in phases if p is hypothesis.Phase.explicit]
    passes: list[tuple[Any, int | None]] = []
    if not draw:
        passes.append((hypothesis.settings(base, phases=explicit), None))
    elif seed is None:
        passes.append((hypothesis.settings(base, phases=phases), None))
    elif base.derandomize:
        passes.append((hypothesis.settings(base, phases=phases), None))
        rest = [p for p in phases if p is not hypothesis.Phase.explicit]
        seeded = hypothesis.settings(base, phases=rest, derandomize=False, database=None)
        passes.append((seeded, check_seed(seed, key)))
    else:
        passes.append((hypothesis.settings(base, phases=phases), check_seed(seed, key)))
    for pass_settings, pass_seed in passes:
        test_fn: Any = make_prop()
        if pass_settings.phases and hypothesis.Phase.explicit in pass_settings.phases:
            for ex in reversed(list(examples)):
                test_fn = hypothesis.example(ex)(test_fn)
        wrapped = hypothesis.given(strategy)(pass_settings(test_fn))
        if pass_seed is not None:
            wrapped = hypothesis.seed(pass_seed)(wrapped)
        try:
            wrapped()
        except _SkipUnsupported as e:
            raise Unsupported(str(e)) from None
        except _SkipNotApplicable as e:
            raise NotApplicable(str(e)) from None
        except Exception as e:
            e.harness_observed = observed  # type: ignore[attr-defined]  # the report's examples
            raise
    return observed


def _guarded(
    test: Callable[[Any], Agreement], context: Callable[[Any], tuple[Context, str | None]]
) -> Callable[[Any], Agreement]:
    """``test`` with any exception but a verdict turned into a :class:`ComputationError`
    whose report names the check (``context(case)``: its Context and reproducer)."""

    def run(case: Any) -> Agreement:
        try:
            return test(case)
        except (OracleFailure, ComputationError, Unsupported, NotApplicable):
            raise
        except Exception as e:
            ctx, repro = context(case)
            raise ComputationError(error_report(ctx, e, repro), type(e).__name__) from e

    return run


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
    seed: int | None = None,
    cover: bool = True,
) -> Observed:
    """Property: the op oracle ``oracle`` holds for ``target`` on every input of ``op``.

    The inputs: the op's covering set (``cover``; without the cases where central
    differences mean nothing for an oracle that uses them) and the profile's draws, with
    shapes from :data:`harness.strategies.COMPACT` when ``compact``; for an oracle that
    checks ``at_kinks``, only :func:`harness.covering.kink_cases`. ``seed``: see
    :func:`run_property`.
    """
    entry = registry.get(oracle, "op")
    fn = entry.check
    require(target, op, dtype, capability=entry.capability)

    def test(case: strat.OpCase) -> Agreement:
        try:
            return fn(
                target, op, list(case.inputs), seed=case.seed, reference=reference,
                params=case.params,
            )  # fmt: skip
        except AssertionError as e:
            if case.label:  # a covering case: say which region it probes
                e.add_note(f"covering case: {case.label} (harness.covering)")
            raise

    ref = reference.name if reference is not None and getattr(fn, "uses_reference", False) else None

    def context(case: strat.OpCase) -> tuple[Context, str | None]:
        params = tuple((catalog.get(op).defaults() | dict(case.params)).items())
        ctx = Context(target.name, op, oracle, dtype, tuple(case.inputs), case.seed, ref, params)
        return ctx, None

    at_kinks = getattr(fn, "at_kinks", False)
    if at_kinks:
        examples = covering.kink_cases(op, dtype)
    elif cover:
        examples = covering.cases(
            op, dtype, finite_differences=getattr(fn, "uses_differences", False)
        )
    else:
        examples = []
    return run_property(
        _guarded(test, context),
        strat.op_cases(op, dtype, compact),
        settings=settings,
        key=key or f"{op}/{dtype}",
        expect_failure=expect_failure,
        examples=examples,
        seed=seed,
        draw=not at_kinks,
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
    seed: int | None = None,
) -> Observed:
    """Property: the model property ``prop`` holds for every drawn batch (``seed``: see
    :func:`run_property`)."""
    fn = registry.get(prop, "model").check
    if dtype not in target.backend.capabilities.dtypes:
        raise Unsupported(f"{target.name} does not support {dtype}")

    def context(draw: Any) -> tuple[Context, str | None]:
        return (
            Context(target.name, case.id, prop, dtype),
            model_reproducer(target.name, prop, case, dtype, draw),
        )

    return run_property(
        _guarded(lambda d: fn(target, case, dtype, d), context),
        model_draws(compact=compact),
        settings=settings,
        key=key or f"{case.id}/{dtype}",
        expect_failure=expect_failure,
        seed=seed,
    )


def check_programs(
    target: Target,
    dtype: str,
    *,
    reference: Target | None = None,
    settings: Any = None,
    key: str = "",
    expect_failure: bool = False,
    seed: int | None = None,
) -> Observed:
    """Property: the program oracle holds for ``target`` on every drawn program in ``dtype``.

    A failure is shrunk to a minimal program (fewest ops and leaves) and reported with its
    listing and a reproducer (:mod:`harness.oracles.programs`); ``seed``: see
    :func:`run_property`.
    """
    fn = registry.get("program", "program").check
    if dtype not in target.backend.capabilities.dtypes:
        raise Unsupported(f"{target.name} does not support {dtype}")

    def test(case: prog.ProgramCase) -> Agreement:
        return fn(target, case.program, list(case.inputs), seed=case.seed, reference=reference)

    ref = reference.name if reference is not None else None

    def context(case: prog.ProgramCase) -> tuple[Context, str | None]:
        ctx = Context(target.name, "programs", "program", dtype, tuple(case.inputs), case.seed, ref)
        return ctx, program_reproducer(target.name, case.program, case.inputs, case.seed, ref)

    return run_property(
        _guarded(test, context),
        prog.program_cases(dtype),
        settings=settings,
        key=key or f"programs/{dtype}",
        expect_failure=expect_failure,
        seed=seed,
    )
