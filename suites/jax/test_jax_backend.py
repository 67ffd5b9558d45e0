"""The JAX backend through the contract: devices, scoped x64, every op, VJP / JVP / 2nd order."""

from __future__ import annotations

import functools
import os
from typing import Any

import numpy as np
import pytest

from harness import catalog, covering, tolerances
from harness.contract import Unsupported
from harness.discovery import get_target

JAX = get_target("jax:cpu").backend


def _case(name: str, seed: int) -> tuple[list[np.ndarray], dict[str, Any]]:
    """The catalog's seeded ordinary example of op ``name`` (float64, default parameters)."""
    case = covering.example(name, "float64", seed)
    return list(case.inputs), dict(case.params)


def _op(name: str, params: dict[str, Any]) -> Any:
    return functools.partial(JAX.ops()[name], **params)


def _fd_vjp(
    op: catalog.OpSpec, xs: list[np.ndarray], v: np.ndarray, i: int, params: dict[str, Any]
) -> np.ndarray:
    """Central-difference VJP of the float64 NumPy reference with respect to argument ``i``."""
    eps = 1e-6
    g = np.zeros_like(xs[i])
    # Outputs that are -inf on purpose (a masked log_softmax's masked positions) are
    # constant: they carry no derivative.
    finite = np.isfinite(op.reference(*xs, **params))
    for idx in np.ndindex(xs[i].shape):
        plus = [x.copy() for x in xs]
        minus = [x.copy() for x in xs]
        plus[i][idx] += eps
        minus[i][idx] -= eps
        with np.errstate(invalid="ignore"):  # -inf - -inf where masked
            diff = op.reference(*plus, **params) - op.reference(*minus, **params)
        g[idx] = np.sum(v * np.where(finite, diff, 0.0)) / (2 * eps)
    return g


def _cast(op: catalog.OpSpec, xs: list[np.ndarray], dtype: str) -> list[np.ndarray]:
    return [x.astype(dtype) if a.kind == "float" else x for a, x in zip(op.args, xs, strict=True)]


def test_devices_and_capabilities() -> None:
    import jax

    status = {d.device: d for d in JAX.devices()}
    assert set(status) == {"cpu", "gpu"}
    assert status["cpu"].available
    try:
        jax.devices("gpu")
        has_gpu = True
    except RuntimeError:
        has_gpu = False
    assert status["gpu"].available == has_gpu
    if not has_gpu:
        assert "gpu" in status["gpu"].reason  # JAX's own message, e.g. "Unknown backend: 'gpu'"
    caps = JAX.capabilities
    assert caps.jvp and caps.second_order and caps.training and caps.compiled
    assert 0 < caps.reference_priority < 50  # below the NumPy engine (50) and torch (100)


def test_unknown_device_names_the_valid_ones() -> None:
    with pytest.raises(Unsupported, match="valid devices: cpu, gpu"):
        JAX.asarray(np.zeros(2), "tpu")


def test_every_catalog_op_is_mapped() -> None:
    assert set(JAX.ops()) == set(catalog.CATALOG)
    assert JAX.unsupported_reasons() == {}


def _x64_flags() -> tuple[object, object]:
    import jax

    # Options jax.config sets as attributes at runtime: its type stubs don't declare them.
    cfg = jax.config
    return cfg.jax_enable_x64, cfg.jax_default_matmul_precision  # type: ignore[attr-defined]


def test_x64_is_scoped_and_does_not_leak(jax_device: str) -> None:
    import jax.numpy as jnp

    from harness import workload

    before = _x64_flags()
    default_before = jnp.ones(3).dtype
    # Everything the backend does with float64: arrays, an op called directly, autograd,
    # and a short compiled training run.
    x = JAX.asarray(np.linspace(-1, 1, 6), jax_device)
    assert x.dtype == np.float64
    y = JAX.ops()["exp"](x)  # called outside any scope: the op enters it itself
    assert y.dtype == np.float64
    np.testing.assert_allclose(JAX.to_numpy(y), np.exp(np.linspace(-1, 1, 6)), rtol=1e-15)
    assert JAX.asarray(np.arange(3, dtype=np.int64), jax_device).dtype == np.int64
    JAX.vjp(JAX.ops()["tanh"], [np.ones(3)], np.ones(3), device=jax_device)
    w = workload.build(model="logreg", optimizer="adam", dtype="float64", epochs=1)
    h = JAX.train(w, device=jax_device)
    assert h.final_params[0].dtype == np.float64
    # Other code still sees JAX as it was.
    assert _x64_flags() == before
    assert jnp.ones(3).dtype == default_before
    if not before[0]:  # JAX's default: 32-bit, float64 input truncated
        assert jnp.ones(3).dtype == jnp.float32
        with pytest.warns(UserWarning, match="truncated"):
            assert jnp.asarray(np.ones(3), dtype=np.float64).dtype == jnp.float32


