"""The parity machinery itself: strategies keep their promises, divergence files parse,
comparisons and finite differences behave, reports merge and render, the oracle registry is
consistent and the harness modules import without cycles."""

from __future__ import annotations

import ast
import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness import catalog, covering, divergences, oracles, parity_report, shape_rules, strategies

OPS = list(catalog.CATALOG)


def _check_inputs(
    op: catalog.OpSpec, inputs: tuple[np.ndarray, ...], dtype: str, params: dict | None = None
) -> None:
    assert len(inputs) == op.arity
    for spec, x in zip(op.args, inputs, strict=True):
        if spec.kind == "float":
            assert x.dtype == np.dtype(dtype)
            lo, hi = spec.domain
            assert np.all((x >= lo) & (x <= hi)), (op.name, x)
            for k in spec.kinks:
                assert np.all(np.abs(x.astype(np.float64) - k) >= op.margin * (1 - 1e-6))
        elif spec.kind == "index":
            assert x.dtype == np.int64
        else:
            assert x.dtype == np.bool_
    floats = [inputs[i].astype(np.float64) for i in op.diff_argnums]
    if op.separate:
        a, b = floats[:2]
        assert np.all(np.abs(a - b) >= op.margin * (1 - 1e-6))
    for x in floats:
        if op.distinct_last and x.ndim and x.size:
            rows = x.reshape(-1, x.shape[-1])
            gaps = np.diff(np.sort(rows, axis=-1), axis=-1)
            assert np.all(gaps >= op.margin * (1 - 1e-6))
        if op.distinct_all and x.size > 1:
            assert np.all(np.diff(np.sort(x.reshape(-1))) >= op.margin * (1 - 1e-6))
    if op.spread_input and inputs[0].size > 1:
        assert np.all(
            np.diff(np.sort(inputs[0].reshape(-1).astype(np.float64))) >= op.margin * (1 - 1e-6)
        )
    assert set(params or {}) == set(op.params)
    for name, value in (params or {}).items():
        assert value in op.params[name], (op.name, name, value)
    # The catalog's NumPy reference accepts every drawn input and gives a finite value (but
    # where the op is -inf / NaN on purpose: a masked softmax).
    value = catalog.reference(op.name, *inputs, **(params or {}))
    assert op.nonfinite_outputs or np.all(np.isfinite(value)), (op.name, inputs)


@pytest.mark.parametrize("name", OPS)
def test_strategies_respect_the_catalog(name: str) -> None:
    """Shapes follow the rule, values stay in the domain and margin away from kinks and ties."""
    op = catalog.get(name)

    @settings(max_examples=20, derandomize=True, database=None, deadline=None)
    @given(st.data(), st.sampled_from(["float32", "float64"]), st.booleans())
    def check(data: st.DataObject, dtype: str, compact: bool) -> None:
        inputs, params = data.draw(strategies.op_draws(op, dtype, compact))
        _check_inputs(op, inputs, dtype, params)

    check()


def test_free_shapes_cover_scalars_size1_and_broadcasting() -> None:
    """The free strategy draws 0-d arrays, size-1 dims, real broadcasts and lower-rank
    operands with a stretched size-1 dim -- and never a size-0 dim (the covering set's)."""
    seen: set[str] = set()

    @settings(max_examples=300, derandomize=True, database=None, deadline=None)
    @given(strategies.shapes_for(catalog.get("add")))
    def look(shapes: list[tuple[int, ...]]) -> None:
        result = np.broadcast_shapes(*shapes)
        for s in shapes:
            seen.update({"scalar"} if s == () else set())
            seen.update({"size0"} if 0 in s else set())
            seen.update({"size1"} if 1 in s else set())
            stretched = any(a == 1 < b for a, b in zip(s[::-1], result[::-1], strict=False))
            if 0 < len(s) < len(result) and stretched:
                seen.add("lower-rank stretched")
        if shapes[0] != shapes[1]:
            seen.add("broadcast")

    look()
    assert seen == {"scalar", "size1", "broadcast", "lower-rank stretched"}


def test_compact_menus_fit_every_op() -> None:
    """Every compact entry has one shape per argument and shapes that broadcast / multiply."""
    for op in catalog.CATALOG.values():
        if op.shapes in shape_rules.RULES:  # one fixed shape per parameter choice
            shapes = shape_rules.base(op.shapes, op.defaults())
            assert len(shapes) == op.arity and all(0 not in s for s in shapes), op.name
            continue
        menu = f"broadcast{op.arity}" if op.shapes == "broadcast" else op.shapes
        for entry in strategies.COMPACT[menu]:
            assert len(entry) == (1 if op.shapes == "same" else op.arity), (op.name, entry)
            if op.shapes == "broadcast":
                np.broadcast_shapes(*entry)


