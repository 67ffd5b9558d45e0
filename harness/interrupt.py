"""Ctrl-C that stops a training command cleanly, at a safe point.

Python's default SIGINT handler raises :class:`KeyboardInterrupt` wherever the main thread
happens to be, including inside callbacks whose exceptions the interpreter only prints
("Exception ignored in ...", e.g. JAX's garbage-collection callback), after which the
training goes on. :func:`deferred` replaces it with a handler that only records the
request; :func:`check` raises at the safe points (between epochs and runs, before and after
writing), so the command always stops, removes what it had staged and exits 130.
A second Ctrl-C raises at once.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

_requested = False


def _handler(signum: int, frame: FrameType | None) -> None:
    global _requested
    if _requested:
        raise KeyboardInterrupt
    _requested = True


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def install() -> None:
    """Record Ctrl-C instead of raising (for the start-up imports of ``python -m harness``)."""
    if _main_thread():
        signal.signal(signal.SIGINT, _handler)


def release() -> None:
    """Put Python's default handler back if :func:`install` set ours (other commands)."""
    if _main_thread() and signal.getsignal(signal.SIGINT) is _handler:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def requested() -> bool:
    """Whether Ctrl-C was pressed since the handler was installed."""
    return _requested


def check() -> None:
    """Raise :class:`KeyboardInterrupt` if Ctrl-C was pressed (call at safe points)."""
    if _requested:
        raise KeyboardInterrupt


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Ctrl-C is recorded, and raised by :func:`check`, inside the block; the previous
    handler (and a clear request flag) come back on exit."""
    global _requested
    if not _main_thread():
        yield
        return
    previous: Any = signal.signal(signal.SIGINT, _handler)
    try:
        yield
        check()
    finally:
        signal.signal(signal.SIGINT, previous)
        _requested = False