@pytest.mark.parametrize("name", list(catalog.CATALOG))
def test_forward_and_vjp_float64(name: str, jax_device: str) -> None:
    seed = sum(map(ord, name))
    rng = np.random.default_rng(seed)
    op = catalog.get(name)
    xs, params = _case(name, seed)
    ref = catalog.reference(name, *xs, **params)
    # As the oracles do: outputs that are -inf on purpose get a zero cotangent.
    v = np.where(np.isfinite(ref), rng.standard_normal(np.shape(ref)), 0.0)
    value, grads = JAX.vjp(_op(name, params), xs, v, device=jax_device, argnums=op.diff_argnums)
    assert value.dtype == np.float64 and value.shape == ref.shape
    np.testing.assert_allclose(value, ref, rtol=1e-12, atol=1e-12)
    for i, g in zip(op.diff_argnums, grads, strict=True):
        assert g.shape == xs[i].shape and g.dtype == np.float64
        np.testing.assert_allclose(g, _fd_vjp(op, xs, v, i, params), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", list(catalog.CATALOG))
def test_float32_stays_float32(name: str, jax_device: str) -> None:
    rng = np.random.default_rng(1)
    op = catalog.get(name)
    xs, params = _case(name, 1)
    xs = _cast(op, xs, "float32")
    ref = catalog.reference(name, *xs, **params)
    v = rng.standard_normal(np.shape(ref)).astype(np.float32)
    value, grads = JAX.vjp(_op(name, params), xs, v, device=jax_device, argnums=op.diff_argnums)
    assert value.dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads)
    rtol, atol = tolerances.for_op(name, "float32")
    np.testing.assert_allclose(value, ref, rtol=rtol, atol=atol)


@pytest.mark.parametrize("name", [n for n, op in catalog.CATALOG.items() if op.diff_argnums])
def test_jvp_agrees_with_vjp(name: str, jax_device: str) -> None:
    # <J u, v> = <u, J^T v>: forward mode and reverse mode are the same derivative.
    rng = np.random.default_rng(2)
    op = catalog.get(name)
    xs, params = _case(name, 2)
    argnums = op.diff_argnums
    v = rng.standard_normal(np.shape(catalog.reference(name, *xs, **params)))
    us = [rng.standard_normal(xs[i].shape) for i in argnums]
    fn = _op(name, params)
    _, grads = JAX.vjp(fn, xs, v, device=jax_device, argnums=argnums)
    _, tangent = JAX.jvp(fn, xs, us, device=jax_device, argnums=argnums)
    lhs = np.sum(tangent * v)
    rhs = sum(np.sum(u * g) for u, g in zip(us, grads, strict=True))
    assert np.isclose(lhs, rhs, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", [n for n, op in catalog.CATALOG.items() if op.second_order])
def test_second_order_matches_finite_differences_of_vjp(name: str, jax_device: str) -> None:
    # <vjp_vjp(v, w), u> is the directional derivative along u of <vjp(v), w>.
    rng = np.random.default_rng(3)
    op = catalog.get(name)
    xs, params = _case(name, 3)
    argnums = op.diff_argnums
    v = rng.standard_normal(np.shape(catalog.reference(name, *xs, **params)))
    ws = [rng.standard_normal(xs[i].shape) for i in argnums]
    us = [rng.standard_normal(xs[i].shape) for i in argnums]
    fn = _op(name, params)
    second = JAX.vjp_vjp(fn, xs, v, ws, device=jax_device, argnums=argnums)

    def inner(sign: float) -> float:
        moved = list(xs)
        for i, u in zip(argnums, us, strict=True):
            moved[i] = xs[i] + sign * 1e-5 * u
        _, g = JAX.vjp(fn, moved, v, device=jax_device, argnums=argnums)
        return float(sum(np.sum(a * b) for a, b in zip(g, ws, strict=True)))

    fd = (inner(1.0) - inner(-1.0)) / 2e-5
    exact = sum(np.sum(s * u) for s, u in zip(second, us, strict=True))
    assert np.isclose(exact, fd, rtol=1e-6, atol=1e-8)


def test_tanh_second_order_is_analytic(jax_device: str) -> None:
    rng = np.random.default_rng(4)
    x = rng.uniform(-2, 2, (3, 4))
    v, u = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    (h,) = JAX.vjp_vjp(JAX.ops()["tanh"], [x], v, [u], device=jax_device)
    th = np.tanh(x)
    np.testing.assert_allclose(h, -2 * th * (1 - th**2) * v * u, rtol=1e-12)


def test_fd_check_detects_a_wrong_cotangent(jax_device: str) -> None:
    # Guards the VJP test: a VJP taken with the wrong cotangent must fail the same check.
    rng = np.random.default_rng(5)
    op = catalog.get("tanh")
    xs, params = _case("tanh", 5)
    v = rng.standard_normal(xs[0].shape)
    _, (g,) = JAX.vjp(JAX.ops()["tanh"], xs, 2 * v, device=jax_device)
    assert not np.allclose(g, _fd_vjp(op, xs, v, 0, params), rtol=1e-6, atol=1e-8)


def test_loading_the_backend_turns_off_gpu_memory_preallocation() -> None:
    """Several harness processes share one GPU (command, pytest, xdist workers, ranks): each
    must allocate on demand, not claim 75% of the device at start; a user's value is kept."""
    import subprocess
    import sys

    code = (
        "import os; from harness.discovery import get_target; get_target('jax:cpu'); "
        "print(os.environ.get('XLA_PYTHON_CLIENT_PREALLOCATE'))"
    )
    env = {k: v for k, v in os.environ.items() if k != "XLA_PYTHON_CLIENT_PREALLOCATE"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "false", out.stdout + out.stderr
    env["XLA_PYTHON_CLIENT_PREALLOCATE"] = "true"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "true", out.stdout + out.stderr
