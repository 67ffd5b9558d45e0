"""The engine's ``nn.MultiheadAttention`` against real torch 2.13 (CPU, float64): outputs,
attention weights and the gradients of a scalar loss with respect to the inputs and every
parameter, over layouts, projections, masks and the ``need_weights`` / ``is_causal`` paths;
fully masked rows; dropout; seeded initialization; bad arguments.

Both modules are built by the same constructor call and the engine's loads torch's
``state_dict`` (:func:`.test_nn_modules._pair`, which also gives non-default parameters).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import harness.implementations.numpy_autograd as engine
import numpy as np
import pytest

from .test_nn_modules import _pair, _state

EMBED, HEADS, L, S, N = 8, 2, 3, 4, 2

# float64: two correct implementations differ by summation order in the projections and the
# softmax. Measured over these grids: at most 3.9e-15 of the largest element of the compared
# array for attention, 2.4e-14 for the encoder layer with tanh-GELU (gradients reach ~1e2
# with the N(0, 1) parameters of ``_pair``, whose draws depend on the test order). 1e-12 of
# that scale leaves 40x room for other draws and BLAS builds; every deliberate break tried
# (the 1/sqrt(d) scale, head order, mask sense, norm order) is off by more than 1e-2.
_RTOL = 1e-12


def _mask_rows_open(mask: np.ndarray) -> np.ndarray:
    """A bool mask (True = not attended) that leaves key 0 open in every row."""
    mask = mask.copy()
    mask[..., 0] = False
    return mask


def _masks(rng: np.random.Generator) -> dict[str, np.ndarray]:
    lq, n = L, N
    causal = np.triu(np.ones((lq, lq), dtype=bool), 1)
    return {
        "bool2d": _mask_rows_open(rng.random((lq, S)) > 0.6),
        "float2d": rng.standard_normal((lq, S)),
        "bool3d": _mask_rows_open(rng.random((n * HEADS, lq, S)) > 0.6),
        "float3d": rng.standard_normal((n * HEADS, lq, S)),
        "kpm_bool": _mask_rows_open(rng.random((n, S)) > 0.5),
        "kpm_float": rng.standard_normal((n, S)),
        "causal_bool": causal,
        "causal_float": np.where(causal, -np.inf, 0.0),
        "self_kpm_bool": _mask_rows_open(rng.random((n, lq)) > 0.5),
        "self_kpm_float": rng.standard_normal((n, lq)),
        "noncausal_bool": np.eye(lq, dtype=bool)[::-1] & ~np.eye(lq, dtype=bool),
    }


# name: (constructor keywords, forward keywords naming masks of _masks, input layout)
# layout: "self" (query is key is value, self-attention with S = L), "kv" (key is value),
# "cross" (three tensors); "unbatched" prefixes 2-D inputs.
CASES: dict[str, tuple[dict[str, Any], dict[str, Any], str]] = {
    "self": ({}, {}, "self"),
    "self_batch_first": ({"batch_first": True}, {}, "self"),
    "kv_shared": ({}, {}, "kv"),
    "cross": ({}, {}, "cross"),
    "cross_batch_first": ({"batch_first": True}, {}, "cross"),
    "unbatched": ({}, {}, "unbatched cross"),
    "unbatched_self_batch_first": ({"batch_first": True}, {}, "unbatched self"),
    "kdim_vdim": ({"kdim": 5, "vdim": 3}, {}, "cross"),
    "kdim_vdim_batch_first": ({"kdim": 5, "vdim": 3, "batch_first": True}, {}, "cross"),
    "no_bias": ({"bias": False}, {}, "cross"),
    "no_bias_kdim": ({"bias": False, "kdim": 5}, {}, "cross"),
    "bool_attn_mask": ({}, {"attn_mask": "bool2d"}, "cross"),
    "float_attn_mask": ({}, {"attn_mask": "float2d"}, "cross"),
    "bool_attn_mask_3d": ({}, {"attn_mask": "bool3d"}, "cross"),
    "float_attn_mask_3d_per_head": (
        {},
        {"attn_mask": "float3d", "average_attn_weights": False},
        "cross",
    ),
    "bool_key_padding_mask": ({}, {"key_padding_mask": "kpm_bool"}, "cross"),
    "float_key_padding_mask": ({}, {"key_padding_mask": "kpm_float"}, "cross"),
    "both_masks": ({}, {"attn_mask": "bool2d", "key_padding_mask": "kpm_bool"}, "cross"),
    "both_masks_no_weights": (
        {"batch_first": True},
        {"attn_mask": "float2d", "key_padding_mask": "kpm_float", "need_weights": False},
        "cross",
    ),
    "need_weights_false": ({}, {"need_weights": False}, "self"),
    "need_weights_false_mask": ({}, {"attn_mask": "bool2d", "need_weights": False}, "cross"),
    "per_head_weights": ({}, {"average_attn_weights": False}, "cross"),
    "per_head_weights_unbatched": ({}, {"average_attn_weights": False}, "unbatched cross"),
    "causal_hint": ({}, {"attn_mask": "causal_bool", "is_causal": True}, "self"),
    "causal_hint_no_weights": (
        {"batch_first": True},
        {"attn_mask": "causal_float", "is_causal": True, "need_weights": False},
        "self",
    ),
    # The hint replaces the mask (PyTorch hands is_causal to SDPA and drops attn_mask):
    "causal_hint_overrides_mask": (
        {},
        {"attn_mask": "noncausal_bool", "is_causal": True, "need_weights": False},
        "self",
    ),
    # ... except with a key_padding_mask, where the given mask is used.
    "causal_hint_with_kpm": (
        {},
        {
            "attn_mask": "noncausal_bool",
            "key_padding_mask": "self_kpm_bool",
            "is_causal": True,
            "need_weights": False,
        },
        "self",
    ),
    "bias_kv_zero_attn": (
        {"add_bias_kv": True, "add_zero_attn": True},
        {"attn_mask": "bool2d", "key_padding_mask": "kpm_bool"},
        "cross",
    ),
    "bias_kv_no_weights": (
        {"add_bias_kv": True, "kdim": 5, "vdim": 3},
        {"key_padding_mask": "kpm_float", "need_weights": False},
        "cross",
    ),
    "zero_attn_unbatched": ({"add_zero_attn": True}, {"attn_mask": "float2d"}, "unbatched cross"),
}


def _inputs(rng: np.random.Generator, make: dict[str, Any], layout: str) -> tuple[np.ndarray, ...]:
    kdim, vdim = make.get("kdim") or EMBED, make.get("vdim") or EMBED
    unbatched, kind = "unbatched" in layout, layout.split()[-1]
    src = L if kind == "self" else S

    def shape(length: int, width: int) -> tuple[int, ...]:
        if unbatched:
            return (length, width)
        return (N, length, width) if make.get("batch_first") else (length, N, width)

    q = rng.standard_normal(shape(L, EMBED))
    if kind == "self":
        return (q,)
    k = rng.standard_normal(shape(src, kdim))
    return (q, k) if kind == "kv" else (q, k, rng.standard_normal(shape(src, vdim)))


def _run(
    ns: Any,
    module: Any,
    arrays: tuple[np.ndarray, ...],
    forward: dict[str, Any],
    layer: bool = False,
) -> Any:
    """Forward and backward of ``sum(out * g) + sum(weights * h)`` in namespace ``ns``;
    returns the output, the weights, the input gradients and the parameter gradients.
    ``layer``: ``module`` takes one input (an encoder layer) and returns no weights."""
    xs = [ns.from_numpy(a.copy()).requires_grad_(True) for a in arrays]
    q, k, v = (xs * 3)[:3] if len(xs) == 1 else (xs[0], xs[1], xs[-1])
    kw = {
        n: ns.from_numpy(a.copy()) if isinstance(a, np.ndarray) else a for n, a in forward.items()
    }
    out, weights = (module(q, **kw), None) if layer else module(q, k, v, **kw)
    rng = np.random.default_rng(7)
    loss = (out * ns.from_numpy(rng.standard_normal(tuple(out.shape)))).sum()
    if weights is not None:
        loss = loss + (weights * ns.from_numpy(rng.standard_normal(tuple(weights.shape)))).sum()
    loss.backward()
    grads = [x.grad.numpy() for x in xs]
    params = {n: p.grad.numpy() for n, p in module.named_parameters()}
    return (
        out.detach().numpy(),
        None if weights is None else weights.detach().numpy(),
        grads,
        params,
    )


def _compare(got: Any, want: Any) -> None:
    """Every array :func:`_run` returns, against torch's."""
    _close(got[0], want[0], "output")
    assert (got[1] is None) == (want[1] is None), "attn_weights presence"
    if want[1] is not None:
        _close(got[1], want[1], "attn_weights")
    for i, (g, w) in enumerate(zip(got[2], want[2], strict=True)):
        _close(g, w, f"input #{i} gradient")
    assert list(got[3]) == list(want[3])
    for n in want[3]:
        _close(got[3][n], want[3][n], f"{n} gradient")


