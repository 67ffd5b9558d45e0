"""Run folders: ``report.json``, ``curves.csv``, plots, written atomically.

A run folder ``<base>/<UTC timestamp>-<short id>/`` is assembled under a hidden temporary
name (``.partial-...``) in the same base folder and renamed into place only when every file
in it is complete, and each file inside is itself written to a temporary name and renamed:
an interrupted run leaves no half-written report. The layout and the ``report.json`` schema
are documented in ``results/README.md``.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import platform
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from harness import __version__
from harness.runner import (
    MODE_LABELS,
    TARGET_FACTOR,
    TARGET_LOSS_DEFINITION,
    Comparison,
    Run,
)

SCHEMA = "harness.compare/1"
"""``report.json``'s ``schema`` value; bumped on any incompatible change."""

LIBRARIES = (
    "harness",
    "numpy",
    "scipy",
    "scikit-learn",
    "torch",
    "jax",
    "jaxlib",
    "optax",
    "flax",
    "autograd",
    "tensorflow",
    "mlx",
    "tinygrad",
    "matplotlib",
    "rich",
    "tensorboardX",
    "hypothesis",
    "pytest",
    "asv",
)
"""Distributions whose versions every report records when they are installed."""

CURVE_COLUMNS = ("target", "mode", "unit", "index", "metric", "value", "elapsed_s")
"""``curves.csv`` header (long format, one value per row)."""


class OutputError(ValueError):
    """An output folder that cannot be written (exit 2, nothing written)."""


# -- atomic files -----------------------------------------------------------------------------


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


# -- environment ------------------------------------------------------------------------------


def versions(extra: Iterable[str] = ()) -> dict[str, str]:
    """Installed versions of :data:`LIBRARIES` and of ``extra`` distributions, by name."""
    out: dict[str, str] = {"python": platform.python_version()}
    for name in dict.fromkeys([*LIBRARIES, *extra]):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    out.setdefault("harness", __version__)
    return out


def backend_distributions() -> list[str]:
    """Distributions that register a ``harness.backends`` entry point (plugins included)."""
    names = []
    for ep in metadata.entry_points(group="harness.backends"):
        dist = getattr(ep, "dist", None)
        if dist is not None and dist.metadata["Name"]:
            names.append(dist.metadata["Name"])
    return list(dict.fromkeys(names))


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model", "cpu model", "Hardware"):
                return value.strip()
    if sys.platform == "darwin":
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            return subprocess.run(
                ["sysctl", "-n", "machdep.cpu.brand_string"],
                capture_output=True,
                text=True,
                timeout=5,
                check=True,
            ).stdout.strip()
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    return None


