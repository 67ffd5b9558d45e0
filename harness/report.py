"""Run folders of ``harness compare``: ``report.json``, ``curves.csv`` and the plots.

A run folder ``<base>/<UTC timestamp>-<short id>/`` is assembled under a hidden temporary
name (``.partial-...``) in the same base folder and renamed into place only when every file
in it is complete, and each file inside is itself written to a temporary name and renamed:
an interrupted run leaves no half-written report. The layout and the ``report.json`` schema
are documented in ``results/README.md``.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from harness import discovery, host
from harness.files import atomic_write_text, dumps, new_run_id, staged_folder
from harness.runner import (
    TARGET_FACTOR,
    TARGET_LOSS_DEFINITION,
    Comparison,
    Run,
)

SCHEMA = "harness.compare/1"
"""``report.json``'s ``schema`` value; bumped on any incompatible change."""

CURVE_COLUMNS = ("target", "mode", "unit", "index", "metric", "value", "elapsed_s")
"""``curves.csv`` header (long format, one value per row)."""


# -- report content ---------------------------------------------------------------------------


def _final(values: Any) -> float | None:
    arr = np.asarray(values, dtype=np.float64)
    return float(arr[-1]) if arr.size else None


def row(run: Run) -> dict[str, Any]:
    """The summary row of one run (one line of the CLI table).

    ``final_test_acc`` is None when the final train loss is not finite: the accuracy of
    a model whose loss is NaN is an artefact (NaN logits compare false), not a result.
    """
    h, v = run.history, run.verdict
    final_loss = _final(h.epoch_train_loss) if h is not None else None
    acc = _final(h.epoch_test_acc) if h is not None else None
    if final_loss is None or not math.isfinite(final_loss):
        acc = None
    return {
        "target": run.target,
        "mode": run.mode,
        "reference": run.is_reference,
        "status": run.status,
        "verdict": run.outcome,
        "final_train_loss": final_loss,
        "final_test_acc": acc,
        "median_epoch_s": h.steady_epoch_s if h is not None else None,
        "steps_to_target": run.steps_to_target,
        "seconds_to_target": run.seconds_to_target,
        "max_abs_diff": v.max_abs_diff if v is not None else None,
        "max_rel_diff": v.max_rel_diff if v is not None else None,
        "first_diverging_step": v.first_diverging_step if v is not None else None,
        "nonfinite_step": v.nonfinite_step if v is not None else None,
        "nonfinite_in": v.nonfinite_in if v is not None else None,
        "baseline": v.baseline if v is not None else None,
        "divergence": run.divergence,
        "summary": run.error or (v.summary() if v is not None else ""),
    }


def reference_nonfinite(c: Comparison) -> dict[str, int]:
    """``{mode: step}`` where the reference's own loss became non-finite.

    In such a mode the comparison cannot be judged: there is no trustworthy reference
    trajectory after that step (exit 1, with :func:`unjudged_message`).
    """
    out = {}
    for r in c.runs:
        if r.is_reference and r.verdict is not None and r.verdict.run_nonfinite_step is not None:
            out[r.mode] = r.verdict.run_nonfinite_step
    return out


def unjudged_message(c: Comparison) -> str:
    """The line saying the comparison could not be judged, or "" when it could."""
    bad = reference_nonfinite(c)
    if not bad:
        return ""
    from harness.plan import mode_label

    where = ", ".join(f"{mode_label(m)} at step {k}" for m, k in bad.items())
    return (
        f"cannot judge: the reference {c.plan.reference.name} itself became non-finite "
        f"({where}); training blew up, so no target can be shown to agree or disagree "
        "after that step (try a smaller --lr)"
    )


def summary(c: Comparison, run_dir: Path | None) -> dict[str, Any]:
    """What ``harness compare --json`` prints (also ``report.json``'s ``summary``)."""
    return {
        "ok": c.ok,
        "exit_code": 0 if c.ok else 1,
        "reference_nonfinite": reference_nonfinite(c),
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
        "divergence": run.divergence,
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
        "versions": host.versions(discovery.backend_distributions()),
        "backends": {t.name: t.version for t in c.plan.targets},
        "machine": host.machine(),
        "threads": c.threads,
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
    """Write ``report.json``, ``curves.csv``, (with ``plots``) the PNGs, then ``report.html``.

    ``folder`` is normally a staged folder that becomes ``final`` once complete.
    """
    doc = build_report(c, run_id, final, argv)
    atomic_write_text(folder / "report.json", dumps(doc))
    atomic_write_text(folder / "curves.csv", curves_csv(c))
    if plots:
        # matplotlib takes about a second to import: only runs that draw pay for it.
        from harness import plots as plots_mod

        plots_mod.loss_vs_epoch(c, folder / "loss_vs_epoch.png")
        plots_mod.loss_vs_time(c, folder / "loss_vs_time.png")
        plots_mod.scaled_difference(c, folder / "scaled_difference.png")
    # Imported here: commands.compare imports this module.
    from harness import html_report
    from harness.commands.compare import format_tables

    html_report.write(json.loads(dumps(doc)), format_tables(c), folder)


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
