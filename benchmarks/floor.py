"""The floor: the same training runs, hand-fused in NumPy, with no autograd and no framework.

Each step of a :class:`harness.workload.Workload` (stack of linear layers, ReLU or tanh,
``BCEWithLogitsLoss`` or ``CrossEntropyLoss`` with a mean over the batch, ``torch.optim``'s
SGD / momentum / Nesterov / Adam rules) is written out by hand: one forward pass that keeps
what the backward pass needs, the closed-form gradient of the loss with respect to the
logits, one matrix product per weight gradient, and the optimizer update in place. There is
no graph, no tape and no dispatch beyond NumPy's own: the least an eager Python loop over
the steps can spend, so an eager target's time divided by the floor's is its framework
overhead. A compiled target that runs whole epochs in one call (JAX's default ``epochs``
loop: a chunk of epochs with their evaluations in one program) has no per-step Python at all
and can go below it; its ``epoch_s`` includes the per-epoch evaluation, which the floor's
excludes, so its ratio to the floor errs against it.

It hands back the same :class:`harness.contract.History` as a backend (losses in float64,
per-epoch evaluation excluded from ``epoch_s``), so the asv tracks and
:func:`harness.trajectory.compare` treat it like any target: its trajectory must match the
reference target's, which is what makes it a floor and not merely a fast number.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from harness.contract import History
from harness.workload import OptimizerSpec, Workload

NAME = "floor:cpu"
"""The floor's row name among the targets in every benchmark table."""


