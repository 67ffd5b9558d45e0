"""The JAX target(s) under test: the selected ``jax:*`` targets (``HARNESS_TARGETS``)."""

from __future__ import annotations

import pytest

pytest.importorskip("jax")
pytest.importorskip("optax")

from harness import discovery


def jax_devices() -> list[str]:
    """Devices of the selected, available JAX targets (``cpu``, ``gpu``), in order."""
    return [t.device for t in discovery.select().targets if t.backend_name == "jax"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "jax_device" in metafunc.fixturenames:
        devices = jax_devices()
        metafunc.parametrize(
            "jax_device",
            devices or [pytest.param("cpu", marks=pytest.mark.skip(reason="jax not selected"))],
        )