def _gpus() -> list[str]:
    """GPU names from ``nvidia-smi`` (no framework is imported for this)."""
    exe = shutil.which("nvidia-smi")
    if not exe:
        return []
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(
            [exe, "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
        return [line.strip() for line in out.splitlines() if line.strip()]
    return []


def machine() -> dict[str, Any]:
    """The machine a run used: CPU model, cores, memory, GPUs (or none), OS, Python."""
    affinity = getattr(os, "sched_getaffinity", None)
    return {
        "hostname": platform.node(),
        "cpu": _cpu_model(),
        "arch": platform.machine(),
        "cores": os.cpu_count(),
        "cores_usable": len(affinity(0)) if affinity else os.cpu_count(),
        "memory_gib": _memory_gib(),
        "gpus": _gpus() or "none",
        "os": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
    }


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


# -- report content ---------------------------------------------------------------------------


def _final(values: Any) -> float | None:
    arr = np.asarray(values, dtype=np.float64)
    return float(arr[-1]) if arr.size else None


def row(run: Run) -> dict[str, Any]:
    """The summary row of one run (one line of the CLI table)."""
    h, v = run.history, run.verdict
    return {
        "target": run.target,
        "mode": run.mode,
        "reference": run.is_reference,
        "status": run.status,
        "verdict": run.outcome,
        "final_train_loss": _final(h.epoch_train_loss) if h is not None else None,
        "final_test_acc": _final(h.epoch_test_acc) if h is not None else None,
        "median_epoch_s": h.steady_epoch_s if h is not None else None,
        "steps_to_target": run.steps_to_target,
        "seconds_to_target": run.seconds_to_target,
        "max_abs_diff": v.max_abs_diff if v is not None else None,
        "max_rel_diff": v.max_rel_diff if v is not None else None,
        "first_diverging_step": v.first_diverging_step if v is not None else None,
        "nonfinite_step": v.nonfinite_step if v is not None else None,
        "summary": run.error or (v.summary() if v is not None else ""),
    }


def summary(c: Comparison, run_dir: Path | None) -> dict[str, Any]:
    """What ``harness compare --json`` prints (also ``report.json``'s ``summary``)."""
    return {
        "ok": c.ok,
        "exit_code": 0 if c.ok else 1,
        "run_dir": str(run_dir) if run_dir is not None else None,
        "reference": c.plan.reference.name,
        "targets": [t.name for t in c.plan.targets],
        "modes": list(c.modes),
        "dtype": c.plan.config.dtype,
        "target_loss": c.target_loss,
        "rows": [row(r) for r in c.runs],
        "versus": c.versus(),
        "skipped": c.plan.skipped,
    }


def _run_record(c: Comparison, run: Run) -> dict[str, Any]:
    h = run.history
    rec: dict[str, Any] = {
        "target": run.target,
        "mode": run.mode,
        "reference": run.is_reference,
        "status": run.status,
        "verdict": run.outcome,
        "error": run.error,
        "runtime_warnings": run.runtime_warnings,
        "steps_to_target": run.steps_to_target,
        "epochs_to_target": run.epoch_to_target,
        "seconds_to_target": run.seconds_to_target,
        "comparison": run.verdict.to_dict() if run.verdict is not None else None,
        "timings": {"wall_s": run.wall_s},
        "history": None,
        "meta": {},
    }
    if h is not None:
        rec["timings"] = {
            "wall_s": run.wall_s,
            "compile_s": h.compile_s,
            "first_epoch_s": h.first_epoch_s,
            "steady_epoch_s": h.steady_epoch_s,
            "train_s": float(np.sum(h.epoch_s)),
            "epoch_s": h.epoch_s,
        }
        rec["history"] = {
            "step_loss": h.step_loss,
            "epoch_train_loss": h.epoch_train_loss,
            "epoch_test_acc": h.epoch_test_acc,
            "elapsed_s": run.elapsed_s,
        }
        rec["meta"] = h.meta
    return rec


def build_report(
    c: Comparison, run_id: str, run_dir: Path | None, argv: Sequence[str]
) -> dict[str, Any]:
    """The whole ``report.json`` document (schema in ``results/README.md``)."""
    cfg = c.plan.config
    any_wl = next(iter(c.plan.workloads.values()))
    seeds = {
        "seed": cfg.seed,
        "split": cfg.seed,
        "synthetic_data": cfg.seed if cfg.dataset.startswith("synthetic") else None,
        "init_params": [cfg.seed, 1],
        "batch_order": [cfg.seed, 2],
    }
    ref_runs = {
        r.mode: _final(r.history.epoch_train_loss)
        for r in c.runs
        if r.is_reference and r.history is not None
    }
    return {
        "schema": SCHEMA,
        "run_id": run_id,
        "command": ["harness", *argv],
        "started_utc": c.started_utc.isoformat(),
        "finished_utc": c.finished_utc.isoformat(),
        "config": {
            "dataset": cfg.dataset,
            "model": cfg.model,
            "optimizer": cfg.optimizer,
            "lr": any_wl.optimizer.lr,
            "epochs": cfg.epochs,
            "batch_size": cfg.batch_size,
            "dtype": cfg.dtype,
            "modes": list(cfg.modes),
            "reference": c.plan.reference.name,
            "targets": [t.name for t in c.plan.targets],
            "seeds": seeds,
        },
        "workloads": {mode: w.spec for mode, w in c.plan.workloads.items()},
        "target_loss": {
            "value": c.target_loss,
            "factor": TARGET_FACTOR,
            "definition": TARGET_LOSS_DEFINITION,
            "reference_final_train_loss": ref_runs,
        },
        "versions": versions(backend_distributions()),
        "backends": {t.name: t.version for t in c.plan.targets},
        "machine": machine(),
        "skipped": c.plan.skipped,
        "runs": [_run_record(c, r) for r in c.runs],
        "summary": summary(c, run_dir),
    }


def curve_rows(c: Comparison) -> Iterator[tuple[Any, ...]]:
    """``curves.csv`` rows: per-step loss, per-epoch train loss and test accuracy.

    ``index`` is the 0-based optimizer step (as in ``History.step_loss`` and the verdict's
    step numbers) for ``step`` rows, and the number of epochs done (1-based) for ``epoch``
    rows. ``elapsed_s`` is the cumulative steady training time (see :mod:`harness.runner`) at the
    end of the epoch; for step rows it is interpolated linearly within the step's epoch,
    since backends time epochs, not single steps.
    """
    for run in c.runs:
        h, el = run.history, run.elapsed_s
        if h is None or el is None:
            continue
        spe = c.plan.workloads[run.mode].steps_per_epoch
        start = np.concatenate([[0.0], el[:-1]])
        for k, loss in enumerate(np.asarray(h.step_loss, dtype=np.float64)):
            e, j = divmod(k, spe)
            t = start[e] + (el[e] - start[e]) * (j + 1) / spe
            yield (run.target, run.mode, "step", k, "batch_loss", _num(loss), _num(t))
        for e in range(len(h.epoch_train_loss)):
            t = _num(el[e])
            yield (
                run.target,
                run.mode,
                "epoch",
                e + 1,
                "train_loss",
                _num(h.epoch_train_loss[e]),
                t,
            )
            yield (run.target, run.mode, "epoch", e + 1, "test_acc", _num(h.epoch_test_acc[e]), t)


def _num(x: Any) -> str:
    f = float(x)
    return (
        repr(f) if math.isfinite(f) else ("nan" if math.isnan(f) else ("inf" if f > 0 else "-inf"))
    )


def curves_csv(c: Comparison) -> str:
    """The text of ``curves.csv``."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CURVE_COLUMNS)
    w.writerows(curve_rows(c))
    return buf.getvalue()


def write_run_files(
    c: Comparison, folder: Path, *, run_id: str, final: Path, argv: Sequence[str], plots: bool
) -> None:
    """Write ``report.json``, ``curves.csv`` and (with ``plots``) the PNGs into ``folder``.

    ``folder`` is normally a staged folder that becomes ``final`` once complete.
    """
    atomic_write_text(folder / "report.json", dumps(build_report(c, run_id, final, argv)))
    atomic_write_text(folder / "curves.csv", curves_csv(c))
    if plots:
        from harness import plots as plots_mod

        plots_mod.loss_vs_epoch(c, folder / "loss_vs_epoch.png")
        plots_mod.loss_vs_time(c, folder / "loss_vs_time.png")


def write_run(
    c: Comparison,
    base: Path,
    *,
    argv: Sequence[str],
    plots: bool = True,
    run_id: str | None = None,
) -> Path:
    """Write the run folder of ``c`` under ``base`` and return its final path."""
    run_id = run_id or new_run_id(c.started_utc)
    final = Path(base).expanduser() / run_id
    with staged_folder(Path(base), run_id) as tmp:
        write_run_files(c, tmp, run_id=run_id, final=final, argv=argv, plots=plots)
    return final


def mode_label(mode: str) -> str:
    """``full batch`` / ``mini-batch``."""
    return MODE_LABELS.get(mode, mode)


_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def safe_name(text: str) -> str:
    """``text`` usable as one path component (``torch:cpu`` -> ``torch_cpu``)."""
    return _SAFE.sub("_", text)
