"""``torch.optim`` for the NumPy engine: SGD and Adam with PyTorch's update rules."""

from __future__ import annotations

from harness.implementations.numpy_autograd.optim.adam import Adam
from harness.implementations.numpy_autograd.optim.optimizer import Optimizer
from harness.implementations.numpy_autograd.optim.sgd import SGD

__all__ = ["SGD", "Adam", "Optimizer"]
