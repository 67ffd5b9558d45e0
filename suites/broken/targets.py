"""Deliberately broken targets, built by wrapping a real backend.

Each wrapper delegates everything to the real backend and breaks exactly one thing, the way
real backends break:

* :class:`WrongGradient` -- ``tanh``'s backward uses ``1 - y`` instead of ``1 - y**2``.
* :class:`WrongBroadcastReduction` -- ``add``'s backward averages a broadcast input's
  gradient over the broadcast dimensions instead of summing it.
* :class:`LoopTrainer` -- a training loop written against the contract (the real backend's
  ops and VJP, NumPy SGD and Adam with PyTorch's rules) with switchable bugs: a sum-reduced
  loss's gradient, a dampened (EMA) momentum rule, a data loader that drops the last partial
  batch, an Adam without bias correction. Without a bug it must agree with the reference
  run.

The wrappers are framework-free, so they work over whichever backend is the reference.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from harness.contract import Backend, DeviceStatus, History, OpFn, Unsupported
from harness.discovery import Target
from harness.oracles import model_loss, reduce_to_shape
from harness.workload import Workload


class Wrapped(Backend):
    """A backend that delegates every method to ``inner``; subclasses break one thing."""

    def __init__(self, inner: Backend, name: str) -> None:
        self.inner = inner
        self.name = name  # type: ignore[misc]
        self.capabilities = inner.capabilities  # type: ignore[misc]

    def version(self) -> str:
        return f"{self.inner.name} {self.inner.version()} (deliberately broken)"

    def devices(self) -> list[DeviceStatus]:
        return self.inner.devices()

    def asarray(self, x: np.ndarray, device: str) -> Any:
        return self.inner.asarray(x, device)

    def to_numpy(self, x: Any) -> np.ndarray:
        return self.inner.to_numpy(x)

    def ops(self) -> Mapping[str, OpFn]:
        return self.inner.ops()

    def vjp(self, fn, primals, cotangent, *, device, argnums=None):
        return self.inner.vjp(fn, primals, cotangent, device=device, argnums=argnums)

    def jvp(self, fn, primals, tangents, *, device, argnums=None):
        return self.inner.jvp(fn, primals, tangents, device=device, argnums=argnums)

    def vjp_vjp(self, fn, primals, cotangent, direction, *, device, argnums=None):
        return self.inner.vjp_vjp(fn, primals, cotangent, direction, device=device, argnums=argnums)

    def known_divergences(self) -> str:
        return ""

    def train(
        self,
        workload: Workload,
        *,
        device: str,
        on_epoch: Callable[[int], None] | None = None,
    ) -> History:
        return self.inner.train(workload, device=device, on_epoch=on_epoch)


def as_target(backend: Backend, device: str) -> Target:
    """A :class:`harness.discovery.Target` for ``backend`` on ``device``."""
    return Target(backend, backend.name, device, True, "", backend.version())


class _BrokenOp(Wrapped):
    """Replaces one op by a look-alike whose VJP this wrapper computes wrongly."""

    op = ""

    def __init__(self, inner: Backend, name: str) -> None:
        super().__init__(inner, name)
        good = inner.ops()[self.op]

        def look_alike(*args: Any) -> Any:
            return good(*args)

        self._good, self._bad = good, look_alike
        self._ops = {**inner.ops(), self.op: look_alike}

    def ops(self) -> Mapping[str, OpFn]:
        return self._ops

    def wrong_vjp(
        self,
        primals: Sequence[np.ndarray],
        cotangent: np.ndarray,
        argnums: list[int],
        device: str,
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        raise NotImplementedError

    def vjp(self, fn, primals, cotangent, *, device, argnums=None):
        if fn is self._bad:
            argnums = list(range(len(primals))) if argnums is None else list(argnums)
            return self.wrong_vjp(primals, cotangent, argnums, device)
        return self.inner.vjp(fn, primals, cotangent, device=device, argnums=argnums)


class WrongGradient(_BrokenOp):
    """``tanh``'s backward uses ``1 - y`` where it should use ``1 - y**2``."""

    op = "tanh"

    def wrong_vjp(self, primals, cotangent, argnums, device):
        value, _ = self.inner.vjp(self._good, primals, cotangent, device=device, argnums=argnums)
        y = np.asarray(value, dtype=np.float64)
        grad = (np.asarray(cotangent, dtype=np.float64) * (1.0 - y)).astype(primals[0].dtype)
        return value, [grad for _ in argnums]


