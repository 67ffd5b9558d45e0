"""Parity results: one row per (target, subject, oracle, dtype), as JSON and a coverage matrix.

A *subject* is a catalog op (kind ``op``), a model of the metamorphic properties (kind
``model``) or a training workload (kind ``training``). Statuses:

``pass``              every example agreed
``fail``              a disagreement that no known divergence covers
``error``             the target raised while the check ran (its op, VJP, training...)
``xfail``             a disagreement a known-divergence entry covers
``stale``             a known-divergence entry covered the check, yet it passed
``skip-unsupported``  the target lacks the op, the dtype or the capability (with the reason)
``skip``              the check does not apply (the reference compared with itself)

Files are written to a temporary name and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.files import atomic_write_text
from harness.oracles import registry

STATUSES = ("pass", "fail", "error", "xfail", "stale", "skip-unsupported", "skip")
SYMBOLS = {
    "pass": "✓",
    "fail": "✗",
    "error": "E",
    "xfail": "x",
    "stale": "!",
    "skip-unsupported": "-",
    "skip": "s",
}
NOT_RUN = "·"
_SEVERITY = {
    "error": 6,
    "fail": 5,
    "xfail": 4,
    "stale": 3,
    "pass": 2,
    "skip-unsupported": 1,
    "skip": 0,
}
DTYPES = ("float32", "float64")
KIND_TITLES = {
    "op": "Ops",
    "model": "Metamorphic properties of model losses",
    "training": "Whole training runs",
    "optimizer": "Optimizer update rules",
    "program": "Random programs of ops (value and gradients)",
}


@dataclass
class Row:
    """The outcome of one check."""

    target: str
    subject: str
    oracle: str
    dtype: str
    kind: str = "op"
    status: str | None = None
    reason: str = ""
    max_abs: float | None = None
    max_rel: float | None = None
    ratio: float | None = None
    """Largest error as a fraction of what was allowed (<= 1 passes)."""
    examples: int = 0
    inputs: list[dict[str, Any]] = field(default_factory=list)
    """The examples run (the first few: each input's shape, dtype and small arrays' values,
    and the seed), :func:`harness.oracles.checks.describe_example`."""
    divergence: str | None = None
    """The known-divergence entry covering the check (pattern @ file:line), if any."""
    nodeid: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    circular: str = ""
    """Why the check is no independent one for this target (its backend emulates the
    capability it checks, :func:`harness.oracles.registry.circular`), or ""."""

    @property
    def key(self) -> tuple[str, str, str, str]:
        """``(target, subject, oracle, dtype)``."""
        return (self.target, self.subject, self.oracle, self.dtype)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (non-finite numbers become None)."""
        d = asdict(self)
        for k in ("max_abs", "max_rel", "ratio"):
            v = d[k]
            if v is not None and not math.isfinite(v):
                d[k] = None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Row:
        """Inverse of :meth:`to_dict`."""
        return cls(**d)


def merge(rows: Iterable[Row]) -> list[Row]:
    """One row per key; when a key repeats (a rerun), the most severe status wins."""
    out: dict[tuple[str, str, str, str], Row] = {}
    for r in rows:
        old = out.get(r.key)
        if old is None or _SEVERITY.get(r.status or "", -1) >= _SEVERITY.get(old.status or "", -1):
            out[r.key] = r
    return list(out.values())


def counts(rows: Iterable[Row]) -> dict[str, dict[str, int]]:
    """Per target, how many checks ended in each status."""
    out: dict[str, dict[str, int]] = {}
    for r in rows:
        c = out.setdefault(r.target, dict.fromkeys(STATUSES, 0))
        c[r.status or "fail"] = c.get(r.status or "fail", 0) + 1
    return dict(sorted(out.items()))


def canonical(rows: Iterable[Row]) -> list[Row]:
    """``rows`` sorted by target, kind, subject (catalog order for ops), oracle (the
    registry's order) and dtype."""
    known = registry.names()
    ordered = list(rows)
    subjects = {
        kind: {s: i for i, s in enumerate(_subject_order(kind, [r.subject for r in ordered]))}
        for kind in {r.kind for r in ordered}
    }

    def key(r: Row) -> tuple[Any, ...]:
        oracle = known.index(r.oracle) if r.oracle in known else len(known)
        dtype = DTYPES.index(r.dtype) if r.dtype in DTYPES else len(DTYPES)
        subject = subjects[r.kind][r.subject]
        return (r.target, r.kind, subject, r.subject, oracle, r.oracle, dtype, r.dtype)

    return sorted(ordered, key=key)


