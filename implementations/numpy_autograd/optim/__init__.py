"""``torch.optim`` for the NumPy engine: SGD, Adam and AdamW with PyTorch's update rules."""

from __future__ import annotations

from ..optim.adam import Adam
from ..optim.adamw import AdamW
from ..optim.optimizer import Optimizer
from ..optim.sgd import SGD

__all__ = ["SGD", "Adam", "AdamW", "Optimizer"]
