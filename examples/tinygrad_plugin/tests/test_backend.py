"""Wiring checks of the tinygrad plugin (run with ``pytest tests`` after ``pip install -e .``).

These check that the harness finds the plugin and that what it declares is consistent.
Whether its numbers are right is what the harness' own suites check, from the harness
checkout: ``pytest suites --targets tinygrad``.
"""

from __future__ import annotations

from harness import catalog, discovery
from harness.contract import Backend

KNOWN_DTYPES = {"float32", "float64"}


def _backend() -> Backend:
    discovery.reset()
    targets = [t for t in discovery.all_targets() if t.backend_name == "tinygrad"]
    assert targets, "entry point not installed: run `pip install -e .` in this folder"
    assert all(t.available for t in targets), [t.reason for t in targets]
    return targets[0].backend


def test_discovered_through_the_entry_point() -> None:
    selection = discovery.select("tinygrad")
    assert "tinygrad:cpu" in [t.name for t in selection.targets], selection.unavailable


def test_ops_are_catalog_names() -> None:
    unknown = set(_backend().ops()) - set(catalog.CATALOG)
    assert not unknown, f"not catalog op names: {sorted(unknown)}"


def test_every_missing_op_has_a_reason() -> None:
    backend = _backend()
    missing = set(catalog.CATALOG) - set(backend.ops())
    reasons = backend.unsupported_reasons()
    assert missing <= set(reasons), f"no reason for: {sorted(missing - set(reasons))}"
    assert all(reasons[n].strip() for n in missing)


def test_declared_dtypes_are_known() -> None:
    assert set(_backend().capabilities.dtypes) <= KNOWN_DTYPES
