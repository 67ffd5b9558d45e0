"""docs/plugins.md is true to the code: the commands it shows parse, the names it cites exist.

Every ``harness ...`` line of its fenced shell blocks is parsed by the real CLI parser (an
option that no longer exists, or a value argparse refuses, fails here); every ``pytest``
option it shows is one the harness' pytest plugin, Hypothesis or pytest itself registers;
the ``Capabilities(...)`` block names every field of the dataclass; the check subjects of
section 7 are subjects the suites run; the one-liner of section 2.3 runs.
"""

from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from harness import cli
from harness.contract import Capabilities

DOC = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"
TEXT = DOC.read_text(encoding="utf-8")
BLOCKS = re.findall(r"```bash\n(.*?)```", TEXT, flags=re.S)
LINES = [
    line.split("  #")[0].strip()
    for block in BLOCKS
    for line in block.replace("\\\n", " ").splitlines()
    if line.strip() and not line.strip().startswith("#")
]


def _commands(prefix: str) -> list[list[str]]:
    out: list[list[str]] = []
    for line in LINES:
        tokens, parts = shlex.split(line), [[]]  # type: list[str], list[list[str]]
        for tok in tokens:
            if tok == "&&":
                parts.append([])
            else:
                parts[-1].append(tok)
        for words in parts:
            while words and "=" in words[0] and not words[0].startswith("-"):
                words = words[1:]  # VAR=value before the command
            if words and words[0] == prefix:
                out.append(words[1:])
    return out


HARNESS = _commands("harness")
PYTEST = _commands("pytest")


def test_the_doc_shows_commands() -> None:
    assert len(HARNESS) >= 8 and len(PYTEST) >= 8


@pytest.mark.parametrize("argv", HARNESS, ids=[" ".join(a) for a in HARNESS])
def test_every_harness_command_it_shows_parses(argv: list[str]) -> None:
    parser = cli.build_parser()
    try:
        parser.parse_args(argv)
    except SystemExit as e:
        pytest.fail(f"harness {' '.join(argv)}: argparse exit {e.code}")


def _pytest_options() -> set[str]:
    from harness import pytest_plugin

    names: set[str] = set()

    class Group:
        def addoption(self, *opts: str, **_: object) -> None:
            names.update(opts)

    class Parser(Group):
        def getgroup(self, *_: object, **__: object) -> Group:
            return self

        def addini(self, *_: object, **__: object) -> None:
            pass

    pytest_plugin.pytest_addoption(Parser())  # type: ignore[arg-type]
    # Hypothesis' plugin and pytest's own (-k, -n from xdist) are registered elsewhere.
    return names | {"--hypothesis-profile", "--hypothesis-seed", "-k", "-n", "-x", "-q"}


@pytest.mark.parametrize("argv", PYTEST, ids=[" ".join(a) for a in PYTEST])
def test_every_pytest_option_it_shows_is_registered(argv: list[str]) -> None:
    known = _pytest_options()
    for word in argv:
        if word.startswith("-"):
            assert word.split("=")[0] in known, f"pytest {' '.join(argv)}: unknown {word}"
        elif not word.startswith("-") and "/" in word and not word.startswith("../"):
            assert (DOC.parents[1] / word).exists(), f"pytest {' '.join(argv)}: no {word}"


def test_the_capabilities_block_names_every_field() -> None:
    block = re.search(r"capabilities = Capabilities\((.*?)\n\)", TEXT, flags=re.S)
    assert block is not None
    shown = set(re.findall(r"^\s+(\w+)=", block.group(1), flags=re.M))
    assert shown == {f.name for f in fields(Capabilities)}


def test_the_subjects_it_cites_are_checked_by_the_suites() -> None:
    from harness.oracles import MODEL_CASES, OPTIMIZER_CASES, TRAINING_CASES

    section = TEXT.split("## 7. Known divergences", 1)[1].split("## 8.", 1)[0]
    for model in ("breast_cancer-logreg", "digits-mlp16"):
        assert f"`{model}`" in section and model in {c.id for c in MODEL_CASES}
    training = {c.id for c in TRAINING_CASES}
    for case in re.findall(r"`(breast_cancer-[\w:.,=-]+-(?:batch|minibatch)[\w:.,=-]*)`", section):
        assert case in training or any(t.startswith(case) for t in training), case
    optimizers = {c.id for c in OPTIMIZER_CASES}
    for case in ("sgd-momentum0.9-dampening0.5", "adam-eps0.001"):
        assert f"`{case}`" in section and case in optimizers, case


def test_the_catalog_one_liner_runs() -> None:
    (line,) = [x for x in LINES if x.startswith('python -c "from harness.catalog')]
    code = shlex.split(line)[2]
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert proc.returncode == 0 and "exp - " in proc.stdout, proc.stderr


def test_a_parser_error_is_caught() -> None:
    """The parse test can fail: an option the CLI does not have is refused."""
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["check", "--target", "x", "--no-such-option"])
    assert isinstance(cli.build_parser(), argparse.ArgumentParser)


def _quick_start() -> list[tuple[list[str], int]]:
    """The Quick start block's commands after the harness install, with the exit code each
    comment promises (``exit 3``; else 0)."""
    block = TEXT.split("## 1. Quick start", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    out = []
    for line in block.splitlines():
        cmd, _, comment = line.partition("#")
        words = shlex.split(cmd)
        if not words or (words[0] in ("python3", "pip") and "harness-mylib" not in cmd):
            continue  # the harness' own install: this environment is it
        code = int(m.group(1)) if (m := re.search(r"exit (\d)", comment)) else 0
        out.append((words, code))
    return out


def test_the_quick_start_runs_as_written(tmp_path: Path) -> None:
    """Every command of section 1 after installing the harness, in a layered environment
    (:mod:`suites.plugins.overlay`), ``../harness-mylib`` a temporary folder; the suite run
    is narrowed with ``-k`` (its point, every check skipping, holds for any subset)."""
    from .overlay import REPO, Overlay

    steps = _quick_start()
    assert [w[0] for w, _ in steps] == ["harness", "pip", "harness", "pytest", "pytest", "harness"]
    env = Overlay.create(tmp_path / "venv")
    plugin = tmp_path / "harness-mylib"
    for words, code in steps:
        argv = [str(plugin) if w == "../harness-mylib" else w for w in words]
        argv = [w.replace("../harness-mylib", str(plugin)) for w in argv]
        if argv[0] == "pip":
            env.pip_install_editable(Path(argv[-1]))
            continue
        if argv[0] == "harness":
            argv = ["-m", "harness", *argv[1:]]
            if argv[2] == "check":
                argv += ["--out", str(tmp_path / "runs"), "--", "-k", "exp"]
        else:
            argv = ["-m", "pytest", *argv[1:], "-q", "-p", "no:cacheprovider"]
            if "suites/parity" in argv:
                argv += ["-k", "test_ops and exp", "--parity-out", str(tmp_path / "parity")]
        proc = env.run(*argv, cwd=REPO)
        assert proc.returncode == code, (argv, proc.stdout[-3000:], proc.stderr[-3000:])
        if argv[:3] == ["-m", "harness", "backends"]:
            assert "mylib:cpu" in proc.stdout
        if argv[2:3] == ["check"]:
            assert "NOTHING CHECKED" in proc.stdout
