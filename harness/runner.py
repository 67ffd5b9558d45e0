"""Training comparisons for the CLI: one workload per mode, trained on every target.

This is the one place the CLI drives training. :func:`harness.plan.plan` validates
everything (workload values, targets, reference) before anything runs; :func:`execute`
trains the reference target first, then every other target, in every mode, and compares
each run through :func:`harness.trajectory.compare` with the reference's run of the same
mode in float64 (the one reference rule, :func:`harness.trajectory.reference_dtype`; the
reference also trains in the other dtype for that and for the baseline, the reference's own
float32 vs float64 difference that every verdict carries). A run the target's
``known_divergences.txt`` declares (oracle ``trajectory``, the workload named by
:func:`harness.subjects.case_id`) is reported as declared and does not fail; a declared one
that agrees is stale (:mod:`harness.divergences`).

Definitions recorded in ``report.json`` (see ``results/README.md``):

* **Target loss** -- ``TARGET_FACTOR`` (1.1) times the *largest* final train loss (the
  whole-train-split loss evaluated after the last epoch) among the reference target's runs
  in the compared modes. With both modes that is, in practice, the reference's full-batch
  loss; taking the largest means the reference reaches it in every mode, so "which mode got
  there first" always has an answer for the reference. It depends only on the reference
  run, which is deterministic for a given seed, so it is deterministic too.
* **Steps to target** -- the number of optimizer steps done by the end of the first epoch
  whose whole-train-split loss is at or below the target loss (per-step batch losses are
  pre-update losses of one batch, too noisy in mini-batch to define "reached"). The
  resolution is therefore one epoch.
* **Seconds to target** -- cumulative *steady* training time up to that epoch: the sum of
  the per-epoch training times (:attr:`History.epoch_s`, which exclude evaluation), where
  the first epoch -- which carries warm-up, lazy initialisation and, for compiled backends,
  compilation -- counts at the median time of the later epochs. Compilation and the real
  first-epoch time are reported separately.
"""

from __future__ import annotations

import contextlib
import math
import time
import traceback
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

import numpy as np

from harness import discovery, divergences, interrupt, subjects
from harness.contract import History, Unsupported
from harness.plan import MODE_LABELS, Plan, build_workloads
from harness.progress import NullProgress, Progress
from harness.trajectory import Verdict, compare, reference_dtype
from harness.workload import Workload

TARGET_FACTOR = 1.1
"""Target loss = this factor times the largest final train loss of the reference's runs."""

TARGET_LOSS_DEFINITION = (
    f"{TARGET_FACTOR} x the largest final train loss (whole train split, after the last "
    "epoch) among the reference target's runs in the compared modes"
)


@dataclass
class Run:
    """One target trained in one mode, and how it compares with the reference."""

    target: str
    mode: str
    is_reference: bool
    status: str
    """``ok``, ``error`` (train raised) or ``unsupported`` (train raised Unsupported)."""
    history: History | None = None
    error: str = ""
    wall_s: float = float("nan")
    """Seconds of the whole ``train`` call: compilation, warm-up and evaluation included."""
    verdict: Verdict | None = None
    """Against the reference run of the same mode (the reference against itself, which
    flags a non-finite reference loss)."""
    elapsed_s: np.ndarray | None = None
    """Cumulative steady training seconds at the end of each epoch (see module docstring)."""
    steps_to_target: int | None = None
    seconds_to_target: float | None = None
    epoch_to_target: int | None = None
    runtime_warnings: list[str] = field(default_factory=list)
    """Distinct RuntimeWarning messages raised while training (overflow, invalid value...)."""
    divergence: dict[str, str] | None = None
    """The known-divergence entry covering this run's trajectory check
    (:func:`harness.divergences.record`: ``status`` ``xfail`` (declared) or ``stale``)."""

    @property
    def declared(self) -> bool:
        """The run diverges as its backend's known divergences declare (not a failure)."""
        return self.divergence is not None and self.divergence["status"] == divergences.DECLARED

    @property
    def stale(self) -> bool:
        """A known divergence declares this run divergent, but it agrees."""
        return self.divergence is not None and self.divergence["status"] == divergences.STALE

    @property
    def label(self) -> str:
        """:attr:`outcome`, with ``(declared)`` or ``(stale declaration)`` after it."""
        if self.declared:
            return f"{self.outcome} (declared)"
        if self.stale:
            return f"{self.outcome} (stale declaration)"
        return self.outcome

    @property
    def key(self) -> str:
        """``target/mode``."""
        return f"{self.target}/{self.mode}"

    @property
    def outcome(self) -> str:
        """``agrees``, ``diverges``, ``non-finite``, ``error``, ``unsupported``, ``not compared``.

        ``non-finite``: a NaN or infinite loss appeared (in this run, the reference or both)
        before any finite step left the tolerance; :attr:`Verdict.nonfinite_in` says where.
        """
        if self.status != "ok":
            return self.status
        if self.verdict is None:
            return "not compared"
        return self.verdict.outcome

    @property
    def failed(self) -> bool:
        """Whether this run makes the comparison fail (exit 1)."""
        if self.status == "unsupported":
            # The contract reports unsupported work as skipped; without a reference run,
            # though, nothing can be compared at all.
            return self.is_reference
        if self.is_reference and self.status == "ok" and self.outcome == "diverges":
            # The reference's run against its own float64 run is the baseline, not a verdict
            # on a target; only a non-finite reference leaves nothing to judge by.
            return False
        return self.outcome != "agrees" and not self.declared


