"""The overall verdict of ``harness check`` and ``harness parity``: the one home of its rule.

A verdict is computed per target from the rows of the suites' ``report.json``
(:mod:`harness.parity_report`), never from pytest's tally: only checks that exercised the
target count, so the harness' own machinery tests (which pass whatever the target does)
never make a target green. A row *exercised* the target when its status is ``pass``,
``fail``, ``error``, ``xfail`` or ``stale``; ``skip-unsupported`` and ``skip`` did not.

Outcomes, most severe first (the overall verdict is the most severe of the targets'):

A circular check (its oracle compares a capability the backend declares emulated with
itself, :func:`harness.oracles.registry.circular`) is listed apart and is not counted as
coverage of its op or oracle, unless it fails.

``FAIL`` (exit 1)
    a check failed (``fail``: a disagreement; ``error``: the target raised), or pytest
    failed with no failing check recorded (a machinery test, a collection error).
``NOTHING CHECKED`` (exit 3)
    no op check exercised the target, or the target declares training
    (``Capabilities.training``), training was asked for, and no training case ran.
``TOO FEW OPS`` (exit 3)
    fewer catalog ops were exercised than ``--min-ops N`` asks.
``PASS`` (exit 0)
    everything else.

The summary names the ops, oracles and training cases that ran, were skipped as
unsupported, or failed, and every failing check as ``target op oracle dtype (status)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness import catalog
from harness.oracles import registry
from harness.parity_report import Row

CHECK_FIXTURE = "parity"
"""The pytest fixture (``harness.pytest_plugin``) through which a test records rows. A
test that does not use it is the harness' own machinery: it records no row, so it can
never count for a verdict, and ``harness check`` / ``harness parity`` do not run it
(``--checks-only``; :func:`records_checks`)."""

EXERCISED = ("pass", "fail", "error", "xfail", "stale")
"""Row statuses of a check that ran on the target."""
FAILED = ("fail", "error")
"""Row statuses that fail a verdict."""

PASS, FAIL, NOTHING, TOO_FEW = "PASS", "FAIL", "NOTHING CHECKED", "TOO FEW OPS"
EXIT_CODES = {PASS: 0, FAIL: 1, NOTHING: 3, TOO_FEW: 3}
"""Exit code of each outcome (2 stays the usage error's)."""
_SEVERITY = (PASS, TOO_FEW, NOTHING, FAIL)


def records_checks(fixturenames: Iterable[str]) -> bool:
    """Whether a test using these fixtures (its closure) can record a row for a verdict."""
    return CHECK_FIXTURE in fixturenames


class MinOpsError(ValueError):
    """A ``--min-ops`` value out of range; the message names the option and the range."""


def validate_min_ops(value: str | int | None, option: str = "--min-ops") -> int | None:
    """``value`` as an int in 1..number of catalog ops, None for None; else MinOpsError."""
    if value is None:
        return None
    total = len(catalog.CATALOG)
    try:
        n = int(value)
    except (TypeError, ValueError):
        n = 0
    if str(value).strip() != str(n) or not 1 <= n <= total:
        raise MinOpsError(
            f"{option} must be an integer from 1 to {total} (the catalog's ops), got {value!r}"
        )
    return n


@dataclass
class Tally:
    """Subjects (ops, oracles or training cases) that ran, were unsupported, or failed."""

    run: list[str] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, list[str]]:
        """JSON-ready."""
        return {"run": self.run, "skipped_unsupported": self.unsupported, "failed": self.failed}

    def line(self, noun: str, limit: int | None = 12) -> str:
        """``5 ops run (...); 1 failed: tanh; 2 skipped-unsupported: gather, take``; the
        names of what ran are listed when there are at most ``limit`` (None: always)."""
        text = f"{len(self.run)} {noun} run"
        if self.run and (limit is None or len(self.run) <= limit):
            text += f" ({', '.join(self.run)})"
        if self.failed:
            text += f"; {len(self.failed)} failed: {', '.join(self.failed)}"
        if self.unsupported:
            text += f"; {len(self.unsupported)} skipped-unsupported: {_short(self.unsupported)}"
        return text


def _short(names: Sequence[str], limit: int = 12) -> str:
    if len(names) <= limit:
        return ", ".join(names)
    return ", ".join(names[:limit]) + f", ... ({len(names) - limit} more)"


def _tally(rows: Iterable[Row], key: str) -> Tally:
    by: dict[str, list[str]] = {}
    for r in rows:
        by.setdefault(getattr(r, key), []).append(r.status or "fail")
    t = Tally()
    for name, statuses in by.items():
        if any(s in EXERCISED for s in statuses):
            t.run.append(name)
        elif any(s == "skip-unsupported" for s in statuses):
            t.unsupported.append(name)
        if any(s in FAILED for s in statuses):
            t.failed.append(name)
    return t


