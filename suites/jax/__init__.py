"""Tests specific to the JAX backend (x64 scoping, compiled training, optax rules)."""