def steady_elapsed(epoch_s: np.ndarray) -> np.ndarray:
    """Cumulative training seconds per epoch, the first epoch counted at the steady median."""
    e = np.asarray(epoch_s, dtype=np.float64).copy()
    if len(e) > 1:
        e[0] = float(np.median(e[1:]))
    return np.cumsum(e)


def first_reach(h: History, target_loss: float) -> int | None:
    """Index of the first epoch whose (finite) whole-train-split loss is <= ``target_loss``."""
    loss = np.asarray(h.epoch_train_loss, dtype=np.float64)
    hit = np.flatnonzero(np.isfinite(loss) & (loss <= target_loss))
    return int(hit[0]) if hit.size else None


def seconds_to_reach(h: History, target_loss: float) -> float:
    """*Seconds to target*, the one definition (module docstring) that ``harness compare``,
    ``report.json`` and the asv convergence track share: steady training seconds up to and
    including the first epoch that reaches ``target_loss``, compilation excluded (it is
    reported beside, as :attr:`History.compile_s`). ``inf`` if the run never reaches it.
    """
    e = first_reach(h, target_loss)
    return math.inf if e is None else float(steady_elapsed(h.epoch_s)[e])


@contextlib.contextmanager
def _collect_runtime_warnings(sink: list[str]) -> Iterator[None]:
    """Silence (and record) overflow / invalid-value warnings: a NaN is a verdict, not noise."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            yield
    for w in caught:
        if issubclass(w.category, RuntimeWarning):
            msg = str(w.message)
            if msg not in sink:
                sink.append(msg)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def train_one(
    target: discovery.Target,
    workload: Workload,
    *,
    is_reference: bool,
    progress: Progress,
    key: str,
) -> Run:
    """Train ``workload`` on ``target``; exceptions become an ``error`` run, not a crash."""
    run = Run(target.name, workload.spec["mode"], is_reference, "ok")
    progress.begin(key)

    def on_epoch(_epoch: int) -> None:
        # The safe point for Ctrl-C (harness.interrupt): between two epochs.
        interrupt.check()
        progress.advance(key)

    t0 = time.perf_counter()
    try:
        with _collect_runtime_warnings(run.runtime_warnings):
            history = target.backend.train(workload, device=target.device, on_epoch=on_epoch)
    except Unsupported as e:
        run.status, run.error = "unsupported", str(e) or type(e).__name__
    except Exception as e:
        run.status = "error"
        tb = traceback.extract_tb(e.__traceback__)
        where = f" at {tb[-1].filename}:{tb[-1].lineno}" if tb else ""
        run.error = f"{type(e).__name__}: {e}{where}"
    else:
        run.history = history
        problem = _check_history(history, workload)
        if problem:
            run.status, run.error = "error", problem
    run.wall_s = time.perf_counter() - t0
    if run.history is not None and run.status == "ok":
        run.elapsed_s = steady_elapsed(run.history.epoch_s)
    return run


def _check_history(h: History, w: Workload) -> str:
    """A message if ``h`` does not have the shape the contract promises for ``w``."""
    for name, n in (
        ("step_loss", w.steps),
        ("epoch_train_loss", w.epochs),
        ("epoch_test_acc", w.epochs),
        ("epoch_s", w.epochs),
    ):
        got = len(np.asarray(getattr(h, name)))
        if got != n:
            return f"History.{name} has {got} entries, expected {n}"
    return ""


def _reached(run: Run, target_loss: float, steps_per_epoch: int) -> None:
    if run.history is None or run.elapsed_s is None:
        return
    e = first_reach(run.history, target_loss)
    if e is not None:
        run.epoch_to_target = e + 1
        run.steps_to_target = (e + 1) * steps_per_epoch
        run.seconds_to_target = seconds_to_reach(run.history, target_loss)


@dataclass
class Comparison:
    """Every run of a comparison, its verdicts and the target loss."""

    plan: Plan
    runs: list[Run]
    target_loss: float | None
    started_utc: datetime
    finished_utc: datetime
    threads: dict[str, Any] = field(default_factory=dict)
    """The ``threads`` record of ``report.json`` (:func:`harness.threads.record`)."""

    @property
    def modes(self) -> tuple[str, ...]:
        """The compared modes, in order."""
        return self.plan.config.modes

    def run(self, target: str, mode: str) -> Run | None:
        """The run of ``target`` in ``mode``."""
        return next((r for r in self.runs if r.target == target and r.mode == mode), None)

    @property
    def ok(self) -> bool:
        """True when every run agrees with the reference (exit 0)."""
        return not any(r.failed for r in self.runs)

    def versus(self) -> list[dict[str, Any]]:
        """Per target: which of full batch and mini-batch reached the target loss first."""
        if set(self.modes) != {"batch", "minibatch"}:
            return []
        rows = []
        for t in self.plan.targets:
            b, m = self.run(t.name, "batch"), self.run(t.name, "minibatch")
            if b is None or m is None:
                continue
            rows.append(
                {
                    "target": t.name,
                    "batch": {"steps": b.steps_to_target, "seconds": b.seconds_to_target},
                    "minibatch": {"steps": m.steps_to_target, "seconds": m.seconds_to_target},
                    "first_in_steps": _first(b.steps_to_target, m.steps_to_target),
                    "first_in_seconds": _first(b.seconds_to_target, m.seconds_to_target),
                }
            )
        return rows


def _first(batch: float | None, minibatch: float | None) -> str | None:
    """``batch``, ``minibatch``, ``tie`` or None (neither reached the target)."""
    if batch is None and minibatch is None:
        return None
    if minibatch is None or (batch is not None and batch < minibatch):
        return "batch"
    if batch is None or minibatch < batch:
        return "minibatch"
    return "tie"


def target_loss(reference_runs: Sequence[Run]) -> float | None:
    """The target loss (module docstring) from the reference's runs; None if none finished."""
    finals = [
        float(r.history.epoch_train_loss[-1])
        for r in reference_runs
        if r.history is not None and len(r.history.epoch_train_loss)
    ]
    finals = [f for f in finals if np.isfinite(f)]
    return TARGET_FACTOR * max(finals) if finals else None


