"""``harness diff RUN_A RUN_B``: two saved run folders of ``harness compare`` side by side.

Configuration, versions and machine (what differs), then per target and mode the final
loss of each and the largest per-step loss difference, judged with the trajectory
tolerance (:func:`harness.trajectory.compare`, RUN_A as the reference), beside RUN_A's
baseline for that row (its reference backend's own float32 vs float64 difference on the
same case, :class:`harness.trajectory.Baseline`: how large a difference mere rounding
makes), and the ratio of steady epoch times. Exit 0 when every common target and mode
agrees, 1 when their numbers differ beyond the tolerance (or a target and mode is in only
one folder), 2 on bad input: a missing folder, a folder without a ``harness.compare``
report.json, or two different workloads (:data:`WORKLOAD_FIELDS`; the fields that differ are named).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from harness.cli import UsageError
from harness.contract import History
from harness.trajectory import Baseline, compare

NAME = "diff"
HELP = "compare two saved run folders of harness compare: config, versions, losses, timings"
ORDER = 25

WORKLOAD_FIELDS = ("dataset", "model", "epochs", "batch_size", "dtype", "modes")
"""Configuration fields that fix the step schedule and the tolerance: two runs that differ
in one are different workloads, whose numbers cannot be set side by side (exit 2). A
different learning rate, optimizer or seed is the same workload with other numbers: it is
shown, and the losses then differ (exit 1)."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``harness diff``."""
    p.add_argument("run_a", metavar="RUN_A", help="a run folder (the one compared against)")
    p.add_argument("run_b", metavar="RUN_B", help="another run folder")
    p.add_argument("--json", action="store_true", help="print the comparison as JSON")


def load(folder: str) -> dict[str, Any]:
    """The ``report.json`` of a run folder; :class:`UsageError` when it is not one."""
    path = Path(folder).expanduser()
    if not path.is_dir():
        raise UsageError(f"{folder!r} is not a folder")
    rep = path / "report.json"
    if not rep.is_file():
        raise UsageError(f"{folder!r} is not a run folder (no report.json)")
    try:
        doc = json.loads(rep.read_text())
    except (OSError, ValueError) as e:
        raise UsageError(f"{folder!r}: report.json cannot be read ({e})") from None
    if not isinstance(doc, dict) or not str(doc.get("schema", "")).startswith("harness.compare/"):
        raise UsageError(f"{folder!r} is not a harness compare run folder (schema)")
    return doc


def _history(run: dict[str, Any]) -> History | None:
    h = run.get("history")
    if not h:
        return None

    def arr(xs: list[Any]) -> np.ndarray:
        return np.array([np.nan if x is None else x for x in xs], dtype=np.float64)

    return History(
        step_loss=arr(h["step_loss"]),
        epoch_train_loss=arr(h["epoch_train_loss"]),
        epoch_test_acc=arr(h["epoch_test_acc"]),
        epoch_s=np.zeros(len(h["epoch_train_loss"])),
        final_params=[],
    )


def _changed(a: dict[str, Any], b: dict[str, Any]) -> dict[str, list[Any]]:
    return {k: [a.get(k), b.get(k)] for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}


