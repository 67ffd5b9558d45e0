"""HIPS autograd as a harness backend (an out-of-tree plugin; see docs/plugins.md)."""

from harness_autograd.backend import AutogradBackend

__all__ = ["AutogradBackend"]
