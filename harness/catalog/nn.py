"""The catalog's neural-network ops (:data:`OPS`): convolution, pooling, normalization,
embeddings, attention, masked softmax, dropout, scans and scatters, einsum and the smaller
activations. References in :mod:`harness.catalog.references`."""

from __future__ import annotations

import numpy as np

from harness.catalog import references as ref
from harness.catalog.spec import INDEX, LARGE, MASK, POS, ArgSpec, F, OpSpec, Tolerance

FIXED = ArgSpec(differentiable=False)
VARIANCE = ArgSpec(domain=(0.1, 3.0), differentiable=False)
RELU_LIKE = ArgSpec(kinks=(0.0,))

_TRANSCENDENTAL = {
    "float32": Tolerance(
        1e-5, 1e-5, "float32 transcendental kernels differ by a few ulp between vendors"
    )
}
# Measured (VJP in float32 against torch's float64 VJP, the covering set and 80 draws per op,
# /tmp-style script in the ops report): normalization backward cancels terms of size
# |v| / std -- std as small as ~0.025 at the 0.05 spread -- down to O(|v|). Worst absolute
# error / max|v|: torch's fused float32 layer_norm backward 9.4e-5, its group_norm 3.6e-5;
# the engine and JAX at most 7e-6. Forward values stay within the default (worst 3e-6).
_NORMALIZATION = {
    "float32": Tolerance(
        1e-4,
        2e-4,
        "float32 normalization backward cancels |v|/std-sized terms (torch 9.4e-5 measured)",
    )
}

CONV_PARAMS = {"stride": (1, 2), "padding": (0, 1), "dilation": (1, 2), "groups": (1, 2)}
"""The convolution parameters drawn (the first of each is the covering set's default)."""
MAX_POOL_PARAMS = {"kernel_size": (2, 3), "stride": (1, 2), "padding": (0, 1), "dilation": (1, 2)}
AVG_POOL_PARAMS = {
    "kernel_size": (2, 3),
    "stride": (1, 2),
    "padding": (0, 1),
    "count_include_pad": (True, False),
}
EINSUM1 = ("ij->j", "ij->ji", "ijk->ik", "ij->", "abcd->acbd")
"""Single-operand einsum patterns: a sum over rows, a transpose, a middle-axis sum, a total,
and the swap of the middle axes of a 4-D array (attention heads to and from ``(b, h, t, e)``)."""
EINSUM2 = (
    "ij,jk->ik",
    "bij,bjk->bik",
    "bhqd,bhkd->bhqk",
    "i,j->ij",
    "i,i->",
    "ij,ij->i",
    "ij,k->jk",
)
"""Two-operand einsum patterns: matmul, batched matmul, attention scores, outer product,
dot, rowwise dot, and one whose operand subscript ``i`` is summed out alone."""

