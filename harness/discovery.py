"""Finding backends (entry-point group ``harness.backends``) and selecting targets.

A *target* is ``backend:device`` (``torch:cpu``, ``jax:gpu``, ...). Built-in backends are
registered in this project's ``pyproject.toml`` exactly as a third-party plugin registers
its own, so discovery has one path for both.

Selection (CLI ``--targets``, pytest ``--targets``, env ``HARNESS_TARGETS``): a comma
separated list; a bare backend name means all of its available devices; nothing means every
available target. An unknown name raises :class:`UnknownTargetError`, whose message lists
the valid ones. An explicitly named device that is not available is kept in
``Selection.unavailable`` with its reason, never silently dropped.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.metadata import EntryPoint, entry_points

from harness import catalog
from harness.contract import Backend, Capabilities, DeviceStatus

GROUP = "harness.backends"
ENV_TARGETS = "HARNESS_TARGETS"


class BackendLoadWarning(UserWarning):
    """A backend's entry point or framework failed to import; its targets are unavailable."""


class UnknownTargetError(ValueError):
    """A target name that matches no discovered backend or device."""


@dataclass(frozen=True)
class Target:
    """One ``backend:device`` pair, with its availability."""

    backend: Backend = field(compare=False, repr=False)
    backend_name: str
    device: str
    available: bool
    reason: str = ""
    version: str = ""

    @property
    def name(self) -> str:
        """``backend:device``."""
        return f"{self.backend_name}:{self.device}"

    def describe(self) -> dict[str, object]:
        """The JSON row of ``harness backends --json``."""
        caps = self.backend.capabilities if self.backend is not None else None
        n_ops = len(_supported_ops(self.backend)) if self.available else 0
        return {
            "target": self.name,
            "backend": self.backend_name,
            "device": self.device,
            "available": self.available,
            "reason": self.reason,
            "version": self.version,
            "dtypes": list(caps.dtypes) if caps else [],
            "ops": n_ops,
            "ops_total": len(catalog.CATALOG),
            "jvp": bool(caps and caps.jvp),
            "second_order": bool(caps and caps.second_order),
            "training": bool(caps and caps.training),
            "compiled": bool(caps and caps.compiled),
        }


@dataclass
class Selection:
    """The outcome of selecting targets."""

    targets: list[Target]
    """Available targets, in discovery order."""
    unavailable: list[Target]
    """Targets that were asked for (or exist, when nothing was asked for) but cannot run."""


def _supported_ops(backend: Backend) -> list[str]:
    try:
        names = backend.ops().keys()
    except Exception:  # an ops table that fails is reported as no ops, not a crash
        return []
    return [n for n in catalog.CATALOG if n in names]


class _Broken(Backend):
    """Stand-in for a backend whose entry point could not be loaded."""

    capabilities = Capabilities(dtypes=(), training=False)

    def __init__(self, name: str, error: str) -> None:
        self.name = name  # type: ignore[misc]
        self.error = error

    def version(self) -> str:
        return ""

    def devices(self) -> list[DeviceStatus]:
        return [DeviceStatus("*", False, self.error)]

    def asarray(self, x, device):  # type: ignore[no-untyped-def]
        raise RuntimeError(self.error)

    def to_numpy(self, x):  # type: ignore[no-untyped-def]
        raise RuntimeError(self.error)

    def ops(self):  # type: ignore[no-untyped-def]
        return {}

    def vjp(self, fn, primals, cotangent, *, device, argnums=None):  # type: ignore[no-untyped-def]
        raise RuntimeError(self.error)


@lru_cache(maxsize=1)
def _discover() -> tuple[Target, ...]:
    found: list[Target] = []
    eps = sorted(entry_points(group=GROUP), key=lambda e: e.name)
    seen: set[str] = set()
    for ep in eps:
        if ep.name in seen:  # the same distribution visible twice on sys.path
            continue
        seen.add(ep.name)
        found += load_targets(ep)
    return tuple(found)


def load_targets(ep: EntryPoint) -> list[Target]:
    """The targets of one ``harness.backends`` entry point: one per device its backend
    reports, or a single unavailable target saying why it failed to load (with a warning)."""
    try:
        obj = ep.load()
        backend: Backend = obj() if isinstance(obj, type) else obj
        backend.load()
        version = backend.version()
        devices = backend.devices()
    except Exception as e:
        msg = f"{type(e).__name__}: {e}"
        warnings.warn(
            f"harness backend {ep.name!r} ({ep.value}) failed to load: {msg}",
            BackendLoadWarning,
            stacklevel=3,  # the caller of _discover(), as before this was split out
        )
        broken = _Broken(ep.name, f"failed to load: {msg}")
        return [Target(broken, ep.name, "*", False, broken.error)]
    return [Target(backend, ep.name, d.device, d.available, d.reason, version) for d in devices]


def all_targets() -> list[Target]:
    """Every discovered target, available or not."""
    return list(_discover())


def reset() -> None:
    """Forget cached discovery (after installing a plugin in-process, in tests)."""
    _discover.cache_clear()


def valid_names() -> list[str]:
    """Every name :func:`select` accepts: backends and ``backend:device`` targets."""
    targets = all_targets()
    backends = list(dict.fromkeys(t.backend_name for t in targets))
    return backends + [t.name for t in targets if t.device != "*"]


def select(spec: str | None = None) -> Selection:
    """Select targets from ``spec`` (or ``$HARNESS_TARGETS``, or everything available)."""
    if spec is None:
        spec = os.environ.get(ENV_TARGETS, "")
    targets = all_targets()
    names = [s.strip() for s in spec.split(",") if s.strip()]
    if not names:
        return Selection(
            [t for t in targets if t.available], [t for t in targets if not t.available]
        )
    chosen: list[Target] = []
    missing: list[Target] = []
    for name in names:
        if ":" in name:
            matches = [t for t in targets if t.name == name]
            if not matches:
                backend = name.split(":", 1)[0]
                matches = [t for t in targets if t.backend_name == backend and t.device == "*"]
        else:
            matches = [t for t in targets if t.backend_name == name]
        if not matches:
            raise UnknownTargetError(
                f"unknown target {name!r}; valid targets: {', '.join(valid_names()) or '(none)'}"
            )
        for t in matches:
            bucket = chosen if t.available else missing
            if t not in bucket:
                bucket.append(t)
    return Selection(chosen, missing)


def get_target(name: str) -> Target:
    """The one target called ``name`` (``backend:device``), available or not."""
    for t in all_targets():
        if t.name == name:
            return t
    raise UnknownTargetError(
        f"unknown target {name!r}; valid targets: {', '.join(valid_names()) or '(none)'}"
    )


def default_reference(available: list[Target] | None = None) -> Target | None:
    """The available target whose backend declares the highest ``reference_priority``.

    Ties go to a ``cpu`` device, then discovery order. ``None`` if no backend volunteers.
    """
    pool = [t for t in (available if available is not None else all_targets()) if t.available]
    ranked = [t for t in pool if t.backend.capabilities.reference_priority > 0]
    if not ranked:
        return None
    return max(
        ranked,
        key=lambda t: (t.backend.capabilities.reference_priority, t.device == "cpu"),
    )