def build_json(rows: Sequence[Row], meta: dict[str, Any], stale: Sequence[str] = ()) -> dict:
    """The report: ``results[target][subject][oracle][dtype]`` plus a flat list and counts.

    Rows are in one canonical order (:func:`canonical`), whatever order they arrived in:
    a run split over pytest-xdist workers writes the serial run's report.
    """
    rows = canonical(merge(rows))
    nested: dict[str, Any] = {}
    for r in rows:
        nested.setdefault(r.target, {}).setdefault(r.subject, {}).setdefault(r.oracle, {})[
            r.dtype
        ] = {
            "status": r.status,
            "kind": r.kind,
            "max_abs_error": r.to_dict()["max_abs"],
            "max_rel_error": r.to_dict()["max_rel"],
            "tolerance_ratio": r.to_dict()["ratio"],
            "examples": r.examples,
            "inputs": r.inputs,
            "reason": r.reason,
            "divergence": r.divergence,
            "circular": r.circular,
        }
    return {
        "meta": meta,
        "counts": counts(rows),
        "stale_divergences": list(stale),
        "failures": [r.to_dict() for r in rows if r.status in ("fail", "error")],
        "results": nested,
    }


def _columns(rows: Sequence[Row], kind: str) -> tuple[list[str], list[str], list[str]]:
    # A fixed order whatever order the (xdist) results arrived in.
    targets = sorted({r.target for r in rows})
    known = registry.names()  # the registry's order
    oracles = sorted(
        {r.oracle for r in rows if r.kind == kind},
        key=lambda o: (known.index(o) if o in known else len(known), o),
    )
    subjects = list(dict.fromkeys(r.subject for r in rows if r.kind == kind))
    return targets, oracles, subjects


def _cell(index: dict[tuple[str, str, str, str], Row], t: str, s: str, o: str) -> str:
    return "".join(
        SYMBOLS.get(index[(t, s, o, d)].status or "fail", "?") if (t, s, o, d) in index else NOT_RUN
        for d in DTYPES
    )


def _circular(rows: Sequence[Row]) -> dict[tuple[str, str], str]:
    """``(target, oracle) -> why`` for every circular check (one reason per pair)."""
    return {(r.target, r.oracle): r.circular for r in rows if r.circular}


def _circular_lines(rows: Sequence[Row]) -> list[str]:
    return [
        f"~ circular, not independent coverage: {t} {o}: {why}"
        for (t, o), why in sorted(_circular(rows).items())
    ]


def _subject_order(kind: str, subjects: list[str]) -> list[str]:
    if kind != "op":
        return sorted(subjects)  # xdist finishes them in any order
    from harness import catalog

    order = {name: i for i, name in enumerate(catalog.CATALOG)}
    return sorted(subjects, key=lambda s: order.get(s, len(order)))


def legend() -> str:
    """One line explaining the cell symbols."""
    return (
        "each cell: float32 then float64; "
        + ", ".join(f"{sym} {st}" for st, sym in SYMBOLS.items())
        + f", {NOT_RUN} not run"
    )