OPS: list[OpSpec] = [
    # --- convolution and pooling -------------------------------------------------------
    OpSpec(
        "conv1d",
        (F, F, F),
        "conv1d",
        ref.conv1d,
        "F.conv1d(x, weight, bias, stride, padding, dilation, groups)",
        params=CONV_PARAMS,
    ),
    OpSpec(
        "conv2d",
        (F, F, F),
        "conv2d",
        ref.conv2d,
        "F.conv2d(x, weight, bias, stride, padding, dilation, groups)",
        params=CONV_PARAMS,
    ),
    OpSpec(
        "max_pool2d",
        (F,),
        "pool2d",
        ref.max_pool2d,
        "F.max_pool2d(x, kernel_size, stride, padding, dilation): ties are kinks",
        distinct_all=True,
        second_order=False,
        params=MAX_POOL_PARAMS,
    ),
    OpSpec(
        "avg_pool2d",
        (F,),
        "pool2d",
        ref.avg_pool2d,
        "F.avg_pool2d(x, kernel_size, stride, padding, count_include_pad)",
        second_order=False,
        params=AVG_POOL_PARAMS,
    ),
    # --- normalization -----------------------------------------------------------------
    OpSpec(
        "layer_norm",
        (F,),
        "rows2",
        ref.layer_norm,
        "F.layer_norm(x, x.shape[-1:], eps=eps), no affine",
        spread_input=True,
        tolerances=_NORMALIZATION,
        margin=0.05,
        params={"eps": (1e-5, 1e-2)},
    ),
    OpSpec(
        "layer_norm_affine",
        (F, F, F),
        "layer",
        ref.layer_norm_affine,
        "F.layer_norm(x, x.shape[-1:], weight, bias, eps)",
        spread_input=True,
        tolerances=_NORMALIZATION,
        margin=0.05,
        params={"eps": (1e-5, 1e-2)},
    ),
    OpSpec(
        "batch_norm_train",
        (F, F, F),
        "channels",
        ref.batch_norm_train,
        "F.batch_norm(x, None, None, weight, bias, training=True, eps=eps): batch statistics",
        spread_input=True,
        margin=0.05,
        params={"eps": (1e-5, 1e-2)},
    ),
    OpSpec(
        "batch_norm_eval",
        (F, FIXED, VARIANCE, F, F),
        "channels_eval",
        ref.batch_norm_eval,
        "F.batch_norm(x, running_mean, running_var, weight, bias, training=False, eps=eps)",
        params={"eps": (1e-5, 1e-2)},
    ),
    OpSpec(
        "batch_norm_stats",
        (FIXED, FIXED, VARIANCE),
        "channels_stats",
        ref.batch_norm_stats,
        "the running (mean, var) after F.batch_norm(x, mean, var, training=True, momentum), "
        "stacked: the variance is the unbiased one",
        second_order=False,
        params={"momentum": (0.1, 0.5)},
    ),
    OpSpec(
        "group_norm",
        (F, F, F),
        "groups",
        ref.group_norm,
        "F.group_norm(x, num_groups, weight, bias, eps)",
        spread_input=True,
        tolerances=_NORMALIZATION,
        margin=0.05,
        params={"num_groups": (1, 2), "eps": (1e-5, 1e-2)},
    ),
    # --- embeddings, attention, masks, dropout -------------------------------------------
    OpSpec(
        "embedding",
        (F, INDEX),
        "embedding",
        lambda w, i: w[i],
        "F.embedding(indices, weight): rows with repeats (their gradients accumulate)",
        second_order=False,
    ),
    OpSpec(
        "scaled_dot_product_attention",
        (F, F, F),
        "attention",
        ref.attention,
        "F.scaled_dot_product_attention(q, k, v, is_causal=, scale=), several heads",
        tolerances=_TRANSCENDENTAL,
        params={"is_causal": (False, True), "scale": (None, 0.5)},
    ),
    OpSpec(
        "scaled_dot_product_attention_masked",
        (F, F, F, MASK),
        "attention_mask",
        ref.attention_masked,
        "F.scaled_dot_product_attention(q, k, v, attn_mask=mask) with a bool mask (True: "
        "attend); a query that may attend to nothing gives zeros (PyTorch's safe softmax)",
        tolerances=_TRANSCENDENTAL,
    ),
    OpSpec(
        "softmax_masked",
        (LARGE, MASK),
        "masked",
        ref.softmax_masked,
        "softmax(x.masked_fill(mask, -inf), -1): NaN on a fully masked row",
        tolerances=_TRANSCENDENTAL,
        nonfinite_outputs=True,
    ),
    OpSpec(
        "log_softmax_masked",
        (LARGE, MASK),
        "masked",
        ref.log_softmax_masked,
        "log_softmax(x.masked_fill(mask, -inf), -1): -inf where masked, NaN on a full row",
        tolerances=_TRANSCENDENTAL,
        nonfinite_outputs=True,
    ),
    OpSpec(
        "masked_fill",
        (F, MASK),
        "masked",
        lambda x, m: np.where(m, 0.5, x),
        "x.masked_fill(mask, 0.5)",
        second_order=False,
    ),
    OpSpec(
        "dropout",
        (F, MASK),
        "same",
        lambda x, m, p=0.5: np.where(m, x / (1 - p), 0.0),
        "dropout of x with the kept elements (mask True) supplied: x * mask / (1 - p)",
        second_order=False,
        params={"p": (0.5, 0.2)},
    ),
    # --- activations ---------------------------------------------------------------------
    OpSpec(
        "gelu",
        (F,),
        "any",
        ref.gelu,
        "F.gelu(x, approximate='none' (erf) | 'tanh')",
        tolerances=_TRANSCENDENTAL,
        params={"approximate": ("none", "tanh")},
    ),
    OpSpec(
        "silu",
        (LARGE,),
        "any",
        lambda x: x * np.exp(-np.logaddexp(0.0, -x)),
        "x * sigmoid(x)",
        tolerances=_TRANSCENDENTAL,
    ),
    OpSpec(
        "logsigmoid",
        (LARGE,),
        "any",
        lambda x: -np.logaddexp(0.0, -x),
        "log(sigmoid(x)), stable",
        tolerances=_TRANSCENDENTAL,
    ),
    OpSpec(
        "elu",
        (RELU_LIKE,),
        "any",
        ref.elu,
        "x if x > 0 else e**x - 1 (its second derivative jumps at 0)",
        tolerances=_TRANSCENDENTAL,
    ),
    OpSpec(
        "hardtanh",
        (ArgSpec(kinks=(-1.0, 1.0)),),
        "any",
        lambda x: np.clip(x, -1.0, 1.0),
        "clamp(x, -1, 1) (F.hardtanh)",
        second_order=False,
    ),
    OpSpec(
        "softsign",
        (RELU_LIKE,),
        "any",
        lambda x: x / (1 + np.abs(x)),
        "x / (1 + |x|) (its second derivative jumps at 0)",
    ),
    OpSpec(
        "erf",
        (F,),
        "any",
        ref.erf,
        "the error function",
        tolerances=_TRANSCENDENTAL,
    ),
    OpSpec(
        "log1p",
        (ArgSpec(domain=(-0.9, 2.0)),),
        "any",
        np.log1p,
        "log(1 + x), x > -1",
        tolerances=_TRANSCENDENTAL,
    ),
    OpSpec(
        "expm1",
        (F,),
        "any",
        np.expm1,
        "e**x - 1",
        tolerances=_TRANSCENDENTAL,
    ),
    OpSpec(
        "rsqrt",
        (POS,),
        "any",
        lambda x: 1 / np.sqrt(x),
        "1 / sqrt(x), x > 0",
        tolerances=_TRANSCENDENTAL,
    ),
    # --- scans, products, norms ----------------------------------------------------------
    OpSpec(
        "cumsum",
        (F,),
        "vector",
        ref.cumsum,
        "torch.cumsum(x, dim)",
        second_order=False,
        params={"dim": (-1, 0)},
    ),
    OpSpec(
        "prod_dim",
        (F,),
        "vector",
        lambda x: np.prod(x, axis=-1),
        "torch.prod(x, dim=-1) (zeros included)",
    ),
    OpSpec(
        "norm",
        (ArgSpec(kinks=(0.0,)),),
        "rows",
        lambda x: np.sqrt(np.sum(x * x, axis=-1)),
        "torch.linalg.vector_norm(x, dim=-1); the zero vector is its kink (elements kept "
        "margin from 0, so no row is all zeros)",
    ),
    OpSpec(
        "std_dim",
        (F,),
        "rows2",
        lambda x: np.std(x, axis=-1, ddof=1),
        "unbiased standard deviation over the last dim",
        spread_input=True,
    ),
    # --- einsum, scatters ----------------------------------------------------------------
    OpSpec(
        "einsum1",
        (F,),
        "einsum",
        ref.einsum,
        "torch.einsum(equation, x): sums and transposes",
        second_order=False,
        params={"equation": EINSUM1},
    ),
    OpSpec(
        "einsum2",
        (F, F),
        "einsum",
        ref.einsum,
        "torch.einsum(equation, x, y): common contractions",
        params={"equation": EINSUM2},
    ),
    OpSpec(
        "index_add",
        (F, INDEX, F),
        "index_add",
        ref.index_add,
        "x.index_add(0, index, source): repeated indices accumulate",
        second_order=False,
    ),
    OpSpec(
        "scatter_add",
        (F, INDEX, F),
        "scatter",
        ref.scatter_add,
        "torch.scatter_add(x, 1, index, src): repeated indices accumulate",
        second_order=False,
    ),
    # --- losses --------------------------------------------------------------------------
    OpSpec(
        "l1_loss",
        (F, F),
        "same",
        lambda x, y: np.asarray(np.mean(np.abs(x - y))),
        "mean absolute error (its kink: x == y)",
        separate=True,
        second_order=False,
    ),
    OpSpec(
        "smooth_l1_loss",
        (F, F),
        "same",
        ref.smooth_l1,
        "F.smooth_l1_loss(x, y, beta=1) (its second derivative jumps at |x - y| = beta)",
        second_order=False,
    ),
]
