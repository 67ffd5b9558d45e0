"""Finding backends and choosing targets and the reference: the one home of these rules.

A *target* is ``backend:device`` (``torch:cpu``, ``jax:gpu``, ...), or a data-parallel
target ``backend:device@<scheme><N>`` (``torch:cpu@ddp2``; :mod:`harness.parallel`) of a
backend whose ``Capabilities.data_parallel`` names a scheme. Backends are found
through the entry-point group ``harness.backends``; the built-ins are registered in this
project's ``pyproject.toml`` exactly as a third-party plugin registers its own, so there is
one path for both (:func:`backend_entry_points`, :func:`load_targets`).

Every caller (the CLI commands, the pytest plugin, the benchmarks, the test fixtures)
selects with :func:`select` and resolves the reference with :func:`resolve_reference`, so a
name means the same everywhere:

* a selection is a comma-separated list (``--targets``, else ``$HARNESS_TARGETS``, else
  every available target);
* a bare backend name (``torch``) means all of its available devices; its unavailable ones
  are listed with their reason, never silently dropped; it does not include the backend's
  data-parallel targets, and neither does the default selection (they start processes, so
  they run when named: ``torch:cpu@ddp2``, at any world size ``N``);
* a ``backend:device`` named explicitly must be available (when the caller runs it);
* an unknown name is a :class:`TargetError` whose message names the option or environment
  variable it came from and lists the valid names.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib.metadata import EntryPoint, entry_points

from harness import catalog, interrupt, parallel
from harness.contract import EMULABLE, Backend, Capabilities, DeviceStatus

GROUP = "harness.backends"
"""The entry-point group every backend registers under."""
ENV_TARGETS = "HARNESS_TARGETS"
ENV_REFERENCE = "HARNESS_REFERENCE"


class BackendLoadWarning(UserWarning):
    """A backend's entry point or framework failed to import; its targets are unavailable."""


class TargetError(ValueError):
    """A target or reference that cannot be used as asked.

    The message starts with the option or environment variable the name came from and
    lists the valid choices.
    """


class UnknownTargetError(TargetError):
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

    @property
    def world_size(self) -> int:
        """Ranks of a data-parallel target (``@ddp2``: 2); 0 for a single-process target."""
        parsed = parallel.parse_device(self.device)
        return parsed[2] if parsed else 0

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
            "optimizer_step": bool(caps and caps.optimizer_step),
            "emulated": list(caps.emulated) if caps else [],
            "world_size": self.world_size,
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


def backend_entry_points() -> list[EntryPoint]:
    """The ``harness.backends`` entry points, sorted by name, the first of each name only.

    The same distribution can be visible twice on ``sys.path`` (an editable install beside
    a checkout); the first in sorted order wins, everywhere.
    """
    seen: set[str] = set()
    out = []
    for ep in sorted(entry_points(group=GROUP), key=lambda e: e.name):
        if ep.name not in seen:
            seen.add(ep.name)
            out.append(ep)
    return out


def backend_distributions() -> list[str]:
    """Names of the distributions that register a backend (plugins included)."""
    names = []
    for ep in backend_entry_points():
        dist = getattr(ep, "dist", None)
        if dist is not None and dist.metadata["Name"]:
            names.append(dist.metadata["Name"])
    return list(dict.fromkeys(names))


def instantiate(ep: EntryPoint) -> Backend:
    """The backend object an entry point names (a Backend subclass or an instance).

    Its framework is not loaded yet: :meth:`Backend.load` does that.
    """
    obj = ep.load()
    backend: Backend = obj() if isinstance(obj, type) else obj
    return backend


@cache
def _load_backend(name: str) -> tuple[Target, ...]:
    """The single-process targets of the entry point ``name`` (loaded once per process)."""
    ep = next(e for e in backend_entry_points() if e.name == name)
    targets = tuple(load_targets(ep))
    # Loading a framework takes seconds (torch and jax: 2-5 s under load): a Ctrl-C
    # during start-up stops between two backends, not after all of them.
    interrupt.check()
    return targets


