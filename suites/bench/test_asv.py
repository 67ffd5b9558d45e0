"""The asv set-up: a valid configuration, ``asv check``, and a quick smoke run of one
benchmark of each kind (``time_``, ``peakmem_``, ``track_``) in the current environment,
results saved and read back through asv's own API.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import http.server
import itertools
import json
import math
import os
import re
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness import discovery
from harness.cli import main

from .. import browser
from ..browser import needs_browser
from ._paths import ROOT

from benchmarks import publish  # isort: skip

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


@dataclass
class Smoke:
    """One quick asv run of a benchmark of each kind, its results saved in ``tmp``."""

    tmp: Path
    config: Path
    picks: list[tuple[str, tuple[str, ...]]]
    proc: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> Smoke:
    tmp_path = tmp_path_factory.mktemp("asv")
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
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(tmp_path))
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
    return Smoke(tmp_path, config, picks, proc)


def test_quick_smoke_one_per_kind(smoke: Smoke) -> None:
    proc, picks, tmp_path = smoke.proc, smoke.picks, smoke.tmp
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


# -- the published site, offline -----------------------------------------------------------


def _publish(smoke: Smoke, *extra: str) -> subprocess.CompletedProcess[str]:
    script = ROOT / "benchmarks" / "publish.py"
    return subprocess.run(
        [sys.executable, str(script), "--config", str(smoke.config), *extra],
        capture_output=True, text=True, timeout=600, check=False,
        env={**os.environ, "HOME": str(smoke.tmp)},
    )  # fmt: skip


def test_the_published_site_loads_nothing_from_the_network(smoke: Smoke) -> None:
    assert smoke.proc.returncode == 0, smoke.proc.stdout + smoke.proc.stderr
    proc = _publish(smoke)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    site = smoke.tmp / "html"
    pages = sorted(site.glob("*.html"))
    assert {p.name for p in pages} >= {"index.html", "error.html"}
    for page in pages:
        for ref in publish.page_refs(page.read_text()):
            assert not ref.startswith(("http:", "https:", "//")), f"{page.name}: {ref}"
            assert (site / ref).is_file(), f"{page.name}: {ref} missing"
    # asv's own template is what the CDN list was read from: a newer asv that loads another
    # file (or moves one) is reported by name, not published half-offline.
    page = site / "index.html"
    page.write_text(
        page.read_text().replace(
            "</head>", '<script src="https://x.invalid/new.js"></script></head>'
        )
    )
    again = _publish(smoke, "--no-publish")
    assert again.returncode == 1 and "https://x.invalid/new.js" in again.stderr


def test_vendored_copies_are_the_cdn_files_where_they_say_so() -> None:
    template = (Path(asv.__file__).parent / "www" / "index.html").read_text()
    tags = re.findall(r"<(?:script|link)\b[^>]*>", template)
    for f in publish.sources():
        tag = next((t for t in tags if f'"{f["url"]}"' in t), None)
        assert tag is not None, f"asv's page no longer loads {f['url']}"
        data = (publish.VENDOR / str(f["file"])).read_bytes()
        assert hashlib.sha256(data).hexdigest() == f["sha256"], f["file"]
        algo, want = re.search(r'integrity="(\w+)-([^"]+)"', tag).groups()  # type: ignore[union-attr]
        same = base64.b64encode(hashlib.new(algo, data).digest()).decode() == want
        assert same == f["same_bytes_as_cdn"], f["file"]


@needs_browser
def test_the_published_site_renders_offline_in_headless_chromium(
    smoke: Smoke, tmp_path: Path
) -> None:
    proc = _publish(smoke)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    site = smoke.tmp / "html"
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/index.html"
        dom = browser.dump_dom(url, tmp_path / "profile", budget_ms=10000)
    finally:
        server.shutdown()
        server.server_close()
    # error.html is where the page goes when a script fails to load; the grid lists the
    # benchmarks of the smoke run once asv.js has read index.json.
    assert "external (JavaScript) dependencies" not in dom, "asv's error page: a script failed"
    assert "TimeEpoch" in dom or "time_epoch" in dom, dom[:2000]
