"""Ops a PyTorch user reaches for casually, each compared with real torch where installed.

Found by an audit that ran tutorial-style code against both: NumPy scalars in arithmetic,
``where`` with numbers, rounding, clamp with tensor bounds at the boundary, the variance of
a single element.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import harness.implementations.numpy_autograd as engine
import numpy as np
import pytest

from .compare import comparable

VALUE_CASES: dict[str, Callable[[Any], Any]] = {
    # Creation keeps a NumPy float64 scalar's dtype; Python floats take the default.
    "tensor_np_float64_list": lambda m: m.tensor([np.float64(1.0), 2.0]),
    "tensor_np_float32_list": lambda m: m.tensor([np.float32(1.0)]),
    "tensor_python_floats": lambda m: m.tensor([[1.0], [2.5]]),
    # PyTorch treats a NumPy scalar as a Python number: no promotion to float64.
    "f32_div_np_float64": lambda m: m.ones(2) / np.sqrt(4.0),
    "f32_mul_np_float64": lambda m: m.ones(2) * np.float64(2),
    "np_float64_rsub_f32": lambda m: np.float64(1) - m.ones(2),
    "i64_mul_np_float64": lambda m: m.arange(3) * np.float64(2.5),
    "i64_add_np_int64": lambda m: m.arange(3) + np.int64(2),
    "f32_pow_np_float64": lambda m: m.ones(2) ** np.float64(2),
    "clamp_np_bounds": lambda m: m.clamp(m.tensor([0.5, 3.0]), np.float64(1), np.float64(2)),
    "where_two_floats": lambda m: m.where(m.tensor([True, False]), 1.0, 0.0),
    "where_two_ints": lambda m: m.where(m.tensor([True, False]), 1, 0),
    "where_two_bools": lambda m: m.where(m.tensor([True, False]), True, False),
    "where_int_and_float": lambda m: m.where(m.tensor([True, False]), 1, 0.5),
    "where_tensor_np_float64": lambda m: m.where(m.tensor([True, False]), m.ones(2), np.float64(3)),
    "where_one_argument": lambda m: m.where(m.tensor([[True, False], [False, True]])),
    "round_half_even": lambda m: m.tensor([0.5, 1.5, 2.5, -0.5, -1.7]).round(),
    "round_decimals": lambda m: m.round(m.tensor([1.234, 5.678], dtype=m.float64), decimals=1),
    "round_int": lambda m: m.tensor([3, -2]).round(),
    "floor": lambda m: m.tensor([1.7, -1.2]).floor(),
    "ceil": lambda m: m.ceil(m.tensor([1.2, -1.7])),
    "trunc": lambda m: m.trunc(m.tensor([1.7, -1.7])),
    "tutorial_accuracy": lambda m: (
        m.sigmoid(m.tensor([[-2.0], [0.3], [4.0]])).round().eq(m.tensor([[0.0], [1.0], [0.0]]))
    ).sum() / 3.0,
}  # fmt: skip


@pytest.mark.parametrize("case", list(VALUE_CASES))
def test_values_and_dtypes_match_torch(case: str, torch_mod: Any) -> None:
    assert comparable(VALUE_CASES[case](engine)) == comparable(VALUE_CASES[case](torch_mod))


def test_numpy_scalar_keeps_float32_without_torch() -> None:
    assert (engine.ones(2) / np.sqrt(4.0)).dtype == engine.float32
    assert (engine.arange(2) * np.float64(2)).dtype == engine.float32
    assert engine.where(engine.tensor([True]), 1, 0).dtype == engine.int64
    assert engine.tensor([0.5, 1.5, 2.5]).round().tolist() == [0.0, 2.0, 2.0]


GRAD_CASES: dict[str, Callable[[Any, Any], Any]] = {
    # x == min (first) and x == max (last) pass the gradient to x, as PyTorch's clamp.
    "clamp_tensor_bounds": lambda m, x: m.clamp(
        x, min=m.tensor([1.0, 2.5, 1.0, 0.0]), max=m.tensor([3.0, 3.0, 2.0, 4.0])
    ),
    "clamp_tensor_min_tie": lambda m, x: m.clamp(x, min=m.tensor([1.0, 2.0, 5.0, 4.0])),
    "round_times_x": lambda m, x: x.round() * x,
    "floor_ceil_trunc": lambda m, x: x.floor() + x.ceil() + x.trunc(),
    "where_scalar_branch": lambda m, x: m.where(x > 2, x * x, 0.0),
    # Tied extremes share the gradient evenly in amax/amin (not in max(dim), which picks one).
    "amax_ties": lambda m, x: m.amax(m.stack([x, m.full((4,), 3.0)]), 0) * 3,
    "amin_ties_all_dims": lambda m, x: m.amin(m.stack([x, m.ones(4)]), (0, 1)),
}


@pytest.mark.parametrize("case", list(GRAD_CASES))
def test_gradients_match_torch(case: str, torch_mod: Any) -> None:
    grads = []
    for m in (engine, torch_mod):
        x = m.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
        GRAD_CASES[case](m, x).sum().backward()
        grads.append(x.grad.numpy().tolist())
    assert grads[0] == grads[1]


def test_clamp_tensor_bound_gradient_goes_where_the_bound_is_taken() -> None:
    x = engine.tensor([1.0, 2.0, 3.0], requires_grad=True)
    lo = engine.tensor([1.0, 2.5, 1.0], requires_grad=True)
    hi = engine.tensor([3.0, 3.0, 2.0], requires_grad=True)
    engine.clamp(x, min=lo, max=hi).sum().backward()
    assert x.grad.tolist() == [1.0, 0.0, 0.0]
    assert lo.grad.tolist() == [0.0, 1.0, 0.0]
    assert hi.grad.tolist() == [0.0, 0.0, 1.0]


def test_variance_of_one_element_is_nan_not_an_error(torch_mod: Any) -> None:
    out = []
    for m in (engine, torch_mod):
        y = m.tensor([2.0], requires_grad=True)
        with pytest.warns(UserWarning if m is torch_mod else RuntimeWarning):
            v = y.var()
        v.backward()
        out.append((np.isnan(v.item()), np.isnan(y.grad.numpy()).tolist()))
    assert out[0] == out[1] == (True, [True])


def test_rounding_output_requires_grad_with_zero_gradient() -> None:
    x = engine.tensor([0.4, 1.6], requires_grad=True)
    r = x.round()
    assert r.requires_grad
    r.sum().backward()
    assert x.grad.tolist() == [0.0, 0.0]


ERROR_CASES: dict[str, tuple[Callable[[Any], Any], str]] = {
    "int_tensor_iadd_float": (
        lambda m: m.arange(3).add_(1.5),
        "result type Float can't be cast to the desired output type Long",
    ),
    "cross_entropy_column_target": (
        lambda m: m.nn.functional.cross_entropy(m.zeros(2, 3), m.zeros(2, 1, dtype=m.long)),
        "0D or 1D target tensor expected, multi-target not supported",
    ),
}


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_errors_match_torch(case: str, torch_mod: Any) -> None:
    fn, message = ERROR_CASES[case]
    for m in (engine, torch_mod):
        with pytest.raises(RuntimeError, match=message):
            fn(m)


def test_grad_fn_name_is_a_method(torch_mod: Any) -> None:
    names = []
    for m in (engine, torch_mod):
        y = m.ones(2, requires_grad=True) * 3
        names.append(y.grad_fn.name())
    assert names == ["MulBackward0", "MulBackward0"]
