"""``optim.Adam`` with PyTorch's exact update (single-tensor path, as on CPU)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..optim.optimizer import Optimizer
from ..tensor import Tensor


class Adam(Optimizer):
    """Adam with bias correction, L2 weight decay added to the gradient, optional AMSGrad::

    g = grad (+ weight_decay * p);  t += 1
    m = m + (1 - beta1) * (g - m)             (PyTorch's lerp)
    v = beta2 * v + (1 - beta2) * g * g
    denom = sqrt(v) / sqrt(1 - beta2**t) + eps
    p = p - lr / (1 - beta1**t) * m / denom
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if eps < 0.0:
            raise ValueError(f"Invalid epsilon value: {eps}")
        for i, b in enumerate(betas):
            if not 0.0 <= b < 1.0:
                raise ValueError(f"Invalid beta parameter at index {i}: {b}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = {
            "lr": lr,
            "betas": tuple(betas),
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One Adam update of every parameter that has a gradient."""
        loss = None if closure is None else self._closure_loss(closure)
        for group in self.param_groups:
            lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
            wd, amsgrad, maximize = group["weight_decay"], group["amsgrad"], group["maximize"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad._data
                if maximize:
                    g = -g
                state = self.state[p]
                if not state:
                    state["step"] = 0.0
                    state["exp_avg"] = Tensor(np.zeros_like(p._data))
                    state["exp_avg_sq"] = Tensor(np.zeros_like(p._data))
                    if amsgrad:
                        state["max_exp_avg_sq"] = Tensor(np.zeros_like(p._data))
                state["step"] += 1
                step = state["step"]
                if wd != 0:
                    g = g + wd * p._data
                m, v = state["exp_avg"]._data, state["exp_avg_sq"]._data
                w = 1 - beta1
                # PyTorch's lerp: a + w (b - a) if w < 0.5, else b - (b - a)(1 - w)
                if w < 0.5:
                    m += w * (g - m)
                else:
                    m[...] = g - (g - m) * (1 - w)
                np.multiply(v, beta2, out=v)
                v += (1 - beta2) * g * g
                step_size = lr / (1 - beta1**step)
                bc2_sqrt = (1 - beta2**step) ** 0.5
                if amsgrad:
                    vmax = state["max_exp_avg_sq"]._data
                    np.maximum(vmax, v, out=vmax)
                    denom = np.sqrt(vmax) / bc2_sqrt + eps
                else:
                    denom = np.sqrt(v) / bc2_sqrt + eps
                np.add(p._data, -step_size * m / denom, out=p._data)
                p._version += 1
        return loss
