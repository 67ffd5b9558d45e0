"""The one list of oracles: what each checks, what it needs and how reports abbreviate it.

The parity suites parametrize over it, :func:`harness.oracles.check_op` looks its oracles up
in it, and the parity report orders and abbreviates its coverage-matrix columns by it.
Adding an oracle is one :class:`Oracle` entry here (and a test that calls it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, cast

from harness import catalog, covering
from harness.oracles import broadcast, models, ops, optimizers, programs, training

KINDS = ("op", "model", "training", "optimizer", "program")
"""What an oracle checks: a catalog op, a model's loss, a whole training run, an
optimizer's update rule, or random programs of ops (the parity report's ``kind`` of a row)."""

PROGRAM_SUBJECTS = ("programs",)
"""The subject of the program oracle: every drawn program (:mod:`harness.programs`)."""


def _every(subject: Any) -> bool:
    return True


def _differentiable(op: catalog.OpSpec) -> bool:
    return bool(op.diff_argnums)


@dataclass(frozen=True)
class Oracle:
    """One oracle.

    ``name`` is used in reports and known-divergence files; ``kind`` is one of
    :data:`KINDS`; ``capability`` the :class:`~harness.contract.Capabilities` flag a target
    needs (None: every target); ``applies_to`` tells which subjects of its kind it checks
    (an :class:`~harness.catalog.OpSpec`, a :class:`~harness.oracles.ModelCase` or a
    :class:`~harness.oracles.TrainingCase`); ``abbrev`` is its column heading in the terminal
    coverage matrix (unique); ``check`` is the function.
    """

    name: str
    kind: str
    capability: str | None
    applies_to: Callable[[Any], bool]
    abbrev: str
    check: Callable[..., Any]
    circular_if_emulated: Mapping[str, str] = field(default_factory=dict)
    """Emulated capability -> why this oracle is then no independent check
    (:attr:`harness.contract.Capabilities.emulated`)."""

    def subjects(self) -> list[str]:
        """The names of the subjects (ops, model cases, training cases) it applies to."""
        if self.kind == "op":
            return [o.name for o in catalog.CATALOG.values() if self.applies_to(o)]
        if self.kind == "model":
            return [c.id for c in models.MODEL_CASES if self.applies_to(c)]
        if self.kind == "program":
            return [s for s in PROGRAM_SUBJECTS if self.applies_to(s)]
        if self.kind == "optimizer":
            return [c.id for c in optimizers.OPTIMIZER_CASES if self.applies_to(c)]
        return [c.id for c in training.TRAINING_CASES if self.applies_to(c)]


def _op(
    check: ops.OpOracle,
    abbrev: str,
    applies_to: Callable[[Any], bool],
    circular: Mapping[str, str] | None = None,
) -> Oracle:
    return Oracle(
        check.name, "op", check.capability, applies_to, abbrev, check,
        MappingProxyType(dict(circular or {})),
    )  # fmt: skip


JVP_CIRCULAR = {
    "jvp": "jvp is emulated through the VJP: <JVP(u), v> = <u, VJP(v)> then compares the VJP "
    "with itself"
}

_ALL: tuple[Oracle, ...] = (
    _op(ops.forward, "fw", _every),
    _op(ops.vjp_reference, "vjp", _differentiable),
    _op(ops.finite_differences, "fd", _differentiable),
    _op(ops.jvp_vjp, "jvp", _differentiable, JVP_CIRCULAR),
    _op(ops.second_order, "2nd", lambda o: bool(o.second_order and o.diff_argnums)),
    _op(
        broadcast.broadcast_reduction,
        "bc",
        lambda o: bool(o.shapes == "broadcast" and o.diff_argnums),
    ),
    _op(ops.kink_convention, "kink", covering.kink_points),
    Oracle("minibatch_mean", "model", None, _every, "mb", models.minibatch_mean),
    Oracle("accumulate", "model", None, _every, "accu", models.accumulate),
    Oracle("permutation", "model", None, _every, "perm", models.permutation),
    Oracle("trajectory", "training", "training", _every, "traj", training.trajectory),
    Oracle("accuracy", "training", "training", _every, "acc", training.accuracy),
    Oracle("update_rule", "optimizer", "optimizer_step", _every, "upd", optimizers.update_rule),
    Oracle("program", "program", None, _every, "prog", programs.program),
)

REGISTRY: Mapping[str, Oracle] = MappingProxyType({o.name: o for o in _ALL})
"""Every oracle by name, in report order (ops, model properties, training runs)."""


def get(name: str, kind: str | None = None) -> Oracle:
    """The oracle called ``name`` (of ``kind`` when given); KeyError names the valid ones."""
    oracle = REGISTRY.get(name)
    if oracle is None or (kind is not None and oracle.kind != kind):
        valid = ", ".join(names(kind))
        raise KeyError(f"unknown {kind + ' ' if kind else ''}oracle {name!r}; valid: {valid}")
    return oracle


def names(kind: str | None = None) -> list[str]:
    """The oracles' names (of ``kind`` when given), in report order."""
    return [o.name for o in _ALL if kind is None or o.kind == kind]


def circular(oracle: str, emulated: tuple[str, ...] | list[str]) -> str:
    """Why ``oracle`` is circular for a target that emulates ``emulated``, or ""."""
    why = REGISTRY[oracle].circular_if_emulated if oracle in REGISTRY else {}
    return "; ".join(why[c] for c in emulated if c in why)


def ops_for(oracle: str) -> list[str]:
    """The catalog ops an op oracle applies to."""
    return get(oracle, "op").subjects()


ORACLES: Mapping[str, ops.OpOracle] = MappingProxyType(
    # every op-kind Oracle is made by _op, from an OpOracle
    {o.name: cast(ops.OpOracle, o.check) for o in _ALL if o.kind == "op"}
)
"""The op oracles by name: a view of :data:`REGISTRY`."""

MODEL_PROPERTIES: Mapping[str, Callable[..., Any]] = MappingProxyType(
    {o.name: o.check for o in _ALL if o.kind == "model"}
)
"""The metamorphic properties of a model's loss by name: a view of :data:`REGISTRY`."""

ABBREV: Mapping[str, str] = MappingProxyType({o.name: o.abbrev for o in _ALL})
"""Column headings of the terminal coverage matrix, by oracle name."""
