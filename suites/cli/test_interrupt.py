"""Ctrl-C on ``harness compare``: always exit 130, no run folder, nothing staged left.

A real subprocess is interrupted with SIGINT at many points: during the start-up imports
and discovery, during training, and once its last run has finished (while it writes the
run folder and plots).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from suites.cli.conftest import subprocess_env

DELAYS_S = [0.3, 0.6, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0]
"""Seconds after start: imports and discovery first, then training (many epochs)."""


def _start(out: Path, epochs: int) -> subprocess.Popen[str]:
    # python -m harness (not the console script) so the start-up imports are covered too.
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "harness",
            "compare",
            "--targets",
            "torch,numpy",
            "--epochs",
            str(epochs),
            "--out",
            str(out),
        ],
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _assert_stopped_clean(proc: subprocess.Popen[str], out: Path) -> None:
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 130, f"rc {proc.returncode}\n{stdout}\n{stderr}"
    assert "Exception ignored" not in stderr, stderr
    assert "Traceback" not in stderr, stderr
    left = sorted(p.name for p in out.iterdir()) if out.exists() else []
    assert left == [], f"an interrupted run left {left}"


@pytest.mark.parametrize("delay", DELAYS_S)
def test_ctrl_c_at_any_time_exits_130_and_leaves_nothing(delay: float, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = _start(out, epochs=3000)
    time.sleep(delay)
    assert proc.poll() is None, "finished before the signal; raise --epochs"
    proc.send_signal(signal.SIGINT)
    _assert_stopped_clean(proc, out)


@pytest.mark.parametrize("line", [1, 4])
def test_ctrl_c_after_a_run_finished_or_while_writing(line: int, tmp_path: Path) -> None:
    """After the first run's progress line (between runs) and after the last one (writing)."""
    out = tmp_path / "out"
    proc = _start(out, epochs=20)
    assert proc.stdout is not None
    seen = 0
    while seen < line:
        text = proc.stdout.readline()
        assert text, "the run ended before its progress lines"
        seen += text.startswith("[")
    proc.send_signal(signal.SIGINT)
    _assert_stopped_clean(proc, out)
