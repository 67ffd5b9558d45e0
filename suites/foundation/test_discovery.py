"""Discovery through the ``harness.backends`` entry points, selection and its errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness import discovery


def _cli(*args: str, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **(env_extra or {})}
    env.pop("HARNESS_TARGETS", None) if "HARNESS_TARGETS" not in (env_extra or {}) else None
    return subprocess.run(
        [sys.executable, "-m", "harness", *args], capture_output=True, text=True, env=env
    )


def test_plugin_found_through_entry_points(plugin_path: Path) -> None:
    names = {t.name: t for t in discovery.all_targets()}
    assert "tiny:cpu" in names and names["tiny:cpu"].available
    assert names["tiny:cpu"].version == "0.0.1"
    row = names["tiny:cpu"].describe()
    assert row["ops"] == 2 and row["dtypes"] == ["float64"] and row["training"] is False


def test_plugin_unavailable_device_listed_with_reason(plugin_path: Path) -> None:
    npu = discovery.get_target("tiny:npu")
    assert not npu.available and npu.reason == "no NPU on this machine"
    sel = discovery.select("tiny")
    assert [t.name for t in sel.targets] == ["tiny:cpu"]
    assert [(t.name, t.reason) for t in sel.unavailable] == [("tiny:npu", "no NPU on this machine")]


def test_broken_plugin_is_a_visible_warning_and_others_still_run(plugin_path: Path) -> None:
    with pytest.warns(discovery.BackendLoadWarning, match="broken.*needs a library"):
        targets = discovery.all_targets()
    by_backend = {t.backend_name: t for t in targets}
    assert not by_backend["broken"].available
    assert "needs a library that is not here" in by_backend["broken"].reason
    assert discovery.get_target("tiny:cpu").available
    assert discovery.get_target("torch:cpu").available


def test_plugin_listed_by_cli_with_no_change_to_harness(plugin_path: Path) -> None:
    env = {"PYTHONPATH": os.pathsep.join([str(plugin_path), os.environ.get("PYTHONPATH", "")])}
    out = _cli("backends", "--json", env_extra=env)
    assert out.returncode == 0, out.stderr
    rows = {r["target"]: r for r in json.loads(out.stdout)}
    assert rows["tiny:cpu"]["available"] is True
    assert rows["tiny:npu"] == {
        **rows["tiny:npu"],
        "available": False,
        "reason": "no NPU on this machine",
    }
    assert "harness backend 'broken'" in out.stderr  # the warning is shown, not swallowed


def test_unknown_target_lists_valid_ones() -> None:
    with pytest.raises(discovery.UnknownTargetError, match=r"valid targets: .*torch:cpu"):
        discovery.select("torch:cpu,nosuch")
    out = _cli("backends", "--targets", "nosuch")
    assert out.returncode == 2
    assert "unknown target 'nosuch'" in out.stderr and "torch:cpu" in out.stderr
    assert out.stdout == ""


def test_unknown_target_from_environment_variable() -> None:
    out = _cli("backends", env_extra={"HARNESS_TARGETS": "torch:tpu"})
    assert out.returncode == 2 and "unknown target 'torch:tpu'" in out.stderr


def test_bare_backend_means_all_its_available_devices() -> None:
    sel = discovery.select("torch")
    assert "torch:cpu" in [t.name for t in sel.targets]
    for t in sel.unavailable:
        assert t.reason, f"{t.name} is unavailable without a reason"


def test_backends_json_keys_and_cuda_reason() -> None:
    out = _cli("backends", "--json")
    assert out.returncode == 0, out.stderr
    rows = {r["target"]: r for r in json.loads(out.stdout)}
    keys = {"target", "backend", "device", "available", "reason", "version", "dtypes", "ops"}
    for row in rows.values():
        assert keys <= row.keys()
    assert rows["torch:cpu"]["available"] and rows["torch:cpu"]["ops"] > 0
    cuda = rows["torch:cuda"]
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present: nothing unavailable to report")
    assert cuda["available"] is False and "cuda" in cuda["reason"].lower()


def test_default_reference_is_chosen_by_capability() -> None:
    ref = discovery.default_reference()
    assert ref is not None and ref.available
    best = max(
        t.backend.capabilities.reference_priority for t in discovery.all_targets() if t.available
    )
    assert ref.backend.capabilities.reference_priority == best


def test_importing_harness_imports_no_framework() -> None:
    code = (
        "import sys, harness, harness.cli, harness.discovery, harness.catalog, "
        "harness.workload, harness.trajectory, harness.data\n"
        "bad = [m for m in ('torch', 'jax', 'sklearn') if m in sys.modules]\n"
        "assert not bad, bad"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_a_selection_loads_only_the_backends_it_names() -> None:
    """``--targets numpy`` imports no other framework; the default reference loads the
    backends of the highest declared priority only (here torch, when it is installed)."""
    code = (
        "import sys\n"
        "from harness import discovery\n"
        "assert discovery.select('numpy:cpu').targets[0].name == 'numpy:cpu'\n"
        "assert 'jax' not in sys.modules and 'torch' not in sys.modules, 'imported'\n"
        "ref = discovery.default_reference()\n"
        "print(ref.name if ref else None, 'jax' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True
    ).stdout.split()
    expected = discovery.default_reference()
    assert out[0] == (expected.name if expected else "None")
    jax_first = expected is not None and expected.backend_name == "jax"
    assert out[1] == str(jax_first)  # the reference never needed JAX's start-up
