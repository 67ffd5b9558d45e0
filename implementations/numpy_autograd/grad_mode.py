"""Whether operations are recorded for autograd: ``no_grad``, ``enable_grad`` and friends.

One process-wide flag (the engine is single-threaded). :func:`no_grad`, :func:`enable_grad`,
:func:`inference_mode` and :func:`set_grad_enabled` work as context managers and as
decorators, like PyTorch's; the first three also decorate bare (``@no_grad``).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

enabled = True
"""Read by every op: record a graph node only while this is True."""


def is_grad_enabled() -> bool:
    """True when new operations are recorded for autograd."""
    return enabled


def _under(mode: bool, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """Call ``fn`` with grad mode set to ``mode``, restoring the previous mode afterwards."""
    global enabled
    prev, enabled = enabled, mode
    try:
        return fn(*args, **kwargs)
    finally:
        enabled = prev


def _decorate(fn: F, mode: bool) -> F:
    """``fn`` running under grad mode ``mode`` (a generator function: each of its steps)."""
    if not inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return _under(mode, fn, *args, **kwargs)

        return wrapper  # type: ignore[return-value]

    # The mode must not leak to the caller while the generator is suspended, so set it
    # around each resume only (as PyTorch does).
    @functools.wraps(fn)
    def generator(*args: Any, **kwargs: Any) -> Any:
        gen = fn(*args, **kwargs)
        step, arg = gen.send, None
        while True:
            try:
                value = _under(mode, step, arg)
            except StopIteration as stop:
                return stop.value
            try:
                arg, step = (yield value), gen.send
            except GeneratorExit:
                _under(mode, gen.close)
                raise
            except BaseException as exc:
                arg, step = exc, gen.throw

    return generator  # type: ignore[return-value]


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
        return _decorate(fn, self.mode)


class _NoParamMode(_Mode):
    """A :class:`_Mode` that also decorates without parentheses: ``@no_grad``."""

    def __new__(cls, orig_func: Callable[..., Any] | None = None) -> Any:
        if orig_func is None:
            return super().__new__(cls)
        return cls()(orig_func)


class no_grad(_NoParamMode):
    """Do not record operations: results do not require grad (context manager or decorator)."""

    mode = False


class enable_grad(_NoParamMode):
    """Record operations again inside a ``no_grad`` region (context manager or decorator)."""

    mode = True


class inference_mode(_Mode):
    """Same as :class:`no_grad` here (the engine has no separate inference tensors);
    ``inference_mode(False)`` enables grad, as in PyTorch."""

    def __new__(cls, mode: bool | Callable[..., Any] = True) -> Any:
        if isinstance(mode, bool):
            return super().__new__(cls)
        return cls()(mode)  # bare ``@inference_mode``

    def __init__(self, mode: bool = True) -> None:
        self.mode = not mode


class set_grad_enabled(_Mode):
    """Set grad mode to ``mode`` now; as a context manager, restore the previous mode on
    exit; as a decorator, apply ``mode`` only inside the decorated function."""

    def __init__(self, mode: bool) -> None:
        global enabled
        self.prev, self.mode = enabled, bool(mode)
        enabled = self.mode

    def __enter__(self) -> None:
        global enabled
        enabled = self.mode

    def __call__(self, fn: F) -> F:
        global enabled
        enabled = self.prev  # undo __init__: the decorator form changes nothing outside ``fn``
        return super().__call__(fn)
