"""Helpers for the CLI tests: run the real ``harness`` entry point in a subprocess."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import struct
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from harness import schemas

from . import fake_backends

TIMEOUT_S = 600


def harness_command() -> list[str]:
    """The installed ``harness`` console script (beside this Python), else ``python -m``."""
    exe = Path(sys.executable).with_name("harness")
    if exe.is_file() and os.access(exe, os.X_OK):
        return [str(exe)]
    found = shutil.which("harness")
    return [found] if found else [sys.executable, "-m", "harness"]


def run_harness(
    *args: str,
    cwd: Path | None = None,
    extra_path: Sequence[Path] = (),
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``harness *args`` and return the finished process (text stdout / stderr)."""
    full_env = subprocess_env(extra_path, env)
    return subprocess.run(
        [*harness_command(), *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )


def subprocess_env(
    extra_path: Sequence[Path] = (), env: dict[str, str] | None = None
) -> dict[str, str]:
    """The environment of a ``harness`` subprocess.

    ``HARNESS_TARGETS`` is dropped (the tests choose targets explicitly); ``extra_path``
    goes in front of ``PYTHONPATH``.
    """
    full_env = {**os.environ, **(env or {})}
    full_env.pop("HARNESS_TARGETS", None)
    paths = list(map(str, extra_path))
    if full_env.get("PYTHONPATH"):
        paths.append(full_env["PYTHONPATH"])
    full_env["PYTHONPATH"] = os.pathsep.join(paths)
    return full_env


def error_lines(proc: subprocess.CompletedProcess[str], command: str = "compare") -> list[str]:
    """The ``harness COMMAND: error: ...`` lines of stderr."""
    return [
        line for line in proc.stderr.splitlines() if line.startswith(f"harness {command}: error:")
    ]


def assert_usage_error(
    proc: subprocess.CompletedProcess[str], fragment: str, out: Path, command: str = "compare"
) -> None:
    """Exit 2, exactly one error line containing ``fragment``, no traceback, no ``out``."""
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = error_lines(proc, command)
    assert len(lines) == 1, proc.stderr
    assert fragment in lines[0], lines[0]
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""
    assert not out.exists(), "a refused run must write nothing"


def only_run_dir(base: Path) -> Path:
    """The single run folder under ``base`` (fails if there is not exactly one); pytest's
    cache folder of ``harness parity`` / ``check`` is not a run folder."""
    dirs = [p for p in base.iterdir() if p.is_dir() and p.name != ".pytest-cache"]
    assert len(dirs) == 1, f"expected one run folder in {base}, found {dirs}"
    return dirs[0]


def load_report(run_dir: Path) -> dict[str, Any]:
    """The parsed ``report.json`` of a run folder (strict JSON: no NaN), checked against
    its JSON Schema (``harness/schemas/report.schema.json``)."""
    doc = json.loads((run_dir / "report.json").read_text(), parse_constant=_reject_constant)
    schemas.validate(doc)
    return doc


def strict_json(text: str) -> Any:
    """Parse ``text`` as strict JSON (NaN / Infinity rejected)."""
    return json.loads(text, parse_constant=_reject_constant)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name}")


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from a PNG's signature and IHDR chunk; fails if it is not a PNG."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert head[12:16] == b"IHDR", f"{path} has no IHDR chunk first"
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def run_concurrently(
    launches: dict[str, tuple[list[str], Path | None, Sequence[Path]]],
) -> dict[str, subprocess.CompletedProcess[str]]:
    """Run several ``harness`` commands at once (``name -> (args, cwd, extra_path)``).

    Each command pays the import of every framework; running them side by side on every
    core keeps the CLI tests' wall time down without weakening any of them. Each gets one
    intra-op thread: several multi-threaded PyTorch processes on few cores spin-wait on each
    other (measured: a full-batch epoch 0.28 ms alone, 44 ms oversubscribed).
    """
    one_thread = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        futures = {
            name: pool.submit(run_harness, *args, cwd=cwd, extra_path=extra, env=one_thread)
            for name, (args, cwd, extra) in launches.items()
        }
        return {name: f.result() for name, f in futures.items()}


@pytest.fixture(scope="session")
def fake_plugins(tmp_path_factory: pytest.TempPathFactory) -> Path | None:
    """A folder to put on PYTHONPATH that registers :mod:`suites.cli.fake_backends`.

    None when PyTorch, which the fakes wrap, is not installed.
    """
    if importlib.util.find_spec("torch") is None:
        return None
    root = tmp_path_factory.mktemp("fake_plugins")
    info = root / "harness_cli_fakes-0.0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: harness-cli-fakes\nVersion: 0.0.1\n"
    )
    lines = "\n".join(f"{k} = {v}" for k, v in fake_backends.ENTRY_POINTS.items())
    (info / "entry_points.txt").write_text(f"[harness.backends]\n{lines}\n")
    return root
