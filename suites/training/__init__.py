"""Whole training runs: per-step loss against the reference target, and test accuracy."""
