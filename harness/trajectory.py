"""Comparing whole training runs step by step: the divergence verdict.

Two runs of the same :class:`harness.workload.Workload` (same initial parameters, same batch
order) must produce the same per-step loss up to rounding. Step ``k`` agrees when::

    |loss_k - ref_k| <= rtol(k) * max(|ref_k|, floor * |ref_0|)

* ``rtol(k) = rtol0 * sqrt(k + 1)``. Rounding differences between two correct backends
  (different summation orders, fused kernels) act like independent perturbations at each
  step, which accumulate like a random walk: their size grows as the square root of the
  step count.
* ``floor``: once a loss has fallen far below its start its last bits are noise in float32
  (an over-fitting MLP reaches 1e-9), and mini-batch momentum / Adam runs amplify rounding
  chaotically in that regime. The scale therefore never drops below ``floor`` times the
  first loss: 1e-2 in float32, 1e-3 in float64.
* Measured (scripted, torch 2.13 / jax 0.10.2 / the NumPy engine on this project's
  workloads: breast-cancer logreg, ``mlp`` and ``mlp:32,16``, digits ``mlp``; full batch and
  mini-batch 32; SGD, momentum, Adam; 100 epochs), the largest
  ``scaled difference / sqrt(k + 1)`` of a float32 run was 2.0e-5 against another
  backend's float32 run (jax, mlp:32,16, mini-batch Adam) and 4.3e-5 against the same
  backend's float64 run (torch, mlp, mini-batch momentum). ``rtol0 = 1e-4`` leaves a
  margin of 5x over the first and 2.3x over the second, harder comparison, while the
  bugs the suites must catch (a wrong gradient, a sum-for-mean loss, a wrong momentum
  rule, a dropped partial batch) differ by 1e-2 or more within a few steps.
* The layered models (issue 15: ``cnn``, ``cnn-bn`` on digits, ``gpt`` on sonnets, the
  training suite's mini-batch cases, 135/135/60 steps) stay far inside the same tolerance:
  worst float32 ``scaled difference / sqrt(k + 1)`` against torch's float64 run 1.6e-6
  (the engine, cnn-bn, momentum), float64 at most 6.1e-14 (jax, cnn-bn), so one rule
  serves every model and no looser tolerance was needed.
* float64 uses ``rtol0 = 1e-9`` with no growth: float64 runs must agree to 1e-9 relative at
  every step over 100 epochs (measured: at most 1.1e-12).

A non-finite loss is not a disagreement but its own outcome, ``non-finite``: the verdict
records the first non-finite step of each run and in which (``nonfinite_in``: ``run``,
``reference`` or ``both``, the last when both first become non-finite at the same step
after agreeing up to it -- training blew up the same way in both, which says nothing
about the target). A run that leaves the tolerance at a finite step before that
``diverges``.

**One reference rule.** Every trajectory verdict (``harness compare``, ``harness check``, the
training suites) compares the run with the reference backend's **float64** run of the same
workload (same data, initial parameters and batch order; a float32 run's inputs are the
float64 ones rounded), whatever the run's own dtype; only a reference without float64 is
used in the run's dtype (:func:`reference_dtype`). Why float64: it is the closest thing to
the exact trajectory the harness has, so a float32 run's difference is its own rounding and
nothing else -- against the reference's float32 run it would be the sum of two backends'
rounding, and the same divergence would read differently depending on how the reference
rounds. The float32 tolerance above was measured for exactly this comparison.

**The baseline.** Beside every verdict stands the reference backend's *own* float32 run
against its float64 run on the same case, read at the same step (:class:`Baseline`): how
far float32 rounding alone takes a correct backend there. A target whose difference is of
that size is rounding; one far above it is a bug, whatever the tolerance says.

A data-parallel run also ``diverges`` when its ranks' parameters stop being identical
(:func:`harness.parallel.find_desync`, recorded as :attr:`Verdict.desync` with the rank, the
step and the parameter), even while rank 0's losses agree.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from harness.contract import History
from harness.parallel import find_desync


@dataclass(frozen=True)
class TrajectoryTolerance:
    """``rtol(k) = rtol0 * (k + 1) ** growth``; the scale is floored at ``floor * |ref_0|``."""

    rtol0: float
    growth: float
    floor: float
    reason: str

    def rtol(self, steps: np.ndarray) -> np.ndarray:
        """The relative tolerance at each step index."""
        return self.rtol0 * (np.asarray(steps, dtype=np.float64) + 1.0) ** self.growth


TOLERANCES: dict[str, TrajectoryTolerance] = {
    "float64": TrajectoryTolerance(
        1e-9, 0.0, 1e-3, "float64 runs must agree to 1e-9 relative at every step"
    ),
    "float32": TrajectoryTolerance(
        1e-4,
        0.5,
        1e-2,
        "random-walk growth of float32 rounding; measured worst 2.0e-5*sqrt(k+1) across "
        "backends, 4.3e-5*sqrt(k+1) against float64 (see harness/trajectory.py)",
    ),
}


def reference_dtype(reference_dtypes: tuple[str, ...] | list[str], dtype: str) -> str:
    """The dtype of the reference run a ``dtype`` run is compared with: float64 where the
    reference backend computes it, else ``dtype`` (module docstring, *One reference rule*)."""
    return "float64" if "float64" in reference_dtypes else dtype


@dataclass(frozen=True)
class Baseline:
    """The reference backend's own float32 run against its float64 run, on the same case."""

    reference: str
    """The reference target."""
    step: int
    """The step it is read at: the verdict's first diverging step, else its worst step."""
    scaled_diff: float
    """The reference float32 run's scaled difference (module docstring) at :attr:`step`."""
    max_scaled_diff: float
    """Its largest scaled difference over the run."""
    worst_step: int

    def text(self) -> str:
        """``torch:cpu float32 vs float64 on this case: 2.9e-06 at step 108 (...)``."""
        return (
            f"{self.reference} float32 vs float64 on this case: {self.scaled_diff:.2e} at step "
            f"{self.step} (its largest {self.max_scaled_diff:.2e} at step {self.worst_step})"
        )


