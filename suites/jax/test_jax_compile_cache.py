"""The parity suites keep JAX's compiled programs between runs (``--compile-cache``,
:meth:`~harness.contract.Backend.use_compilation_cache`): a second process loads what the
first compiled, with the same numbers; a cache the user configured is kept; the option is
validated and shown in the header."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest_plugins = ["pytester"]

SCRIPT = """
import collections, json, sys
from pathlib import Path
import numpy as np
import jax
events = collections.Counter()
jax.monitoring.register_event_listener(lambda e, **k: events.update([e]))
from harness import discovery
backend = discovery.get_target("jax:cpu").backend
used = backend.use_compilation_cache(Path(sys.argv[1]))
x = np.linspace(-2.0, 2.0, 12).reshape(3, 4)
out, (grad,) = backend.vjp(backend.ops()["tanh"], [x], np.ones_like(x), device="cpu")
print(json.dumps({
    "used": used,
    "dir": jax.config.values["jax_compilation_cache_dir"],
    "hits": events["/jax/compilation_cache/cache_hits"],
    "misses": events["/jax/compilation_cache/cache_misses"],
    "numbers": [out.tolist(), grad.tolist()],
}))
"""


def _run(cache: Path, **env: str) -> dict[str, Any]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("JAX_COMPILATION_CACHE")}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(cache)],
        capture_output=True, text=True, timeout=300, env={**clean, **env}, check=True,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_a_second_process_loads_what_the_first_compiled(tmp_path: Path) -> None:
    cache = tmp_path / "jax"
    first = _run(cache)
    assert first["used"] and first["dir"] == str(cache)
    assert first["misses"] >= 1 and first["hits"] == 0
    assert any(cache.iterdir()), "the first process wrote its programs"
    second = _run(cache)
    assert second["hits"] >= 1 and second["misses"] == 0, second
    assert second["numbers"] == first["numbers"]


def test_a_cache_the_user_configured_is_kept(tmp_path: Path) -> None:
    mine = tmp_path / "user"
    run = _run(tmp_path / "ours", JAX_COMPILATION_CACHE_DIR=str(mine))
    assert run["used"] and run["dir"] == str(mine)
    assert not (tmp_path / "ours").exists()


def _header(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_one="def test_one(target):\n    pass\n")
    return pytester.runpytest_subprocess(
        "-p", "harness.pytest_plugin", "-p", "no:cacheprovider", "--targets", "jax:cpu",
        "--parity-out", str(pytester.path / "parity"), *args,
    )  # fmt: skip


def test_the_header_names_the_cache_and_off_turns_it_off(pytester: pytest.Pytester) -> None:
    cache = pytester.path / "compiled"
    on = _header(pytester, "--compile-cache", str(cache))
    on.assert_outcomes(passed=1)
    on.stdout.fnmatch_lines([f"harness compile cache: jax {cache / 'jax'}"])
    off = _header(pytester, "--compile-cache", "off")
    off.assert_outcomes(passed=1)
    assert "harness compile cache" not in off.stdout.str()


def test_a_compile_cache_that_is_a_file_is_a_usage_error(pytester: pytest.Pytester) -> None:
    not_a_folder = pytester.path / "cache.txt"
    not_a_folder.write_text("")
    result = _header(pytester, "--compile-cache", str(not_a_folder))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--compile-cache*is a file; give a folder, or off*"])
