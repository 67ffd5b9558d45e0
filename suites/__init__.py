"""Test suites, written once and parametrized over every selected target."""