def execute(p: Plan, progress: Progress | None = None) -> Comparison:
    """Train every target of ``p`` in every mode and compare each with the reference."""
    progress = progress or NullProgress()
    started = datetime.now(timezone.utc)
    dtype = p.config.dtype
    ref_dtypes = p.reference.backend.capabilities.dtypes
    others = [d for d in ("float32", "float64") if d != dtype and d in ref_dtypes]
    extra_workloads = {d: build_workloads(replace(p.config, dtype=d)) for d in others}
    order = [(t, mode) for t in p.targets for mode in p.workloads]
    for t, mode in order:
        label = f"{t.name} {MODE_LABELS[mode]}"
        progress.add(f"{t.name}/{mode}", label, p.workloads[mode].epochs)
    for d, wls in extra_workloads.items():
        for mode, wl in wls.items():
            name = p.reference.name
            progress.add(f"{name}/{mode}/{d}", f"{name} {MODE_LABELS[mode]} {d}", wl.epochs)
    runs: list[Run] = []
    # The reference's runs by (mode, dtype): its own dtype first, then the others.
    refs: dict[tuple[str, str], History | None] = {}
    subject = {
        mode: subjects.case_id(
            p.config.dataset, p.config.model, p.config.optimizer, mode,
            subjects.config_options(p.config),
        )
        for mode in p.workloads
    }  # fmt: skip
    truth_dtype = reference_dtype(ref_dtypes, dtype)
    for t, mode in order:
        key = f"{t.name}/{mode}"
        is_ref = t.name == p.reference.name
        interrupt.check()
        run = train_one(t, p.workloads[mode], is_reference=is_ref, progress=progress, key=key)
        if is_ref:
            refs[mode, dtype] = run.history
            for d, wls in extra_workloads.items():
                extra = train_one(t, wls[mode], is_reference=True, progress=progress,
                                  key=f"{key}/{d}")  # fmt: skip
                progress.finish(f"{key}/{d}", f"reference {d} ({extra.status})")
                refs[mode, d] = extra.history
        truth, truth_d = refs.get((mode, truth_dtype)), truth_dtype
        if truth is None:  # the reference's float64 run failed: its own dtype's, as before
            truth, truth_d = refs.get((mode, dtype)), dtype
        if run.history is not None and truth is not None:
            f32, f64 = refs.get((mode, "float32")), refs.get((mode, "float64"))
            base = (p.reference.name, f64, f32) if f32 is not None and f64 is not None else None
            run.verdict = compare(truth, run.history, dtype, reference_dtype=truth_d, base=base)
            entry = p.divergences.match(t.backend_name, t.name, subject[mode], "trajectory", dtype)
            if entry is not None and not is_ref:
                outcome = divergences.status(entry, failed=run.outcome != "agrees")
                run.divergence = divergences.record(entry, subject[mode], outcome)
        progress.finish(key, run.label if not is_ref else f"reference ({run.outcome})")
        runs.append(run)
    ref_runs = [r for r in runs if r.is_reference]
    goal = target_loss(ref_runs)
    if goal is not None:
        for r in runs:
            _reached(r, goal, p.workloads[r.mode].steps_per_epoch)
    return Comparison(p, runs, goal, started, datetime.now(timezone.utc))
