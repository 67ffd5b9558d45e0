"""One rule for target and reference names, for every caller, and errors that say where.

``harness compare``, ``harness parity`` / ``check``, the pytest plugin and the benchmarks all
call :func:`harness.discovery.select` and :func:`harness.discovery.resolve_reference`; these
tests pin the rule and the wording through the library and through the real entry points.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness import discovery

SUITES = Path(__file__).resolve().parents[1]
TORCH = any(t.name == "torch:cpu" and t.available for t in discovery.all_targets())
needs_torch = pytest.mark.skipif(not TORCH, reason="needs the torch:cpu target")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARNESS_")}
    return {**env, **extra}


@needs_torch
@pytest.mark.parametrize("name", ["torch", "torch:cpu"])
def test_reference_accepts_backend_and_target_names(name: str) -> None:
    assert discovery.resolve_reference(name).name == "torch:cpu"


@needs_torch
def test_reference_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(discovery.ENV_REFERENCE, "torch")
    assert discovery.resolve_reference().name == "torch:cpu"
    monkeypatch.setenv(discovery.ENV_REFERENCE, "nosuch")
    with pytest.raises(discovery.TargetError, match=r"^\$HARNESS_REFERENCE: unknown target"):
        discovery.resolve_reference()


def test_unknown_reference_names_the_option_and_valid_choices() -> None:
    with pytest.raises(discovery.UnknownTargetError) as err:
        discovery.resolve_reference("nosuch", option="--reference")
    msg = str(err.value)
    assert msg.startswith("--reference: unknown target 'nosuch'; valid targets: ")
    for valid in discovery.valid_names():
        assert valid in msg


def test_unavailable_reference_names_the_reason() -> None:
    gone = [t for t in discovery.all_targets() if not t.available and t.device != "*"]
    if not gone:
        pytest.skip("every discovered target is available here")
    with pytest.raises(discovery.TargetError, match=rf"--reference: reference '{gone[0].name}' "
                       r"is not available \(.+\); available targets: "):  # fmt: skip
        discovery.resolve_reference(gone[0].name)


def test_selection_errors_name_their_source(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(discovery.UnknownTargetError, match=r"^--target: unknown target 'x'"):
        discovery.select("x", option="--target")
    monkeypatch.setenv(discovery.ENV_TARGETS, "x")
    with pytest.raises(discovery.UnknownTargetError, match=r"^\$HARNESS_TARGETS: unknown"):
        discovery.select()


def test_explicit_unavailable_device_is_an_error_where_it_would_run() -> None:
    gone = [t for t in discovery.all_targets() if not t.available and t.device != "*"]
    if not gone:
        pytest.skip("every discovered target is available here")
    name = gone[0].name
    listed = discovery.select(name)  # listing (harness backends) shows it with its reason
    assert [t.name for t in listed.unavailable] == [name] and not listed.targets
    with pytest.raises(discovery.TargetError, match=rf"--targets: target {name} is not avail"):
        discovery.select(name, require_available=True)
    # A bare backend name skips its unavailable devices as long as one is available.
    backend = gone[0].backend_name
    if any(t.available for t in discovery.all_targets() if t.backend_name == backend):
        sel = discovery.select(backend, require_available=True)
        assert sel.targets and name in [t.name for t in sel.unavailable]


def _pytest(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--collect-only",
         str(SUITES / "parity" / "test_ops.py"), *args],
        capture_output=True, text=True, env=_env(**env), timeout=300, check=False,
    )  # fmt: skip


@needs_torch
@pytest.mark.parametrize("name", ["torch", "torch:cpu"])
def test_pytest_reference_option_takes_backend_names(name: str) -> None:
    proc = _pytest("--reference", name, "--targets", "torch")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]


def test_pytest_errors_name_the_option_or_variable() -> None:
    proc = _pytest("--reference", "nosuch")
    assert proc.returncode == 4
    assert "--reference: unknown target 'nosuch'; valid targets:" in proc.stderr
    proc = _pytest(HARNESS_TARGETS="nosuch")
    assert proc.returncode == 4
    assert "$HARNESS_TARGETS: unknown target 'nosuch'; valid targets:" in proc.stderr