@lru_cache(maxsize=1)
def _discover() -> tuple[Target, ...]:
    found: list[Target] = []
    for ep in backend_entry_points():
        found += _load_backend(ep.name)
    return tuple(found + data_parallel_targets(found))


def _pool(backend: str) -> list[Target]:
    """The targets (data-parallel included) a name of ``backend`` can stand for.

    Lazy: only that backend's entry point is loaded (``--targets torch:cpu`` imports no
    JAX). A name that is no entry point's (an unknown name, for its error message, which
    lists every valid name) or a replaced universe (a test that swaps ``_discover`` for
    its own targets) searches every discovered target.
    """
    if not hasattr(_discover, "cache_clear") or backend not in {
        e.name for e in backend_entry_points()
    }:
        return all_targets(data_parallel=True)
    single = list(_load_backend(backend))
    return single + data_parallel_targets(single)


def data_parallel_target(base: Target, world_size: int) -> Target | None:
    """The target ``base@<scheme><N>`` if ``base``'s backend declares a data-parallel scheme."""
    if base.device == "*" or not base.backend.capabilities.data_parallel:
        return None
    backend = parallel.DataParallel(base.backend, base.device, world_size)
    if not base.available:
        status = DeviceStatus(backend.device_name, False, base.reason)
    else:
        try:
            status = backend.devices()[0]
        except Exception as e:  # a status check that fails is a reason, not a crash
            status = DeviceStatus(backend.device_name, False, f"{type(e).__name__}: {e}")
    return Target(
        backend, base.backend_name, backend.device_name, status.available, status.reason,
        base.version,
    )  # fmt: skip


def data_parallel_targets(single: list[Target]) -> list[Target]:
    """The data-parallel targets discovery lists: each device at its ``world_sizes``."""
    out = []
    for t in single:
        for n in t.backend.capabilities.world_sizes if t.device != "*" else ():
            dp = data_parallel_target(t, n)
            if dp is not None:
                out.append(dp)
    return out


def load_targets(ep: EntryPoint) -> list[Target]:
    """The targets of one ``harness.backends`` entry point: one per device its backend
    reports, or a single unavailable target saying why it failed to load (with a warning)."""
    try:
        backend = instantiate(ep)
        backend.load()
        backend.capabilities = checked_capabilities(backend)  # type: ignore[misc]
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


DTYPES = ("float32", "float64")
"""The dtypes a backend may declare (the ones the suites check)."""


class CapabilitiesError(TypeError):
    """A backend's ``capabilities`` is not a valid :class:`~harness.contract.Capabilities`."""


def checked_capabilities(backend: Backend) -> Capabilities:
    """``backend.capabilities`` read once, after :meth:`~harness.contract.Backend.load`.

    The contract's rule: capabilities are a class attribute, or set by ``load()`` (for a
    backend that learns them from its framework); discovery reads them here, once, and
    pins them on the instance, so every later reader sees the same value. ``load()`` may
    change any field but ``reference_priority``, which stays the class's (the default
    reference is chosen lazily from it: :func:`_reference_pool`). Anything but a
    :class:`Capabilities` with known dtypes is a :class:`CapabilitiesError` that says so,
    and the backend's targets become unavailable with that reason.
    """
    caps = getattr(backend, "capabilities", None)
    if not isinstance(caps, Capabilities):
        raise CapabilitiesError(
            f"capabilities must be a harness.contract.Capabilities (a class attribute, or "
            f"set in load()), got {type(caps).__name__}"
        )
    declared = getattr(type(backend), "capabilities", None)
    priority = declared.reference_priority if isinstance(declared, Capabilities) else None
    if priority is not None and caps.reference_priority != priority:
        raise CapabilitiesError(
            f"capabilities.reference_priority must be the class's ({priority}), got "
            f"{caps.reference_priority} after load(): discovery picks the default reference "
            "from the classes without loading every framework"
        )
    if not isinstance(caps.dtypes, tuple) or not set(caps.dtypes) <= set(DTYPES):
        raise CapabilitiesError(
            f"capabilities.dtypes must be a tuple drawn from {', '.join(DTYPES)}, "
            f"got {caps.dtypes!r}"
        )
    bad = [c for c in caps.emulated if c not in EMULABLE or not getattr(caps, c)]
    if not isinstance(caps.emulated, tuple) or bad:
        raise CapabilitiesError(
            f"capabilities.emulated must be a tuple of capabilities that are also declared "
            f"True, drawn from {', '.join(EMULABLE)}; got {caps.emulated!r}"
        )
    return caps


