"""The three training styles of a PyTorch tutorial, written once and run twice.

Each style is a function of the *module* it is given: it is called with the real ``torch``
and with ``harness.implementations.numpy_autograd`` (nothing else differs), from the same initial
parameters (the harness' seeded ``init_params``) and the same batch order (a seeded
sampler). Both runs must reach 0.95 test accuracy on breast cancer and follow the same
per-step loss curve: float64 within 1e-9 relative at every step over 100 epochs, float32
within harness/trajectory.py's float32 rule (rtol 1e-4 * sqrt(step + 1): float32 rounding
differences between two correct implementations accumulate like a random walk; measured
float32-vs-float64 drift on these workloads stays below 1.3e-5 * sqrt(step + 1), so the rule
leaves a 5x margin while a wrong gradient or update rule is off by 1e-2 within a few steps).
"""

from __future__ import annotations

from typing import Any

import harness.implementations.numpy_autograd as engine
import numpy as np
import pytest

from harness import data, trajectory, workload
from harness.contract import History

EPOCHS = 100


def _data(dtype: str) -> data.Dataset:
    return data.load("breast_cancer", seed=0, dtype=dtype)


def manual_loop(torch: Any, dtype: str) -> tuple[list[float], float]:
    """Style 1: tensors, autograd and a hand-written update (full batch)."""
    ds = _data(dtype)
    W0, b0 = workload.init_params((30, 1), seed=0, dtype=dtype)
    X, y = torch.from_numpy(ds.x_train.copy()), torch.from_numpy(ds.y_train.copy())
    w = torch.tensor(W0.T.copy(), requires_grad=True)  # (30, 1)
    b = torch.tensor(b0.copy(), requires_grad=True)
    lr, eps = 0.5, 1e-7
    losses = []
    for _ in range(EPOCHS):
        p = torch.sigmoid(X @ w + b).squeeze(1).clamp(eps, 1 - eps)
        loss = -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()
        loss.backward()
        with torch.no_grad():
            w -= lr * w.grad
            b -= lr * b.grad
            w.grad.zero_()
            b.grad.zero_()
        losses.append(loss.item())
    with torch.no_grad():
        pred = ((torch.from_numpy(ds.x_test.copy()) @ w + b).squeeze(1) > 0).to(w.dtype)
        acc = (pred == torch.from_numpy(ds.y_test.copy())).double().mean().item()
    return losses, acc


