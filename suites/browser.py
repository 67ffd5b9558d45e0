"""Headless Chromium for the tests that check what a page really renders.

Those tests skip without a browser (``.ci/run`` installs Debian's ``chromium`` when it can).
The flags are the ones that start cleanly on a machine with a closed network: without the
background-networking ones Chromium keeps retrying Google's hosts.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
TIMEOUT_S = 120


def find() -> str | None:
    """The first Chromium on ``PATH``, or None."""
    return next((b for b in BROWSERS if shutil.which(b)), None)


needs_browser = pytest.mark.skipif(find() is None, reason="no headless Chromium on this machine")


def _command(profile: Path) -> list[str]:
    browser = find()
    assert browser is not None, "use @needs_browser"
    return [browser, *FLAGS, f"--user-data-dir={profile}"]


def dump_dom(url: str, profile: Path, budget_ms: int = 5000) -> str:
    """The DOM after the page's scripts ran for ``budget_ms`` of virtual time."""
    return subprocess.run(
        [*_command(profile), "--dump-dom", f"--virtual-time-budget={budget_ms}", url],
        capture_output=True, text=True, timeout=TIMEOUT_S, check=False,
    ).stdout  # fmt: skip


def screenshot(url: str, path: Path, profile: Path, size: tuple[int, int] = (1300, 2000)) -> None:
    """A PNG of the page at ``size`` (width, height) in ``path``."""
    subprocess.run(
        [*_command(profile), f"--screenshot={path}", f"--window-size={size[0]},{size[1]}", url],
        capture_output=True, timeout=TIMEOUT_S, check=False,
    )  # fmt: skip
