"""``harness parity``: run the op parity suites through pytest and print the coverage matrix.

The suites ship inside the installed ``suites`` package (``suites/parity``); they are run as
``python -m pytest <suites>/parity --targets ... --reference ... --hypothesis-profile ...
--parity-out DIR`` in a subprocess, exactly as a developer would run them, and write
``DIR/report.json`` and ``DIR/coverage.md``. ``DIR`` is a run folder
``<--out>/<UTC timestamp>-<short id>/`` assembled under a temporary name and renamed when
pytest has finished. Extra pytest arguments go after ``--`` (``harness parity -- -k relu``).

The verdict is :mod:`harness.verdict`'s, per target, from the rows of ``report.json`` (the
harness' own machinery tests never count). Exit codes: 0 PASS, 1 FAIL (a check failed or
raised, or pytest stopped abnormally), 2 bad input (unknown target or profile, a bad
``--min-ops``, an unwritable folder; nothing runs), 3 NOTHING CHECKED (pytest collected
nothing, or no op check exercised a target) or TOO FEW OPS (under ``--min-ops``).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from harness import discovery, files, interrupt, verdict
from harness.cli import UsageError, add_targets_argument

NAME = "parity"
HELP = "run the op parity suites (pytest + Hypothesis) on the chosen targets; print coverage"
ORDER = 30

PROFILES = ("ci", "thorough")
"""Hypothesis profiles the suites register (``--hypothesis-profile``)."""

DEFAULT_OUT = Path("results/parity")

PYTEST_CODES = {
    0: "all tests passed",
    1: "some tests failed",
    2: "pytest was interrupted",
    3: "pytest hit an internal error",
    4: "pytest rejected its command line",
    5: "pytest collected no tests",
}

COVERAGE_SECTION = "harness parity coverage"
"""Title of the section in which the suites' pytest plugin prints the coverage matrix."""

_COUNT = re.compile(
    r"(\d+) (passed|failed|skipped|xfailed|xpassed|errors?|deselected|warnings?|subtests passed)"
)


def add_common_arguments(p: argparse.ArgumentParser) -> None:
    """``--reference`` and ``--profile`` (shared with ``check``)."""
    p.add_argument(
        "--reference",
        default=None,
        help="target the others are compared with (default: the highest-priority reference)",
    )
    p.add_argument(
        "--profile",
        "--hypothesis-profile",
        dest="profile",
        default="ci",
        help=f"Hypothesis profile: {', '.join(PROFILES)} (default %(default)s)",
    )
    add_min_ops_argument(p)
    add_workers_argument(p)


def add_workers_argument(p: argparse.ArgumentParser) -> None:
    """``--workers N|auto`` (shared with ``check``)."""
    p.add_argument(
        "--workers",
        default="auto",
        metavar="N|auto",
        help="pytest-xdist worker processes: a positive integer, 1 to run in this one "
        "process, or auto, one per usable CPU core (default %(default)s); the report is the "
        "serial run's whatever the number",
    )


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity else os.cpu_count() or 1


def workers_args(args: argparse.Namespace) -> list[str]:
    """pytest's arguments for ``--workers`` (none for 1), or a usage error naming the option
    and the valid values. A ``-n`` / ``--numprocesses`` among the extra pytest arguments
    wins: it is the user's own."""
    raw = str(getattr(args, "workers", "auto")).strip()
    if raw == "auto":
        n = usable_cores()
    else:
        try:
            n = int(raw)
        except ValueError:
            n = 0
        if n < 1:
            raise UsageError(f"--workers: expected a positive integer or auto, got {raw!r}")
    extra = pytest_extra(args)
    if any(a in ("-n", "--numprocesses") or a.startswith(("-n", "--numprocesses=")) for a in extra):
        return []
    return [] if n == 1 else ["-n", str(n)]


def add_min_ops_argument(p: argparse.ArgumentParser) -> None:
    """``--min-ops N`` (shared with ``check``)."""
    p.add_argument(
        "--min-ops",
        default=None,
        metavar="N",
        help="fail as TOO FEW OPS (exit 3) unless at least N catalog ops were exercised on "
        "each target (1 to the catalog's size; for plugin CI)",
    )


