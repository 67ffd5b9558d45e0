"""The comparison's curves as TensorBoard scalars (``--tensorboard DIR``), via tensorboardX.

Layout: ``DIR/<run id>/<target>/<mode>/`` holds one event file per target and mode, so
TensorBoard overlays the targets of one mode. Tags:

* ``train_loss`` and ``test_acc`` -- per epoch, at global step = epoch (1-based);
* ``batch_loss`` -- per optimizer step, at global step = the 0-based step index;
* every scalar's wall time is the run's start plus its cumulative steady training seconds,
  so TensorBoard's *relative* horizontal axis is loss against training time;
* ``scaled_difference`` -- per step, ``|loss_k - ref_k| / scale_k`` against the reference
  (:func:`harness.trajectory.scaled_differences`; NaN at non-finite steps), and
  ``tolerance`` -- the ``rtol(k)`` it is held against, both at global step = step index;
* ``verdict`` (text) -- the outcome and its one-line summary;
* the configuration as hparams (HPARAMS tab: dataset, model, optimizer, lr, epochs,
  batch size, dtype, seed, target, mode, reference) with the metrics ``hparam/final_train_loss``
  and ``hparam/max_scaled_diff``, written into the same event file as the scalars.

tensorboardX is imported lazily; :func:`require` gives a clear error when it is missing.
Event files are written under a hidden temporary folder and renamed into place at the end.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from harness.files import safe_name, staged_folder
from harness.runner import Comparison, Run
from harness.trajectory import TOLERANCES, scaled_differences


class TensorBoardUnavailable(ValueError):
    """``--tensorboard`` was asked for but tensorboardX cannot be imported (exit 2)."""


def require() -> ModuleType:
    """Import tensorboardX or raise :class:`TensorBoardUnavailable` saying how to get it."""
    try:
        import tensorboardX
    except ImportError as e:
        raise TensorBoardUnavailable(
            f"--tensorboard needs tensorboardX, which cannot be imported ({e}); install it "
            "with: pip install 'autodiff-harness[tensorboard]' (or pip install tensorboardX)"
        ) from None
    return tensorboardX


def write(c: Comparison, logdir: Path, run_id: str) -> Path:
    """Write every run's curves under ``logdir/run_id`` and return that folder."""
    tbx = require()
    t0 = c.started_utc.timestamp()
    with staged_folder(Path(logdir), run_id) as tmp:
        for run in c.runs:
            h, el = run.history, run.elapsed_s
            if h is None or el is None:
                continue
            spe = c.plan.workloads[run.mode].steps_per_epoch
            out = tmp / safe_name(run.target) / run.mode
            writer = tbx.SummaryWriter(logdir=str(out))
            try:
                start = np.concatenate([[0.0], el[:-1]])
                for k, loss in enumerate(np.asarray(h.step_loss, dtype=np.float64)):
                    e, j = divmod(k, spe)
                    t = start[e] + (el[e] - start[e]) * (j + 1) / spe
                    writer.add_scalar("batch_loss", float(loss), k, walltime=t0 + t)
                for e in range(len(h.epoch_train_loss)):
                    wt = t0 + float(el[e])
                    writer.add_scalar(
                        "train_loss", float(h.epoch_train_loss[e]), e + 1, walltime=wt
                    )
                    writer.add_scalar("test_acc", float(h.epoch_test_acc[e]), e + 1, walltime=wt)
                _write_differential(c, run, writer, t0)
                _write_hparams(tbx, c, run, writer)
            finally:
                writer.close()
    return Path(logdir).expanduser() / run_id


def _write_differential(c: Comparison, run: Run, writer: Any, t0: float) -> None:
    """The scaled difference to the reference per step, its tolerance, and the verdict."""
    ref = c.run(c.plan.reference.name, run.mode)
    dtype = c.plan.config.dtype
    if ref is not None and ref.history is not None and run.history is not None:
        d = scaled_differences(ref.history.step_loss, run.history.step_loss, dtype)
        tol = TOLERANCES[dtype].rtol(np.arange(d.size))
        for k in range(d.size):
            writer.add_scalar("scaled_difference", float(d[k]), k, walltime=t0)
            writer.add_scalar("tolerance", float(tol[k]), k, walltime=t0)
    why = run.error or (run.verdict.summary() if run.verdict is not None else "")
    role = " (the reference, against itself)" if run.is_reference else ""
    writer.add_text("verdict", f"**{run.outcome}**{role}: {why}", 0, walltime=t0)


def _write_hparams(tbx: ModuleType, c: Comparison, run: Run, writer: Any) -> None:
    """The configuration as hparams, in the run's own event file (not a sub-run)."""
    cfg = c.plan.config
    lr = next(iter(c.plan.workloads.values())).optimizer.lr
    hp = {
        "dataset": cfg.dataset,
        "model": cfg.model,
        "optimizer": cfg.optimizer,
        "lr": float(lr),
        "epochs": cfg.epochs,
        "batch_size": c.plan.workloads[run.mode].spec["batch_size"],
        "dtype": cfg.dtype,
        "seed": cfg.seed,
        "target": run.target,
        "mode": run.mode,
        "reference": c.plan.reference.name,
        "verdict": run.outcome,
    }
    h, v = run.history, run.verdict
    final = float(h.epoch_train_loss[-1]) if h is not None and len(h.epoch_train_loss) else np.nan
    metrics = {
        "hparam/final_train_loss": final,
        "hparam/max_scaled_diff": float(v.max_rel_diff) if v is not None else np.nan,
    }
    # SummaryWriter.add_hparams would open a sub-run per call; these summaries are what it
    # writes, put into this run's file so one target and mode stays one event file.
    exp, ssi, sei = tbx.summary.hparams(hp, metrics)
    fw = writer._get_file_writer()
    for summ in (exp, ssi, sei):
        fw.add_summary(summ)
    for k, val in metrics.items():
        writer.add_scalar(k, val, 0)
