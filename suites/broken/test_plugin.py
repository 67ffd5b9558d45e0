"""The real parity suite, run by pytest in a subprocess against a broken target.

These runs go through everything a user's run goes through: target selection, the header,
parametrization, known divergences (xfail and stale), pytest-xdist workers and the merged
report. They prove that the suite as written fails on a broken gradient, naming the op,
oracle and dtype, and passes the real reference target on the same checks.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OPS = ROOT / "suites" / "parity" / "test_ops.py"
pytest_plugins = ["pytester"]


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        "-p", "harness.suites.broken.fake_targets", "-p", "no:cacheprovider",
        "--rootdir", str(ROOT),
        "-c", str(ROOT / "pyproject.toml"), *args,
    )  # fmt: skip


def test_suite_catches_broken_gradient_under_xdist(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    """tanh fails its gradient oracles on the broken target, known divergences are applied,
    the reference passes, and the two workers' results are merged into one report."""
    out = tmp_path / "parity"
    result = _run(
        pytester, str(OPS), "-n", "2", "--parity-out", str(out), "-k",
        # "cpu-tanh-" is the op in the test id: a bare "tanh" also selects hardtanh and
        # every op of the broken-tanh target.
        "cpu-tanh- and (forward or vjp_ref or finite) or cpu-sigmoid- and (forward or finite)",
    )  # fmt: skip
    text = result.stdout.str()
    assert result.ret == 1, text
    assert "harness unavailable: missing:gpu: no such device on this machine" in text
    assert "harness targets: " in text and "broken-tanh:" in text
    report = json.loads((out / "report.json").read_text())
    broken = next(t for t in report["results"] if t.startswith("broken-tanh:"))
    reference = report["meta"]["reference"]
    tanh = report["results"][broken]["tanh"]
    assert tanh["vjp_reference"]["float64"]["status"] == "fail"
    assert tanh["finite_differences"]["float64"]["status"] == "fail"
    assert tanh["finite_differences"]["float32"]["status"] == "xfail"
    assert tanh["forward"]["float32"]["status"] == "pass"
    assert tanh["vjp_reference"]["float64"]["tolerance_ratio"] > 1
    assert report["results"][broken]["sigmoid"]["forward"]["float64"]["status"] == "stale"
    assert report["results"][broken]["sigmoid"]["finite_differences"]["float64"]["status"] == (
        "pass"
    )
    assert any("sigmoid forward float64" in s for s in report["stale_divergences"])
    for oracle, by_dtype in report["results"][reference]["tanh"].items():
        for dtype, row in by_dtype.items():
            assert row["status"] in ("pass", "skip"), (oracle, dtype, row)
    failed = {f"{f['subject']} {f['oracle']} {f['dtype']}" for f in report["failures"]}
    assert "tanh finite_differences float64" in failed
    assert "sigmoid" not in " ".join(failed)
    limited = next(t for t in report["results"] if t.startswith("limited:"))
    statuses = {
        (op, oracle, dtype): row["status"]
        for op, by_oracle in report["results"][limited].items()
        for oracle, by_dtype in by_oracle.items()
        for dtype, row in by_dtype.items()
    }
    assert statuses.pop(("tanh", "forward", "float32")) == "pass"
    assert set(statuses.values()) == {"skip-unsupported"}, statuses
    reasons = _reasons(report, limited, "tanh") + _reasons(report, limited, "sigmoid")
    assert any("no reverse mode for tanh" in r for r in reasons), reasons
    assert any("left out on purpose" in r for r in reasons), reasons
    assert any("does not support float64" in r for r in reasons), reasons
    # The failure in the terminal names target, op, oracle and dtype and carries a reproducer.
    assert f"{broken}  tanh  finite_differences  float64:" in text
    assert "reproducer:" in text
    assert "harness parity coverage" in text
    assert (out / "coverage.md").read_text().count("broken-tanh") >= 1


def _reasons(report: dict, target: str, op: str) -> list[str]:
    return [
        row["reason"]
        for by_dtype in report["results"][target][op].values()
        for row in by_dtype.values()
    ]


def test_unknown_target_is_a_usage_error(pytester: pytest.Pytester) -> None:
    """An unknown --targets name stops pytest with a usage error listing the valid ones."""
    result = _run(pytester, str(OPS), "--targets", "no-such-backend", "--co", "-q")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert "unknown target 'no-such-backend'; valid targets:" in err and "broken-tanh" in err
