"""The trajectory verdict's baseline and its one reference rule (harness/trajectory.py)."""

from __future__ import annotations

import numpy as np

from harness.contract import History
from harness.trajectory import compare, reference_dtype, scaled_differences


def _history(loss: np.ndarray) -> History:
    return History(loss, loss[-1:], np.ones(1), [np.ones((1, 2))], np.ones(1), meta={})


def test_the_reference_run_is_float64_where_the_reference_has_it() -> None:
    assert reference_dtype(("float32", "float64"), "float32") == "float64"
    assert reference_dtype(("float32", "float64"), "float64") == "float64"
    assert reference_dtype(("float32",), "float32") == "float32"


def test_the_baseline_is_read_at_the_first_diverging_step() -> None:
    steps = np.arange(50, dtype=np.float64)
    ref64 = 1.0 / (1.0 + steps)
    ref32 = ref64 * (1 + 3e-7 * np.sin(steps))  # rounding-sized noise
    got = ref64.copy()
    got[20:] *= 1.01  # a bug from step 20 on
    v = compare(_history(ref64), _history(got), "float32", reference_dtype="float64",
                base=("ref:cpu", _history(ref64), _history(ref32)))  # fmt: skip
    assert v.first_diverging_step == 20 and v.reference_dtype == "float64"
    expected = scaled_differences(ref64, ref32, "float32")
    assert v.baseline is not None
    assert v.baseline["step"] == 20
    assert v.baseline["scaled_diff"] == expected[20]
    assert v.baseline["max_scaled_diff"] == expected.max()
    assert "[baseline: ref:cpu float32 vs float64 on this case: " in v.summary()
    assert v.to_dict()["baseline"] == v.baseline


def test_an_agreeing_run_reads_the_baseline_at_its_worst_step() -> None:
    ref64 = np.linspace(1.0, 0.5, 30)
    ref32 = ref64 * (1 + 1e-7)
    got = ref64.copy()
    got[7] *= 1 + 1e-6
    v = compare(_history(ref64), _history(got), "float32",
                base=("ref:cpu", _history(ref64), _history(ref32)))  # fmt: skip
    assert v.agrees and v.worst_step == 7
    assert v.baseline is not None and v.baseline["step"] == 7


def test_without_a_reference_in_both_dtypes_there_is_no_baseline() -> None:
    loss = np.linspace(1.0, 0.5, 10)
    v = compare(_history(loss), _history(loss), "float32")
    assert v.baseline is None and v.baseline_text() == ""
