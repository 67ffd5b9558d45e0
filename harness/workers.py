"""Worker processes for data-parallel targets: started, watched and always cleaned up.

A :class:`WorkerGroup` is ``N`` processes started by a ``spawn`` multiprocessing context
(``torch.multiprocessing``'s for PyTorch, the standard library's otherwise), one per rank,
each serving jobs from its own queue until it is closed. A group is kept alive between
jobs, so a test module or a benchmark pays the start-up (importing the framework,
joining the process group) once.

What a caller can rely on:

* **Timeouts.** :meth:`WorkerGroup.run` (and the start-up) waits at most ``timeout_s``
  seconds; a rank that has not answered by then is reported as hung and every worker is
  killed.
* **Clear errors.** A rank that raises, or dies (a crash, a signal, ``os._exit``), gives a
  :class:`WorkerError` naming the rank, what happened (its traceback or exit code) and the
  job; the other ranks (possibly blocked in a collective waiting for it) are killed.
* **No orphans.** Each worker runs in a process group of its own, which is killed as a
  whole (``killpg``) when the group closes for any reason -- an error, a timeout, Ctrl-C in
  the parent, interpreter exit (``atexit``); on Linux each worker also asks the kernel to
  kill it if the parent dies (``PR_SET_PDEATHSIG``), and it ignores the terminal's SIGINT,
  which the parent handles.
* **No half-written result.** Results travel through queues in memory and are returned
  only when every rank has answered; nothing is written to disk.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import multiprocessing
import os
import queue
import signal
import sys
import time
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.workload import Workload

_POLL_S = 0.1
_GRACE_S = 3.0
"""After a rank's error, how long to look for a rank that died first (the root cause: a
collective fails on the surviving ranks as soon as a peer's connection drops)."""
_ALIVE: set[WorkerGroup] = set()
_PROGRESS: Any = None  # in a worker: the group's shared progress array
_RANK = -1


def mark(step: int, *, waiting: bool = False) -> None:
    """In a worker: record that this rank has reached ``step`` (``waiting``: it is blocked in
    a collective for the other ranks). On a hang, the rank furthest behind is named."""
    if _PROGRESS is not None:
        _PROGRESS[_RANK] = 2 * step + (1 if waiting else 0) + 1


class WorkerError(RuntimeError):
    """A data-parallel worker crashed, raised, or did not finish within its timeout."""

    def __init__(self, message: str, *, rank: int | None, kind: str) -> None:
        super().__init__(message)
        self.rank = rank
        """The rank at fault (the first one, when several hung)."""
        self.kind = kind
        """``crash`` (the process died), ``error`` (it raised) or ``hang`` (timeout)."""


