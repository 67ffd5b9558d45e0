"""The engine's ``nn`` modules, ``optim.AdamW``, gradient clipping, ``autograd.Function`` and
the creation keywords against real torch: outputs, input and parameter gradients, buffers,
``state_dict`` keys in order, train/eval switching, float64.

Each module is built once per namespace by the same constructor call; the engine module
loads the torch module's ``state_dict`` (so they start equal), both run the same input.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import harness.implementations.numpy_autograd as engine
import numpy as np
import pytest

_R = np.random.default_rng(11)

MODULES: dict[str, tuple[Callable[[Any], Any], tuple[int, ...]]] = {
    "conv1d": (lambda nn: nn.Conv1d(3, 4, 3, stride=2, padding=1), (2, 3, 9)),
    "conv2d": (lambda nn: nn.Conv2d(3, 4, 3, padding=1), (2, 3, 6, 5)),
    "conv2d_groups": (lambda nn: nn.Conv2d(4, 6, (3, 2), dilation=(1, 2), groups=2), (2, 4, 7, 6)),
    "maxpool2d": (lambda nn: nn.MaxPool2d(2), (2, 3, 6, 6)),
    "maxpool2d_stride": (lambda nn: nn.MaxPool2d(3, stride=2, padding=1), (2, 3, 7, 7)),
    "avgpool2d": (lambda nn: nn.AvgPool2d(2, stride=1), (2, 3, 5, 5)),
    "layernorm": (lambda nn: nn.LayerNorm(6), (3, 4, 6)),
    "layernorm_2d": (lambda nn: nn.LayerNorm((4, 6), elementwise_affine=False), (3, 4, 6)),
    "batchnorm1d": (lambda nn: nn.BatchNorm1d(5), (8, 5)),
    "batchnorm1d_seq": (lambda nn: nn.BatchNorm1d(5, momentum=None), (4, 5, 3)),
    "batchnorm2d": (lambda nn: nn.BatchNorm2d(3, momentum=0.3), (4, 3, 3, 3)),
    "batchnorm2d_untracked": (
        lambda nn: nn.BatchNorm2d(3, track_running_stats=False),
        (4, 3, 2, 2),
    ),
    "groupnorm": (lambda nn: nn.GroupNorm(2, 6), (3, 6, 4)),
    "gelu": (lambda nn: nn.GELU(), (4, 5)),
    "gelu_tanh": (lambda nn: nn.GELU(approximate="tanh"), (4, 5)),
    "silu": (lambda nn: nn.SiLU(), (4, 5)),
    "unflatten": (lambda nn: nn.Sequential(nn.Unflatten(1, (2, 3)), nn.Flatten()), (4, 6)),
}


def _pair(torch: Any, make: Callable[[Any], Any]) -> tuple[Any, Any]:
    ref = make(torch.nn).double()
    mine = make(engine.nn).double()
    with torch.no_grad():  # non-default parameters, so the affine parts are exercised
        for p in ref.parameters():
            p.copy_(torch.from_numpy(_R.standard_normal(tuple(p.shape))))
    mine.load_state_dict(
        {k: engine.from_numpy(v.numpy().copy()) for k, v in ref.state_dict().items()}
    )
    return ref, mine


def _state(sd: Any) -> dict[str, np.ndarray]:
    return {k: np.asarray(v.detach().numpy() if hasattr(v, "detach") else v) for k, v in sd.items()}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_matches_torch(torch_mod: Any, name: str) -> None:
    """Outputs, gradients and the state_dict (keys in order, buffers after training steps
    and in eval mode) equal torch's."""
    torch = torch_mod
    make, shape = MODULES[name]
    ref, mine = _pair(torch, make)
    assert list(mine.state_dict()) == list(ref.state_dict())
    for mode in ("train", "train", "eval"):
        ref.train(mode == "train")
        mine.train(mode == "train")
        x = _R.standard_normal(shape)
        g = None
        xr = torch.from_numpy(x.copy()).requires_grad_(True)
        xm = engine.from_numpy(x.copy()).requires_grad_(True)
        out_r, out_m = ref(xr), mine(xm)
        np.testing.assert_allclose(
            out_m.detach().numpy(), out_r.detach().numpy(), rtol=1e-10, atol=1e-12
        )
        g = _R.standard_normal(tuple(out_r.shape))
        out_r.backward(torch.from_numpy(g))
        out_m.backward(engine.from_numpy(g))
        np.testing.assert_allclose(xm.grad.numpy(), xr.grad.numpy(), rtol=1e-9, atol=1e-11)
        for (n, pr), (_, pm) in zip(ref.named_parameters(), mine.named_parameters(), strict=True):
            np.testing.assert_allclose(
                pm.grad.numpy(), pr.grad.numpy(), rtol=1e-9, atol=1e-11, err_msg=n
            )
            pr.grad = None
            pm.grad = None
        want, got = _state(ref.state_dict()), _state(mine.state_dict())
        assert list(got) == list(want)
        for k in want:
            np.testing.assert_allclose(
                got[k], want[k], rtol=1e-12, atol=1e-14, err_msg=f"{mode} {k}"
            )


