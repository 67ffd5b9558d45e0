"""Views and in-place ops: shared memory, CopySlices-style history, shared version counters.

Each case runs the same code with the engine and with real torch (where installed) and
compares every tensor it returns: values, dtype, shape and, for gradients, the numbers.
"""

from __future__ import annotations

from typing import Any

import harness.implementations.numpy_autograd as engine
import numpy as np
import pytest
from harness.implementations.numpy_autograd import nn

from .compare import comparable

CASES: dict[str, str] = {
    "view_inplace_no_grad": "x = m.zeros(2, 3); v = x[0]; v.add_(1); out = x",
    "reshape_view_setitem": "x = m.zeros(2, 3); v = x.view(6); v[0] = 7; out = x",
    "transpose_view_setitem": "x = m.zeros(2, 3); x.T[0, 1] = 5; out = x",
    "unsqueeze_view_setitem": "x = m.zeros(3); x.unsqueeze(0)[0, 1] = 4; out = x",
    "view_inplace_graph": (
        "x = m.ones(2, 3, requires_grad=True); y = x * 2; v = y[0]; v.mul_(3)\n"
        "y.sum().backward(); out = (y, v, x.grad)"
    ),
    "view_of_view_setitem_graph": (
        "x = m.ones(2, 3, requires_grad=True); y = x * 2; y[0][1] = 0.0\n"
        "y.sum().backward(); out = (y, x.grad)"
    ),
    "column_setitem_graph": (
        "x = m.ones(2, 3, requires_grad=True); y = x * 2; y[:, 1] = 0.0\n"
        "y.sum().backward(); out = (y, x.grad)"
    ),
    "view_inplace_with_grad_operand": (
        "x = m.ones(2, 3, requires_grad=True); w = m.full((3,), 3.0, requires_grad=True)\n"
        "y = x * 2; y[1].mul_(w); (y * y).sum().backward(); out = (y, x.grad, w.grad)"
    ),
    "base_inplace_seen_by_view": (
        "x = m.ones(2, 3, requires_grad=True); y = x * 2; v = y[0]; y.mul_(3)\n"
        "v.sum().backward(); out = (v, x.grad)"
    ),
    "base_inplace_seen_by_reshape_view": (
        "x = m.arange(6.0).requires_grad_(); y = x * 1; v = y.view(2, 3); y.add_(10)\n"
        "(v * v).sum().backward(); out = (v, x.grad)"
    ),
    "inplace_operand_old_value_kept": (
        "x = m.tensor([1.0, 2.0], requires_grad=True)\n"
        "w = m.tensor([3.0, 4.0], requires_grad=True)\n"
        "y = x * 1; y.mul_(w); y.sum().backward(); out = (y, x.grad, w.grad)"
    ),
    "view_of_data_whose_base_joins_a_graph": (
        "x = m.zeros(3); v = x[:2]; w = m.ones(3, requires_grad=True); x.add_(w)\n"
        "z = v * 2; z.sum().backward(); out = (z, w.grad)"
    ),
    "relu_inplace_module": (
        "x = m.tensor([-1.0, 2.0], requires_grad=True); y = x * 1\n"
        "z = nn_.ReLU(inplace=True)(y); z.sum().backward(); out = (y, z, x.grad)"
    ),
    "relu_inplace_functional": "x = m.tensor([-1.0, 2.0]); F_.relu(x, inplace=True); out = x",
    "leaky_relu_inplace": "x = m.tensor([-1.0, 2.0]); F_.leaky_relu(x, 0.5, True); out = x",
    "param_row_fill_no_grad": (
        "lin = nn_.Linear(2, 2)\n"
        "with m.no_grad():\n    lin.weight[0].fill_(0.0)\nout = lin.weight[0]"
    ),
}  # fmt: skip