def all_targets(*, data_parallel: bool = False) -> list[Target]:
    """Every discovered single-process target, available or not; with ``data_parallel``,
    the data-parallel targets discovery lists too (after them)."""
    return [t for t in _discover() if data_parallel or not t.world_size]


def reset() -> None:
    """Forget cached discovery (after installing a plugin in-process, in tests)."""
    _discover.cache_clear()
    _load_backend.cache_clear()


def valid_names() -> list[str]:
    """Every name :func:`select` accepts: backends and ``backend:device`` targets."""
    targets = all_targets(data_parallel=True)
    backends = list(dict.fromkeys(t.backend_name for t in targets))
    return backends + [t.name for t in targets if t.device != "*"]


def _names(spec: str) -> list[str]:
    return [s.strip() for s in spec.split(",") if s.strip()]


def _source(given: str | None, option: str, env: str) -> tuple[str, str]:
    """(text, where it came from): the option's value, else the environment variable's."""
    if given is not None:
        return given, option
    return os.environ.get(env, ""), f"${env}"


def _unknown(source: str, name: str) -> UnknownTargetError:
    return UnknownTargetError(
        f"{source}: unknown target {name!r}; valid targets: {', '.join(valid_names()) or '(none)'}"
        " (data-parallel: backend:device@<scheme><N>, at any world size N)"
    )


def _available_names() -> str:
    return ", ".join(t.name for t in all_targets(data_parallel=True) if t.available) or "(none)"


def _matches(name: str, source: str) -> list[Target]:
    """The targets one selection name stands for (a bare name: every device of it)."""
    targets = _pool(name.split(":", 1)[0])
    if ":" in name:
        found = [t for t in targets if t.name == name] or _unlisted_data_parallel(name)
        if not found:  # a backend that failed to load has one target, ``name:*``
            backend = name.split(":", 1)[0]
            found = [t for t in targets if t.backend_name == backend and t.device == "*"]
    else:
        found = [t for t in targets if t.backend_name == name and not t.world_size]
    if not found:
        raise _unknown(source, name)
    return found


def _unlisted_data_parallel(name: str) -> list[Target]:
    """``backend:device@<scheme><N>`` at a world size discovery does not list."""
    backend, _, device = name.partition(":")
    parsed = parallel.parse_device(device)
    if parsed is None:
        return []
    base_device, scheme, n = parsed
    for t in _pool(backend):
        caps = t.backend.capabilities
        if t.backend_name == backend and t.device == base_device and not t.world_size:
            if caps.data_parallel == scheme:
                dp = data_parallel_target(t, n)
                return [dp] if dp is not None else []
    return []


def select(
    spec: str | None = None,
    *,
    option: str = "--targets",
    require_available: bool = False,
    listing: bool = False,
) -> Selection:
    """The targets ``spec`` names (``None``: ``$HARNESS_TARGETS``; empty: every target).

    ``option`` is how the caller's user spelt the choice, for error messages. With
    ``require_available`` (callers that run what they select), a ``backend:device`` named
    explicitly that is unavailable, or a bare backend with no available device, is a
    :class:`TargetError`; a bare backend's other unavailable devices are listed in
    :attr:`Selection.unavailable` either way. ``listing`` (``harness backends``): with
    no names, the data-parallel targets discovery lists are selected too.
    """
    text, source = _source(spec, option, ENV_TARGETS)
    names = _names(text)
    if not names:
        targets = all_targets(data_parallel=listing)
        return Selection(
            [t for t in targets if t.available], [t for t in targets if not t.available]
        )
    chosen: list[Target] = []
    missing: list[Target] = []
    for name in names:
        matches = _matches(name, source)
        usable = [t for t in matches if t.available]
        if require_available and (not usable or ":" in name):
            bad = next((t for t in matches if not t.available), None)
            if bad is not None:
                raise TargetError(
                    f"{source}: target {bad.name} is not available: {bad.reason or 'unknown'}; "
                    f"available targets: {_available_names()}"
                )
        for t in matches:
            bucket = chosen if t.available else missing
            if t not in bucket:
                bucket.append(t)
    return Selection(chosen, missing)


