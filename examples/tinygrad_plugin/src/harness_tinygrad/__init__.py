"""tinygrad as a harness backend (scaffolded by ``harness new-backend``)."""

from harness_tinygrad.backend import TinygradBackend

__all__ = ["TinygradBackend"]
