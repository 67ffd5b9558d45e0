"""``--checks-only`` (what ``harness check`` and ``harness parity`` pass): the harness' own
machinery tests, which record no parity row and so never count for a verdict
(:func:`harness.verdict.records_checks`), are deselected; every check still runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _collected(*extra: str) -> set[str]:
    cmd = [
        sys.executable, "-m", "pytest", str(ROOT / "suites" / "parity"), "--co", "-q",
        "-p", "no:cacheprovider", "--rootdir", str(ROOT), "-c", str(ROOT / "pyproject.toml"),
        "--targets", "numpy", *extra,
    ]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=True).stdout
    return {line.split("[")[0] for line in out.splitlines() if "::" in line}


def test_checks_only_deselects_the_machinery_and_keeps_every_check() -> None:
    everything, checks = _collected(), _collected("--checks-only")
    machinery = everything - checks
    assert checks < everything
    assert "suites/parity/test_machinery.py::test_registry_is_the_one_list_of_oracles" in machinery
    assert "suites/parity/test_inputs.py::test_seed_and_shapes_reach_the_report" in machinery
    # Every test that takes the parity fixture stays, whatever file it lives in.
    kept_files = (
        "test_ops.py::test_forward",
        "test_ops.py::test_second_order",
        "test_metamorphic.py::",
        "test_optimizers.py::",
        "test_programs.py::",
    )
    for kept in kept_files:
        assert any(kept in name for name in checks), kept
    assert not any("test_machinery.py" in name for name in checks)
