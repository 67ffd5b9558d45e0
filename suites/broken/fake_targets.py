"""A pytest plugin that puts deliberately broken targets beside the real reference target.

Load it with ``-p harness.suites.broken.fake_targets`` (before the harness plugin selects targets):
discovery then knows the reference target, ``broken-tanh:<device>`` (tanh's backward uses
``1 - y``; see :mod:`suites.broken.targets`) with a known-divergences file, and an
unavailable target with its reason. The real suites then run unchanged against them.
"""

from __future__ import annotations

from collections.abc import Mapping

from harness import discovery
from harness.contract import Backend, Capabilities, DeviceStatus, OpFn, Unsupported

from .targets import Wrapped, WrongGradient, as_target

KNOWN = """\
# One entry that still fails (xfail) and one whose check passes (stale).
broken-tanh:* tanh finite_differences float32  # the deliberate 1 - y bug, known
broken-tanh:* sigmoid forward float64  # nothing wrong with sigmoid: this entry is stale
"""


class KnownWrongGradient(WrongGradient):
    """The broken tanh, with a known-divergences file."""

    def known_divergences(self) -> str:
        return KNOWN


class Missing(WrongGradient):
    """A backend whose only device is unavailable."""

    def devices(self) -> list[DeviceStatus]:
        return [DeviceStatus("gpu", False, "no such device on this machine (deliberately)")]


class Limited(Wrapped):
    """float32 only, no forward mode, no second order, no training, no ``sigmoid``, and a
    VJP that raises Unsupported for ``tanh``: every check of it must be skip-unsupported."""

    capabilities = Capabilities(dtypes=("float32",))

    def __init__(self, inner: Backend, name: str) -> None:
        super().__init__(inner, name)
        self.capabilities = Limited.capabilities  # type: ignore[misc]
        self._ops = {k: v for k, v in self.inner.ops().items() if k != "sigmoid"}

    def ops(self) -> Mapping[str, OpFn]:
        return self._ops

    def unsupported_reasons(self) -> Mapping[str, str]:
        return {"sigmoid": "left out on purpose"}

    def vjp(self, fn, primals, cotangent, *, device, argnums=None):
        if fn is self._ops["tanh"]:
            raise Unsupported("limited: no reverse mode for tanh")
        return super().vjp(fn, primals, cotangent, device=device, argnums=argnums)


def _reference() -> discovery.Target | None:
    """The default reference target, loading only its backend (not every framework)."""
    best = None
    for ep in discovery.backend_entry_points():
        try:
            priority = ep.load().capabilities.reference_priority
        except Exception:
            continue  # cannot be the reference; discovery reports it where it matters
        if priority > 0 and (best is None or priority > best[0]):
            best = (priority, ep)
    return None if best is None else discovery.default_reference(discovery.load_targets(best[1]))


def _targets() -> tuple[discovery.Target, ...]:
    reference = _reference()
    if reference is None:
        return ()
    broken = as_target(KnownWrongGradient(reference.backend, "broken-tanh"), reference.device)
    missing = Missing(reference.backend, "missing")
    absent = discovery.Target(missing, "missing", "gpu", False, missing.devices()[0].reason)
    limited = as_target(Limited(reference.backend, "limited"), reference.device)
    return (reference, broken, limited, absent)


discovery._discover = _targets  # type: ignore[assignment]