ERROR_CASES: dict[str, tuple[str, str]] = {
    "view_of_leaf": (
        "x = m.ones(2, requires_grad=True); x[0].mul_(2)",
        "a view of a leaf Variable that requires grad is being used in an in-place operation",
    ),
    "saved_view_modified_through_base": (
        "x = m.ones(3, requires_grad=True); y = x * 2; v = y[:2]; z = (v * v).sum()\n"
        "y.add_(1); z.backward()",
        "modified by an inplace operation",
    ),
    "saved_base_modified_through_view": (
        "x = m.ones(3, requires_grad=True); y = x * 2; z = (y * y).sum(); y[0].add_(1)\n"
        "z.backward()",
        "modified by an inplace operation",
    ),
    "leaf_made_from_a_view": (
        "x = m.zeros(3); v = x[:2]; v.requires_grad_(); v.mul_(2)",
        "a view of a leaf Variable that requires grad is being used in an in-place operation",
    ),
    "expanded_write": (
        "x = m.zeros(1, 3); x.expand(2, 3).add_(1)",
        "more than one element of the written-to tensor refers to a single memory location",
    ),
    "view_needs_compatible_strides": (
        "m.arange(6).view(2, 3).T.view(6)",
        "view size is not compatible with input tensor's size and stride",
    ),
}


def _run(code: str, m: Any) -> Any:
    namespace: dict[str, Any] = {"m": m, "nn_": m.nn, "F_": m.nn.functional}
    exec(code, namespace)  # the cases above are this file's own code
    return namespace.get("out")


@pytest.mark.parametrize("case", list(CASES))
def test_views_match_torch(case: str, torch_mod: Any) -> None:
    import torch.nn  # noqa: F401  (m.nn must be importable as an attribute)

    assert comparable(_run(CASES[case], engine)) == comparable(_run(CASES[case], torch_mod))


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_view_errors_match_torch(case: str, torch_mod: Any) -> None:
    code, message = ERROR_CASES[case]
    for m in (engine, torch_mod):
        with pytest.raises(RuntimeError, match=message):
            _run(code, m)


def test_inplace_on_a_view_rewrites_the_base_history() -> None:
    x = engine.ones(2, 3, requires_grad=True)
    y = x * 2
    v = y[0]
    v.mul_(3)
    assert y.tolist() == [[6.0, 6.0, 6.0], [2.0, 2.0, 2.0]]
    assert y.grad_fn is not None and v.grad_fn is not None
    y.sum().backward()
    assert x.grad.tolist() == [[6.0, 6.0, 6.0], [2.0, 2.0, 2.0]]


def test_view_follows_its_base_after_an_inplace_op() -> None:
    x = engine.ones(2, 3, requires_grad=True)
    y = x * 2
    v = y[0]
    y.mul_(3)
    assert v.tolist() == [6.0, 6.0, 6.0]
    v.sum().backward()
    assert x.grad.tolist() == [[6.0, 6.0, 6.0], [0.0, 0.0, 0.0]]


def test_relu_inplace_module_writes_into_its_input() -> None:
    y = engine.tensor([-1.0, 2.0]) * 1
    out = nn.ReLU(inplace=True)(y)
    assert out is y and y.tolist() == [0.0, 2.0]
    assert repr(nn.ReLU(inplace=True)) == "ReLU(inplace=True)"


def test_forward_replaced_on_an_instance_is_called() -> None:
    lin = nn.Linear(1, 1)
    lin.forward = lambda x: x * 7
    assert lin(engine.ones(1)).tolist() == [7.0]


def test_training_step_unaffected_by_view_tracking() -> None:
    """The fetch of a batch (index tensor) is a copy, not a view: nothing to track."""
    x = engine.from_numpy(np.arange(12.0).reshape(4, 3))
    rows = x[engine.tensor([2, 0])]
    assert rows._view is None and rows.tolist() == [[6.0, 7.0, 8.0], [0.0, 1.0, 2.0]]


def test_a_view_made_a_leaf_stays_one_when_its_base_changes() -> None:
    x = engine.zeros(3)
    v = x[:2]
    v.requires_grad_()
    x.add_(1)
    (v * 2).sum().backward()
    assert v.tolist() == [1.0, 1.0] and v.is_leaf and v.grad.tolist() == [2.0, 2.0]
