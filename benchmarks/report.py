"""Tables from saved asv results: ratios to the floor, compile times, scaling exponents.

Run after a saved run (``asv run --python=same --set-commit-hash $(git rev-parse HEAD)``)::

    python benchmarks/report.py --machine NAME [--commit SHA] [--baseline TARGET]

Prints Markdown:

* steady-state epoch time per target, workload and mode, with the ratio to the hand-fused
  NumPy floor (``training.TimeEpoch``), per dtype; with ``--baseline TARGET`` also the ratio
  to that target;
* each target's epoch time over the floor's, measured side by side in one process
  (``training.TrackFloorRatio``);
* compilation seconds of the compiled targets (``training.TrackCompile``);
* epoch time against training rows and the fitted exponent (``scaling.TimeScaling``; also
  ``scaling.TrackScalingExponent`` when it ran);
* data-parallel epoch time per world size with speedup ``T(1)/T(N)`` and scaling
  efficiency ``T(1)/(N T(N))`` (``data_parallel.TimeDataParallelEpoch``; also
  ``data_parallel.TrackScalingEfficiency`` when it ran);
* the convergence tracks (final loss, test accuracy, epochs and seconds to the target loss,
  largest per-step loss difference against the reference).

A cell is ``n/a`` where the benchmark was skipped (target unavailable) or did not run.
"""

from __future__ import annotations

import argparse
import ast
import itertools
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FLOOR = "floor:cpu"


def _load(results_dir: Path, machine: str, commit: str | None) -> Any:
    from asv.results import iter_results_for_machine

    found = [
        r
        for r in iter_results_for_machine(str(results_dir), machine)
        if commit is None or r.commit_hash.startswith(commit)
    ]
    if not found:
        machines = sorted(p.name for p in results_dir.iterdir() if p.is_dir())
        raise SystemExit(
            f"no results for machine {machine!r}"
            + (f" and commit {commit!r}" if commit else "")
            + f" in {results_dir}; machines with results: {', '.join(machines) or '(none)'}"
        )
    return max(found, key=lambda r: r.date or 0)


def grid(results: Any, name: str) -> dict[tuple[str, ...], float]:
    """``{param values: result}`` of one parametrized benchmark (finite results only)."""
    try:
        params = results.get_result_params(name)
        values = results.get_result_value(name, params)
    except KeyError:
        return {}
    out = {}
    for combo, v in zip(itertools.product(*params), values, strict=True):
        if v is not None and math.isfinite(v):
            out[tuple(ast.literal_eval(p) for p in combo)] = float(v)
    return out


def fmt_s(s: float | None) -> str:
    """Seconds with a unit that keeps three significant digits."""
    if s is None:
        return "n/a"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s / 1e-9:.3g} ns"


def _targets(cells: dict[tuple[str, ...], float]) -> list[str]:
    names = sorted({k[0] for k in cells})
    return ([FLOOR] if FLOOR in names else []) + [n for n in names if n != FLOOR]


def ratio_tables(results: Any, baseline: str | None) -> list[str]:
    """Epoch time and its ratio to the floor (and to ``baseline``), one table per dtype."""
    cells = grid(results, "training.TimeEpoch.time_epoch")
    if not cells:
        return ["(no training.TimeEpoch.time_epoch results)"]
    lines = []
    columns = sorted({(k[1], k[2]) for k in cells}, key=lambda c: (c[0], c[1]))
    for dtype in sorted({k[3] for k in cells}):
        title = f"\n### Steady-state epoch time, {dtype} (x: ratio to {FLOOR}"
        lines += [title + (f"; second ratio: to {baseline})" if baseline else ")"), ""]
        lines.append("| target | " + " | ".join(f"{w} {m}" for w, m in columns) + " |")
        lines.append("|---" * (len(columns) + 1) + "|")
        for t in _targets(cells):
            row = []
            for w, m in columns:
                v = cells.get((t, w, m, dtype))
                f = cells.get((FLOOR, w, m, dtype))
                b = cells.get((baseline, w, m, dtype)) if baseline else None
                text = fmt_s(v)
                if v is not None and f:
                    text += f" ({v / f:.3g}x)"
                if v is not None and b:
                    text += f" ({v / b:.3g}x {baseline})"
                row.append(text)
            lines.append(f"| {t} | " + " | ".join(row) + " |")
    return lines


