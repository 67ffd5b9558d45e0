"""``harness check --target NAME``: the plugin author's one command.

Runs, for one target (or a comma-separated list) against the reference, the op parity
suites and the training suites in **one** pytest run (``suites/parity suites/training``,
as ``harness parity`` runs the parity suites): every catalog op under every oracle, the
metamorphic model properties, and every training case of the training suites (every
model, optimizer, loss and mode they train, both dtypes). ``--quick`` keeps the
mini-batch training cases only (:data:`harness.oracles.QUICK_TRAINING_CASES`: every model,
optimizer and loss, one mode, a tenth of the epochs). When workload options are given
(``--model``, ``--optimizer``, ``--dtype``, ``--epochs``... with a value other than their
default) a training comparison of that workload runs as well, as ``harness compare`` does.

The verdict is :mod:`harness.verdict`'s, per target: only checks that exercised the target
count. The summary names the ops, oracles and training cases that ran, were skipped as
unsupported or failed, and every failing check (target, op, oracle, dtype).

Everything lands in one run folder ``<--out>/<UTC timestamp>-<short id>/``: the suites'
``parity/report.json`` and ``parity/coverage.md``, the workload comparison's
``report.json``, ``curves.csv`` and plots when one ran, and ``check.json`` (the summary
``--json`` prints).

Exit codes: 0 PASS, 1 FAIL (a check failed or raised, or the workload comparison
diverged), 2 bad input (nothing runs, nothing is written), 3 NOTHING CHECKED (no op check
exercised the target, or it declares training and no training case ran) or TOO FEW OPS
(under ``--min-ops N``).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from harness import discovery, files, interrupt, report, runner, threads, verdict
from harness import plan as plan_mod
from harness.commands import compare, parity
from harness.plan import mode_label

NAME = "check"
HELP = "parity and training suites of one target against the reference: pass / fail"

SUITES = ("parity", "training")
"""The suite folders ``check`` runs, in one pytest."""
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
    p.add_argument(
        "--quick",
        action="store_true",
        help="train the mini-batch training cases only (every model, optimizer and loss; "
        "about a third of the training time)",
    )
    parity.add_min_ops_argument(p)
    parity.add_workers_argument(p)
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


def _workload_given(args: argparse.Namespace) -> bool:
    """A workload option has a value other than its default (then the comparison runs)."""
    p = argparse.ArgumentParser()
    compare.add_workload_arguments(p)
    defaults = vars(p.parse_args([]))
    return any(
        getattr(args, k, v) != v for k, v in defaults.items() if k not in ("reference", "threads")
    )


def _run(args: argparse.Namespace, requested: int | None, pinned: int) -> int:
    cfg = compare.config_from_args(args, targets=args.target)
    profile = parity.validate_profile(args.profile)
    min_ops = parity.validate_min_ops(args)
    workers = parity.workers_args(args)
    files.check_writable(Path(args.out), "--out")
    plan_mod.build_workloads(cfg)
    targets, _, _ = plan_mod.select_targets(args.target, option="--target")
    ref_for_parity = discovery.resolve_reference(args.reference)
    for suite in SUITES:
        parity.suites_dir(suite)
    plan = None
    untrainable: dict[str, str] = {}
    if _workload_given(args):
        trainable = [t for t in targets if not plan_mod.cannot_train(t, cfg.dtype)]
        untrainable = {t.name: why for t in targets if (why := plan_mod.cannot_train(t, cfg.dtype))}
        if trainable:
            plan = plan_mod.plan(replace(cfg, targets=",".join(t.name for t in trainable)))

    run_id = files.new_run_id()
    final = Path(args.out).expanduser() / run_id
    echo = sys.stderr if args.json else sys.stdout
    names = [t.name for t in targets]
    with compare.after_validation(), files.staged_folder(Path(args.out), run_id) as tmp:
        par = parity.run_suite(
            SUITES,
            targets=names,
            reference=ref_for_parity.name,
            profile=profile,
            parity_out=tmp / "parity",
            extra=[
                "--training-cases",
                "quick" if args.quick else "all",
                *workers,
                *parity.pytest_extra(args),
            ],
            echo=echo,
            cache_dir=parity.cache_folder(Path(args.out)),
            shown_as=final / "parity",
        )
        par.out_dir = final / "parity"
        interrupt.check()
        v = parity.judge(par, targets, training_expected=True, min_ops=min_ops)
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
        doc = _summary(names, ref_for_parity.name, par, v, comp, untrainable, final, args.quick)
        files.atomic_write_text(tmp / "check.json", files.dumps(doc))
        interrupt.check()

    try:
        if args.json:
            print(files.dumps(doc), end="")
        else:
            _print(doc, par, v, comp)
        interrupt.check()
    except KeyboardInterrupt:
        compare.discard(final)
        raise
    return int(doc["exit_code"])


def _summary(
    targets: list[str],
    reference: str,
    par: parity.SuiteResult,
    v: verdict.Verdict,
    comp: runner.Comparison | None,
    untrainable: dict[str, str],
    run_dir: Path,
    quick: bool,
) -> dict[str, Any]:
    code = 2 if parity.exit_code(par.returncode) == 2 else v.exit_code
    outcome = v.outcome
    workload: dict[str, Any] | None = None
    if comp is not None:
        workload = {**report.summary(comp, run_dir), "skipped": untrainable}
        if not comp.ok and code != 2:
            code, outcome = verdict.EXIT_CODES[verdict.FAIL], verdict.FAIL
    elif untrainable:
        workload = {"ok": True, "skipped": untrainable, "rows": []}
    return {
        "ok": code == 0,
        "exit_code": code,
        "outcome": outcome,
        "targets": targets,
        "reference": reference,
        "quick": quick,
        "run_dir": str(run_dir),
        "verdict": v.to_dict(),
        "suites": par.to_dict(),
        "workload": workload,
    }


def _print(
    doc: dict[str, Any],
    par: parity.SuiteResult,
    v: verdict.Verdict,
    comp: runner.Comparison | None,
) -> None:
    print()
    if par.coverage and not par.coverage_shown:
        print(par.coverage.rstrip())
        print()
    if comp is not None:
        print(compare.format_tables(comp))
    who = ", ".join(doc["targets"])
    print(f"check {who} against {doc['reference']}" + (" (--quick)" if doc["quick"] else ""))
    print(f"  pytest    {par.tally()}")
    for line in v.lines():
        print(f"  {line}")
    if comp is not None:
        for r in comp.runs:
            if r.is_reference and r.target not in doc["targets"]:
                continue
            status = "FAIL" if r.failed else "DECLARED" if r.declared else "PASS"
            why = r.error or (r.verdict.summary() if r.verdict is not None else r.outcome)
            if r.divergence is not None:
                d = r.divergence
                why += (
                    f" (known divergence {d['where']}: {d['reason']})"
                    if r.declared
                    else f" (stale known divergence {d['entry']!r} ({d['where']}): delete it)"
                )
            print(f"  workload  {status}: {r.target} {mode_label(r.mode)}: {why}")
    for t, why in ((doc["workload"] or {}).get("skipped") or {}).items():
        print(f"  workload  SKIP: {t} {why}")
    print(doc["outcome"])
    print(f"wrote {doc['run_dir']}")