@dataclass
class TargetVerdict:
    """The verdict for one target."""

    target: str
    outcome: str
    reasons: list[str]
    ops: Tally
    oracles: Tally
    training: Tally | None
    """None when training was not part of the run."""
    failures: list[str]
    """``target op oracle dtype (status)`` of every failing check."""
    circular: list[str] = field(default_factory=list)
    """``oracle (why)`` of every oracle that ran circularly (an emulated capability checked
    against itself): not counted among the oracles run."""

    @property
    def exit_code(self) -> int:
        """The outcome's exit code."""
        return EXIT_CODES[self.outcome]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "target": self.target,
            "outcome": self.outcome,
            "exit_code": self.exit_code,
            "reasons": self.reasons,
            "ops": self.ops.to_dict(),
            "oracles": self.oracles.to_dict(),
            "training": self.training.to_dict() if self.training is not None else None,
            "failures": self.failures,
            "circular": self.circular,
        }

    def lines(self) -> list[str]:
        """The summary for the terminal."""
        total = len(catalog.CATALOG)
        why = f" ({'; '.join(self.reasons)})" if self.reasons else ""
        out = [f"{self.target}: {self.outcome}{why}"]
        out.append(f"  ops       {self.ops.line(f'of {total} ops')}")
        out.append(f"  oracles   {self.oracles.line('oracles')}")
        out += [f"  circular  {c}: not independent coverage" for c in self.circular]
        if self.training is not None:
            out.append(f"  training  {self.training.line('training cases', None)}")
        out += [f"  failing   {f}" for f in self.failures]
        return out


@dataclass
class Verdict:
    """The verdict of one run over its targets."""

    outcome: str
    targets: list[TargetVerdict]
    reasons: list[str] = field(default_factory=list)
    """Run-level reasons (pytest failed outside any check)."""

    @property
    def exit_code(self) -> int:
        """0 PASS, 1 FAIL, 3 NOTHING CHECKED / TOO FEW OPS."""
        return EXIT_CODES[self.outcome]

    @property
    def ok(self) -> bool:
        """PASS."""
        return self.outcome == PASS

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "outcome": self.outcome,
            "exit_code": self.exit_code,
            "reasons": self.reasons,
            "targets": [t.to_dict() for t in self.targets],
        }

    def lines(self) -> list[str]:
        """Per-target summaries, then the run-level reasons."""
        out = [line for t in self.targets for line in t.lines()]
        out += [f"  {r}" for r in self.reasons]
        return out


def rows_of(report: Mapping[str, Any] | None) -> list[Row]:
    """The rows of a parity ``report.json`` (its ``results[target][subject][oracle][dtype]``)."""
    rows: list[Row] = []
    for target, subjects in ((report or {}).get("results") or {}).items():
        for subject, oracles in subjects.items():
            for oracle, dtypes in oracles.items():
                for dtype, cell in dtypes.items():
                    rows.append(
                        Row(target, subject, oracle, dtype, cell.get("kind", "op"),
                            status=cell.get("status"), circular=cell.get("circular", ""))
                    )  # fmt: skip
    return rows


def judge_target(
    target: str,
    rows: Sequence[Row],
    *,
    declares_training: bool,
    training_expected: bool,
    min_ops: int | None = None,
) -> TargetVerdict:
    """The verdict of one target from its rows (see the module docstring for the rule)."""
    mine = [r for r in rows if r.target == target]
    # A circular check (an emulated capability checked against itself) is no independent
    # coverage: it counts only when it fails.
    counted = [r for r in mine if not r.circular or r.status in FAILED]
    op_rows = [r for r in counted if r.kind == "op"]
    ops, oracle_tally = _tally(op_rows, "subject"), _tally(counted, "oracle")
    circular = sorted({f"{r.oracle} ({r.circular})" for r in mine if r.circular})
    order = {name: i for i, name in enumerate(catalog.CATALOG)}
    known = registry.names()
    for names in (ops.run, ops.unsupported, ops.failed):
        names.sort(key=lambda s: order.get(s, len(order)))
    for names in (oracle_tally.run, oracle_tally.unsupported, oracle_tally.failed):
        names.sort(key=lambda o: known.index(o) if o in known else len(known))
    training = None
    if training_expected:
        training = _tally([r for r in mine if r.kind == "training"], "subject")
    failures = [
        f"{r.target} {r.subject} {r.oracle} {r.dtype} ({r.status})"
        for r in mine
        if r.status in FAILED
    ]
    reasons: list[str] = []
    if failures:
        outcome = FAIL
        reasons.append(f"{len(failures)} failing check{'s' if len(failures) != 1 else ''}")
    elif not ops.run:
        outcome = NOTHING
        reasons.append("no op check exercised the target")
    elif training is not None and declares_training and not training.run:
        outcome = NOTHING
        reasons.append("it declares training and no training case ran")
    elif min_ops is not None and len(ops.run) < min_ops:
        outcome = TOO_FEW
        reasons.append(f"{len(ops.run)} ops exercised, --min-ops asks for {min_ops}")
    else:
        outcome = PASS
    return TargetVerdict(target, outcome, reasons, ops, oracle_tally, training, failures, circular)


def judge(
    targets: Sequence[str],
    report: Mapping[str, Any] | None,
    *,
    pytest_exit: int,
    declares_training: Mapping[str, bool],
    training_expected: bool,
    min_ops: int | None = None,
) -> Verdict:
    """The verdict of a suites run over ``targets`` from its ``report.json`` and pytest's exit.

    ``declares_training[t]`` is target ``t``'s ``Capabilities.training``;
    ``training_expected`` says whether the run included the training suites.
    """
    rows = rows_of(report)
    verdicts = [
        judge_target(
            t, rows, declares_training=declares_training.get(t, False),
            training_expected=training_expected, min_ops=min_ops,
        )
        for t in targets
    ]  # fmt: skip
    outcome = max((v.outcome for v in verdicts), key=_SEVERITY.index, default=NOTHING)
    reasons: list[str] = []
    if pytest_exit not in (0, 5) and outcome != FAIL:
        # pytest failed outside any recorded check: a machinery test, a collection error.
        outcome = FAIL
        reasons.append(
            f"pytest exited {pytest_exit} with no failing check recorded (a harness self-test "
            "or collection failed: see its output above)"
        )
    return Verdict(outcome, verdicts, reasons)
