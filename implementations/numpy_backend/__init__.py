"""The NumPy engine's backend: ``numpy:cpu`` (the engine itself is
:mod:`harness.implementations.numpy_autograd`, which does not import the harness)."""

from harness.implementations.numpy_backend.backend import NumpyBackend

__all__ = ["NumpyBackend"]
