"""A suites run split over pytest-xdist workers writes the serial run's parity report and
coverage matrix: every worker's rows reach the controller, in one canonical order."""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
from pathlib import Path

from harness import parity_report
from harness.parity_report import Row

ROOT = Path(__file__).resolve().parents[2]


def test_report_does_not_depend_on_the_order_rows_arrive_in(tmp_path: Path) -> None:
    rows = [
        Row(t, s, o, d, kind, status="pass")
        for t in ("b:cpu", "a:cpu")
        for s, kind in (("tanh", "op"), ("exp", "op"), ("digits-mlp-sgd", "training"))
        for o in (("trajectory", "accuracy") if kind == "training" else ("vjp", "forward"))
        for d in ("float64", "float32")
    ]
    shuffled = rows[:]
    random.Random(0).shuffle(shuffled)
    a = parity_report.write(tmp_path / "a", rows, {})
    b = parity_report.write(tmp_path / "b", shuffled, {})
    for x, y in zip(a, b, strict=True):
        assert x.read_text() == y.read_text()


def _run(out: Path, *extra: str) -> tuple[dict, str]:
    cmd = [
        sys.executable, "-m", "pytest", str(ROOT / "suites" / "parity" / "test_ops.py"),
        "-p", "no:cacheprovider", "--rootdir", str(ROOT), "-c", str(ROOT / "pyproject.toml"),
        "--targets", "numpy", "--reference", "numpy", "--parity-out", str(out), "-q",
        "-k", "(test_forward or test_vjp_fd) and (tanh or exp or mul or sum)", *extra,
    ]  # fmt: skip
    subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=True)
    report = json.loads((out / "report.json").read_text())
    for volatile in ("started", "duration_s"):
        report["meta"].pop(volatile)
    return report, (out / "coverage.md").read_text()


def test_xdist_workers_write_the_serial_report(tmp_path: Path) -> None:
    serial = _run(tmp_path / "serial")
    parallel = _run(tmp_path / "xdist", "-n", "2")
    assert serial[0]["counts"]["numpy:cpu"]["pass"] >= 8  # the checks did run
    assert json.dumps(parallel[0]) == json.dumps(serial[0])
    assert parallel[1] == serial[1]


def test_xdist_keeps_each_op_of_a_target_on_one_worker(tmp_path: Path) -> None:
    """``loadgroup`` holds: every check of one op on one target runs on the same worker (a JIT
    compiles per process, the training cache is per process), whatever pytest's version."""
    cmd = [
        sys.executable, "-m", "pytest", str(ROOT / "suites" / "parity" / "test_ops.py"),
        "-p", "no:cacheprovider", "--rootdir", str(ROOT), "-c", str(ROOT / "pyproject.toml"),
        "--targets", "numpy", "--reference", "numpy", "--parity-out", str(tmp_path), "-v",
        "-k", "(test_forward or test_vjp_fd) and (tanh or exp or mul or sum)", "-n", "2",
    ]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=True).stdout
    workers: dict[str, set[str]] = {}
    for line in out.splitlines():
        m = re.match(r"\[(gw\d+)\].* PASSED \S+::test_\w+\[numpy:cpu-(\w+)-float\d\d\]", line)
        if m:
            workers.setdefault(m.group(2), set()).add(m.group(1))
    assert set(workers) >= {"tanh", "exp", "mul", "sum"}, out
    split = {op: sorted(w) for op, w in workers.items() if len(w) > 1}
    assert not split, f"an op's checks ran on several workers: {split}"
