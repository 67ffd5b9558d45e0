"""The asv set-up: a valid configuration, ``asv check``, and a quick smoke run of one
benchmark of each kind (``time_``, ``peakmem_``, ``track_``) in the current environment,
results saved and read back through asv's own API.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness import discovery
from harness.cli import main

from ._paths import ROOT

asv = pytest.importorskip("asv")
from asv.config import Config  # noqa: E402
from asv.results import iter_results_for_machine  # noqa: E402
from asv.util import load_json  # noqa: E402

CONF = ROOT / "asv.conf.json"


def _conf() -> dict[str, Any]:
    return dict(load_json(str(CONF), js_comments=True))


def test_config_keys_are_asv_keys() -> None:
    # asv ignores a key it does not know (a misspelt regressions_thresholds silently).
    known = set(Config().__dict__) | {"version", "build_cache_size"}
    conf = _conf()
    assert set(conf) <= known, f"unknown asv.conf.json keys: {sorted(set(conf) - known)}"
    assert conf["benchmark_dir"] == "benchmarks"
    assert conf["results_dir"] == "results/asv"
    assert conf["html_dir"] == "results/html"
    assert conf["environment_type"] == "virtualenv"
    assert conf["launch_method"] == "forkserver"
    assert conf["regressions_thresholds"]
    # The CPU wheel on disk; anything else downloads a multi-GB CUDA build.
    assert conf["matrix"]["req"]["torch"] == ["2.13.0"]
    assert any("[all]" in c for c in conf["install_command"])


def test_asv_outputs_are_git_ignored() -> None:
    conf = _conf()
    # Trailing slashes: the folders may not exist yet, and the patterns name folders.
    paths = [conf[k].rstrip("/") + "/" for k in ("env_dir", "results_dir", "html_dir")]
    proc = subprocess.run(
        ["git", "check-ignore", *paths], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if proc.returncode == 128:
        pytest.skip(f"not a git checkout: {proc.stderr.strip()}")
    assert proc.stdout.split() == paths


def test_micro_benchmarks_are_not_an_asv_package() -> None:
    # asv imports every package under benchmarks/; the pytest-benchmark files must not be one.
    micro = ROOT / "benchmarks" / "micro"
    assert (micro / "test_op_overhead.py").is_file()
    assert not (micro / "__init__.py").exists()


def _asv(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "asv", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        check=False,
    )


def test_asv_check() -> None:
    proc = _asv("check", "--python=same")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No problems found" in proc.stdout


def _selector(name: str, params: tuple[str, ...]) -> str:
    return "^" + re.escape(f"{name}({', '.join(repr(p) for p in params)})") + "$"


def test_quick_smoke_one_per_kind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if head.returncode != 0:
        pytest.skip(f"no commit to file results under: {head.stderr.strip()}")
    conf = _conf()
    conf.update(
        repo=str(ROOT),
        benchmark_dir=str(ROOT / "benchmarks"),
        results_dir=str(tmp_path / "results"),
        html_dir=str(tmp_path / "html"),
        env_dir=str(tmp_path / "env"),
    )
    config = tmp_path / "asv.conf.json"
    config.write_text(json.dumps(conf))
    monkeypatch.setenv("HOME", str(tmp_path))
    assert main(["machine", "--name", "bench-smoke"]) == 0

    floor = "floor:cpu"
    picks: list[tuple[str, tuple[str, ...]]] = [
        ("training.TimeEpoch.time_epoch", (floor, "bc_logreg", "mb32", "float32")),
        ("training.PeakMemTrain.peakmem_train", (floor, "bc_logreg", "batch", "float32")),
        ("scaling.TrackScalingExponent.track_exponent", (floor, "batch")),
    ]
    ref = discovery.default_reference()
    if ref is not None:  # one real backend through the same timing path
        picks.append(("training.TimeEpoch.time_epoch", (ref.name, "bc_logreg", "mb32", "float32")))
        ratio = "training.TrackFloorRatio.track_epoch_ratio"
        picks.append((ratio, (ref.name, "bc_logreg", "batch", "float32")))
    selectors = [a for name, params in picks for a in ("-b", _selector(name, params))]
    proc = _asv(
        "run",
        "--config",
        str(config),
        "--python=same",
        "--quick",
        "--show-stderr",
        "--machine",
        "bench-smoke",
        "--set-commit-hash",
        head.stdout.strip(),
        *selectors,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr

    (results,) = list(iter_results_for_machine(str(tmp_path / "results"), "bench-smoke"))
    values = {}
    for name, params in picks:
        grid = results.get_result_params(name)
        index = list(itertools.product(*grid)).index(tuple(repr(p) for p in params))
        values[name, params] = results.get_result_value(name, grid)[index]
    out = proc.stdout + proc.stderr
    for (name, params), value in values.items():
        assert value is not None and math.isfinite(value), f"{name}{params}: {value}\n{out}"
        assert value > 0, (name, params, value)
    seconds = [v for (n, _), v in values.items() if n.endswith("time_epoch")]
    assert all(s < 10 for s in seconds), seconds
    peak = values["training.PeakMemTrain.peakmem_train", picks[1][1]]
    assert peak > 10e6, peak  # bytes: a Python process with NumPy loaded
