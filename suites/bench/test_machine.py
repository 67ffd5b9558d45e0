"""``harness machine``: a hardware-telling name, asv's full record, no questions asked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness import host
from harness.cli import main
from harness.commands import machine


def test_name_carries_cpu_cores_and_gpu(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["machine", "--dry-run", "--json"]) == 0
    fields = json.loads(capsys.readouterr().out)
    name = fields["machine"]
    assert machine.slug(host.cpu_model()) in name
    assert f"-{fields['num_cpu']}cpu-" in name
    assert name.endswith(machine.slug(fields["gpu"]))
    assert fields["gpu"] == (host.gpu_models() or "nogpu")


def test_gpu_override_and_slug(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["machine", "--dry-run", "--json", "--gpu", "NVIDIA H100 80GB HBM3"]) == 0
    fields = json.loads(capsys.readouterr().out)
    assert fields["machine"].endswith("-nvidia-h100-80gb-hbm3")
    assert fields["gpu"] == "NVIDIA H100 80GB HBM3"


def test_gpu_models_counts_alike_devices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(host, "gpu_list", lambda: ["A100", "A100", "T4"])
    assert host.gpu_models() == "2x A100 + T4"
    monkeypatch.setattr(host, "gpu_list", list)
    assert host.gpu_models() == ""


def test_registers_full_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert main(["machine", "--gpu", "nogpu"]) == 0
    record = json.loads((tmp_path / ".asv-machine.json").read_text())
    (name,) = (k for k in record if k != "version")
    assert name.endswith("-nogpu")
    assert set(record[name]) == set(machine.ASV_FIELDS)
    assert record[name]["machine"] == name
    assert all(record[name].values())


def test_bad_name_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert main(["machine", "--name", "My Box"]) == 2
    assert "my-box" in capsys.readouterr().err
    assert not (tmp_path / ".asv-machine.json").exists()