def diff(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """The comparison document of two reports (raises :class:`UsageError` on other workloads)."""
    ca, cb = a["config"], b["config"]
    differ = [f for f in WORKLOAD_FIELDS if ca.get(f) != cb.get(f)]
    if differ:
        what = "; ".join(f"{f}: {ca.get(f)!r} vs {cb.get(f)!r}" for f in differ)
        raise UsageError(f"the two runs are different workloads ({what})")
    dtype = ca["dtype"]
    runs_a = {(r["target"], r["mode"]): r for r in a["runs"]}
    runs_b = {(r["target"], r["mode"]): r for r in b["runs"]}
    rows = []
    for key in [*runs_a, *(k for k in runs_b if k not in runs_a)]:
        ra, rb = runs_a.get(key), runs_b.get(key)
        row: dict[str, Any] = {"target": key[0], "mode": key[1], "baseline": _baseline(ra)}
        ha = _history(ra) if ra else None
        hb = _history(rb) if rb else None
        if ra is None or rb is None or ha is None or hb is None:
            row.update(agrees=False, summary="only in one run, or a run without a history")
            rows.append(row)
            continue
        v = compare(ha, hb, dtype)
        same_blowup = v.outcome == "non-finite" and v.nonfinite_in == "both"
        ta = (ra.get("timings") or {}).get("steady_epoch_s")
        tb = (rb.get("timings") or {}).get("steady_epoch_s")
        row.update(
            final_loss_a=_last(ha.epoch_train_loss),
            final_loss_b=_last(hb.epoch_train_loss),
            max_abs_diff=v.max_abs_diff,
            max_scaled_diff=v.max_rel_diff,
            first_differing_step=None if same_blowup else v.first_diverging_step,
            agrees=v.agrees or same_blowup,
            epoch_s_a=ta,
            epoch_s_b=tb,
            time_ratio=(tb / ta) if ta and tb else None,
            summary="same non-finite step in both" if same_blowup else v.summary(),
        )
        rows.append(row)
    agrees = all(r["agrees"] for r in rows)
    return {
        "ok": agrees,
        "exit_code": 0 if agrees else 1,
        "run_a": a["run_id"],
        "run_b": b["run_id"],
        "config": _changed(ca, cb),
        "versions": _changed(a.get("versions", {}), b.get("versions", {})),
        "machine": _changed(a.get("machine", {}), b.get("machine", {})),
        "tolerance": next(
            (r["comparison"]["tolerance"] for r in a["runs"] if r.get("comparison")), None
        ),
        "rows": rows,
    }


def _baseline(run: dict[str, Any] | None) -> dict[str, Any] | None:
    """The baseline RUN_A recorded beside this row's verdict (None without one)."""
    return ((run or {}).get("comparison") or {}).get("baseline")


def _baseline_cell(b: dict[str, Any] | None) -> str:
    return "-" if not b else f"{b['scaled_diff']:.2e} @{b['step']}"


def _last(x: np.ndarray) -> float | None:
    return float(x[-1]) if x.size and math.isfinite(float(x[-1])) else None


def _f(x: Any, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def format_diff(d: dict[str, Any]) -> str:
    """The plain-text side-by-side view."""
    lines = [f"A {d['run_a']}  vs  B {d['run_b']}"]
    for part in ("config", "versions", "machine"):
        if d[part]:
            lines.append(f"{part} differs:")
            lines += [f"  {k}: {va!r} -> {vb!r}" for k, (va, vb) in d[part].items()]
        else:
            lines.append(f"{part}: same")
    head = [
        "target",
        "mode",
        "final A",
        "final B",
        "max |dloss|",
        "max scaled",
        "baseline A",
        "B/A time",
        "verdict",
    ]
    body = [
        [
            r["target"],
            r["mode"],
            _f(r.get("final_loss_a"), ".6g"),
            _f(r.get("final_loss_b"), ".6g"),
            _f(r.get("max_abs_diff"), ".2e"),
            _f(r.get("max_scaled_diff"), ".2e"),
            _baseline_cell(r.get("baseline")),
            _f(r.get("time_ratio"), ".3g"),
            "same" if r["agrees"] else "differs",
        ]
        for r in d["rows"]
    ]
    widths = [max(len(x[i]) for x in [head, *body]) for i in range(len(head))]
    lines += [
        "  ".join(s.ljust(w) for s, w in zip(x, widths, strict=True)).rstrip()
        for x in [head, *body]
    ]
    lines += [
        f"  {r['target']} {r['mode']}: {r['summary']}"
        + (f" [baseline A: {Baseline(**r['baseline']).text()}]" if r.get("baseline") else "")
        for r in d["rows"]
        if not r["agrees"]
    ]
    lines.append(
        "OK: the two runs agree within the trajectory tolerance" if d["ok"] else "DIFFER: see above"
    )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Load both folders, compare, print; exit 0 / 1 / 2."""
    d = diff(load(args.run_a), load(args.run_b))
    if args.json:
        from harness.files import dumps

        print(dumps(d), end="")
    else:
        print(format_diff(d))
    return int(d["exit_code"])
