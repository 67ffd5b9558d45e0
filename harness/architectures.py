"""Models as data: a backend-neutral description of layers, and its seeded initial parameters.

A model is a sequence of :class:`Layer` s applied in order. Each backend builds the same
model with its own stack from this description (PyTorch ``nn.Module`` s, the engine's
``nn``, plain JAX) and loads the parameters the harness drew here, by name, in PyTorch's
``state_dict`` order and layouts, so every backend does the same arithmetic.

Layer kinds and their parameters (PyTorch's names and layouts):

* ``linear`` (in, out): ``weight (out, in)``, ``bias (out,)``. Applied to the last axis.
* ``conv2d`` (in, out, kernel, padding): ``weight (out, in, k, k)``, ``bias (out,)``, stride 1.
* ``batchnorm2d`` (channels): ``weight``, ``bias``; buffers ``running_mean``, ``running_var``,
  ``num_batches_tracked``, momentum 0.1, eps 1e-5 (PyTorch's defaults).
* ``relu``, ``tanh``, ``gelu`` (exact erf form), ``maxpool2d`` (kernel = stride),
  ``flatten`` (all but the batch axis), ``unflatten`` (shape: the rows' features as an image).
* ``embed`` (vocab, d, context): token ``tok.weight (vocab, d)`` plus position
  ``pos.weight (context, d)`` embeddings of an int64 ``(B, T)`` input, summed.
* ``block`` (d, heads, ff): a pre-norm transformer block,
  ``x + proj(attn(ln1(x)))`` with causal multi-head self-attention whose queries, keys and
  values are one ``qkv`` linear ``(3d, d)`` split in that order and heads of ``d / heads``
  features, scaled by ``1/sqrt(d / heads)``; then ``x + fc2(gelu(fc1(ln2(x))))``.
* ``layernorm`` (d): ``weight``, ``bias``, eps 1e-5.

Default initializations are PyTorch's: linear and convolution weights and biases uniform in
``+-1/sqrt(fan_in)`` (``kaiming_uniform(a=sqrt(5))`` gives that bound), embeddings standard
normal, normalization weights 1 and biases 0.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

NORM_EPS = 1e-5
BN_MOMENTUM = 0.1

LAYER_KINDS = (
    "linear",
    "conv2d",
    "batchnorm2d",
    "relu",
    "tanh",
    "gelu",
    "maxpool2d",
    "flatten",
    "unflatten",
    "embed",
    "block",
    "layernorm",
)


@dataclass(frozen=True)
class Layer:
    """One layer: its kind (:data:`LAYER_KINDS`) and integer arguments by name."""

    kind: str
    args: tuple[tuple[str, Any], ...] = ()

    def __getitem__(self, key: str) -> Any:
        return dict(self.args)[key]

    def param_shapes(self) -> list[tuple[str, tuple[int, ...]]]:
        """This layer's parameters, ``(name within the layer, shape)``, in PyTorch's order."""
        a = dict(self.args)
        if self.kind == "linear":
            return [("weight", (a["out"], a["in"])), ("bias", (a["out"],))]
        if self.kind == "conv2d":
            k = a["kernel"]
            return [("weight", (a["out"], a["in"], k, k)), ("bias", (a["out"],))]
        if self.kind in ("batchnorm2d", "layernorm"):
            n = a["channels"] if self.kind == "batchnorm2d" else a["d"]
            return [("weight", (n,)), ("bias", (n,))]
        if self.kind == "embed":
            return [("tok.weight", (a["vocab"], a["d"])), ("pos.weight", (a["context"], a["d"]))]
        if self.kind == "block":
            d, ff = a["d"], a["ff"]
            return [
                ("ln1.weight", (d,)),
                ("ln1.bias", (d,)),
                ("qkv.weight", (3 * d, d)),
                ("qkv.bias", (3 * d,)),
                ("proj.weight", (d, d)),
                ("proj.bias", (d,)),
                ("ln2.weight", (d,)),
                ("ln2.bias", (d,)),
                ("fc1.weight", (ff, d)),
                ("fc1.bias", (ff,)),
                ("fc2.weight", (d, ff)),
                ("fc2.bias", (d,)),
            ]
        return []


def param_names(layers: tuple[Layer, ...]) -> list[str]:
    """Every parameter's ``state_dict`` name (``"<layer index>.<name>"``), in order."""
    return [f"{i}.{n}" for i, layer in enumerate(layers) for n, _ in layer.param_shapes()]


