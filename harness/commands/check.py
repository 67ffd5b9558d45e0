"""``harness check --target NAME``: the plugin author's one command.

Runs, for one target against the reference: the op parity suites (``suites/parity``,
through pytest, as ``harness parity`` does) and the training comparison (as
``harness compare`` does, default workload: breast-cancer logistic regression, full batch
and mini-batch, float32, 100 epochs, seed 0). Prints a pass / fail line per part.

Everything lands in one run folder ``<--out>/<UTC timestamp>-<short id>/``: the training
``report.json``, ``curves.csv`` and plots, the suites' ``parity/report.json`` and
``parity/coverage.md``, and ``check.json`` (the summary ``--json`` prints).

Exit codes: 0 both parts pass (a target that cannot train skips that part), 1 a parity
check fails or a training run diverges, 2 bad input (nothing runs, nothing is written).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from harness import discovery, files, interrupt, report, runner, threads
from harness import plan as plan_mod
from harness.commands import compare, parity
from harness.plan import mode_label

NAME = "check"
HELP = "parity suites + training comparison of one target against the reference: pass / fail"
ORDER = 40


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``harness check``."""
    p.add_argument("--target", required=True, help="the target (or backend) to check")
    p.add_argument(
        "--profile",
        "--hypothesis-profile",
        dest="profile",
        default="ci",
        help=f"Hypothesis profile of the parity suites: {', '.join(parity.PROFILES)} "
        "(default %(default)s)",
    )
    compare.add_workload_arguments(p)
    p.add_argument(
        "--out",
        default=str(compare.DEFAULT_OUT),
        help="base folder of run folders (default %(default)s)",
    )
    p.add_argument(
        "--json", action="store_true", help="print check.json (pytest's output goes to stderr)"
    )
    p.add_argument("--no-plots", action="store_true", help="do not draw the PNG plots")
    p.add_argument(
        "pytest_args",
        nargs="*",
        metavar="-- PYTEST_ARGS",
        help="extra arguments for the parity suites' pytest, after -- (e.g. -- -k relu)",
    )


def run(args: argparse.Namespace) -> int:
    """Validate everything, then run parity and training; print the pass / fail summary.

    Ctrl-C stops at the next safe point, removes the staged run folder and exits 130.
    """
    requested = compare.threads_option(args)
    pinned = threads.pin(requested)
    with interrupt.deferred():
        return _run(args, requested, pinned)


def _run(args: argparse.Namespace, requested: int | None, pinned: int) -> int:
    cfg = compare.config_from_args(args, targets=args.target)
    profile = parity.validate_profile(args.profile)
    files.check_writable(Path(args.out), "--out")
    plan_mod.build_workloads(cfg)
    targets, _, _ = plan_mod.select_targets(args.target, option="--target")
    ref_for_parity = discovery.resolve_reference(args.reference)
    parity.suites_dir("parity")
    trainable = [t for t in targets if not plan_mod.cannot_train(t, cfg.dtype)]
    untrainable = (
        {t.name: plan_mod.cannot_train(t, cfg.dtype) for t in targets} if not trainable else {}
    )
    plan = None
    if trainable:
        plan = plan_mod.plan(replace(cfg, targets=",".join(t.name for t in trainable)))

    run_id = files.new_run_id()
    final = Path(args.out).expanduser() / run_id
    echo = sys.stderr if args.json else sys.stdout
    names = [t.name for t in targets]
    with compare.after_validation(), files.staged_folder(Path(args.out), run_id) as tmp:
        par = parity.run_suite(
            "parity",
            targets=names,
            reference=ref_for_parity.name,
            profile=profile,
            parity_out=tmp / "parity",
            extra=parity.pytest_extra(args),
            echo=echo,
            cache_dir=parity.cache_folder(Path(args.out)),
        )
        par.out_dir = final / "parity"
        interrupt.check()
        comp = None
        if plan is not None:
            record = threads.record(requested, pinned, [t.backend for t in plan.targets])
            comp = compare.execute(plan, quiet=args.json)
            comp.threads = record
            interrupt.check()
            report.write_run_files(
                comp,
                tmp,
                run_id=run_id,
                final=final,
                argv=compare.equivalent_command(plan, pinned),
                plots=not args.no_plots,
            )
        doc = _summary(names, ref_for_parity.name, par, comp, untrainable, final)
        files.atomic_write_text(tmp / "check.json", files.dumps(doc))
        interrupt.check()

    try:
        if args.json:
            print(files.dumps(doc), end="")
        else:
            _print(doc, par, comp)
        interrupt.check()
    except KeyboardInterrupt:
        compare.discard(final)
        raise
    return int(doc["exit_code"])


def _summary(
    targets: list[str],
    reference: str,
    par: parity.SuiteResult,
    comp: runner.Comparison | None,
    untrainable: dict[str, str],
    run_dir: Path,
) -> dict[str, Any]:
    code = parity.exit_code(par.returncode)
    training: dict[str, Any]
    if comp is None:
        training = {"ok": True, "skipped": untrainable, "rows": []}
    else:
        training = {**report.summary(comp, run_dir), "skipped": {}}
        if not comp.ok:
            code = max(code, 1)
    return {
        "ok": code == 0,
        "exit_code": code,
        "targets": targets,
        "reference": reference,
        "run_dir": str(run_dir),
        "parity": par.to_dict(),
        "training": training,
    }


def _print(doc: dict[str, Any], par: parity.SuiteResult, comp: runner.Comparison | None) -> None:
    print()
    if par.coverage and not par.coverage_shown:
        print(par.coverage.rstrip())
        print()
    if comp is not None:
        print(compare.format_tables(comp))
    who = ", ".join(doc["targets"])
    print(f"check {who} against {doc['reference']}")
    print(f"  parity    {par.status}: {par.tally()}")
    if comp is None:
        for t, why in doc["training"]["skipped"].items():
            print(f"  training  SKIP: {t} {why}")
    else:
        for r in comp.runs:
            if r.is_reference and r.target not in doc["targets"]:
                continue
            status = "FAIL" if r.failed else "PASS"
            why = r.error or (r.verdict.summary() if r.verdict is not None else r.outcome)
            print(f"  training  {status}: {r.target} {mode_label(r.mode)}: {why}")
    print("PASS" if doc["ok"] else "FAIL")
    print(f"wrote {doc['run_dir']}")
