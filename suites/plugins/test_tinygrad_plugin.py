"""The second out-of-tree example plugin (``examples/tinygrad_plugin``), installed and checked.

tinygrad is unlike HIPS autograd: lazy tensors realized on demand, kernels compiled by
clang for its CPU device, reverse mode through ``Tensor.gradient``, no forward mode (its JVP
is a double VJP, declared emulated). The
plugin is ``pip install -e``-ed into a layered environment (:mod:`suites.plugins.overlay`)
and checked by ``harness check`` through its entry point, on a subset chosen with ``-k``
to keep CI cheap: each tinygrad kernel is compiled on first use (about 0.1 s of clang), so
every op costs a compile per distinct shape; the subset covers an elementwise op, a
reduction, a broadcasting binary op and matmul under every oracle the plugin declares,
0-d and empty inputs included (the covering cases). Skips without tinygrad or clang.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from .overlay import REPO, Overlay

pytest.importorskip("tinygrad")
pytestmark = pytest.mark.skipif(
    shutil.which("clang") is None, reason="tinygrad's CPU device compiles with clang"
)

EXAMPLE = REPO / "examples" / "tinygrad_plugin"
TARGET = "tinygrad:cpu"
SUBSET = "exp or div or sum_dim or matmul"
"""One op of each kind; ``harness check -- -k`` (docs/plugins.md, "What a check costs")."""


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Overlay]:
    base = tmp_path_factory.mktemp("tinygrad-plugin")
    ignore = shutil.ignore_patterns("*.egg-info", "build", "__pycache__")
    source = shutil.copytree(EXAMPLE, base / "tinygrad_plugin", ignore=ignore)
    env = Overlay.create(base / "venv")
    env.pip_install_editable(source)
    yield env


def test_discovered_with_an_emulated_jvp(env: Overlay) -> None:
    rows = {r["target"]: r for r in env.harness_json("backends")}
    row = rows[TARGET]
    assert row["available"], row["reason"]
    assert row["dtypes"] == ["float32", "float64"]
    assert row["jvp"] and row["emulated"] == ["jvp"]
    assert not row["second_order"] and not row["training"]


def test_check_passes_on_the_subset(env: Overlay, tmp_path: Path) -> None:
    proc = env.run("-m", "harness", "check", "--target", TARGET, "--out", str(tmp_path),
                   "--json", "--", "-k", SUBSET)  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    doc = json.loads(proc.stdout)
    (tv,) = doc["verdict"]["targets"]
    assert doc["outcome"] == "PASS", doc["verdict"]
    assert set(tv["ops"]["run"]) == {"exp", "div", "sum_dim", "matmul"}
    assert {"forward", "vjp_reference", "finite_differences"} <= set(tv["oracles"]["run"])
    # The double-VJP JVP ran and agreed, but is marked circular, not counted as coverage.
    assert "jvp_vjp" not in tv["oracles"]["run"]
    assert tv["circular"] and tv["circular"][0].startswith("jvp_vjp (")
