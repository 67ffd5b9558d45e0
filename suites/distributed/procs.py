"""Helpers of the distributed suite: worker jobs to spawn, and a process census from /proc."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any


def add(state: Any, rank: int, world_size: int, emit: Any, x: int) -> tuple[int, int, int]:
    """A job: ``(rank, world_size, x + rank)``, after reporting progress once."""
    emit(("epoch", rank))
    return rank, world_size, x + rank


def fault(state: Any, rank: int, world_size: int, emit: Any, kind: str) -> int:
    """A job in which rank 1 crashes, hangs, raises or kills itself; others return."""
    if rank == 1:
        if kind == "crash":
            os._exit(7)
        if kind == "hang":
            time.sleep(10_000)
        if kind == "raise":
            raise ValueError("deliberate error on rank 1")
        if kind == "signal":
            os.kill(os.getpid(), signal.SIGSEGV)
    return rank


def bad_init(rank: int, world_size: int) -> None:
    """A worker start-up that fails on rank 1."""
    if rank == 1:
        raise OSError("deliberate start-up failure on rank 1")


def grandchild(state: Any, rank: int, world_size: int, emit: Any) -> int:
    """A job that starts a long-lived child process of its own, then hangs."""
    import subprocess

    proc = subprocess.Popen(["sleep", "10000"])
    emit(("child", proc.pid))
    time.sleep(10_000)
    return proc.pid


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # fields after "pid (comm)"


def running(pid: int) -> bool:
    """The process exists and is not a zombie."""
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z"


def children(parent: int | None = None) -> list[int]:
    """Live (non-zombie) processes whose parent is ``parent`` (default: this process),
    except multiprocessing's resource tracker (one per parent, by design long-lived)."""
    parent = os.getpid() if parent is None else parent
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields is not None and fields[0] != "Z" and int(fields[1]) == parent:
                try:
                    cmd = (entry / "cmdline").read_bytes()
                except OSError:
                    continue
                if b"resource_tracker" not in cmd:
                    out.append(int(entry.name))
    return out


def in_group(pgid: int) -> list[int]:
    """Live processes in process group ``pgid``."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields is not None and fields[0] != "Z" and int(fields[2]) == pgid:
                out.append(int(entry.name))
    return out
