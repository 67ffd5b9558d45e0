"""The engine's convolution, pooling, normalization, embedding, attention and scan ops
against real torch: values, first-order gradients and a Hessian-vector product, float64.

Each case is one call written once against a ``torch``-like module and its functional
namespace, so the same code runs on both (the engine is PyTorch's API on NumPy).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import harness.implementations.numpy_autograd as engine
import harness.implementations.numpy_autograd.nn.functional as engine_F
import numpy as np
import pytest

Case = tuple[Callable[..., Any], tuple[tuple[int, ...], ...], tuple[Any, ...]]
"""``(fn(m, F, *inputs), shapes of the differentiable inputs, constant inputs)``."""

_R = np.random.default_rng(7)
_TIES = np.round(_R.standard_normal((2, 3, 5, 5)) * 2) / 2  # many equal values per window
_IDX = np.array([[1, 1, 4], [0, 1, 1]])  # repeated rows: their gradients accumulate
_MASK = _R.random((4, 6)) > 0.4
_MASK[:, 0] = True
_EMPTY_ROW = _MASK.copy()
_EMPTY_ROW[1] = False  # query 1 may attend to nothing: PyTorch gives zeros, not NaN

CASES: dict[str, Case] = {
    "conv2d": (lambda m, F, x, w, b: F.conv2d(x, w, b), ((2, 3, 6, 5), (4, 3, 3, 2), (4,)), ()),
    "conv2d_stride_pad": (
        lambda m, F, x, w: F.conv2d(x, w, stride=2, padding=1),
        ((2, 3, 7, 6), (4, 3, 3, 3)),
        (),
    ),
    "conv2d_dilation_groups": (
        lambda m, F, x, w: F.conv2d(x, w, stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=3),
        ((2, 6, 7, 6), (3, 2, 3, 2)),
        (),
    ),
    "conv2d_unbatched_same": (
        lambda m, F, x, w: F.conv2d(x, w, padding="same"),
        ((2, 5, 5), (3, 2, 3, 3)),
        (),
    ),
    "conv1d": (
        lambda m, F, x, w, b: F.conv1d(x, w, b, stride=2, padding=1, dilation=2, groups=2),
        ((2, 4, 9), (6, 2, 3), (6,)),
        (),
    ),
    "max_pool2d": (lambda m, F, x: F.max_pool2d(x, 3, 2, 1), ((2, 3, 7, 6),), ()),
    "max_pool2d_dilation": (
        lambda m, F, x: F.max_pool2d(x, 2, stride=1, padding=1, dilation=2),
        ((1, 2, 5, 6),),
        (),
    ),
    "max_pool2d_ties": (
        lambda m, F, x, t: F.max_pool2d(x * 0 + t, 2, 1),
        ((2, 3, 5, 5),),
        (_TIES,),
    ),
    "avg_pool2d": (lambda m, F, x: F.avg_pool2d(x, 3, 2, 1), ((2, 3, 7, 6),), ()),
    "avg_pool2d_exclude_pad": (
        lambda m, F, x: F.avg_pool2d(x, 2, 2, 1, count_include_pad=False),
        ((2, 3, 5, 6),),
        (),
    ),
    "layer_norm_affine": (
        lambda m, F, x, w, b: F.layer_norm(x, (4, 5), w, b),
        ((3, 4, 5), (4, 5), (4, 5)),
        (),
    ),
    "layer_norm": (lambda m, F, x: F.layer_norm(x, (5,), eps=1e-3), ((3, 4, 5),), ()),
    "batch_norm_train": (
        lambda m, F, x, w, b: F.batch_norm(x, None, None, w, b, training=True),
        ((4, 3, 2, 2), (3,), (3,)),
        (),
    ),
    "batch_norm_eval": (
        lambda m, F, x, w, b, rm, rv: F.batch_norm(x, rm, rv, w, b, training=False),
        ((4, 3, 5), (3,), (3,)),
        (_R.standard_normal(3), _R.random(3) + 0.5),
    ),
    "group_norm": (lambda m, F, x, w, b: F.group_norm(x, 2, w, b), ((2, 4, 3, 2), (4,), (4,)), ()),
    "embedding_repeats": (lambda m, F, w, i: F.embedding(i, w), ((5, 3),), (_IDX,)),
    "embedding_padding_idx": (
        lambda m, F, w, i: F.embedding(i, w, padding_idx=1),
        ((5, 3),),
        (_IDX,),
    ),
    "gelu": (lambda m, F, x: F.gelu(x), ((3, 4),), ()),
    "gelu_tanh": (lambda m, F, x: F.gelu(x, approximate="tanh"), ((3, 4),), ()),
    "silu": (lambda m, F, x: F.silu(x), ((3, 4),), ()),
    "sdpa": (
        lambda m, F, q, k, v: F.scaled_dot_product_attention(q, k, v),
        ((2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 2)),
        (),
    ),
    "sdpa_causal_scale": (
        lambda m, F, q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=0.3),
        ((2, 2, 4, 3), (2, 2, 4, 3), (2, 2, 4, 2)),
        (),
    ),
    "sdpa_bool_mask": (
        lambda m, F, q, k, v, mask: F.scaled_dot_product_attention(q, k, v, attn_mask=mask),
        ((2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 2)),
        (_MASK,),
    ),
    "sdpa_fully_masked_row": (
        lambda m, F, q, k, v, mask: F.scaled_dot_product_attention(q, k, v, attn_mask=mask),
        ((2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 2)),
        (_EMPTY_ROW,),
    ),
    "erf": (lambda m, F, x: m.erf(x), ((3, 4),), ()),
    "expm1": (lambda m, F, x: m.expm1(x), ((3, 4),), ()),
    "cumsum": (lambda m, F, x: m.cumsum(x, 1) ** 2, ((3, 4),), ()),
    "prod_with_zeros": (
        lambda m, F, x, z: m.prod(x * z, dim=1),
        ((3, 4),),
        (np.array([1.0, 0.0, 1.0, 0.0]),),
    ),
    "prod_all": (lambda m, F, x: m.prod(x), ((2, 3),), ()),
    "einsum_attention": (
        lambda m, F, q, k: m.einsum("bhqd,bhkd->bhqk", q, k) ** 2,
        ((2, 2, 3, 4), (2, 2, 5, 4)),
        (),
    ),
    "einsum_outer_sum": (lambda m, F, a, b: m.einsum("ij,k->jk", a, b) ** 2, ((3, 2), (4,)), ()),
    "index_add_repeats": (
        lambda m, F, x, s, i: x.index_add(0, i, s, alpha=2.0) ** 2,
        ((4, 3), (5, 3)),
        (np.array([1, 1, 3, 1, 0]),),
    ),
    "masked_fill": (lambda m, F, x, mask: x.masked_fill(mask, -2.0) ** 2, ((4, 6),), (_MASK,)),
    "dropout_mask": (lambda m, F, x, mask: x * mask / 0.75, ((4, 6),), (_MASK,)),
}


def _run(m: Any, F: Any, case: Case, seed: int) -> list[np.ndarray]:
    fn, shapes, consts = case
    rng = np.random.default_rng(seed)
    xs = [m.tensor(rng.standard_normal(s), requires_grad=True) for s in shapes]
    out = fn(m, F, *xs, *(m.tensor(c) for c in consts))
    v = m.tensor(rng.standard_normal(tuple(out.shape)))
    grads = m.autograd.grad((out * v).sum(), xs, create_graph=True)
    results = [out.detach().numpy(), *(g.detach().numpy() for g in grads)]
    ws = [m.tensor(rng.standard_normal(tuple(g.shape))) for g in grads]
    inner = sum((g * w).sum() for g, w in zip(grads, ws, strict=True))
    # A Hessian-vector product along seeded directions (zero where the gradient is constant:
    # a linear or piecewise-linear op, which one framework may still record and one not).
    hvp = m.autograd.grad(inner, xs, allow_unused=True) if inner.requires_grad else [None] * len(xs)
    results += [
        np.zeros(tuple(x.shape)) if h is None else h.detach().numpy()
        for h, x in zip(hvp, xs, strict=True)
    ]
    return results


@pytest.mark.parametrize("name", list(CASES))
def test_matches_torch(name: str, torch_mod: Any) -> None:
    import torch.nn.functional as torch_F

    torch_mod.set_default_dtype(torch_mod.float64)
    try:
        expected = _run(torch_mod, torch_F, CASES[name], 0)
    finally:
        torch_mod.set_default_dtype(torch_mod.float32)
    engine.set_default_dtype(engine.float64)
    try:
        got = _run(engine, engine_F, CASES[name], 0)
    finally:
        engine.set_default_dtype(engine.float32)
    assert len(got) == len(expected)
    for i, (g, e) in enumerate(zip(got, expected, strict=True)):
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-12, err_msg=f"{name}: result {i}")


def test_batch_norm_running_statistics_use_unbiased_variance(torch_mod: Any) -> None:
    import torch.nn.functional as torch_F

    x = _R.standard_normal((4, 3, 2))
    stats = {}
    for m, F in ((engine, engine_F), (torch_mod, torch_F)):
        rm, rv = m.tensor(np.zeros(3)), m.tensor(np.ones(3))
        F.batch_norm(m.tensor(x), rm, rv, training=True, momentum=0.3)
        stats[m.__name__] = (rm.numpy(), rv.numpy())
    (em, ev), (tm, tv) = stats.values()
    np.testing.assert_allclose(em, tm, rtol=1e-12)
    np.testing.assert_allclose(ev, tv, rtol=1e-12)
    np.testing.assert_allclose(ev, 0.7 + 0.3 * x.transpose(1, 0, 2).reshape(3, -1).var(1, ddof=1))


def test_bad_arguments_name_the_option() -> None:
    x = engine.zeros((1, 4, 5, 5))
    with pytest.raises(RuntimeError, match="groups=3"):
        engine_F.conv2d(x, engine.zeros((3, 2, 3, 3)), groups=3)
    with pytest.raises(ValueError, match="approximate"):
        engine_F.gelu(x, approximate="fast")
    with pytest.raises(ValueError, match="padding"):
        engine_F.conv2d(x, engine.zeros((3, 4, 3, 3)), padding="full")
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        engine_F.batch_norm(engine.zeros((1, 4)), None, None, training=True)
