"""The ``harness`` command's first and last code: Ctrl-C is recorded before the heavy
imports, and the process ends without the interpreter's teardown.

Both ways in (the console script and ``python -m harness``) come here. Python's default
SIGINT handler would raise :class:`KeyboardInterrupt` in the middle of importing NumPy or a
framework and print a traceback; :func:`harness.interrupt.install` records the request
instead, and :func:`harness.cli.main` honours it (exit 130) once the imports are done.

Once the command has returned, :func:`exit_now` ends the process. The interpreter's own
shutdown tears down every module one by one; with PyTorch and JAX loaded that took 0.9-1.4 s
of CPU (a script importing both, timed with and without it at load average 7.7) and 2.6 s
wall after ``harness compare`` had returned (load average 2.6). Everything a normal exit does that
matters still happens: the other non-daemon threads are joined, the :mod:`atexit` handlers
run (multiprocessing's, JAX's, the worker groups'), and stdout and stderr are flushed.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from typing import NoReturn

from harness import interrupt


def exit_now(code: int) -> NoReturn:
    """End the process with ``code`` after what a normal exit does, minus the teardown."""
    for t in threading.enumerate():
        if t is not threading.current_thread() and not t.daemon:
            t.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            code = code or 120  # Python's own status when flushing stdout fails at exit
    os._exit(code)


def main() -> NoReturn:
    """Install the Ctrl-C handler, then import and run the CLI, and end the process."""
    interrupt.install()
    from harness.cli import main as cli_main

    exit_now(cli_main())
