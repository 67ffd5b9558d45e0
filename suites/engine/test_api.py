"""The PyTorch-shaped surface: tensors and dtypes, indexing, nn, optim, utils.data."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import harness.implementations.numpy_autograd as E
import numpy as np
import pytest
from harness.implementations.numpy_autograd import dtypes

# -- dtypes and promotion ----------------------------------------------------------------
DTYPE_CASES: dict[str, Callable[[Any], Any]] = {
    "tensor_float": lambda m: m.tensor(3.0),
    "tensor_int_list": lambda m: m.tensor([1, 2]),
    "tensor_bool": lambda m: m.tensor([True, False]),
    "tensor_float64_array": lambda m: m.tensor(np.zeros(2)),
    "from_numpy_int64": lambda m: m.from_numpy(np.arange(3)),
    "zeros": lambda m: m.zeros(2, 3),
    "ones_tuple": lambda m: m.ones((2,)),
    "full_int": lambda m: m.full((2,), 7),
    "full_float": lambda m: m.full((2,), 7.0),
    "arange_int": lambda m: m.arange(5),
    "arange_float": lambda m: m.arange(0, 1, 0.25),
    "linspace": lambda m: m.linspace(0, 1, 5),
    "ones_like_int": lambda m: m.ones_like(m.tensor([1, 2])),
    "rand": lambda m: m.rand(2),
    "randperm": lambda m: m.randperm(4),
    "f32_times_float": lambda m: m.ones(2) * 2.5,
    "f32_times_int": lambda m: m.ones(2) * 2,
    "i64_times_float": lambda m: m.arange(3) * 2.5,
    "i64_div_i64": lambda m: m.arange(3) / m.arange(1, 4),
    "i64_plus_i64": lambda m: m.arange(3) + m.arange(3),
    "f32_plus_f64_zero_dim": lambda m: m.ones(2) + m.tensor(1.0, dtype=m.float64),
    "f32_plus_f64_vector": lambda m: m.ones(2) + m.ones(2, dtype=m.float64),
    "i64_plus_f64_zero_dim": lambda m: m.arange(2) + m.tensor(1.0, dtype=m.float64),
    "f32_zero_dim_plus_i64_vector": lambda m: m.tensor(1.5) + m.arange(2),
    "bool_plus_int": lambda m: m.tensor([True, False]) + 1,
    "bool_plus_bool": lambda m: m.tensor([True, False]) + m.tensor([True, True]),
    "int_plus_bool_scalar": lambda m: m.arange(2) + True,
    "sum_int": lambda m: m.tensor([1, 2]).sum(),
    "sum_bool": lambda m: m.tensor([True, True]).sum(),
    "exp_int": lambda m: m.exp(m.arange(3)),
    "compare": lambda m: m.ones(2) > 0.5,
    "argmax": lambda m: m.tensor([1.0, 3.0]).argmax(),
    "where_mixed": lambda m: m.where(m.tensor([True, False]), m.ones(2), 0.0),
    "cat_promotes": lambda m: m.cat([m.ones(1), m.ones(1, dtype=m.float64)]),
    "pow_int_float": lambda m: m.arange(3) ** 0.5,
    "float_to_long": lambda m: m.tensor([1.7, -1.7]).long(),
    "mean_float64": lambda m: m.ones(2, dtype=m.float64).mean(),
}


def _dtype_name(t: Any) -> str:
    return str(t.dtype) if type(t).__module__.startswith("torch") else dtypes.name(t.dtype)


@pytest.mark.parametrize("name", list(DTYPE_CASES))
def test_dtypes_and_promotion_match_torch(name: str, torch_mod: Any) -> None:
    expected = DTYPE_CASES[name](torch_mod)
    got = DTYPE_CASES[name](E)
    assert _dtype_name(got) == _dtype_name(expected)
    assert tuple(got.shape) == tuple(expected.shape)
    if name not in ("rand", "randperm"):  # different generators, same shape and dtype
        np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-6)


def test_default_dtype_can_be_changed() -> None:
    E.set_default_dtype(E.float64)
    try:
        assert E.tensor(1.0).dtype == E.float64
        assert E.nn.Linear(2, 1).weight.dtype == E.float64
    finally:
        E.set_default_dtype(E.float32)
    assert E.tensor(1.0).dtype == E.float32


# -- tensor methods -----------------------------------------------------------------------
def test_tensor_attributes_and_conversions() -> None:
    x = E.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    assert x.shape == (2, 2) and x.size() == (2, 2) and x.size(1) == 2 and x.ndim == 2
    assert x.dim() == 2 and x.numel() == 4 and len(x) == 2 and x.is_leaf and x.grad is None
    assert repr(x.shape) == "torch.Size([2, 2])" and str(x.device) == "cpu"
    assert x.T.tolist() == [[1.0, 3.0], [2.0, 4.0]]
    assert x.detach().numpy().tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert x[1, 0].item() == 3.0 and float(x[0, 1]) == 2.0 and int(x[1, 1]) == 4
    assert f"{x.sum():.1f}" == "10.0"
    assert x.double().dtype == E.float64 and x.long().dtype == E.int64
    assert x.to(E.float64).dtype == E.float64 and x.to("cpu") is x
    assert x.float() is x
    assert [r.tolist() for r in x.detach()] == [[1.0, 2.0], [3.0, 4.0]]
    assert x.clone().requires_grad and not x.clone().is_leaf
    assert "requires_grad=True" in repr(x) and "grad_fn=<MulBackward0>" in repr(x * 2)
    assert "dtype=torch.float64" in repr(x.double())


def test_from_numpy_shares_memory_and_tensor_copies() -> None:
    a = np.zeros(3)
    t, c = E.from_numpy(a), E.tensor(a)
    a[0] = 5.0
    assert t[0].item() == 5.0 and c[0].item() == 0.0
    t.add_(1)
    assert a.tolist() == [6.0, 1.0, 1.0]


def test_shape_methods() -> None:
    x = E.arange(24).reshape(2, 3, 4)
    assert x.view(6, 4).shape == (6, 4) and x.reshape(-1).shape == (24,)
    assert x.flatten().shape == (24,) and x.flatten(1).shape == (2, 12)
    assert x.permute(2, 0, 1).shape == (4, 2, 3) and x.transpose(0, 2).shape == (4, 3, 2)
    assert x[:, :1].squeeze(1).shape == (2, 4) and x.unsqueeze(-1).shape == (2, 3, 4, 1)
    assert E.ones(3, 1).expand(2, 3, 5).shape == (2, 3, 5)
    assert E.ones(3, 1).expand(-1, 4).shape == (3, 4)


def test_in_place_methods_and_versions() -> None:
    x = E.zeros(3)
    x.add_(2).mul_(3).sub_(1, alpha=2).clamp_(max=3.5)
    assert x.tolist() == [3.5, 3.5, 3.5]
    x += 1
    x *= 2
    x -= 1
    x /= 2
    assert x.tolist() == [4.0, 4.0, 4.0]
    x.zero_()
    x.fill_(7)
    x[1] = 0
    assert x.tolist() == [7.0, 0.0, 7.0]
    assert x._version == 11


INDEX_CASES: dict[str, Callable[[Any, Any], Any]] = {
    "int": lambda m, x: x[1],
    "negative": lambda m, x: x[-1, -2],
    "slice_step": lambda m, x: x[::2, 1::2],
    "ellipsis_none": lambda m, x: x[..., None, 0],
    "int_list": lambda m, x: x[[0, 2, 0]],
    "int_tensor_2d": lambda m, x: x[m.tensor([[0, 1], [2, 2]])],
    "bool_mask": lambda m, x: x[x > 5],
    "row_mask": lambda m, x: x[m.tensor([True, False, True])],
    "mixed": lambda m, x: x[1:, [3, 0]],
    "two_arrays": lambda m, x: x[m.tensor([0, 2]), m.tensor([1, 3])],
}


@pytest.mark.parametrize("name", list(INDEX_CASES))
def test_indexing_matches_torch(name: str, torch_mod: Any) -> None:
    data = np.arange(12.0).reshape(3, 4)
    expected = INDEX_CASES[name](torch_mod, torch_mod.tensor(data))
    got = INDEX_CASES[name](E, E.tensor(data))
    assert tuple(got.shape) == tuple(expected.shape)
    np.testing.assert_array_equal(got.numpy(), expected.numpy())


def test_setitem_forms_match_torch(torch_mod: Any) -> None:
    def fill(m: Any) -> Any:
        x = m.zeros(3, 4)
        x[0] = 1.0
        x[1, 1:3] = m.tensor([2.0, 3.0])
        x[x == 0] = -1.0
        x[:, 3] = m.arange(3).to(x.dtype)
        return x

    np.testing.assert_array_equal(fill(E).numpy(), fill(torch_mod).numpy())


def test_basic_indexing_is_a_view_like_torch() -> None:
    x = E.zeros(2, 3)
    x[1].fill_(2)
    x[0, 2].add_(5)
    assert x.tolist() == [[0.0, 0.0, 5.0], [2.0, 2.0, 2.0]]


# -- nn ---------------------------------------------------------------------------------------
def _mlp(m: Any) -> Any:
    return m.nn.Sequential(
        m.nn.Linear(4, 3), m.nn.ReLU(), m.nn.Dropout(0.2), m.nn.Linear(3, 2), m.nn.Tanh()
    )


def test_module_structure_and_repr_match_torch(torch_mod: Any) -> None:
    mine, ref = _mlp(E), _mlp(torch_mod)
    assert repr(mine) == repr(ref)
    assert [n for n, _ in mine.named_parameters()] == [n for n, _ in ref.named_parameters()]
    assert [tuple(p.shape) for p in mine.parameters()] == [tuple(p.shape) for p in ref.parameters()]
    assert list(mine.state_dict()) == list(ref.state_dict())
    assert len(list(mine.children())) == 5 and len(list(mine.modules())) == 6
    assert repr(E.nn.Flatten()) == repr(torch_mod.nn.Flatten())
    assert repr(E.nn.BCEWithLogitsLoss()) == repr(torch_mod.nn.BCEWithLogitsLoss())


def test_custom_module_registration_train_eval_and_state_dict() -> None:
    class Net(E.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = E.nn.Sequential(E.nn.Linear(3, 4), E.nn.Sigmoid())
            self.head = E.nn.Linear(4, 1, bias=False)
            self.scale = E.nn.Parameter(E.ones(1))
            self.not_a_param = E.ones(1)

        def forward(self, x: E.Tensor) -> E.Tensor:
            return self.head(self.body(x)) * self.scale

    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["scale", "body.0.weight", "body.0.bias", "head.weight"]
    assert net.head.bias is None
    net.eval()
    assert not net.body.training and not net.body[0].training
    net.train()
    assert net.body[1].training
    out = net(E.ones(2, 3))
    out.sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    state = net.state_dict()
    other = Net()
    other.load_state_dict(state)
    np.testing.assert_array_equal(other(E.ones(2, 3)).detach().numpy(), out.detach().numpy())
    with pytest.raises(RuntimeError, match=re.escape("missing keys ['scale']")):
        other.load_state_dict({k: v for k, v in state.items() if k != "scale"})
    with pytest.raises(RuntimeError, match=r"size mismatch for head\.weight"):
        other.load_state_dict({**state, "head.weight": E.ones(2, 4)})


def test_linear_uses_pytorch_default_initialization_seeded() -> None:
    E.manual_seed(0)
    a = E.nn.Linear(100, 50)
    E.manual_seed(0)
    b = E.nn.Linear(100, 50)
    np.testing.assert_array_equal(a.weight.detach().numpy(), b.weight.detach().numpy())
    bound = 1 / np.sqrt(100)
    w = a.weight.detach().numpy()
    assert (
        w.min() >= -bound
        and w.max() <= bound
        and w.std() == pytest.approx(bound / np.sqrt(3), rel=0.05)
    )
    assert np.abs(a.bias.detach().numpy()).max() <= bound


def test_dropout_is_seeded_scaled_and_identity_in_eval() -> None:
    drop = E.nn.Dropout(0.25)
    x = E.ones(400, 50, requires_grad=True)
    E.manual_seed(1)
    y = drop(x)
    E.manual_seed(1)
    assert np.array_equal(drop(x).detach().numpy(), y.detach().numpy())
    kept = y.detach().numpy() != 0
    assert kept.mean() == pytest.approx(0.75, abs=0.01)
    assert np.allclose(y.detach().numpy()[kept], 1 / 0.75)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy() != 0, kept)
    drop.eval()
    assert drop(x) is x


def test_losses_edge_values_match_torch(torch_mod: Any) -> None:
    for m in (E, torch_mod):
        p, y = m.tensor([0.0, 1.0, 0.5]), m.tensor([1.0, 0.0, 1.0])
        bce = m.nn.BCELoss(reduction="none")(p, y)
        z = m.tensor([-1000.0, 1000.0, 0.0])
        logits = m.nn.BCEWithLogitsLoss(reduction="none")(z, y)
        if m is E:
            mine = (bce.numpy(), logits.numpy())
        else:
            ref = (bce.numpy(), logits.numpy())
    np.testing.assert_allclose(mine[0], ref[0], rtol=1e-6)  # log clamped at -100
    np.testing.assert_allclose(mine[1], ref[1], rtol=1e-6)  # stable at |z| = 1000
    assert np.isfinite(mine[1]).all()


# -- optim ------------------------------------------------------------------------------------
OPTIMIZERS: dict[str, tuple[str, dict[str, Any]]] = {
    "sgd": ("SGD", {"lr": 0.1}),
    "sgd_momentum_dampening": ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3}),
    "sgd_nesterov_wd": (
        "SGD",
        {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01},
    ),
    "sgd_maximize": ("SGD", {"lr": 0.1, "momentum": 0.5, "maximize": True}),
    "adam": ("Adam", {"lr": 0.01}),
    "adam_wd_betas": ("Adam", {"lr": 0.02, "betas": (0.3, 0.9), "weight_decay": 0.1}),
    "adam_amsgrad": ("Adam", {"lr": 0.01, "amsgrad": True, "eps": 1e-6}),
}


def _optimize(m: Any, kind: str, kwargs: dict[str, Any]) -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    w = m.nn.Parameter(m.tensor(rng.standard_normal((3, 2))))
    b = m.nn.Parameter(m.tensor(rng.standard_normal(2)))
    opt = getattr(m.optim, kind)([{"params": [w]}, {"params": [b], "lr": 0.3}], **kwargs)
    x = m.tensor(rng.standard_normal((5, 3)))
    for _ in range(6):
        opt.zero_grad()
        loss = ((x @ w + b).tanh() ** 2).sum()
        loss.backward()
        opt.step()
    return [w.detach().numpy().copy(), b.detach().numpy().copy()]


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizer_updates_match_torch_exactly(name: str, torch_mod: Any) -> None:
    kind, kwargs = OPTIMIZERS[name]
    for got, expected in zip(
        _optimize(E, kind, kwargs), _optimize(torch_mod, kind, kwargs), strict=True
    ):
        np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-15)


def test_optimizer_zero_grad_and_state() -> None:
    p = E.nn.Parameter(E.ones(2))
    opt = E.optim.SGD([p], lr=0.1, momentum=0.9)
    (p * 2).sum().backward()
    opt.step()
    assert "momentum_buffer" in opt.state[p]
    opt.zero_grad(set_to_none=False)
    assert p.grad.tolist() == [0.0, 0.0]
    opt.zero_grad()
    assert p.grad is None
    sd = opt.state_dict()
    assert sd["param_groups"][0]["params"] == [0] and sd["param_groups"][0]["momentum"] == 0.9


# -- utils.data -------------------------------------------------------------------------------
def test_dataloader_batches_shuffle_and_drop_last() -> None:
    x = E.arange(10).float().unsqueeze(1)
    y = E.arange(10)
    ds = E.utils.data.TensorDataset(x, y)
    assert len(ds) == 10 and ds[3][1].item() == 3
    batches = list(E.utils.data.DataLoader(ds, batch_size=4))
    assert [tuple(b[0].shape) for b in batches] == [(4, 1), (4, 1), (2, 1)]
    assert batches[0][1].dtype == E.int64
    assert len(E.utils.data.DataLoader(ds, batch_size=4, drop_last=True)) == 2

    def order(seed: int) -> list[int]:
        g = E.Generator().manual_seed(seed)
        loader = E.utils.data.DataLoader(ds, batch_size=3, shuffle=True, generator=g)
        return [int(i) for _, yb in loader for i in yb]

    assert order(0) == order(0) and order(0) != order(1)
    assert sorted(order(0)) == list(range(10))
    E.manual_seed(5)
    a = [int(i) for _, yb in E.utils.data.DataLoader(ds, batch_size=5, shuffle=True) for i in yb]
    E.manual_seed(5)
    b = [int(i) for _, yb in E.utils.data.DataLoader(ds, batch_size=5, shuffle=True) for i in yb]
    assert a == b


def test_default_collate_and_custom_dataset() -> None:
    class Pairs(E.utils.data.Dataset):
        def __len__(self) -> int:
            return 5

        def __getitem__(self, i: int) -> dict[str, Any]:
            return {"x": np.full(2, float(i)), "label": i, "w": 0.5}

    batch = next(iter(E.utils.data.DataLoader(Pairs(), batch_size=3)))
    assert batch["x"].shape == (3, 2) and batch["x"].dtype == E.float64
    assert batch["label"].tolist() == [0, 1, 2] and batch["w"].dtype == E.float64


def test_sampler_of_index_batches_without_auto_batching() -> None:
    ds = E.utils.data.TensorDataset(E.arange(6) * 10)
    idx = [E.tensor([4, 0]), E.tensor([5, 1, 2])]
    got = [b[0].tolist() for b in E.utils.data.DataLoader(ds, sampler=idx, batch_size=None)]
    assert got == [[40, 0], [50, 10, 20]]


def test_random_split_is_seeded_and_disjoint() -> None:
    ds = E.utils.data.TensorDataset(E.arange(10))
    a, b = E.utils.data.random_split(ds, [7, 3], generator=E.Generator().manual_seed(0))
    c, _ = E.utils.data.random_split(ds, [0.7, 0.3], generator=E.Generator().manual_seed(0))
    assert len(a) == 7 and len(b) == 3
    got = sorted(int(a[i][0]) for i in range(7)) + sorted(int(b[i][0]) for i in range(3))
    assert sorted(got) == list(range(10))
    assert [int(a[i][0]) for i in range(7)] == [int(c[i][0]) for i in range(7)]


def _confident(m: Any) -> tuple[np.ndarray, float, np.ndarray, float]:
    """Float32 BCE-with-logits and cross-entropy at confident logits: grads and losses."""
    z = m.tensor([8.0, 15.0, 30.0, -8.0, -15.0, -30.0], requires_grad=True)
    y = m.tensor([1.0, 1.0, 1.0, 0.0, 0.0, 0.0])
    bce = m.nn.functional.binary_cross_entropy_with_logits(z, y)
    bce.backward()
    logits = m.tensor([[12.0, -3.0, 0.5], [-2.0, 20.0, 1.0]], requires_grad=True)
    ce = m.nn.functional.cross_entropy(logits, m.tensor([0, 1]))
    ce.backward()
    return z.grad.numpy().copy(), bce.item(), logits.grad.numpy().copy(), ce.item()


def test_fused_losses_keep_float32_accuracy_at_confident_logits() -> None:
    # Confident, correct predictions have tiny gradients; Adam divides by their own scale,
    # so their float32 error must stay at float32's resolution: sigmoid(z) - 1 cannot be
    # finer than the spacing of floats below 1 (eps/2), sigmoid(-z) must be relatively exact.
    # (A VJP taking sigmoid as exp(z - softplus(z)) is off by ~ulp(z) there: 16x too much at
    # z = 8, and it derailed a 100-epoch float32 Adam run.)
    zg, bce, cg, ce = _confident(E)
    z64 = np.array([8.0, 15.0, 30.0, -8.0, -15.0, -30.0])
    y = np.array([1.0, 1.0, 1.0, 0.0, 0.0, 0.0])
    exact = (1 / (1 + np.exp(-z64)) - y) / 6
    resolution = np.finfo(np.float32).eps / 6
    np.testing.assert_allclose(zg[:3], exact[:3], rtol=0, atol=float(resolution))
    np.testing.assert_allclose(zg[3:], exact[3:], rtol=1e-5)
    logits = np.array([[12.0, -3.0, 0.5], [-2.0, 20.0, 1.0]])
    shifted = logits - logits.max(1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
    # log of a sum just above 1 (as PyTorch's log_softmax): resolution eps in absolute terms
    assert ce == pytest.approx(
        -logp[[0, 1], [0, 1]].mean(), rel=0, abs=float(np.finfo(np.float32).eps)
    )
    soft = np.exp(logp)
    soft[[0, 1], [0, 1]] -= 1
    np.testing.assert_allclose(cg, soft / 2, rtol=1e-4, atol=float(np.finfo(np.float32).eps / 2))
    assert bce == pytest.approx(np.mean(np.log1p(np.exp(-np.abs(z64)))), rel=1e-3)


def test_fused_losses_at_confident_logits_match_torch_float32(torch_mod: Any) -> None:
    mine, ref = _confident(E), _confident(torch_mod)
    np.testing.assert_allclose(mine[0], ref[0], rtol=1e-6, atol=float(np.finfo(np.float32).eps / 6))
    assert mine[1] == pytest.approx(ref[1], rel=1e-6)  # PyTorch's own formula, same rounding
    np.testing.assert_allclose(mine[2], ref[2], rtol=1e-5, atol=1e-9)
    assert mine[3] == pytest.approx(ref[3], rel=1e-6)
