"""A declared divergence is honoured alike by the suites, ``harness check`` and ``harness compare``.

:mod:`suites.broken.registered`'s ``declared_sum_loss`` trains with a planted bug and declares
the trajectory of one case diverging (``breast_cancer-logreg-sgd-minibatch``, any dtype);
``declared_stale`` trains correctly and declares the same. Each command must report the first
as declared (not failing, exit 0, the declaration visible) and flag the second as stale; the
same line of ``known_divergences.txt`` covers the suites' case and the compare workload of the
same name (:func:`harness.subjects.case_id`).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness import discovery, subjects

from . import registered
from .test_check_against_suites import ROOT, TIMEOUT_S, _env

_REFERENCE = discovery.default_reference()
pytestmark = pytest.mark.skipif(_REFERENCE is None, reason="no reference target to wrap")
REFERENCE_NAME = _REFERENCE.name if _REFERENCE is not None else ""
COMPARE = ["--mode", "minibatch", "--epochs", "4", "--no-plots"]


def _harness(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", *args], cwd=ROOT, env=env, capture_output=True,
        text=True, timeout=TIMEOUT_S,
    )  # fmt: skip


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return _env(registered.install(tmp_path_factory.mktemp("declared") / "plugins"))


def _run_dir(out: Path) -> Path:
    (run,) = [p for p in out.iterdir() if not p.name.startswith(".")]
    return run


def _report(out: Path) -> dict[str, Any]:
    return json.loads((_run_dir(out) / "report.json").read_text())


def test_the_compare_workload_and_the_suites_case_share_one_name() -> None:
    from harness.oracles import TRAINING_CASES
    from harness.plan import CompareConfig

    cfg = CompareConfig(model="mlp:8", optimizer="adam", betas=(0.8, 0.99), eps=1e-3,
                        weight_decay=0.01)  # fmt: skip
    opts = subjects.config_options(cfg)
    case = next(c for c in TRAINING_CASES if c.optimizer == "adam" and c.options)
    assert subjects.case_id("breast_cancer", "mlp:8", "adam", "minibatch", opts) == case.id
    assert registered.DECLARED_CASE in {c.id for c in TRAINING_CASES}


def test_compare_reports_a_declared_divergence_and_exits_0(
    env: dict[str, str], tmp_path: Path
) -> None:
    proc = _harness(env, "compare", "--targets", "declared_sum_loss:cpu", *COMPARE,
                    "--out", str(tmp_path))  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "diverges (declared)" in proc.stdout
    assert "declared divergence (declared_sum_loss known_divergences.txt:1" in proc.stdout
    assert "declared divergences (not failing): declared_sum_loss:cpu mini-batch" in proc.stdout
    rep = _report(tmp_path)
    (run,) = [r for r in rep["runs"] if r["target"] == "declared_sum_loss:cpu"]
    assert run["verdict"] == "diverges"
    assert run["divergence"]["status"] == "xfail"
    assert run["divergence"]["subject"] == registered.DECLARED_CASE
    assert rep["summary"]["ok"] is True
    # One reference rule: the float32 run against the reference's float64 run, with the
    # reference's own float32-vs-float64 difference at the same step beside it.
    comp = run["comparison"]
    assert comp["reference_dtype"] == "float64"
    base = comp["baseline"]
    assert base["reference"] == REFERENCE_NAME and base["step"] == comp["first_diverging_step"]
    assert 0 <= base["scaled_diff"] < comp["max_rel_diff"]
    assert f"baseline: {REFERENCE_NAME} float32 vs float64 on this case" in proc.stdout
    html = (_run_dir(tmp_path) / "report.html").read_text()
    assert "declared: declared_sum_loss:*" in html and "(declared divergences: " in html
    assert f"at step {base['step']} ({REFERENCE_NAME} float32 vs float64)" in html


def test_compare_flags_a_stale_declaration(env: dict[str, str], tmp_path: Path) -> None:
    proc = _harness(env, "compare", "--targets", "declared_stale:cpu", *COMPARE,
                    "--out", str(tmp_path))  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "agrees (stale declaration)" in proc.stdout
    assert "stale known divergence" in proc.stdout and "delete the line" in proc.stdout
    (run,) = [r for r in _report(tmp_path)["runs"] if r["target"] == "declared_stale:cpu"]
    assert run["divergence"]["status"] == "stale"


def test_an_undeclared_case_of_the_same_backend_still_fails(
    env: dict[str, str], tmp_path: Path
) -> None:
    proc = _harness(env, "compare", "--targets", "declared_sum_loss:cpu", *COMPARE,
                    "--optimizer", "adam", "--out", str(tmp_path))  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "(declared)" not in proc.stdout


def test_check_honours_it_in_the_suites_and_the_workload_comparison(
    env: dict[str, str], tmp_path: Path
) -> None:
    k = f"(test_forward and relu) or (test_trajectory and {registered.DECLARED_CASE})"
    proc = _harness(env, "check", "--target", "declared_sum_loss:cpu", "--quick", *COMPARE,
                    "--out", str(tmp_path), "--json", "--workers", "1", "--", "-k", k)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["outcome"] == "PASS"
    results = json.loads((Path(doc["run_dir"]) / "parity" / "report.json").read_text())
    cells = results["results"]["declared_sum_loss:cpu"][registered.DECLARED_CASE]["trajectory"]
    assert {d: c["status"] for d, c in cells.items()} == {"float32": "xfail", "float64": "xfail"}
    # The failure message names the float64 reference and carries the baseline.
    reason = cells["float32"]["reason"]
    assert f"diverges from {REFERENCE_NAME} (float64)" in reason
    assert f"baseline: {REFERENCE_NAME} float32 vs float64 on this case" in reason
    (row,) = [r for r in doc["workload"]["rows"] if r["target"] == "declared_sum_loss:cpu"]
    assert row["verdict"] == "diverges" and row["divergence"]["status"] == "xfail"
    text = _harness(env, "check", "--target", "declared_sum_loss:cpu", "--quick", *COMPARE,
                    "--out", str(tmp_path / "text"), "--workers", "1", "--", "-k", k)  # fmt: skip
    assert text.returncode == 0, text.stdout + text.stderr
    assert "  workload  DECLARED: declared_sum_loss:cpu mini-batch: diverges" in text.stdout
