"""The harness' layer descriptions as ``nn.Module`` s, written once for every PyTorch-API stack.

PyTorch and the NumPy engine (PyTorch's API on NumPy) build a model from
:mod:`harness.architectures`' layers with the same code; only the namespace (``torch``,
its ``nn`` and ``nn.functional``) differs. The model is an ``nn.Sequential`` of one module
per layer, so ``state_dict`` names are ``"<layer index>.<name>"``, the harness' own names
(:func:`harness.architectures.param_names`); :func:`build` checks them and loads the
harness' initial parameters by name.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from harness.architectures import BN_MOMENTUM, NORM_EPS, Layer, param_names
from harness.workload import ModelSpec


def _modules(torch: Any) -> dict[str, Any]:
    """The composite modules (embeddings, transformer block) on the namespace ``torch``."""
    nn, F = torch.nn, torch.nn.functional

    class Embed(nn.Module):  # type: ignore[name-defined]
        """Token plus position embeddings of an int64 ``(B, T)`` batch."""

        def __init__(self, vocab: int, d: int, context: int) -> None:
            super().__init__()
            self.tok = nn.Embedding(vocab, d)
            self.pos = nn.Embedding(context, d)

        def forward(self, idx: Any) -> Any:
            positions = torch.arange(idx.shape[1])
            return self.tok(idx) + self.pos(positions)

    class Block(nn.Module):  # type: ignore[name-defined]
        """Pre-norm causal self-attention and GELU MLP, each with a residual."""

        def __init__(self, d: int, heads: int, ff: int) -> None:
            super().__init__()
            self.heads = heads
            self.ln1 = nn.LayerNorm(d, eps=NORM_EPS)
            self.qkv = nn.Linear(d, 3 * d)
            self.proj = nn.Linear(d, d)
            self.ln2 = nn.LayerNorm(d, eps=NORM_EPS)
            self.fc1 = nn.Linear(d, ff)
            self.fc2 = nn.Linear(ff, d)

        def forward(self, x: Any) -> Any:
            b, t, d = x.shape
            hd = d // self.heads
            q, k, v = self.qkv(self.ln1(x)).split(d, dim=-1)
            q, k, v = (a.reshape(b, t, self.heads, hd).transpose(1, 2) for a in (q, k, v))
            att = F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=1 / math.sqrt(hd))
            x = x + self.proj(att.transpose(1, 2).reshape(b, t, d))
            return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))

    return {"embed": Embed, "block": Block}


def layer_module(layer: Layer, torch: Any, composite: dict[str, Any]) -> Any:
    """One layer as a module of the namespace ``torch``."""
    nn = torch.nn
    k, a = layer.kind, dict(layer.args)
    if k == "linear":
        return nn.Linear(a["in"], a["out"])
    if k == "conv2d":
        return nn.Conv2d(a["in"], a["out"], a["kernel"], padding=a["padding"])
    if k == "batchnorm2d":
        return nn.BatchNorm2d(a["channels"], eps=NORM_EPS, momentum=BN_MOMENTUM)
    if k == "layernorm":
        return nn.LayerNorm(a["d"], eps=NORM_EPS)
    if k == "maxpool2d":
        return nn.MaxPool2d(a["kernel"])
    if k == "flatten":
        return nn.Flatten()
    if k == "unflatten":
        return nn.Unflatten(1, (a["c"], a["h"], a["w"]))
    if k in ("relu", "tanh", "gelu"):
        return {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU}[k]()
    if k in composite:
        return composite[k](**a)
    raise ValueError(f"unknown layer kind {k!r}")


def build(layers: tuple[Layer, ...], init: list[np.ndarray], torch: Any, dtype: Any) -> Any:
    """``nn.Sequential`` of ``layers`` in ``dtype`` holding the harness' parameters ``init``."""
    composite = _modules(torch)
    model = torch.nn.Sequential(*(layer_module(layer, torch, composite) for layer in layers))
    model = model.to(dtype=dtype)
    names = [n for n, _ in model.named_parameters()]
    expected = param_names(layers)
    if names != expected:
        raise AssertionError(f"parameter names {names} differ from the harness' {expected}")
    with torch.no_grad():
        for p, value in zip(model.parameters(), init, strict=True):
            p.copy_(torch.from_numpy(np.ascontiguousarray(value)))
    return model


def loss_module(model: ModelSpec, nn: Any) -> Any:
    """The model's loss on namespace ``nn`` (``reduction="mean"``): binary cross-entropy on
    logits for one output, else cross-entropy; a sequence model's mean over every position."""
    if model.sizes[-1] == 1:
        return nn.BCEWithLogitsLoss()
    ce = nn.CrossEntropyLoss()
    if not model.sequence:
        return ce
    return lambda logits, y: ce(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
