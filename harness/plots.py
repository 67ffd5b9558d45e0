"""PNG plots of a comparison: loss against epoch and time, and the difference to the reference.

matplotlib is imported only when a plot is drawn, and only its object-oriented API with the
Agg canvas is used (no pyplot, no global backend switch), so plotting works without a
display and leaves the caller's matplotlib state alone.

Each figure has one panel per compared mode, side by side (full batch left, mini-batch
right), one line per target, and the target loss as a dashed horizontal line. A panel is
:data:`PANEL_INCHES` at :data:`DPI`: two panels make a 1200 x 450 pixel image, one panel
600 x 450 (``bbox_inches`` is not "tight", so the size is exact). A curve that became
non-finite is drawn up to its last finite point, crossed out there, and its legend entry
names the step. :func:`scaled_difference` draws the differential view: each target's scaled
step difference to the reference against the verdict's tolerance curve.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from harness.files import atomic_write_bytes
from harness.plan import mode_label
from harness.runner import Comparison, Run
from harness.trajectory import TOLERANCES, scaled_differences

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


def _nonfinite_step(run: Run) -> int | None:
    """The first step whose loss is NaN or infinite in ``run`` itself."""
    if run.history is None:
        return None
    bad = ~np.isfinite(np.asarray(run.history.step_loss, dtype=np.float64))
    return int(np.argmax(bad)) if bad.any() else None


def _curve(run: Run, x_of: str, spe: int) -> tuple[np.ndarray, np.ndarray]:
    """x and y of the epoch curve, preceded (on the epoch axis) by the initial loss.

    The initial point is step 0's pre-update loss at x = 0: in full batch the whole-train
    loss of the initial parameters, in mini-batch that of the first batch. A run that
    blows up in its first epoch thus still shows where it started.
    """
    h = run.history
    assert h is not None and run.elapsed_s is not None
    y = np.asarray(h.epoch_train_loss, dtype=np.float64)
    if x_of == "epoch":
        x = np.arange(1, len(y) + 1, dtype=np.float64)
        step = np.asarray(h.step_loss, dtype=np.float64)
        if step.size:
            x, y = np.concatenate([[0.0], x]), np.concatenate([step[:1], y])
        return x, y
    return np.asarray(run.elapsed_s, dtype=np.float64), y


def _finite_prefix(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The points before the first non-finite one (what a curve shows before it blew up)."""
    ok = np.isfinite(y) & np.isfinite(x)
    n = int(np.argmin(ok)) if not ok.all() else len(ok)
    return x[:n], y[:n]