def validate_min_ops(args: argparse.Namespace) -> int | None:
    """``--min-ops`` as an int, or a usage error naming the option and the valid range."""
    try:
        return verdict.validate_min_ops(getattr(args, "min_ops", None))
    except verdict.MinOpsError as e:
        raise UsageError(str(e)) from None


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``harness parity``."""
    add_targets_argument(p)
    add_common_arguments(p)
    p.add_argument(
        "--out", default=str(DEFAULT_OUT), help="base folder of run folders (default %(default)s)"
    )
    p.add_argument(
        "--json", action="store_true", help="print a JSON summary (pytest's output goes to stderr)"
    )
    p.add_argument(
        "pytest_args",
        nargs="*",
        metavar="-- PYTEST_ARGS",
        help="extra arguments for pytest, after -- (e.g. -- -k relu -x)",
    )


def _suites_roots() -> list[Path]:
    """Folders of the ``harness.suites`` package (installed from the repository's suites/)."""
    try:
        pkg = importlib.import_module("harness.suites")
    except ImportError:
        return []
    return [Path(p) for p in getattr(pkg, "__path__", [])]


def suites_dir(name: str) -> Path:
    """The folder ``name`` of the ``suites`` package (``parity``, ``training``)."""
    roots = _suites_roots()
    if not roots:
        raise UsageError("the suites (harness.suites) are not installed with harness")
    for root in roots:
        d = root / name
        if d.is_dir():
            return d
    found = sorted(
        p.name for root in roots for p in root.iterdir() if (p / "__init__.py").is_file()
    )
    raise UsageError(
        f"no suites/{name} folder in the suites package; present: {', '.join(found) or '(none)'}"
    )


def validate_profile(profile: str) -> str:
    """``profile`` if it is a known Hypothesis profile, else a usage error naming them."""
    if profile not in PROFILES:
        raise UsageError(f"unknown profile {profile!r}; valid choices: {', '.join(PROFILES)}")
    return profile


@dataclass
class SuiteResult:
    """One pytest run of a suite folder."""

    suite: str
    command: list[str]
    returncode: int
    counts: dict[str, int] = field(default_factory=dict)
    """pytest's final tally (passed, failed, skipped, ...)."""
    report: Any = None
    """The suite's ``report.json`` (parsed), or None if it wrote none."""
    coverage: str | None = None
    """The suite's ``coverage.md``, or None."""
    out_dir: Path | None = None
    coverage_shown: bool = False
    """pytest's own output already held the coverage matrix (the suites' plugin prints it)."""

    @property
    def ok(self) -> bool:
        """pytest exited 0."""
        return self.returncode == 0

    @property
    def status(self) -> str:
        """``PASS`` or ``FAIL (reason)``."""
        if self.ok:
            return "PASS"
        return f"FAIL ({PYTEST_CODES.get(self.returncode, f'exit {self.returncode}')})"

    def tally(self) -> str:
        """``12 passed, 3 skipped`` (or pytest's exit description)."""
        if not self.counts:
            return PYTEST_CODES.get(self.returncode, f"pytest exit {self.returncode}")
        return ", ".join(f"{n} {k}" for k, n in self.counts.items())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "suite": self.suite,
            "ok": self.ok,
            "pytest_exit_code": self.returncode,
            "counts": self.counts,
            "command": self.command,
            "out_dir": str(self.out_dir) if self.out_dir else None,
            "report": self.report,
            "coverage": self.coverage,
        }


