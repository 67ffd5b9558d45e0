"""The pytest plugin of the parity suites: targets, reference, profiles and result collection.

Load it with ``pytest_plugins = ["harness.pytest_plugin"]`` (``suites/conftest.py`` does).

Options (each with an environment variable, the option wins):

``--targets a,b``     ``HARNESS_TARGETS``; default every available target
                      (:func:`harness.discovery.select`: an unknown name, or an unavailable
                      ``backend:device``, is a usage error that lists the valid ones).
``--reference NAME``  ``HARNESS_REFERENCE``; a backend or ``backend:device``; default
                      :func:`harness.discovery.default_reference` (the available target whose
                      backend declares the highest ``reference_priority``).
``--parity-out DIR``  ``HARNESS_PARITY_OUT``; default ``results/parity/`` (a relative path is
                      taken from the rootdir).

``--shapes compact|free``  ``HARNESS_SHAPES``; the shape menus (default: the profile's).
``--compile-cache DIR|off``  ``HARNESS_COMPILE_CACHE``; where backends that compile keep
                      their programs between runs (:meth:`~harness.contract.Backend.
                      use_compilation_cache`), one folder per backend; default the user's
                      cache folder (``~/.cache/harness/compiled`` on Linux). It changes
                      no result, only how long a second run of the same checks takes.

Hypothesis profiles (``--hypothesis-profile NAME`` or ``HARNESS_PROFILE``), shape menus and
``--hypothesis-seed N`` are resolved by :mod:`harness.profiles` (every profile honours the
seed); every op check also runs the op's covering set (:mod:`harness.covering`).

Any test that takes a ``target`` argument is parametrized over the selected targets, with the
target name as the id. The ``parity`` fixture runs a check and records its outcome; every run
writes ``report.json`` and ``coverage.md`` (also printed at the end), merging the results
of pytest-xdist workers on the controller.
"""

from __future__ import annotations

import os
import platform
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from harness import discovery, divergences, files, oracles, profiles, verdict, xdist_groups
from harness import parity_report as report
from harness.contract import Unsupported
from harness.discovery import Target

ENV_PARITY_OUT = "HARNESS_PARITY_OUT"
ENV_PROFILE = profiles.ENV_PROFILE
ENV_TRAINING_CASES = "HARNESS_TRAINING_CASES"
ENV_COMPILE_CACHE = "HARNESS_COMPILE_CACHE"
TRAINING_SUBSETS = ("all", "quick")
DEFAULT_OUT = "results/parity"
_WORKER_KEY = "harness_parity_rows"
_LOADGROUP_KEY = "harness_loadgroup"
_SEED_KEY = "harness_hypothesis_seed"

CI_EXAMPLES = profiles.CI_EXAMPLES
THOROUGH_EXAMPLES = profiles.THOROUGH_EXAMPLES
PROFILES = profiles.PROFILES
register_profiles = profiles.register_profiles


class StaleDivergenceWarning(UserWarning):
    """A known-divergence entry covered a check that passed: the entry is stale."""


register_profiles()


@dataclass
class HarnessState:
    """Everything the plugin decided at configure time, plus what the run collected."""

    selection: discovery.Selection
    reference: Target | None
    draws: profiles.Draws
    out_dir: Path
    registry: divergences.Registry
    compile_cache: dict[str, str]
    """``{backend: folder}`` of the backends that keep compiled programs between runs."""
    rows: list[report.Row] = field(default_factory=list)
    runs: oracles.RunCache = field(default_factory=oracles.RunCache)
    started: float = field(default_factory=time.time)
    written: tuple[Path, Path] | None = None
    stale: list[str] = field(default_factory=list)

    @property
    def profile(self) -> str:
        """The Hypothesis profile's name."""
        return self.draws.profile

    @property
    def compact(self) -> bool:
        """Draw shapes from :data:`harness.strategies.COMPACT` (``--shapes compact``)."""
        return self.draws.compact

    def meta(self) -> dict[str, Any]:
        """The ``meta`` block of report.json."""
        import hypothesis
        import numpy

        return {
            "targets": [{"name": t.name, "version": t.version} for t in self.selection.targets],
            "unavailable": [
                {"name": t.name, "reason": t.reason} for t in self.selection.unavailable
            ],
            "reference": self.reference.name if self.reference else None,
            **self.draws.meta(),
            "hypothesis": hypothesis.__version__,
            "numpy": numpy.__version__,
            "python": platform.python_version(),
            "machine": platform.machine(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(self.started)),
            "duration_s": round(time.time() - self.started, 1),
            "compile_cache": self.compile_cache,
        }


