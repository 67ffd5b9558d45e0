"""The broadcast-reduction oracle: a broadcast argument's gradient is the sum of the
gradient of its materialized (broadcast) copy over the dimensions broadcasting added."""

from __future__ import annotations

import numpy as np

from harness.oracles.agreement import Agreement, assert_agree
from harness.oracles.ops import Call, _vjp_scale, op_oracle


def reduce_to_shape(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``g`` (float64) over the dimensions that broadcasting added or stretched."""
    g = np.asarray(g, dtype=np.float64)
    lead = g.ndim - len(shape)
    if lead:
        g = g.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, s in enumerate(shape) if s == 1 and g.shape[i] != 1)
    return g.sum(axis=axes, keepdims=True) if axes else g


@op_oracle()
def broadcast_reduction(call: Call) -> Agreement:
    """Gradient w.r.t. broadcast inputs = reduced gradient w.r.t. the materialized inputs."""
    spec, inputs = call.spec, call.inputs
    if spec.shapes != "broadcast":
        raise ValueError(f"op {call.op!r} does not broadcast (shape rule {spec.shapes!r})")
    shape = np.broadcast_shapes(*(x.shape for x in inputs))
    v = call.cotangent(shape)
    grads = call.vjp(v)
    full = [np.broadcast_to(x, shape).copy() for x in inputs]
    full_grads = call.vjp(v, inputs=full)
    rtol, atol = call.tolerance()
    results = []
    for i, g, gf in zip(call.argnums, grads, full_grads, strict=True):
        reduced = reduce_to_shape(gf, inputs[i].shape)
        # Summing k float32 terms in another order moves the result by up to ~k ulp of the
        # largest partial sum: scale atol by how many elements were summed.
        k = max(1, int(np.prod(shape)) // max(1, int(np.prod(inputs[i].shape))))
        results.append(
            assert_agree(
                g,
                reduced,
                rtol=rtol,
                atol=atol * _vjp_scale(v) * k,
                ctx=call.ctx,
                what=(
                    f"gradient of broadcast argument {i} {inputs[i].shape} is not the "
                    f"sum over the broadcast dimensions of the gradient at {shape}"
                ),
                dtype=call.dtype,
            )
        )
    return Agreement.worst(results)