def run_suite(
    suite: str | Sequence[str],
    *,
    targets: list[str],
    reference: str,
    profile: str,
    parity_out: Path,
    extra: list[str],
    echo: TextIO,
    cache_dir: Path | None = None,
    shown_as: Path | None = None,
) -> SuiteResult:
    """Run ``suites/<suite>`` (or several suite folders, in one pytest) through pytest in a
    subprocess, echoing its output to ``echo``.

    ``shown_as`` is where ``parity_out`` will be once its staged run folder is renamed into
    place: the echoed output and the recorded command name that path, never the staging
    folder that is gone when the command ends.

    pytest's cache (what ``--lf`` / ``--ff`` read) goes to ``cache_dir``, a folder of ours
    (:func:`cache_folder`), never a ``.pytest_cache`` in the user's working folder; without
    one the cache is off.
    """
    names = [suite] if isinstance(suite, str) else list(suite)
    folders = [str(suites_dir(name)) for name in names]
    parity_out.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        *folders,
        "--targets",
        ",".join(targets),
        "--reference",
        reference,
        "--hypothesis-profile",
        profile,
        "--parity-out",
        str(parity_out),
        "--checks-only",  # machinery tests never count for the verdict (harness.verdict)
        *(["-o", f"cache_dir={cache_dir}"] if cache_dir else ["-p", "no:cacheprovider"]),
        *extra,
    ]
    last_lines: list[str] = []
    shown = False

    def on_line(line: str) -> None:
        nonlocal last_lines, shown
        if shown_as is not None:
            line = line.replace(str(parity_out), str(shown_as))
        echo.write(line)
        echo.flush()
        last_lines = [*last_lines[-19:], line]
        shown = shown or COVERAGE_SECTION in line

    rc = _stream(cmd, on_line)
    counts = _tally(last_lines)
    rep = None
    rp = parity_out / "report.json"
    if rp.is_file():
        try:
            rep = json.loads(rp.read_text())
        except ValueError:
            rep = None
    cov = parity_out / "coverage.md"
    return SuiteResult(
        suite=",".join(names),
        command=[
            "python",
            "-m",
            "pytest",
            *(
                str(shown_as) if shown_as is not None and c == str(parity_out) else c
                for c in cmd[3:]
            ),
        ],
        returncode=rc,
        counts=counts,
        report=rep,
        coverage=cov.read_text() if cov.is_file() else None,
        out_dir=parity_out,
        coverage_shown=shown,
    )


POLL_S = 0.2
"""How often the output loop looks for a Ctrl-C while pytest is silent."""