def overhead_table(results: Any) -> list[str]:
    """Epoch time over the floor's, measured interleaved in one process
    (``training.TrackFloorRatio``): one row per target, one column per mode and dtype."""
    cells = grid(results, "training.TrackFloorRatio.track_epoch_ratio")
    if not cells:
        return ["\n(no training.TrackFloorRatio results)"]
    columns = sorted({(k[1], k[2], k[3]) for k in cells})
    lines = [f"\n### Epoch time over {FLOOR}'s, measured side by side (ratio of medians)", ""]
    lines.append("| target | " + " | ".join(f"{w} {m} {d}" for w, m, d in columns) + " |")
    lines.append("|---" * (len(columns) + 1) + "|")
    for t in _targets(cells):
        row = [cells.get((t, *c)) for c in columns]
        lines.append(
            f"| {t} | " + " | ".join("n/a" if v is None else f"{v:.2f}x" for v in row) + " |"
        )
    return lines


def compile_table(results: Any) -> list[str]:
    """Compilation seconds per compiled target, configuration and dtype."""
    cells = grid(results, "training.TrackCompile.track_compile_s")
    if not cells:
        return ["\n(no compile times: no compiled target ran)"]
    lines = ["\n### Compilation seconds (first run in a fresh process)", ""]
    lines.append("| target | workload | mode | float32 | float64 |")
    lines.append("|---|---|---|---|---|")
    for t, w, m in sorted({k[:3] for k in cells}):
        vals = [fmt_s(cells.get((t, w, m, d))) for d in ("float32", "float64")]
        lines.append(f"| {t} | {w} | {m} | " + " | ".join(vals) + " |")
    allv = list(cells.values())
    lines.append(f"\nmedian {fmt_s(float(np.median(allv)))}, range {fmt_s(min(allv))} to ")
    lines[-1] += fmt_s(max(allv))
    return lines


def _rows(dataset: str) -> int:
    n = int(dataset.split(":")[1].split("x")[0])
    return n - math.ceil(0.2 * n)  # the training split (train_test_split, test_size=0.2)


def scaling_table(results: Any) -> list[str]:
    """Epoch time per training-set size and the exponent fitted over the 30-feature sweep."""
    cells = grid(results, "scaling.TimeScaling.time_epoch")
    tracked = grid(results, "scaling.TrackScalingExponent.track_exponent")
    if not cells:
        return ["\n(no scaling results)"]
    datasets = sorted({k[1] for k in cells}, key=lambda d: (int(d.split("x")[1]), _rows(d)))
    lines = ["\n### Scaling: steady-state epoch time (MLP 64-32, float32)", ""]
    lines.append(
        "| target | mode | " + " | ".join(datasets) + " | exponent (fit) | exponent (track) |"
    )
    lines.append("|---" * (len(datasets) + 4) + "|")
    for t in _targets(cells):
        for m in sorted({k[2] for k in cells}):
            sweep = [(d, cells.get((t, d, m))) for d in datasets if d.endswith("x30")]
            pts = [(_rows(d), v) for d, v in sweep if v]
            fit = (
                f"{np.polyfit(np.log([p[0] for p in pts]), np.log([p[1] for p in pts]), 1)[0]:.2f}"
                if len(pts) >= 2
                else "n/a"
            )
            tr = tracked.get((t, m))
            row = [fmt_s(cells.get((t, d, m))) for d in datasets]
            trs = f"{tr:.2f}" if tr is not None else "n/a"
            lines.append(f"| {t} | {m} | " + " | ".join(row) + f" | {fit} | {trs} |")
    return lines