def _close(got: np.ndarray, want: np.ndarray, what: str) -> None:
    assert got.shape == want.shape and got.dtype == want.dtype, what
    scale = float(np.max(np.abs(want))) if want.size else 0.0
    np.testing.assert_allclose(got, want, rtol=_RTOL, atol=_RTOL * scale, err_msg=what)


@pytest.mark.parametrize("name", list(CASES))
def test_multihead_attention_matches_torch(torch_mod: Any, name: str) -> None:
    """Output, weights (or None), input and parameter gradients equal torch's; the
    state_dict keys are torch's in order."""
    make, forward, layout = CASES[name]
    ref, mine = _pair(torch_mod, lambda nn: nn.MultiheadAttention(EMBED, HEADS, **make))
    assert list(mine.state_dict()) == list(ref.state_dict())
    rng = np.random.default_rng([11, sum(map(ord, name))])
    masks = _masks(rng)
    forward = {k: masks[v] if k.endswith("mask") else v for k, v in forward.items()}
    if "unbatched" in layout:
        forward = {k: v[0] if k == "key_padding_mask" else v for k, v in forward.items()}
        if "attn_mask" in forward and forward["attn_mask"].ndim == 3:
            forward["attn_mask"] = forward["attn_mask"][:HEADS]
    arrays = _inputs(rng, make, layout)
    _compare(_run(engine, mine, arrays, forward), _run(torch_mod, ref, arrays, forward))


