"""Fixtures shared by the broken-target suites."""

from __future__ import annotations

import pytest

from harness import discovery
from harness.discovery import Target


@pytest.fixture
def engine() -> Target:
    """The NumPy engine's target, which the broken NN ops and models wrap."""
    target = discovery.get_target("numpy:cpu")
    if not target.available:
        pytest.skip(target.reason)
    return target
