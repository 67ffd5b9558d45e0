"""Op parity: every catalog op, every oracle, every selected target (see harness.oracles)."""
