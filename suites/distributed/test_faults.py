"""Faults in a real data-parallel run (PyTorch DDP, 2 gloo ranks): a rank that crashes or
hangs mid-training gives a clear error naming the rank within the timeout; both ranks'
processes are gone (checked in /proc); nothing is written; and in ``harness compare`` the
fault is that target's ``error`` run, not a crash of the command.

The worker pool is shared with the rest of the module: a correct run starts it (outside
the short fault timeout), each fault then kills it.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("torch.distributed")

from harness.implementations.torch_backend import ddp

from harness import oracles, parallel, runner, workers
from harness.progress import NullProgress

from ..broken.dp_targets import dp_target
from . import procs

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

CASE = oracles.TrainingCase("breast_cancer", "logreg", "sgd", "minibatch", 1)
FAULT_TIMEOUT_S = 6.0


def _warm_pool() -> list[int]:
    """Start (or reuse) the DDP worker pool with a correct run; its worker pids."""
    dp_target("ddp-correct").backend.train(CASE.build("float64"), device="cpu@ddp2")
    return [pid for group in ddp._GROUPS.values() for pid in group.pids]


@pytest.mark.parametrize(
    ("recipe", "kind", "text"),
    [
        (
            "ddp-crash",
            "crash",
            "rank 1 crashed during training breast_cancer (15 steps) (exit code 3)",
        ),
        ("ddp-hang", "hang", "rank 1 did not finish training breast_cancer (15 steps) within 6 s"),
    ],
)
def test_a_faulty_rank_is_named_within_the_timeout(
    recipe: str, kind: str, text: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The error names the rank (and the step, when it raised); no worker outlives it."""
    pids = _warm_pool()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(parallel.ENV_TIMEOUT, str(FAULT_TIMEOUT_S))
    t0 = time.monotonic()
    with pytest.raises(workers.WorkerError) as info:
        dp_target(recipe).backend.train(CASE.build("float64"), device="cpu@ddp2")
    assert time.monotonic() - t0 < FAULT_TIMEOUT_S + 10
    assert info.value.rank == 1 and info.value.kind == kind
    assert text in str(info.value)
    if kind == "hang":  # the other rank is named as waiting for it, in the all-reduce
        assert "rank 0: step 2, waiting for the other ranks; rank 1: step 2)" in str(info.value)
    assert len(pids) == 2 and not [p for p in pids if procs.running(p)]
    assert not [p for pid in pids for p in procs.in_group(pid)]
    assert not list(tmp_path.iterdir()), "a failed run left files behind"


def test_in_compare_a_raising_rank_is_the_targets_error_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``harness compare``'s runner turns the fault into an ``error`` run naming the rank
    and the step it failed at."""
    _warm_pool()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(parallel.ENV_TIMEOUT, str(FAULT_TIMEOUT_S))
    run = runner.train_one(
        dp_target("ddp-raise"), CASE.build("float64"), is_reference=False,
        progress=NullProgress(), key="raise",
    )  # fmt: skip
    assert run.status == "error" and run.history is None
    assert "WorkerError" in run.error and "rank 1 failed during training" in run.error
    assert "rank 1: step 2 (epoch 0) failed" in run.error
    assert "FloatingPointError: deliberate fault on rank 1" in run.error
    assert not list(tmp_path.iterdir())
    assert not [p for p in procs.children() if p != os.getpid()]