def baseline(
    reference: str, ref64: History, ref32: History, dtype: str, step: int
) -> Baseline | None:
    """The :class:`Baseline` at ``step``, scaled as a ``dtype`` verdict's differences are.

    None when the reference's float32 run has no such step or is not finite there.
    """
    rel = scaled_differences(np.asarray(ref64.step_loss), np.asarray(ref32.step_loss), dtype)
    if not rel.size or step >= rel.size or not np.isfinite(rel[step]):
        return None
    finite = np.where(np.isfinite(rel), rel, -np.inf)
    worst = int(np.argmax(finite))
    return Baseline(reference, step, float(rel[step]), float(finite[worst]), worst)


def param_names(n_params: int) -> list[str]:
    """``linear0.weight, linear0.bias, linear1.weight, ...`` for ``[W1, b1, W2, b2, ...]``."""
    return [f"linear{i // 2}.{'weight' if i % 2 == 0 else 'bias'}" for i in range(n_params)]


@dataclass
class Verdict:
    """How one run compares with the reference run."""

    agrees: bool
    steps: int
    max_abs_diff: float
    max_rel_diff: float
    """Largest ``|loss - ref| / scale`` over the steps (scale as in the module docstring)."""
    worst_step: int
    first_diverging_step: int | None
    """First step outside tolerance (or with a non-finite loss); None when all agree."""
    nonfinite_step: int | None
    """First step whose loss is NaN or infinite, in either run."""
    reference_nonfinite_step: int | None = None
    """First non-finite step of the reference run (None when it stayed finite)."""
    run_nonfinite_step: int | None = None
    """First non-finite step of the compared run (None when it stayed finite)."""
    param_drift: dict[str, float] = field(default_factory=dict)
    """Per final parameter tensor: largest |difference| / (largest |reference| or 1)."""
    most_drifted: str | None = None
    tolerance: dict[str, Any] = field(default_factory=dict)
    reason: str = ""
    desync: dict[str, Any] | None = None
    """Data-parallel runs: the first rank, step and parameter that left rank 0's
    (:class:`harness.parallel.Desync`); the run then diverges, whatever its losses."""
    reference_dtype: str = ""
    """The dtype of the reference run compared with (:func:`reference_dtype`)."""
    baseline: dict[str, Any] | None = None
    """:class:`Baseline` as a dict: the reference's own float32 vs float64 difference at the
    verdict's step; None when the reference has no run in both dtypes."""

    def baseline_text(self) -> str:
        """The baseline's line (:meth:`Baseline.text`), or "" without one."""
        return Baseline(**self.baseline).text() if self.baseline else ""

    @property
    def nonfinite_in(self) -> str | None:
        """``run``, ``reference`` or ``both`` (first non-finite at the same step), else None."""
        r, o = self.reference_nonfinite_step, self.run_nonfinite_step
        if r is None and o is None:
            return None
        if r == o:
            return "both"
        if o is None or (r is not None and r < o):
            return "reference"
        return "run"

    @property
    def outcome(self) -> str:
        """``agrees``, ``diverges`` (outside tolerance at a finite step) or ``non-finite``."""
        if self.agrees:
            return "agrees"
        if (
            self.desync is None
            and self.nonfinite_step is not None
            and self.first_diverging_step == self.nonfinite_step
        ):
            return "non-finite"
        return "diverges"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {**asdict(self), "nonfinite_in": self.nonfinite_in, "outcome": self.outcome}

    def summary(self) -> str:
        """One human line: agrees, or where and how it diverged or became non-finite; the
        baseline (the reference's own float32 vs float64 difference) in brackets."""
        base = self.baseline_text()
        return self.headline() + (f" [baseline: {base}]" if base else "")

    def headline(self) -> str:
        """:meth:`summary` without the baseline."""
        if self.agrees:
            return (
                f"agrees over {self.steps} steps (largest scaled difference "
                f"{self.max_rel_diff:.2e} at step {self.worst_step})"
            )
        if self.outcome == "non-finite":
            k = self.nonfinite_step
            where = {
                "both": f"both this run and the reference became non-finite at step {k}, "
                "agreeing up to it",
                "reference": f"the reference became non-finite at step {k}, this run did not",
                "run": f"this run became non-finite at step {k}, the reference did not",
            }[self.nonfinite_in or "run"]
            return f"non-finite: {where} ({self.reason})"
        return (
            f"diverges at step {self.first_diverging_step}: {self.reason}; "
            f"most drifted parameter {self.most_drifted} "
            f"({self.param_drift.get(self.most_drifted or '', float('nan')):.2e})"
        )