def _draw(c: Comparison, path: Path, x_of: str, xlabel: str) -> None:
    fig, axes = _figure(len(c.modes))
    for ax, mode in zip(axes, c.modes, strict=True):
        positive, any_finite, n_points = True, False, 0
        min_x = np.inf
        spe = c.plan.workloads[mode].steps_per_epoch
        for run in (r for r in c.runs if r.mode == mode):
            if run.history is None or run.elapsed_s is None:
                continue
            x, y = _finite_prefix(*_curve(run, x_of, spe))
            if x.size:
                any_finite = True
                n_points = max(n_points, x.size)
                min_x = min(min_x, float(np.min(x)))
                positive &= bool(np.all(y > 0))
            label = f"{run.target} (reference)" if run.is_reference else run.target
            bad = _nonfinite_step(run)
            if bad is not None:
                label += f", non-finite from step {bad}"
            style = "-" if run.is_reference else "--"
            (line,) = ax.plot(
                x, y, style, label=label, linewidth=1.5, marker="." if x.size < 3 else None
            )
            if bad is not None and x.size:
                # Mark where the curve stops: its last finite point, crossed out.
                ax.plot(x[-1:], y[-1:], "x", color=line.get_color(), markersize=10, mew=2)
            if bad is not None and x_of == "epoch":
                ax.axvline(bad / spe, color=line.get_color(), linestyle=":", linewidth=1)
        if c.target_loss is not None:
            ax.axhline(c.target_loss, color="grey", linestyle=":", linewidth=1, label="target loss")
        if c.target_loss is not None and c.target_loss <= 0:
            positive = False
        if not any_finite:
            ax.text(0.5, 0.5, "no finite loss", ha="center", va="center", transform=ax.transAxes)
        elif positive and n_points > 1:
            ax.set_yscale("log")
        else:
            # A few points that agree to 1e-8 would otherwise get an offset axis that
            # reads as noise.
            ax.ticklabel_format(axis="y", useOffset=False, style="plain")
        ax.set_title(f"{mode_label(mode)} ({spe} step{'s' if spe != 1 else ''} per epoch)")
        if x_of == "time" and any_finite and min_x > 0:
            # Backends differ in speed by orders of magnitude; a log axis shows them all.
            ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("train loss (whole train split)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize="small")
    _finish(c, fig, path)


def _finish(c: Comparison, fig: Any, path: Path) -> None:
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


def scaled_difference(c: Comparison, path: Path) -> None:
    """``scaled_difference.png``: per target, ``|loss_k - ref_k| / scale_k`` against step k.

    One panel per mode, log y, with the tolerance curve ``rtol(k)`` the verdict uses
    (:mod:`harness.trajectory`): a target agrees while its line stays below the black
    one. Steps where the two losses are exactly equal are drawn at the bottom of the axis
    (a log axis has no 0); non-finite steps are not drawn, and a cross marks where a
    target's difference stops.
    """
    dtype = c.plan.config.dtype
    tol = TOLERANCES[dtype]
    bottom = tol.rtol0 * 1e-4
    fig, axes = _figure(len(c.modes))
    for ax, mode in zip(axes, c.modes, strict=True):
        ref = c.run(c.plan.reference.name, mode)
        n = 0
        if ref is not None and ref.history is not None:
            ref_loss = np.asarray(ref.history.step_loss, dtype=np.float64)
            for run in (r for r in c.runs if r.mode == mode and not r.is_reference):
                if run.history is None:
                    continue
                d = scaled_differences(ref_loss, run.history.step_loss, dtype)
                if not d.size:
                    continue
                k = np.arange(d.size)
                n = max(n, d.size)
                shown = np.where(np.isfinite(d), np.maximum(d, bottom), np.nan)
                label = f"{run.target} ({run.outcome})"
                (line,) = ax.plot(k, shown, linewidth=1.2, label=label)
                ok = np.isfinite(d)
                if not ok.all():
                    last = int(np.argmin(ok)) - 1
                    if last >= 0:
                        ax.plot([last], [shown[last]], "x", color=line.get_color(), ms=10, mew=2)
        if n:
            k = np.arange(n)
            ax.plot(
                k,
                tol.rtol(k),
                color="black",
                linewidth=1.5,
                label=f"tolerance {tol.rtol0:g}(k+1)^{tol.growth:g}",
            )
            ax.set_yscale("log")
            ax.set_ylim(bottom=bottom * 0.5)
        else:
            ax.text(0.5, 0.5, "no target besides the reference", ha="center", va="center",
                    transform=ax.transAxes)  # fmt: skip
        spe = c.plan.workloads[mode].steps_per_epoch
        ax.set_title(f"{mode_label(mode)}: difference to {c.plan.reference.name}")
        ax.set_xlabel(f"step k ({spe} per epoch)")
        ax.set_ylabel(f"scaled |dloss| (0 drawn at {bottom:g})")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize="small")
    _finish(c, fig, path)


def loss_vs_epoch(c: Comparison, path: Path) -> None:
    """``loss_vs_epoch.png``: train loss after each epoch, one line per target."""
    _draw(c, path, "epoch", "epoch")


def loss_vs_time(c: Comparison, path: Path) -> None:
    """``loss_vs_time.png``: train loss against cumulative steady training seconds."""
    _draw(c, path, "time", "training seconds (steady, evaluation excluded)")
