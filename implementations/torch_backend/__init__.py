"""The PyTorch backend: ``torch:cpu`` and ``torch:cuda``."""

from harness.implementations.torch_backend.backend import TorchBackend

__all__ = ["TorchBackend"]
