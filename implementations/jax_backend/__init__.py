"""The JAX backend: ``jax:cpu`` and ``jax:gpu`` (functional autograd, compiled training)."""

from harness.implementations.jax_backend.backend import JaxBackend

__all__ = ["JaxBackend"]
