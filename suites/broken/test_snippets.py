"""A failing op check prints a standalone snippet in the target's own framework, and it runs.

Each built-in backend (PyTorch, JAX, the NumPy engine) gets a planted bug written in its own
framework (``exp`` and ``mul`` off by 0.1%); the forward and reverse-mode oracles must fail,
their report must carry the backend's snippet beside the harness reproducer, and the snippet,
run alone in a fresh interpreter, must reproduce the disagreement (an AssertionError from
``assert_allclose``), while the snippet of the same check on the unbroken backend agrees.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from harness import discovery, oracles
from harness.contract import Backend
from harness.discovery import Target

HEAD = "standalone snippet (the target's own framework, without the harness):"


def _with_conv2d(
    kind: str, ops: Mapping[str, Callable[..., Any]]
) -> Mapping[str, Callable[..., Any]]:
    """``ops`` with conv2d off by 0.1%, around the backend's own conv2d."""
    good = ops["conv2d"]
    if kind == "jax":
        import jax

        def conv2d(*args: Any, **params: Any) -> Any:
            # The product too in 64 bits: outside this scope JAX truncates float64 to float32.
            with jax.enable_x64(True):
                return good(*args, **params) * 1.001

    else:

        def conv2d(*args: Any, **params: Any) -> Any:
            return good(*args, **params) * 1.001

    return {**ops, "conv2d": conv2d}


def _planted(kind: str) -> Callable[[Any], Mapping[str, Callable[..., Any]]]:
    """The bug in ``kind``'s own terms (each function refers to its framework's module)."""
    plant = _planted_elementwise(kind)
    return lambda ops: _with_conv2d(kind, plant(ops))


def _planted_elementwise(kind: str) -> Callable[[Any], Mapping[str, Callable[..., Any]]]:
    if kind == "torch":
        import torch

        return lambda ops: {**ops, "exp": lambda x: torch.exp(x) * 1.001,
                            "mul": lambda a, b: torch.mul(a, b) * 1.001}  # fmt: skip
    if kind == "jax":
        import jax.numpy as jnp

        return lambda ops: {**ops, "exp": lambda x: jnp.exp(x) * 1.001,
                            "mul": lambda a, b: jnp.multiply(a, b) * 1.001}  # fmt: skip
    import harness.implementations.numpy_autograd as engine

    return lambda ops: {**ops, "exp": lambda x: engine.exp(x) * 1.001,
                        "mul": lambda a, b: engine.mul(a, b) * 1.001}  # fmt: skip


BACKENDS = {"torch": "torch:cpu", "jax": "jax:cpu", "numpy": "numpy:cpu"}


def _broken(name: str) -> tuple[Target, Target]:
    try:
        good = discovery.get_target(name)
    except discovery.TargetError as e:
        pytest.skip(str(e))
    if not good.available:
        pytest.skip(f"{name}: {good.reason}")
    cls = type(good.backend)
    plant = _planted(name.split(":")[0])

    class Broken(cls):  # type: ignore[misc, valid-type]
        def ops(self) -> Mapping[str, Any]:
            return plant(super().ops())

    backend: Backend = Broken()
    backend.__dict__.update(good.backend.__dict__)
    return good, replace(good, backend=backend)


def _run(source: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", source], capture_output=True, text=True,
                          timeout=120)  # fmt: skip


def _snippet(message: str) -> str:
    assert "reproducer:" in message and HEAD in message, message
    return message.split(HEAD, 1)[1].lstrip("\n")


@pytest.mark.parametrize("name", list(BACKENDS.values()))
@pytest.mark.parametrize("oracle", ["forward", "vjp_reference"])
def test_the_snippet_of_a_planted_failure_reproduces_it_standalone(name: str, oracle: str) -> None:
    _, broken = _broken(name)
    op, inputs = (
        ("exp", [np.array([0.5, -1.0, 2.0], np.float32)])
        if oracle == "forward"
        else ("mul", [np.array([[1.5, -2.0]], np.float32), np.array([3.0, 0.25], np.float32)])
    )
    reference = discovery.default_reference() if oracle == "vjp_reference" else None
    if oracle == "vjp_reference" and reference is None:
        pytest.skip("no reference target")
    check = getattr(oracles, oracle)
    with pytest.raises(oracles.OracleFailure) as err:
        check(broken, op, inputs, seed=0, reference=reference)
    source = _snippet(str(err.value))
    assert "harness" not in source or name == "numpy:cpu"  # the engine lives in the package
    proc = _run(source)
    assert proc.returncode == 1 and "AssertionError" in proc.stderr, proc.stdout + proc.stderr
    assert "Not equal to tolerance" in proc.stderr

    # The same snippet with the unbroken op agrees: the disagreement is the planted one.
    fixed = source.replace(" * 1.001", "")
    proc = _run(fixed)
    assert proc.returncode == 0 and "agrees" in proc.stdout, proc.stdout + proc.stderr


@pytest.mark.parametrize("name", list(BACKENDS.values()))
def test_the_snippet_keeps_parameters_and_runs_on_a_non_contiguous_input(name: str) -> None:
    """A conv2d with stride 2 and padding 1 on a transposed input: the snippet binds the
    parameters (the fixed snippet agrees only with them) and writes the input's values
    without the harness's layout helper, so it still runs standalone."""
    _, broken = _broken(name)
    rng = np.random.default_rng(0)
    x = np.asfortranarray(rng.standard_normal((1, 2, 5, 5)))
    w, b = rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)
    params = {"stride": 2, "padding": 1}
    with pytest.raises(oracles.OracleFailure) as err:
        oracles.forward(broken, "conv2d", [x, w, b], seed=0, params=params)
    source = _snippet(str(err.value))
    assert "with_strides" not in source
    proc = _run(source)
    assert proc.returncode == 1 and "Not equal to tolerance" in proc.stderr, proc.stderr
    proc = _run(source.replace(" * 1.001", ""))
    assert proc.returncode == 0 and "agrees" in proc.stdout, proc.stdout + proc.stderr


def test_a_backend_without_the_hook_reports_the_reproducer_only() -> None:
    _, broken = _broken("numpy:cpu")
    broken.backend.snippet = lambda request: None  # type: ignore[method-assign]
    with pytest.raises(oracles.OracleFailure) as err:
        oracles.forward(broken, "exp", [np.array([0.5], np.float32)], seed=0)
    assert "reproducer:" in str(err.value) and HEAD not in str(err.value)
