"""Every differentiable op of the engine as a case: a function of a *module* and inputs.

Each case's function takes ``m`` (``harness.implementations.numpy_autograd`` or the real ``torch``)
and tensors, and is written the way a PyTorch user writes it, so the same case runs on both
and the gradients can be compared with each other and with finite differences.

Inputs are drawn from a seeded generator: floats uniform in a domain (kept ``0.1`` away
from the op's non-differentiable points, so central differences with a 1e-6 step never
straddle a kink), int64 indices, bool masks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypedDict

import numpy as np


@dataclass(frozen=True)
class Arg:
    """One input: ``kind`` is ``f`` (float, differentiable unless ``const``), ``i`` or ``b``."""

    kind: str
    shape: tuple[int, ...]
    lo: float = -2.0
    hi: float = 2.0
    kinks: tuple[float, ...] = ()
    const: bool = False


def F(*shape: int, lo: float = -2.0, hi: float = 2.0, kinks: tuple[float, ...] = ()) -> Arg:
    """A differentiable float input."""
    return Arg("f", shape, lo, hi, kinks)


def C(*shape: int, lo: float = -2.0, hi: float = 2.0) -> Arg:
    """A constant float input (no gradient asked)."""
    return Arg("f", shape, lo, hi, const=True)


def I(high: int, *shape: int) -> Arg:  # noqa: E743
    """An int64 index input in ``[0, high)``."""
    return Arg("i", shape, 0, high)


def B(*shape: int) -> Arg:
    """A bool mask input."""
    return Arg("b", shape)


class Domain(TypedDict):
    """Keyword arguments ``lo``, ``hi`` of :func:`F` and :func:`C`."""

    lo: float
    hi: float


POS: Domain = {"lo": 0.5, "hi": 2.0}


@dataclass(frozen=True)
class Case:
    """One op (or small composition) under test."""

    name: str
    fn: Callable[..., Any]
    args: tuple[Arg, ...]
    separate: bool = False
    """Float inputs 0 and 1 differ by at least 0.1 everywhere (maximum/minimum: no ties)."""
    distinct: bool = False
    """All values of input 0 differ by at least 0.1 (max/min reductions: no ties)."""
    tags: frozenset[str] = field(default_factory=frozenset)


def draw(case: Case, seed: int = 0) -> list[np.ndarray]:
    """Seeded float64 inputs for ``case``."""
    rng = np.random.default_rng([seed, sum(map(ord, case.name))])
    out: list[np.ndarray] = []
    for a in case.args:
        if a.kind == "i":
            out.append(rng.integers(0, int(a.hi), a.shape).astype(np.int64))
        elif a.kind == "b":
            out.append(rng.random(a.shape) > 0.5)
        else:
            x = rng.uniform(a.lo, a.hi, a.shape)
            for k in a.kinks:
                x = np.where(np.abs(x - k) < 0.1, k + np.where(x >= k, 0.15, -0.15), x)
            out.append(x)
    if case.separate:
        x0, x1 = out[0], out[1]
        out[0] = np.where(np.abs(x0 - x1) < 0.1, x1 + 0.15, x0)
    if case.distinct:
        x = out[0]
        flat = x.reshape(-1)
        order = np.argsort(flat)
        flat[order] = np.linspace(-2, 2, flat.size) + rng.uniform(-0.05, 0.05, flat.size)
        out[0] = flat.reshape(x.shape)
    return out


def differentiable(case: Case) -> list[int]:
    """Indices of the inputs that get gradients."""
    return [i for i, a in enumerate(case.args) if a.kind == "f" and not a.const]


def _setitem(m: Any, a: Any, b: Any) -> Any:
    c = a * 1.0
    c[1] = b
    return c


def _inplace_chain(m: Any, a: Any, b: Any) -> Any:
    c = a * 1.0
    c.add_(b)
    c.mul_(0.5)
    c.sub_(b, alpha=0.25)
    c.clamp_(-0.8, 0.8)
    return c


def _mlp(m: Any, x: Any, w1: Any, b1: Any, w2: Any, b2: Any) -> Any:
    h = m.tanh(m.nn.functional.linear(x, w1, b1))
    return m.nn.functional.linear(m.relu(h), w2, b2).sum(dim=1)


def _chunks(m: Any, a: Any) -> Any:
    p, q, r = m.chunk(a, 3, dim=1)
    s, t = m.split(a, [1, 5], dim=1)
    return p * 2 + q * r + s * t[:, :1]


CASES: list[Case] = [
    # -- arithmetic, broadcasting ------------------------------------------------------
    Case("add_broadcast", lambda m, a, b: a + b, (F(3, 1), F(4))),
    Case("add_alpha", lambda m, a, b: m.add(a, b, alpha=-1.5), (F(3, 4), F(4))),
    Case("sub_broadcast", lambda m, a, b: a - b, (F(2, 3, 1), F(3, 4))),
    Case("rsub_scalar", lambda m, a: 2.5 - a, (F(5),)),
    Case("mul_broadcast", lambda m, a, b: a * b, (F(2, 1, 4), F(3, 1))),
    Case("mul_scalar", lambda m, a: 3 * a * 0.5, (F(3, 2),)),
    Case("div", lambda m, a, b: a / b, (F(3, 4), F(4, **POS))),
    Case("rdiv_scalar", lambda m, a: 1.0 / a, (F(5, **POS),)),
    Case("pow_tensor", lambda m, a, b: a**b, (F(3, 4, **POS), F(4))),
    Case("pow_scalar_int", lambda m, a: a**3, (F(3, 4),)),
    Case("pow_scalar_frac", lambda m, a: a**2.5, (F(5, **POS),)),
    Case("rpow", lambda m, a: 2.0**a, (F(4),)),
    Case("neg", lambda m, a: -a, (F(2, 3),)),
    Case("square_sqrt_rsqrt", lambda m, a: m.square(a) + m.sqrt(a) + m.rsqrt(a), (F(4, **POS),)),
    Case("reciprocal", lambda m, a: m.reciprocal(a), (F(4, **POS),)),
    Case("constant_operand", lambda m, a, c: a * c + c, (F(3, 4), C(4))),
    # -- elementwise functions -----------------------------------------------------------
    Case("abs", lambda m, a: m.abs(a), (F(3, 4, kinks=(0.0,)),)),
    Case("exp", lambda m, a: m.exp(a), (F(3, 4),)),
    Case("log", lambda m, a: m.log(a), (F(3, 4, **POS),)),
    Case("log1p", lambda m, a: m.log1p(a), (F(3, 4, lo=-0.5, hi=2.0),)),
    Case("sin_cos", lambda m, a: m.sin(a) * m.cos(a), (F(3, 4),)),
    Case("tanh", lambda m, a: m.tanh(a), (F(3, 4),)),
    Case("sigmoid", lambda m, a: m.sigmoid(a), (F(3, 4, lo=-8, hi=8),)),
    Case("relu", lambda m, a: m.relu(a), (F(3, 4, kinks=(0.0,)),)),
    Case(
        "leaky_relu",
        lambda m, a: m.nn.functional.leaky_relu(a, 0.2),
        (F(3, 4, kinks=(0.0,)),),
    ),
    Case(
        "softplus",
        lambda m, a: m.nn.functional.softplus(a) + m.nn.functional.softplus(a, beta=2, threshold=3),
        (F(3, 4, kinks=(1.5,)),),
    ),
    Case("clamp", lambda m, a: m.clamp(a, -0.5, 0.5), (F(3, 4, kinks=(-0.5, 0.5)),)),
    Case("clamp_min", lambda m, a: a.clamp(min=0.3), (F(3, 4, kinks=(0.3,)),)),
    Case("maximum", lambda m, a, b: m.maximum(a, b), (F(3, 4), F(4)), separate=True),
    Case("minimum", lambda m, a, b: m.minimum(a, b), (F(3, 4), F(3, 4)), separate=True),
    Case("max_binary", lambda m, a, b: m.max(a, b), (F(3, 4), F(3, 4)), separate=True),
    Case("where", lambda m, c, a, b: m.where(c, a, b), (B(3, 4), F(3, 4), F(4))),
    Case("where_scalar", lambda m, c, a: m.where(c, a, 0.0), (B(3, 4), F(3, 4))),
    # -- linear algebra ------------------------------------------------------------------
    Case("matmul_mm", lambda m, a, b: a @ b, (F(3, 4), F(4, 2))),
    Case("matmul_mv", lambda m, a, b: a @ b, (F(3, 4), F(4))),
    Case("matmul_vm", lambda m, a, b: a @ b, (F(4), F(4, 2))),
    Case("matmul_dot", lambda m, a, b: m.matmul(a, b), (F(4), F(4))),
    Case("matmul_batched_broadcast", lambda m, a, b: a @ b, (F(2, 1, 3, 4), F(5, 4, 2))),
    Case("matmul_batched_vec", lambda m, a, b: a @ b, (F(2, 3, 4), F(4))),
    Case("bmm", lambda m, a, b: m.bmm(a, b), (F(2, 3, 4), F(2, 4, 5))),
    Case(
        "mm_mv_dot",
        lambda m, a, b: m.mv(a, b) + m.mm(a, a.T) @ b[:3] + m.dot(b, b),
        (F(3, 4), F(4)),
    ),
    Case("linear", lambda m, x, w, b: m.nn.functional.linear(x, w, b), (F(4, 3), F(2, 3), F(2))),
    Case(
        "linear_3d", lambda m, x, w, b: m.nn.functional.linear(x, w, b), (F(2, 4, 3), F(5, 3), F(5))
    ),
    Case(
        "linear_vector", lambda m, x, w, b: m.nn.functional.linear(x, w, b), (F(3), F(2, 3), F(2))
    ),
    Case("linear_no_bias", lambda m, x, w: m.nn.functional.linear(x, w), (F(4, 3), F(2, 3))),
    Case("mlp", _mlp, (F(5, 3), F(4, 3), F(4), F(2, 4), F(2))),
    # -- reductions --------------------------------------------------------------------
    Case("sum_all", lambda m, a: a.sum(), (F(3, 4),)),
    Case("sum_dim_keepdim", lambda m, a: a.sum(dim=1, keepdim=True), (F(3, 4),)),
    Case("sum_dims", lambda m, a: m.sum(a, dim=(0, 2)), (F(2, 3, 4),)),
    Case("sum_negative_dim", lambda m, a: a.sum(-1), (F(2, 3, 4),)),
    Case("mean_all", lambda m, a: a.mean(), (F(3, 4),)),
    Case("mean_dim", lambda m, a: m.mean(a, 0), (F(3, 4),)),
    Case("mean_dims_keepdim", lambda m, a: a.mean(dim=(1, 2), keepdim=True), (F(2, 3, 4),)),
    Case("var_dim", lambda m, a: a.var(dim=1), (F(3, 4),)),
    Case("var_all", lambda m, a: m.var(a), (F(3, 4),)),
    Case("var_biased_keepdim", lambda m, a: a.var(dim=0, unbiased=False, keepdim=True), (F(3, 4),)),
    Case("var_correction", lambda m, a: m.var(a, dim=1, correction=0), (F(3, 4),)),
    Case("std_dim", lambda m, a: a.std(dim=1), (F(3, 4),)),
    Case("max_all", lambda m, a: a.max(), (F(3, 4),), distinct=True),
    Case("min_all", lambda m, a: m.min(a), (F(3, 4),), distinct=True),
    Case("max_dim", lambda m, a: a.max(dim=1).values, (F(3, 4),), distinct=True),
    Case(
        "min_dim_keepdim", lambda m, a: m.min(a, dim=0, keepdim=True)[0], (F(3, 4),), distinct=True
    ),
    Case("amax", lambda m, a: m.amax(a, dim=1), (F(3, 4),), distinct=True),
    Case("softmax_dim1", lambda m, a: m.softmax(a, dim=1), (F(3, 4),)),
    Case("softmax_dim0", lambda m, a: m.nn.functional.softmax(a, dim=0), (F(3, 4),)),
    Case("log_softmax", lambda m, a: m.nn.functional.log_softmax(a, dim=-1), (F(3, 4),)),
    Case("log_softmax_3d", lambda m, a: m.log_softmax(a, dim=1), (F(2, 3, 4),)),
    Case("logsumexp", lambda m, a: m.logsumexp(a, dim=1), (F(3, 4),)),
    Case("logsumexp_keepdim", lambda m, a: a.logsumexp(dim=0, keepdim=True), (F(3, 4),)),
    Case("norm", lambda m, a: a.norm(), (F(3, 4),)),
    # -- shapes and indexing -------------------------------------------------------------
    Case("T", lambda m, a: a.T * 1.0, (F(3, 4),)),
    Case("permute", lambda m, a: a.permute(2, 0, 1), (F(2, 3, 4),)),
    Case("transpose", lambda m, a: a.transpose(0, 2), (F(2, 3, 4),)),
    Case("t_mT", lambda m, a: a.t() @ a + a.mT @ a, (F(3, 2),)),
    Case("expand", lambda m, a: a.expand(2, 3, 4), (F(3, 1),)),
    Case("expand_as", lambda m, a, b: a.expand_as(b) * b, (F(4), F(3, 4))),
    Case("view_reshape", lambda m, a: a.view(2, 6) * a.reshape(-1, 6), (F(3, 4),)),
    Case("flatten", lambda m, a: a.flatten(1), (F(2, 3, 4),)),
    Case("squeeze_unsqueeze", lambda m, a: a.squeeze().unsqueeze(0).squeeze(1), (F(3, 1, 4),)),
    Case("movedim", lambda m, a: m.movedim(a, 0, 2), (F(2, 3, 4),)),
    Case("index_int", lambda m, a: a[1], (F(3, 4),)),
    Case("index_scalar", lambda m, a: a[1, 2] * a[0, 0], (F(3, 4),)),
    Case("index_slice", lambda m, a: a[:, 1:3], (F(3, 4),)),
    Case("index_step_negative", lambda m, a: a[::2, -1], (F(3, 4),)),
    Case("index_array_repeats", lambda m, a: a[m.tensor([0, 2, 0, 1])], (F(3, 4),)),
    Case("index_tensor_arg", lambda m, a, i: a[i], (F(3, 4), I(3, 5))),
    Case("index_bool_mask", lambda m, a, k: a[k], (F(3, 4), B(3, 4))),
    Case("index_mixed", lambda m, a: a[1:, [0, 2, 2]], (F(3, 4),)),
    Case("index_none_ellipsis", lambda m, a: a[None, ..., 0], (F(2, 3, 4),)),
    Case("cat_dim1", lambda m, a, b: m.cat([a, b], dim=1), (F(3, 2), F(3, 4))),
    Case("cat_three", lambda m, a, b: m.cat([a, b, a], 0), (F(2, 3), F(1, 3))),
    Case("stack_dim1", lambda m, a, b: m.stack([a, b], dim=1), (F(3, 4), F(3, 4))),
    Case("gather", lambda m, a, i: m.gather(a, 1, i), (F(3, 4), I(4, 3, 5))),
    Case("gather_dim0", lambda m, a, i: a.gather(0, i), (F(3, 4), I(3, 2, 4))),
    Case("scatter_add", lambda m, a, i, b: a.scatter_add(1, i, b), (F(3, 4), I(4, 3, 5), F(3, 5))),
    Case("chunk_split", _chunks, (F(2, 6),)),
    # -- losses ---------------------------------------------------------------------------
    Case("mse_loss", lambda m, a, b: m.nn.functional.mse_loss(a, b), (F(3, 4), F(3, 4))),
    Case(
        "mse_loss_sum",
        lambda m, a, b: m.nn.functional.mse_loss(a, b, reduction="sum"),
        (F(5), F(5)),
    ),
    Case(
        "bce_loss",
        lambda m, p, y: m.nn.functional.binary_cross_entropy(p, y),
        (F(6, lo=0.05, hi=0.95), F(6, lo=0.0, hi=1.0)),
    ),
    Case(
        "bce_loss_weight_none",
        lambda m, p, y, w: m.nn.functional.binary_cross_entropy(p, y, w, reduction="none"),
        (F(2, 3, lo=0.05, hi=0.95), F(2, 3, lo=0.0, hi=1.0), C(3, lo=0.5, hi=2.0)),
    ),
    Case(
        "bce_with_logits",
        lambda m, z, y: m.nn.functional.binary_cross_entropy_with_logits(z, y),
        (F(6, lo=-6, hi=6), F(6, lo=0.0, hi=1.0)),
    ),
    Case(
        "bce_with_logits_sum_none",
        lambda m, z, y: (
            m.nn.functional.binary_cross_entropy_with_logits(z, y, reduction="sum")
            + m.nn.functional.binary_cross_entropy_with_logits(z, y, reduction="none")[0]
        ),
        (F(2, 3), F(2, 3, lo=0.0, hi=1.0)),
    ),
    Case(
        "bce_with_logits_weights",
        lambda m, z, y, w, pw: m.nn.functional.binary_cross_entropy_with_logits(
            z, y, weight=w, pos_weight=pw
        ),
        (F(4, 3), F(4, 3, lo=0.0, hi=1.0), C(3, lo=0.5, hi=2.0), C(3, lo=0.5, hi=3.0)),
    ),
    Case(
        "cross_entropy",
        lambda m, z, t: m.nn.functional.cross_entropy(z, t),
        (F(5, 3), I(3, 5)),
    ),
    Case(
        "cross_entropy_weight_sum",
        lambda m, z, t, w: m.nn.functional.cross_entropy(z, t, weight=w, reduction="sum"),
        (F(5, 3), I(3, 5), C(3, lo=0.5, hi=2.0)),
    ),
    Case(
        "cross_entropy_weight_mean",
        lambda m, z, t, w: m.nn.functional.cross_entropy(z, t, weight=w),
        (F(5, 3), I(3, 5), C(3, lo=0.5, hi=2.0)),
    ),
    Case(
        "cross_entropy_ignore_none",
        lambda m, z, t: m.nn.functional.cross_entropy(z, t, ignore_index=1, reduction="none"),
        (F(6, 3), I(3, 6)),
    ),
    Case(
        "cross_entropy_ignore_mean",
        lambda m, z, t: m.nn.functional.cross_entropy(z, t, ignore_index=1),
        (F(6, 3), I(3, 6)),
    ),
    Case(
        "cross_entropy_unbatched",
        lambda m, z: m.nn.functional.cross_entropy(z, m.tensor(2)),
        (F(4),),
    ),
    Case(
        "nll_loss",
        lambda m, z, t: m.nn.functional.nll_loss(m.nn.functional.log_softmax(z, dim=1), t),
        (F(5, 3), I(3, 5)),
    ),
    Case(
        "nll_loss_weight_none",
        lambda m, z, t, w: m.nn.functional.nll_loss(z, t, weight=w, reduction="none"),
        (F(5, 3), I(3, 5), C(3, lo=0.5, hi=2.0)),
    ),
    # -- graph plumbing --------------------------------------------------------------------
    Case("clone", lambda m, a: a.clone() * a, (F(3, 4),)),
    # detach() deliberately makes the gradient differ from the true derivative: torch only.
    Case(
        "detach_blocks_one_path",
        lambda m, a: a * a.detach(),
        (F(3, 4),),
        tags=frozenset({"not_the_derivative"}),
    ),
    Case("cast", lambda m, a: a.to(m.float64) * 2 + a.to(a.dtype), (F(3, 4),)),
    Case("setitem_nonleaf", _setitem, (F(3, 4), F(4))),
    Case("inplace_chain_nonleaf", _inplace_chain, (F(3, 4, kinks=(-0.8, 0.8)), F(4))),
    Case("reuse_diamond", lambda m, a: m.exp(a) * m.sin(a) + m.exp(a) / (a * a + 1), (F(3, 4),)),
]

BY_NAME: dict[str, Case] = {c.name: c for c in CASES}
