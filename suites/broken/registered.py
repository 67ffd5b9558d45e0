"""Deliberately broken backends registered as real ``harness.backends`` entry points.

``harness check --target NAME`` runs the suites in a pytest subprocess of its own, which
discovers backends through installed metadata: a pytest plugin that patches discovery in
the test process cannot reach it. :func:`install` writes, into a folder, a distribution's
metadata (``harness_broken_targets-0.dist-info`` with an ``entry_points.txt``) and an empty
plugin package from ``harness new-backend``'s templates; with that folder on
``PYTHONPATH`` every process (``harness``, ``pytest``) finds them by
``importlib.metadata`` as it finds an installed plugin, and nothing is installed into the
environment.

The backends (each wraps the default reference backend, loaded in :meth:`load`, and has
reference priority 0 so it is never picked as the reference):

* ``broken_empty`` -- the scaffold, implementing nothing: NOTHING CHECKED;
* ``broken_vjp_crash`` -- a few ops; ``mul``'s VJP reshapes the gradient to the input's shape
  without summing the broadcast dimensions, so it raises on a broadcast input;
* ``broken_sum_loss`` -- the training ops; the loss's gradient is the sum over the batch
  where the mean is logged (``cross_entropy`` / BCE with ``reduction="sum"``);
* ``broken_adam_bias`` -- the training ops; Adam without bias correction;
* ``broken_drop_last`` -- the training ops; the loader drops each epoch's last partial batch;
* ``declared_sum_loss`` / ``declared_stale`` -- ``broken_sum_loss`` and a correct trainer,
  each declaring a trajectory divergence on one case (:data:`DECLARING`);
* ``emulated_jvp`` -- a few ops whose JVP is declared emulated (:data:`DECLARING`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from harness import discovery, scaffold
from harness.contract import Backend, Capabilities, OpFn

from .targets import LoopTrainer, Wrapped

EMPTY = "broken_empty"
MODULE = __name__
TRAINING_OPS = ("linear", "relu", "tanh", "bce_with_logits", "cross_entropy")
"""The ops the training cases' models and losses are written with."""
CRASH_OPS = ("add", "mul", "exp", "tanh")


def _reference_backend() -> Backend:
    """A loaded instance of the backend with the highest reference priority (not ours)."""
    best: tuple[int, Any] | None = None
    for ep in discovery.backend_entry_points():
        if ep.name in ENTRY_POINTS or ep.name in DECLARING or ep.name == EMPTY:
            continue
        try:
            priority = ep.load().capabilities.reference_priority
        except Exception:
            continue
        if priority > 0 and (best is None or priority > best[0]):
            best = (priority, ep)
    if best is None:
        raise RuntimeError("no backend volunteers as the reference to wrap")
    backend = discovery.instantiate(best[1])
    backend.load()
    return backend


def _own(caps: Capabilities) -> Capabilities:
    return replace(caps, reference_priority=0)


class _Subset:
    """Mixin: only ``exposed`` ops of the wrapped backend."""

    exposed: tuple[str, ...] = ()
    inner: Backend

    def ops(self) -> Mapping[str, OpFn]:
        every = self.inner.ops()
        return {k: every[k] for k in self.exposed if k in every}

    def unsupported_reasons(self) -> Mapping[str, str]:
        return {"*": f"only {', '.join(self.exposed)}"}


class _OpsOnly(_Subset, Wrapped):
    """:data:`CRASH_OPS` of the reference, without training; :meth:`own` adjusts the rest."""

    capabilities = Capabilities(training=False)
    exposed = CRASH_OPS

    def __init__(self) -> None:
        pass

    def own(self, caps: Capabilities) -> Capabilities:
        return caps

    def load(self) -> None:
        Wrapped.__init__(self, _reference_backend(), self.name)
        caps = self.own(replace(self.inner.capabilities, training=False))
        self.capabilities = _own(caps)  # type: ignore[misc]