def _forward(
    params: list[np.ndarray], x: np.ndarray, activation: str
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Logits and every layer's input (post-activation), kept for the backward pass."""
    inputs = [x]
    h = x
    n_layers = len(params) // 2
    for k in range(n_layers):
        z = h @ params[2 * k].T
        z += params[2 * k + 1]
        if k < n_layers - 1:
            if activation == "relu":
                np.maximum(z, 0, out=z)
            else:
                np.tanh(z, out=z)
            inputs.append(z)
        h = z
    return h, inputs


def _loss_and_dlogits(
    logits: np.ndarray, y: np.ndarray, binary: bool, need_grad: bool = True
) -> tuple[float, np.ndarray | None]:
    """Mean loss over the rows and its gradient with respect to the logits.

    Written for speed as much as for clarity: this is the floor every eager target is
    divided by, so it spends no NumPy call it can avoid (``add.reduce(x) / n`` rather than
    ``np.mean``, whose Python wrapper costs several microseconds on a batch of 32).
    """
    n = logits.shape[0]
    if binary:
        z = logits[:, 0]
        # BCEWithLogitsLoss as softplus(z) - z*y, softplus by logaddexp (finite for any z).
        sp = np.logaddexp(0, z)
        loss = float(np.add.reduce(sp - z * y)) / n
        if not need_grad:
            return loss, None
        # d/dz = sigmoid(z) - y, with sigmoid(z) = exp(z - softplus(z)) from the same sp.
        grad = np.exp(z - sp)
        grad -= y
        grad /= n
        return loss, grad[:, None]
    m = logits.max(axis=1, keepdims=True)
    shifted = logits - m
    p = np.exp(shifted)
    s = np.add.reduce(p, axis=1, keepdims=True)
    rows = np.arange(n)
    # CrossEntropyLoss: logsumexp(z) - z[label], averaged over the rows.
    loss = float(np.add.reduce(np.log(s[:, 0]) - shifted[rows, y])) / n
    if not need_grad:
        return loss, None
    p /= s
    p[rows, y] -= 1
    p /= n
    return loss, p


def loss_and_grads(
    params: list[np.ndarray], x: np.ndarray, y: np.ndarray, activation: str, binary: bool
) -> tuple[float, list[np.ndarray]]:
    """The batch loss and the gradient of every parameter, ``[dW1, db1, dW2, db2, ...]``."""
    logits, inputs = _forward(params, x, activation)
    loss, dz = _loss_and_dlogits(logits, y, binary)
    assert dz is not None
    n_layers = len(params) // 2
    grads: list[np.ndarray] = [np.empty(0)] * len(params)
    for k in range(n_layers - 1, -1, -1):
        h = inputs[k]
        grads[2 * k] = dz.T @ h
        grads[2 * k + 1] = np.add.reduce(dz, axis=0)
        if k:
            dh = dz @ params[2 * k]
            if activation == "relu":
                dh *= h > 0
            else:
                dh *= 1 - h * h
            dz = dh
    return loss, grads


class _Optimizer:
    """``torch.optim.SGD`` (momentum, dampening, Nesterov, weight decay) and ``Adam``,
    updating the parameters in place with PyTorch's formulas.
    """

    def __init__(self, spec: OptimizerSpec, params: list[np.ndarray]) -> None:
        self.spec = spec
        self.t = 0
        self.buf: list[np.ndarray | None] = [None] * len(params)
        self.m = [np.zeros_like(p) for p in params] if spec.kind == "adam" else []
        self.v = [np.zeros_like(p) for p in params] if spec.kind == "adam" else []
        self.plain = spec.kind != "adam" and not spec.momentum and not spec.weight_decay

    def step(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        o = self.spec
        self.t += 1
        if self.plain:  # plain SGD, the timing workloads' rule: the update and nothing else
            for p, g in zip(params, grads, strict=True):
                p -= o.lr * g
            return
        for i, (p, g) in enumerate(zip(params, grads, strict=True)):
            if o.weight_decay:
                g = g + o.weight_decay * p
            if o.kind == "adam":
                b1, b2 = o.betas
                m, v = self.m[i], self.v[i]
                m += (1 - b1) * (g - m)  # torch: exp_avg.lerp_(grad, 1 - beta1)
                v *= b2
                v += (1 - b2) * g * g
                step_size = o.lr / (1 - b1**self.t)
                denom = np.sqrt(v) / np.sqrt(1 - b2**self.t) + o.eps
                p -= step_size * (m / denom)
                continue
            if o.momentum:
                buf = self.buf[i]
                if buf is None:
                    buf = self.buf[i] = g.copy()
                else:
                    buf *= o.momentum
                    buf += (1 - o.dampening) * g
                g = g + o.momentum * buf if o.nesterov else buf
            p -= o.lr * g


def _evaluate(
    params: list[np.ndarray], workload: Workload, activation: str, binary: bool
) -> tuple[float, float]:
    ds = workload.dataset
    logits, _ = _forward(params, ds.x_train, activation)
    train_loss, _ = _loss_and_dlogits(logits, ds.y_train, binary, need_grad=False)
    out, _ = _forward(params, ds.x_test, activation)
    pred = (out[:, 0] > 0).astype(ds.y_test.dtype) if binary else out.argmax(axis=1)
    return train_loss, float(np.mean(pred == ds.y_test))


def train(workload: Workload) -> History:
    """Run ``workload`` from its initial parameters in its batch order, in plain NumPy."""
    ds = workload.dataset
    dtype = np.dtype(workload.dtype)
    x = np.ascontiguousarray(ds.x_train, dtype=dtype)
    binary = workload.model.sizes[-1] == 1
    y = ds.y_train.astype(dtype) if binary else ds.y_train
    activation = workload.model.activation
    params = [np.array(p, dtype=dtype, copy=True) for p in workload.init_params]
    opt = _Optimizer(workload.optimizer, params)

    step_loss: list[float] = []
    train_loss: list[float] = []
    test_acc: list[float] = []
    epoch_s: list[float] = []
    for epoch_batches in workload.batches:
        t0 = time.perf_counter()
        for idx in epoch_batches:
            loss, grads = loss_and_grads(params, x[idx], y[idx], activation, binary)
            opt.step(params, grads)
            step_loss.append(loss)
        epoch_s.append(time.perf_counter() - t0)
        tl, acc = _evaluate(params, workload, activation, binary)
        train_loss.append(tl)
        test_acc.append(acc)
    meta: dict[str, Any] = {
        "framework": "numpy (hand-fused floor, no autograd)",
        "version": np.__version__,
        "device": "cpu",
    }
    return History(
        step_loss=np.asarray(step_loss, dtype=np.float64),
        epoch_train_loss=np.asarray(train_loss, dtype=np.float64),
        epoch_test_acc=np.asarray(test_acc, dtype=np.float64),
        final_params=params,
        epoch_s=np.asarray(epoch_s, dtype=np.float64),
        compile_s=None,
        meta=meta,
    )
