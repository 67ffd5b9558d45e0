"""The ``harness`` process ends through :func:`harness.start.exit_now` (no interpreter
teardown): what a normal exit guarantees must still happen."""

from __future__ import annotations

import subprocess
import sys

from .conftest import subprocess_env

_SCRIPT = """
import atexit, sys, threading, time
from harness.start import exit_now

def late():
    time.sleep(0.3)
    print("thread finished")

atexit.register(lambda: print("atexit ran"))
threading.Thread(target=late).start()
print("stdout line")
print("stderr line", file=sys.stderr)
exit_now(3)
"""


def test_exit_now_keeps_the_code_output_threads_and_atexit_handlers() -> None:
    env = subprocess_env()
    env.pop("PYTHONUNBUFFERED", None)  # buffered, as a piped stdout normally is
    out = subprocess.run(
        [sys.executable, "-c", _SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 3, out.stderr
    assert out.stdout.splitlines() == ["stdout line", "thread finished", "atexit ran"]
    assert out.stderr.splitlines() == ["stderr line"]
