"""pytest-benchmark micro-benchmarks of per-op overhead (run: ``pytest benchmarks/micro``
``--benchmark-only``).

This folder has no ``__init__.py`` on purpose: asv imports every package under
``benchmarks/`` as asv benchmarks, and ``pytest suites`` never looks here. The tests run over
the selected targets (``--targets`` or ``$HARNESS_TARGETS``, default every available one).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The repository root, so that ``benchmarks.opcases`` imports from a checkout.
ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import benchmarks  # noqa: E402, F401  (one BLAS / OpenMP thread, as in the asv runs)


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--targets``, unless the suites' conftest already added it."""
    try:
        parser.addoption(
            "--targets",
            default=None,
            help="comma-separated targets or backends (default: $HARNESS_TARGETS or all)",
        )
    except ValueError:
        pass


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize ``target`` over the selected available targets, named by target."""
    if "target" not in metafunc.fixturenames:
        return
    from harness import discovery

    selection = discovery.select(metafunc.config.getoption("--targets"))
    metafunc.parametrize(
        "target", selection.targets, ids=[t.name for t in selection.targets], scope="module"
    )
