"""The update-rule oracle: a backend's own optimizer, step by step, against the reference's.

Every field of :class:`harness.workload.OptimizerSpec` changes PyTorch's update rule
somewhere (``momentum``, ``dampening``, ``nesterov``, ``weight_decay`` for SGD; ``betas``,
``eps``, ``weight_decay`` for Adam, and AdamW's decoupled ``weight_decay``), yet a training
run with a default setting never reaches that code. :data:`OPTIMIZER_CASES` is the grid of
every field at its default and at a non-default value, in every combination PyTorch accepts
(:data:`INVALID_CASES` lists the ones it refuses, with its reason). :func:`update_rule`
drives :meth:`harness.contract.Backend.optimizer_step` from the same seeded parameters and
gradients on the target and on the reference target (float64), for :data:`STEPS` steps (the
first step initialises the momentum buffer and Adam's moments, later ones use them), and
compares every parameter after every step.

A failure names the case's fields that are not at their defaults (so the field a bug
ignores is in the title), the parameter and its shape, the step, and the numbers, and ends
with a copy-paste reproducer.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from harness import tolerances
from harness.contract import Unsupported
from harness.oracles.agreement import (
    Agreement,
    NotApplicable,
    OracleFailure,
    compare_arrays,
    disagreement_lines,
)
from harness.workload import ADAMW_WEIGHT_DECAY, OptimizerSpec, WorkloadError, make_optimizer

if TYPE_CHECKING:
    from harness.discovery import Target

STEPS = 3
"""Steps per check: the first initialises the optimizer's state, the next two read it."""

PARAM_SHAPES: tuple[tuple[int, ...], ...] = ((3, 4), (4,), ())
"""The parameters stepped together: a matrix, a vector and a 0-d scalar."""

LR = 0.1
"""One learning rate for every case: large enough that a wrong update moves a parameter by
far more than float32 rounding (updates are about ``LR`` for Adam, ``LR * |g|`` for SGD)."""

# The grid: each field at PyTorch's default and at one non-default value. eps 1e-3 (not
# 1e-8) so that where eps enters the formula shows at float32 resolution; betas (0.8, 0.99)
# so that each beta differs from the other and from its default.
_SGD_GRID: dict[str, tuple[Any, ...]] = {
    "momentum": (0.0, 0.9),
    "dampening": (0.0, 0.5),
    "nesterov": (False, True),
    "weight_decay": (0.0, 0.1),
}
_ADAM_GRID: dict[str, tuple[Any, ...]] = {
    "betas": ((0.9, 0.999), (0.8, 0.99)),
    "eps": (1e-8, 1e-3),
    "weight_decay": (0.0, 0.1),
}
_ADAMW_GRID: dict[str, tuple[Any, ...]] = {**_ADAM_GRID, "weight_decay": (ADAMW_WEIGHT_DECAY, 0.1)}
_DEFAULTS = {
    "sgd": OptimizerSpec("sgd", LR),
    "adam": OptimizerSpec("adam", LR),
    "adamw": OptimizerSpec("adamw", LR, weight_decay=ADAMW_WEIGHT_DECAY),
}


@dataclass(frozen=True)
class OptimizerCase:
    """One optimizer configuration of the update-rule oracle."""

    spec: OptimizerSpec

    def fields(self) -> dict[str, Any]:
        """The fields that differ from PyTorch's defaults for this kind (``lr`` aside)."""
        base = asdict(_DEFAULTS[self.spec.kind])
        return {
            k: v for k, v in asdict(self.spec).items() if k not in ("kind", "lr") and v != base[k]
        }

    @property
    def id(self) -> str:
        """``kind`` and its non-default fields, e.g. ``sgd-momentum0.9-dampening0.5``."""
        parts = [self.spec.kind]
        for k, v in self.fields().items():
            if isinstance(v, bool):
                parts.append(k)
            elif isinstance(v, tuple):
                parts.append(k + ",".join(f"{x:g}" for x in v))
            else:
                parts.append(f"{k}{v:g}")
        return "-".join(parts)

    def describe(self) -> str:
        """Every field of this kind with its value, the non-default ones marked ``*``."""
        names: tuple[str, ...] = ("momentum", "dampening", "nesterov", "weight_decay")
        if self.spec.kind in ("adam", "adamw"):
            names = ("betas", "eps", "weight_decay")
        set_ = self.fields()
        parts = [f"{k}={getattr(self.spec, k)}{'*' if k in set_ else ''}" for k in names]
        return f"{self.spec.kind} lr={self.spec.lr:g} " + " ".join(parts) + " (* not default)"


def _grid() -> tuple[list[OptimizerCase], list[tuple[str, str]]]:
    valid: list[OptimizerCase] = []
    invalid: list[tuple[str, str]] = []
    for kind, grid in (("sgd", _SGD_GRID), ("adam", _ADAM_GRID), ("adamw", _ADAMW_GRID)):
        for values in itertools.product(*grid.values()):
            options: dict[str, Any] = dict(zip(grid, values, strict=True))
            name = "momentum" if kind == "sgd" and options["momentum"] else kind
            label = "-".join([kind, *(f"{k}={v}" for k, v in options.items())])
            try:
                spec = make_optimizer(name, LR, **options)
            except WorkloadError as e:  # PyTorch refuses it too (nesterov's rule)
                invalid.append((label, str(e)))
                continue
            valid.append(OptimizerCase(spec))
    return valid, invalid


