"""What every asv benchmark here shares: the targets, the workloads, the training clock.

Targets (scipy's ``XPBenchmark`` idea, over harness targets)
------------------------------------------------------------
Every benchmark is parametrized by *target name*: the floor (:mod:`benchmarks.floor`) and
every target :func:`harness.discovery.all_targets` finds (``torch:cpu``, ``torch:cuda``,
``numpy:cpu``, ``jax:cpu``, ``jax:gpu``, plugins), available or not, so the parameter list
is the same on a laptop and on a GPU box. ``setup`` raises ``NotImplementedError`` for a
target that cannot run here (no GPU, a backend that failed to import, a dtype or op it does
not declare), which is asv's skip: the row shows "n/a", never a failure.

Why discovery runs in a subprocess
----------------------------------
asv runs each parameter combination in a fresh process. ``asv.conf.json`` sets
``launch_method: forkserver``: asv imports this package once and forks a child per
combination, so a child costs milliseconds instead of a whole interpreter start with the
frameworks' imports (seconds each, hundreds of combinations). Forking is only safe while
the parent has started no framework threads, and discovery asks each backend for its
devices, which starts them (JAX's CPU client starts a dozen threads; a child forked after
that deadlocks on its first computation). So the parent learns the target list from a
short-lived subprocess, then imports (``Backend.load``) only the backends whose ``load``
left that subprocess with no new threads. Children load and initialise the one backend
their combination needs.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from benchmarks import floor
from harness import data as data_mod
from harness import discovery, parallel
from harness import workload as workload_mod
from harness.contract import Backend, History

FLOOR = floor.NAME

# The probe prints one JSON line: every target, and the backends whose load() is fork-safe.
_PROBE = r"""
import json, os, sys, warnings

def threads():
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return -1

warnings.simplefilter("ignore")
from harness import discovery

safe = []
for ep in discovery.backend_entry_points():
    before = threads()
    try:
        discovery.instantiate(ep).load()
    except Exception:
        continue
    if before >= 0 and threads() == before:
        safe.append(ep.name)

rows = []
listed = [t for t in discovery.all_targets() if not t.world_size]
dp = [discovery.data_parallel_target(t, n) for t in listed for n in WORLD_SIZES]
for t in listed + [t for t in dp if t is not None]:
    caps = t.backend.capabilities
    rows.append(dict(name=t.name, backend=t.backend_name, device=t.device,
                     available=t.available, reason=t.reason, dtypes=list(caps.dtypes),
                     training=caps.training, compiled=caps.compiled,
                     world_size=t.world_size))
ref = discovery.default_reference()
print(json.dumps(dict(targets=rows, preload=safe, reference=ref.name if ref else None)))
"""


@dataclass(frozen=True)
class TargetInfo:
    """What the probe learnt about one target (no framework needed to read it)."""

    name: str
    backend: str
    device: str
    available: bool
    reason: str
    dtypes: tuple[str, ...]
    training: bool
    compiled: bool
    world_size: int = 0
    """Ranks of a data-parallel target (0: one process)."""


WORLD_SIZES = (1, 2, 4)
"""World sizes of the data-parallel benchmarks (a size the machine cannot run is skipped)."""


def _probe() -> tuple[list[TargetInfo], list[str], str | None]:
    proc = subprocess.run(
        [sys.executable, "-c", f"WORLD_SIZES = {WORLD_SIZES!r}\n" + _PROBE],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise RuntimeError(
            f"target discovery failed (exit {proc.returncode}):\n{proc.stderr.strip()[-2000:]}"
        )
    out = json.loads(lines[-1])
    infos = [
        TargetInfo(
            r["name"],
            r["backend"],
            r["device"],
            bool(r["available"]),
            r["reason"],
            tuple(r["dtypes"]),
            bool(r["training"]),
            bool(r["compiled"]),
            int(r["world_size"]),
        )
        for r in out["targets"]
    ]
    return infos, list(out["preload"]), out["reference"]


_INFOS, _PRELOAD, REFERENCE = _probe()
if any(t.name == FLOOR for t in _INFOS):
    raise RuntimeError(f"a discovered target is named {FLOOR!r}, the floor's row name; rename it")
INFO: dict[str, TargetInfo] = {t.name: t for t in _INFOS}
TARGETS: list[str] = [t.name for t in _INFOS if not t.world_size]
"""Every discovered single-process target, available or not, in discovery order."""
DP_TARGETS: list[str] = [t.name for t in _INFOS if t.world_size]
"""Every data-parallel target at :data:`WORLD_SIZES` (``benchmarks/data_parallel.py``)."""
TRAINING_TARGETS: list[str] = [FLOOR, *TARGETS]
"""The floor first, then every discovered target: the rows of the training tables."""


def _entry_point_backend(name: str) -> Backend:
    for ep in discovery.backend_entry_points():
        if ep.name == name:
            return discovery.instantiate(ep)
    raise NotImplementedError(f"no backend {name!r} registered in {discovery.GROUP}")


_LOADED: dict[str, Backend] = {}
"""Backends imported in this (parent) process, by backend name; children inherit them."""


def _preload() -> None:
    """Import the fork-safe backends' frameworks and the learning-path datasets here, once."""
    for name in _PRELOAD:
        try:
            backend = _entry_point_backend(name)
            backend.load()
            _LOADED[name] = backend
        except Exception as e:  # a child will report it properly when it needs the backend
            warnings.warn(f"preloading backend {name!r} failed: {e}", stacklevel=1)
    for ds in ("breast_cancer", "digits"):
        for seed in SEEDS:
            data_mod.load(ds, seed=seed)


