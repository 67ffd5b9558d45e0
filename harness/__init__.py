"""harness: differential testing and benchmarking of tensor / autograd / training backends.

Importing this package imports no framework; backends are found through the entry-point
group ``harness.backends`` (see :mod:`harness.discovery`) and import theirs lazily. The
contract's names load on first use, so that the ``harness`` command installs its Ctrl-C
handler before anything heavy (NumPy alone took 0.5 s under load) is imported.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.contract import Backend, Capabilities, DeviceStatus, History, Unsupported

__version__ = "0.1.0"

DISTRIBUTION = "autodiff-harness"
"""The name to ``pip install`` (and to depend on); the import name and the command are
``harness``."""

_CONTRACT = ("Backend", "Capabilities", "DeviceStatus", "History", "Unsupported")

__all__ = [
    "DISTRIBUTION",
    "Backend",
    "Capabilities",
    "DeviceStatus",
    "History",
    "Unsupported",
    "__version__",
]


def __getattr__(name: str) -> Any:
    if name in _CONTRACT:
        return getattr(importlib.import_module("harness.contract"), name)
    raise AttributeError(f"module 'harness' has no attribute {name!r}")
