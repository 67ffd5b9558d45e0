"""A capability declared emulated: shown by ``harness backends``, its circular oracles marked.

``emulated_jvp`` (:mod:`suites.broken.registered`) declares ``jvp=True`` with
``emulated=("jvp",)``. Forward against reverse mode (``jvp_vjp``) then compares the VJP with
itself: the parity report marks its cells circular, and ``harness check`` lists it apart and
does not count it as coverage of the oracle.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness import discovery
from harness.contract import Capabilities
from harness.oracles import registry
from harness.parity_report import Row, markdown, terminal
from harness.verdict import judge_target

from . import registered
from .test_check_against_suites import _env
from .test_declared_divergences import _harness

TARGET = "emulated_jvp:cpu"


class _Caps:
    def __init__(self, caps: Capabilities) -> None:
        self.capabilities = caps


def test_emulated_must_name_a_declared_emulable_capability() -> None:
    ok = Capabilities(jvp=True, emulated=("jvp",))
    assert discovery.checked_capabilities(_Caps(ok)) is ok  # type: ignore[arg-type]
    for bad in (Capabilities(jvp=False, emulated=("jvp",)), Capabilities(emulated=("vjp",))):
        with pytest.raises(discovery.CapabilitiesError, match="emulated"):
            discovery.checked_capabilities(_Caps(bad))  # type: ignore[arg-type]


def test_forward_against_reverse_is_circular_when_jvp_is_emulated() -> None:
    assert "compares the VJP with itself" in registry.circular("jvp_vjp", ("jvp",))
    assert registry.circular("jvp_vjp", ()) == ""
    assert registry.circular("vjp_reference", ("jvp",)) == ""


def test_a_circular_check_is_no_coverage_in_the_verdict_and_marked_in_the_matrix() -> None:
    why = registry.circular("jvp_vjp", ("jvp",))
    rows = [
        Row("t:cpu", "exp", "jvp_vjp", "float32", status="pass", circular=why),
        Row("t:cpu", "mul", "forward", "float32", status="pass"),
    ]
    v = judge_target("t:cpu", rows, declares_training=False, training_expected=False)
    assert v.oracles.run == ["forward"] and v.ops.run == ["mul"]
    assert v.circular == [f"jvp_vjp ({why})"]
    assert any("circular" in line and "not independent" in line for line in v.lines())
    assert f"~ circular, not independent coverage: t:cpu jvp_vjp: {why}" in terminal(rows)
    assert "t:cpu jvp_vjp ~" in markdown(rows, {})
    failing = [Row("t:cpu", "exp", "jvp_vjp", "float32", status="fail", circular=why)]
    assert judge_target("t:cpu", failing, declares_training=False,
                        training_expected=False).outcome == "FAIL"  # fmt: skip


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    if discovery.default_reference() is None:
        pytest.skip("no reference target to wrap")
    return _env(registered.install(tmp_path_factory.mktemp("emulated") / "plugins"))


def test_backends_shows_the_emulated_capability(env: dict[str, str]) -> None:
    proc = _harness(env, "backends", "--targets", TARGET, "--json")
    assert proc.returncode == 0, proc.stderr
    (row,) = json.loads(proc.stdout)
    assert row["jvp"] is True and row["emulated"] == ["jvp"]
    table = _harness(env, "backends", "--targets", TARGET)
    line = next(x for x in table.stdout.splitlines() if x.startswith(TARGET))
    assert "emulated" in line.split()


def test_the_suites_mark_the_circular_oracle(env: dict[str, str], tmp_path: Path) -> None:
    proc = _harness(env, "check", "--target", TARGET, "--out", str(tmp_path), "--json",
                    "--workers", "1", "--", "-k", "exp and (jvp_vjp or test_forward)")  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    (tv,) = doc["verdict"]["targets"]
    assert "jvp_vjp" not in tv["oracles"]["run"] and "forward" in tv["oracles"]["run"]
    assert tv["circular"] and tv["circular"][0].startswith("jvp_vjp (")
    rep = json.loads((Path(doc["run_dir"]) / "parity" / "report.json").read_text())
    cell = rep["results"][TARGET]["exp"]["jvp_vjp"]["float32"]
    assert cell["status"] == "pass" and "compares the VJP with itself" in cell["circular"]
    assert rep["results"][TARGET]["exp"]["forward"]["float32"]["circular"] == ""