def markdown(rows: Sequence[Row], meta: dict[str, Any], stale: Sequence[str] = ()) -> str:
    """The coverage matrix as Markdown: one table per kind, a column per target and oracle."""
    rows = merge(rows)
    index = {r.key: r for r in rows}
    lines = ["# Parity coverage", ""]
    if meta.get("targets"):
        lines.append(
            "Targets: " + ", ".join(f"`{t['name']}` ({t['version']})" for t in meta["targets"])
        )
    if meta.get("reference"):
        lines.append(f"Reference: `{meta['reference']}`")
    if meta.get("profile"):
        lines.append(f"Hypothesis profile: `{meta['profile']}`")
    lines += ["", legend(), ""]
    lines += ["| target | " + " | ".join(STATUSES) + " |", "|---|" + "---|" * len(STATUSES)]
    for t, c in counts(rows).items():
        lines.append(f"| `{t}` | " + " | ".join(str(c[s]) for s in STATUSES) + " |")
    for kind, title in KIND_TITLES.items():
        targets, oracles, subjects = _columns(rows, kind)
        if not subjects:
            continue
        lines += ["", f"## {title}", ""]
        circ = _circular(rows)
        head = [f"{t} {o}" + (" ~" if (t, o) in circ else "") for t in targets for o in oracles]
        lines.append("| " + ("op" if kind == "op" else "subject") + " | " + " | ".join(head) + " |")
        lines.append("|---|" + "---|" * len(head))
        for s in _subject_order(kind, subjects):
            cells = [_cell(index, t, s, o) for t in targets for o in oracles]
            lines.append(f"| {s} | " + " | ".join(cells) + " |")
    if _circular(rows):
        lines += ["", *(f"{x}  " for x in _circular_lines(rows))]
    problems = [r for r in rows if r.status in ("fail", "error", "xfail", "skip-unsupported")]
    if problems:
        lines += ["", "## Failures, known divergences and unsupported checks", ""]
        for r in sorted(problems, key=lambda r: (r.status or "", r.key)):
            err = f", {r.ratio:.3g}x tolerance" if r.ratio is not None else ""
            reason = r.reason.splitlines()[0] if r.reason else ""
            lines.append(
                f"- **{r.status}** `{r.target}` {r.subject} {r.oracle} {r.dtype}{err}: {reason}"
            )
    if stale:
        lines += ["", "## Stale known divergences (they no longer fail: delete them)", ""]
        lines += [f"- `{s}`" for s in stale]
    return "\n".join(lines) + "\n"


def terminal(rows: Sequence[Row], stale: Sequence[str] = ()) -> str:
    """The coverage matrix for the terminal: abbreviated oracle names, fixed-width cells."""
    rows = merge(rows)
    index = {r.key: r for r in rows}
    out = [legend()]
    for kind, title in KIND_TITLES.items():
        targets, oracles, subjects = _columns(rows, kind)
        if not subjects:
            continue
        width = max(len(s) for s in subjects)
        abbrev = [registry.ABBREV.get(o, o[:4]) for o in oracles]
        cellw = max(4, *(len(a) for a in abbrev))
        block = len(oracles) * (cellw + 1)
        out.append("")
        out.append(
            f"{title} (oracles: "
            + ", ".join(f"{a}={o}" for a, o in zip(abbrev, oracles, strict=True))
            + ")"
        )
        # A column is as wide as its target's name: a name is never cut.
        widths = [max(block, len(t)) for t in targets]
        out.append(
            " " * width
            + " | "
            + " | ".join(t.ljust(w) for t, w in zip(targets, widths, strict=True))
        )
        circ = _circular(rows)
        heads = [
            "".join(
                (a + ("~" if (t, o) in circ else "")).ljust(cellw + 1)
                for a, o in zip(abbrev, oracles, strict=True)
            ).ljust(w)
            for t, w in zip(targets, widths, strict=True)
        ]
        out.append(" " * width + " | " + " | ".join(heads))
        for s in _subject_order(kind, subjects):
            cells = [
                "".join(_cell(index, t, s, o).ljust(cellw + 1) for o in oracles).ljust(w)
                for t, w in zip(targets, widths, strict=True)
            ]
            out.append(s.ljust(width) + " | " + " | ".join(cells))
    out.append("")
    out += _circular_lines(rows)
    for t, c in counts(rows).items():
        out.append(f"{t}: " + ", ".join(f"{c[s]} {s}" for s in STATUSES if c[s]))
    if stale:
        out.append("stale known divergences (delete them): " + "; ".join(stale))
    return "\n".join(out)


def write(
    out_dir: str | os.PathLike[str],
    rows: Sequence[Row],
    meta: dict[str, Any],
    stale: Sequence[str] = (),
) -> tuple[Path, Path]:
    """Write ``report.json`` and ``coverage.md`` into ``out_dir``; return their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = out / "report.json"
    cover = out / "coverage.md"
    atomic_write_text(report, json.dumps(build_json(rows, meta, stale), indent=2, sort_keys=False))
    atomic_write_text(cover, markdown(rows, meta, stale))
    return report, cover


def load(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a ``report.json``."""
    return json.loads(Path(path).read_text(encoding="utf-8"))
