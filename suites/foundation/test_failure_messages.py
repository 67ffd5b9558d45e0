"""Failure messages that read right: relative errors, the coverage matrix, report rows, and
capabilities read once after ``load()``."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np

from harness import discovery, oracles, parity_report
from harness.contract import Backend, Capabilities, DeviceStatus


def test_relative_error_at_a_zero_expected_value_is_relative_to_atol() -> None:
    ag = oracles.compare_arrays(np.array([1e-3, 2.0]), np.array([0.0, 2.0]), rtol=1e-5, atol=1e-5)
    assert not ag.passed
    assert ag.max_rel == 1e-3 / 1e-5  # |a - e| / max(|e|, atol), not / the tiniest float
    ctx = oracles.Context("t:cpu", "relu", "forward", "float32")
    report = oracles.failure_report(ctx, "value disagrees", ag, 1e-5, 1e-5)
    assert "relative 1.000e+02" in report and "e+30" not in report
    inner = oracles.assert_inner  # inner products: relative to the allowance
    try:
        inner(1e-3, 0.0, 1e-6, ctx=ctx, what="w", detail="d")
    except oracles.OracleFailure as e:
        assert e.agreement.max_rel == 1e-3 / 1e-6
    else:
        raise AssertionError("the inner products disagree")


def test_the_coverage_matrix_never_cuts_a_target_name() -> None:
    long = "a_plugin_with_a_rather_long_backend_name:accelerator0"
    rows = [
        parity_report.Row(long, "tanh", "forward", "float32", status="pass"),
        parity_report.Row(long, "tanh", "forward", "float64", status="error"),
        parity_report.Row("t:cpu", "tanh", "forward", "float32", status="pass"),
    ]
    text = parity_report.terminal(rows)
    lines = text.splitlines()
    header = lines[next(i for i, x in enumerate(lines) if x.startswith("Ops (oracles:")) + 1]
    assert long in header and "t:cpu" in header, header
    line = next(line for line in text.splitlines() if line.startswith("tanh"))
    assert "✓E" in line  # the error outcome has its own symbol
    # the cells line up under their target's column
    assert line.index("|", len("tanh ") + 2) == header.index("|", len("tanh ") + 2)
    assert "E error" in parity_report.legend()


def test_report_rows_carry_the_examples_and_errors(tmp_path) -> None:
    example = {"inputs": [{"shape": [2], "dtype": "float32", "values": [0.0, -1.0]}], "seed": 3}
    rows = [
        parity_report.Row("t:cpu", "relu", "forward", "float32", status="pass", examples=1,
                          inputs=[example]),
        parity_report.Row("t:cpu", "mul", "vjp_reference", "float64", status="error"),
    ]  # fmt: skip
    path, _ = parity_report.write(tmp_path, rows, {})
    doc = json.loads(path.read_text())
    assert doc["results"]["t:cpu"]["relu"]["forward"]["float32"]["inputs"] == [example]
    assert doc["counts"]["t:cpu"]["error"] == 1
    assert [f["subject"] for f in doc["failures"]] == ["mul"]
    assert parity_report.Row.from_dict(rows[0].to_dict()) == rows[0]  # xdist round trip


class _Lazy(Backend):
    """Knows its capabilities only once its 'framework' is loaded."""

    name = "lazy"
    capabilities = Capabilities(dtypes=("float32",), training=False)

    def load(self) -> None:
        self.capabilities = Capabilities(dtypes=("float32", "float64"), jvp=True)  # type: ignore[misc]

    def version(self) -> str:
        return "1"

    def devices(self) -> list[DeviceStatus]:
        return [DeviceStatus("cpu", True)]

    def asarray(self, x, device):
        return x

    def to_numpy(self, x):
        return np.asarray(x)

    def ops(self):
        return {}

    def vjp(self, fn, primals, cotangent, *, device, argnums=None):
        raise NotImplementedError


class _BadCaps(_Lazy):
    def load(self) -> None:
        self.capabilities = {"dtypes": ("float32",)}  # type: ignore[assignment,misc]


class _BadDtype(_Lazy):
    def load(self) -> None:
        self.capabilities = Capabilities(dtypes=("float16",))  # type: ignore[misc]


def _ep(cls: type) -> SimpleNamespace:
    return SimpleNamespace(name="lazy", value=f"tests:{cls.__name__}", load=lambda: cls)


def test_capabilities_are_read_once_after_load() -> None:
    (target,) = discovery.load_targets(_ep(_Lazy))  # type: ignore[arg-type]
    assert target.available
    assert target.backend.capabilities.dtypes == ("float32", "float64")
    assert target.describe()["jvp"] is True and target.describe()["training"] is True


def test_invalid_capabilities_make_the_target_unavailable_with_the_reason() -> None:
    import pytest

    for cls, fragment in (
        (_BadCaps, "capabilities must be a harness.contract.Capabilities"),
        (_BadDtype, "capabilities.dtypes must be a tuple drawn from float32, float64"),
    ):
        with pytest.warns(discovery.BackendLoadWarning, match=fragment):
            (target,) = discovery.load_targets(_ep(cls))  # type: ignore[arg-type]
        assert not target.available and fragment in target.reason, target.reason


def test_an_inner_product_check_with_a_nan_allowance_fails_instead_of_raising() -> None:
    """A NaN JVP makes the allowance NaN too: a disagreement, not a ZeroDivisionError."""
    import math

    from harness.oracles.agreement import _inner_agreement

    ag = _inner_agreement(float("nan"), 0.0, float("nan"), "<JVP(u), v> = nan")
    assert not ag.passed and math.isinf(ag.max_abs) and math.isinf(ag.ratio)
