"""How the parity suites draw examples: Hypothesis profile, shape menus and seed.

Three independent choices, each resolved once per pytest run (:func:`resolve`) and recorded
in the parity report's ``meta``:

``profile``  ``--hypothesis-profile NAME`` / ``HARNESS_PROFILE``; ``ci`` (the default: few
             examples, derandomized, the same inputs every run) or ``thorough`` (20x the
             examples, random, failing examples kept in ``.hypothesis/examples``), or any
             profile registered with Hypothesis (in a conftest, say).
``shapes``   ``--shapes compact|free`` / ``HARNESS_SHAPES``; ``compact`` draws shapes from
             the menus of :data:`harness.strategies.COMPACT` (few shapes, so a JIT compiles
             little), ``free`` draws them freely. The default is the profile's
             (:data:`DEFAULT_SHAPES`: ``ci`` compact, ``thorough`` free), ``compact`` for a
             profile of one's own.
``seed``     Hypothesis' own ``--hypothesis-seed N``, honoured in every profile: a
             derandomized profile draws its fixed examples and then as many random ones
             seeded by N (:func:`harness.oracles.checks.run_property`); a random profile
             draws seeded by N. A random profile run without a seed gets one chosen here
             and recorded, so that every run can be repeated.

Whatever the profile, every op check also runs the op's covering set
(:mod:`harness.covering`).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENV_PROFILE = "HARNESS_PROFILE"
ENV_SHAPES = "HARNESS_SHAPES"
SHAPES = ("compact", "free")
"""Valid ``--shapes`` values."""

CI_EXAMPLES = 5
"""Random examples per check in the ``ci`` profile, beside the op's covering set (4 to 8
cases): about the 10 examples per check the profile drew before the covering set took over
the regions random draws reached only by luck (empty arrays, size-1 broadcasting), so a
``ci`` run costs about what it did (README, "Parity suites", has the measurement)."""
THOROUGH_EXAMPLES = 200
"""Random examples per check in the ``thorough`` profile."""

PROFILES: dict[str, dict[str, Any]] = {
    "ci": {
        "max_examples": CI_EXAMPLES,
        "derandomize": True,
        # No deadline even in ci: a JIT compiles on a new shape and this machine's CPU is
        # shared, so a per-example deadline would fail correct targets at random.
        "deadline": None,
        "print_blob": True,
    },
    "thorough": {
        "max_examples": THOROUGH_EXAMPLES,
        "derandomize": False,
        "deadline": None,
        "print_blob": True,
    },
}
"""The Hypothesis profiles (``database`` is added: ``.hypothesis/examples`` for thorough)."""

DEFAULT_SHAPES: dict[str, str] = {"ci": "compact", "thorough": "free"}
"""The shape menus each built-in profile uses unless ``--shapes`` says otherwise."""


class ProfileError(ValueError):
    """A bad profile, shapes or seed value (the message names the option and the choices)."""


def register_profiles(root: Path | None = None) -> None:
    """Register the ``ci`` and ``thorough`` Hypothesis profiles (database under ``root``)."""
    from hypothesis import HealthCheck, settings
    from hypothesis.database import DirectoryBasedExampleDatabase

    db_dir = (root or Path(".")) / ".hypothesis" / "examples"
    common: dict[str, Any] = {
        "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
        # One minimal failure per check, so the report is one OracleFailure with its numbers.
        "report_multiple_bugs": False,
    }
    settings.register_profile("ci", **common, **PROFILES["ci"])
    settings.register_profile(
        "thorough",
        **common,
        **PROFILES["thorough"],
        database=DirectoryBasedExampleDatabase(str(db_dir)),
    )


@dataclass(frozen=True)
class Draws:
    """The resolved choices of one run (see the module docstring)."""

    profile: str
    shapes: str
    seed: int | None
    seed_chosen: bool = False
    """The seed was chosen here (a random profile run without ``--hypothesis-seed``)."""

    @property
    def compact(self) -> bool:
        """Draw shapes from :data:`harness.strategies.COMPACT`."""
        return self.shapes == "compact"

    def meta(self) -> dict[str, Any]:
        """The ``meta`` entries of report.json."""
        return {
            "profile": self.profile,
            "shapes": self.shapes,
            "compact_shapes": self.compact,
            "hypothesis_seed": self.seed,
            "hypothesis_seed_chosen": self.seed_chosen,
        }

    def describe(self) -> str:
        """One line for pytest's header."""
        from hypothesis import settings

        s = settings()
        how = "derandomized" if s.derandomize else "random"
        seed = "no seed" if self.seed is None else f"seed {self.seed}"
        if self.seed_chosen:
            seed += " (chosen; repeat with --hypothesis-seed)"
        return (
            f"hypothesis profile: {self.profile} ({s.max_examples} examples, {how}, {seed}); "
            f"shapes: {self.shapes}; plus each op's covering set"
        )


def parse_seed(value: Any) -> int | None:
    """``--hypothesis-seed``'s value as an int (None when not given)."""
    if value is None or value == "":
        return None
    try:
        seed = int(value)
    except (TypeError, ValueError):
        raise ProfileError(
            f"--hypothesis-seed must be a non-negative integer, got {value!r}"
        ) from None
    if seed < 0:
        raise ProfileError(f"--hypothesis-seed must be a non-negative integer, got {seed}")
    return seed


def resolve_shapes(option: str | None, profile: str) -> str:
    """``--shapes``, else ``$HARNESS_SHAPES``, else the profile's default."""
    env = os.environ.get(ENV_SHAPES, "").strip()
    value = option or env or DEFAULT_SHAPES.get(profile, "compact")
    if value not in SHAPES:
        source = "--shapes" if option else f"${ENV_SHAPES}"
        raise ProfileError(f"unknown {source} value {value!r}; valid choices: {', '.join(SHAPES)}")
    return value


def load(name: str | None, root: Path | None = None) -> str:
    """Load the Hypothesis profile ``name`` (default ``$HARNESS_PROFILE``, else ``ci``)."""
    from hypothesis import settings

    name = name or os.environ.get(ENV_PROFILE) or "ci"
    register_profiles(root)
    try:
        settings.load_profile(name)
    except Exception:
        raise ProfileError(
            f"unknown Hypothesis profile {name!r}; valid profiles: {', '.join(PROFILES)} "
            "(or one registered with hypothesis.settings.register_profile)"
        ) from None
    return name


def resolve(
    profile: str | None,
    shapes: str | None,
    seed: Any,
    *,
    root: Path | None = None,
    inherited_seed: int | None = None,
) -> Draws:
    """Load the profile and resolve the shape menus and the seed.

    ``inherited_seed`` is the seed a pytest-xdist controller chose for its workers.
    """
    from hypothesis import settings

    name = load(profile, root)
    chosen = False
    value = parse_seed(seed)
    if value is None and inherited_seed is not None:
        value, chosen = inherited_seed, True
    if value is None and not settings().derandomize:
        value, chosen = secrets.randbelow(2**32), True
    return Draws(name, resolve_shapes(shapes, name), value, chosen)
