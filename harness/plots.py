"""PNG plots of a comparison: loss against epoch and loss against training time.

matplotlib is imported only when a plot is drawn, and only its object-oriented API with the
Agg canvas is used (no pyplot, no global backend switch), so plotting works without a
display and leaves the caller's matplotlib state alone.

Each figure has one panel per compared mode, side by side (full batch left, mini-batch
right), one line per target, and the target loss as a dashed horizontal line. A panel is
:data:`PANEL_INCHES` at :data:`DPI`: two panels make a 1200 x 450 pixel image, one panel
600 x 450 (``bbox_inches`` is not "tight", so the size is exact).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from harness.files import atomic_write_bytes
from harness.plan import mode_label
from harness.runner import Comparison

DPI = 100
PANEL_INCHES = (6.0, 4.5)


def figure_size_px(n_panels: int) -> tuple[int, int]:
    """(width, height) in pixels of a figure with ``n_panels`` panels."""
    return (round(PANEL_INCHES[0] * n_panels * DPI), round(PANEL_INCHES[1] * DPI))


def _figure(n_panels: int) -> tuple[Any, list[Any]]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(PANEL_INCHES[0] * n_panels, PANEL_INCHES[1]), dpi=DPI)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, n_panels, squeeze=False)[0]
    return fig, list(axes)


def _draw(c: Comparison, path: Path, x_of: str, xlabel: str) -> None:
    fig, axes = _figure(len(c.modes))
    for ax, mode in zip(axes, c.modes, strict=True):
        positive, any_finite = True, False
        min_x = np.inf
        for run in (r for r in c.runs if r.mode == mode):
            h = run.history
            if h is None or run.elapsed_s is None:
                continue
            y = np.asarray(h.epoch_train_loss, dtype=np.float64)
            x = np.arange(1, len(y) + 1) if x_of == "epoch" else run.elapsed_s
            finite = np.isfinite(y) & np.isfinite(x)
            if finite.any():
                any_finite = True
                min_x = min(min_x, float(np.min(x[finite])))
            positive &= bool(np.all(y[finite] > 0))
            label = f"{run.target} (reference)" if run.is_reference else run.target
            style = "-" if run.is_reference else "--"
            ax.plot(x[finite], y[finite], style, label=label, linewidth=1.5)
        if c.target_loss is not None:
            ax.axhline(c.target_loss, color="grey", linestyle=":", linewidth=1, label="target loss")
        if c.target_loss is not None and c.target_loss <= 0:
            positive = False
        if not any_finite:
            ax.text(0.5, 0.5, "no finite loss", ha="center", va="center", transform=ax.transAxes)
        elif positive:
            ax.set_yscale("log")
        spe = c.plan.workloads[mode].steps_per_epoch
        ax.set_title(f"{mode_label(mode)} ({spe} step{'s' if spe != 1 else ''} per epoch)")
        if x_of == "time" and any_finite and min_x > 0:
            # Backends differ in speed by orders of magnitude; a log axis shows them all.
            ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("train loss (whole train split)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize="small")
    cfg = c.plan.config
    lr = next(iter(c.plan.workloads.values())).optimizer.lr
    fig.suptitle(
        f"{cfg.dataset} {cfg.model} {cfg.optimizer} lr={lr:g} {cfg.dtype} seed={cfg.seed}",
        fontsize="medium",
    )
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    atomic_write_bytes(path, buf.getvalue())


def loss_vs_epoch(c: Comparison, path: Path) -> None:
    """``loss_vs_epoch.png``: train loss after each epoch, one line per target."""
    _draw(c, path, "epoch", "epoch")


def loss_vs_time(c: Comparison, path: Path) -> None:
    """``loss_vs_time.png``: train loss against cumulative steady training seconds."""
    _draw(c, path, "time", "training seconds (steady, evaluation excluded)")
