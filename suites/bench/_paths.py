"""The repository root on ``sys.path`` so that ``benchmarks`` (not installed) imports."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
"""The repository root (where ``asv.conf.json`` and ``benchmarks/`` are)."""

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