def compare(
    reference: History,
    other: History,
    dtype: str,
    *,
    reference_dtype: str = "",
    base: tuple[str, History, History] | None = None,
) -> Verdict:
    """Compare ``other``'s per-step losses and final parameters with ``reference``'s.

    ``reference_dtype`` is recorded (default ``dtype``). ``base`` is ``(reference target,
    its float64 run, its float32 run)``: the verdict then carries the :class:`Baseline` at
    its first diverging step (else its worst step), and whether the reference became
    non-finite too is read on the reference's run in ``dtype``.
    """
    v = _compare(reference, other, dtype)
    v.reference_dtype = reference_dtype or dtype
    if base is not None and v.steps:
        # Whether the reference blew up too is read on its run in this run's dtype: float32
        # overflows where float64 does not, which says nothing about the target.
        peer = np.asarray((base[2] if dtype == "float32" else base[1]).step_loss, np.float64)
        v.reference_nonfinite_step = _first_nonfinite(peer[: v.steps])
        step = v.first_diverging_step if v.first_diverging_step is not None else v.worst_step
        b = baseline(base[0], base[1], base[2], dtype, min(step, v.steps - 1))
        v.baseline = asdict(b) if b is not None else None
    return v


def _compare(reference: History, other: History, dtype: str) -> Verdict:
    tol = TOLERANCES[dtype]
    ref = np.asarray(reference.step_loss, dtype=np.float64)
    got = np.asarray(other.step_loss, dtype=np.float64)
    drift = {
        name: float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(a))), 1.0))
        if a.shape == b.shape and a.size
        else float("inf")
        for name, a, b in zip(
            param_names(len(reference.final_params)),
            reference.final_params,
            other.final_params,
            strict=False,
        )
    }
    if len(other.final_params) != len(reference.final_params):
        drift["<parameter count>"] = float("inf")
    most = max(drift, key=lambda k: drift[k] if np.isfinite(drift[k]) else np.inf, default=None)
    n = min(len(ref), len(got))
    tol_info = {**asdict(tol), "dtype": dtype}
    if n == 0:
        return Verdict(
            False, 0, float("inf"), float("inf"), 0, 0, None,
            param_drift=drift, most_drifted=most, tolerance=tol_info,
            reason=f"no steps to compare: {len(got)} steps against {len(ref)} in the reference",
        )  # fmt: skip
    steps = _compare_steps(ref[:n], got[:n], tol)
    first, reason = steps.first, steps.reason
    if len(ref) != len(got):
        # The batch schedules differ (a dropped or extra partial batch, a different epoch
        # count): say so, and where the common prefix stops agreeing, which locates it.
        prefix = (
            f"the common {n} steps agree"
            if first is None
            else f"within the common {n} steps, step {first} first differs: {reason}"
        )
        reason = (
            f"step count differs: {len(got)} steps against {len(ref)} in the reference; {prefix}"
        )
        first = n if first is None else first
    # A data-parallel run whose ranks disagree diverges even where rank 0's losses agree.
    desync = find_desync(other, param_names(len(other.final_params)))
    if desync is not None:
        reason = desync.summary() + (f"; {reason}" if first is not None else "")
        first = desync.step if first is None else min(first, desync.step)
    return Verdict(
        agrees=first is None,
        steps=n,
        max_abs_diff=steps.max_abs,
        max_rel_diff=steps.max_rel,
        worst_step=steps.worst,
        first_diverging_step=first,
        nonfinite_step=steps.nonfinite,
        reference_nonfinite_step=_first_nonfinite(ref[:n]),
        run_nonfinite_step=_first_nonfinite(got[:n]),
        param_drift=drift,
        most_drifted=most,
        tolerance=tol_info,
        reason=reason,
        desync=desync.to_dict() if desync is not None else None,
    )


