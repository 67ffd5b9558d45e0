"""Planning a training comparison: validate every value and choose the targets first.

:func:`plan` checks the workload values, the targets and the reference before anything
trains, so a bad option is a usage error (exit 2) that names the valid choices and leaves
nothing behind; :func:`harness.runner.execute` then trains the :class:`Plan`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from harness import discovery, divergences
from harness import workload as workload_mod
from harness.workload import Workload

MODE_CHOICES = ("batch", "minibatch", "both")
"""``--mode`` values; ``both`` runs full batch and mini-batch."""

MODE_LABELS = {"batch": "full batch", "minibatch": "mini-batch"}


def mode_label(mode: str) -> str:
    """``full batch`` / ``mini-batch``."""
    return MODE_LABELS.get(mode, mode)


class PlanError(ValueError):
    """A comparison that cannot be run as asked (the message names the valid choices)."""


@dataclass(frozen=True)
class CompareConfig:
    """The plain values a comparison is built from (the CLI options)."""

    dataset: str = "breast_cancer"
    model: str = "logreg"
    activation: str = "relu"
    """The hidden layers' activation (``relu`` or ``tanh``; a logistic regression has none)."""
    optimizer: str = "sgd"
    lr: float | None = None
    """``None``: the optimizer's default (:data:`harness.workload.DEFAULT_LR`)."""
    momentum: float | None = None
    """``None``: the optimizer's (0 for sgd, 0.9 for momentum and nesterov)."""
    dampening: float = 0.0
    nesterov: bool | None = None
    """``None``: true for the ``nesterov`` optimizer only."""
    weight_decay: float = 0.0
    betas: tuple[float, float] | None = None
    """``None``: Adam's (0.9, 0.999)."""
    eps: float | None = None
    """``None``: Adam's 1e-8."""
    epochs: int = 100
    batch_size: int = 32
    dtype: str = "float32"
    seed: int = 0
    modes: tuple[str, ...] = ("batch", "minibatch")
    targets: str | None = None
    """Target selection (``--targets``); ``None``: ``$HARNESS_TARGETS`` or every target."""
    reference: str | None = None
    """Reference target; ``None``: :func:`harness.discovery.default_reference`."""


def parse_modes(text: str) -> tuple[str, ...]:
    """``batch``, ``minibatch`` or ``both`` to the tuple of workload modes."""
    if text == "both":
        return ("batch", "minibatch")
    if text in workload_mod.MODES:
        return (text,)
    raise PlanError(f"unknown mode {text!r}; valid choices: {', '.join(MODE_CHOICES)}")


@dataclass
class Plan:
    """A validated comparison, ready to train."""

    config: CompareConfig
    workloads: dict[str, Workload]
    """One workload per mode, built once and handed to every target."""
    reference: discovery.Target
    targets: list[discovery.Target]
    """Every target to train, the reference first."""
    skipped: list[dict[str, str]] = field(default_factory=list)
    """Targets left out, each ``{"target", "reason"}``."""
    divergences: divergences.Registry = field(default_factory=divergences.Registry)
    """The known divergences of every chosen target's backend (:mod:`harness.divergences`)."""


def build_workloads(config: CompareConfig) -> dict[str, Workload]:
    """Build (and so validate) the workload of every mode of ``config``."""
    if not config.modes:
        raise PlanError(f"no mode given; valid choices: {', '.join(MODE_CHOICES)}")
    out: dict[str, Workload] = {}
    for mode in config.modes:
        if mode not in workload_mod.MODES:
            raise PlanError(f"unknown mode {mode!r}; valid choices: {', '.join(MODE_CHOICES)}")
        out[mode] = workload_mod.build(
            config.dataset,
            config.model,
            config.optimizer,
            mode=mode,
            activation=config.activation,
            lr=config.lr,
            momentum=config.momentum,
            dampening=config.dampening,
            nesterov=config.nesterov,
            weight_decay=config.weight_decay,
            betas=config.betas,
            eps=config.eps,
            epochs=config.epochs,
            batch_size=config.batch_size,
            dtype=config.dtype,
            seed=config.seed,
        )
    n_train = next(iter(out.values())).spec["n_train"]
    # build() checks the batch size only for mini-batch workloads; an explicit batch size
    # that cannot be right is an error in every mode.
    if not 1 <= config.batch_size <= n_train:
        raise PlanError(
            f"batch size must be between 1 and the training set size ({n_train}) of "
            f"{config.dataset}, got {config.batch_size}"
        )
    return out


def cannot_train(t: discovery.Target, dtype: str) -> str:
    """Why ``t`` cannot run a ``dtype`` training comparison, or ""."""
    caps = t.backend.capabilities
    if not t.available:
        return t.reason or "not available"
    if not caps.training:
        return "does not implement training (capabilities.training is False)"
    if dtype not in caps.dtypes:
        return f"does not support {dtype} (dtypes: {', '.join(caps.dtypes) or 'none'})"
    return ""


def _able(dtype: str) -> list[str]:
    return [t.name for t in discovery.all_targets() if not cannot_train(t, dtype)]


def resolve_reference(name: str | None, dtype: str) -> discovery.Target:
    """The reference (:func:`harness.discovery.resolve_reference`), able to train ``dtype``."""
    ref = discovery.resolve_reference(name)
    why = cannot_train(ref, dtype)
    if why:
        raise PlanError(
            f"--reference: {ref.name} {why}; valid references: "
            f"{', '.join(_able(dtype)) or '(none)'}"
        )
    return ref


def select_targets(
    spec: str | None, option: str = "--targets"
) -> tuple[list[discovery.Target], list[dict[str, str]], bool]:
    """The targets to train (:func:`harness.discovery.select`, which must be able to run).

    Returns the available targets, the unavailable ones as ``{"target", "reason"}`` rows,
    and whether the selection was explicit (``spec`` or ``$HARNESS_TARGETS`` named some).
    """
    sel = discovery.select(spec, option=option, require_available=True)
    gone = [{"target": t.name, "reason": t.reason or "not available"} for t in sel.unavailable]
    explicit = bool(
        (spec if spec is not None else os.environ.get(discovery.ENV_TARGETS, "")).strip(" ,")
    )
    return sel.targets, gone, explicit


def plan(config: CompareConfig) -> Plan:
    """Validate ``config`` and choose the targets; raises ValueError (exit 2) on bad input.

    Targets named explicitly (``--targets`` or ``$HARNESS_TARGETS``) must be able to run:
    an unavailable ``backend:device``, or a target that cannot train in the dtype, is an
    error. Otherwise every target that can run is used and the others are listed as skipped.
    """
    workloads = build_workloads(config)
    available, skipped, explicit = select_targets(config.targets)
    reference = resolve_reference(config.reference, config.dtype)
    chosen = [reference]
    for t in available:
        if t.name == reference.name:
            continue
        why = cannot_train(t, config.dtype)
        if why and explicit:
            raise PlanError(
                f"target {t.name} {why}; targets that can train {config.dtype}: "
                f"{', '.join(_able(config.dtype)) or '(none)'}"
            )
        if why:
            skipped.append({"target": t.name, "reason": why})
        else:
            chosen.append(t)
    try:
        known = divergences.load(chosen)
    except divergences.DivergenceFileError as e:
        raise PlanError(str(e)) from None
    return Plan(config, workloads, reference, chosen, skipped, known)
