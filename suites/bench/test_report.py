"""benchmarks/report.py turns saved asv results into the tables the README points to."""

from __future__ import annotations

import itertools
from typing import Any

from . import _paths  # noqa: F401  (puts the repository root on sys.path)

from benchmarks import report  # isort: skip


class _Results:
    """The two methods of asv's Results that the report reads, over an in-memory grid."""

    def __init__(self, name: str, params: list[list[str]], values: dict[tuple, float]) -> None:
        self.name, self.params, self.values = name, params, values

    def get_result_params(self, name: str) -> list[list[str]]:
        if name != self.name:
            raise KeyError(name)
        return [[repr(p) for p in ps] for ps in self.params]

    def get_result_value(self, name: str, params: Any) -> list[float | None]:
        return [self.values.get(c) for c in itertools.product(*self.params)]


def test_overhead_table_lists_each_target_ratio() -> None:
    params = [["numpy:cpu", "torch:cuda"], ["bc_logreg"], ["batch", "mb32"], ["float32"]]
    values = {
        ("numpy:cpu", "bc_logreg", "batch", "float32"): 1.6,
        ("numpy:cpu", "bc_logreg", "mb32", "float32"): 1.93,
    }  # torch:cuda skipped (n/a), as on a machine without a GPU
    lines = report.overhead_table(
        _Results("training.TrackFloorRatio.track_epoch_ratio", params, values)
    )
    assert "| target | bc_logreg batch float32 | bc_logreg mb32 float32 |" in lines
    assert "| numpy:cpu | 1.60x | 1.93x |" in lines
    assert not any(line.startswith("| torch:cuda") for line in lines)


def test_overhead_table_says_when_nothing_ran() -> None:
    lines = report.overhead_table(_Results("other", [], {}))
    assert lines == ["\n(no training.TrackFloorRatio results)"]
