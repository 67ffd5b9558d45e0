"""Ctrl-C on ``harness compare``: always exit 130, no run folder, nothing staged left.

A real subprocess is interrupted with SIGINT at many points: during the start-up imports
and discovery, during training, and once its last run has finished (while it writes the
run folder and plots).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from harness import interrupt
from harness.commands import parity
from suites.cli.conftest import subprocess_env

DELAYS_S = [0.15, 0.3, 0.45, 0.6, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0]
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


# -- harness check: a terminal's Ctrl-C reaches the whole process group -----------------------

SUITE_POINTS = [
    ("check", "start", "1"),
    ("check", "collected", "1"),
    ("check", "report:", "1"),
    ("check", "[1/", "1"),
    ("parity", "collected", "1"),
    ("parity", "2 workers [", "2"),
]
"""Where to interrupt ``harness check``: during start-up, while the parity suites run in
pytest, between the suites and training, and during training; ``harness parity`` while its
pytest runs, in one process and on two pytest-xdist workers (``--workers``)."""

SUITE_ARGS = {
    "check": ["--target", "numpy", "--epochs", "3000", "--no-plots"],
    "parity": ["--targets", "numpy"],
}


@pytest.mark.parametrize(("command", "point", "workers"), SUITE_POINTS)
def test_ctrl_c_on_check_or_parity_exits_130_and_leaves_nothing(
    command: str, point: str, workers: str, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness", command, *SUITE_ARGS[command], "--workers", workers,
         "--out", str(out), "--", "-k", "relu"],
        env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    assert proc.stdout is not None
    if point == "start":
        time.sleep(0.5)
    else:
        seen: list[str] = []
        while not seen or not seen[-1].lstrip().startswith(point):
            line = proc.stdout.readline()
            assert line, "check ended before " + repr(point) + "\n" + "".join(seen)
            seen.append(line)
    assert proc.poll() is None, "finished before the signal"
    os.killpg(proc.pid, signal.SIGINT)
    stdout, _ = proc.communicate(timeout=300)
    assert proc.returncode == 130, f"rc {proc.returncode}\n{stdout}"
    assert "Exception ignored" not in stdout and "Traceback" not in stdout, stdout
    left = sorted(p.name for p in out.iterdir()) if out.exists() else []
    assert left in ([], [".pytest-cache"]), f"an interrupted {command} left {left}"


def test_the_suites_child_is_out_of_reach_of_the_terminal_and_stops_while_silent() -> None:
    """pytest runs in its own session (a terminal's Ctrl-C reaches only harness), and a
    Ctrl-C while it prints nothing still ends it within a poll, not when it next prints."""
    child = "import os, sys, time; print(os.getsid(0), flush=True); time.sleep(60)"
    lines: list[str] = []
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT))
    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt), interrupt.deferred():
        timer.start()
        parity._stream([sys.executable, "-c", child], lines.append)
    assert time.monotonic() - start < 1.0 + 5 * parity.POLL_S + 10
    assert int(lines[0]) != os.getsid(0), "pytest shares the terminal's session"
