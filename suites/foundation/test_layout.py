"""The layout's rule that files in harness/ stay small enough to hold one concept.

(No import cycles in harness/: ``suites/parity/test_machinery.py``.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HARNESS = ROOT / "harness"
MAX_LINES = 600
"""About where a file starts holding more than one concept (see docs/architecture.md)."""


@pytest.mark.parametrize(
    "path", sorted(HARNESS.rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT))
)
def test_harness_files_stay_small(path: Path) -> None:
    n = len(path.read_text(encoding="utf-8").splitlines())
    assert n <= MAX_LINES, f"{path.relative_to(ROOT)} has {n} lines; split it by concept"
