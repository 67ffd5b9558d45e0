"""``python -m harness`` is the ``harness`` command."""

from harness.start import main

raise SystemExit(main())
