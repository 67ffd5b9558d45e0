"""Every differentiable op's gradient: against central differences (float64) and PyTorch.

The cases (:mod:`suites.engine.cases`) are written against a module ``m``; the engine runs
them as ``m = harness.implementations.numpy_autograd`` and PyTorch as ``m = torch``. Each check uses
a random cotangent, so the whole vector-Jacobian product is compared, not just the gradient
of a sum.
"""

from __future__ import annotations

from typing import Any

import harness.implementations.numpy_autograd as E
import numpy as np
import pytest
from harness.implementations.numpy_autograd import vjps

from .cases import BY_NAME, CASES, Case, differentiable, draw

IDS = [c.name for c in CASES]
FD_IDS = [c.name for c in CASES if "not_the_derivative" not in c.tags]


def make_inputs(m: Any, case: Case, arrays: list[np.ndarray], dtype: Any, grad: bool) -> list:
    """Tensors of module ``m``: floats in ``dtype`` (requiring grad if asked), ints, masks."""
    out = []
    for a, x in zip(case.args, arrays, strict=True):
        if a.kind == "f":
            t = m.tensor(x, dtype=dtype)
            if grad and not a.const:
                t.requires_grad_(True)
        else:
            t = m.tensor(x)
        out.append(t)
    return out


def run_vjp(
    m: Any, case: Case, arrays: list[np.ndarray], v: np.ndarray | None, dtype: Any
) -> tuple[np.ndarray, list[np.ndarray | None]]:
    """Value of the case and its VJP with cotangent ``v`` (a fresh seeded one if None)."""
    xs = make_inputs(m, case, arrays, dtype, grad=True)
    out = case.fn(m, *xs)
    if v is None:
        v = cotangent(case, tuple(out.shape))
    diff = [xs[i] for i in differentiable(case)]
    grads = m.autograd.grad(out, diff, m.tensor(v, dtype=out.dtype), allow_unused=True)
    return out.detach().numpy().copy(), [None if g is None else g.numpy().copy() for g in grads]


def cotangent(case: Case, shape: tuple[int, ...]) -> np.ndarray:
    """A seeded random cotangent for the case's output."""
    return np.random.default_rng([7, len(case.name)]).standard_normal(shape)


def engine_value(case: Case, arrays: list[np.ndarray]) -> np.ndarray:
    """Forward value of the case on the engine, float64, no graph."""
    with E.no_grad():
        return case.fn(E, *make_inputs(E, case, arrays, E.float64, grad=False)).numpy()


def fd_vjp(case: Case, arrays: list[np.ndarray], v: np.ndarray, i: int) -> np.ndarray:
    """Central differences of ``<v, f(x)>`` with respect to input ``i`` (step 1e-6)."""
    eps = 1e-6
    g = np.zeros_like(arrays[i])
    for idx in np.ndindex(arrays[i].shape):
        plus = [a.copy() for a in arrays]
        minus = [a.copy() for a in arrays]
        plus[i][idx] += eps
        minus[i][idx] -= eps
        g[idx] = np.sum(v * (engine_value(case, plus) - engine_value(case, minus))) / (2 * eps)
    return g


def check_against_fd(case: Case) -> None:
    arrays = draw(case)
    value, grads = run_vjp(E, case, arrays, None, E.float64)
    v = cotangent(case, value.shape)
    for i, g in zip(differentiable(case), grads, strict=True):
        expected = fd_vjp(case, arrays, v, i)
        assert g is not None, f"{case.name}: no gradient for input {i}"
        assert g.shape == arrays[i].shape and g.dtype == np.float64
        # Central differences with h = 1e-6 are accurate to ~1e-9 here (O(h^2) truncation,
        # O(eps/h) round-off); a wrong VJP is off by O(1).
        np.testing.assert_allclose(g, expected, rtol=1e-6, atol=1e-8, err_msg=f"{case.name} #{i}")


@pytest.mark.parametrize("name", FD_IDS)
def test_vjp_matches_finite_differences(name: str) -> None:
    check_against_fd(BY_NAME[name])


def test_finite_difference_check_catches_a_wrong_vjp(monkeypatch: pytest.MonkeyPatch) -> None:
    # Guards the test above: the same check must fail when a VJP is off by a factor.
    right = vjps.VJPS["sin"]
    monkeypatch.setitem(vjps.VJPS, "sin", lambda g, node, xp: (right(g, node, xp)[0] * 1.01,))
    with pytest.raises(AssertionError):
        check_against_fd(BY_NAME["sin_cos"])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", IDS)
def test_value_and_vjp_match_torch(name: str, dtype: str, torch_mod: Any) -> None:
    case = BY_NAME[name]
    arrays = draw(case)
    v_ref, g_ref = run_vjp(torch_mod, case, arrays, None, getattr(torch_mod, dtype))
    v = cotangent(case, v_ref.shape)
    v_ref, g_ref = run_vjp(torch_mod, case, arrays, v, getattr(torch_mod, dtype))
    value, grads = run_vjp(E, case, arrays, v, getattr(E, dtype))
    assert value.shape == v_ref.shape
    assert value.dtype == v_ref.dtype, f"{name}: value dtype {value.dtype} vs torch {v_ref.dtype}"
    # float64: two correct implementations differ by a few ulp per op. float32: by a few
    # float32 ulp of the largest intermediate (transcendentals, summation order).
    rtol, atol = (1e-10, 1e-12) if dtype == "float64" else (1e-4, 1e-5)
    np.testing.assert_allclose(value, v_ref, rtol=rtol, atol=atol, err_msg=f"{name} value")
    for i, g, gr in zip(differentiable(case), grads, g_ref, strict=True):
        assert (g is None) == (gr is None), f"{name} #{i}: gradient presence differs from torch"
        if g is None or gr is None:  # both, by the assert
            continue
        assert g.dtype == gr.dtype and g.shape == gr.shape, f"{name} #{i}"
        np.testing.assert_allclose(g, gr, rtol=rtol, atol=atol, err_msg=f"{name} #{i}")
