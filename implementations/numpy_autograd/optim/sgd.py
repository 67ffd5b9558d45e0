"""``optim.SGD`` with PyTorch's exact update (single-tensor path, as on CPU)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..optim.optimizer import Optimizer
from ..tensor import Tensor


class SGD(Optimizer):
    """Stochastic gradient descent with momentum, dampening, Nesterov and weight decay::

    g = grad (+ weight_decay * p)
    buf = g                      on the first step, else  buf = momentum * buf + (1 - dampening) * g
    g = g + momentum * buf       (nesterov)  or  g = buf  (momentum)
    p = p - lr * g
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One SGD update of every parameter that has a gradient."""
        loss = None if closure is None else self._closure_loss(closure)
        for group in self.param_groups:
            lr, momentum = group["lr"], group["momentum"]
            dampening, wd = group["dampening"], group["weight_decay"]
            nesterov, maximize = group["nesterov"], group["maximize"]
            if not (momentum or wd or maximize):  # plain SGD: p -= lr * grad, and nothing else
                for p in group["params"]:
                    if p.grad is not None:
                        np.add(p._data, p.grad._data * -lr, out=p._data)
                        p._version += 1
                continue
            for p in group["params"]:
                if p.grad is None:
                    continue
                d = p.grad._data
                if maximize:
                    d = -d
                if wd != 0:
                    d = d + wd * p._data
                if momentum != 0:
                    state = self.state[p]
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        buf = state["momentum_buffer"] = Tensor(np.array(d, copy=True))
                    else:
                        b = buf._data
                        np.multiply(b, momentum, out=b)
                        np.add(b, d if dampening == 0 else d * (1 - dampening), out=b)
                    d = d + momentum * buf._data if nesterov else buf._data
                np.add(p._data, d * -lr, out=p._data)
                p._version += 1
        return loss
