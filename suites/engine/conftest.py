"""Shared helpers of the engine tests: the engine module and the optional real torch."""

from __future__ import annotations

from typing import Any

import pytest

import implementations.numpy_autograd as engine


@pytest.fixture
def torch_mod() -> Any:
    """The real ``torch`` module (the test skips where it is not installed)."""
    return pytest.importorskip("torch")


@pytest.fixture
def E() -> Any:
    """The engine, imported as a PyTorch user imports torch."""
    return engine


@pytest.fixture(autouse=True, scope="package")
def _torch_single_thread() -> Any:
    """Run PyTorch on one thread during these tests, restoring the setting afterwards.

    The tensors here are tiny; with several intra-op threads on a busy 2-core machine,
    PyTorch's threads spin against each other and a 100-epoch mini-batch run took 80 s
    instead of 2 s. Results do not depend on it (single-threaded kernels at these sizes).
    """
    try:
        import torch
    except ImportError:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