def test_causal_hint_overrides_the_mask_without_weights() -> None:
    """Guards the grid's ``causal_hint_overrides_mask``: the given (non-causal) mask really
    changes the result when the hint is not given, so the case compares the override."""
    mine = engine.nn.MultiheadAttention(EMBED, HEADS).double()
    x = engine.from_numpy(np.random.default_rng(3).standard_normal((L, N, EMBED)))
    mask = engine.from_numpy(_masks(np.random.default_rng(0))["noncausal_bool"])
    hinted, _ = mine(x, x, x, attn_mask=mask, is_causal=True, need_weights=False)
    plain, _ = mine(x, x, x, attn_mask=mask, need_weights=False)
    assert not np.allclose(hinted.detach().numpy(), plain.detach().numpy())


@pytest.mark.parametrize("need_weights", [True, False])
def test_fully_masked_rows_match_torch(torch_mod: Any, need_weights: bool) -> None:
    """A batch element whose keys are all padding: NaN output and weights with
    ``need_weights=True``, ``out_proj.bias`` and zero attention gradients with
    ``need_weights=False`` (the measured PyTorch 2.13 behaviour, outside its fast path)."""
    ref, mine = _pair(torch_mod, lambda nn: nn.MultiheadAttention(EMBED, HEADS))
    kpm = np.array([[True] * S, [False, True, False, False]])
    arrays = _inputs(np.random.default_rng(5), {}, "cross")
    forward = {"key_padding_mask": kpm, "need_weights": need_weights}
    with np.errstate(invalid="ignore"):
        want = _run(torch_mod, ref, arrays, forward)
        got = _run(engine, mine, arrays, forward)
    assert np.isnan(want[0][:, 0]).all() == need_weights
    flat_want = [want[0], *want[2], *want[3].values()]
    flat_got = [got[0], *got[2], *got[3].values()]
    if need_weights:
        flat_want.append(want[1])
        flat_got.append(got[1])
    else:
        bias = ref.out_proj.bias.detach().numpy()
        np.testing.assert_allclose(want[0][:, 0], np.broadcast_to(bias, (L, EMBED)), rtol=1e-14)
    for g, w in zip(flat_got, flat_want, strict=True):
        np.testing.assert_array_equal(np.isnan(g), np.isnan(w))
        _close(np.nan_to_num(g), np.nan_to_num(w), "fully masked")


