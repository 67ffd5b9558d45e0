"""The PyTorch backend through the contract: VJP against finite differences, training."""

from __future__ import annotations

import numpy as np
import pytest

from harness import catalog, workload
from harness.discovery import get_target

pytest.importorskip("torch")
TORCH = get_target("torch:cpu").backend


def _fd_vjp(op: catalog.OpSpec, xs: list[np.ndarray], v: np.ndarray, i: int) -> np.ndarray:
    """Central-difference VJP of the float64 reference with respect to argument ``i``."""
    eps = 1e-6
    g = np.zeros_like(xs[i])
    for idx in np.ndindex(xs[i].shape):
        plus = [x.copy() for x in xs]
        minus = [x.copy() for x in xs]
        plus[i][idx] += eps
        minus[i][idx] -= eps
        g[idx] = np.sum(v * (op.reference(*plus) - op.reference(*minus))) / (2 * eps)
    return g


CASES = {
    "tanh": lambda r: [r.uniform(-2, 2, (3, 4))],
    "mul": lambda r: [r.uniform(-2, 2, (3, 1)), r.uniform(-2, 2, (4,))],
    "matmul": lambda r: [r.uniform(-2, 2, (3, 5)), r.uniform(-2, 2, (5, 2))],
    "log_softmax": lambda r: [r.uniform(-2, 2, (4, 3))],
    "var_dim": lambda r: [r.uniform(-2, 2, (2, 5))],
    "bce_with_logits": lambda r: [r.uniform(-2, 2, (6,)), r.uniform(0, 1, (6,))],
    "linear": lambda r: [r.uniform(-2, 2, (4, 3)), r.uniform(-1, 1, (2, 3)), r.uniform(-1, 1, 2)],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_vjp_matches_finite_differences_float64(name: str) -> None:
    rng = np.random.default_rng(0)
    op = catalog.get(name)
    xs = CASES[name](rng)
    out = op.reference(*xs)
    v = rng.standard_normal(np.shape(out))
    value, grads = TORCH.vjp(TORCH.ops()[name], xs, v, device="cpu", argnums=op.diff_argnums)
    np.testing.assert_allclose(value, out, rtol=1e-12, atol=1e-12)
    for i, g in zip(op.diff_argnums, grads, strict=True):
        np.testing.assert_allclose(g, _fd_vjp(op, xs, v, i), rtol=1e-6, atol=1e-8)


def test_vjp_detects_a_wrong_cotangent() -> None:
    # Guards the test above: a VJP with the wrong cotangent must not pass the FD check.
    rng = np.random.default_rng(1)
    op = catalog.get("tanh")
    xs = CASES["tanh"](rng)
    v = rng.standard_normal((3, 4))
    _, (g,) = TORCH.vjp(TORCH.ops()["tanh"], xs, 2 * v, device="cpu")
    assert not np.allclose(g, _fd_vjp(op, xs, v, 0), rtol=1e-6, atol=1e-8)


def test_jvp_and_second_order_agree_with_vjp() -> None:
    rng = np.random.default_rng(2)
    x = rng.uniform(-2, 2, (3, 4))
    u, v = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    fn = TORCH.ops()["tanh"]
    _, (g,) = TORCH.vjp(fn, [x], v, device="cpu")
    _, t = TORCH.jvp(fn, [x], [u], device="cpu")
    assert np.isclose(np.sum(t * v), np.sum(u * g), rtol=1e-12)
    (h,) = TORCH.vjp_vjp(fn, [x], v, [u], device="cpu")
    # d/dx <tanh'(x) * v, u> = tanh''(x) * v * u, tanh'' = -2 tanh (1 - tanh^2)
    th = np.tanh(x)
    np.testing.assert_allclose(h, -2 * th * (1 - th**2) * v * u, rtol=1e-12)


@pytest.mark.parametrize("mode", ["batch", "minibatch"])
def test_breast_cancer_training_reaches_95_percent(mode: str) -> None:
    w = workload.build("breast_cancer", "logreg", "sgd", mode=mode, dtype="float32", epochs=100)
    h = TORCH.train(w, device="cpu")
    assert h.step_loss.shape == (w.steps,)
    assert h.epoch_train_loss.shape == h.epoch_test_acc.shape == h.epoch_s.shape == (100,)
    assert h.epoch_test_acc[-1] >= 0.95
    assert h.epoch_train_loss[-1] < h.step_loss[0]
    assert [p.shape for p in h.final_params] == [p.shape for p in w.init_params]


def test_training_is_deterministic_and_starts_from_the_given_parameters() -> None:
    w = workload.build(mode="minibatch", epochs=2, dtype="float64")
    a, b = TORCH.train(w, device="cpu"), TORCH.train(w, device="cpu")
    np.testing.assert_array_equal(a.step_loss, b.step_loss)
    # The first step's loss is the loss of the initial parameters on the first batch.
    x, y = w.dataset.x_train[w.batches[0][0]], w.dataset.y_train[w.batches[0][0]]
    z = x @ w.init_params[0].T[:, 0] + w.init_params[1][0]
    expected = np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z))))
    assert a.step_loss[0] == pytest.approx(expected, rel=1e-12)
