"""The name of a training workload as a check subject: the one rule for it.

A training case of the suites (:class:`harness.oracles.TrainingCase`) and a ``harness
compare`` / ``harness check`` workload are named the same way, so that one line of a
backend's ``known_divergences.txt`` (:mod:`harness.divergences`) covers the same workload
in all three: ``dataset-model-optimizer-mode``, then each option beyond the preset's as its
name and value, in :data:`OPTION_ORDER` (``breast_cancer-mlp:8-nesterov-minibatch-
weight_decay0.01-activation=tanh``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

OPTION_ORDER = (
    "lr", "momentum", "dampening", "nesterov", "weight_decay", "betas", "eps", "activation",
)  # fmt: skip
"""``workload.build`` keywords that name a case, in the order they appear in its name."""


def option_text(v: Any) -> str:
    """An option's value as it appears in a case name (``True`` as nothing)."""
    if isinstance(v, bool):
        return "" if v else "False"
    if isinstance(v, tuple):
        return ",".join(f"{x:g}" for x in v)
    if isinstance(v, str):
        return f"={v}"
    return f"{v:g}"


def ordered(options: Iterable[tuple[str, Any]]) -> tuple[tuple[str, Any], ...]:
    """``options`` in :data:`OPTION_ORDER` (unknown names last, as given)."""
    rank = {k: i for i, k in enumerate(OPTION_ORDER)}
    return tuple(sorted(options, key=lambda kv: rank.get(kv[0], len(rank))))


def case_id(
    dataset: str, model: str, optimizer: str, mode: str, options: Iterable[tuple[str, Any]] = ()
) -> str:
    """``dataset-model-optimizer-mode`` and each option (module docstring)."""
    opts = "".join(f"-{k}{option_text(v)}" for k, v in ordered(options))
    return f"{dataset}-{model}-{optimizer}-{mode}{opts}"


def config_options(config: Any) -> tuple[tuple[str, Any], ...]:
    """The options of a :class:`harness.plan.CompareConfig` that differ from its defaults."""
    from dataclasses import fields

    defaults = {f.name: f.default for f in fields(config)}
    return tuple(
        (k, getattr(config, k)) for k in OPTION_ORDER if getattr(config, k) != defaults.get(k)
    )
