"""Throwaway virtual environments layered over the running one, for installing plugins.

Installing a plugin into the environment that runs the tests would make it visible to
every other test running at the same time (pytest-xdist workers discover backends too),
and a crash would leave it installed. Instead each plugin test makes a virtual environment
of its own without pip or packages, whose ``site-packages`` holds one ``.pth`` file that
adds this environment's ``site-packages`` after its own. It sees the harness and every
dependency already installed here (editable installs included), and whatever is
``pip install``-ed into it stays in it. Nothing is downloaded: pip runs with
``--no-deps --no-build-isolation`` when this environment has a setuptools able to build
an editable install (64+), and falls back to build isolation (which fetches setuptools
from the package index) only when it does not.
"""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
"""The harness checkout these suites belong to."""

TIMEOUT_S = 300


def _outer_site_dirs() -> list[str]:
    dirs = [*site.getsitepackages(), sysconfig.get_paths()["purelib"]]
    if site.ENABLE_USER_SITE and os.path.isdir(site.getusersitepackages()):
        dirs.append(site.getusersitepackages())
    return [d for d in dict.fromkeys(dirs) if os.path.isdir(d)]


def _setuptools_can_build_editable() -> bool:
    try:
        major = int(version("setuptools").split(".")[0])
    except (PackageNotFoundError, ValueError):
        return False
    return major >= 64


def clean_env() -> dict[str, str]:
    """This process' environment without target selection or pip's own overrides."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HARNESS_", "PIP_", "PYTEST_", "VIRTUAL_ENV"))
    }
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


@dataclass
class Overlay:
    """One layered virtual environment."""

    root: Path

    @property
    def python(self) -> Path:
        """Its interpreter."""
        sub = "Scripts/python.exe" if os.name == "nt" else "bin/python"
        return self.root / sub

    @classmethod
    def create(cls, root: Path) -> Overlay:
        """Make the environment at ``root`` (absent or empty)."""
        subprocess.run(
            [sys.executable, "-m", "venv", "--without-pip", str(root)],
            check=True,
            timeout=TIMEOUT_S,
        )
        env = cls(root)
        purelib = env.run_python(
            "import sysconfig; print(sysconfig.get_paths()['purelib'])"
        ).stdout.strip()
        lines = [f"import site; site.addsitedir({d!r})" for d in _outer_site_dirs()]
        Path(purelib, "_harness_outer_env.pth").write_text("\n".join(lines) + "\n")
        return env

    def run(
        self, *args: str | os.PathLike[str], cwd: Path | None = None, check: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """Run ``python ARGS`` in this environment; output captured as text."""
        proc = subprocess.run(
            [str(self.python), *map(str, args)],
            cwd=cwd or REPO,
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"{' '.join(map(str, args))} exited {proc.returncode}\n"
                f"--- stdout\n{proc.stdout[-6000:]}\n--- stderr\n{proc.stderr[-6000:]}"
            )
        return proc

    def run_python(self, code: str) -> subprocess.CompletedProcess[str]:
        """Run a Python snippet in this environment, failing loudly."""
        return self.run("-c", code, check=True)

    def pip_install_editable(self, project: Path) -> None:
        """``pip install -e project`` into this environment only."""
        # pip itself comes from the outer environment through the .pth file, and installs
        # into the interpreter that runs it: this environment.
        args = ["-m", "pip", "install", "-q", "--no-deps"]
        if _setuptools_can_build_editable():
            args += ["--no-build-isolation", "--no-index"]
        proc = self.run(*args, "-e", str(project))
        if proc.returncode != 0:
            raise AssertionError(
                f"pip install -e {project} failed ({proc.returncode}):\n{proc.stderr[-6000:]}"
            )

    def harness_json(self, *args: str) -> Any:
        """``harness ARGS --json`` in this environment, parsed."""
        proc = self.run("-m", "harness", *args, "--json", check=True)
        return json.loads(proc.stdout)
