"""The plots of ``harness compare`` drawn in worker processes (:class:`harness.plots.Painter`):
the same bytes as drawn in the command's process, matplotlib never loaded there, and a
worker's death costs nothing but the time to draw them in-process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from harness import plan as plan_mod
from harness import plots, runner

from .conftest import subprocess_env

_SCRIPT = """
import sys
from pathlib import Path
from harness import plan as plan_mod, plots, runner

a, b = Path(sys.argv[1]), Path(sys.argv[2])
config = plan_mod.CompareConfig(targets="numpy:cpu", epochs=3)
c = runner.execute(plan_mod.plan(config))
painter = plots.Painter(2)
try:
    plots.draw_all(c, a, painter)
finally:
    painter.close()
assert "matplotlib" not in sys.modules, "the painter drew in this process"
plots.draw_all(c, b)
"""


def _comparison() -> runner.Comparison:
    return runner.execute(plan_mod.plan(plan_mod.CompareConfig(targets="numpy:cpu", epochs=3)))


def test_workers_draw_the_same_bytes_and_matplotlib_stays_out_of_the_command(
    tmp_path: Path,
) -> None:
    a, b = tmp_path / "workers", tmp_path / "here"
    a.mkdir()
    b.mkdir()
    out = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(a), str(b)],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    for name, _ in plots.FIGURES:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_a_dead_worker_costs_no_plot(tmp_path: Path) -> None:
    c = _comparison()
    painter = plots.Painter(1)
    try:
        for pid in painter.group.pids:
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while painter.group.alive and time.monotonic() < deadline:
            time.sleep(0.05)
        plots.draw_all(c, tmp_path, painter)
    finally:
        painter.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(n for n, _ in plots.FIGURES)
