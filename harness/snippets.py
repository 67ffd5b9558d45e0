"""Standalone snippets: a failing op check in the backend's own framework, for an upstream report.

The harness reproducer (:func:`harness.oracles.agreement.reproducer`) re-runs a check through
the harness API. An upstream bug report needs code in the library's own terms, runnable
without the harness. A backend may implement :meth:`harness.contract.Backend.snippet`, which
receives a :class:`SnippetRequest` (the op's function, the inputs, what was computed, the
expected value) and returns Python source; the failure report prints it beside the harness
reproducer. The snippet ends with ``numpy.testing.assert_allclose`` against the expected
values as literals, so running it shows the disagreement (an AssertionError, exit 1).

:func:`op_source` renders a backend's op function (a lambda, a ``def``, a closure, or a
framework function found in the namespaces the backend names) as source that defines
``op``; :func:`literal` writes an array. The built-in backends' hooks are in
``implementations/`` (``torch_snippet.py`` for the PyTorch API, ``jax_backend/snippet.py``).
"""

from __future__ import annotations

import ast
import inspect
import linecache
import textwrap
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np


def literal(a: np.ndarray) -> str:
    """Python source rebuilding ``a`` exactly (:func:`harness.oracles.agreement.literal`)."""
    from harness.oracles.agreement import literal as _literal

    # Values only: a snippet runs without the harness, so it cannot rebuild a non-contiguous
    # layout through ``oracles.with_strides`` (the harness reproducer beside it does).
    return _literal(np.ascontiguousarray(a))


__all__ = ["SnippetRequest", "literal", "op_lines", "op_source", "tail"]


@dataclass(frozen=True)
class SnippetRequest:
    """A failing op check, as a backend's :meth:`~harness.contract.Backend.snippet` sees it."""

    title: str
    """``target  op  oracle  dtype``."""
    op: str
    fn: Callable[..., Any]
    """The backend's function for ``op`` (from its ``ops()``)."""
    inputs: tuple[np.ndarray, ...]
    device: str
    what: str
    """``value`` (the op's output) or ``vjp`` (the gradient of :attr:`argnum`)."""
    expected: np.ndarray
    rtol: float
    atol: float
    argnums: tuple[int, ...] = ()
    """The differentiable inputs (``vjp``)."""
    argnum: int | None = None
    """The input whose gradient disagreed (``vjp``)."""
    cotangent: np.ndarray | None = None
    """The cotangent pulled back (``vjp``)."""
    meta: Mapping[str, Any] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    """The op's non-tensor parameters the check called it with (``stride``, ``eps``, ...)."""


def _lambda_source(fn: types.FunctionType) -> str:
    """The source of the lambda ``fn``: the lambda on its first line with its arguments."""
    path = inspect.getsourcefile(fn)
    if path is None:
        raise ValueError(f"no source file for {fn!r}")
    text = "".join(linecache.getlines(path))
    args = fn.__code__.co_varnames[: fn.__code__.co_argcount]
    for node in ast.walk(ast.parse(text)):
        if (
            isinstance(node, ast.Lambda)
            and node.lineno == fn.__code__.co_firstlineno
            and tuple(a.arg for a in node.args.args) == args
        ):
            seg = ast.get_source_segment(text, node)
            if seg:
                return " ".join(seg.split())
    raise ValueError(f"cannot find the source of {fn!r}")


def _find(fn: Any, namespaces: Mapping[str, Any]) -> str | None:
    """``alias.name`` of ``fn`` in one of ``namespaces`` (``{"torch": torch, ...}``)."""
    for alias, mod in namespaces.items():
        for name in dir(mod):
            try:
                if getattr(mod, name) is fn:
                    return f"{alias}.{name}"
            except Exception:
                continue
    return None