STATE = pytest.StashKey[HarnessState]()
ROW = pytest.StashKey[report.Row]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--targets``, ``--reference`` and ``--parity-out``."""
    group = parser.getgroup("harness", "harness parity suites")
    group.addoption(
        "--targets",
        default=None,
        help="comma-separated targets (backend or backend:device); default $HARNESS_TARGETS, "
        "else every available target",
    )
    group.addoption(
        "--reference",
        default=None,
        help="reference target for VJPs and training runs; default $HARNESS_REFERENCE, else "
        "the available backend with the highest reference_priority",
    )
    group.addoption(
        "--training-cases",
        default=None,
        choices=TRAINING_SUBSETS,
        help="which training cases the training suites run: all (default "
        f"${ENV_TRAINING_CASES}, else all) or quick (the mini-batch ones)",
    )
    group.addoption(
        "--shapes",
        default=None,
        help=f"shape menus: {' or '.join(profiles.SHAPES)}; default ${profiles.ENV_SHAPES}, "
        "else the profile's (ci: compact, thorough: free)",
    )
    group.addoption(
        "--checks-only",
        action="store_true",
        default=False,
        help="deselect the harness' own machinery tests (those that record no parity row, "
        "so never count for a verdict); harness check and harness parity pass it",
    )
    group.addoption(
        "--compile-cache",
        default=None,
        metavar="DIR|off",
        help="folder where compiling backends keep their programs between runs, or off; "
        f"default ${ENV_COMPILE_CACHE}, else {default_compile_cache()}",
    )
    group.addoption(
        "--parity-out",
        default=None,
        help=f"where report.json and coverage.md go; default $HARNESS_PARITY_OUT, else "
        f"{DEFAULT_OUT}/",
    )


def _draws(config: pytest.Config) -> profiles.Draws:
    """Profile, shape menus and seed (a worker inherits the seed its controller chose)."""
    inherited = getattr(config, "workerinput", {}).get(_SEED_KEY)
    try:
        return profiles.resolve(
            config.getoption("hypothesis_profile", None),
            config.getoption("shapes"),
            config.getoption("hypothesis_seed", None),
            root=config.rootpath,
            inherited_seed=inherited,
        )
    except profiles.ProfileError as e:
        raise pytest.UsageError(str(e)) from None


def training_cases(config: pytest.Config) -> tuple[oracles.TrainingCase, ...]:
    """The training cases to run: ``--training-cases`` / ``$HARNESS_TRAINING_CASES``."""
    name = config.getoption("training_cases") or os.environ.get(ENV_TRAINING_CASES) or "all"
    if name not in TRAINING_SUBSETS:
        raise pytest.UsageError(
            f"${ENV_TRAINING_CASES}: unknown training cases {name!r}; valid choices: "
            + ", ".join(TRAINING_SUBSETS)
        )
    return oracles.QUICK_TRAINING_CASES if name == "quick" else oracles.TRAINING_CASES


def default_compile_cache() -> Path:
    """``compiled/`` in the user's cache folder for the harness (platformdirs)."""
    return files.user_cache("compiled")


def compile_cache(config: pytest.Config) -> Path | None:
    """The ``--compile-cache`` / ``$HARNESS_COMPILE_CACHE`` folder, or None for ``off``."""
    value = config.getoption("compile_cache") or os.environ.get(ENV_COMPILE_CACHE) or ""
    if value.strip().lower() == "off":
        return None
    if not value.strip():
        return default_compile_cache()
    path = Path(value).expanduser()
    if path.exists() and not path.is_dir():
        raise pytest.UsageError(
            f"--compile-cache / ${ENV_COMPILE_CACHE}: {value!r} is a file; give a folder, or off"
        )
    return path


def _use_compile_cache(root: Path | None, targets: list[Target]) -> dict[str, str]:
    """Turn on each compiling backend's persistent cache; ``{backend: folder}`` of those
    that use one."""
    used: dict[str, str] = {}
    if root is None:
        return used
    for t in targets:
        b = t.backend
        if b.name not in used and b.use_compilation_cache(root / b.name):
            used[b.name] = str(root / b.name)
    return used