def test_dropout_on_attention_weights() -> None:
    """Training mode drops attention weights (returned after dropout, as PyTorch returns
    them) with the seeded generator; eval mode and ``dropout=0`` do not."""
    mha = engine.nn.MultiheadAttention(EMBED, HEADS, dropout=0.5).double()
    x = engine.from_numpy(np.random.default_rng(2).standard_normal((L, N, EMBED)))
    mha.eval()
    _, w_eval = mha(x, x, x, average_attn_weights=False)
    mha.train()
    engine.manual_seed(4)
    out_a, w_a = mha(x, x, x, average_attn_weights=False)
    engine.manual_seed(4)
    out_b, w_b = mha(x, x, x, average_attn_weights=False)
    np.testing.assert_array_equal(out_a.detach().numpy(), out_b.detach().numpy())
    kept = w_a.detach().numpy() != 0
    assert 0 < kept.mean() < 1
    np.testing.assert_allclose(
        w_a.detach().numpy()[kept], 2 * w_eval.detach().numpy()[kept], rtol=1e-14
    )
    np.testing.assert_array_equal(w_a.detach().numpy(), w_b.detach().numpy())


def test_seeded_construction_is_deterministic_in_torch_order() -> None:
    """The same seed builds the same parameters; ``out_proj`` is drawn first (a Linear's
    init), then xavier-uniform in-projections; biases are zero."""
    engine.manual_seed(9)
    a = engine.nn.MultiheadAttention(EMBED, HEADS)
    engine.manual_seed(9)
    b = engine.nn.MultiheadAttention(EMBED, HEADS)
    engine.manual_seed(9)
    linear = engine.nn.Linear(EMBED, EMBED)
    sa, sb = _state(a.state_dict()), _state(b.state_dict())
    for k in sa:
        np.testing.assert_array_equal(sa[k], sb[k], err_msg=k)
    np.testing.assert_array_equal(sa["out_proj.weight"], linear.weight.detach().numpy())
    assert not sa["in_proj_bias"].any() and not sa["out_proj.bias"].any()
    bound = np.sqrt(6.0 / (EMBED + 3 * EMBED))
    w = sa["in_proj_weight"]
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    engine.manual_seed(10)
    assert not np.array_equal(
        _state(engine.nn.MultiheadAttention(EMBED, HEADS).state_dict())["in_proj_weight"], w
    )


BAD: dict[str, tuple[type[Exception], str, Callable[[Any], Any]]] = {
    "not_divisible": (
        AssertionError,
        "divisible by num_heads",
        lambda t: t.nn.MultiheadAttention(6, 4),
    ),
    "zero_heads": (ValueError, "num_heads=0", lambda t: t.nn.MultiheadAttention(6, 0)),
    "int_mask": (
        AssertionError,
        "only bool and floating types of attn_mask",
        lambda t: _mha(t)(*_x(t), attn_mask=t.zeros((L, L), dtype=t.int64)),
    ),
    "mask_shape": (
        RuntimeError,
        "2D attn_mask",
        lambda t: _mha(t)(*_x(t), attn_mask=t.zeros((L, L + 1))),
    ),
    "mask_3d_shape": (
        RuntimeError,
        "3D attn_mask",
        lambda t: _mha(t)(*_x(t), attn_mask=t.zeros((N, L, L))),
    ),
    "causal_without_mask": (
        RuntimeError,
        "Need attn_mask",
        lambda t: _mha(t)(*_x(t), is_causal=True),
    ),
    "query_4d": (
        AssertionError,
        "4-D query",
        lambda t: _mha(t)(*(3 * [t.zeros((1, L, N, EMBED))])),
    ),
    "key_2d_for_batched": (
        AssertionError,
        "expected `key` and `value` to be 3-D",
        lambda t: _mha(t)(t.zeros((L, N, EMBED)), t.zeros((L, EMBED)), t.zeros((L, EMBED))),
    ),
    "kpm_shape": (
        AssertionError,
        "key_padded_mask.shape",
        lambda t: _mha(t)(*_x(t), key_padding_mask=t.zeros((N, L + 1), dtype=t.bool)),
    ),
    "embed_dim": (
        AssertionError,
        "was expecting embedding dimension of 8, but got 4",
        lambda t: _mha(t)(*(3 * [t.zeros((L, N, 4))])),
    ),
}


def _mha(t: Any) -> Any:
    return t.nn.MultiheadAttention(EMBED, HEADS)


def _x(t: Any) -> list[Any]:
    return 3 * [t.zeros((L, N, EMBED))]


@pytest.mark.parametrize("name", list(BAD))
def test_bad_arguments_raise_as_torch(torch_mod: Any, name: str) -> None:
    """The engine raises torch's exception type, with a message naming the option."""
    kind, words, call = BAD[name]
    with pytest.raises(kind, match=words):
        call(torch_mod)
    with pytest.raises(kind, match=words):
        call(engine)


