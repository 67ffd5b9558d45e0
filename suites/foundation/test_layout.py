"""The layout's rules: no import cycles in harness/, and files small enough to hold one concept."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HARNESS = ROOT / "harness"
MAX_LINES = 600
"""About where a file starts holding more than one concept (see docs/architecture.md)."""


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, known: set[str]) -> set[str]:
    """The harness modules ``path`` imports at module level (what import order depends on)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        out |= {n for n in names if n in known}
    return out


def import_graph() -> dict[str, set[str]]:
    """harness module -> the harness modules it imports at module level."""
    files = {_module(p): p for p in HARNESS.rglob("*.py")}
    known = set(files)
    return {m: _imports(p, known) - {m} for m, p in files.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import cycle found by a depth-first walk (each reported once, from its start)."""
    found: list[list[str]] = []
    done: set[str] = set()

    def walk(m: str, path: list[str]) -> None:
        for d in sorted(graph.get(m, ())):
            if d in path:
                found.append([*path[path.index(d) :], d])
            elif d not in done:
                walk(d, [*path, d])
        done.add(m)

    for m in sorted(graph):
        if m not in done:
            walk(m, [m])
    return found


def test_harness_has_no_import_cycles() -> None:
    graph = import_graph()
    assert graph.get("harness.report"), "the walk found no imports"
    assert cycles(graph) == []


def test_cycle_finder_sees_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]


@pytest.mark.parametrize(
    "path", sorted(HARNESS.rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT))
)
def test_harness_files_stay_small(path: Path) -> None:
    n = len(path.read_text(encoding="utf-8").splitlines())
    assert n <= MAX_LINES, f"{path.relative_to(ROOT)} has {n} lines; split it by concept"