def _reference(config: pytest.Config) -> Target | None:
    """``--reference`` / ``$HARNESS_REFERENCE`` / the default (None: no backend volunteers)."""
    name = config.getoption("reference")
    if name is None and not os.environ.get(discovery.ENV_REFERENCE, "").strip():
        return discovery.default_reference()
    try:
        return discovery.resolve_reference(name)
    except discovery.TargetError as e:
        raise pytest.UsageError(str(e)) from None


def _registry(selection: discovery.Selection, reference: Target | None) -> divergences.Registry:
    try:
        return divergences.load([*selection.targets, *([reference] if reference else [])])
    except divergences.DivergenceFileError as e:
        raise pytest.UsageError(str(e)) from None


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    """Select targets and the reference, load the profile, read known divergences."""
    draws = _draws(config)
    try:
        selection = discovery.select(config.getoption("targets"), require_available=True)
    except discovery.TargetError as e:
        raise pytest.UsageError(str(e)) from None
    reference = _reference(config)
    out = config.getoption("parity_out") or os.environ.get(ENV_PARITY_OUT) or DEFAULT_OUT
    out_dir = Path(out) if Path(out).is_absolute() else config.rootpath / out
    cache = _use_compile_cache(
        compile_cache(config), [*selection.targets, *([reference] if reference else [])]
    )
    config.stash[STATE] = HarnessState(
        selection, reference, draws, out_dir, _registry(selection, reference), cache
    )
    # ``-n N`` alone means --dist load; use loadgroup so the groups above hold (an explicit
    # --dist wins).
    if getattr(config.option, "dist", None) == "load" and not _explicit_dist(config):
        config.option.dist = "loadgroup"
    # A worker parsed only the command line; the controller tells it (below) to tag groups.
    if getattr(config, "workerinput", {}).get(_LOADGROUP_KEY):
        config.option.loadgroup = True
    if hasattr(config, "workerinput"):
        config.pluginmanager.register(xdist_groups.GroupTags(), "harness-xdist-group-tags")


def _state(config: pytest.Config) -> HarnessState:
    return config.stash[STATE]


def pytest_report_header(config: pytest.Config) -> list[str]:
    """The targets that run (with versions), the unavailable ones (with reasons), the rest."""
    st = _state(config)
    lines = [
        "harness targets: "
        + (", ".join(f"{t.name} ({t.version})" for t in st.selection.targets) or "(none)")
    ]
    lines += [f"harness unavailable: {t.name}: {t.reason}" for t in st.selection.unavailable]
    lines.append(
        f"harness reference: {st.reference.name if st.reference else '(none)'}; "
        f"parity results: {st.out_dir}"
    )
    lines.append(f"harness draws: {st.draws.describe()}")
    if st.compile_cache:
        lines.append(
            "harness compile cache: "
            + ", ".join(f"{name} {path}" for name, path in st.compile_cache.items())
        )
    return lines


@pytest.hookimpl(tryfirst=True)
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize every test that takes ``target`` over the selected targets."""
    if "target" in metafunc.fixturenames:
        selection = _state(metafunc.config).selection
        if selection.targets:
            targets = selection.targets
            metafunc.parametrize("target", targets, ids=[t.name for t in targets])
            return
        why = "; ".join(f"{t.name}: {t.reason}" for t in selection.unavailable) or "none found"
        skip = pytest.mark.skip(reason=f"no available target ({why})")
        metafunc.parametrize("target", [pytest.param(None, marks=skip, id="no-target")])


def _group(item: pytest.Item) -> str | None:
    params = getattr(getattr(item, "callspec", None), "params", {})
    target = params.get("target")
    if target is None:
        return None
    if "op" in params:
        return f"{target.name}|{params['op']}"
    case = params.get("case")
    if isinstance(case, oracles.TrainingCase):
        return f"training|{case.id}"  # every target's runs of a case beside its reference run
    if case is not None:
        return f"{target.name}|{getattr(case, 'id', case)}"
    return None


@pytest.hookimpl(tryfirst=True)  # before xdist tags node ids with their group
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Group checks for pytest-xdist's ``loadgroup``: one op on one target, one workload.

    A JIT compiles per process, and the training cache is per process: keeping an op's
    checks (all oracles and dtypes) on one worker, and every run of a workload beside the
    reference run it is compared with, avoids compiling and training the same thing twice.

    With ``--checks-only``, tests that cannot record a row
    (:func:`harness.verdict.records_checks`) are deselected first.
    """
    if config.getoption("checks_only", False):
        counts = [verdict.records_checks(getattr(i, "fixturenames", ())) for i in items]
        dropped = [i for i, c in zip(items, counts, strict=True) if not c]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = [i for i, c in zip(items, counts, strict=True) if c]
    for item in items:
        group = _group(item)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))


