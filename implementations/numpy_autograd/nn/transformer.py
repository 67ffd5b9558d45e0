"""``nn.TransformerEncoderLayer``, PyTorch 2.13's (``torch/nn/modules/transformer.py``), built
from the engine's :class:`~.attention.MultiheadAttention`, ``Linear``, ``LayerNorm`` and
``Dropout``, with PyTorch's submodule names, so a PyTorch ``state_dict`` loads into it.

PyTorch's inference fast path (``torch._transformer_encoder_layer_fwd``: eval mode, no
gradient, batched ``batch_first`` input...) computes the same function; the engine always
takes the composed path (see :mod:`.attention` for the one place they differ, fully masked
rows).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import ops
from ..nn import functional as F
from ..nn.attention import MultiheadAttention, _canonical_mask, _dtype_or_none
from ..nn.layers import Dropout
from ..nn.linear import Linear
from ..nn.module import Module
from ..nn.normalization import LayerNorm
from ..tensor import Tensor

_ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {"relu": F.relu, "gelu": F.gelu}


class TransformerEncoderLayer(Module):
    """Self-attention then a feed-forward block (``linear2(dropout(activation(linear1(x))))``),
    each added to its input: ``norm1(x + sa(x))``, ``norm2(x + ff(x))``, or with
    ``norm_first`` ``x + sa(norm1(x))``, ``x + ff(norm2(x))``. ``activation`` is ``"relu"``,
    ``"gelu"`` or a callable (a module is kept as the submodule ``activation``)."""

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable[[Tensor], Tensor] = F.relu,
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        self.self_attn = MultiheadAttention(
            d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first, **factory
        )
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **factory)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **factory)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        if isinstance(activation, str):
            if activation not in _ACTIVATIONS:
                raise RuntimeError(f"activation should be relu/gelu, not {activation}")
            activation = _ACTIVATIONS[activation]
        self.activation = activation

    def forward(
        self,
        src: Tensor,
        src_mask: Tensor | None = None,
        src_key_padding_mask: Tensor | None = None,
        is_causal: bool = False,
    ) -> Tensor:
        """``src`` of shape ``(S, N, E)``, ``(N, S, E)`` with ``batch_first``, or ``(S, E)``;
        ``src_mask`` ``(S, S)`` or ``(N * nhead, S, S)``, ``src_key_padding_mask`` ``(N, S)``
        (bool: True is not attended; float: added); ``is_causal`` is the hint
        :class:`MultiheadAttention` takes (it needs ``src_mask``)."""
        src_key_padding_mask = _canonical_mask(
            src_key_padding_mask,
            "src_key_padding_mask",
            _dtype_or_none(src_mask),
            "src_mask",
            src.dtype,
        )
        src_mask = _canonical_mask(src_mask, "src_mask", None, "", src.dtype, False)
        x = src
        if self.norm_first:
            x = ops.add(x, self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal))
            return ops.add(x, self._ff_block(self.norm2(x)))
        x = self.norm1(ops.add(x, self._sa_block(x, src_mask, src_key_padding_mask, is_causal)))
        return self.norm2(ops.add(x, self._ff_block(x)))

    def _sa_block(
        self,
        x: Tensor,
        attn_mask: Tensor | None,
        key_padding_mask: Tensor | None,
        is_causal: bool,
    ) -> Tensor:
        out, _ = self.self_attn(
            x,
            x,
            x,
            attn_mask=attn_mask,
            key_padding_mask=key_padding_mask,
            need_weights=False,
            is_causal=is_causal,
        )
        return self.dropout1(out)

    def _ff_block(self, x: Tensor) -> Tensor:
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout2(x)
