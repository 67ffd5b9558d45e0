"""``torch.utils`` for the NumPy engine (``data``)."""

from ..utils import data

__all__ = ["data"]
