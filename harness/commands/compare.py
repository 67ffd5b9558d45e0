"""``harness compare``: side-by-side training runs with a divergence verdict, plots, progress.

With no options: breast-cancer logistic regression, full batch against mini-batch (32),
float32, 100 epochs, seed 0, SGD, on every available target, each compared step by step
with the reference target trained in the same dtype from the same initial parameters and
batch order. Exit 0 when every run agrees with the reference, 1 when one diverges (a NaN
or infinite loss included) or fails, 2 for bad input (nothing is trained or written).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness import files, interrupt, report, runner, threads
from harness import plan as plan_mod
from harness.cli import UsageError, add_targets_argument
from harness.data import DATASETS
from harness.plan import mode_label
from harness.progress import LineProgress, RichProgress
from harness.workload import (
    ACTIVATIONS,
    ADAMW_WEIGHT_DECAY,
    DEFAULT_LR,
    DTYPES,
    MODELS,
    OPTIMIZERS,
)

NAME = "compare"
HELP = "train every target side by side (full batch and mini-batch) and compare with a reference"
ORDER = 20

DEFAULT_OUT = Path("results/runs")


def add_workload_arguments(p: argparse.ArgumentParser, *, modes: bool = True) -> None:
    """The workload options shared by ``compare`` and ``check``."""
    d = plan_mod.CompareConfig()
    p.add_argument(
        "--dataset", default=d.dataset, help=f"{', '.join(DATASETS)} (default %(default)s)"
    )
    p.add_argument("--model", default=d.model, help=f"{', '.join(MODELS)} (default %(default)s)")
    p.add_argument(
        "--activation",
        default=None,
        help=f"hidden-layer activation of an mlp: {', '.join(ACTIVATIONS)} "
        f"(default {d.activation}; not with --model logreg, which has no hidden layer)",
    )
    p.add_argument(
        "--optimizer", default=d.optimizer, help=f"{', '.join(OPTIMIZERS)} (default %(default)s)"
    )
    lrs = ", ".join(f"{k} {v}" for k, v in DEFAULT_LR.items())
    p.add_argument("--lr", default=None, help=f"learning rate (default: the optimizer's: {lrs})")
    p.add_argument(
        "--momentum",
        default=None,
        help="SGD momentum (default: 0 for sgd, 0.9 for momentum and nesterov; not adam)",
    )
    p.add_argument("--dampening", default=None, help="SGD momentum dampening (default 0; not adam)")
    p.add_argument(
        "--nesterov",
        action="store_true",
        default=None,
        help="Nesterov momentum (default: on for --optimizer nesterov only); needs momentum > 0 "
        "and --dampening 0, as in PyTorch",
    )
    p.add_argument(
        "--weight-decay", default=None, help="L2 weight decay added to the gradient (default 0)"
    )
    p.add_argument("--betas", metavar="B1,B2", default=None, help="adam only (default 0.9,0.999)")
    p.add_argument("--eps", default=None, help="adam only (default 1e-08)")
    p.add_argument("--epochs", default=str(d.epochs), help="epochs (default %(default)s)")
    if modes:
        p.add_argument(
            "--mode",
            default="both",
            help=f"{', '.join(plan_mod.MODE_CHOICES)} (default %(default)s)",
        )
    p.add_argument(
        "--batch-size",
        default=None,
        help=f"mini-batch size (default {d.batch_size}; not with --mode batch)",
    )
    p.add_argument("--dtype", default=d.dtype, help=f"{', '.join(DTYPES)} (default %(default)s)")
    p.add_argument("--seed", default=str(d.seed), help="seed of every random choice (default 0)")
    p.add_argument(
        "--reference",
        default=None,
        help="target the others are compared with (default: the highest-priority reference)",
    )
    p.add_argument(
        "--threads",
        default=None,
        help="intra-op BLAS / OpenMP threads, pinned before any framework loads "
        f"(default: $OMP_NUM_THREADS if set, else {threads.DEFAULT})",
    )


def add_output_arguments(p: argparse.ArgumentParser) -> None:
    """Where and how results are written (shared by ``compare`` and ``check``)."""
    p.add_argument(
        "--out",
        default=str(DEFAULT_OUT),
        help="base folder of run folders (default %(default)s)",
    )
    p.add_argument(
        "--json", action="store_true", help="print the summary as JSON (no table, no progress)"
    )
    p.add_argument(
        "--tensorboard",
        metavar="DIR",
        default=None,
        help="also write the curves as TensorBoard scalars under DIR",
    )
    p.add_argument("--no-plots", action="store_true", help="do not draw the PNG plots")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``harness compare``."""
    add_targets_argument(p)
    add_workload_arguments(p)
    add_output_arguments(p)


