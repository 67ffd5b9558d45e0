"""The comparison's curves as TensorBoard scalars (``--tensorboard DIR``), via tensorboardX.

Layout: ``DIR/<run id>/<target>/<mode>/`` holds one event file per target and mode, so
TensorBoard overlays the targets of one mode. Tags:

* ``train_loss`` and ``test_acc`` -- per epoch, at global step = epoch (1-based);
* ``batch_loss`` -- per optimizer step, at global step = the 0-based step index;
* every scalar's wall time is the run's start plus its cumulative steady training seconds,
  so TensorBoard's *relative* horizontal axis is loss against training time.

tensorboardX is imported lazily; :func:`require` gives a clear error when it is missing.
Event files are written under a hidden temporary folder and renamed into place at the end.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np

from harness.files import safe_name, staged_folder
from harness.runner import Comparison


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
            finally:
                writer.close()
    return Path(logdir).expanduser() / run_id
