"""The specification of a catalog op: its arguments, parameters, shape rule and tolerances.

See :mod:`harness.catalog` for the shape rules and argument kinds."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class ArgSpec:
    """One positional argument of an op."""

    kind: str = "float"
    domain: tuple[float, float] = (-2.0, 2.0)
    differentiable: bool = True
    kinks: tuple[float, ...] = ()
    """Non-differentiable points: drawn values stay at least ``OpSpec.margin`` away."""
    extremes: tuple[str, ...] = ()
    """Magnitude regions near the dtype's limits that the covering set
    (:mod:`harness.covering`) also tries, outside ``domain`` on purpose: names of
    :data:`harness.covering.EXTREMES` (``exp_range``, ``large``, ``tiny_huge``, ``near01``)."""


@dataclass(frozen=True)
class Tolerance:
    """A per-dtype override of :data:`harness.tolerances.DEFAULT` with its reason."""

    rtol: float
    atol: float
    reason: str


@dataclass(frozen=True)
class OpSpec:
    """One op of the catalog (see the module docstring for the shape rules)."""

    name: str
    args: tuple[ArgSpec, ...]
    shapes: str
    reference: Callable[..., np.ndarray]
    doc: str
    margin: float = 1e-2
    separate: bool = False
    """Differentiable float args must differ elementwise by ``margin`` (no max/min ties)."""
    distinct_last: bool = False
    """Values along the last axis differ by ``margin`` (max/min reductions: no ties)."""
    distinct_all: bool = False
    """All values differ by ``margin`` (global max)."""
    tolerances: Mapping[str, Tolerance] = field(default_factory=dict)
    second_order: bool = True
    """Worth a second-order check (False for ops whose Hessian is zero or ill-defined)."""
    params: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    """Non-tensor parameters, passed to the op as keyword arguments: name -> the values the
    strategies draw from (shrinking towards the first, the default). The covering set runs
    with the defaults and once more for each other value (``param:NAME=VALUE``)."""
    spread_input: bool = False
    """The first argument's values all differ by ``margin``: a normalization's variance is
    bounded away from 0 (not a kink: no kink-convention check follows from it)."""
    nonfinite_outputs: bool = False
    """The reference is -inf or NaN on purpose in some outputs (masked positions, a fully
    masked softmax row): those outputs carry no derivative; the derivative oracles give them
    a zero cotangent and leave them out of their inner products."""

    def defaults(self) -> dict[str, Any]:
        """Every parameter at its default (first) value."""
        return {k: v[0] for k, v in self.params.items()}

    @property
    def arity(self) -> int:
        """Number of positional arguments."""
        return len(self.args)

    @property
    def diff_argnums(self) -> tuple[int, ...]:
        """Indices of the differentiable arguments."""
        return tuple(i for i, a in enumerate(self.args) if a.kind == "float" and a.differentiable)


F = ArgSpec()
POS = ArgSpec(domain=(0.1, 3.0))
# Where a missing max-shift overflows, or a cast to a narrower type inside the op shows.
LARGE = ArgSpec(extremes=("large",))
TARGET01 = ArgSpec(domain=(0.0, 1.0), differentiable=False)
INDEX = ArgSpec(kind="index", differentiable=False)
MASK = ArgSpec(kind="mask", differentiable=False)