@cache
def backend_for(name: str) -> tuple[Backend, str]:
    """The loaded backend of target ``name`` and its device; ``NotImplementedError`` (asv's
    skip) with the reason when the target is not available here.
    """
    info = INFO.get(name)
    if info is None:
        raise NotImplementedError(f"{name} is not a discovered target")
    if not info.available:
        raise NotImplementedError(f"{name} is not available here: {info.reason}")
    backend = _LOADED.get(info.backend)
    if backend is None:
        backend = _entry_point_backend(info.backend)
        backend.load()
    parsed = parallel.parse_device(info.device)
    if parsed is not None:  # backend:device@<scheme><N>: the adapter discovery builds
        adapter = parallel.DataParallel(backend, parsed[0], parsed[2])
        return adapter, info.device
    return backend, info.device


# -- runners: what a training benchmark calls ----------------------------------------------
@dataclass(frozen=True)
class Runner:
    """One training target: the floor or a backend on a device."""

    name: str
    train: Callable[[workload_mod.Workload], History]
    compiled: bool


def runner(name: str, dtype: str | None = None) -> Runner:
    """The runner of target ``name``; skips (``NotImplementedError``) a target that cannot
    train here, or cannot train in ``dtype``.
    """
    if name == FLOOR:
        return Runner(FLOOR, floor.train, False)
    info = INFO.get(name)
    if info is not None and info.available:
        if not info.training:
            raise NotImplementedError(f"{name} does not train (Capabilities.training is False)")
        if dtype is not None and dtype not in info.dtypes:
            raise NotImplementedError(f"{name} does not support {dtype}")
    backend, device = backend_for(name)

    def train(w: workload_mod.Workload) -> History:
        return backend.train(w, device=device)

    return Runner(name, train, info.compiled if info else False)


# -- workloads -------------------------------------------------------------------------------
WORKLOADS: dict[str, tuple[str, str]] = {
    "bc_logreg": ("breast_cancer", "logreg"),
    "bc_mlp": ("breast_cancer", "mlp"),
    "digits_mlp": ("digits", "mlp"),
}
"""The learning path: breast-cancer logistic regression and MLP, digits softmax MLP."""

MODES: dict[str, tuple[str, int]] = {
    "batch": ("batch", 32),
    "mb32": ("minibatch", 32),
    "mb128": ("minibatch", 128),
}
"""Full batch (one step per epoch) and mini-batches of 32 and 128 rows."""

DTYPES = ("float32", "float64")
SEEDS = (0, 1, 2)
"""Seeds of the convergence runs (seconds-to-target is their median)."""

TIMING_STEPS = 20
"""Timed epochs of a timing run add up to at least this many optimizer steps."""


def build(
    wl: str, mode: str, dtype: str, *, epochs: int, seed: int = 0, dataset: str | None = None
) -> workload_mod.Workload:
    """The workload ``wl`` (or ``dataset`` with ``wl``'s model) in ``mode`` and ``dtype``."""
    ds, model = WORKLOADS[wl]
    kind, batch_size = MODES[mode]
    return workload_mod.build(
        dataset or ds,
        model,
        "sgd",
        mode=kind,
        batch_size=batch_size,
        epochs=epochs,
        dtype=dtype,
        seed=seed,
    )


def timing_epochs(steps_per_epoch: int, steps: int = TIMING_STEPS) -> int:
    """One warm-up epoch plus enough epochs for ``steps`` timed steps (at least 2 epochs)."""
    return 1 + max(2, math.ceil(steps / max(steps_per_epoch, 1)))


def timing_workload(
    wl: str, mode: str, dtype: str, dataset: str | None = None
) -> workload_mod.Workload:
    """The workload a timing benchmark trains per sample: its first epoch is discarded."""
    probe = build(wl, mode, dtype, epochs=1, dataset=dataset)
    return build(wl, mode, dtype, epochs=timing_epochs(probe.steps_per_epoch), dataset=dataset)


class TrainingClock:
    """A monotonic asv ``timer`` that advances only by backend-measured training time.

    asv times a call with ``timer()`` before and after it. This clock reads the seconds that
    the timed function added with :meth:`advance`: the steady-state epoch (or step) time of
    the run, as :attr:`History.epoch_s` measured it (device synchronised, per-epoch
    evaluation, data transfer and compilation excluded). The sample is then the training
    time itself, not the run's set-up around it.
    """

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward (never back: asv requires a monotonic timer)."""
        if not seconds >= 0:
            raise ValueError(f"a training time must be a non-negative number, got {seconds}")
        self.now += seconds


def steady_step_s(h: History, steps_per_epoch: int) -> float:
    """Median seconds per optimizer step over the epochs after the first."""
    return h.steady_epoch_s / steps_per_epoch


MEMO: dict[Any, Any] = {}
"""Per-process store of prepared benchmark state (see :func:`memo`)."""


def memo(store: dict[Any, Any], key: Any, make: Callable[[], Any]) -> Any:
    """``store[key]``, made once. asv re-runs ``setup`` before every sample; this keeps the
    warm-up and the workload build to the first time in a process.
    """
    if key not in store:
        store[key] = make()
    return store[key]


_preload()
