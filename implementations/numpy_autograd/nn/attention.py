"""``nn.MultiheadAttention`` and :func:`multi_head_attention_forward`, PyTorch 2.13's
(``torch/nn/modules/activation.py`` and ``torch/nn/functional.py``) written in engine ops.

Every head and batch element is one batched matmul (heads folded into the batch dim, as
PyTorch does), so the whole layer is differentiable by the engine's autograd with no VJP of
its own. Masks follow PyTorch: a bool ``attn_mask`` / ``key_padding_mask`` marks the
positions that may NOT be attended (True), a float one is added to the scores; both become
one additive float mask.

Fully masked rows (a query that may attend to no key), as measured on PyTorch 2.13 CPU:
with ``need_weights=True`` the output and the weights of that row are NaN (a plain softmax
over ``-inf``); with ``need_weights=False`` the attention of that row is zero, so the output
is ``out_proj.bias`` (PyTorch's ``scaled_dot_product_attention`` safe softmax), with zero
gradients. PyTorch's inference fast path (eval mode, no gradient, batched self-attention
with ``batch_first``, an even ``num_heads``, packed weights with biases, bool or no masks)
gives NaN there instead; the engine has no fast path and always gives the zeros.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import creation, dtypes, ops
from ..nn import functional as F
from ..nn import init
from ..nn.linear import Linear
from ..nn.module import Module
from ..nn.parameter import Parameter
from ..tensor import Tensor, check_device


def _canonical_mask(
    mask: Tensor | None,
    mask_name: str,
    other_type: Any,
    other_name: str,
    target_type: Any,
    check_other: bool = True,
) -> Tensor | None:
    """A bool mask as a float one of ``target_type`` (``-inf`` where True); a float mask as
    is; any other dtype is PyTorch's error. Warns, as PyTorch does, when the two masks'
    dtypes differ."""
    if mask is None:
        return None
    dt = mask._data.dtype
    is_float = dtypes.is_floating(dt)
    if dt != np.bool_ and not is_float:
        raise AssertionError(f"only bool and floating types of {mask_name} are supported")
    if check_other and other_type is not None and dt != other_type:
        warnings.warn(
            f"Support for mismatched {mask_name} and {other_name} is deprecated. "
            "Use same type for both instead.",
            stacklevel=3,
        )
    if is_float:
        return mask
    return Tensor(np.where(mask._data, -np.inf, 0.0).astype(target_type))


def _dtype_or_none(mask: Tensor | None) -> Any:
    return None if mask is None else mask._data.dtype


def _shape_check(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    key_padding_mask: Tensor | None,
    attn_mask: Tensor | None,
    num_heads: int,
) -> bool:
    """PyTorch's ``_mha_shape_check``: whether the input is batched (3-D) or not (2-D)."""
    if query.ndim == 3:
        if key.ndim != 3 or value.ndim != 3:
            raise AssertionError(
                "For batched (3-D) `query`, expected `key` and `value` to be 3-D"
                f" but found {key.ndim}-D and {value.ndim}-D tensors respectively"
            )
        if key_padding_mask is not None and key_padding_mask.ndim != 2:
            raise AssertionError(
                "For batched (3-D) `query`, expected `key_padding_mask` to be `None` or 2-D"
                f" but found {key_padding_mask.ndim}-D tensor instead"
            )
        if attn_mask is not None and attn_mask.ndim not in (2, 3):
            raise AssertionError(
                "For batched (3-D) `query`, expected `attn_mask` to be `None`, 2-D or 3-D"
                f" but found {attn_mask.ndim}-D tensor instead"
            )
        return True
    if query.ndim == 2:
        if key.ndim != 2 or value.ndim != 2:
            raise AssertionError(
                "For unbatched (2-D) `query`, expected `key` and `value` to be 2-D"
                f" but found {key.ndim}-D and {value.ndim}-D tensors respectively"
            )
        if key_padding_mask is not None and key_padding_mask.ndim != 1:
            raise AssertionError(
                "For unbatched (2-D) `query`, expected `key_padding_mask` to be `None` or 1-D"
                f" but found {key_padding_mask.ndim}-D tensor instead"
            )
        if attn_mask is not None:
            if attn_mask.ndim not in (2, 3):
                raise AssertionError(
                    "For unbatched (2-D) `query`, expected `attn_mask` to be `None`, 2-D or 3-D"
                    f" but found {attn_mask.ndim}-D tensor instead"
                )
            expected = (num_heads, query.shape[0], key.shape[0])
            if attn_mask.ndim == 3 and tuple(attn_mask.shape) != expected:
                raise AssertionError(
                    f"Expected `attn_mask` shape to be {expected} but got {tuple(attn_mask.shape)}"
                )
        return False
    raise AssertionError(
        "query should be unbatched 2D or batched 3D tensor but received "
        f"{query.ndim}-D query tensor"
    )


