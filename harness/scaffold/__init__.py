"""Writing a new backend plugin package from templates (``harness new-backend``).

The templates live in ``harness/scaffold/templates/`` (package data) and use
:class:`string.Template` placeholders: ``$name`` (backend name, the entry-point name and
the first half of its targets), ``$package`` (the import package), ``$dist`` (the
distribution name for pip) and ``$cls`` (the Backend class) and
``$harness_version`` (the lowest harness version the plugin accepts: this one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from importlib.metadata import entry_points
from pathlib import Path
from string import Template

import harness
from harness.discovery import GROUP

NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
"""A backend name: lowercase letters, digits and underscores, starting with a letter.

Targets are ``name:device`` and selections are comma separated, so neither ``:`` nor ``,``
may appear; the name is also part of a Python package name.
"""

FILES: tuple[tuple[str, str], ...] = (
    ("pyproject.toml.tmpl", "pyproject.toml"),
    ("README.md.tmpl", "README.md"),
    ("__init__.py.tmpl", "src/{package}/__init__.py"),
    ("backend.py.tmpl", "src/{package}/backend.py"),
    ("known_divergences.txt.tmpl", "src/{package}/known_divergences.txt"),
    ("test_backend.py.tmpl", "tests/test_backend.py"),
)
"""(template file, destination relative to the plugin folder) for every file written."""


class ScaffoldError(ValueError):
    """A bad backend name or destination; the message says what is valid."""


@dataclass(frozen=True)
class Names:
    """Every name derived from the backend name."""

    name: str
    package: str
    dist: str
    cls: str

    @classmethod
    def of(cls, name: str) -> Names:
        """Validate ``name`` and derive the package, distribution and class names."""
        if not NAME_RE.match(name):
            raise ScaffoldError(
                f"invalid backend name {name!r}: use lowercase letters, digits and "
                "underscores, starting with a letter (e.g. mylib or my_lib)"
            )
        camel = "".join(part.capitalize() for part in name.split("_") if part)
        return cls(
            name=name,
            package=f"harness_{name}",
            dist=f"harness-{name.replace('_', '-')}",
            cls=f"{camel}Backend",
        )


def taken_names() -> list[str]:
    """Backend names already registered in this environment (entry points, not loaded)."""
    return sorted({ep.name for ep in entry_points(group=GROUP)})


def template_text(template: str) -> str:
    """The text of one template file shipped with the harness."""
    return (resources.files(__name__) / "templates" / template).read_text(encoding="utf-8")


def render(names: Names) -> dict[str, str]:
    """Destination path (relative, POSIX) -> file text, for every file of the plugin."""
    values = {
        "name": names.name,
        "package": names.package,
        "dist": names.dist,
        "cls": names.cls,
        "harness_version": harness.__version__,
    }
    return {
        dest.format(package=names.package): Template(template_text(tmpl)).substitute(values)
        for tmpl, dest in FILES
    }


def write(name: str, directory: Path) -> list[Path]:
    """Write the plugin for backend ``name`` into ``directory`` (absent or empty).

    Refuses a name that an installed backend already uses (two entry points with one name
    would shadow each other) and a non-empty directory (nothing is overwritten).
    """
    names = Names.of(name)
    taken = taken_names()
    if name in taken:
        raise ScaffoldError(
            f"backend name {name!r} is already registered in this environment; "
            f"choose another (taken: {', '.join(taken)})"
        )
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise ScaffoldError(f"{directory} exists and is not an empty folder; choose another --dir")
    written = []
    for rel, text in render(names).items():
        path = directory / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