def test_mismatched_mask_types_warn(torch_mod: Any) -> None:
    """A bool key_padding_mask with a float attn_mask is PyTorch's deprecation warning."""
    for t in (torch_mod, engine):
        masks = {
            "attn_mask": t.zeros((L, L)),
            "key_padding_mask": t.zeros((N, L), dtype=t.bool),
        }
        with pytest.warns(UserWarning, match="mismatched key_padding_mask and attn_mask"):
            _mha(t)(*_x(t), **masks)


# name: (constructor keywords (the activation a function of the nn namespace), forward
# keywords naming masks of _masks, layout as in CASES, training mode). Eval mode keeps the
# default dropout=0.1 out (torch's masks are not the engine's); gradients stay on, so torch
# takes its composed path, not the inference fast path.
LAYER_CASES: dict[str, tuple[dict[str, Any], dict[str, Any], str, bool]] = {
    "post_norm": ({}, {}, "self", False),
    "pre_norm_batch_first": ({"norm_first": True, "batch_first": True}, {}, "self", False),
    "gelu_string": ({"activation": "gelu"}, {}, "self", False),
    "callable_module": ({"activation": lambda nn: nn.GELU(approximate="tanh")}, {}, "self", False),
    "callable_function": ({"activation": lambda nn: nn.functional.silu}, {}, "self", False),
    "no_bias": ({"bias": False, "layer_norm_eps": 1e-3}, {}, "self", False),
    "unbatched": ({"norm_first": True}, {}, "unbatched self", False),
    "src_mask_bool": ({}, {"src_mask": "causal_bool"}, "self", False),
    "src_mask_float_kpm_float": (
        {"batch_first": True},
        {"src_mask": "causal_float", "src_key_padding_mask": "self_kpm_float"},
        "self",
        False,
    ),
    "kpm_bool": ({}, {"src_key_padding_mask": "self_kpm_bool"}, "self", False),
    "is_causal": ({}, {"src_mask": "noncausal_bool", "is_causal": True}, "self", False),
    "training_without_dropout": ({"dropout": 0.0, "norm_first": True}, {}, "self", True),
}


@pytest.mark.parametrize("name", list(LAYER_CASES))
def test_transformer_encoder_layer_matches_torch(torch_mod: Any, name: str) -> None:
    """Output, input and parameter gradients equal torch's; torch's state_dict loads (its
    keys, in order, are the engine's)."""
    make, forward, layout, training = LAYER_CASES[name]

    def build(nn: Any) -> Any:
        kw = {k: v(nn) if k == "activation" and callable(v) else v for k, v in make.items()}
        return nn.TransformerEncoderLayer(EMBED, HEADS, dim_feedforward=16, **kw)

    ref, mine = _pair(torch_mod, build)
    assert list(mine.state_dict()) == list(ref.state_dict())
    ref.train(training)
    mine.train(training)
    rng = np.random.default_rng([12, sum(map(ord, name))])
    masks = _masks(rng)
    forward = {k: masks[v] if k.endswith("mask") else v for k, v in forward.items()}
    arrays = _inputs(rng, make, layout)
    want = _run(torch_mod, ref, arrays, forward, layer=True)
    _compare(_run(engine, mine, arrays, forward, layer=True), want)


def test_transformer_encoder_layer_bad_activation(torch_mod: Any) -> None:
    """An unknown activation name is torch's error, naming the valid ones."""
    for t in (torch_mod, engine):
        with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
            t.nn.TransformerEncoderLayer(EMBED, HEADS, activation="tanh")


@pytest.mark.parametrize("site", ["self_attn", "dropout", "dropout1", "dropout2"])
def test_transformer_encoder_layer_dropout_sites(site: str) -> None:
    """Each of the four dropouts acts in training mode only, from the seeded generator."""
    layer = engine.nn.TransformerEncoderLayer(EMBED, HEADS, dim_feedforward=16, dropout=0.0)
    layer = layer.double()
    module = getattr(layer, site)
    if site == "self_attn":
        module.dropout = 0.5
    else:
        module.p = 0.5
    x = engine.from_numpy(np.random.default_rng(6).standard_normal((L, N, EMBED)))
    layer.eval()
    plain = layer(x).detach().numpy()
    layer.train()
    engine.manual_seed(1)
    dropped = layer(x).detach().numpy()
    engine.manual_seed(1)
    np.testing.assert_array_equal(layer(x).detach().numpy(), dropped)
    assert not np.allclose(dropped, plain)