def _explicit_dist(config: pytest.Config) -> bool:
    return any(a == "-d" or a.startswith("--dist") for a in map(str, config.invocation_params.args))


@pytest.fixture(scope="session")
def reference(request: pytest.FixtureRequest) -> Target | None:
    """The reference target (None when no backend volunteers)."""
    return _state(request.config).reference


class Parity:
    """Runs one check for a test, applies known divergences and records the outcome."""

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self.request = request
        self.state = _state(request.config)

    @property
    def settings(self) -> Any:
        """The loaded Hypothesis profile."""
        from hypothesis import settings

        return settings.default

    def _key(self) -> str:
        return self.request.node.nodeid

    def run(
        self,
        target: Target,
        subject: str,
        oracle: str,
        dtype: str,
        body: Callable[[bool], Any],
    ) -> Any:
        """Run ``body(expect_failure)`` as the check ``(target, subject, oracle, dtype)``.

        The row's kind is the oracle's (:data:`harness.oracles.REGISTRY`).
        """
        kind = oracles.get(oracle).kind
        row = report.Row(target.name, subject, oracle, dtype, kind, nodeid=self._key())
        row.circular = oracles.registry.circular(oracle, target.backend.capabilities.emulated)
        self.request.node.stash[ROW] = row
        entry = self.state.registry.match(target.backend_name, target.name, subject, oracle, dtype)
        if entry is not None:
            row.divergence = divergences.key(entry)
        try:
            result = body(entry is not None)
        except Unsupported as e:
            row.status, row.reason = "skip-unsupported", str(e)
            pytest.skip(f"unsupported: {e}")
        except oracles.NotApplicable as e:
            row.status, row.reason = "skip", str(e)
            pytest.skip(str(e))
        except BaseException as e:
            if isinstance(e, (KeyboardInterrupt, SystemExit)) or type(e).__name__ in (
                "Skipped",
                "XFailed",
                "Exit",
            ):
                raise
            _numbers(row, e)
            row.reason = f"{type(e).__name__}: {e}".strip()[:2000]
            if entry is not None:
                row.status = divergences.status(entry, failed=True)
                pytest.xfail(f"known divergence ({entry.where}): {entry.reason}")
            # A verdict (OracleFailure, TrainingFailure) is a disagreement; anything the
            # target raised is its own outcome.
            row.status = "fail" if isinstance(e, AssertionError) else "error"
            raise
        _numbers(row, result)
        row.status = divergences.status(entry, failed=False)
        if entry is not None:
            row.reason = f"known divergence {entry.where} no longer fails"
            warnings.warn(
                f"stale known divergence {entry.pattern!r} ({entry.where}): "
                f"{target.name} {subject} {oracle} {dtype} passed",
                StaleDivergenceWarning,
                stacklevel=2,
            )
        return result

    def op(self, oracle: str, target: Target, op: str, dtype: str) -> oracles.Observed:
        """Property-test ``oracle`` for ``op`` in ``dtype`` on ``target``."""
        st = self.state
        return self.run(
            target,
            op,
            oracle,
            dtype,
            lambda xfail: oracles.check_op(
                oracle, target, op, dtype, reference=st.reference, settings=self.settings,
                expect_failure=xfail, compact=st.compact, seed=st.draws.seed,
            ),
        )  # fmt: skip

    def model(
        self, prop: str, target: Target, case: oracles.ModelCase, dtype: str
    ) -> oracles.Observed:
        """Property-test the metamorphic property ``prop`` of ``case``'s loss."""
        return self.run(
            target,
            case.id,
            prop,
            dtype,
            lambda xfail: oracles.check_model(
                prop, target, case, dtype, settings=self.settings, expect_failure=xfail,
                compact=self.state.compact, seed=self.state.draws.seed,
            ),
        )  # fmt: skip

    def trajectory(self, target: Target, case: oracles.TrainingCase, dtype: str) -> Any:
        """Compare ``target``'s run of ``case`` with the reference's, step by step."""
        st = self.state
        return self.run(
            target,
            case.id,
            "trajectory",
            dtype,
            lambda _: oracles.trajectory(target, case, dtype, reference=st.reference, runs=st.runs),
        )

    def accuracy(self, target: Target, case: oracles.TrainingCase, dtype: str) -> float:
        """Check the test accuracy of ``target``'s run of ``case``."""
        st = self.state
        return self.run(
            target,
            case.id,
            "accuracy",
            dtype,
            lambda _: oracles.accuracy(target, case, dtype, runs=st.runs),
        )


