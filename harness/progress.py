"""Progress of a comparison while it trains: nothing, or one rich bar per target and mode."""

from __future__ import annotations

from typing import Any, Protocol


class Progress(Protocol):
    """What :func:`execute` reports while it trains (one task per target and mode)."""

    def add(self, key: str, label: str, total: int) -> None:
        """Announce a run of ``total`` epochs."""

    def begin(self, key: str) -> None:
        """Run ``key`` starts training."""

    def advance(self, key: str, epochs: int = 1) -> None:
        """``epochs`` more epochs of run ``key`` are done."""

    def finish(self, key: str, status: str) -> None:
        """Run ``key`` ended with ``status`` (agrees / diverges / error ...)."""


class NullProgress:
    """Reports nothing (output not a terminal, or ``--json``)."""

    def add(self, key: str, label: str, total: int) -> None:
        """Ignored."""

    def begin(self, key: str) -> None:
        """Ignored."""

    def advance(self, key: str, epochs: int = 1) -> None:
        """Ignored."""

    def finish(self, key: str, status: str) -> None:
        """Ignored."""


class RichProgress:
    """One rich progress bar per target and mode (use as a context manager)."""

    def __init__(self, file: Any = None) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeElapsedColumn,
        )
        from rich.progress import Progress as _Progress

        self._bar = _Progress(
            TextColumn("{task.description:<30}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("epochs"),
            TimeElapsedColumn(),
            TextColumn("{task.fields[status]}"),
            console=Console(file=file),
        )
        self._ids: dict[str, Any] = {}

    def __enter__(self) -> RichProgress:
        self._bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.__exit__(*exc)  # type: ignore[arg-type]

    def add(self, key: str, label: str, total: int) -> None:
        """A new bar, waiting."""
        self._ids[key] = self._bar.add_task(label, total=total, start=False, status="waiting")

    def advance(self, key: str, epochs: int = 1) -> None:
        """Move the bar of ``key``; starts its clock on first use."""
        tid = self._ids[key]
        self._bar.start_task(tid)
        self._bar.update(tid, advance=epochs, status="training")

    def finish(self, key: str, status: str) -> None:
        """Fill the bar and show the outcome."""
        tid = self._ids[key]
        task = self._bar.tasks[tid]
        self._bar.update(tid, completed=task.total, status=status)
        self._bar.stop_task(tid)

    def begin(self, key: str) -> None:
        """Start the clock of ``key`` (training has started)."""
        tid = self._ids[key]
        self._bar.start_task(tid)
        self._bar.update(tid, status="training")


class LineProgress:
    """One line per finished run (target, mode, outcome, seconds), flushed at once.

    For output that is not a terminal (a log file, CI), where bars would be noise and
    silence until the end hides a slow or stuck run.
    """

    def __init__(self, file: Any) -> None:
        import time

        self._clock = time.perf_counter
        self._file = file
        self._labels: dict[str, str] = {}
        self._started: dict[str, float] = {}
        self._total = 0
        self._done = 0

    def add(self, key: str, label: str, total: int) -> None:
        """Remember the run's label."""
        self._labels[key] = label
        self._total += 1

    def begin(self, key: str) -> None:
        """Start the run's clock."""
        self._started[key] = self._clock()

    def advance(self, key: str, epochs: int = 1) -> None:
        """Ignored (one line per run, not per epoch)."""

    def finish(self, key: str, status: str) -> None:
        """Print ``[i/n] label: status (seconds)``."""
        self._done += 1
        seconds = self._clock() - self._started.get(key, self._clock())
        print(
            f"[{self._done}/{self._total}] {self._labels.get(key, key)}: {status} "
            f"({seconds:.2f} s)",
            file=self._file,
            flush=True,
        )