def _in_projection(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    weight: Tensor | tuple[Tensor, Tensor, Tensor],
    bias: Tensor | None,
) -> tuple[Tensor, Tensor, Tensor]:
    """``q, k, v = linear(query, w_q, b_q), ...`` from the packed ``(3E, E)`` weight or the
    three separate ones. Packed self-attention is one matmul (and key-is-value one for k and
    v), split afterwards, as PyTorch's ``_in_projection_packed`` does."""
    e = query.shape[-1]
    if isinstance(weight, Tensor):
        if query is key and key is value:
            q, k, v = ops.chunk(ops.linear(query, weight, bias), 3, dim=-1)
            return q, k, v
        if key is value:
            w_q, w_kv = ops.split(weight, [e, 2 * e])
            b_q, b_kv = (None, None) if bias is None else ops.split(bias, [e, 2 * e])
            k, v = ops.chunk(ops.linear(key, w_kv, b_kv), 2, dim=-1)
            return ops.linear(query, w_q, b_q), k, v
        w_q, w_k, w_v = ops.chunk(weight, 3)
    else:
        w_q, w_k, w_v = weight
    b_q, b_k, b_v = (None, None, None) if bias is None else ops.chunk(bias, 3)
    return ops.linear(query, w_q, b_q), ops.linear(key, w_k, b_k), ops.linear(value, w_v, b_v)


