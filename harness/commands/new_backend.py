"""``harness new-backend NAME [--dir PATH]``: scaffold a third-party backend plugin."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness import scaffold

NAME = "new-backend"
HELP = "write a new backend plugin package (entry point, backend stub, tests) to fill in"
ORDER = 90


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``harness new-backend``."""
    p.add_argument(
        "name",
        metavar="NAME",
        help="backend name: lowercase letters, digits, underscores (targets become NAME:cpu)",
    )
    p.add_argument(
        "--dir",
        type=Path,
        default=None,
        metavar="PATH",
        help="folder to create the plugin in, absent or empty (default: ./harness-NAME)",
    )


def run(args: argparse.Namespace) -> int:
    """Write the plugin and print what to do next."""
    names = scaffold.Names.of(args.name)
    directory: Path = args.dir if args.dir is not None else Path(names.dist)
    written = scaffold.write(args.name, directory)
    root = directory.resolve()
    print(f"wrote {len(written)} files for backend {names.name!r} in {root}:")
    for path in written:
        print(f"  {path.resolve().relative_to(root).as_posix()}")
    print(
        "\nnext:\n"
        f"  pip install -e {directory}        # then `harness backends` lists {names.name}:cpu\n"
        f"  pytest {directory / 'tests'}        # the plugin's wiring\n"
        f"  edit {directory / 'src' / names.package / 'backend.py'}"
        "  # one part of the contract at a time\n"
        f"  pytest suites --targets {names.name}   # from the harness checkout\n"
        "guide: docs/plugins.md in the harness repository"
    )
    return 0
