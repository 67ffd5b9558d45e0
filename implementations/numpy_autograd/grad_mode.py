"""Whether operations are recorded for autograd: ``no_grad``, ``enable_grad`` and friends.

One process-wide flag (the engine is single-threaded). :func:`no_grad` and
:func:`enable_grad` work as context managers and as decorators, like PyTorch's.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

enabled = True
"""Read by every op: record a graph node only while this is True."""


def is_grad_enabled() -> bool:
    """True when new operations are recorded for autograd."""
    return enabled


class set_grad_enabled:
    """Set grad mode to ``mode``; as a context manager, restore the previous mode on exit."""

    def __init__(self, mode: bool) -> None:
        global enabled
        self.prev = enabled
        enabled = bool(mode)

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        global enabled
        enabled = self.prev


class _Mode:
    """A context manager *and* decorator that sets grad mode to ``self.mode`` inside."""

    mode = True

    def __enter__(self) -> None:
        global enabled
        self.prev = enabled
        enabled = self.mode

    def __exit__(self, *exc: object) -> None:
        global enabled
        enabled = self.prev

    def __call__(self, fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self.__class__():
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


class no_grad(_Mode):
    """Do not record operations: results do not require grad (context manager or decorator)."""

    mode = False


class enable_grad(_Mode):
    """Record operations again inside a ``no_grad`` region (context manager or decorator)."""

    mode = True


class inference_mode(no_grad):
    """Same as :class:`no_grad` here (the engine has no separate inference tensors)."""

    def __init__(self, mode: bool = True) -> None:
        self.mode = not mode
