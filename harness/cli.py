"""The ``harness`` command line. Each subcommand is one module of :mod:`harness.commands`.

A command module defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and
``run(args) -> int``. Exit codes: 0 success, 1 a check failed or a target diverged,
2 a usage error (bad option, unknown target...), reported as one line naming the valid
choices, with nothing written.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence
from types import ModuleType

from harness import __version__, commands, interrupt


class UsageError(ValueError):
    """Bad user input; ``main`` prints it on one line and exits 2."""


def add_targets_argument(
    p: argparse.ArgumentParser, what: str = "to run", default: str = "every available target"
) -> None:
    """``--targets`` as every command spells it (see :func:`harness.discovery.select`)."""
    p.add_argument(
        "--targets",
        default=None,
        help=f"comma-separated targets (backend:device) or backends {what} (default: "
        f"$HARNESS_TARGETS, else {default})",
    )


def _command_modules() -> list[ModuleType]:
    mods = [
        importlib.import_module(f"{commands.__name__}.{m.name}")
        for m in pkgutil.iter_modules(commands.__path__)
        if not m.name.startswith("_")
    ]
    return sorted(mods, key=lambda m: (getattr(m, "ORDER", 50), m.NAME))


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every discovered subcommand."""
    parser = argparse.ArgumentParser(
        prog="harness",
        description="Differential testing and benchmarking of autograd / training backends.",
    )
    parser.add_argument("--version", action="version", version=f"harness {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in _command_modules():
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``harness`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        # A Ctrl-C during start-up (python -m harness records it) ends the command here.
        interrupt.check()
        interrupt.release()
        return int(args._run(args) or 0)
    except (UsageError, ValueError, KeyError) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"harness {args.command}: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