def get_target(name: str) -> Target:
    """The one target called ``name`` (``backend:device``), available or not."""
    for t in _pool(name.split(":", 1)[0]):
        if t.name == name:
            return t
    found = _unlisted_data_parallel(name)
    if found:
        return found[0]
    raise _unknown("target", name)


def _prefer_cpu(targets: list[Target]) -> Target:
    """The ``cpu`` device if there is one, else the first in discovery order."""
    return next((t for t in targets if t.device == "cpu"), targets[0])


def default_reference(available: list[Target] | None = None) -> Target | None:
    """The available target whose backend declares the highest ``reference_priority``.

    Ties go to a ``cpu`` device, then discovery order. ``None`` if no backend volunteers.
    Without ``available``, backends are loaded lazily (:func:`_reference_pool`).
    """
    if available is None:
        available = _reference_pool()
    pool = [t for t in available if t.available]
    ranked = [t for t in pool if t.backend.capabilities.reference_priority > 0]
    if not ranked:
        return None
    best = max(t.backend.capabilities.reference_priority for t in ranked)
    return _prefer_cpu([t for t in ranked if t.backend.capabilities.reference_priority == best])


def _class_priority(ep: EntryPoint) -> int:
    """The ``reference_priority`` a backend class declares, without loading its framework
    (0 when the entry point cannot even be imported: such a backend is no reference)."""
    try:
        obj = ep.load()
    except Exception:
        return 0
    caps = getattr(obj if isinstance(obj, type) else type(obj), "capabilities", None)
    return caps.reference_priority if isinstance(caps, Capabilities) else 0


def _reference_pool() -> list[Target]:
    """Enough targets to pick the default reference, loading backends lazily.

    ``reference_priority`` is declared on the backend class (:func:`checked_capabilities`
    holds ``load()`` to it), so backends are loaded in order of it, highest first, and the
    search stops after the first priority that has an available target (ties all loaded,
    so the tie rule of :func:`default_reference` sees every one of them).
    """
    if not hasattr(_discover, "cache_clear") or _discover.cache_info().currsize:
        return all_targets()  # everything is known already (or a test replaced it)
    eps = backend_entry_points()
    declared = {e.name: _class_priority(e) for e in eps}
    loaded: list[Target] = []
    found = 0
    for name in sorted((n for n, p in declared.items() if p > 0), key=lambda n: -declared[n]):
        if found and declared[name] < found:
            break
        targets = _load_backend(name)
        loaded += targets
        if any(t.available for t in targets):
            found = declared[name]
    order = {e.name: i for i, e in enumerate(eps)}
    return sorted(loaded, key=lambda t: order.get(t.backend_name, len(order)))


def resolve_reference(name: str | None = None, *, option: str = "--reference") -> Target:
    """The reference target: ``name``, else ``$HARNESS_REFERENCE``, else the default.

    A bare backend name means its available ``cpu`` device if it has one, else its first
    available device. An unknown or unavailable name, or no default, is a
    :class:`TargetError` that names ``option`` (or the variable) and the valid choices.
    """
    text, source = _source(name, option, ENV_REFERENCE)
    text = text.strip()
    if not text:
        ref = default_reference()
        if ref is None:
            raise TargetError(
                f"no target volunteers as the default reference; pass {option} (or set "
                f"${ENV_REFERENCE}), one of: {_available_names()}"
            )
        return ref
    if "," in text:
        raise TargetError(f"{source}: one reference target, got {text!r}")
    matches = _matches(text, source)
    usable = [t for t in matches if t.available]
    if not usable or (":" in text and not matches[0].available):
        why = "; ".join(f"{t.name}: {t.reason or 'unknown'}" for t in matches if not t.available)
        raise TargetError(
            f"{source}: reference {text!r} is not available ({why}); available targets: "
            f"{_available_names()}"
        )
    return _prefer_cpu(usable)
