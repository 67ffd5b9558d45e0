"""``create_graph=True`` (second order) and forward mode (``autograd.functional.jvp``).

Second order is checked as a Hessian-vector product: with ``g_i = VJP_i(x; v)`` from a
backward pass that records itself, ``d/dx <g, w>`` must equal central differences of the
plain first-order VJP, and PyTorch's double backward. Every case runs, so every VJP is
exercised on the recorded (Tensor) path too. Forward mode must equal central differences of
the forward pass along the tangent, and ``torch.func.jvp``.
"""

from __future__ import annotations

from typing import Any

import harness.implementations.numpy_autograd as E
import numpy as np
import pytest

from .cases import BY_NAME, CASES, Case, differentiable, draw
from .test_gradients import cotangent, engine_value, make_inputs, run_vjp

IDS = [c.name for c in CASES if "not_the_derivative" not in c.tags]


def _directions(case: Case, arrays: list[np.ndarray]) -> list[np.ndarray]:
    rng = np.random.default_rng([11, len(case.name)])
    return [rng.standard_normal(arrays[i].shape) for i in differentiable(case)]


def hvp(m: Any, case: Case, arrays: list[np.ndarray], v: np.ndarray, ws: list[np.ndarray]) -> list:
    """``d/dx sum_i <VJP_i(x; v), w_i>`` by differentiating a recorded backward pass."""
    dtype = m.float64
    xs = make_inputs(m, case, arrays, dtype, grad=True)
    diff = [xs[i] for i in differentiable(case)]
    out = case.fn(m, *xs)
    gs = m.autograd.grad(out, diff, m.tensor(v, dtype=dtype), create_graph=True, allow_unused=True)
    terms = [
        (g * m.tensor(w, dtype=dtype)).sum() for g, w in zip(gs, ws, strict=True) if g is not None
    ]
    inner = terms[0]
    for t in terms[1:]:
        inner = inner + t
    if not inner.requires_grad:  # piecewise-linear ops: the gradient does not depend on x
        return [np.zeros_like(arrays[i]) for i in differentiable(case)]
    second = m.autograd.grad(inner, diff, allow_unused=True)
    return [
        np.zeros_like(arrays[i]) if s is None else s.detach().numpy(force=True).copy()
        for i, s in zip(differentiable(case), second, strict=True)
    ]


def fd_hvp(case: Case, arrays: list[np.ndarray], v: np.ndarray, ws: list[np.ndarray]) -> list:
    """Central differences of ``<VJP(x; v), w>`` computed by first-order backward passes."""
    eps = 1e-6

    def inner(xs: list[np.ndarray]) -> float:
        _, gs = run_vjp(E, case, xs, v, E.float64)
        return float(sum(np.sum(g * w) for g, w in zip(gs, ws, strict=True) if g is not None))

    out = []
    for i in differentiable(case):
        h = np.zeros_like(arrays[i])
        for idx in np.ndindex(arrays[i].shape):
            plus = [a.copy() for a in arrays]
            minus = [a.copy() for a in arrays]
            plus[i][idx] += eps
            minus[i][idx] -= eps
            h[idx] = (inner(plus) - inner(minus)) / (2 * eps)
        out.append(h)
    return out


@pytest.mark.parametrize("name", IDS)
def test_second_order_matches_finite_differences(name: str) -> None:
    case = BY_NAME[name]
    arrays = draw(case)
    value, _ = run_vjp(E, case, arrays, None, E.float64)
    v = cotangent(case, value.shape)
    ws = _directions(case, arrays)
    got = hvp(E, case, arrays, v, ws)
    for k, (g, expected) in enumerate(zip(got, fd_hvp(case, arrays, v, ws), strict=True)):
        # Differences of gradients: ~1e-9 accurate with h = 1e-6.
        np.testing.assert_allclose(g, expected, rtol=1e-5, atol=1e-7, err_msg=f"{name} #{k}")


@pytest.mark.parametrize("name", IDS)
def test_second_order_matches_torch(name: str, torch_mod: Any) -> None:
    case = BY_NAME[name]
    arrays = draw(case)
    value, _ = run_vjp(E, case, arrays, None, E.float64)
    v = cotangent(case, value.shape)
    ws = _directions(case, arrays)
    for k, (g, expected) in enumerate(
        zip(hvp(E, case, arrays, v, ws), hvp(torch_mod, case, arrays, v, ws), strict=True)
    ):
        np.testing.assert_allclose(g, expected, rtol=1e-9, atol=1e-11, err_msg=f"{name} #{k}")


def _jvp_fn(m: Any, case: Case, arrays: list[np.ndarray]) -> tuple[Any, tuple]:
    xs = make_inputs(m, case, arrays, m.float64, grad=False)
    idx = differentiable(case)

    def f(*diff: Any) -> Any:
        args = list(xs)
        for i, d in zip(idx, diff, strict=True):
            args[i] = d
        return case.fn(m, *args)

    return f, tuple(xs[i] for i in idx)


@pytest.mark.parametrize("name", IDS)
def test_jvp_matches_finite_differences(name: str) -> None:
    case = BY_NAME[name]
    arrays = draw(case)
    us = _directions(case, arrays)
    f, primals = _jvp_fn(E, case, arrays)
    out, tangent = E.autograd.functional.jvp(f, primals, tuple(E.tensor(u) for u in us))
    eps = 1e-6
    plus, minus = [a.copy() for a in arrays], [a.copy() for a in arrays]
    for i, u in zip(differentiable(case), us, strict=True):
        plus[i] = plus[i] + eps * u
        minus[i] = minus[i] - eps * u
    expected = (engine_value(case, plus) - engine_value(case, minus)) / (2 * eps)
    np.testing.assert_allclose(out.numpy(), engine_value(case, arrays), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(tangent.numpy(), expected, rtol=1e-6, atol=1e-8, err_msg=name)


@pytest.mark.parametrize("name", IDS)
def test_jvp_matches_torch(name: str, torch_mod: Any) -> None:
    case = BY_NAME[name]
    arrays = draw(case)
    us = _directions(case, arrays)
    f, primals = _jvp_fn(E, case, arrays)
    _, tangent = E.autograd.functional.jvp(f, primals, tuple(E.tensor(u) for u in us))
    tf, tprimals = _jvp_fn(torch_mod, case, arrays)
    _, expected = torch_mod.func.jvp(tf, tprimals, tuple(torch_mod.tensor(u) for u in us))
    np.testing.assert_allclose(
        tangent.numpy(), expected.numpy(), rtol=1e-9, atol=1e-11, err_msg=name
    )


def test_third_order_through_a_recorded_backward() -> None:
    # d^3/dx^3 sin(x) = -cos(x): differentiate a recorded backward twice more.
    x = E.tensor([0.3, -1.2, 2.0], dtype=E.float64, requires_grad=True)
    (g1,) = E.autograd.grad(E.sin(x).sum(), x, create_graph=True)
    (g2,) = E.autograd.grad(g1.sum(), x, create_graph=True)
    (g3,) = E.autograd.grad(g2.sum(), x)
    np.testing.assert_allclose(g3.numpy(), -np.cos(x.detach().numpy()), rtol=1e-14)
