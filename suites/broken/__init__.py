"""Deliberately broken targets: proof that the parity suites catch real bugs."""