def test_embedding_matches_torch(torch_mod: Any) -> None:
    """Repeated indices accumulate; the padding row gets no gradient; N(0, 1) init shape."""
    torch = torch_mod
    ref = torch.nn.Embedding(6, 3, padding_idx=2).double()
    mine = engine.nn.Embedding(6, 3, padding_idx=2).double()
    assert float(mine.weight[2].abs().sum()) == 0.0
    mine.load_state_dict({"weight": engine.from_numpy(ref.weight.detach().numpy().copy())})
    idx = np.array([[1, 1, 2], [5, 1, 0]])
    out_r, out_m = ref(torch.from_numpy(idx)), mine(engine.from_numpy(idx))
    np.testing.assert_array_equal(out_m.detach().numpy(), out_r.detach().numpy())
    g = _R.standard_normal(out_r.shape)
    out_r.backward(torch.from_numpy(g))
    out_m.backward(engine.from_numpy(g))
    np.testing.assert_allclose(mine.weight.grad.numpy(), ref.weight.grad.numpy(), rtol=1e-12)


def test_sequential_state_dict_order_and_num_batches(torch_mod: Any) -> None:
    """Each module's parameters, then its buffers, then the next module's (torch's order);
    ``num_batches_tracked`` counts training forwards only; load_state_dict restores it."""
    torch = torch_mod

    def make(nn: Any) -> Any:
        return nn.Sequential(
            nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(), nn.Linear(8, 2)
        )

    ref, mine = _pair(torch, make)
    assert list(mine.state_dict()) == list(ref.state_dict())
    x = _R.standard_normal((3, 1, 4, 4))
    for _ in range(3):
        ref(torch.from_numpy(x))
        mine(engine.from_numpy(x))
    mine.eval()
    mine(engine.from_numpy(x))
    assert int(mine.state_dict()["1.num_batches_tracked"]) == 3
    fresh = make(engine.nn).double()
    fresh.load_state_dict(mine.state_dict())
    assert int(fresh[1].num_batches_tracked) == 3


def test_register_buffer_non_persistent() -> None:
    """A buffer registered with ``persistent=False`` stays out of the state_dict."""
    m = engine.nn.Module()
    m.register_buffer("kept", engine.zeros(2))
    m.register_buffer("scratch", engine.zeros(2), persistent=False)
    assert list(m.state_dict()) == ["kept"]
    assert [n for n, _ in m.named_buffers()] == ["kept", "scratch"]


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adamw_matches_torch(torch_mod: Any, amsgrad: bool) -> None:
    """Ten AdamW steps (decoupled weight decay) give torch's parameters to 1e-14."""
    torch = torch_mod
    p0 = _R.standard_normal((4, 3))
    pr = torch.from_numpy(p0.copy()).requires_grad_(True)
    pm = engine.from_numpy(p0.copy()).requires_grad_(True)
    opt_r = torch.optim.AdamW([pr], lr=0.05, weight_decay=0.1, amsgrad=amsgrad)
    opt_m = engine.optim.AdamW([pm], lr=0.05, weight_decay=0.1, amsgrad=amsgrad)
    for _ in range(10):
        g = _R.standard_normal(p0.shape)
        pr.grad, pm.grad = torch.from_numpy(g.copy()), engine.from_numpy(g.copy())
        opt_r.step()
        opt_m.step()
    np.testing.assert_allclose(pm.detach().numpy(), pr.detach().numpy(), rtol=1e-14, atol=1e-15)
    assert opt_m.param_groups[0]["weight_decay"] == 0.1


