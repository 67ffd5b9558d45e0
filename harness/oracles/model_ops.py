"""A workload's model written in catalog ops, for the metamorphic properties.

:func:`model_loss` writes any model of :mod:`harness.architectures` (linear stacks, ``cnn``,
``cnn-bn``, ``gpt``) as calls of a target's op table (:meth:`harness.contract.Backend.ops`),
so the properties differentiate it with the target's own ``vjp``. The arithmetic is the
training's (:mod:`harness.architectures` describes it; ``implementations/torch_models.py``
builds it from PyTorch modules): the same parameters in the same layouts, the same layers in
the same order, every op called with its catalog parameters (defaults where the layer does
not set one). Two layers are spelled with other catalog ops than a module would use:

* a block's fused ``qkv`` linear is three linears on the rows ``take`` picks from the fused
  weight and bias (queries, keys, values in that order): each output is the same dot
  product as the fused linear's slice, and the three gradients accumulate into the one
  fused parameter, as the split's do;
* heads are split and merged with ``reshape`` and the middle-axes swap
  ``einsum1("abcd->acbd")`` (PyTorch's ``reshape(b, t, h, e).transpose(1, 2)``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from harness import catalog
from harness.architectures import NORM_EPS, Layer

LAYER_OPS: dict[str, tuple[str, ...]] = {
    "linear": ("linear",),
    "conv2d": ("conv2d",),
    "batchnorm2d": ("batch_norm_train",),
    "relu": ("relu",),
    "tanh": ("tanh",),
    "gelu": ("gelu",),
    "maxpool2d": ("max_pool2d",),
    "flatten": ("reshape",),
    "unflatten": ("reshape",),
    "embed": ("embedding", "add"),
    "block": (
        "layer_norm_affine",
        "take",
        "linear",
        "reshape",
        "einsum1",
        "scaled_dot_product_attention",
        "add",
        "gelu",
    ),
    "layernorm": ("layer_norm_affine",),
}
"""The catalog ops each layer kind is written with (every kind of
:data:`harness.architectures.LAYER_KINDS`)."""

HEADS_SWAP = "abcd->acbd"
"""``einsum1``'s equation that moves heads between axes 1 and 2."""


def needed_ops(layers: Sequence[Layer], loss: str, sequence: bool) -> list[str]:
    """The catalog ops :func:`model_loss` calls for this model, in first-use order."""
    names = [op for layer in layers for op in LAYER_OPS[layer.kind]]
    names += [loss, *(["reshape"] if sequence else [])]
    return list(dict.fromkeys(names))


def model_loss(
    ops: Any,
    layers: Sequence[Layer],
    loss: str,
    *,
    sequence: bool = False,
    constant: Callable[[np.ndarray], Any] | None = None,
) -> Callable[..., Any]:
    """``f(*params, x, y)``: the model's mean loss written with the catalog ops ``ops``.

    ``params`` are :func:`harness.architectures.init_params`' list (``state_dict`` order).
    Binary labels are passed as ``(n, 1)`` so that ``bce_with_logits`` sees equal shapes;
    a ``sequence`` model's loss is the mean over every position of its ``(n, t)`` labels.
    ``constant`` turns an int64 NumPy array into the target's array (the positions and the
    ``take`` indices of embeddings and attention blocks: models without them need none).
    """

    def call(name: str, *arrays: Any, **params: Any) -> Any:
        return ops[name](*arrays, **(catalog.get(name).defaults() | params))

    def arange(start: int, stop: int) -> Any:
        # Made on every call, never cached: the loss stays pure, so a compiling backend may
        # trace it (a cached constant made while tracing would leak the tracer).
        if constant is None:
            raise ValueError("this model needs index constants: pass constant=")
        return constant(np.arange(start, stop, dtype=np.int64))

    def ln(x: Any, w: Any, b: Any) -> Any:
        return call("layer_norm_affine", x, w, b, eps=NORM_EPS)

    def block(p: Sequence[Any], x: Any, heads: int) -> Any:
        ln1w, ln1b, qkvw, qkvb, projw, projb, ln2w, ln2b, fc1w, fc1b, fc2w, fc2b = p
        b, t, d = (int(s) for s in x.shape)
        e = d // heads
        h = ln(x, ln1w, ln1b)
        qkv = []
        for j in range(3):
            rows = arange(j * d, (j + 1) * d)
            z = call("linear", h, call("take", qkvw, rows), call("take", qkvb, rows))
            z = call("reshape", z, shape=(b, t, heads, e))
            qkv.append(call("einsum1", z, equation=HEADS_SWAP))
        att = call("scaled_dot_product_attention", *qkv, is_causal=True, scale=1 / math.sqrt(e))
        merged = call("reshape", call("einsum1", att, equation=HEADS_SWAP), shape=(b, t, d))
        x = call("add", x, call("linear", merged, projw, projb))
        h = call("gelu", call("linear", ln(x, ln2w, ln2b), fc1w, fc1b), approximate="none")
        return call("add", x, call("linear", h, fc2w, fc2b))

    def layer_fn(layer: Layer, p: Sequence[Any], h: Any) -> Any:
        k, a = layer.kind, dict(layer.args)
        if k == "linear":
            return call("linear", h, *p)
        if k == "conv2d":
            return call("conv2d", h, *p, padding=a["padding"])
        if k == "batchnorm2d":
            return call("batch_norm_train", h, *p, eps=NORM_EPS)
        if k == "layernorm":
            return ln(h, *p)
        if k in ("relu", "tanh"):
            return call(k, h)
        if k == "gelu":
            return call("gelu", h, approximate="none")
        if k == "maxpool2d":
            return call("max_pool2d", h, kernel_size=a["kernel"], stride=a["kernel"])
        if k == "flatten":
            return call("reshape", h, shape=(int(h.shape[0]), -1))
        if k == "unflatten":
            return call("reshape", h, shape=(int(h.shape[0]), a["c"], a["h"], a["w"]))
        if k == "embed":
            positions = call("embedding", p[1], arange(0, int(h.shape[1])))
            return call("add", call("embedding", p[0], h), positions)
        if k == "block":
            return block(p, h, a["heads"])
        raise ValueError(f"unknown layer kind {k!r}; valid kinds: {', '.join(LAYER_OPS)}")

    counts = [len(layer.param_shapes()) for layer in layers]

    def f(*args: Any) -> Any:
        params, x, y = args[:-2], args[-2], args[-1]
        h, i = x, 0
        for layer, n in zip(layers, counts, strict=True):
            h = layer_fn(layer, params[i : i + n], h)
            i += n
        if sequence:
            h = call("reshape", h, shape=(-1, int(h.shape[-1])))
            y = call("reshape", y, shape=(-1,))
        return call(loss, h, y)

    return f
