"""``harness backends``: every discovered target, available or not, and what it supports."""

from __future__ import annotations

import argparse
import json

from harness import discovery
from harness.cli import add_targets_argument

NAME = "backends"
HELP = "list discovered targets with availability, version, dtypes and op coverage"
ORDER = 10


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``harness backends``."""
    p.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    add_targets_argument(p, "to list", "every target")


def _flag(row: dict[str, object], capability: str) -> str:
    """``yes``, ``no`` or ``emulated`` (declared through another capability)."""
    if not row[capability]:
        return "no"
    return "emulated" if capability in row.get("emulated", ()) else "yes"  # type: ignore[operator]


def format_table(rows: list[dict[str, object]]) -> str:
    """A plain aligned text table of ``describe()`` rows."""
    head = ["target", "available", "version", "dtypes", "ops", "jvp", "2nd", "train", "ranks"]
    body = [
        [
            str(r["target"]),
            "yes" if r["available"] else f"no: {r['reason']}",
            str(r["version"]),
            ",".join(r["dtypes"]),  # type: ignore[arg-type]
            f"{r['ops']}/{r['ops_total']}",
            _flag(r, "jvp"),
            _flag(r, "second_order"),
            "yes" if r["training"] else "no",
            str(r.get("world_size") or "-"),
        ]
        for r in rows
    ]
    # The availability column carries reasons; keep it last so long reasons do not
    # push the other columns off screen.
    order = [0, 2, 3, 4, 5, 6, 7, 8, 1]
    table = [[head[i] for i in order]] + [[row[i] for i in order] for row in body]
    widths = [max(len(r[c]) for r in table) for c in range(len(order) - 1)]
    lines = []
    for r in table:
        cells = [r[c].ljust(widths[c]) for c in range(len(order) - 1)] + [r[-1]]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Print the targets."""
    sel = discovery.select(args.targets, listing=True)  # an unknown name raises -> exit 2
    named = [*sel.targets, *sel.unavailable]
    listed = discovery.all_targets(data_parallel=True)
    targets = [t for t in listed if t in named]  # discovery order
    targets += [t for t in named if t not in listed]  # a world size discovery does not list
    rows = [t.describe() for t in targets]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(format_table(rows))
    return 0
