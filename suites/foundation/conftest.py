"""Fixtures for the foundation tests: a tiny plugin package made on the fly."""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import discovery

PLUGIN_SOURCE = '''
"""A tiny third-party backend: NumPy arrays, two ops, no training."""
import numpy as np
from harness.contract import Backend, Capabilities, DeviceStatus


class TinyBackend(Backend):
    name = "tiny"
    capabilities = Capabilities(dtypes=("float64",), training=False)

    def version(self):
        return "0.0.1"

    def devices(self):
        return [DeviceStatus("cpu", True), DeviceStatus("npu", False, "no NPU on this machine")]

    def asarray(self, x, device):
        return np.array(x)

    def to_numpy(self, x):
        return np.array(x)

    def ops(self):
        return {"add": np.add, "neg": np.negative}

    def vjp(self, fn, primals, cotangent, *, device, argnums=None):
        raise NotImplementedError
'''


def make_plugin(root: Path, dist: str, entry_points: dict[str, str], module_source: str) -> None:
    """Write a module plus a ``.dist-info`` with ``harness.backends`` entry points under root."""
    module = entry_points and next(iter(entry_points.values())).split(":")[0]
    (root / f"{module}.py").write_text(textwrap.dedent(module_source))
    info = root / f"{dist}-0.0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.0.1\n")
    lines = "\n".join(f"{k} = {v}" for k, v in entry_points.items())
    (info / "entry_points.txt").write_text(f"[harness.backends]\n{lines}\n")


@pytest.fixture
def plugin_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory on sys.path holding the ``tiny`` plugin and a ``broken`` one."""
    make_plugin(
        tmp_path, "harness_tiny", {"tiny": "harness_tiny_plugin:TinyBackend"}, PLUGIN_SOURCE
    )
    make_plugin(
        tmp_path,
        "harness_broken",
        {"broken": "harness_broken_plugin:Nope"},
        "raise ImportError('the broken plugin needs a library that is not here')\n",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    discovery.reset()
    yield tmp_path
    for mod in ("harness_tiny_plugin", "harness_broken_plugin"):
        sys.modules.pop(mod, None)
    discovery.reset()
