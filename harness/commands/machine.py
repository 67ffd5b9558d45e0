"""``harness machine``: register this machine with asv under a name that tells the hardware.

asv keeps results per machine name and its machine record has no GPU field, so the name
carries the CPU model, the core count and the GPU model (or ``nogpu``): for example
``amd-epyc-2cpu-nogpu`` or ``intel-xeon-platinum-8480c-16cpu-nvidia-h100-80gb-hbm3``. The
command fills asv's fields (machine, os, arch, cpu, num_cpu, ram) and stores them in
``~/.asv-machine.json`` the way ``asv machine --yes`` does, with no questions asked; then
``asv run --machine NAME`` files results under that name. (It writes the record through
asv's own ``MachineCollection.save``: ``asv machine --yes --machine NAME --cpu ...`` stores
only the fields that differ from asv's detected defaults, so the record would lack its
os, arch, cpu and ram.)

GPU detection needs no framework: ``nvidia-smi``, then ``/proc/driver/nvidia``, then
``rocm-smi``; ``--gpu`` overrides it (a container that hides the tools).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
from pathlib import Path

from harness import host

NAME = "machine"
HELP = "register this machine with asv under a name with its CPU and GPU model (or 'nogpu')"
ORDER = 60


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``harness machine``."""
    p.add_argument("--name", help="use this machine name instead of the generated one")
    p.add_argument("--gpu", help="the GPU model to put in the name (default: detected)")
    p.add_argument(
        "--with-hostname",
        action="store_true",
        help="prefix the name with the host name (machines with identical hardware apart)",
    )
    p.add_argument(
        "--dry-run", action="store_true", help="print the name and fields; register nothing"
    )
    p.add_argument("--json", action="store_true", help="print the fields as JSON")


def slug(text: str) -> str:
    """Lower case, runs of anything but letters and digits as one ``-``."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def machine_fields(gpu: str | None = None, with_hostname: bool = False) -> dict[str, str]:
    """asv's machine fields, ``machine`` being the generated name, plus ``gpu``."""
    cpu = host.cpu_model()
    n_cpu = os.cpu_count() or 1
    gpu = gpu if gpu is not None else host.gpu_models()
    parts = [platform.node()] if with_hostname else []
    parts += [cpu, f"{n_cpu}cpu", gpu or "nogpu"]
    return {
        "machine": "-".join(slug(p) for p in parts if slug(p)),
        "os": f"{platform.system()} {platform.release()}",
        "arch": platform.machine(),
        "cpu": cpu,
        "num_cpu": str(n_cpu),
        "ram": str(host.ram_bytes()),
        "gpu": gpu or "nogpu",
    }


ASV_FIELDS = ("machine", "os", "arch", "cpu", "num_cpu", "ram")
"""The fields of asv's machine record (the GPU is in the name: asv has no field for it)."""


def register(fields: dict[str, str]) -> Path:
    """Store the record in asv's machine file (``~/.asv-machine.json``); return its path."""
    from asv.machine import MachineCollection

    MachineCollection.save(fields["machine"], {k: fields[k] for k in ASV_FIELDS})
    return Path(MachineCollection.get_machine_file_path())


def run(args: argparse.Namespace) -> int:
    """Register (or with ``--dry-run`` only print) this machine."""
    fields = machine_fields(args.gpu, args.with_hostname)
    if args.name is not None:
        if not slug(args.name) or slug(args.name) != args.name:
            raise ValueError(
                f"invalid machine name {args.name!r}: use lower-case letters, digits and '-' "
                f"(e.g. {slug(args.name) or fields['machine']!r})"
            )
        fields["machine"] = args.name
    if args.json:
        print(json.dumps(fields, indent=2))
    else:
        for key, value in fields.items():
            print(f"{key:8} {value}")
    if args.dry_run:
        return 0
    try:
        path = register(fields)
    except ImportError:
        print(
            "harness machine: error: asv is not installed (pip install 'autodiff-harness[dev]')",
            file=sys.stderr,
        )
        return 1
    out = sys.stderr if args.json else sys.stdout
    print(
        f"registered asv machine {fields['machine']!r} in {path}; run benchmarks with\n"
        f"  asv run --machine {fields['machine']} --python=same "
        "--set-commit-hash $(git rev-parse HEAD)",
        file=out,
    )
    return 0
