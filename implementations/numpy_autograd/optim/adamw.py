"""``optim.AdamW``: Adam with decoupled weight decay, PyTorch's exact update."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..optim.adam import Adam


class AdamW(Adam):
    """Adam whose weight decay is decoupled (Loshchilov and Hutter), as ``torch.optim.AdamW``::

    p = p * (1 - lr * weight_decay)          (before the moments, on the raw parameter)
    then Adam's step with no L2 term on the gradient.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Decay every parameter with a gradient, then one Adam update without L2."""
        loss = None if closure is None else self._closure_loss(closure)
        saved = []
        for group in self.param_groups:
            wd, lr = group["weight_decay"], group["lr"]
            for p in group["params"]:
                if p.grad is not None and wd != 0:
                    p._data *= 1 - lr * wd
            saved.append(wd)
            group["weight_decay"] = 0.0
        try:
            super().step()
        finally:
            for group, wd in zip(self.param_groups, saved, strict=True):
                group["weight_decay"] = wd
        return loss
