"""harness.workers: spawned worker groups give results by rank, and every fault -- a crash, a
signal, an exception, a hang, Ctrl-C -- becomes a clear error naming the rank within the
timeout, with no process left behind (checked in /proc, grandchildren included)."""

from __future__ import annotations

import sys
import time

import pytest

from harness.workers import WorkerError, WorkerGroup

from . import procs

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def _group(timeout_s: float = 60.0) -> WorkerGroup:
    return WorkerGroup(2, label="test group", timeout_s=timeout_s)


def _assert_gone(pids: list[int]) -> None:
    assert pids and not [p for p in pids if procs.running(p)], "a worker outlived its group"
    assert not [p for pid in pids for p in procs.in_group(pid)], "a worker's child survived"


def test_results_by_rank_and_progress() -> None:
    """Each rank's result comes back in rank order; progress reaches the parent."""
    group = _group()
    seen: list[tuple[str, int]] = []
    try:
        out = group.run(procs.add, (10,), timeout_s=60, what="adding", on_progress=seen.append)
        assert out == [(0, 2, 10), (1, 2, 11)]
        assert sorted(seen) == [("epoch", 0), ("epoch", 1)]
        assert group.run(procs.add, (0,), timeout_s=60, what="again") == [(0, 2, 0), (1, 2, 1)]
    finally:
        pids = group.pids
        group.close()
    _assert_gone(pids)


@pytest.mark.parametrize(
    ("kind", "error_kind", "text"),
    [
        ("crash", "crash", "rank 1 crashed during faulting (exit code 7)"),
        ("signal", "crash", "rank 1 crashed during faulting (killed by signal SIGSEGV)"),
        ("raise", "error", "ValueError: deliberate error on rank 1"),
        ("hang", "hang", "rank 1 did not finish faulting within 3 s"),
    ],
)
def test_fault_names_the_rank_and_leaves_no_process(kind: str, error_kind: str, text: str) -> None:
    """A faulty rank is named, within the timeout, and every worker is gone afterwards."""
    group = _group()
    pids = group.pids
    t0 = time.monotonic()
    with pytest.raises(WorkerError) as info:
        group.run(procs.fault, (kind,), timeout_s=3, what="faulting")
    assert time.monotonic() - t0 < 3 + 5
    assert info.value.rank == 1 and info.value.kind == error_kind
    assert text in str(info.value) and "every worker was killed" in str(info.value)
    _assert_gone(pids)
    assert not group.alive


def test_a_hung_workers_own_child_is_killed_too() -> None:
    """A worker's subprocess dies with it: the group kills each worker's process group."""
    group = _group()
    pids = group.pids
    child: list[int] = []
    with pytest.raises(WorkerError, match="did not finish"):
        group.run(
            procs.grandchild, (), timeout_s=3, what="a child",
            on_progress=lambda item: child.append(item[1]),
        )  # fmt: skip
    assert child and not procs.running(child[0])
    _assert_gone(pids)


def test_interrupt_in_the_parent_stops_the_workers() -> None:
    """Ctrl-C in the parent (here: raised from a progress callback) kills every worker."""
    group = _group()
    pids = group.pids

    def interrupt(_: object) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        group.run(procs.add, (1,), timeout_s=30, what="adding", on_progress=interrupt)
    _assert_gone(pids)


def test_start_up_failure_names_the_rank() -> None:
    """A worker whose start-up raises is reported with the rank, and nothing survives."""
    before = set(procs.children())
    with pytest.raises(WorkerError, match="rank 1 failed during start-up") as info:
        WorkerGroup(2, label="bad start", init=procs.bad_init, timeout_s=30)
    assert "OSError: deliberate start-up failure on rank 1" in str(info.value)
    assert not set(procs.children()) - before
