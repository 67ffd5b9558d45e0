"""``torch.utils`` for the NumPy engine (``data``)."""

from harness.implementations.numpy_autograd.utils import data

__all__ = ["data"]
