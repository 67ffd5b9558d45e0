"""Where the parity checks look: random draws, covering sets, kink points, seeds and menus.

The covering set of every op keeps the promises of :mod:`harness.covering`; random draws
never spend an example on an empty array; the compact menus give every broadcasting op
lower-rank operands with stretched size-1 dimensions on each side; explicit examples run
beside the draws and a seed adds random draws to a derandomized profile; the profile
options resolve with clear errors and reach the parity report.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness import catalog, covering, oracles, profiles, shape_rules, strategies

OPS = list(catalog.CATALOG)
DTYPES = ["float32", "float64"]
ROOT = Path(__file__).resolve().parents[2]
pytest_plugins = ["pytester"]


def _near(x: np.ndarray, points: list[float], margin: float) -> bool:
    v = x.astype(np.float64).ravel()
    return all(np.any(np.abs(np.abs(v - k) - margin * (1 + 1e-3)) < 1e-6) for k in points)


@pytest.mark.parametrize("name", OPS)
def test_random_draws_are_never_empty(name: str) -> None:
    """Neither free nor compact draws give a size-0 array: empties are the covering set's."""
    op = catalog.get(name)

    @settings(max_examples=20, derandomize=True, database=None, deadline=None)
    @given(st.data(), st.sampled_from(DTYPES), st.booleans())
    def check(data: st.DataObject, dtype: str, compact: bool) -> None:
        inputs, _ = data.draw(strategies.op_draws(op, dtype, compact))
        assert all(x.size > 0 for x in inputs), [x.shape for x in inputs]

    check()


def test_compact_menus_broadcast_lower_rank_operands_on_each_side() -> None:
    """Every broadcasting arity's menu has, for each argument position, an entry in which
    that argument has a lower rank than the result and a stretched size-1 dimension."""
    for n in (2, 3):
        menu = strategies.COMPACT[f"broadcast{n}"]
        for i in range(n):
            hits = [
                e
                for e in menu
                if len(e[i]) < len(np.broadcast_shapes(*e))
                and any(
                    s == 1 and r > 1
                    for s, r in zip(e[i][::-1], np.broadcast_shapes(*e)[::-1], strict=False)
                )
            ]
            assert hits, (n, i)
    assert all(0 not in s for m in strategies.COMPACT.values() for e in m for s in e)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", OPS)
