"""The machine and the software a run used: one set of probes for every report and for asv.

Nothing here imports a framework: GPUs are found through ``nvidia-smi``, then
``/proc/driver/nvidia``, then ``rocm-smi``; a probe that fails answers "unknown" or nothing,
never raises.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

from harness import DISTRIBUTION, __version__

LIBRARIES = (
    DISTRIBUTION,
    "numpy",
    "scipy",
    "scikit-learn",
    "torch",
    "jax",
    "jaxlib",
    "optax",
    "flax",
    "autograd",
    "tensorflow",
    "mlx",
    "tinygrad",
    "matplotlib",
    "rich",
    "tensorboardX",
    "hypothesis",
    "pytest",
    "asv",
)
"""Distributions whose versions every report records when they are installed."""


def versions(extra: Iterable[str] = ()) -> dict[str, str]:
    """Installed versions of :data:`LIBRARIES` and of ``extra`` distributions, by name.

    The harness itself is recorded as ``harness`` (its import name) whatever it was
    installed as, so a report from a source checkout without an install still carries it.
    """
    out: dict[str, str] = {"python": platform.python_version()}
    for name in dict.fromkeys([*LIBRARIES, *extra]):
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
        out["harness" if name == DISTRIBUTION else name] = version
    out.setdefault("harness", __version__)
    return out


def _run(cmd: list[str]) -> str:
    """Stdout of ``cmd`` or "" when it is missing or fails (detection never raises)."""
    if not shutil.which(cmd[0]):
        return ""
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return proc.stdout if proc.returncode == 0 else ""


def cpu_model() -> str:
    """The CPU model name (``/proc/cpuinfo``, ``sysctl`` on macOS, else ``platform``)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model", "cpu model", "Hardware") and value.strip():
                return " ".join(value.split())
    except OSError:
        pass
    brand = _run(["sysctl", "-n", "machdep.cpu.brand_string"]).strip()
    return brand or platform.processor() or platform.machine() or "unknown-cpu"


def gpu_list() -> list[str]:
    """The model of every GPU of this machine, one entry per device ([] when none)."""
    out = _run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"])
    models = [line.strip() for line in out.splitlines() if line.strip()]
    if not models:
        try:
            for info in sorted(Path("/proc/driver/nvidia/gpus").glob("*/information")):
                for line in info.read_text().splitlines():
                    if line.startswith("Model:"):
                        models.append(line.split(":", 1)[1].strip())
        except OSError:
            pass
    if not models:
        out = _run(["rocm-smi", "--showproductname", "--csv"])
        rows = [r.split(",") for r in out.splitlines() if r.strip()]
        if len(rows) > 1 and "Card series" in rows[0]:
            col = rows[0].index("Card series")
            models = [r[col].strip() for r in rows[1:] if len(r) > col]
    return [m for m in models if m]


def gpu_models() -> str:
    """``"NVIDIA H100"`` for one GPU, ``"2x NVIDIA H100"`` for two alike, ``+``-joined else;
    "" when none is found."""
    counts = Counter(gpu_list())
    return " + ".join(m if n == 1 else f"{n}x {m}" for m, n in counts.items())


def ram_bytes() -> int:
    """Physical memory in bytes (0 if unknown)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 0


def machine() -> dict[str, Any]:
    """The machine a run used: CPU model, cores, memory, GPUs (or none), OS, Python."""
    affinity = getattr(os, "sched_getaffinity", None)
    ram = ram_bytes()
    return {
        "hostname": platform.node(),
        "cpu": cpu_model(),
        "arch": platform.machine(),
        "cores": os.cpu_count(),
        "cores_usable": len(affinity(0)) if affinity else os.cpu_count(),
        "memory_gib": round(ram / 2**30, 1) if ram else None,
        "gpus": gpu_list() or "none",
        "os": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
    }
