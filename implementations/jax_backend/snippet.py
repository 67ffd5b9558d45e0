"""The JAX backend's standalone snippet (:meth:`harness.contract.Backend.snippet`).

The failing op in plain JAX: 64-bit mode and full-precision matmuls on (as the backend runs
every op), the op function written out (:func:`harness.snippets.op_source`), the inputs as
literals, the value or ``jax.vjp``'s gradient, then the expected values with the check's
tolerance (:func:`harness.snippets.tail`).
"""

from __future__ import annotations

import numpy as np

from harness.snippets import SnippetRequest, literal, op_lines, tail


def render(request: SnippetRequest) -> str:
    """The snippet's source."""
    import jax
    import jax.numpy as jnp

    lines = [
        "import numpy as np",
        "import jax",
        "import jax.numpy as jnp",
        "",
        'jax.config.update("jax_enable_x64", True)',
        'jax.config.update("jax_default_matmul_precision", "highest")',
        f'device = jax.devices("{request.device}")[0]',
    ]
    own = op_lines(request, {"jnp": jnp, "jax.nn": jax.nn, "jax": jax})
    lines += [x for x in own if x not in lines]
    lines += ["", "inputs = [", *(f"    {literal(np.asarray(x))}," for x in request.inputs), "]"]
    lines.append("xs = [jax.device_put(x, device) for x in inputs]")
    if request.what == "value":
        lines.append("got = np.asarray(op(*xs))")
    else:
        assert request.cotangent is not None and request.argnum is not None
        i = request.argnum
        lines += [
            f"def at(x{i}):",
            f"    return op(*xs[:{i}], x{i}, *xs[{i + 1}:])",
            "",
            f"out, pullback = jax.vjp(at, xs[{i}])",
            f"cotangent = {literal(np.asarray(request.cotangent))}",
            "(grad,) = pullback(jnp.asarray(cotangent, dtype=out.dtype))",
            "got = np.asarray(grad)",
        ]
    return "\n".join(lines + tail(request))
