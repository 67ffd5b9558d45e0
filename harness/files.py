"""Writing files that are never seen half-written, and strict JSON.

Every file the harness writes goes through :func:`atomic_write_bytes` (a temporary file in
the same folder, then a rename), and every run folder through :func:`staged_folder` (a
hidden ``.partial-...`` folder renamed into place only when complete): an interrupted or
failed run leaves no half-written report.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np


class OutputError(ValueError):
    """An output folder that cannot be written (exit 2, nothing written)."""


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp makes the file private (0600); give it the permissions open() would.
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def user_cache(name: str) -> Path:
    """``name`` in the user's cache folder for the harness (platformdirs:
    ``~/.cache/harness/<name>`` on Linux), where what can be recomputed is kept between runs."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("harness")) / name


def atomic_write_text(path: Path, text: str) -> None:
    """:func:`atomic_write_bytes` for UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"))


def check_writable(base: Path, option: str = "--out") -> None:
    """Raise :class:`OutputError` unless folders can be created inside ``base``.

    Nothing is left behind: the test is a temporary file in the nearest existing ancestor,
    removed at once, so a refused run writes nothing.
    """
    base = Path(base).expanduser()
    probe = base
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        raise OutputError(
            f"{option} {str(base)!r} cannot be created: {str(probe)!r} is not a folder; "
            "give a folder path that is writable"
        )
    try:
        with tempfile.TemporaryFile(dir=probe):
            pass
    except OSError as e:
        raise OutputError(
            f"{option} {str(base)!r} is not writable ({e.strerror or e}); "
            "give a folder path that is writable"
        ) from None


def new_run_id(now: datetime | None = None) -> str:
    """``<UTC timestamp>-<short id>``, e.g. ``20250101T120000Z-3fa9c2``.

    The short id only keeps two runs started in the same second apart; it influences no
    result.
    """
    now = now or datetime.now(timezone.utc)
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"


@contextlib.contextmanager
def staged_folder(base: Path, run_id: str) -> Iterator[Path]:
    """A temporary folder in ``base``, renamed to ``base/run_id`` if the block succeeds.

    On any error (or interruption) the temporary folder is removed. Yields the temporary
    path; the final path is ``base / run_id`` (it must not exist yet).
    """
    base = Path(base).expanduser()
    base.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=base, prefix=f".partial-{run_id}-"))
    try:
        os.chmod(tmp, 0o777 & ~_umask())
        yield tmp
        final = base / run_id
        if final.exists():
            raise FileExistsError(f"run folder {final} already exists")
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# -- JSON -------------------------------------------------------------------------------------


def jsonable(obj: Any) -> Any:
    """``obj`` with NumPy values turned into Python ones and NaN / infinity into None.

    Strict JSON has no NaN; where a loss was not finite, the verdict says which and where.
    """
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, (np.integer, int)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        f = float(obj)
        return f if math.isfinite(f) else None
    if isinstance(obj, Path):
        return str(obj)
    if obj is None or isinstance(obj, str):
        return obj
    return str(obj)


def dumps(obj: Any) -> str:
    """Strict JSON text (no NaN), indented."""
    return json.dumps(jsonable(obj), indent=2, allow_nan=False) + "\n"


_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def safe_name(text: str) -> str:
    """``text`` usable as one path component (``torch:cpu`` -> ``torch_cpu``)."""
    return _SAFE.sub("_", text)