_VALID, _INVALID = _grid()
OPTIMIZER_CASES: tuple[OptimizerCase, ...] = tuple(_VALID)
"""Every combination of the grid PyTorch accepts (10 SGD, 8 Adam, 8 AdamW)."""
INVALID_CASES: tuple[tuple[str, str], ...] = tuple(_INVALID)
"""``(label, reason)`` of the combinations PyTorch refuses (nesterov without momentum, or
with dampening): the suite lists them as skipped with the reason."""


def draws(dtype: str, seed: int = 0) -> tuple[list[np.ndarray], list[list[np.ndarray]]]:
    """The initial parameters and the gradients of every step, seeded, in ``dtype``.

    Standard normal, drawn in float64 and cast, so a float32 run and its float64 reference
    start from the same (float32-representable) numbers.
    """
    rng = np.random.default_rng([seed, 14])
    params = [rng.standard_normal(s).astype(dtype) for s in PARAM_SHAPES]
    grads = [[rng.standard_normal(s).astype(dtype) for s in PARAM_SHAPES] for _ in range(STEPS)]
    return params, grads


def run_steps(
    target: Target,
    spec: OptimizerSpec,
    params: Sequence[np.ndarray],
    grads: Sequence[Sequence[np.ndarray]],
) -> list[list[np.ndarray]]:
    """The parameters after each step of ``target``'s optimizer (one list per step)."""
    backend = target.backend
    if not backend.capabilities.optimizer_step:
        raise Unsupported(f"{target.name} does not declare capability 'optimizer_step'")
    state: Any = None
    current = [np.asarray(p) for p in params]
    out = []
    for g in grads:
        new, state = backend.optimizer_step(
            spec, current, [np.asarray(x) for x in g], state, device=target.device
        )
        current = [np.asarray(p) for p in new]
        out.append(current)
    return out


def reproducer(target: str, case: OptimizerCase, dtype: str, seed: int, reference: str) -> str:
    """A short Python snippet that re-runs this one check."""
    return "\n".join(
        [
            "from harness import discovery, oracles",
            "from harness.workload import OptimizerSpec",
            "",
            f"case = oracles.OptimizerCase({case.spec!r})",
            f'oracles.update_rule(discovery.get_target("{target}"), case, "{dtype}", seed={seed},',
            f'    reference=discovery.get_target("{reference}"))',
        ]
    )


def _fail(title: str, what: str, ag: Agreement, rtol: float, atol: float, tail: list[str]) -> None:
    lines = disagreement_lines(title, what, ag, rtol, atol)
    raise OracleFailure("\n".join(lines + tail), ag)


def update_rule(
    target: Target,
    case: OptimizerCase,
    dtype: str,
    *,
    reference: Target | None,
    seed: int = 0,
) -> Agreement:
    """Every parameter after each of :data:`STEPS` steps against the reference's float64 run.

    Both start from :func:`draws` (``seed``) and receive the same gradients; each carries
    its own optimizer state. The tolerance is the dtype's (:func:`harness.tolerances.for_dtype`):
    the reference computes in float64 on the same numbers, so a float32 target is held to
    the exact-to-rounding answer. Raises OracleFailure naming the case's fields, the
    parameter and the step.
    """
    if reference is None:
        raise NotApplicable("no reference target (no backend declares reference_priority)")
    if dtype not in target.backend.capabilities.dtypes:
        raise Unsupported(f"{target.name} does not support {dtype}")
    ref_dtype = "float64" if "float64" in reference.backend.capabilities.dtypes else dtype
    if reference.name == target.name and ref_dtype == dtype:
        raise NotApplicable(f"{target.name} is the reference: {dtype} compared with itself")
    if not reference.backend.capabilities.optimizer_step:
        raise Unsupported(f"the reference {reference.name} does not declare 'optimizer_step'")
    params, grads = draws(dtype, seed)
    got = run_steps(target, case.spec, params, grads)
    ref = run_steps(
        reference,
        case.spec,
        [p.astype(ref_dtype) for p in params],
        [[g.astype(ref_dtype) for g in step] for step in grads],
    )
    rtol, atol = tolerances.for_dtype(dtype)
    title = f"{target.name}  {case.id}  update_rule  {dtype}"
    tail = [
        f"  optimizer: {case.describe()}",
        f"  parameters {[list(s) for s in PARAM_SHAPES]}, {STEPS} steps, seed {seed} "
        f"(harness.oracles.optimizers.draws)",
        "reproducer:",
        reproducer(target.name, case, dtype, seed, reference.name),
    ]
    results = []
    for step, (mine, theirs) in enumerate(zip(got, ref, strict=True), start=1):
        if len(mine) != len(theirs):
            ag = Agreement(False, np.inf, np.inf, np.inf)
            _fail(title, f"{len(mine)} parameters after step {step}, expected {len(theirs)}",
                  ag, rtol, atol, tail)  # fmt: skip
        for k, (a, e) in enumerate(zip(mine, theirs, strict=True)):
            what = f"parameter {k} {list(PARAM_SHAPES[k])} after step {step} of {STEPS}"
            if a.shape != e.shape or a.dtype != np.dtype(dtype):
                ag = Agreement(False, np.inf, np.inf, np.inf)
                _fail(title, f"{what} is {a.dtype}{list(a.shape)}, expected {dtype}"
                      f"{list(e.shape)}", ag, rtol, atol, tail)  # fmt: skip
            ag = compare_arrays(a, e, rtol=rtol, atol=atol)
            if not ag.passed:
                _fail(title, f"{what} disagrees with {reference.name} ({ref_dtype})",
                      ag, rtol, atol, tail)  # fmt: skip
            results.append(ag)
    return Agreement.worst(results)
