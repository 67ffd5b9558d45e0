"""Training with autograd: the same arithmetic as PyTorch's nn.Linear / loss / optimizer.

The parameters are the workload's ``[W1, b1, W2, b2, ...]`` in ``nn.Linear`` layout
(``W`` is ``(out, in)``, a layer computes ``x @ W.T + b``). The loss is the mean of
binary cross-entropy on logits (one output) or softmax cross-entropy (several), the
gradient comes from ``autograd.grad``, and the updates follow ``torch.optim.SGD`` and
``torch.optim.Adam`` (single-tensor CPU path) line by line, so that a run agrees with the
PyTorch reference step by step (:func:`harness.trajectory.compare`).

float32 stays float32: every formula below is one whose autograd VJP keeps the dtype
(``sum(...) / n`` rather than ``mean``, ``h * (h > 0)`` rather than ``where``; autograd's
VJPs of ``mean`` and ``where`` build float64 constants and would silently promote the
whole backward pass). :func:`train` checks the gradients' dtype at the first step.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from harness.contract import History
from harness.workload import OptimizerSpec, Workload

Params = list[np.ndarray]


def _forward(params: list[Any], x: Any, activation: str) -> Any:
    import autograd.numpy as anp

    n_layers = len(params) // 2
    h = x
    for k in range(n_layers):
        w, b = params[2 * k], params[2 * k + 1]
        h = anp.matmul(h, anp.transpose(w)) + b
        if k < n_layers - 1:
            h = h * (h > 0) if activation == "relu" else anp.tanh(h)
    return h


def _loss_fn(binary: bool) -> Callable[[Any, Any], Any]:
    import autograd.numpy as anp

    bce_mean = _bce_with_logits_mean()

    def bce_with_logits(z: Any, y: Any) -> Any:
        return bce_mean(z[..., 0], y)

    def cross_entropy(z: Any, y: Any) -> Any:
        from autograd.tracer import getval

        # A constant shift for stability: its gradient would cancel anyway, and autograd's
        # VJP of max builds float64 constants.
        m = np.max(getval(z), axis=-1, keepdims=True)
        lse = anp.log(anp.sum(anp.exp(z - m), axis=-1)) + m[:, 0]
        picked = z[np.arange(z.shape[0]), y]
        return anp.sum(lse - picked) / float(z.shape[0])

    return bce_with_logits if binary else cross_entropy


def _bce_with_logits_mean() -> Callable[[Any, Any], Any]:
    """Mean binary cross-entropy on logits, with PyTorch's forward and backward formulas.

    As one autograd primitive, like PyTorch's fused kernel: the forward is
    ``(1 - y) * z - log_sigmoid(z)`` and the gradient ``(sigmoid(z) - y) / n``. The same
    loss written out (``logaddexp(0, z) - z * y``) is exact in float64 but rounds
    differently in float32: ``z + log1p(exp(-z)) - z`` loses the small term once a logit is
    large, and a trained model's per-sample losses are exactly those small terms.
    """
    from autograd.extend import defvjp, primitive

    @primitive
    def bce_mean(z: np.ndarray, y: np.ndarray) -> np.ndarray:
        log_sigmoid = np.minimum(z, 0) - np.log1p(np.exp(-np.abs(z)))
        return np.mean((1 - y) * z - log_sigmoid)

    def vjp_z(ans: np.ndarray, z: np.ndarray, y: np.ndarray) -> Callable[[Any], np.ndarray]:
        def pull(g: Any) -> np.ndarray:
            with np.errstate(over="ignore"):  # exp(-z) = inf for very negative z: sigmoid 0
                sigmoid = 1 / (1 + np.exp(-z))
            return (sigmoid - y) * g / z.size

        return pull

    defvjp(bce_mean, vjp_z)
    return bce_mean


class _Optimizer:
    """``torch.optim.SGD`` / ``torch.optim.Adam`` update rules on NumPy arrays, in place."""

    def __init__(self, spec: OptimizerSpec, params: Params) -> None:
        self.spec = spec
        self.buf: list[np.ndarray | None] = [None] * len(params)
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.t = 0

    def step(self, params: Params, grads: Params) -> None:
        o = self.spec
        self.t += 1
        for i, (p, g) in enumerate(zip(params, grads, strict=True)):
            if o.weight_decay:
                g = g + o.weight_decay * p
            if o.kind == "adam":
                self._adam(i, p, g)
                continue
            if o.momentum:
                buf = self.buf[i]
                if buf is None:
                    buf = self.buf[i] = g.copy()
                else:
                    buf *= o.momentum
                    buf += (1.0 - o.dampening) * g
                g = g + o.momentum * buf if o.nesterov else buf
            p -= o.lr * g

    def _adam(self, i: int, p: np.ndarray, g: np.ndarray) -> None:
        o = self.spec
        beta1, beta2 = o.betas
        m, v = self.m[i], self.v[i]
        m += (1.0 - beta1) * (g - m)  # torch: exp_avg.lerp_(grad, 1 - beta1)
        v *= beta2
        v += (1.0 - beta2) * (g * g)  # torch: exp_avg_sq.addcmul_(grad, grad, 1 - beta2)
        bias1 = 1.0 - beta1**self.t
        bias2_sqrt = (1.0 - beta2**self.t) ** 0.5
        denom = np.sqrt(v) / bias2_sqrt + o.eps
        p -= (o.lr / bias1) * (m / denom)


def train(workload: Workload, on_epoch: Callable[[int], None] | None = None) -> History:
    """Train ``workload`` on the CPU and return its history.

    ``on_epoch(e)`` is called after epoch ``e`` has been evaluated, outside the timing.
    """
    from autograd import value_and_grad

    ds = workload.dataset
    binary = workload.model.sizes[-1] == 1
    activation = workload.model.activation
    loss_of = _loss_fn(binary)

    def objective(params: list[Any], x: np.ndarray, y: np.ndarray) -> Any:
        return loss_of(_forward(params, x, activation), y)

    loss_and_grads = value_and_grad(objective)

    params: Params = [np.array(p, dtype=workload.dtype, copy=True) for p in workload.init_params]
    opt = _Optimizer(workload.optimizer, params)
    step_loss: list[float] = []
    train_loss: list[float] = []
    test_acc: list[float] = []
    epoch_s: list[float] = []
    checked = False
    for epoch_batches in workload.batches:
        t0 = time.perf_counter()
        losses: list[Any] = []
        for idx in epoch_batches:
            xb, yb = ds.x_train[idx], ds.y_train[idx]
            loss, grads = loss_and_grads(params, xb, yb)
            if not checked:
                _check_dtypes(params, grads, workload.dtype)
                checked = True
            opt.step(params, list(grads))
            losses.append(loss)
        epoch_s.append(time.perf_counter() - t0)
        step_loss.extend(float(v) for v in losses)
        train_loss.append(float(objective(params, ds.x_train, ds.y_train)))
        out = _forward(params, ds.x_test, activation)
        pred = (out[:, 0] > 0).astype(ds.y_test.dtype) if binary else np.argmax(out, axis=-1)
        test_acc.append(float(np.mean(pred == ds.y_test)))
        if on_epoch is not None:
            on_epoch(len(epoch_s) - 1)

    return History(
        step_loss=np.asarray(step_loss, dtype=np.float64),
        epoch_train_loss=np.asarray(train_loss, dtype=np.float64),
        epoch_test_acc=np.asarray(test_acc, dtype=np.float64),
        final_params=[p.copy() for p in params],
        epoch_s=np.asarray(epoch_s),
        compile_s=None,
        meta={
            "framework": "autograd",
            "version": _version(),
            "numpy": np.__version__,
            "device": "cpu",
            "device_name": "cpu",
        },
    )


def _check_dtypes(params: Params, grads: Any, dtype: str) -> None:
    dtypes = [np.asarray(g).dtype for g in grads]
    bad = [f"gradient {i} is {d}" for i, d in enumerate(dtypes) if d != dtype]
    if bad or any(p.dtype != dtype for p in params):
        raise RuntimeError(
            f"autograd promoted a {dtype} training step ({', '.join(bad) or 'parameters'}); "
            "it would not run in the workload's dtype"
        )


def _version() -> str:
    from importlib.metadata import version

    return version("autograd")