def module_full_batch(torch: Any, dtype: str) -> tuple[list[float], float]:
    """Style 2: an nn.Module subclass, BCEWithLogitsLoss and optim.SGD, full batch."""
    nn = torch.nn
    Module: Any = nn.Module  # torch or the engine: a module object, so a base class of Any
    ds = _data(dtype)
    W0, b0 = workload.init_params((30, 1), seed=0, dtype=dtype)

    class LogisticRegression(Module):
        def __init__(self, n_features: int) -> None:
            super().__init__()
            self.linear = nn.Linear(n_features, 1)

        def forward(self, x: Any) -> Any:
            return self.linear(x).squeeze(-1)

    model = LogisticRegression(30).to(getattr(torch, dtype))
    model.load_state_dict({"linear.weight": torch.tensor(W0), "linear.bias": torch.tensor(b0)})
    loss_fn = nn.BCEWithLogitsLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    X, y = torch.tensor(ds.x_train), torch.tensor(ds.y_train)
    losses = []
    for _ in range(EPOCHS):
        model.train()
        optimizer.zero_grad()
        loss = loss_fn(model(X), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    model.eval()
    with torch.no_grad():
        pred = (model(torch.tensor(ds.x_test)) > 0).to(torch.float64)
        acc = (pred == torch.tensor(ds.y_test, dtype=torch.float64)).float().mean().item()
    return losses, acc


def dataloader_minibatch(torch: Any, dtype: str) -> tuple[list[float], float]:
    """Style 3: Dataset/DataLoader mini-batches of 32, an MLP, CrossEntropyLoss and Adam."""
    nn = torch.nn
    from_numpy = torch.from_numpy
    ds = _data(dtype)
    DataLoader, TensorDataset = torch.utils.data.DataLoader, torch.utils.data.TensorDataset

    class SeededShuffle(torch.utils.data.Sampler):
        """A fresh permutation per epoch from a seeded NumPy generator (same in both runs)."""

        def __init__(self, n: int, seed: int) -> None:
            self.n, self.rng = n, np.random.default_rng(seed)

        def __iter__(self) -> Any:
            return iter(self.rng.permutation(self.n).tolist())

        def __len__(self) -> int:
            return self.n

    train_set = TensorDataset(
        from_numpy(ds.x_train.copy()), from_numpy(ds.y_train.astype(np.int64))
    )
    loader = DataLoader(train_set, batch_size=32, sampler=SeededShuffle(len(train_set), 0))
    model = nn.Sequential(nn.Linear(30, 16), nn.ReLU(), nn.Linear(16, 2)).to(getattr(torch, dtype))
    with torch.no_grad():
        for p, init in zip(
            model.parameters(), workload.init_params((30, 16, 2), 0, dtype), strict=True
        ):
            p.copy_(from_numpy(init))
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(EPOCHS):
        model.train()
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    model.eval()
    with torch.no_grad():
        pred = model(from_numpy(ds.x_test.copy())).argmax(dim=1)
        acc = (pred == from_numpy(ds.y_test.astype(np.int64))).float().mean().item()
    return losses, acc


STYLES = {
    "manual_loop": manual_loop,
    "module_full_batch": module_full_batch,
    "dataloader_minibatch": dataloader_minibatch,
}


def _history(losses: list[float]) -> History:
    return History(
        step_loss=np.asarray(losses),
        epoch_train_loss=np.zeros(0),
        epoch_test_acc=np.zeros(0),
        final_params=[],
        epoch_s=np.zeros(0),
    )


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("style", list(STYLES))
def test_engine_trains_like_torch(style: str, dtype: str) -> None:
    torch = pytest.importorskip("torch")
    ref_losses, ref_acc = STYLES[style](torch, dtype)
    losses, acc = STYLES[style](engine, dtype)
    assert acc >= 0.95 and ref_acc >= 0.95, (acc, ref_acc)
    assert acc == pytest.approx(ref_acc, abs=1 / 114)  # at most one test row may flip (float32)
    verdict = trajectory.compare(_history(ref_losses), _history(losses), dtype)
    assert verdict.agrees, verdict.summary()
    if dtype == "float64":
        rel = np.abs(np.asarray(losses) - ref_losses) / np.abs(ref_losses)
        assert rel.max() <= 1e-9


@pytest.mark.parametrize("style", list(STYLES))
def test_engine_trains_without_torch(style: str) -> None:
    # The engine alone (no torch needed): learns, and the loss goes down.
    losses, acc = STYLES[style](engine, "float32")
    assert acc >= 0.95
    assert losses[-1] < 0.5 * losses[0]


def test_trajectory_check_catches_a_wrong_update_rule() -> None:
    # Guards the comparison: a learning rate 1% off must be flagged in float64.
    losses, _ = module_full_batch(engine, "float64")
    W0, b0 = workload.init_params((30, 1), seed=0, dtype="float64")
    ds = _data("float64")
    model = engine.nn.Linear(30, 1).double()
    model.load_state_dict({"weight": engine.tensor(W0), "bias": engine.tensor(b0)})
    opt = engine.optim.SGD(model.parameters(), lr=0.101)
    X, y = engine.tensor(ds.x_train), engine.tensor(ds.y_train)
    off = []
    for _ in range(EPOCHS):
        opt.zero_grad()
        loss = engine.nn.functional.binary_cross_entropy_with_logits(model(X).squeeze(-1), y)
        loss.backward()
        opt.step()
        off.append(loss.item())
    assert off[0] == pytest.approx(losses[0], rel=1e-15)
    assert not trajectory.compare(_history(losses), _history(off), "float64").agrees