@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_torch(torch_mod: Any, norm_type: float, max_norm: float) -> None:
    """The returned total norm and the clipped gradients equal torch's."""
    torch = torch_mod
    grads = [_R.standard_normal(s) for s in ((3, 4), (5,), (2, 2, 2))]
    pr = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    pm = [engine.zeros(g.shape, dtype=engine.float64, requires_grad=True) for g in grads]
    for a, b, g in zip(pr, pm, grads, strict=True):
        a.grad, b.grad = torch.from_numpy(g.copy()), engine.from_numpy(g.copy())
    total_r = torch.nn.utils.clip_grad_norm_(pr, max_norm, norm_type)
    total_m = engine.nn.utils.clip_grad_norm_(pm, max_norm, norm_type)
    np.testing.assert_allclose(float(total_m), float(total_r), rtol=1e-14)
    for a, b in zip(pr, pm, strict=True):
        np.testing.assert_allclose(b.grad.numpy(), a.grad.numpy(), rtol=1e-14)


def test_clip_grad_norm_nonfinite_raises() -> None:
    """``error_if_nonfinite`` raises on an infinite norm, as torch does."""
    p = engine.zeros(2, requires_grad=True)
    p.grad = engine.tensor([float("inf"), 1.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        engine.nn.utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)


def _custom_functions(torch: Any) -> Any:
    class Cube(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any, k: float) -> Any:
            ctx.save_for_backward(x)
            ctx.k = k
            return k * x * x * x

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            (x,) = ctx.saved_tensors
            return 3 * ctx.k * x * x * g, None

    return Cube


def test_autograd_function_matches_torch(torch_mod: Any) -> None:
    """A custom Function's gradient, and its gradient's gradient (create_graph), equal
    torch's; a non-tensor argument gets None."""
    torch = torch_mod
    x0 = _R.standard_normal(5)
    results = []
    for ns in (torch, engine):
        cube = _custom_functions(ns)
        x = ns.from_numpy(x0.copy()).requires_grad_(True)
        y = cube.apply(x, 2.0).sum()
        (g,) = ns.autograd.grad(y, x, create_graph=True)
        (gg,) = ns.autograd.grad(g.sum(), x)
        results.append((y.detach().numpy(), g.detach().numpy(), gg.numpy()))
    for a, b in zip(*results, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-13)


def test_autograd_function_saved_tensor_modified_raises() -> None:
    """Modifying a saved tensor in place before backward is PyTorch's error."""
    cube = _custom_functions(engine)
    x = engine.randn(3, requires_grad=True)
    h = x * 1.0
    y = cube.apply(h, 1.0).sum()
    with engine.no_grad():
        h.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


def test_creation_size_keyword(torch_mod: Any) -> None:
    """``zeros(size=...)``, ``ones``, ``empty``, ``rand``, ``randn`` and ``full`` take torch's
    keyword form; shape given twice is an error."""
    torch = torch_mod
    for name in ("zeros", "ones", "empty", "rand", "randn"):
        got = getattr(engine, name)(size=(2, 3), dtype=engine.float64)
        assert tuple(got.shape) == tuple(getattr(torch, name)(size=(2, 3)).shape) == (2, 3)
        assert tuple(getattr(engine, name)(2, 3).shape) == (2, 3)
    assert float(engine.full(size=(2,), fill_value=3.0).sum()) == 6.0
    with pytest.raises(TypeError):
        engine.zeros(2, size=(2, 3))
