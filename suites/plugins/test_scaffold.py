"""``harness new-backend``: the written plugin installs with ``pip install -e`` and is found.

The in-process tests check the command's input handling and what it writes; the last one
installs a freshly scaffolded plugin into a throwaway environment layered over this one
(:mod:`suites.plugins.overlay`) and asks the harness, in that environment, what it sees.
"""

from __future__ import annotations

import ast
import fnmatch
import json
import sys
from pathlib import Path

import pytest

from harness import catalog, cli, scaffold

from .overlay import REPO, Overlay

tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python 3.11+")

NAME = "scaffoldtest"


def test_writes_a_plugin_with_the_entry_point(tmp_path: Path) -> None:
    dest = tmp_path / "plugin"
    assert cli.main(["new-backend", NAME, "--dir", str(dest)]) == 0
    names = scaffold.Names.of(NAME)
    written = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())
    assert written == sorted(
        dest_rel.format(package=names.package) for _, dest_rel in scaffold.FILES
    )
    meta = tomllib.loads((dest / "pyproject.toml").read_text())
    assert meta["project"]["name"] == "harness-scaffoldtest"
    assert meta["project"]["entry-points"]["harness.backends"] == {
        NAME: "harness_scaffoldtest.backend:ScaffoldtestBackend"
    }
    assert meta["tool"]["setuptools"]["package-data"] == {names.package: ["known_divergences.txt"]}
    for path in dest.rglob("*"):
        if path.is_file():
            text = path.read_text()
            assert "$" not in text.replace("$ ", ""), f"unfilled placeholder in {path}"
            if path.suffix == ".py":
                ast.parse(text, filename=str(path))


def test_backend_stub_raises_not_implemented_with_a_message(tmp_path: Path) -> None:
    dest = tmp_path / "plugin"
    scaffold.write(NAME, dest)
    sys.path.insert(0, str(dest / "src"))
    try:
        from harness_scaffoldtest.backend import ScaffoldtestBackend

        b = ScaffoldtestBackend()
        assert b.ops() == {}
        assert set(b.unsupported_reasons()) == set(catalog.CATALOG)
        assert not (b.capabilities.jvp or b.capabilities.second_order or b.capabilities.training)
        import numpy as np

        x = np.zeros(2, dtype=np.float32)
        calls = {
            "asarray": lambda: b.asarray(x, "cpu"),
            "to_numpy": lambda: b.to_numpy(x),
            "vjp": lambda: b.vjp(np.negative, [x], x, device="cpu"),
            "jvp": lambda: b.jvp(np.negative, [x], [x], device="cpu"),
            "vjp_vjp": lambda: b.vjp_vjp(np.negative, [x], x, [x], device="cpu"),
            "train": lambda: b.train(None, device="cpu"),
        }
        for method, call in calls.items():
            with pytest.raises(NotImplementedError, match=rf"ScaffoldtestBackend\.{method} is not"):
                call()
    finally:
        sys.path.remove(str(dest / "src"))
        for mod in [m for m in sys.modules if m.startswith("harness_scaffoldtest")]:
            del sys.modules[mod]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["My-Lib"], "invalid backend name 'My-Lib': use lowercase letters"),
        (["1lib"], "invalid backend name '1lib'"),
        (["a:b"], "invalid backend name 'a:b'"),
        (["torch"], "backend name 'torch' is already registered in this environment"),
    ],
)
def test_bad_name_is_a_usage_error_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    dest = tmp_path / "plugin"
    assert cli.main(["new-backend", *args, "--dir", str(dest)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not dest.exists()


def test_refuses_a_non_empty_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    assert cli.main(["new-backend", NAME, "--dir", str(tmp_path)]) == 2
    assert "is not an empty folder" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_templates_ship_as_package_data() -> None:
    """A non-editable install of the harness must carry the templates (not only .py files)."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    globs = config.get("tool", {}).get("setuptools", {}).get("package-data", {}).get("harness", [])
    for template, _ in scaffold.FILES:
        rel = f"scaffold/templates/{template}"
        assert any(fnmatch.fnmatch(rel, g) for g in globs), (
            f"harness/{rel} is not package data: add it to [tool.setuptools.package-data] "
            "harness in pyproject.toml"
        )
        assert scaffold.template_text(template)


def test_scaffolded_plugin_installs_and_is_discovered(tmp_path: Path) -> None:
    dest = tmp_path / "plugin"
    assert cli.main(["new-backend", NAME, "--dir", str(dest)]) == 0
    env = Overlay.create(tmp_path / "venv")
    env.pip_install_editable(dest)

    rows = {r["target"]: r for r in env.harness_json("backends")}
    row = rows[f"{NAME}:cpu"]
    assert row["available"], row["reason"]
    assert (row["ops"], row["ops_total"]) == (0, len(catalog.CATALOG))
    assert not (row["jvp"] or row["second_order"] or row["training"])

    # The plugin's own generated tests pass in that environment.
    env.run("-m", "pytest", "-q", "-p", "no:cacheprovider", dest / "tests", cwd=dest, check=True)

    # The real parity suites run on it: every op check is skipped-unsupported, none fails.
    out = tmp_path / "parity"
    proc = env.run(
        "-m", "pytest", "suites/parity/test_ops.py", "--targets", NAME, "--parity-out", out,
        "-k", "exp or matmul", "-q", "-p", "no:cacheprovider",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    report = json.loads((out / "report.json").read_text())
    results = report["results"][f"{NAME}:cpu"]
    cells = [cell for oracles in results.values() for d in oracles.values() for cell in d.values()]
    assert cells and {c["status"] for c in cells} == {"skip-unsupported"}, cells
    for op in ("exp", "matmul"):
        for cell in results[op]["forward"].values():
            assert "not written yet (scaffold)" in cell["reason"], cell["reason"]
