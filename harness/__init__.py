"""harness: differential testing and benchmarking of tensor / autograd / training backends.

Importing this package imports no framework; backends are found through the entry-point
group ``harness.backends`` (see :mod:`harness.discovery`) and import theirs lazily.
"""

from harness.contract import Backend, Capabilities, DeviceStatus, History, Unsupported

__version__ = "0.1.0"

DISTRIBUTION = "autodiff-harness"
"""The name to ``pip install`` (and to depend on); the import name and the command are
``harness``."""

__all__ = [
    "DISTRIBUTION",
    "Backend",
    "Capabilities",
    "DeviceStatus",
    "History",
    "Unsupported",
    "__version__",
]