def _first_nonfinite(loss: np.ndarray) -> int | None:
    bad = ~np.isfinite(loss)
    return int(np.argmax(bad)) if bad.any() else None


def scaled_differences(ref: np.ndarray, got: np.ndarray, dtype: str) -> np.ndarray:
    """``|got_k - ref_k| / scale_k`` per step (module docstring); NaN where either is not finite.

    This is the quantity :func:`compare` holds against ``TOLERANCES[dtype].rtol(k)``.
    """
    tol = TOLERANCES[dtype]
    ref = np.asarray(ref, dtype=np.float64)
    got = np.asarray(got, dtype=np.float64)
    n = min(len(ref), len(got))
    if n == 0:
        return np.zeros(0)
    with np.errstate(invalid="ignore", over="ignore"):
        rel = np.abs(got[:n] - ref[:n]) / _scale(ref[:n], tol)
    return np.where(np.isfinite(rel), rel, np.nan)


def _scale(ref: np.ndarray, tol: TrajectoryTolerance) -> np.ndarray:
    scale = np.maximum(np.abs(ref), tol.floor * abs(ref[0]) if np.isfinite(ref[0]) else 0.0)
    return np.where(scale > 0, scale, 1.0)


@dataclass
class _Steps:
    first: int | None
    nonfinite: int | None
    worst: int
    max_abs: float
    max_rel: float
    reason: str


def _compare_steps(ref: np.ndarray, got: np.ndarray, tol: TrajectoryTolerance) -> _Steps:
    """Step-by-step check of two loss sequences of the same length (n > 0)."""
    n = len(ref)
    bad_ref = ~np.isfinite(ref)
    bad_got = ~np.isfinite(got)
    nonfinite = int(np.argmax(bad_ref | bad_got)) if (bad_ref | bad_got).any() else None
    scale = _scale(ref, tol)
    with np.errstate(invalid="ignore"):
        diff = np.abs(got - ref)
        rel = diff / scale
    rel_finite = np.where(np.isfinite(rel), rel, np.inf)
    ok = rel_finite <= tol.rtol(np.arange(n))
    first = int(np.argmax(~ok)) if not ok.all() else None
    if nonfinite is not None and (first is None or nonfinite < first):
        first = nonfinite
    worst = int(np.argmax(rel_finite))
    if first is None:
        reason = ""
    elif first == nonfinite:
        which = (
            "both runs"
            if bad_ref[first] and bad_got[first]
            else ("reference" if bad_ref[first] else "run")
        )
        reason = (
            f"non-finite loss in the {which} ({float(got[first])!r} against {float(ref[first])!r})"
        )
    else:
        reason = (
            f"loss {got[first]:.10g} against {ref[first]:.10g} (scaled difference "
            f"{rel_finite[first]:.2e} > tolerance {tol.rtol(np.array([first]))[0]:.2e})"
        )
    finite_diff = diff[np.isfinite(diff)]
    return _Steps(
        first=first,
        nonfinite=nonfinite,
        worst=worst,
        max_abs=float(finite_diff.max()) if finite_diff.size else float("inf"),
        max_rel=float(rel_finite[worst]),
        reason=reason,
    )