def test_separate_and_spread() -> None:
    """Ties are broken by at least the margin, inside the domain, keeping the value order."""
    a = np.array([[0.0], [1.0]])
    b = np.array([[0.0, 0.005, -0.001]])  # neither has the full shape: lattice snapping
    a2, b2 = strategies.separate(a, b, 0.01, (-2, 2))
    assert np.all(np.abs(a2 - b2) >= 0.01)
    v = strategies.spread(np.array([2.0, 2.0, 2.0, -1.0]), 0.01, (-2.0, 2.0))
    assert v.max() <= 2.0 and np.all(np.diff(np.sort(v)) >= 0.01) and v[3] == -1.0
    x = strategies.push_from_kinks(np.array([0.0, -0.004, 0.3]), (0.0,), 0.01, (-2, 2))
    assert x[0] >= 0.01 and x[1] <= -0.01 and x[2] == 0.3


def test_divergence_file_parsing_and_matching() -> None:
    """Patterns with wildcards, a required reason, the right error on a bad line."""
    text = """
    # comment
    jax:* pow second_order *   # XLA's pow derivative at exponent 0
    jax:cpu log* forward float32  # float32 log differs by an ulp
    """
    entries = divergences.parse(text, "jax file")
    assert [e.line for e in entries] == [3, 4]
    reg = divergences.Registry()
    reg.add("jax", entries)
    assert reg.match("jax", "jax:gpu", "pow", "second_order", "float64") is entries[0]
    assert reg.match("jax", "jax:cpu", "log_softmax", "forward", "float32") is entries[1]
    assert reg.match("jax", "jax:cpu", "log", "forward", "float64") is None
    assert reg.match("torch", "torch:cpu", "pow", "second_order", "float64") is None
    with pytest.raises(divergences.DivergenceFileError, match=r"jax file:1: every entry needs"):
        divergences.parse("jax:cpu exp forward float32", "jax file")
    with pytest.raises(divergences.DivergenceFileError, match=r"expected 4 fields"):
        divergences.parse("jax:cpu exp forward  # too few", "jax file")
    keys = [divergences.key(e) for e in entries]
    stale = divergences.stale(entries, [(keys[0], True), (keys[1], False), (keys[1], False)])
    assert stale == [entries[1]]


def test_compare_arrays_reports_the_worst_element() -> None:
    """Largest absolute and relative error, where, both values; NaN equals NaN."""
    ag = oracles.compare_arrays(
        np.array([1.0, 2.0, np.nan]), np.array([1.0, 2.1, np.nan]), rtol=1e-3, atol=1e-3
    )
    assert not ag.passed and ag.index == (1,) and ag.mismatched == 1
    assert math.isclose(ag.max_abs, 0.1) and ag.actual == 2.0 and ag.expected == 2.1
    assert oracles.compare_arrays(np.zeros((0, 3)), np.zeros((0, 3)), rtol=0, atol=0).passed


def test_richardson_is_accurate_and_honest_about_its_error() -> None:
    """The extrapolated central difference of sin at 1 is close; its error bound covers it."""
    est, trunc, roundoff = oracles.richardson(lambda t: (math.sin(1 + t), 1.0), 2.5e-3)
    assert abs(est - math.cos(1)) <= 2 * trunc + roundoff + 1e-13
    assert abs(est - math.cos(1)) < 1e-10


def test_literal_round_trips() -> None:
    """Reproducer literals rebuild arrays exactly, 0-d and size-0 included."""
    for a in (
        np.array(0.1, dtype=np.float32),
        np.zeros((2, 0), dtype=np.float64),
        np.array([[1, 2]], dtype=np.int64),
        np.array([True, False]),
        np.array([1 / 3, -2.5e-7], dtype=np.float32),
    ):
        b = eval(oracles.literal(a), {"np": np})
        assert b.dtype == a.dtype and b.shape == a.shape and np.array_equal(a, b)


def test_literal_rebuilds_non_contiguous_layouts() -> None:
    """The covering set's transposed and strided inputs come back with their strides, so a
    bug that shows only on a non-contiguous input shows in the reproducer too."""
    base = np.arange(12, dtype=np.float32).reshape(3, 4) - 5.5
    for a in (
        covering.transposed(base),
        covering.transposed(base[0]),
        covering.strided(base),
        covering.strided(base[:, 0]),
        base.T,
        base[::-1, ::2],
    ):
        assert not a.flags.c_contiguous
        b = eval(oracles.literal(a), {"np": np, "oracles": oracles})
        assert b.dtype == a.dtype and b.shape == a.shape and np.array_equal(a, b)
        assert b.strides == a.strides


