"""The out-of-tree example plugin (``examples/autograd_plugin``), installed and checked.

It is ``pip install -e``-ed into a throwaway environment layered over this one
(:mod:`suites.plugins.overlay`), so the harness can only find it the way it finds any
third-party plugin: through its ``harness.backends`` entry point. Then, in that
environment, the real parity and training suites run on it (a fast subset, chosen with
``-k``), and ``harness check`` gives its verdict against the reference. Nothing in the
harness knows the plugin.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import catalog

from .overlay import REPO, Overlay

EXAMPLE = REPO / "examples" / "autograd_plugin"
TARGET = "autograd:cpu"

SUBSET = (
    "matmul or cross_entropy or (where and vjp_reference) or (pow and second_order) "
    "or breast_cancer-logreg-sgd-minibatch or (conv2d and forward)"
)
"""Ops that pass every oracle, two known divergences (xfail), one training case, and one
op the plugin lacks (skipped with its reason)."""


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Overlay]:
    """A layered environment with (a copy of) the example plugin installed, editable.

    The copy keeps build by-products out of the checkout and lets concurrent test
    processes (pytest-xdist) each install their own.
    """
    base = tmp_path_factory.mktemp("autograd-plugin")
    source = shutil.copytree(EXAMPLE, base / "autograd_plugin", ignore=_BUILD_LEFTOVERS)
    env = Overlay.create(base / "venv")
    env.pip_install_editable(source)
    yield env


_BUILD_LEFTOVERS = shutil.ignore_patterns("*.egg-info", "build", "__pycache__")


def test_discovered_with_every_capability(env: Overlay) -> None:
    rows = {r["target"]: r for r in env.harness_json("backends")}
    assert TARGET in rows, f"{TARGET} not discovered; targets: {sorted(rows)}"
    row = rows[TARGET]
    assert row["available"], row["reason"]
    # The catalog's first ops; the neural-network ones came later and are declared missing.
    assert (row["ops"], row["ops_total"]) == (len(catalog.core.OPS), len(catalog.CATALOG))
    assert row["dtypes"] == ["float32", "float64"]
    assert row["jvp"] and row["second_order"] and row["training"]


def _statuses(report: dict, target: str) -> dict[tuple[str, str, str], str]:
    return {
        (subject, oracle, dtype): cell["status"]
        for subject, oracles in report["results"][target].items()
        for oracle, dtypes in oracles.items()
        for dtype, cell in dtypes.items()
    }


def test_parity_and_training_suites_through_the_entry_point(env: Overlay, tmp_path: Path) -> None:
    out = tmp_path / "parity"
    proc = env.run(
        "-m", "pytest", "suites/parity", "suites/training",
        "--targets", "autograd", "--reference", "torch:cpu", "--parity-out", out,
        "-k", SUBSET, "-q", "-p", "no:cacheprovider",
    )  # fmt: skip
    tail = f"\n--- stdout\n{proc.stdout[-8000:]}\n--- stderr\n{proc.stderr[-3000:]}"
    assert proc.returncode == 0, f"suites exited {proc.returncode}{tail}"

    report = json.loads((out / "report.json").read_text())
    assert report["meta"]["targets"] == [{"name": TARGET, "version": _autograd_version(env)}]
    assert report["meta"]["reference"] == "torch:cpu"
    status = _statuses(report, TARGET)
    assert report["counts"][TARGET]["fail"] == 0, tail

    for dtype in ("float32", "float64"):
        for oracle in ("forward", "vjp_reference", "finite_differences", "jvp_vjp", "second_order"):
            assert status[("matmul", oracle, dtype)] == "pass", (oracle, dtype, tail)
        # autograd's real bugs, declared in the plugin's own known_divergences.txt
        assert status[("where", "vjp_reference", dtype)] == "xfail", tail
        assert status[("pow", "second_order", dtype)] == "xfail", tail
        assert status[("pow_scalar", "second_order", dtype)] == "pass", tail
        assert status[("conv2d", "forward", dtype)] == "skip-unsupported", tail
        case = "breast_cancer-logreg-sgd-minibatch"
        assert status[(case, "trajectory", dtype)] == "pass", tail
        assert status[(case, "accuracy", dtype)] == "pass", tail


def _autograd_version(env: Overlay) -> str:
    code = "from importlib.metadata import version; print(version('autograd'))"
    return env.run_python(code).stdout.strip()
