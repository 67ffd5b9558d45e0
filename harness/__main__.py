"""``python -m harness`` is the ``harness`` command."""

from harness import interrupt

# Ctrl-C during the start-up imports is honoured when main() begins, not raised mid-import.
interrupt.install()

from harness.cli import main  # noqa: E402

raise SystemExit(main())