class VjpCrash(_OpsOnly):
    """``mul``'s VJP reshapes instead of summing over broadcast dimensions: it raises."""

    name = "broken_vjp_crash"

    def vjp(self, fn, primals, cotangent, *, device, argnums=None):
        if fn is not self.inner.ops()["mul"]:
            return self.inner.vjp(fn, primals, cotangent, device=device, argnums=argnums)
        shape = np.broadcast_shapes(*(np.shape(p) for p in primals))
        full = [np.broadcast_to(p, shape).copy() for p in primals]
        value, grads = self.inner.vjp(fn, full, cotangent, device=device, argnums=argnums)
        idx = range(len(primals)) if argnums is None else argnums
        # The bug: a reshape where the broadcast dimensions must be summed.
        return value, [np.reshape(g, np.shape(primals[i])) for i, g in zip(idx, grads, strict=True)]


class _BrokenTrainer(_Subset, LoopTrainer):
    """A contract-level trainer with one bug, exposing only the training ops."""

    bug: str | None = None
    exposed = TRAINING_OPS

    def __init__(self) -> None:
        pass

    def load(self) -> None:
        bug = type(self).bug
        LoopTrainer.__init__(self, _reference_backend(), bug)
        self.name = type(self).name  # type: ignore[misc]
        self.capabilities = _own(self.inner.capabilities)  # type: ignore[misc]


class SumLoss(_BrokenTrainer):
    """The gradient of the summed loss (cross-entropy / BCE) where the mean is logged."""

    name = "broken_sum_loss"
    bug = "sum_loss"


class AdamNoBiasCorrection(_BrokenTrainer):
    """Adam without bias correction."""

    name = "broken_adam_bias"
    bug = "adam_no_bias_correction"


class DropLast(_BrokenTrainer):
    """The loader drops each epoch's last partial batch."""

    name = "broken_drop_last"
    bug = "drop_last"


DECLARED_CASE = "breast_cancer-logreg-sgd-minibatch"
"""The training case (suites) and workload (``harness compare --mode minibatch``, default
model and optimizer) the declaring backends name in their known divergences."""


class DeclaredSumLoss(SumLoss):
    """``broken_sum_loss`` that declares its trajectory divergence on :data:`DECLARED_CASE`."""

    name = "declared_sum_loss"

    def known_divergences(self) -> str:
        return (
            f"{self.name}:*  {DECLARED_CASE}  trajectory  *  "
            "# planted: the gradient of the summed loss where the mean is logged\n"
        )


class DeclaredStale(_BrokenTrainer):
    """A correct trainer that declares a trajectory divergence it does not have (stale)."""

    name = "declared_stale"
    bug = None

    def known_divergences(self) -> str:
        return f"{self.name}:*  {DECLARED_CASE}  trajectory  *  # planted: long since fixed\n"


ENTRY_POINTS = {
    cls.name: f"harness.suites.broken.registered:{cls.__name__}"
    for cls in (VjpCrash, SumLoss, AdamNoBiasCorrection, DropLast)
}
"""Backend name -> entry-point value, besides the empty scaffold (:data:`EMPTY`)."""


class EmulatedJvp(_OpsOnly):
    """A few ops, their JVP declared emulated (``Capabilities.emulated = ("jvp",)``)."""

    name = "emulated_jvp"

    def own(self, caps: Capabilities) -> Capabilities:
        return replace(caps, jvp=True, emulated=("jvp",))


DECLARING = {
    cls.name: f"harness.suites.broken.registered:{cls.__name__}"
    for cls in (DeclaredSumLoss, DeclaredStale, EmulatedJvp)
}
"""Backends whose known divergences declare one training case (installed too, not in
:data:`NAMES`: ``test_declared_divergences`` checks them)."""

NAMES = (EMPTY, *ENTRY_POINTS)
"""Every registered broken backend."""


def install(folder: Path) -> Path:
    """Write the metadata and the empty scaffold into ``folder``; put it on ``PYTHONPATH``."""
    names = scaffold.Names.of(EMPTY)
    for rel, text in scaffold.render(names).items():
        if rel.startswith("src/"):
            path = folder / rel.removeprefix("src/")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    _dist_info(folder, names.dist, {EMPTY: f"{names.package}.backend:{names.cls}"})
    _dist_info(folder, "harness-broken-targets", {**ENTRY_POINTS, **DECLARING})
    return folder


def _dist_info(folder: Path, dist: str, points: Mapping[str, str]) -> None:
    """The metadata pip would install for ``dist`` registering ``points``."""
    info = folder / f"{dist.replace('-', '_')}-0.1.0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1.0\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(
        "[harness.backends]\n" + "".join(f"{k} = {v}\n" for k, v in points.items()),
        encoding="utf-8",
    )