def op_source(fn: Callable[..., Any], namespaces: Mapping[str, Any], name: str = "op") -> list[str]:
    """Source lines that define ``name`` as ``fn`` without the harness.

    A framework function is found by identity in ``namespaces`` (alias -> module, e.g.
    ``{"torch": torch, "F": torch.nn.functional}``); a Python function (a lambda, a
    ``def``, a closure) is written out with what it refers to: modules as imports,
    functions recursively, other values as literals. ``ValueError`` when ``fn`` cannot be
    written out.
    """
    found, fn = _unwrapped(fn, namespaces)
    if found is not None:
        return [f"{name} = {found}"]
    if not isinstance(fn, types.FunctionType):
        raise ValueError(f"cannot name {fn!r} in {', '.join(namespaces)}")
    return _function(fn, namespaces, name, seen=set())


def _unwrapped(
    fn: Callable[..., Any], namespaces: Mapping[str, Any]
) -> tuple[str | None, Callable[..., Any]]:
    """``(name in namespaces or None, fn)`` after unwrapping ``functools.wraps`` layers one
    at a time (a backend's own wrapper, a scope or a cast, around the op), stopping at the
    first function the namespaces name: the framework wraps its own too."""
    found = _find(fn, namespaces)
    while found is None and getattr(fn, "__wrapped__", None) is not None:
        fn = getattr(fn, "__wrapped__")  # noqa: B009 (mypy: Callable has no __wrapped__)
        found = _find(fn, namespaces)
    return found, fn


def op_lines(request: SnippetRequest, namespaces: Mapping[str, Any]) -> list[str]:
    """:func:`op_source` of ``request.fn`` as ``op``, bound to the check's parameters
    (``op = functools.partial(op, stride=2, ...)``) when it had any."""
    lines = op_source(request.fn, namespaces)
    if request.params:
        bound = ", ".join(f"{k}={v!r}" for k, v in request.params.items())
        lines = ["import functools", *lines, f"op = functools.partial(op, {bound})"]
    return lines


def _function(
    fn: types.FunctionType, namespaces: Mapping[str, Any], name: str, seen: set[str]
) -> list[str]:
    imports: list[str] = []
    defs: list[str] = []
    refs = inspect.getclosurevars(fn)
    for ref, value in {**refs.globals, **refs.nonlocals}.items():
        if ref in seen:
            continue
        seen.add(ref)
        if isinstance(value, types.ModuleType):
            imports.append(
                f"import {value.__name__}"
                if value.__name__ == ref
                else f"import {value.__name__} as {ref}"
            )
        elif callable(value):
            found, value = _unwrapped(value, namespaces)
            if found is not None:
                defs.append(f"{ref} = {found}")
            elif isinstance(value, types.FunctionType):
                defs += _function(value, namespaces, ref, seen)
            else:
                raise ValueError(f"cannot name {ref} = {value!r}")
        else:
            try:
                ast.literal_eval(repr(value))
            except (ValueError, SyntaxError):
                raise ValueError(f"cannot write {ref} = {value!r} as a literal") from None
            defs.append(f"{ref} = {value!r}")
    if fn.__name__ == "<lambda>":
        body = [f"{name} = {_lambda_source(fn)}"]
    else:
        body = _without_annotations(textwrap.dedent(inspect.getsource(fn))).splitlines()
        if fn.__name__ != name:
            body.append(f"{name} = {fn.__name__}")
    return [*imports, *defs, *body]


def _without_annotations(source: str) -> str:
    """``source`` of a ``def`` without annotations or decorators (their names may be
    unbound in a snippet: ``from __future__ import annotations`` keeps them as text)."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            node.returns = None
            node.decorator_list = []
        if isinstance(node, ast.arg):
            node.annotation = None
    return ast.unparse(tree)


def tail(request: SnippetRequest) -> list[str]:
    """The closing lines: ``got`` against the expected literal, within the check's tolerance."""
    return [
        f"expected = {literal(np.asarray(request.expected))}",
        f"print({request.title!r})",
        "print('got     ', got)",
        "print('expected', expected)",
        f"np.testing.assert_allclose(got, expected, rtol={request.rtol!r}, atol={request.atol!r})",
        "print('agrees')",
    ]