def _stream(cmd: list[str], on_line: Callable[[str], None]) -> int:
    """Run ``cmd``, hand each output line to ``on_line``, return its exit code.

    Ctrl-C (:mod:`harness.interrupt`) stops it cleanly.

    pytest runs in a session of its own, so a terminal's Ctrl-C reaches only us: delivered
    to both, it lands in pytest at any point (measured: Hypothesis' gc callback printed
    "Exception ignored ... KeyboardInterrupt" while pytest wrote its report). We end the
    child ourselves at the next line or within :data:`POLL_S`, then raise.
    """
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
        start_new_session=True,
    )  # fmt: skip
    assert proc.stdout is not None
    lines: queue.Queue[str | None] = queue.Queue()

    def pump(stream: TextIO) -> None:
        for line in stream:
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=pump, args=(proc.stdout,), daemon=True)
    reader.start()
    try:
        while True:
            interrupt.check()
            try:
                line = lines.get(timeout=POLL_S)
            except queue.Empty:
                continue
            if line is None:
                reader.join()  # it has seen the end of the output and is about to return
                return proc.wait()
            on_line(line)
    finally:
        # The whole process group: pytest-xdist's workers are pytest's children, in its
        # session, and hold the pipe open after pytest itself has gone.
        if proc.poll() is None or reader.is_alive():
            _signal_group(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            reader.join(timeout=10)
            if reader.is_alive():
                _signal_group(proc.pid, signal.SIGKILL)
                reader.join(timeout=10)
            proc.wait()
        if not reader.is_alive():  # else it still reads: closing under it would raise there
            proc.stdout.close()


def _signal_group(pgid: int, sig: int) -> None:
    """Send ``sig`` to the process group ``pgid`` (gone already: nothing to do)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _tally(lines: list[str]) -> dict[str, int]:
    """pytest's final ``== 3 failed, 10 passed in 1.2s ==`` line as counts."""
    for line in reversed(lines):
        found = _COUNT.findall(line)
        if found and (" in " in line or line.startswith("=")):
            out: dict[str, int] = {}
            for n, kind in found:
                kind = {"error": "errors", "warning": "warnings"}.get(kind, kind)
                out[kind] = out.get(kind, 0) + int(n)
            return out
    return {}


CACHE_FOLDER = ".pytest-cache"
"""pytest's cache inside the base folder of run folders (kept across runs, for ``--lf``)."""

START_FAILURES = (2, 3, 4)
"""pytest exit codes that, without a report, mean the suites never ran (nothing to keep)."""


def cache_folder(out: Path) -> Path:
    """Where pytest's cache lives for run folders under ``out`` (absolute)."""
    return (Path(out).expanduser() / CACHE_FOLDER).resolve()


class _NotStarted(Exception):
    """pytest did not run the suites: the staged run folder is discarded."""


def exit_code(returncode: int) -> int:
    """harness's exit code for a pytest exit code (4, pytest's usage error, is ours too)."""
    return {0: 0, 4: 2}.get(returncode, 1)


def pytest_extra(args: argparse.Namespace) -> list[str]:
    """The extra pytest arguments, without a leading ``--``."""
    extra = list(getattr(args, "pytest_args", []) or [])
    return extra[1:] if extra[:1] == ["--"] else extra


def run(args: argparse.Namespace) -> int:
    """Validate, run the parity suites, print the coverage matrix and the verdict."""
    profile = validate_profile(args.profile)
    min_ops = validate_min_ops(args)
    workers = workers_args(args)
    files.check_writable(Path(args.out), "--out")
    selected = discovery.select(args.targets, require_available=True).targets
    targets = [t.name for t in selected]
    reference = discovery.resolve_reference(args.reference)
    suites_dir("parity")
    run_id = files.new_run_id()
    final = Path(args.out).expanduser() / run_id
    echo = sys.stderr if args.json else sys.stdout
    res: SuiteResult | None = None
    try:
        with files.staged_folder(Path(args.out), run_id) as tmp:  # pytest's errors are its own
            res = run_suite(
                "parity",
                targets=targets,
                reference=reference.name,
                profile=profile,
                parity_out=tmp,
                extra=[*workers, *pytest_extra(args)],
                echo=echo,
                cache_dir=cache_folder(Path(args.out)),
                shown_as=final,
            )
            if res.report is None and res.returncode in START_FAILURES:
                raise _NotStarted
    except _NotStarted:
        assert res is not None
        print(
            f"harness parity: error: {PYTEST_CODES[res.returncode]} (pytest exit "
            f"{res.returncode}, its output is above); no run folder was written",
            file=sys.stderr,
        )
        return exit_code(res.returncode)
    res.out_dir = final
    v = judge(res, selected, training_expected=False, min_ops=min_ops)
    code = 2 if exit_code(res.returncode) == 2 else v.exit_code
    if args.json:
        doc = {
            "ok": code == 0,
            "exit_code": code,
            "outcome": v.outcome,
            "targets": targets,
            "reference": reference.name,
            "profile": profile,
            "verdict": v.to_dict(),
            **res.to_dict(),
        }
        print(files.dumps(doc), end="")
        return code
    print()
    if res.coverage and not res.coverage_shown:
        print(res.coverage.rstrip())
        print()
    elif not res.coverage:
        print(f"(the suites wrote no coverage.md in {final})")
    print(f"pytest: {res.tally()}")
    for line in v.lines():
        print(line)
    print(f"parity {v.outcome}")
    print(f"wrote {final}")
    return code


def judge(
    res: SuiteResult,
    targets: Sequence[discovery.Target],
    *,
    training_expected: bool,
    min_ops: int | None,
) -> verdict.Verdict:
    """The verdict (:func:`harness.verdict.judge`) of a suites run over ``targets``."""
    return verdict.judge(
        [t.name for t in targets],
        res.report,
        pytest_exit=res.returncode,
        declares_training={t.name: t.backend.capabilities.training for t in targets},
        training_expected=training_expected,
        min_ops=min_ops,
    )