def _numbers(row: report.Row, obj: Any) -> None:
    """Copy the largest errors seen from an Observed / Agreement / Verdict / exception."""
    ag = None
    seen = getattr(obj, "harness_observed", None)  # the examples a failing property ran
    if isinstance(seen, oracles.Observed):
        row.examples, row.inputs = seen.examples, seen.inputs
    if isinstance(obj, oracles.Observed):
        row.examples, row.inputs = obj.examples, obj.inputs
        ag = obj.worst
    elif isinstance(obj, oracles.Agreement):
        ag = obj
    elif isinstance(obj, oracles.OracleFailure):
        ag = obj.agreement
    elif hasattr(obj, "max_rel_diff"):  # a trajectory Verdict
        row.max_abs, row.max_rel = obj.max_abs_diff, obj.max_rel_diff
        tol = obj.tolerance
        if tol:
            rtol = tol["rtol0"] * (obj.worst_step + 1.0) ** tol["growth"]
            row.ratio = obj.max_rel_diff / rtol if rtol else None
        row.extra = {"first_diverging_step": obj.first_diverging_step, "steps": obj.steps}
        return
    elif isinstance(obj, oracles.TrainingFailure) and obj.verdict is not None:
        _numbers(row, obj.verdict)
        return
    elif isinstance(obj, float):
        row.extra = {"value": obj}
        return
    if ag is not None:
        row.max_abs, row.max_rel, row.ratio = ag.max_abs, ag.max_rel, ag.ratio


@pytest.fixture
def parity(request: pytest.FixtureRequest) -> Parity:
    """Runs checks for the calling test and records them in the parity report."""
    return Parity(request)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Record the row of a parity check once its call phase has a verdict."""
    outcome = yield
    rep = outcome.get_result()
    row = item.stash.get(ROW, None)
    if row is None or rep.when != "call":
        return
    if row.status is None:
        row.status = "fail" if rep.failed else "pass"
    _state(item.config).rows.append(row)
    del item.stash[ROW]  # recorded once


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """pytest-xdist: tell a worker the controller schedules by group, and the seed."""
    if node.config.getvalue("dist") == "loadgroup":
        node.workerinput[_LOADGROUP_KEY] = True
    _pass_seed(node)


def _pass_seed(node: Any) -> None:
    """A seed the controller chose goes to every worker (one seed per run, recorded)."""
    st = node.config.stash.get(STATE, None)
    if st is not None and st.draws.seed_chosen:
        node.workerinput[_SEED_KEY] = st.draws.seed


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """pytest-xdist: collect a worker's rows on the controller."""
    rows = getattr(node, "workeroutput", {}).get(_WORKER_KEY, [])
    _state(node.config).rows.extend(report.Row.from_dict(r) for r in rows)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Workers hand their rows to the controller; the controller writes the report."""
    config = session.config
    st = config.stash.get(STATE, None)
    if st is None:
        return
    if _is_worker(config):
        config.workeroutput[_WORKER_KEY] = [r.to_dict() for r in st.rows]  # type: ignore[attr-defined]
        return
    if not st.rows:
        return
    entries = {divergences.key(e): e for e in st.registry.all()}
    outcomes = [(r.divergence, r.status == "xfail") for r in st.rows if r.divergence is not None]
    st.stale = [
        f"{e.pattern}  # {e.reason} ({e.where})"
        for e in divergences.stale(entries.values(), outcomes)
    ]
    st.written = report.write(st.out_dir, st.rows, st.meta(), st.stale)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Print the coverage matrix and where the report went."""
    st = config.stash.get(STATE, None)
    if st is None or not st.rows or _is_worker(config):
        return
    tr = terminalreporter
    tr.section("harness parity coverage")
    for line in report.terminal(st.rows, st.stale).splitlines():
        tr.write_line(line)
    if st.written:
        tr.write_line(f"report: {st.written[0]}  coverage matrix: {st.written[1]}")
