"""``torch.optim`` for the NumPy engine: SGD and Adam with PyTorch's update rules."""

from __future__ import annotations

from implementations.numpy_autograd.optim.adam import Adam
from implementations.numpy_autograd.optim.optimizer import Optimizer
from implementations.numpy_autograd.optim.sgd import SGD

__all__ = ["SGD", "Adam", "Optimizer"]