class WrongBroadcastReduction(_BrokenOp):
    """``add``'s backward takes the mean, not the sum, over a broadcast input's dimensions."""

    op = "add"

    def wrong_vjp(self, primals, cotangent, argnums, device):
        shape = np.broadcast_shapes(*(np.shape(p) for p in primals))
        full = [np.broadcast_to(p, shape).copy() for p in primals]
        value, grads = self.inner.vjp(self._good, full, cotangent, device=device, argnums=argnums)
        out = []
        for i, g in zip(argnums, grads, strict=True):
            target_shape = np.shape(primals[i])
            summed = reduce_to_shape(g, target_shape)
            # The bug: divide by how many elements were folded together (a mean).
            folded = max(1, int(np.prod(shape)) // max(1, int(np.prod(target_shape))))
            out.append((summed / folded).astype(primals[i].dtype))
        return value, out


class LoopTrainer(Wrapped):
    """Training written against the contract, with one optional bug.

    ``bug`` is None (correct), ``"sum_loss"`` (the gradient of the summed loss while the mean
    is logged: a cross-entropy or BCE with ``reduction="sum"``), ``"ema_momentum"``
    (``buf = m*buf + (1-m)*g`` from zero, instead of PyTorch's ``buf = g`` then
    ``buf = m*buf + g``), ``"drop_last"`` (the loader skips the last partial batch of each
    epoch) or ``"adam_no_bias_correction"`` (Adam's moments used without dividing by
    ``1 - beta**t``).
    """

    BUGS = (None, "sum_loss", "ema_momentum", "drop_last", "adam_no_bias_correction")

    def __init__(self, inner: Backend, bug: str | None = None) -> None:
        if bug not in self.BUGS:
            raise ValueError(f"unknown bug {bug!r}; valid: {self.BUGS}")
        super().__init__(inner, f"loop-{bug or 'correct'}")
        self.bug = bug

    def train(
        self,
        workload: Workload,
        *,
        device: str,
        on_epoch: Callable[[int], None] | None = None,
    ) -> History:
        spec, opt, ds = workload.model, workload.optimizer, workload.dataset
        if not spec.is_linear_stack:
            kinds = ", ".join(sorted({layer.kind for layer in spec.layers} - {"linear"}))
            raise Unsupported(f"{self.name} trains linear stacks only (logreg, mlp), not {kinds}")
        ops = self.inner.ops()
        f = model_loss(
            ops, spec.layers, spec.loss, sequence=spec.sequence,
            constant=lambda a: self.inner.asarray(a, device),
        )  # fmt: skip
        binary = spec.loss == "bce_with_logits"

        def labels(y: np.ndarray) -> np.ndarray:
            return y.reshape(-1, 1) if binary else y

        params = [p.copy() for p in workload.init_params]
        n = len(params)
        update = _Optimizer(opt, n, self.bug)
        one = np.ones((), dtype=workload.dtype)
        full_batch = max(len(b) for b in workload.batches[0])
        step_loss, train_loss, test_acc, epoch_s = [], [], [], []
        for e, epoch_batches in enumerate(workload.batches):
            t0 = time.perf_counter()
            for idx in epoch_batches:
                if self.bug == "drop_last" and len(idx) < full_batch:
                    continue
                x, y = ds.x_train[idx], labels(ds.y_train[idx])
                value, grads = self.inner.vjp(
                    f, [*params, x, y], one, device=device, argnums=list(range(n))
                )
                if self.bug == "sum_loss":
                    # d(sum of per-row losses) = batch size * d(mean loss).
                    grads = [g * len(idx) for g in grads]
                step_loss.append(float(np.asarray(value)))
                params = [p.astype(workload.dtype) for p in update(params, grads)]
            epoch_s.append(time.perf_counter() - t0)
            arrays = [*params, ds.x_train, labels(ds.y_train)]
            loss_all = f(*(self.inner.asarray(a, device) for a in arrays))
            train_loss.append(float(self.inner.to_numpy(loss_all)))
            test_acc.append(self._accuracy(params, workload, device))
            if on_epoch is not None:
                on_epoch(e)
        return History(
            step_loss=np.asarray(step_loss),
            epoch_train_loss=np.asarray(train_loss),
            epoch_test_acc=np.asarray(test_acc),
            final_params=params,
            epoch_s=np.asarray(epoch_s),
        )

    def _accuracy(self, params: list[np.ndarray], workload: Workload, device: str) -> float:
        ops, spec, ds = self.inner.ops(), workload.model, workload.dataset
        h = self.inner.asarray(ds.x_test, device)
        for k in range(spec.n_layers):
            w, b = (self.inner.asarray(p, device) for p in params[2 * k : 2 * k + 2])
            h = ops["linear"](h, w, b)
            if k < spec.n_layers - 1:
                h = ops[spec.activation](h)
        logits = self.inner.to_numpy(h)
        pred = (
            (logits[:, 0] > 0).astype(ds.y_test.dtype) if logits.shape[1] == 1 else logits.argmax(1)
        )
        return float(np.mean(pred == ds.y_test))


class _Optimizer:
    """PyTorch's ``SGD`` (momentum, dampening, nesterov, weight decay), ``Adam`` and ``AdamW``
    in NumPy, with the trainer's optimizer bug (``ema_momentum``, ``adam_no_bias_correction``)."""

    def __init__(self, opt: Any, n: int, bug: str | None) -> None:
        self.opt, self.bug, self.t = opt, bug, 0
        self.bufs: list[Any] = [None] * n
        self.second: list[Any] = [None] * n

    def __call__(self, params: list[np.ndarray], grads: list[np.ndarray]) -> list[np.ndarray]:
        opt = self.opt
        self.t += 1
        out = []
        for k, (p, g) in enumerate(zip(params, grads, strict=True)):
            g = np.asarray(g)
            if opt.kind == "adamw":  # decoupled: the parameter shrinks, the gradient does not
                out.append(self._adam(k, p * (1 - opt.lr * opt.weight_decay), g))
                continue
            if opt.weight_decay:
                g = g + opt.weight_decay * p
            if opt.kind == "adam":
                out.append(self._adam(k, p, g))
                continue
            if opt.momentum:
                buf = self.bufs[k]
                if self.bug == "ema_momentum":
                    prev = np.zeros_like(g) if buf is None else buf
                    buf = opt.momentum * prev + (1 - opt.momentum) * g
                else:
                    buf = g.copy() if buf is None else opt.momentum * buf + (1 - opt.dampening) * g
                self.bufs[k] = buf
                g = g + opt.momentum * buf if opt.nesterov else buf
            out.append(p - opt.lr * g)
        return out

    def _adam(self, k: int, p: np.ndarray, g: np.ndarray) -> np.ndarray:
        opt = self.opt
        b1, b2 = opt.betas
        m = np.zeros_like(g) if self.bufs[k] is None else self.bufs[k]
        v = np.zeros_like(g) if self.second[k] is None else self.second[k]
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        self.bufs[k], self.second[k] = m, v
        if self.bug == "adam_no_bias_correction":
            return p - opt.lr * m / (np.sqrt(v) + opt.eps)
        # torch.optim.Adam's order of operations.
        step_size = opt.lr / (1 - b1**self.t)
        denom = np.sqrt(v) / math.sqrt(1 - b2**self.t) + opt.eps
        return p - step_size * (m / denom)