def test_covering_set_keeps_its_promises(name: str, dtype: str) -> None:
    """Signs and zero, kink sides at the margin, ties moved apart, extremes near the dtype's
    limits, broadcasting on every axis, non-contiguous layouts, one empty case at most; every
    case valid for the catalog's reference (finite) and its kink and tie rules."""
    op = catalog.get(name)
    cases = covering.covering(op, dtype)
    labels = [c.label for c in cases]
    assert len(set(labels) - {"broadcast"}) == len([x for x in labels if x != "broadcast"])
    for c in cases:
        assert len(c.inputs) == op.arity
        for spec, x in zip(op.args, c.inputs, strict=True):
            if spec.kind == "float":
                assert x.dtype == np.dtype(dtype)
                for k in spec.kinks:
                    assert np.all(np.abs(x.astype(np.float64) - k) >= op.margin * (1 - 1e-6))
        if op.separate and all(x.size for x in c.inputs):
            a, b = (c.inputs[i].astype(np.float64) for i in op.diff_argnums[:2])
            assert np.all(np.abs(a - b) >= op.margin * (1 - 1e-6)), c.label
        value = catalog.reference(op.name, *c.inputs, **c.params)
        assert op.nonfinite_outputs or np.all(np.isfinite(value)), (c.label, c.inputs)
    by = {c.label: c for c in cases}
    empties = [c for c in cases if any(x.size == 0 for x in c.inputs)]
    rule = f"broadcast{op.arity}" if op.shapes == "broadcast" else op.shapes
    allows_empty = rule in covering.EMPTY or rule in shape_rules.EMPTY
    assert len(empties) == (1 if allows_empty else 0), labels
    for name, choices in op.params.items():  # every other value of a parameter, once
        for value in choices[1:]:
            case = by[f"param:{name}={value}"]
            assert case.params == op.defaults() | {name: value}
            catalog.reference(op.name, *case.inputs, **case.params)
    if any(a.kind == "mask" for a in op.args):  # a fully masked row
        mask = next(
            x for x, a in zip(by["mask:rows"].inputs, op.args, strict=True) if a.kind == "mask"
        )
        assert mask.reshape(-1, mask.shape[-1])[0].all()
    for label in ("transposed", "strided"):
        arrays = [x for x in by[label].inputs if x.ndim and x.size > 1]
        assert arrays and not any(x.flags.c_contiguous for x in arrays), label
    for i in op.diff_argnums:
        spec, x = op.args[i], by["signs"].inputs[i].astype(np.float64)
        lo, hi = spec.domain
        if lo < 0 < hi and not spec.kinks and x.size >= 3:
            assert (x < 0).any() and (x == 0).any() and (x > 0).any(), x
        if spec.kinks:
            assert _near(by["kinks"].inputs[i], list(spec.kinks), op.margin), by["kinks"]
    ties = (
        [by["ties"].inputs[i].astype(np.float64) for i in op.diff_argnums] if "ties" in by else []
    )
    gaps = (
        np.abs(ties[0] - ties[1]).ravel()
        if op.separate
        else np.diff(np.sort(ties[0].ravel()))
        if ties
        else np.zeros(0)
    )
    if op.separate or op.distinct_last or op.distinct_all:  # tied values, now a margin apart
        assert np.any(np.abs(gaps - op.margin * (1 + 1e-3)) < 1e-6), gaps
    finfo = np.finfo(dtype)
    for name_ in {e for a in op.args for e in a.extremes}:
        case = by[f"extreme:{name_}"]
        x = next(
            c for c, a in zip(case.inputs, op.args, strict=True) if name_ in a.extremes
        ).astype(np.float64)
        with np.errstate(over="ignore", under="ignore", divide="ignore"):
            if name_ == "large":  # exp overflows, and underflows to exactly 0, without a shift
                assert (
                    np.isinf(np.exp(x.max().astype(dtype))) and np.exp(x.min().astype(dtype)) == 0
                )
            elif name_ == "exp_range":  # exp's result within 1e3 of the limits, still finite
                assert float(finfo.max) / 1e3 < np.exp(x.max()) < float(finfo.max)
                assert float(finfo.tiny) < np.exp(x.min()) < 1e3 * float(finfo.tiny)
            elif name_ == "tiny_huge":
                assert x.min() < 1e3 * float(finfo.tiny) and x.max() > float(finfo.max) / 1e3
            else:
                assert x.min() < 1e-6 and x.max() > 1 - 1e-6
        assert case.finite_differences == covering.EXTREMES[name_].finite_differences
    if op.shapes == "broadcast":
        shapes = [[x.shape for x in c.inputs] for c in cases if c.label == "broadcast"]
        for i in range(op.arity):
            lower = [s for s in shapes if len(s[i]) < len(np.broadcast_shapes(*s))]
            assert lower, (name, i)
        for s in shapes:  # every axis of the result is stretched or missing in some operand
            result = np.broadcast_shapes(*s)
            for axis in range(-len(result), 0):
                assert any(len(x) < -axis or x[axis] == 1 for x in s), (s, axis)


@pytest.mark.parametrize("name", oracles.ops_for("kink_convention"))
def test_kink_cases_sit_exactly_on_the_kinks(name: str) -> None:
    """Kink cases hold every kink exactly, equal values for ties, tied extrema."""
    op = catalog.get(name)
    cases = covering.kink_cases(op, "float32")
    assert cases
    for c in cases:
        xs = [c.inputs[i].astype(np.float64) for i in op.diff_argnums]
        for i, spec in enumerate(op.args):
            for k in spec.kinks:
                assert np.any(c.inputs[i] == k), (c.label, k)
        if op.separate:
            a, b = np.broadcast_arrays(*xs[:2])
            assert np.any(a == b) and np.any(a != b)
        if op.distinct_last:
            rows = xs[0].reshape(-1, xs[0].shape[-1])
            assert any(np.sum(r == r.max()) > 1 for r in rows)
            assert any(np.sum(r == r.min()) > 1 for r in rows)
        if op.distinct_all:
            assert np.sum(xs[0] == xs[0].max()) > 1
    assert {o for o in OPS if covering.kink_points(catalog.get(o))} == set(
        oracles.ops_for("kink_convention")
    )


