"""``harness parity`` and ``harness check`` through the real entry point."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from harness import catalog, discovery

from .conftest import (
    assert_usage_error,
    error_lines,
    load_report,
    only_run_dir,
    run_concurrently,
    run_harness,
    strict_json,
)

REFERENCE = discovery.default_reference()
PARITY_SUITES = Path(__file__).resolve().parents[1] / "parity"
HAVE_SUITES = PARITY_SUITES.is_dir() and any(PARITY_SUITES.glob("test_*.py"))
needs_suites = pytest.mark.skipif(
    REFERENCE is None or not HAVE_SUITES,
    reason="needs a reference target and the parity suites (suites/parity)",
)

# One op, so that the real suites run in seconds: the test is about the command, not the ops.
NARROW = ["--", "-k", "relu", "-x"]
# check also needs a training case: a target that declares training and trains nothing is
# NOTHING CHECKED.
NARROW_CHECK = ["--", "-k", "relu and not leaky or breast_cancer-logreg-sgd-minibatch"]


@pytest.mark.parametrize("command", ["parity", "check"])
def test_an_unknown_profile_is_a_usage_error(command: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    target = ["--target", "x"] if command == "check" else []
    proc = run_harness(command, *target, "--profile", "exhaustive", "--out", str(out))
    assert_usage_error(proc, "valid choices: ci, thorough", out, command)


def test_check_needs_a_target(tmp_path: Path) -> None:
    proc = run_harness("check", "--out", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert "--target" in error_lines(proc, "check")[0]
    assert not (tmp_path / "out").exists()


def test_check_validates_the_workload_before_anything_runs(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = run_harness("check", "--target", "x", "--epochs", "0", "--out", str(out))
    assert_usage_error(proc, "--epochs must be an integer >= 1", out, "check")
    proc = run_harness("check", "--target", "x", "--dataset", "iris", "--out", str(out))
    assert_usage_error(proc, "valid choices: breast_cancer, digits, synthetic:NxD", out, "check")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The commands that discover backends or run suites, side by side: name -> {proc, out}."""
    if REFERENCE is None:
        pytest.skip("no available target volunteers as the reference")
    root = tmp_path_factory.mktemp("parity_check")
    ref = REFERENCE.name
    unknown: list[tuple[str, list[str], list[str]]] = [
        ("parity_unknown", ["parity", "--targets", "nope"], []),
        ("check_unknown", ["check", "--target", "nope"], []),
    ]
    launches: dict[str, tuple[list[str], Path | None, Sequence[Path]]] = {
        name: ([*args, "--out", str(root / name), *extra], None, [])
        for name, args, extra in unknown
    }
    if HAVE_SUITES:
        # Two pytest-xdist workers whatever the machine: the report must be the serial one's.
        parity = ["parity", "--targets", ref, "--json", "--workers", "2"]
        launches["parity"] = (
            [*parity, "--out", str(root / "parity"), *NARROW],
            None,
            [],
        )
        check = [
            "check",
            "--target",
            ref,
            "--epochs",
            "2",
            "--no-plots",
            "--quick",
            "--workers",
            "1",
        ]
        launches["check"] = ([*check, "--out", str(root / "check"), *NARROW_CHECK], None, [])
        # -k matches no test: pytest collects nothing, which is NOTHING CHECKED (exit 3).
        nothing = ["--", "-k", "no_such_check_anywhere"]
        serial = ["parity", "--targets", ref, "--workers", "1"]
        launches["parity_nothing"] = (
            [*serial, "--out", str(root / "parity_nothing"), *nothing],
            None,
            [],
        )
    done = run_concurrently(launches)
    return {name: {"proc": proc, "out": root / name} for name, proc in done.items()}


def test_unknown_targets_are_usage_errors(runs: dict[str, dict[str, Any]]) -> None:
    r = runs["parity_unknown"]
    assert_usage_error(r["proc"], "unknown target 'nope'; valid targets: ", r["out"], "parity")
    r = runs["check_unknown"]
    assert_usage_error(r["proc"], "unknown target 'nope'; valid targets: ", r["out"], "check")


