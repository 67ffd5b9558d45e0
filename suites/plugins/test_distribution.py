"""The wheel built from the repository: one top-level import name of ours, everything in it.

Plugins depend on the harness by its distribution name, so that name and the wheel's
contents are part of the contract with plugin authors.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import tomllib

import harness
from harness import scaffold

from .overlay import REPO


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    # Built from a copy of the checkout's files: setuptools reuses a build/ folder left in
    # the source tree, which would hide a package the layout no longer maps.
    src, out = tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("wheel")
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.splitlines()
    for rel in listed:
        if (REPO / rel).is_file():
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, src / rel)
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", str(out), str(src)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    (path,) = out.glob("*.whl")
    return zipfile.ZipFile(path)


def test_wheel_installs_only_our_top_level_name(wheel: zipfile.ZipFile) -> None:
    tops = {n.split("/", 1)[0] for n in wheel.namelist()}
    dist_info = {t for t in tops if t.endswith(".dist-info")}
    assert tops - dist_info == {"harness"}, sorted(tops)
    (info,) = dist_info
    assert info.startswith("autodiff_harness-"), info
    meta = wheel.read(f"{info}/METADATA").decode()
    assert f"Name: {harness.DISTRIBUTION}" in meta


def test_wheel_carries_every_package_and_data_file(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    for folder, prefix in (("harness", "harness"), ("implementations", "harness/implementations"),
                           ("suites", "harness/suites")):  # fmt: skip
        for init in (REPO / folder).rglob("__init__.py"):
            rel = init.relative_to(REPO / folder).as_posix()
            assert f"{prefix}/{rel}" in names, f"{folder}/{rel} is missing from the wheel"
    for data in (REPO / "implementations").rglob("known_divergences.txt"):
        rel = data.relative_to(REPO / "implementations").as_posix()
        assert f"harness/implementations/{rel}" in names, rel
    assert "harness/py.typed" in names
    for template, _ in scaffold.FILES:
        assert f"harness/scaffold/templates/{template}" in names, template


def _dependencies(pyproject: str) -> list[str]:
    return list(tomllib.loads(pyproject)["project"]["dependencies"])


def test_plugins_depend_on_the_distribution_name(tmp_path: Path) -> None:
    """The scaffold and the example plugin declare the harness by the name pip resolves."""
    scaffolded = scaffold.render(scaffold.Names.of("mylib"))["pyproject.toml"]
    example = (REPO / "examples" / "autograd_plugin" / "pyproject.toml").read_text()
    for text in (scaffolded, example):
        deps = [d.replace(" ", "") for d in _dependencies(text)]
        assert any(d.startswith(f"{harness.DISTRIBUTION}>=") for d in deps), deps
    own = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["name"]
    assert own == harness.DISTRIBUTION