# -- parsing ----------------------------------------------------------------------------------


def _int(option: str, text: str, minimum: int) -> int:
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise UsageError(f"{option} must be an integer >= {minimum}, got {text!r}") from None
    if value < minimum:
        raise UsageError(f"{option} must be an integer >= {minimum}, got {value}")
    return value


def _positive_float(option: str, text: str) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise UsageError(f"{option} must be a positive number, got {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise UsageError(f"{option} must be a positive number, got {text}")
    return value


def _float(option: str, text: str, low: float, high: float = math.inf) -> float:
    what = f"a number in [{low:g}, {high:g}]" if math.isfinite(high) else f"a number >= {low:g}"
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise UsageError(f"{option} must be {what}, got {text!r}") from None
    if not (low <= value <= high and math.isfinite(value)):
        raise UsageError(f"{option} must be {what}, got {text}")
    return value


def _betas(text: str) -> tuple[float, float]:
    parts = text.split(",")
    try:
        b1, b2 = (float(x) for x in parts)
    except ValueError:
        raise UsageError(f"--betas must be B1,B2 with each in [0, 1), got {text!r}") from None
    if not (0 <= b1 < 1 and 0 <= b2 < 1):
        raise UsageError(f"--betas must be B1,B2 with each in [0, 1), got {text!r}")
    return (b1, b2)


def _choice(option: str, text: str | None, valid: tuple[str, ...], default: str) -> str:
    if text is None:
        return default
    if text not in valid:
        raise UsageError(f"{option} must be one of {', '.join(valid)}, got {text!r}")
    return text


def threads_option(args: argparse.Namespace) -> int | None:
    """``--threads`` as a count >= 1, or None (not given)."""
    return None if args.threads is None else _int("--threads", args.threads, 1)


def _check_conflicts(args: argparse.Namespace, modes: tuple[str, ...]) -> None:
    """Options that make no sense together are usage errors naming both."""
    if getattr(args, "activation", None) is not None and args.model == "logreg":
        raise UsageError(
            "--activation applies to an mlp's hidden layers; --model logreg has none "
            "(drop --activation, or use e.g. --model mlp:16)"
        )
    if args.batch_size is not None and modes == ("batch",):
        raise UsageError(
            "--batch-size applies to mini-batch only; --mode batch trains on the whole "
            "training split every step (drop --batch-size, or use --mode minibatch or both)"
        )
    sgd_only = [
        o
        for o, v in (
            ("--momentum", args.momentum),
            ("--dampening", args.dampening),
            ("--nesterov", args.nesterov),
        )
        if v is not None
    ]
    adam_only = [o for o, v in (("--betas", args.betas), ("--eps", args.eps)) if v is not None]
    adam_family = ("adam", "adamw")
    if args.optimizer in adam_family and sgd_only:
        raise UsageError(
            f"{', '.join(sgd_only)}: SGD options, not for --optimizer {args.optimizer} "
            f"({args.optimizer} takes --lr, --betas, --eps, --weight-decay)"
        )
    if args.optimizer in OPTIMIZERS and args.optimizer not in adam_family and adam_only:
        raise UsageError(
            f"{', '.join(adam_only)}: adam options, not for --optimizer {args.optimizer} "
            "(use --optimizer adam, or --momentum / --dampening / --nesterov)"
        )


def _check_nesterov(cfg: plan_mod.CompareConfig) -> None:
    nesterov = cfg.optimizer == "nesterov" if cfg.nesterov is None else cfg.nesterov
    if not nesterov or cfg.optimizer in ("adam", "adamw"):
        return
    who = "--nesterov" if cfg.nesterov else "--optimizer nesterov"
    momentum = (
        cfg.momentum if cfg.momentum is not None else (0.0 if cfg.optimizer == "sgd" else 0.9)
    )
    if momentum <= 0:
        raise UsageError(
            f"{who} needs --momentum > 0 (PyTorch's rule); got momentum {momentum:g} "
            f"(--optimizer {cfg.optimizer}'s default is used when --momentum is not given)"
        )
    if cfg.dampening != 0:
        raise UsageError(f"{who} needs --dampening 0 (PyTorch's rule), got {cfg.dampening:g}")


def config_from_args(args: argparse.Namespace, *, targets: str | None) -> plan_mod.CompareConfig:
    """A validated-for-syntax :class:`plan_mod.CompareConfig` from the parsed options.

    Options that conflict (``--batch-size`` with ``--mode batch``, an SGD option with adam
    or an Adam option with SGD, Nesterov without momentum or with dampening) are usage
    errors naming them.
    """
    modes = plan_mod.parse_modes(getattr(args, "mode", "both"))
    _check_conflicts(args, modes)
    d = plan_mod.CompareConfig()
    cfg = plan_mod.CompareConfig(
        dataset=args.dataset,
        model=args.model,
        activation=_choice("--activation", args.activation, ACTIVATIONS, d.activation),
        optimizer=args.optimizer,
        lr=None if args.lr is None else _positive_float("--lr", args.lr),
        momentum=None if args.momentum is None else _float("--momentum", args.momentum, 0),
        dampening=0.0 if args.dampening is None else _float("--dampening", args.dampening, 0, 1),
        nesterov=args.nesterov,
        weight_decay=(
            (ADAMW_WEIGHT_DECAY if args.optimizer == "adamw" else 0.0)
            if args.weight_decay is None
            else _float("--weight-decay", args.weight_decay, 0)
        ),
        betas=None if args.betas is None else _betas(args.betas),
        eps=None if args.eps is None else _float("--eps", args.eps, 0),
        epochs=_int("--epochs", args.epochs, 1),
        batch_size=(
            plan_mod.CompareConfig.batch_size
            if args.batch_size is None
            else _int("--batch-size", args.batch_size, 1)
        ),
        dtype=args.dtype,
        seed=_int("--seed", args.seed, 0),
        modes=modes,
        targets=targets,
        reference=args.reference,
    )
    _check_nesterov(cfg)
    return cfg


def check_outputs(args: argparse.Namespace) -> None:
    """Refuse (exit 2) before training if an output folder or tensorboardX is unusable."""
    files.check_writable(Path(args.out), "--out")
    if args.tensorboard is not None:
        from harness import tensorboard

        tensorboard.require()
        files.check_writable(Path(args.tensorboard), "--tensorboard")


def equivalent_command(p: plan_mod.Plan, threads_pinned: int | None = None) -> list[str]:
    """The ``harness compare`` options that reproduce plan ``p`` (recorded in report.json).

    Every value is the resolved one: the targets actually trained (given or not), the
    optimizer's learning rate and hyper-parameters, the pinned thread count.
    """
    cfg = p.config
    opt = next(iter(p.workloads.values())).optimizer
    mode = "both" if len(cfg.modes) == 2 else cfg.modes[0]
    if opt.kind == "adam":
        hyper = [f"--betas={opt.betas[0]!r},{opt.betas[1]!r}", f"--eps={opt.eps!r}"]
    else:
        hyper = [f"--momentum={opt.momentum!r}", f"--dampening={opt.dampening!r}"]
        hyper += ["--nesterov"] if opt.nesterov else []
    return [
        "compare",
        f"--targets={','.join(t.name for t in p.targets)}",
        f"--dataset={cfg.dataset}",
        f"--model={cfg.model}",
        *([f"--activation={cfg.activation}"] if cfg.model != "logreg" else []),
        f"--optimizer={cfg.optimizer}",
        f"--lr={opt.lr!r}",
        *hyper,
        f"--weight-decay={opt.weight_decay!r}",
        f"--epochs={cfg.epochs}",
        f"--mode={mode}",
        *([f"--batch-size={cfg.batch_size}"] if "minibatch" in cfg.modes else []),
        f"--dtype={cfg.dtype}",
        f"--seed={cfg.seed}",
        f"--reference={p.reference.name}",
        *([f"--threads={threads_pinned}"] if threads_pinned is not None else []),
    ]


# -- running ----------------------------------------------------------------------------------


def execute(plan: plan_mod.Plan, *, quiet: bool) -> runner.Comparison:
    """Train the plan, with progress bars when stdout is a terminal and not ``quiet``."""
    if quiet:
        return runner.execute(plan)
    if not sys.stdout.isatty():
        return runner.execute(plan, LineProgress(sys.stdout))
    with RichProgress(file=sys.stdout) as progress:
        return runner.execute(plan, progress)


def write_outputs(
    c: runner.Comparison, args: argparse.Namespace, argv: list[str]
) -> tuple[Path, Path | None]:
    """Write the run folder (and TensorBoard scalars); returns their paths."""
    run_id = files.new_run_id(c.started_utc)
    run_dir = report.write_run(c, Path(args.out), argv=argv, plots=not args.no_plots, run_id=run_id)
    tb_dir = None
    if args.tensorboard is not None:
        from harness import tensorboard

        tb_dir = tensorboard.write(c, Path(args.tensorboard), run_id)
    return run_dir, tb_dir


def _fmt(x: Any, spec: str = ".4g") -> str:
    if x is None:
        return "-"
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    return format(x, spec)


def format_tables(c: runner.Comparison) -> str:
    """One plain-text table per mode, then the full batch / mini-batch line per target.

    Each table names the tolerance its verdicts used; a NaN final loss shows no accuracy;
    a reference that became non-finite ends the text with the line saying why the
    comparison could not be judged.
    """
    from harness.trajectory import TOLERANCES

    tol = TOLERANCES[c.plan.config.dtype]
    lines: list[str] = []
    head = [
        "target",
        "final loss",
        "test acc",
        "epoch s",
        "steps to target",
        "max |dloss|",
        "max scaled",
        "baseline",
        "first div. step",
        "verdict",
    ]
    for mode in c.modes:
        w = c.plan.workloads[mode]
        lines.append(
            f"{mode_label(mode)}: {w.steps_per_epoch} step(s)/epoch x {w.epochs} epochs, "
            f"reference {c.plan.reference.name} ({_truth_dtype(c, mode)}), "
            f"target loss {_fmt(c.target_loss)}"
        )
        lines.append(
            f"tolerance ({c.plan.config.dtype}): step k agrees when |dloss| / "
            f"max(|ref_k|, {tol.floor:g} |ref_0|) <= {tol.rtol0:g} (k+1)^{tol.growth:g}; "
            f"baseline: {c.plan.reference.name}'s own float32 vs float64 scaled difference at "
            "the row's first diverging (else worst) step"
        )
        body = []
        for r in (r for r in c.runs if r.mode == mode):
            row = report.row(r)
            first = row["first_diverging_step"]
            verdict = r.label
            if r.is_reference:
                verdict = "reference" if verdict == "agrees" else f"reference ({verdict})"
            base = r.verdict.baseline if r.verdict is not None else None
            body.append(
                [
                    r.target + (" (ref)" if r.is_reference else ""),
                    _fmt(row["final_train_loss"], ".6g"),
                    _fmt(row["final_test_acc"], ".4f"),
                    _fmt(row["median_epoch_s"], ".3g"),
                    _fmt(row["steps_to_target"], "d"),
                    _fmt(row["max_abs_diff"], ".2e"),
                    _fmt(row["max_rel_diff"], ".2e"),
                    f"{base['scaled_diff']:.2e} @{base['step']}" if base else "-",
                    "none" if first is None and r.verdict is not None else _fmt(first, "d"),
                    verdict,
                ]
            )
        table = [head, *body]
        widths = [max(len(x[i]) for x in table) for i in range(len(head))]
        for x in table:
            lines.append("  ".join(s.ljust(wd) for s, wd in zip(x, widths, strict=True)).rstrip())
        for r in (r for r in c.runs if r.mode == mode and (r.failed or r.status != "ok")):
            why = r.error or (r.verdict.summary() if r.verdict is not None else "")
            blew = r.verdict.run_nonfinite_step if r.verdict is not None else None
            if r.is_reference and blew is not None:
                why = f"the reference itself became non-finite at step {blew}"
            lines.append(f"  {r.target}: {why}")
        for r in (r for r in c.runs if r.mode == mode):
            d = r.divergence
            if d is None:
                continue
            if r.declared:
                lines.append(
                    f"  {r.target}: declared divergence ({d['where']}: {d['reason']}): "
                    f"{r.verdict.summary() if r.verdict is not None else r.outcome}"
                )
            else:
                lines.append(
                    f"  {r.target}: stale known divergence {d['entry']!r} ({d['where']}): "
                    f"{d['subject']} trajectory {c.plan.config.dtype} agrees; delete the line"
                )
        lines.append("")
    unjudged = report.unjudged_message(c)
    if unjudged:
        lines.append(unjudged)
        lines.append("")
    if c.target_loss is None:
        lines.append("no target loss: the reference has no finite final train loss")
        lines.append("")
    else:
        for v in c.versus():
            lines.append(_versus_line(v))
        if c.versus():
            lines.append("")
    return "\n".join(lines)


def _truth_dtype(c: runner.Comparison, mode: str) -> str:
    """The dtype of the reference run the mode's verdicts compared with."""
    v = next((r.verdict for r in c.runs if r.mode == mode and r.verdict is not None), None)
    return v.reference_dtype if v is not None else c.plan.config.dtype


def _versus_line(v: dict[str, Any]) -> str:
    b, m = v["batch"], v["minibatch"]

    def part(kind: str, unit: str, fmt: str) -> str:
        who = v[f"first_in_{kind}"]
        vals = f"{_fmt(b[kind], fmt)}{unit} full batch, {_fmt(m[kind], fmt)}{unit} mini-batch"
        if who is None:
            return f"neither reached it ({vals})"
        if who == "tie":
            return f"a tie in {kind} ({vals})"
        return f"{mode_label(who)} first in {kind} ({vals})"

    return (
        f"{v['target']}: target loss reached -- {part('steps', '', 'd')}; "
        f"{part('seconds', ' s', '.3g')}"
    )


def run(args: argparse.Namespace) -> int:
    """Validate, train, compare, print and write; exit 0 / 1 / 2 (130 on Ctrl-C)."""
    requested = threads_option(args)
    pinned = threads.pin(requested)
    with interrupt.deferred():
        cfg = config_from_args(args, targets=args.targets)
        check_outputs(args)
        plan = plan_mod.plan(cfg)
        with after_validation():
            threads_record = threads.record(requested, pinned, [t.backend for t in plan.targets])
            c = execute(plan, quiet=args.json)
            c.threads = threads_record
            interrupt.check()
            run_dir, tb_dir = write_outputs(c, args, equivalent_command(plan, pinned))
            try:
                interrupt.check()
                print_result(c, run_dir, tb_dir, as_json=args.json)
                interrupt.check()
            except KeyboardInterrupt:
                discard(run_dir, tb_dir)
                raise
    return 0 if c.ok else 1


def discard(*folders: Path | None) -> None:
    """Remove run folders written just before a Ctrl-C: an interrupted run leaves nothing."""
    for f in folders:
        if f is not None:
            shutil.rmtree(f, ignore_errors=True)


@contextlib.contextmanager
def after_validation() -> Iterator[None]:
    """Past validation a ValueError is a bug, not bad input: keep it from exiting 2."""
    try:
        yield
    except ValueError as e:
        raise RuntimeError(f"{type(e).__name__} after input validation: {e}") from e


def print_result(
    c: runner.Comparison, run_dir: Path, tb_dir: Path | None, *, as_json: bool
) -> None:
    """The table and verdict (or, with ``--json``, the summary document) on stdout."""
    if as_json:
        print(files.dumps(report.summary(c, run_dir)), end="")
        return
    print(format_tables(c))
    for s in c.plan.skipped:
        print(f"skipped {s['target']}: {s['reason']}")
    failed = [r for r in c.runs if r.failed]
    declared = [r for r in c.runs if r.declared]
    if declared:
        names = ", ".join(f"{r.target} {mode_label(r.mode)}" for r in declared)
        print(f"declared divergences (not failing): {names}")
    if failed:
        names = ", ".join(f"{r.target} {mode_label(r.mode)} ({r.outcome})" for r in failed)
        print(f"FAIL: {names}")
    else:
        print(f"OK: every target agrees with {c.plan.reference.name}")
    print(f"wrote {run_dir}")
    if tb_dir is not None:
        print(f"wrote TensorBoard scalars to {tb_dir}")