def _seen(seed: int | None, examples: list[int], profile: str = "ci", draw: bool = True) -> list:
    seen: list = []

    def test(x: int) -> oracles.Agreement:
        seen.append(x)
        return oracles.Agreement(True)

    oracles.run_property(
        test,
        st.integers(0, 10**9),
        settings=settings.get_profile(profile),
        key="k",
        examples=examples,
        seed=seed,
        draw=draw,
    )
    return seen


def test_explicit_examples_run_and_seeds_add_random_draws() -> None:
    """The covering examples run first; without a seed the derandomized draws repeat; a
    seed adds the profile's number of draws, the same for the same seed, new for another."""
    n = profiles.CI_EXAMPLES
    fixed = _seen(None, [-1, -2])
    assert fixed[:2] == [-1, -2] and fixed == _seen(None, [-1, -2])
    assert _seen(None, [-1, -2], draw=False) == [-1, -2]
    one, again, other = _seen(1, [-1]), _seen(1, [-1]), _seen(2, [-1])
    assert one == again and one[: len(fixed) - 1] == fixed[:1] + fixed[2:]
    assert len(one) >= len(fixed) - 1 + n - 1 and one != other
    assert oracles.check_seed(1, "a") != oracles.check_seed(1, "b") != oracles.check_seed(2, "a")


def test_profile_options_resolve_with_clear_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    """--shapes beats $HARNESS_SHAPES beats the profile's default; bad values name the option
    and the valid choices; the seed must be a non-negative integer."""
    monkeypatch.delenv(profiles.ENV_SHAPES, raising=False)
    assert profiles.resolve_shapes(None, "ci") == "compact"
    assert profiles.resolve_shapes(None, "thorough") == "free"
    assert profiles.resolve_shapes(None, "mine") == "compact"
    monkeypatch.setenv(profiles.ENV_SHAPES, "free")
    assert profiles.resolve_shapes(None, "ci") == "free"
    assert profiles.resolve_shapes("compact", "thorough") == "compact"
    with pytest.raises(profiles.ProfileError, match=r"\$HARNESS_SHAPES value 'x'; valid choices"):
        monkeypatch.setenv(profiles.ENV_SHAPES, "x")
        profiles.resolve_shapes(None, "ci")
    with pytest.raises(
        profiles.ProfileError, match="--shapes value 'wide'; valid choices: compact, free"
    ):
        profiles.resolve_shapes("wide", "ci")
    assert profiles.parse_seed("12") == 12 and profiles.parse_seed(None) is None
    with pytest.raises(profiles.ProfileError, match="--hypothesis-seed must be"):
        profiles.parse_seed("abc")


def test_seed_and_shapes_reach_the_report(pytester: pytest.Pytester, tmp_path: Path) -> None:
    """A real suite run with a seed and free shapes records both in report.json; a bad
    --shapes is a usage error naming the option and its choices."""
    out = tmp_path / "parity"
    common = ["-p", "no:cacheprovider", "--rootdir", str(ROOT), "-c", str(ROOT / "pyproject.toml")]
    ops = str(ROOT / "suites" / "parity" / "test_ops.py")
    result = pytester.runpytest_subprocess(
        *common, ops, "--hypothesis-seed", "7", "--shapes", "free", "--parity-out", str(out),
        "-k", "test_forward and relu and float32",
    )  # fmt: skip
    assert result.ret == 0, result.stdout.str()
    meta = json.loads((out / "report.json").read_text())["meta"]
    assert (meta["hypothesis_seed"], meta["shapes"], meta["profile"]) == (7, "free", "ci")
    assert "seed 7" in result.stdout.str()
    bad = pytester.runpytest_subprocess(*common, ops, "--shapes", "wide", "--co")
    assert bad.ret == 4
    assert "--shapes value 'wide'; valid choices: compact, free" in bad.stderr.str()
