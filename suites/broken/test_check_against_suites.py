"""``harness check`` is as strong as the suites: it fails every broken target they fail.

The broken backends of :mod:`suites.broken.registered` are registered as real entry points
(a folder of distribution metadata on ``PYTHONPATH``), so both commands find them as a user's
plugin is found. One run of each covers every broken target, side by side on the cores:

* ``pytest suites/parity suites/training --targets ALL`` (the suites, every training case);
* ``harness check --target ALL --quick`` (mini-batch training cases only).

For each target the suites fail (a ``fail`` or ``error`` row), check's verdict must be FAIL;
the empty scaffold, which the suites pass by skipping everything, must be NOTHING CHECKED.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from harness import discovery

from . import registered

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 600
REFERENCE = discovery.default_reference()


def _env(extra: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARNESS_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(extra), env.get("PYTHONPATH")]))
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    return env


def _run(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The suites' report and check's summary over every registered broken target."""
    if REFERENCE is None:
        pytest.skip("no reference target for the broken backends to wrap")
    root = tmp_path_factory.mktemp("check_against_suites")
    env = _env(registered.install(root / "plugins"))
    names = ",".join(f"{n}:cpu" for n in registered.NAMES)
    suites = [
        sys.executable, "-m", "pytest", "suites/parity", "suites/training", "--targets", names,
        "--parity-out", str(root / "suites"), "-p", "no:cacheprovider", "-q", "--tb=line",
        "--rootdir", str(ROOT), "-c", str(ROOT / "pyproject.toml"),
    ]  # fmt: skip
    check = [
        sys.executable, "-m", "harness", "check", "--target", names, "--quick", "--json",
        "--no-plots", "--out", str(root / "check"),
    ]  # fmt: skip
    with ThreadPoolExecutor(max_workers=2) as pool:
        s, c = pool.map(lambda cmd: _run(cmd, env), [suites, check])
    assert (root / "suites" / "report.json").is_file(), s.stdout[-4000:] + s.stderr[-4000:]
    report = json.loads((root / "suites" / "report.json").read_text())
    assert c.stdout.strip(), c.stderr[-6000:]
    return {"suites": s, "report": report, "check": c, "doc": json.loads(c.stdout)}


def _suite_failures(report: dict[str, Any]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for f in report["failures"]:
        out.setdefault(f["target"], set()).add(f"{f['subject']} {f['oracle']} {f['dtype']}")
    return out


def test_check_fails_every_target_the_suites_fail(both: dict[str, Any]) -> None:
    failed = _suite_failures(both["report"])
    verdicts = {t["target"]: t for t in both["doc"]["verdict"]["targets"]}
    assert set(verdicts) == {f"{n}:cpu" for n in registered.NAMES}
    # The suites catch every broken backend but the empty one (they skip all its checks).
    assert set(failed) == {f"{n}:cpu" for n in registered.ENTRY_POINTS}, failed
    for target in failed:
        assert verdicts[target]["outcome"] == "FAIL", (target, verdicts[target])
        assert verdicts[target]["failures"], target
    empty = verdicts[f"{registered.EMPTY}:cpu"]
    assert empty["outcome"] == "NOTHING CHECKED" and empty["exit_code"] == 3
    assert both["check"].returncode == 1 and both["doc"]["outcome"] == "FAIL"
    assert both["suites"].returncode == 1


def test_check_names_what_failed(both: dict[str, Any]) -> None:
    """Each failure names the target, the op or training case, the oracle and the dtype."""
    verdicts = {t["target"]: t for t in both["doc"]["verdict"]["targets"]}
    crash = verdicts["broken_vjp_crash:cpu"]
    assert crash["ops"]["failed"] == ["mul"], crash
    assert all(f.startswith("broken_vjp_crash:cpu mul ") for f in crash["failures"])
    assert all(f.endswith("(error)") for f in crash["failures"]), crash["failures"]
    adam = verdicts["broken_adam_bias:cpu"]
    assert adam["training"]["failed"] and all("-adam-" in c for c in adam["training"]["failed"])
    for name in ("broken_sum_loss", "broken_drop_last"):
        failed = verdicts[f"{name}:cpu"]["training"]["failed"]
        assert "digits-mlp-sgd-minibatch" in failed, (name, failed)  # cross-entropy too
    # The crash is reported like a disagreement: target, op, oracle, dtype, inputs, reproducer.
    log = both["check"].stderr
    assert "broken_vjp_crash:cpu  mul  vjp_reference  float64: the target raised" in log
    assert "raised ValueError: cannot reshape" in log and "reproducer:" in log
    row = both["report"]["results"]["broken_vjp_crash:cpu"]["mul"]["vjp_reference"]["float64"]
    assert row["status"] == "error" and row["inputs"], row
    # The dropped batch is reported as a step-count difference per epoch first.
    assert "steps per epoch differ: epoch 0 has 14 against the reference's 15" in log
