"""harness: differential testing and benchmarking of tensor / autograd / training backends.

Importing this package imports no framework; backends are found through the entry-point
group ``harness.backends`` (see :mod:`harness.discovery`) and import theirs lazily.
"""

from harness.contract import Backend, Capabilities, DeviceStatus, History, Unsupported

__version__ = "0.1.0"

__all__ = ["Backend", "Capabilities", "DeviceStatus", "History", "Unsupported", "__version__"]