def _each_distinct(
    fn: Callable[[Tensor], Tensor], query: Tensor, key: Tensor, value: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """``fn`` applied once per distinct tensor, so ``query is key`` (self-attention, one
    projection) still holds afterwards."""
    done = {id(x): fn(x) for x in (query, key, value)}
    return done[id(query)], done[id(key)], done[id(value)]


def _pad_last(mask: Tensor | None) -> Tensor | None:
    """One more key column, unmasked (PyTorch's ``pad(mask, (0, 1))``)."""
    if mask is None:
        return None
    zeros = Tensor(np.zeros((*mask.shape[:-1], 1), dtype=mask._data.dtype))
    return ops.cat([mask, zeros], dim=-1)


def multi_head_attention_forward(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    embed_dim_to_check: int,
    num_heads: int,
    in_proj_weight: Tensor | None,
    in_proj_bias: Tensor | None,
    bias_k: Tensor | None,
    bias_v: Tensor | None,
    add_zero_attn: bool,
    dropout_p: float,
    out_proj_weight: Tensor,
    out_proj_bias: Tensor | None,
    training: bool = True,
    key_padding_mask: Tensor | None = None,
    need_weights: bool = True,
    attn_mask: Tensor | None = None,
    use_separate_proj_weight: bool = False,
    q_proj_weight: Tensor | None = None,
    k_proj_weight: Tensor | None = None,
    v_proj_weight: Tensor | None = None,
    static_k: Tensor | None = None,
    static_v: Tensor | None = None,
    average_attn_weights: bool = True,
    is_causal: bool = False,
) -> tuple[Tensor, Tensor | None]:
    """PyTorch's ``F.multi_head_attention_forward`` on sequence-first inputs: query
    ``(L, N, E)`` (or ``(L, E)`` unbatched), key and value ``(S, N, E_k)``, ``(S, N, E_v)``;
    returns the output ``(L, N, E)`` and, with ``need_weights``, the attention weights
    ``(N, L, S)`` averaged over heads (``(N, num_heads, L, S)`` with
    ``average_attn_weights=False``), after dropout as PyTorch returns them.

    ``is_causal`` is PyTorch's hint: it requires ``attn_mask``; without ``key_padding_mask``
    and with ``need_weights=False`` the mask is replaced by the causal one (``j <= i``),
    otherwise the given mask is used as is. See the module docstring for fully masked rows.
    """
    if static_k is not None or static_v is not None:
        raise NotImplementedError(
            "multi_head_attention_forward: static_k and static_v are not supported by this engine"
        )
    batched = _shape_check(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not batched:
        query, key, value = _each_distinct(lambda x: ops.unsqueeze(x, 1), query, key, value)
        if key_padding_mask is not None:
            key_padding_mask = ops.unsqueeze(key_padding_mask, 0)
    tgt_len, bsz, embed_dim = query.shape
    key_padding_mask = _canonical_mask(
        key_padding_mask, "key_padding_mask", _dtype_or_none(attn_mask), "attn_mask", query.dtype
    )
    if is_causal and attn_mask is None:
        raise RuntimeError(
            "Need attn_mask if specifying the is_causal hint. You may use the Transformer "
            "module method `generate_square_subsequent_mask` to create this mask."
        )
    causal = is_causal and key_padding_mask is None and not need_weights
    if causal:
        attn_mask = None
    else:
        attn_mask = _canonical_mask(attn_mask, "attn_mask", None, "", query.dtype, False)
    if embed_dim != embed_dim_to_check:
        raise AssertionError(
            f"was expecting embedding dimension of {embed_dim_to_check}, but got {embed_dim}"
        )
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise AssertionError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    if use_separate_proj_weight:
        if tuple(key.shape[:2]) != tuple(value.shape[:2]):
            raise AssertionError(
                f"key's sequence and batch dims {tuple(key.shape[:2])} do not match "
                f"value's {tuple(value.shape[:2])}"
            )
        if q_proj_weight is None or k_proj_weight is None or v_proj_weight is None:
            raise AssertionError(
                "use_separate_proj_weight is True but q_proj_weight, k_proj_weight or "
                "v_proj_weight is None"
            )
        for name, w, width in (
            ("query", q_proj_weight, embed_dim),
            ("key", k_proj_weight, key.shape[-1]),
            ("value", v_proj_weight, value.shape[-1]),
        ):
            if tuple(w.shape) != (embed_dim, width):
                raise AssertionError(
                    f"expecting {name} weights shape of {(embed_dim, width)}, "
                    f"but got {tuple(w.shape)}"
                )
        weight: Tensor | tuple[Tensor, Tensor, Tensor] = (
            q_proj_weight,
            k_proj_weight,
            v_proj_weight,
        )
    else:
        if tuple(key.shape) != tuple(value.shape):
            raise AssertionError(
                f"key shape {tuple(key.shape)} does not match value shape {tuple(value.shape)}"
            )
        if in_proj_weight is None:
            raise AssertionError("use_separate_proj_weight is False but in_proj_weight is None")
        weight = in_proj_weight
    q, k, v = _in_projection(query, key, value, weight, in_proj_bias)
    src_len = key.shape[0]

    if attn_mask is not None:
        if attn_mask.ndim == 2:
            if tuple(attn_mask.shape) != (tgt_len, src_len):
                raise RuntimeError(
                    f"The shape of the 2D attn_mask is {tuple(attn_mask.shape)}, but should be "
                    f"{(tgt_len, src_len)}."
                )
            attn_mask = ops.unsqueeze(attn_mask, 0)
        elif tuple(attn_mask.shape) != (bsz * num_heads, tgt_len, src_len):
            raise RuntimeError(
                f"The shape of the 3D attn_mask is {tuple(attn_mask.shape)}, but should be "
                f"{(bsz * num_heads, tgt_len, src_len)}."
            )
    if (bias_k is None) != (bias_v is None):
        raise AssertionError("bias_k and bias_v must be given together")
    if bias_k is not None and bias_v is not None:
        k = ops.cat([k, ops.broadcast_to(bias_k, (1, bsz, embed_dim))])
        v = ops.cat([v, ops.broadcast_to(bias_v, (1, bsz, embed_dim))])
        attn_mask, key_padding_mask = _pad_last(attn_mask), _pad_last(key_padding_mask)

    # Heads folded into the batch dim: (L, N, E) -> (N * H, L, head_dim).
    q = ops.transpose(ops.reshape(q, (tgt_len, bsz * num_heads, head_dim)), 0, 1)
    k = ops.transpose(ops.reshape(k, (k.shape[0], bsz * num_heads, head_dim)), 0, 1)
    v = ops.transpose(ops.reshape(v, (v.shape[0], bsz * num_heads, head_dim)), 0, 1)
    if add_zero_attn:
        zeros = Tensor(np.zeros((bsz * num_heads, 1, head_dim), dtype=k._data.dtype))
        k, v = ops.cat([k, zeros], dim=1), ops.cat([v, zeros], dim=1)
        attn_mask, key_padding_mask = _pad_last(attn_mask), _pad_last(key_padding_mask)
    src_len = k.shape[1]

    if key_padding_mask is not None:
        if tuple(key_padding_mask.shape) != (bsz, src_len):
            raise AssertionError(
                f"Expected key_padded_mask.shape to be {(bsz, src_len)}, but got "
                f"{tuple(key_padding_mask.shape)}"
            )
        kpm = ops.reshape(
            ops.expand(ops.reshape(key_padding_mask, (bsz, 1, 1, src_len)), -1, num_heads, -1, -1),
            (bsz * num_heads, 1, src_len),
        )
        attn_mask = kpm if attn_mask is None else ops.add(attn_mask, kpm)
    if causal:
        attn_mask = Tensor(
            np.where(np.tril(np.ones((tgt_len, src_len), dtype=bool)), 0.0, -np.inf).astype(
                query.dtype
            )
        )

    scores = ops.bmm(ops.mul(q, math.sqrt(1.0 / head_dim)), ops.transpose(k, -2, -1))
    if attn_mask is not None:
        scores = ops.add(scores, attn_mask)
    if need_weights:
        with np.errstate(invalid="ignore"):  # a fully masked row is NaN, silently as in PyTorch
            attn = ops.softmax(scores, -1)
    else:
        # scaled_dot_product_attention's safe softmax: a row with no key left attends to
        # nothing (zeros, zero gradient) instead of NaN.
        empty = Tensor(np.all(np.isneginf(scores._data), axis=-1, keepdims=True))
        attn = ops.where(empty, 0.0, ops.softmax(ops.where(empty, 0.0, scores), -1))
    if training and dropout_p > 0.0:
        attn = F.dropout(attn, p=dropout_p)

    out = ops.bmm(attn, v)  # (N * H, L, head_dim)
    out = ops.reshape(ops.transpose(out, 0, 1), (tgt_len * bsz, embed_dim))
    out = ops.reshape(ops.linear(out, out_proj_weight, out_proj_bias), (tgt_len, bsz, -1))
    if not batched:
        out = ops.squeeze(out, 1)
    if not need_weights:
        return out, None
    weights_out = ops.reshape(attn, (bsz, num_heads, tgt_len, src_len))
    if average_attn_weights:
        weights_out = ops.mean(weights_out, dim=1)
    if not batched:
        weights_out = ops.squeeze(weights_out, 0)
    return out, weights_out


class MultiheadAttention(Module):
    """PyTorch's ``nn.MultiheadAttention``: same arguments, parameters, ``state_dict`` keys,
    initialization order (``out_proj`` as a ``Linear``, then ``xavier_uniform_`` on the
    in-projections, zero biases, ``xavier_normal_`` on ``bias_k`` / ``bias_v``) from the
    engine's seeded generator, and forward semantics (see :func:`multi_head_attention_forward`
    and the module docstring for fully masked rows)."""

    in_proj_weight: Parameter | None
    q_proj_weight: Parameter | None
    k_proj_weight: Parameter | None
    v_proj_weight: Parameter | None
    in_proj_bias: Parameter | None
    bias_k: Parameter | None
    bias_v: Parameter | None

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        add_bias_kv: bool = False,
        add_zero_attn: bool = False,
        kdim: int | None = None,
        vdim: int | None = None,
        batch_first: bool = False,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(
                "embed_dim and num_heads must be greater than 0,"
                f" got embed_dim={embed_dim} and num_heads={num_heads} instead"
            )
        super().__init__()
        check_device(device)
        dt = dtypes.get_default_dtype() if dtype is None else dtypes.canonical(dtype)
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        if self.head_dim * num_heads != embed_dim:
            raise AssertionError(
                f"embed_dim must be divisible by num_heads (embed_dim={embed_dim}, "
                f"num_heads={num_heads})"
            )
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(creation.empty(3 * embed_dim, embed_dim, dtype=dt))
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = Parameter(creation.empty(embed_dim, embed_dim, dtype=dt))
            self.k_proj_weight = Parameter(creation.empty(embed_dim, self.kdim, dtype=dt))
            self.v_proj_weight = Parameter(creation.empty(embed_dim, self.vdim, dtype=dt))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(creation.empty(3 * embed_dim, dtype=dt))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, dtype=dt)
        if add_bias_kv:
            self.bias_k = Parameter(creation.empty(1, 1, embed_dim, dtype=dt))
            self.bias_v = Parameter(creation.empty(1, 1, embed_dim, dtype=dt))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        if self.in_proj_weight is not None:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for w in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(w)  # type: ignore[arg-type]
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None and self.bias_v is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        key_padding_mask: Tensor | None = None,
        need_weights: bool = True,
        attn_mask: Tensor | None = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        """Attention of ``query`` over ``key`` / ``value``: ``(L, N, E)`` inputs, or
        ``(N, L, E)`` with ``batch_first``, or unbatched ``(L, E)``; returns
        ``(attn_output, attn_weights or None)`` as PyTorch does."""
        batched = query.ndim == 3
        key_padding_mask = _canonical_mask(
            key_padding_mask,
            "key_padding_mask",
            _dtype_or_none(attn_mask),
            "attn_mask",
            query.dtype,
        )
        attn_mask = _canonical_mask(attn_mask, "attn_mask", None, "", query.dtype, False)
        if self.batch_first and batched:
            query, key, value = _each_distinct(lambda x: ops.transpose(x, 1, 0), query, key, value)
        out, weights = multi_head_attention_forward(
            query,
            key,
            value,
            self.embed_dim,
            self.num_heads,
            self.in_proj_weight,
            self.in_proj_bias,
            self.bias_k,
            self.bias_v,
            self.add_zero_attn,
            self.dropout,
            self.out_proj.weight,
            self.out_proj.bias,
            training=self.training,
            key_padding_mask=key_padding_mask,
            need_weights=need_weights,
            attn_mask=attn_mask,
            use_separate_proj_weight=not self._qkv_same_embed_dim,
            q_proj_weight=self.q_proj_weight,
            k_proj_weight=self.k_proj_weight,
            v_proj_weight=self.v_proj_weight,
            average_attn_weights=average_attn_weights,
            is_causal=is_causal,
        )
        if self.batch_first and batched:
            out = ops.transpose(out, 1, 0)
        return out, weights

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"