def test_report_merges_renders_and_writes(tmp_path) -> None:
    """Rows merge (worst wins), the JSON nests target/op/oracle/dtype, the matrix renders."""
    rows = [
        parity_report.Row("t:cpu", "tanh", "forward", "float32", status="pass", ratio=0.1),
        parity_report.Row("t:cpu", "tanh", "forward", "float32", status="fail", ratio=3.0),
        parity_report.Row("t:cpu", "exp", "forward", "float64", status="skip-unsupported"),
        parity_report.Row(
            "t:cpu",
            "breast_cancer-logreg-sgd-batch",
            "trajectory",
            "float32",
            "training",
            status="xfail",
            max_abs=math.inf,
        ),
    ]
    meta = {"targets": [{"name": "t:cpu", "version": "1"}], "reference": "t:cpu"}
    report_path, md_path = parity_report.write(tmp_path, rows, meta, ["x y z w  # why (f:1)"])
    data = json.loads(report_path.read_text())
    assert data["results"]["t:cpu"]["tanh"]["forward"]["float32"]["status"] == "fail"
    assert data["results"]["t:cpu"]["exp"]["forward"]["float64"]["status"] == "skip-unsupported"
    traj = data["results"]["t:cpu"]["breast_cancer-logreg-sgd-batch"]["trajectory"]["float32"]
    assert traj["max_abs_error"] is None
    assert data["counts"]["t:cpu"]["fail"] == 1 and data["stale_divergences"]
    md = md_path.read_text()
    assert "| tanh | ✗· |" in md and "Whole training runs" in md and "Stale" in md
    assert "tanh" in parity_report.terminal(rows)
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind


@given(st.lists(st.integers(0, 3), min_size=1, max_size=4))
@settings(max_examples=30, derandomize=True, database=None)
def test_reduce_to_shape_inverts_broadcasting(dims: list[int]) -> None:
    """Summing a broadcast array of ones back gives the number of copies in each cell."""
    shape = tuple(1 if d == 0 else d for d in dims)
    small = tuple(1 if i % 2 else s for i, s in enumerate(shape))[1:]
    g = np.ones(shape)
    reduced = oracles.reduce_to_shape(g, small)
    assert reduced.shape == small
    assert np.all(reduced == np.prod(shape) / max(1, int(np.prod(small))))


def test_registry_is_the_one_list_of_oracles() -> None:
    """Names, kinds and abbreviations are unique and valid; the views agree with it."""
    entries = list(oracles.REGISTRY.values())
    assert [o.name for o in entries] == oracles.names() == list(oracles.REGISTRY)
    abbrevs = [o.abbrev for o in entries]
    assert len(set(abbrevs)) == len(abbrevs), abbrevs
    assert all(o.kind in oracles.KINDS for o in entries)
    assert list(oracles.ORACLES) == oracles.names("op")
    assert list(oracles.MODEL_PROPERTIES) == oracles.names("model")
    assert oracles.names("training") == ["trajectory", "accuracy"]
    for o in entries:
        assert o.subjects(), o.name
        if o.kind == "op":  # the op oracles' own metadata is the registry's
            assert isinstance(o.check, oracles.OpOracle)
            assert (o.check.name, o.check.capability) == (o.name, o.capability)
            assert set(o.subjects()) <= set(catalog.CATALOG)
    assert oracles.REGISTRY["jvp_vjp"].capability == "jvp"
    assert "tanh" in oracles.ops_for("second_order") and "add" in oracles.ops_for(
        "broadcast_reduction"
    )
    with pytest.raises(KeyError, match="valid: forward"):
        oracles.ops_for("accuracy")


def test_report_columns_follow_the_registry() -> None:
    """The terminal matrix orders and abbreviates oracles as the registry does."""
    rows = [
        parity_report.Row("t:cpu", "digits-mlp16", o, "float32", "model", status="pass")
        for o in reversed(oracles.names("model"))
    ] + [
        parity_report.Row("t:cpu", "digits-mlp-sgd-batch", o, "float64", "training", status="pass")
        for o in reversed(oracles.names("training"))
    ]
    text = parity_report.terminal(rows)
    assert "(oracles: mb=minibatch_mean, accu=accumulate, perm=permutation)" in text
    assert "(oracles: traj=trajectory, acc=accuracy)" in text


def _module_imports(path: Path, name: str, package: str) -> set[str]:
    """The harness modules ``path`` imports when it is imported (not under TYPE_CHECKING,
    not inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()

    def visit(stmts: list[ast.stmt]) -> None:
        for node in stmts:
            if isinstance(node, ast.If):
                if "TYPE_CHECKING" not in ast.unparse(node.test):
                    visit(node.body)
                    visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name.startswith("harness"))
            elif isinstance(node, ast.ImportFrom):
                mod = node.module or ""
                if node.level:
                    base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                    mod = f"{base}.{mod}" if mod else base
                if mod.startswith("harness"):
                    found.add(mod)
                    found.update(f"{mod}.{a.name}" for a in node.names)

    visit(tree.body)
    return found - {name}


def test_harness_modules_import_without_cycles() -> None:
    """No harness module imports, at import time, a module that imports it back."""
    import harness

    root = Path(harness.__file__).parent
    modules: dict[str, Path] = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        graph[name] = {m for m in _module_imports(path, name, package) if m in modules}
    # A submodule importing its own package's __init__ is how packages work, not a cycle.
    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if node.startswith(nxt + "."):
                continue
            if state.get(nxt) == 1:
                cycle = [*stack[stack.index(nxt) :], nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                dfs(nxt)
        stack.pop()
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            dfs(name)
    assert "harness.oracles.registry" in graph["harness.parity_report"]
