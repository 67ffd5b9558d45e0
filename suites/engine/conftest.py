"""Shared helpers of the engine tests: the engine module and the optional real torch."""

from __future__ import annotations

from typing import Any

import harness.implementations.numpy_autograd as engine
import pytest


@pytest.fixture
def torch_mod() -> Any:
    """The real ``torch`` module (the test skips where it is not installed)."""
    return pytest.importorskip("torch")


@pytest.fixture
def E() -> Any:
    """The engine, imported as a PyTorch user imports torch."""
    return engine
