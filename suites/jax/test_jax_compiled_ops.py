"""The JAX backend compiles its own ops' VJP / JVP / second order once per op and shape
(``JaxBackend._compiled``): the compiled programs give the eager path's numbers, and a
second example of the same shapes compiles nothing."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from harness import catalog
from harness.contract import reused
from harness.discovery import get_target

from .test_jax_backend import _case
from .test_jax_training import _count_compiles

JAX = get_target("jax:cpu").backend
OPS = ("tanh", "mul", "where", "gather", "softmax", "cross_entropy")
"""Unary, broadcasting, a bool mask, integer indices, a reduction, a loss with labels."""


def _eager(name: str) -> Callable[..., Any]:
    """The op under a wrapper the backend does not know: it runs eagerly."""
    fn = JAX.ops()[name]
    return lambda *a: fn(*a)


def _all(
    name: str, fn: Callable[..., Any], xs: list[np.ndarray], seed: int, backend: Any = JAX
) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    op = catalog.get(name)
    argnums = op.diff_argnums
    v = rng.standard_normal(np.shape(catalog.reference(name, *xs)))
    ws = [rng.standard_normal(xs[i].shape).astype(xs[i].dtype) for i in argnums]
    out, grads = backend.vjp(fn, xs, v, device="cpu", argnums=argnums)
    results = [out, *grads, *backend.jvp(fn, xs, ws, device="cpu", argnums=argnums)]
    if op.second_order:
        results += backend.vjp_vjp(fn, xs, v, ws, device="cpu", argnums=argnums)
    return [np.asarray(r) for r in results]


@pytest.mark.parametrize("name", OPS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_compiled_transforms_give_the_eager_numbers(name: str, dtype: str) -> None:
    op = catalog.get(name)
    xs = [
        x.astype(dtype) if a.kind == "float" else x
        for a, x in zip(op.args, _case(name, 0)[0], strict=True)
    ]
    compiled = _all(name, JAX.ops()[name], xs, 1)
    eager = _all(name, _eager(name), xs, 1)
    assert len(compiled) == len(eager)
    for c, e in zip(compiled, eager, strict=True):
        assert c.dtype == e.dtype and c.shape == e.shape
        # XLA fuses a compiled program's elementwise chains and reorders its sums: measured
        # up to 3.7 ulps of the array's scale (softmax's second order, float32), no more.
        scale = float(np.max(np.abs(e), initial=0.0))
        np.testing.assert_allclose(c, e, rtol=0, atol=16 * float(np.finfo(dtype).eps) * scale)


@pytest.mark.parametrize("name", OPS)
def test_a_second_example_of_the_same_shapes_compiles_nothing(name: str) -> None:
    first, second = _case(name, 2)[0], _case(name, 3)[0]
    fresh = type(JAX)()  # its own programs: nothing compiled by an earlier test
    fresh.load()
    with _count_compiles() as warm:
        _all(name, fresh.ops()[name], first, 3, fresh)
    with _count_compiles() as again:
        _all(name, fresh.ops()[name], second, 4, fresh)
    assert warm, "the listener sees the first example's compilations"
    assert not again, f"{len(again)} compilations for new values of the same shapes"


def test_a_reused_function_is_traced_once_per_shape() -> None:
    """A function the harness marks :func:`~harness.contract.reused` (a model's loss) is
    compiled: new values of the same shapes do not run its Python again; an unmarked one
    runs eagerly, its Python on every call."""
    fresh = type(JAX)()
    fresh.load()
    ops = fresh.ops()
    traces: list[int] = []

    def loss(x: Any, w: Any) -> Any:
        traces.append(1)
        return ops["sum"](ops["tanh"](ops["matmul"](x, w)))

    rng = np.random.default_rng(0)
    draws = [[rng.standard_normal((3, 4)), rng.standard_normal((4, 2))] for _ in range(3)]
    one = np.ones(())
    marked = reused(loss)
    results = [fresh.vjp(marked, xs, one, device="cpu") for xs in draws]
    assert len(traces) == 1, f"traced {len(traces)} times for 3 draws of one shape"
    unmarked = functools.partial(loss)  # the same code, not marked: eager
    eager = [fresh.vjp(unmarked, xs, one, device="cpu") for xs in draws]
    assert len(traces) == 1 + 3
    for (v, g), (ve, ge) in zip(results, eager, strict=True):
        np.testing.assert_allclose(v, ve, rtol=1e-13)
        for a, b in zip(g, ge, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_an_op_with_bound_parameters_compiles_once_per_value() -> None:
    """The oracles bind an op's parameters with a new ``functools.partial`` per call: the
    same op with the same values shares one program, other values get their own, and the
    numbers are the eager path's."""
    fresh: Any = type(JAX)()
    fresh.load()
    conv = fresh.ops()["conv2d"]
    rng = np.random.default_rng(1)
    xs = [rng.standard_normal((2, 2, 6, 6)), rng.standard_normal((3, 2, 3, 3)), np.zeros(3)]
    v = rng.standard_normal((2, 3, 3, 3))

    def programs() -> int:
        return len([key for key in fresh._jitted if key[0] == "vjp"])

    params = {"stride": 2, "padding": 1, "dilation": 1, "groups": 1}
    out = [fresh.vjp(functools.partial(conv, **params), xs, v, device="cpu") for _ in range(2)]
    assert programs() == 1
    other = functools.partial(conv, stride=1, padding=0, dilation=1, groups=1)
    fresh.vjp(other, xs, rng.standard_normal((2, 3, 4, 4)), device="cpu")
    assert programs() == 2
    eager = fresh.vjp(lambda *a: conv(*a, **params), xs, v, device="cpu")
    for value, grads in out:
        np.testing.assert_allclose(value, eager[0], rtol=1e-13)
        for a, b in zip(grads, eager[1], strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)