def _die_with_parent() -> None:
    """Linux: SIGKILL this process when its parent dies (no-op elsewhere)."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _serve(
    rank: int,
    world_size: int,
    env: dict[str, str],
    init: Callable[..., Any] | None,
    init_args: tuple[Any, ...],
    jobs: Any,
    results: Any,
    parent: int,
    progress: Any,
) -> None:
    """A worker's main loop (runs in the spawned process)."""
    global _PROGRESS, _RANK
    _PROGRESS, _RANK = progress, rank
    os.setpgrp()
    _die_with_parent()
    if os.getppid() != parent:  # the parent died before the death signal was armed
        os._exit(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ.update(env)  # before the job's framework is imported (XLA reads it at start)
    try:
        state = init(rank, world_size, *init_args) if init is not None else None
    except BaseException:
        results.put((rank, "error", "start-up: " + traceback.format_exc()))
        return
    results.put((rank, "ready", None))

    def emit(item: Any) -> None:
        results.put((rank, "progress", item))

    while True:
        job = jobs.get()
        if job is None:
            break
        fn, args = job
        progress[rank] = 0
        try:
            out = fn(state, rank, world_size, emit, *args)
        except BaseException:
            results.put((rank, "error", traceback.format_exc()))
        else:
            results.put((rank, "ok", out))
    closer = getattr(state, "close", None)
    if callable(closer):
        with contextlib.suppress(Exception):
            closer()


@contextlib.contextmanager
def _main_not_rerun() -> Any:
    """Start children without re-running the parent's ``__main__`` script in them.

    ``spawn`` re-imports the main script in every child (so a script without an
    ``if __name__ == "__main__"`` guard would start workers recursively). Every function a
    worker runs lives in an importable module, so the children need nothing from it.
    """
    main = sys.modules.get("__main__")
    saved = {k: getattr(main, k) for k in ("__file__", "__spec__") if hasattr(main, k)}
    if "__file__" in saved:
        delattr(main, "__file__")
    if "__spec__" in saved:
        main.__spec__ = None  # type: ignore[union-attr]
    try:
        yield
    finally:
        for k, v in saved.items():
            setattr(main, k, v)


def _exit_text(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class WorkerGroup:
    """``world_size`` spawned worker processes serving jobs (module docstring).

    ``init(rank, world_size, *init_args)`` runs once in each worker (join the process
    group, import the framework) and returns the worker's state; each job
    ``fn(state, rank, world_size, emit, *args)`` returns a picklable result. ``fn`` and
    ``init`` must be importable module-level functions. ``env`` is set in the workers
    only, before ``init``.
    """

    def __init__(
        self,
        world_size: int,
        *,
        label: str,
        init: Callable[..., Any] | None = None,
        init_args: tuple[Any, ...] = (),
        env: dict[str, str] | None = None,
        context: Any = None,
        timeout_s: float = 600.0,
        keep: Any = None,
    ) -> None:
        self.world_size = world_size
        self.label = label
        self._ctx = context if context is not None else multiprocessing.get_context("spawn")
        self._keep = keep  # an object the workers need alive in the parent (a TCPStore)
        self._results = self._ctx.Queue()
        self._jobs = [self._ctx.Queue() for _ in range(world_size)]
        self._progress = self._ctx.Array("q", world_size, lock=False)
        self.processes: list[Any] = []
        _ALIVE.add(self)
        try:
            for rank in range(world_size):
                p = self._ctx.Process(
                    target=_serve,
                    args=(
                        rank,
                        world_size,
                        dict(env or {}),
                        init,
                        init_args,
                        self._jobs[rank],
                        self._results,
                        os.getpid(),
                        self._progress,
                    ),
                    name=f"{label} rank {rank}",
                    daemon=True,
                )
                with _main_not_rerun():
                    p.start()
                self.processes.append(p)
            self._collect("ready", "start-up", timeout_s, None)
        except BaseException:
            self.close()
            raise

    @property
    def pids(self) -> list[int]:
        """The worker processes' ids."""
        return [p.pid for p in self.processes if p.pid is not None]

    @property
    def alive(self) -> bool:
        """Every worker is running."""
        return bool(self.processes) and all(p.is_alive() for p in self.processes)

    def run(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        *,
        timeout_s: float,
        what: str,
        on_progress: Callable[[Any], None] | None = None,
    ) -> list[Any]:
        """Run ``fn`` on every rank; the results by rank. Any failure closes the group."""
        try:
            for q in self._jobs:
                q.put((fn, args))
            return self._collect("ok", what, timeout_s, on_progress)
        except BaseException:
            self.close()
            raise

    def _collect(
        self,
        expected: str,
        what: str,
        timeout_s: float,
        on_progress: Callable[[Any], None] | None,
    ) -> list[Any]:
        deadline = time.monotonic() + timeout_s
        out: dict[int, Any] = {}
        while len(out) < self.world_size:
            try:
                rank, kind, payload = self._results.get(timeout=_POLL_S)
            except queue.Empty:
                self._check_alive(out, what)
                if time.monotonic() > deadline:
                    raise self._hang(out, what, timeout_s) from None
                continue
            if kind == "progress":
                if on_progress is not None:
                    on_progress(payload)
            elif kind == "error":
                self._crash_first(out, rank, what, payload)
                raise WorkerError(
                    f"{self.label}: rank {rank} failed during {what}; every worker was killed."
                    f"\nrank {rank} traceback:\n{payload}",
                    rank=rank,
                    kind="error",
                )
            elif kind == expected:
                out[rank] = payload
        return [out[r] for r in range(self.world_size)]

    def _hang(self, answered: dict[int, Any], what: str, timeout_s: float) -> WorkerError:
        """The timeout error: the pending rank furthest behind (see :func:`mark`) is named."""
        pending = [r for r in range(self.world_size) if r not in answered]
        marks = {r: int(self._progress[r]) for r in pending}
        culprit = min(pending, key=lambda r: (marks[r], r))

        def where(r: int) -> str:
            m = marks[r]
            if m == 0:
                return f"rank {r}: no step reported"
            return f"rank {r}: step {(m - 1) // 2}" + (
                ", waiting for the other ranks" if (m - 1) % 2 else ""
            )

        return WorkerError(
            f"{self.label}: rank {culprit} did not finish {what} within {round(timeout_s, 1):g} s "
            f"(hung; ranks still running: {', '.join(map(str, pending))}; last progress: "
            f"{'; '.join(where(r) for r in pending)}); every worker was killed",
            rank=culprit,
            kind="hang",
        )

    def _crash_first(self, answered: dict[int, Any], rank: int, what: str, payload: str) -> None:
        """Raise the crash of another rank if one died: ``rank``'s error is then its echo."""
        end = time.monotonic() + _GRACE_S
        while time.monotonic() < end:
            for r, p in enumerate(self.processes):
                if r != rank and r not in answered and not p.is_alive():
                    last = payload.strip().splitlines()[-1] if payload.strip() else ""
                    raise WorkerError(
                        f"{self.label}: rank {r} crashed during {what} "
                        f"({_exit_text(p.exitcode)}); every worker was killed (rank {rank} "
                        f"then failed: {last})",
                        rank=r,
                        kind="crash",
                    )
            time.sleep(_POLL_S)

    def _check_alive(self, answered: dict[int, Any], what: str) -> None:
        for rank, p in enumerate(self.processes):
            if rank not in answered and not p.is_alive():
                raise WorkerError(
                    f"{self.label}: rank {rank} crashed during {what} "
                    f"({_exit_text(p.exitcode)}); every worker was killed",
                    rank=rank,
                    kind="crash",
                )

    def close(self) -> None:
        """Stop every worker now (SIGKILL to each worker's process group); idempotent."""
        _ALIVE.discard(self)
        for p in self.processes:
            if p.pid is not None and p.is_alive():
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(p.pid, signal.SIGKILL)
                with contextlib.suppress(ProcessLookupError):
                    p.kill()
        for p in self.processes:
            p.join(timeout=5)
        for q in [*self._jobs, self._results]:
            q.cancel_join_thread()
            q.close()
        self.processes = []
        self._keep = None


@atexit.register
def _close_all() -> None:
    for group in list(_ALIVE):
        group.close()


def pool(cache: dict[Any, WorkerGroup], key: Any, start: Callable[[], WorkerGroup]) -> WorkerGroup:
    """The live group cached under ``key``, or a new one from ``start()`` (cached)."""
    group = cache.get(key)
    if group is None or not group.alive:
        if group is not None:
            group.close()
        group = cache[key] = start()
    return group


def run_training(
    cache: dict[Any, WorkerGroup],
    key: Any,
    start: Callable[[], WorkerGroup],
    job: Callable[..., Any],
    args: tuple[Any, ...],
    *,
    workload: Workload,
    timeout_s: float,
    on_epoch: Callable[[int], None] | None = None,
) -> list[Any]:
    """Run a training ``job`` on the group cached under ``key`` (started if needed) and
    return every rank's result; ``timeout_s`` covers the start-up too, and the workers'
    ``("epoch", e)`` progress reaches ``on_epoch``."""
    deadline = time.monotonic() + timeout_s
    group = pool(cache, key, start)

    def progress(item: Any) -> None:
        if on_epoch is not None and item[0] == "epoch":
            on_epoch(item[1])

    return group.run(
        job,
        args,
        timeout_s=max(1.0, deadline - time.monotonic()),
        what=f"training {workload.spec.get('dataset')} ({workload.steps} steps)",
        on_progress=progress,
    )
