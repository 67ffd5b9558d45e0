"""Fixtures of the distributed suite: the data-parallel targets discovery lists."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness import discovery, oracles

WORLD_SIZE = 2


def data_parallel_targets() -> list[discovery.Target]:
    """Every discovered data-parallel target of world size 2 (decided by capability)."""
    return [t for t in discovery.all_targets(data_parallel=True) if t.world_size == WORLD_SIZE]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize ``dp_target`` over the discovered data-parallel targets."""
    if "dp_target" in metafunc.fixturenames:
        params = [
            pytest.param(
                t, id=t.name,
                marks=() if t.available else pytest.mark.skip(reason=f"{t.name}: {t.reason}"),
            )
            for t in data_parallel_targets()
        ]  # fmt: skip
        if not params:
            params = [pytest.param(None, id="none", marks=pytest.mark.skip(reason="no DP target"))]
        metafunc.parametrize("dp_target", params)


@pytest.fixture(scope="module")
def runs() -> Iterator[oracles.RunCache]:
    """One run cache per module: each reference run trains once."""
    yield oracles.RunCache()