@needs_suites
def test_parity_runs_the_suites_and_reports_coverage(runs: dict[str, dict[str, Any]]) -> None:
    proc, out = runs["parity"]["proc"], runs["parity"]["out"]
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    doc = strict_json(proc.stdout)
    assert doc["exit_code"] == proc.returncode and doc["ok"] == (proc.returncode == 0)
    assert doc["pytest_exit_code"] in (0, 1)
    assert doc["counts"], "pytest's tally was read"
    run_dir = only_run_dir(out)
    assert Path(doc["out_dir"]) == run_dir
    assert (run_dir / "report.json").is_file() and (run_dir / "coverage.md").is_file()
    assert doc["coverage"] == (run_dir / "coverage.md").read_text()
    assert doc["targets"] == [REFERENCE.name]  # type: ignore[union-attr]
    assert ".partial-" not in proc.stdout + proc.stderr
    assert f"report: {run_dir / 'report.json'}" in proc.stderr
    # --workers 2 ran the suites on two pytest-xdist workers, and the rows still arrived.
    command = doc["command"]
    assert command[command.index("-n") + 1] == "2", command
    rows = json.loads((run_dir / "report.json").read_text())["results"][REFERENCE.name]  # type: ignore[union-attr]
    assert rows and all("relu" in subject for subject in rows), sorted(rows)


@needs_suites
def test_check_runs_parity_and_training_with_a_summary(runs: dict[str, dict[str, Any]]) -> None:
    proc, out = runs["check"]["proc"], runs["check"]["out"]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    ref = REFERENCE.name  # type: ignore[union-attr]
    assert f"  {ref}: PASS" in lines, proc.stdout
    assert f"    ops       1 of {len(catalog.CATALOG)} ops run (relu)" in lines, proc.stdout
    assert "    training  1 training cases run (breast_cancer-logreg-sgd-minibatch)" in lines
    assert any(line.startswith("  workload  PASS: ") for line in lines), proc.stdout
    assert lines[-2] == "PASS"
    run_dir = only_run_dir(out)
    assert {"check.json", "report.json", "curves.csv", "parity"} <= {
        p.name for p in run_dir.iterdir()
    }
    doc = strict_json((run_dir / "check.json").read_text())
    assert doc["exit_code"] == proc.returncode and doc["quick"] is True
    assert doc["workload"]["ok"] is True, "the reference agrees with itself"
    assert doc["verdict"]["targets"][0]["training"]["run"] == ["breast_cancer-logreg-sgd-minibatch"]
    assert "--training-cases" in doc["suites"]["command"]
    assert "-n" not in doc["suites"]["command"], "--workers 1 runs pytest in one process"
    assert load_report(run_dir)["config"]["epochs"] == 2
    # Every path printed or recorded is where the folder is now, never the staging folder.
    assert ".partial-" not in proc.stdout + proc.stderr
    assert f"report: {run_dir / 'parity' / 'report.json'}" in proc.stdout
    assert str(run_dir / "parity") in doc["suites"]["command"]
    assert ".partial-" not in json.dumps(doc)


@needs_suites
def test_parity_that_checks_nothing_exits_3(runs: dict[str, dict[str, Any]]) -> None:
    proc = runs["parity_nothing"]["proc"]
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "NOTHING CHECKED" in proc.stdout and "no op check exercised" in proc.stdout


@pytest.mark.parametrize(("command", "bad"), [("parity", "0"), ("check", "two")])
def test_a_bad_workers_is_a_usage_error(command: str, bad: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    target = ["--target", "x"] if command == "check" else []
    proc = run_harness(command, *target, "--workers", bad, "--out", str(out))
    assert_usage_error(proc, "--workers: expected a positive integer or auto", out, command)


@pytest.mark.parametrize(("command", "bad"), [("parity", "0"), ("check", "many")])
def test_a_bad_min_ops_is_a_usage_error(command: str, bad: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    target = ["--target", "x"] if command == "check" else []
    proc = run_harness(command, *target, "--min-ops", bad, "--out", str(out))
    total = len(catalog.CATALOG)
    assert_usage_error(proc, f"--min-ops must be an integer from 1 to {total}", out, command)


@needs_suites
def test_parity_passes_pytest_options_through_with_its_own_cache(tmp_path: Path) -> None:
    """``-- --lf`` works: pytest's cache lives in a folder of ours, kept between runs."""
    out = tmp_path / "out"
    first = run_harness("parity", "--workers", "1", "--out", str(out), *NARROW, cwd=tmp_path)
    assert first.returncode in (0, 1), first.stdout + first.stderr
    again = run_harness(
        "parity", "--workers", "1", "--out", str(out), "--", "--lf", "-k", "relu", cwd=tmp_path
    )
    assert again.returncode in (0, 1), again.stdout + again.stderr
    assert (out / ".pytest-cache").is_dir()
    assert not (tmp_path / ".pytest_cache").exists(), "no cache in the user's working folder"
    assert len([p for p in out.iterdir() if not p.name.startswith(".")]) == 2


@needs_suites
def test_a_pytest_that_does_not_start_leaves_no_run_folder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = run_harness(
        "parity", "--workers", "1", "--out", str(out), "--", "--no-such-pytest-option"
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "no run folder was written" in proc.stderr
    assert not [p for p in out.iterdir() if p.name != ".pytest-cache"], list(out.iterdir())
