"""Known divergences: data files that say where a target is expected to disagree, and why.

Each backend may ship ``known_divergences.txt`` beside its module (the text comes from
:meth:`harness.contract.Backend.known_divergences`). One entry per line::

    TARGET  OP  ORACLE  DTYPE  # reason (required)

* ``TARGET`` is ``backend:device`` (``jax:cpu``), ``OP`` a catalog op or another check's
  subject (a training workload such as ``breast_cancer-mlp-adam-batch``), ``ORACLE`` the
  check (``forward``, ``vjp_reference``, ``finite_differences``, ``jvp_vjp``,
  ``second_order``, ``broadcast_reduction``, ``kink_convention``, ``trajectory``,
  ``accuracy``, ...) and ``DTYPE`` ``float32`` or ``float64``.
* Each field is a shell-style pattern: ``*`` matches anything (``jax:*``, ``log*``).
* Everything after the first ``#`` is the reason; an entry without one is an error, so that
  no divergence is accepted without a written explanation. Blank lines and lines that start
  with ``#`` are comments.

A check covered by an entry still runs: if it fails it is reported as *xfail* (declared:
not a failure); if every check an entry covers passes, the entry is *stale* (the divergence
is gone, delete the line). :func:`status` is that rule, the one every consumer applies: the
pytest suites (so ``harness check`` and ``harness parity``), and the training comparison of
``harness compare`` and ``harness check`` (a trajectory entry names the workload as
:func:`harness.subjects.case_id` does, and the dtype). An entry of one backend's file only
applies to that backend's targets.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

FIELDS = ("target", "op", "oracle", "dtype")

DECLARED, STALE = "xfail", "stale"
"""The statuses of a check an entry covers: it failed as declared, or it passed (stale)."""


def status(entry: Divergence | None, failed: bool) -> str:
    """The outcome of a check: ``fail`` / ``pass`` when no entry covers it, else
    :data:`DECLARED` (it failed as declared; not a failure) or :data:`STALE` (it passed)."""
    if entry is None:
        return "fail" if failed else "pass"
    return DECLARED if failed else STALE


class DivergenceFileError(ValueError):
    """A malformed known-divergences file (the message names the source and line)."""


@dataclass(frozen=True)
class Divergence:
    """One entry: four patterns and the reason."""

    target: str
    op: str
    oracle: str
    dtype: str
    reason: str
    source: str = ""
    line: int = 0

    @property
    def pattern(self) -> str:
        """The four patterns as written, ``TARGET OP ORACLE DTYPE``."""
        return f"{self.target} {self.op} {self.oracle} {self.dtype}"

    @property
    def where(self) -> str:
        """``source:line`` of the entry."""
        return f"{self.source}:{self.line}"

    def matches(self, target: str, op: str, oracle: str, dtype: str) -> bool:
        """Whether this entry covers the check ``(target, op, oracle, dtype)``."""
        return all(
            fnmatchcase(value, pattern)
            for value, pattern in zip(
                (target, op, oracle, dtype),
                (self.target, self.op, self.oracle, self.dtype),
                strict=True,
            )
        )


def parse(text: str, source: str = "<known divergences>") -> list[Divergence]:
    """Parse the text of a known-divergences file; a malformed line raises DivergenceFileError."""
    entries: list[Divergence] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        body, hash_, reason = line.partition("#")
        reason = reason.strip()
        fields = body.split()
        if len(fields) != len(FIELDS):
            raise DivergenceFileError(
                f"{source}:{number}: expected 4 fields 'TARGET OP ORACLE DTYPE  # reason', "
                f"got {len(fields)}: {raw.strip()!r}"
            )
        if not hash_ or not reason:
            raise DivergenceFileError(
                f"{source}:{number}: every entry needs a reason after '#': {raw.strip()!r}"
            )
        target, op, oracle, dtype = fields
        entries.append(Divergence(target, op, oracle, dtype, reason, source, number))
    return entries


@dataclass
class Registry:
    """Entries per backend, with the outcome of every check each entry covered."""

    entries: dict[str, list[Divergence]] = field(default_factory=dict)
    """Backend name -> its entries (they apply only to that backend's targets)."""

    def add(self, backend: str, entries: Iterable[Divergence]) -> None:
        """Register ``entries`` for ``backend``'s targets."""
        self.entries.setdefault(backend, []).extend(entries)

    def match(
        self, backend: str, target: str, op: str, oracle: str, dtype: str
    ) -> Divergence | None:
        """The first entry of ``backend`` covering the check, or None."""
        for entry in self.entries.get(backend, []):
            if entry.matches(target, op, oracle, dtype):
                return entry
        return None

    def all(self) -> list[Divergence]:
        """Every entry, in file order per backend."""
        return [e for entries in self.entries.values() for e in entries]


def stale(entries: Iterable[Divergence], outcomes: Iterable[tuple[str, bool]]) -> list[Divergence]:
    """Entries that covered at least one check and none of whose checks failed.

    ``outcomes`` holds ``(entry.pattern + " @ " + entry.where, failed)`` for every check an
    entry covered (that string is what :func:`key` returns); entries that covered nothing in
    this run are neither stale nor confirmed and are left out.
    """
    seen: dict[str, bool] = {}
    for k, failed in outcomes:
        seen[k] = seen.get(k, False) or failed
    return [e for e in entries if key(e) in seen and not seen[key(e)]]


def key(entry: Divergence) -> str:
    """A stable string identifying ``entry`` across processes (pattern and location)."""
    return f"{entry.pattern} @ {entry.where}"


def load(targets: Iterable[Any]) -> Registry:
    """The entries of every backend of ``targets`` (objects with ``backend_name`` and
    ``backend``, as :class:`harness.discovery.Target`); DivergenceFileError on a bad file."""
    registry = Registry()
    seen: set[str] = set()
    for t in targets:
        if t.backend_name in seen:
            continue
        seen.add(t.backend_name)
        source = f"{t.backend_name} known_divergences.txt"
        registry.add(t.backend_name, parse(t.backend.known_divergences(), source))
    return registry


def record(entry: Divergence, subject: str, outcome: str) -> dict[str, str]:
    """The JSON record of an entry applied to one check (``harness compare``'s reports)."""
    return {
        "status": outcome,
        "subject": subject,
        "entry": entry.pattern,
        "where": entry.where,
        "reason": entry.reason,
    }