def init_params(layers: tuple[Layer, ...], seed: int, dtype: str) -> list[np.ndarray]:
    """PyTorch's default initial parameters for ``layers``, seeded, in ``state_dict`` order.

    Drawn in float64 from one generator (``[seed, 1]``, as the linear stacks), then cast, so
    float32 and float64 runs start from the same values. For a stack of ``linear`` layers
    the draws are exactly :func:`harness.workload.init_params`'s.
    """
    rng = np.random.default_rng([seed, 1])
    out: list[np.ndarray] = []
    for layer in layers:
        a = dict(layer.args)
        if layer.kind in ("linear", "conv2d"):
            (_, w_shape), (_, b_shape) = layer.param_shapes()
            fan_in = int(np.prod(w_shape[1:]))
            bound = 1.0 / math.sqrt(fan_in)
            out.append(rng.uniform(-bound, bound, size=w_shape))
            out.append(rng.uniform(-bound, bound, size=b_shape))
        elif layer.kind in ("batchnorm2d", "layernorm"):
            n = a["channels"] if layer.kind == "batchnorm2d" else a["d"]
            out += [np.ones(n), np.zeros(n)]
        elif layer.kind == "embed":
            out.append(rng.standard_normal((a["vocab"], a["d"])))
            out.append(rng.standard_normal((a["context"], a["d"])))
        elif layer.kind == "block":
            for name, shape in layer.param_shapes():
                if name.startswith("ln"):
                    out.append(np.ones(shape) if name.endswith("weight") else np.zeros(shape))
                elif name.endswith("weight"):
                    bound = 1.0 / math.sqrt(shape[1])
                    out.append(rng.uniform(-bound, bound, size=shape))
                else:  # a linear's bias: the bound of its weight's fan-in
                    fan_in = a["d"] if name.split(".")[0] in ("qkv", "proj", "fc1") else a["ff"]
                    bound = 1.0 / math.sqrt(fan_in)
                    out.append(rng.uniform(-bound, bound, size=shape))
    return [p.astype(dtype) for p in out]


def linear_stack(sizes: tuple[int, ...], activation: str) -> tuple[Layer, ...]:
    """``linear`` layers of ``sizes`` with ``activation`` between them (none after the last)."""
    layers: list[Layer] = []
    for k, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
        layers.append(Layer("linear", (("in", fan_in), ("out", fan_out))))
        if k < len(sizes) - 2:
            layers.append(Layer(activation))
    return tuple(layers)


def cnn(n_classes: int, image: tuple[int, int, int], batchnorm: bool) -> tuple[Layer, ...]:
    """Two 3x3 convolutions (8 and 16 channels, padding 1) with ReLU (and BatchNorm before
    each ReLU with ``batchnorm``), a 2x2 max-pool and a linear head."""
    c, h, w = image
    layers: list[Layer] = [Layer("unflatten", (("c", c), ("h", h), ("w", w)))]
    for cin, cout in ((c, 8), (8, 16)):
        layers.append(Layer("conv2d", (("in", cin), ("out", cout), ("kernel", 3), ("padding", 1))))
        if batchnorm:
            layers.append(Layer("batchnorm2d", (("channels", cout),)))
        layers.append(Layer("relu"))
    layers += [
        Layer("maxpool2d", (("kernel", 2),)),
        Layer("flatten"),
        Layer("linear", (("in", 16 * (h // 2) * (w // 2)), ("out", n_classes))),
    ]
    return tuple(layers)


def gpt(
    vocab: int, context: int, d: int = 32, heads: int = 2, n_blocks: int = 2
) -> tuple[Layer, ...]:
    """A decoder-only transformer: embeddings, ``n_blocks`` pre-norm blocks (MLP of ``4d``),
    a final layer norm and a linear head to ``vocab`` logits per position."""
    block = Layer("block", (("d", d), ("heads", heads), ("ff", 4 * d)))
    return (
        Layer("embed", (("vocab", vocab), ("d", d), ("context", context))),
        *([block] * n_blocks),
        Layer("layernorm", (("d", d),)),
        Layer("linear", (("in", d), ("out", vocab))),
    )


def has_batch_statistics(layers: tuple[Layer, ...]) -> bool:
    """Whether a row's output depends on the other rows of its batch (BatchNorm in training)."""
    return any(layer.kind == "batchnorm2d" for layer in layers)
