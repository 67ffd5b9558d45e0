"""The hand-fused NumPy floor does the same training as the targets, not just fast work.

Its gradients match central finite differences (no other backend needed), and its whole
trajectory matches the reference target's step by step (:func:`harness.trajectory.compare`)
for every model shape, activation, loss and optimizer rule it implements.
"""

from __future__ import annotations

import numpy as np
import pytest

from harness import discovery, trajectory, workload

from . import _paths  # noqa: F401  (puts the repository root on sys.path)

from benchmarks import floor  # isort: skip


@pytest.mark.parametrize(
    ("dataset", "model", "activation"),
    [
        ("breast_cancer", "logreg", "relu"),
        ("breast_cancer", "mlp:8,4", "tanh"),
        ("digits", "mlp:8", "relu"),
    ],
)
def test_gradients_match_finite_differences(dataset: str, model: str, activation: str) -> None:
    w = workload.build(dataset, model, dtype="float64", activation=activation, epochs=1)
    rows = w.batches[0][0][:20]
    x, y = w.dataset.x_train[rows], w.dataset.y_train[rows]
    binary = w.model.sizes[-1] == 1
    params = [p.copy() for p in w.init_params]
    _, grads = floor.loss_and_grads(params, x, y, activation, binary)
    rng = np.random.default_rng(0)
    eps = 1e-6
    for i, p in enumerate(params):
        for flat in rng.choice(p.size, size=min(5, p.size), replace=False):
            idx = np.unravel_index(flat, p.shape)
            old = p[idx]
            p[idx] = old + eps
            up, _ = floor.loss_and_grads(params, x, y, activation, binary)
            p[idx] = old - eps
            down, _ = floor.loss_and_grads(params, x, y, activation, binary)
            p[idx] = old
            fd = (up - down) / (2 * eps)
            assert grads[i][idx] == pytest.approx(fd, rel=1e-5, abs=1e-8), (i, idx)


def test_history_shape() -> None:
    w = workload.build("breast_cancer", "logreg", mode="minibatch", epochs=3)
    h = floor.train(w)
    assert h.step_loss.shape == (w.steps,)
    assert h.epoch_train_loss.shape == h.epoch_test_acc.shape == h.epoch_s.shape == (3,)
    assert [p.shape for p in h.final_params] == [p.shape for p in w.init_params]
    assert all(p.dtype == np.float32 for p in h.final_params)
    assert np.all(h.epoch_s > 0) and h.compile_s is None
    assert h.epoch_train_loss[-1] < h.step_loss[0]


CASES = [
    ("breast_cancer", "logreg", "sgd", "relu", 0.0),
    ("breast_cancer", "mlp:16,8", "momentum", "tanh", 0.0),
    ("digits", "mlp:16", "nesterov", "relu", 1e-3),
    ("digits", "mlp:8", "adam", "relu", 1e-3),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("mode", ["batch", "minibatch"])
@pytest.mark.parametrize(("dataset", "model", "optimizer", "activation", "decay"), CASES)
def test_trajectory_matches_reference(
    dataset: str, model: str, optimizer: str, activation: str, decay: float, mode: str, dtype: str
) -> None:
    ref = discovery.default_reference()
    if ref is None:
        pytest.skip("no reference target is available")
    w = workload.build(
        dataset,
        model,
        optimizer,
        mode=mode,
        batch_size=64,
        dtype=dtype,
        epochs=2,
        activation=activation,
        weight_decay=decay,
    )
    verdict = trajectory.compare(ref.backend.train(w, device=ref.device), floor.train(w), dtype)
    assert verdict.agrees, f"floor against {ref.name}: {verdict.summary()}"
    assert max(verdict.param_drift.values()) < (1e-9 if dtype == "float64" else 1e-3)
