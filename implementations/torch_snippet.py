"""Standalone snippets for backends with PyTorch's API (PyTorch itself and the NumPy engine).

:meth:`harness.contract.Backend.snippet` of both backends: the failing op as code on the
framework's own tensors -- its op function written out (:func:`harness.snippets.op_source`),
the inputs as literals, the value or the gradient through ``backward``, then the expected
values with the check's tolerance (:func:`harness.snippets.tail`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from harness.snippets import SnippetRequest, literal, op_lines, tail


def render(request: SnippetRequest, imports: Sequence[str], namespaces: Mapping[str, Any]) -> str:
    """The snippet, with ``imports`` (which bind the aliases of ``namespaces``) first."""
    dev = request.device
    lines = ["import numpy as np", *imports, *op_lines(request, namespaces), ""]
    lines += ["inputs = [", *(f"    {literal(np.asarray(x))}," for x in request.inputs), "]"]
    to = "" if dev == "cpu" else f".to({dev!r})"
    lines.append(f"xs = [torch.from_numpy(x.copy()){to} for x in inputs]")
    if request.what == "value":
        lines.append("got = op(*xs).detach().cpu().numpy()")
    else:
        assert request.cotangent is not None and request.argnum is not None
        lines += [
            f"for i in {list(request.argnums)!r}:",
            "    xs[i].requires_grad_(True)",
            "out = op(*xs)",
            f"cotangent = {literal(np.asarray(request.cotangent))}",
            f"out.backward(torch.from_numpy(cotangent){to})",
            f"got = xs[{request.argnum}].grad.detach().cpu().numpy()",
        ]
    return "\n".join(_dedupe(lines) + tail(request))


def _dedupe(lines: list[str]) -> list[str]:
    """``lines`` with repeated import lines dropped (the op's source may import again)."""
    seen: set[str] = set()
    out = []
    for line in lines:
        if line.startswith("import ") and line in seen:
            continue
        seen.add(line)
        out.append(line)
    return out
