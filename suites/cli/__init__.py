"""CLI tests through the real entry point (``harness`` / ``python -m harness`` subprocesses)."""
