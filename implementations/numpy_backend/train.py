"""Training as a PyTorch user writes it, on the engine: nn.Module, optim and a DataLoader.

This is :mod:`harness.implementations.torch_backend.train` with ``torch`` replaced by the engine:
the DataLoader is driven by the harness' batch order through a sampler that yields one
index tensor per step, with automatic batching off (``batch_size=None``), so a batch is
``TensorDataset[indices]``: the same rows in the same order as every other backend.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from typing import Any

import harness.implementations.numpy_autograd as torch
import numpy as np
from harness.implementations import torch_models
from harness.implementations.numpy_autograd import nn
from harness.implementations.numpy_autograd.utils.data import DataLoader, Sampler, TensorDataset

from harness.contract import History
from harness.workload import OptimizerSpec, Workload


def _model(workload: Workload, dtype: Any) -> nn.Module:
    if not workload.model.is_linear_stack:
        return torch_models.build(workload.model.layers, workload.init_params, torch, dtype)
    act = {"relu": nn.ReLU, "tanh": nn.Tanh}[workload.model.activation]
    sizes = workload.model.sizes
    layers: list[nn.Module] = []
    for k, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(fan_in, fan_out))
        if k < len(sizes) - 2:
            layers.append(act())
    model = nn.Sequential(*layers).to(dtype=dtype)
    with torch.no_grad():
        for p, init in zip(model.parameters(), workload.init_params, strict=True):
            p.copy_(torch.from_numpy(init))
    return model


def _optimizer(o: OptimizerSpec, params: Any) -> Any:
    if o.kind in ("adam", "adamw"):
        cls = torch.optim.AdamW if o.kind == "adamw" else torch.optim.Adam
        return cls(params, lr=o.lr, betas=o.betas, eps=o.eps, weight_decay=o.weight_decay)
    return torch.optim.SGD(
        params,
        lr=o.lr,
        momentum=o.momentum,
        dampening=o.dampening,
        nesterov=o.nesterov,
        weight_decay=o.weight_decay,
    )


class _EpochBatches(Sampler):
    """A sampler yielding the harness' index tensors for one epoch, one per step."""

    def __init__(self, batches: list[Any]) -> None:
        self.batches = batches

    def __iter__(self) -> Iterator[Any]:
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


def train(workload: Workload, on_epoch: Callable[[int], None] | None = None) -> History:
    """Train ``workload`` on the engine and return its history."""
    dtype = {"float32": torch.float32, "float64": torch.float64}[workload.dtype]
    ds = workload.dataset
    binary = workload.model.sizes[-1] == 1

    def tensor(a: np.ndarray) -> Any:
        return torch.from_numpy(np.ascontiguousarray(a))

    # Binary labels as a column (N, 1), the shape of the model's output, so the loss needs
    # no squeeze (one graph node fewer per step, as in the usual ``y.view(-1, 1)``).
    labels = (lambda y: y[:, None]) if binary else (lambda y: y)
    x_train, y_train = tensor(ds.x_train), tensor(labels(ds.y_train))
    x_test, y_test = tensor(ds.x_test), tensor(labels(ds.y_test))
    dataset = TensorDataset(x_train, y_train)

    torch.manual_seed(workload.spec.get("seed", 0))
    model = _model(workload, dtype)
    opt = _optimizer(workload.optimizer, model.parameters())
    loss_fn = torch_models.loss_module(workload.model, nn)

    step_loss: list[np.ndarray] = []
    train_loss, test_acc, test_loss, epoch_s = [], [], [], []
    for epoch_batches in workload.batches:
        idx = [tensor(b) for b in epoch_batches]
        loader = DataLoader(dataset, sampler=_EpochBatches(idx), batch_size=None)
        losses = []
        model.train()
        t0 = time.perf_counter()
        for xb, yb in loader:
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            losses.append(loss.detach())
        epoch_s.append(time.perf_counter() - t0)
        step_loss.append(torch.stack(losses).double().numpy())
        model.eval()
        with torch.no_grad():
            train_loss.append(float(loss_fn(model(x_train), y_train)))
            out = model(x_test)
            test_loss.append(float(loss_fn(out, y_test)))
            pred = (out > 0).to(y_test.dtype) if binary else out.argmax(-1)
            test_acc.append(float((pred == y_test).double().mean()))
        if on_epoch is not None:
            on_epoch(len(epoch_s) - 1)

    return History(
        step_loss=np.concatenate(step_loss),
        epoch_train_loss=np.asarray(train_loss),
        epoch_test_acc=np.asarray(test_acc),
        epoch_test_loss=np.asarray(test_loss),
        final_params=[p.detach().numpy().copy() for p in model.parameters()],
        epoch_s=np.asarray(epoch_s),
        compile_s=None,
        meta={
            "framework": "numpy_autograd",
            "version": torch.__version__,
            "numpy": np.__version__,
            "device": "cpu",
            "device_name": "cpu",
        },
    )


def optimizer_step(
    spec: OptimizerSpec, params: list[np.ndarray], grads: list[np.ndarray], state: Any
) -> tuple[list[np.ndarray], Any]:
    """One step of the engine's ``optim`` (the optimizer :func:`train` builds) from NumPy.

    The state is ``(tensors, optimizer)``: the parameter tensors the optimizer holds, into
    which each call copies the given values before stepping.
    """
    if state is None:
        tensors = [torch.from_numpy(np.array(p)) for p in params]
        for t in tensors:
            t.requires_grad_(True)
        state = (tensors, _optimizer(spec, tensors))
    tensors, opt = state
    with torch.no_grad():
        for t, p, g in zip(tensors, params, grads, strict=True):
            t.copy_(torch.from_numpy(np.array(p)))
            t.grad = torch.from_numpy(np.array(g))
    opt.step()
    return [t.detach().numpy().copy() for t in tensors], state
