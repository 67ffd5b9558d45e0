"""The ``harness`` command's first code: Ctrl-C is recorded before the heavy imports.

Both ways in (the console script and ``python -m harness``) come here. Python's default
SIGINT handler would raise :class:`KeyboardInterrupt` in the middle of importing NumPy or a
framework and print a traceback; :func:`harness.interrupt.install` records the request
instead, and :func:`harness.cli.main` honours it (exit 130) once the imports are done.
"""

from __future__ import annotations

from harness import interrupt


def main() -> int:
    """Install the Ctrl-C handler, then import and run the CLI."""
    interrupt.install()
    from harness.cli import main as cli_main

    return cli_main()