def data_parallel_table(results: Any) -> list[str]:
    """Epoch time per world size, speedup ``T(1)/T(N)`` and efficiency ``T(1)/(N T(N))``."""
    cells = grid(results, "data_parallel.TimeDataParallelEpoch.time_epoch")
    tracked = grid(results, "data_parallel.TrackScalingEfficiency.track_efficiency")
    if not cells:
        return ["\n(no data-parallel results)"]
    lines = ["\n### Data parallel: steady epoch time per world size (digits MLP, float32)", ""]
    lines.append("| target | mode | N | epoch | speedup | efficiency | efficiency (track) |")
    lines.append("|---" * 7 + "|")
    bases = sorted({(t.rstrip("0123456789"), m) for t, m in cells})
    for base, mode in bases:
        t1 = cells.get((f"{base}1", mode))
        sizes = sorted(int(t[len(base) :]) for t, m in cells if m == mode and t.startswith(base))
        for n in sizes:
            tn = cells[(f"{base}{n}", mode)]
            speed = f"{t1 / tn:.2f}" if t1 and tn else "n/a"
            eff = f"{t1 / (n * tn):.2f}" if t1 and tn else "n/a"
            tr = tracked.get((base, mode)) if n == 2 else None
            trs = f"{tr:.2f}" if tr is not None else ""
            lines.append(f"| {base}{n} | {mode} | {n} | {fmt_s(tn)} | {speed} | {eff} | {trs} |")
    return lines


def convergence_table(results: Any) -> list[str]:
    """The convergence tracks, one row per target and configuration."""
    names = {
        "final loss": "TrackConvergence.track_final_loss",
        "test acc": "TrackConvergence.track_test_accuracy",
        "epochs to target": "TrackConvergence.track_epochs_to_target",
        "seconds to target": "TrackConvergence.track_seconds_to_target",
        "max loss diff vs ref": "TrackReferenceDiff.track_max_loss_diff",
        "max scaled diff vs ref": "TrackReferenceDiff.track_max_scaled_loss_diff",
    }
    tracks = {k: grid(results, f"training.{v}") for k, v in names.items()}
    keys = sorted(set().union(*[set(c) for c in tracks.values()]))
    if not keys:
        return ["\n(no convergence results)"]
    lines = ["\n### Convergence (seed 0; epochs and seconds: median of seeds 0-2)", ""]
    lines.append("| target | workload | mode | dtype | " + " | ".join(names) + " |")
    lines.append("|---" * (len(names) + 4) + "|")
    for key in sorted(keys, key=lambda k: (k[1], k[2], k[3], k[0] != FLOOR, k[0])):
        vals = []
        for label, cells in tracks.items():
            v = cells.get(key)
            if v is None:
                vals.append("n/a")
            elif label == "seconds to target":
                vals.append(fmt_s(v))
            elif label.startswith("max"):
                vals.append(f"{v:.2e}")
            else:
                vals.append(f"{v:.4g}")
        lines.append("| " + " | ".join(key) + " | " + " | ".join(vals) + " |")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Print the report for one machine's latest (or given) saved results."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--machine", required=True, help="asv machine name (see harness machine)")
    p.add_argument("--commit", help="commit hash prefix (default: the latest result)")
    p.add_argument("--baseline", help="also give each target's ratio to this target")
    p.add_argument("--results", default=str(ROOT / "results" / "asv"), help="asv results_dir")
    args = p.parse_args(argv)
    results = _load(Path(args.results), args.machine, args.commit)
    head = f"## asv results: machine {args.machine}, commit {results.commit_hash[:8]}"
    out = [head]
    out += ratio_tables(results, args.baseline)
    out += overhead_table(results)
    out += compile_table(results)
    out += scaling_table(results)
    out += data_parallel_table(results)
    out += convergence_table(results)
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
