"""``torch.optim`` for the NumPy engine: SGD and Adam with PyTorch's update rules."""

from __future__ import annotations

from ..optim.adam import Adam
from ..optim.optimizer import Optimizer
from ..optim.sgd import SGD

__all__ = ["SGD", "Adam", "Optimizer"]
