"""Autograd behaviour a PyTorch user relies on: accumulation, freeing, in-place checks,
no_grad, detach, autograd.grad, deep graphs."""

from __future__ import annotations

import sys

import harness.implementations.numpy_autograd as torch
import numpy as np
import pytest


def test_gradients_accumulate_across_backward_calls() -> None:
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    (3 * x).sum().backward()
    assert x.grad.tolist() == [5.0, 7.0]
    x.grad.zero_()
    (x * x).sum().backward()
    assert x.grad.tolist() == [2.0, 4.0]


def test_shared_gradient_is_not_aliased_between_leaves() -> None:
    # x + y hands the same upstream gradient to both leaves; zeroing one must not touch
    # the other.
    x, y = torch.ones(3, requires_grad=True), torch.ones(3, requires_grad=True)
    (x + y).sum().backward()
    x.grad.zero_()
    assert y.grad.tolist() == [1.0, 1.0, 1.0]
    # The same, with a fresh array (mul's gradient, not a view) handed to both leaves.
    x.grad = y.grad = None
    ((x + y) * 2).sum().backward()
    x.grad.zero_()
    assert y.grad.tolist() == [2.0, 2.0, 2.0]


def test_leaf_gradient_never_aliases_the_callers_gradient() -> None:
    x = torch.ones(3, requires_grad=True)
    g = torch.tensor([1.0, 2.0, 3.0])
    (x + 0).backward(g)  # add passes the upstream array through unchanged
    x.backward(g)  # a leaf root
    assert x.grad.tolist() == [2.0, 4.0, 6.0]
    assert g.tolist() == [1.0, 2.0, 3.0]
    y = torch.ones((), requires_grad=True)
    y.backward()
    y.backward()  # the implicit gradient of a scalar is shared and read-only: copied
    assert y.grad.item() == 2.0
    z = torch.ones((), requires_grad=True)
    (z + 0).backward()  # loss.backward()'s path: add hands the implicit gradient to z
    (z + 0).backward()
    assert z.grad.item() == 2.0


def test_intermediate_reused_after_a_loss_was_built() -> None:
    # a is a tree when built (backward skips the dependency count); b and c reuse h later.
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    a = (h * 2).sum()
    b = (h * h).sum()
    c = (h + h * 2).sum()
    a.backward(retain_graph=True)  # h's node is shared: keep it, as PyTorch requires
    assert x.grad.tolist() == [6.0, 6.0]
    x.grad = None
    b.backward(retain_graph=True)
    assert x.grad.tolist() == [18.0, 36.0]  # d/dx (3x)^2 = 18 x
    x.grad = None
    c.backward()
    assert x.grad.tolist() == [9.0, 9.0]


def test_second_backward_through_a_freed_graph_is_an_error() -> None:
    x = torch.tensor(2.0, requires_grad=True)
    y = torch.exp(x) * x
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_retain_graph_allows_a_second_backward() -> None:
    x = torch.tensor(2.0, requires_grad=True)
    y = torch.exp(x) * x
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.item() == pytest.approx(2 * (np.exp(2.0) * 3))


def test_graph_without_saved_values_can_run_twice_like_torch() -> None:
    x = torch.ones(3, requires_grad=True)
    y = (x + 1).sum()
    y.backward()
    y.backward()  # add and sum save nothing: PyTorch allows this too
    assert x.grad.tolist() == [2.0, 2.0, 2.0]


def test_modifying_a_saved_tensor_in_place_is_an_error() -> None:
    a = torch.tensor([1.0, 2.0], requires_grad=True)
    b = torch.tensor([3.0, 4.0])
    y = (a * b).sum()
    b.mul_(2)  # b was saved by mul for a's gradient
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


def test_modifying_a_saved_result_in_place_is_an_error() -> None:
    x = torch.tensor([0.5, 1.0], requires_grad=True)
    y = torch.exp(x)
    z = y.sum()
    y.add_(1)  # exp saved its result for the backward pass
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.backward()


def test_in_place_on_a_tensor_nobody_saved_is_fine() -> None:
    a = torch.tensor([1.0, 2.0], requires_grad=True)
    b = torch.tensor([3.0, 4.0])
    y = (a + b).sum()
    b.mul_(2)  # add saves nothing
    y.backward()
    assert a.grad.tolist() == [1.0, 1.0]


def test_in_place_on_a_leaf_that_requires_grad_is_an_error_outside_no_grad() -> None:
    w = torch.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        w.add_(1)
    with torch.no_grad():
        w.add_(1)
    assert w.tolist() == [2.0, 2.0]


def test_in_place_on_a_non_leaf_is_recorded() -> None:
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    h.add_(x)  # h = 3x + x
    h.mul_(2)  # h = 8x
    h.sum().backward()
    assert x.grad.tolist() == [8.0, 8.0]
    # h.mul_(h) needs the old h for the gradient of the second factor: PyTorch refuses it.
    h = x * 3
    h.mul_(h)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        h.sum().backward()


def test_ten_thousand_op_chain_backward_and_teardown() -> None:
    limit = sys.getrecursionlimit()
    x = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.backward()
    assert x.grad.item() == pytest.approx(1.0001**10_000, rel=1e-9)
    assert sys.getrecursionlimit() == limit
    deep = x
    for _ in range(200_000):
        deep = deep + 1.0
    deep.backward()
    del deep, y  # freeing a very deep graph must not overflow the C stack either
    assert x.grad.item() == pytest.approx(1.0001**10_000 + 1)


def test_no_grad_as_context_manager_and_decorator() -> None:
    x = torch.ones(2, requires_grad=True)
    with torch.no_grad():
        y = x * 2
        with torch.enable_grad():
            z = x * 2
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad

    @torch.no_grad()
    def f(t: torch.Tensor) -> torch.Tensor:
        return t * 2

    assert not f(x).requires_grad
    assert torch.is_grad_enabled()
    with torch.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad


def test_no_grad_restores_mode_after_an_exception() -> None:
    with pytest.raises(ValueError), torch.no_grad():
        raise ValueError
    assert torch.is_grad_enabled()


def test_detach_shares_memory_and_cuts_the_graph() -> None:
    x = torch.ones(3, requires_grad=True)
    d = (x * 2).detach()
    assert not d.requires_grad and d.is_leaf
    y = x * 2
    y.detach().zero_()
    assert y.tolist() == [0.0, 0.0, 0.0]


def test_autograd_grad_does_not_touch_dot_grad() -> None:
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    (g,) = torch.autograd.grad((x**3).sum(), x)
    assert g.tolist() == [3.0, 12.0] and x.grad is None
    y = torch.ones(1, requires_grad=True)
    with pytest.raises(RuntimeError, match="allow_unused"):
        torch.autograd.grad((x * 2).sum(), [x, y])
    gx, gy = torch.autograd.grad((x * 2).sum(), [x, y], allow_unused=True)
    assert gy is None and gx.tolist() == [2.0, 2.0]


def test_autograd_grad_with_respect_to_an_intermediate() -> None:
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    h = x * x
    (gh,) = torch.autograd.grad((h * 3).sum(), h)
    assert gh.tolist() == [3.0, 3.0]


def test_second_order_with_create_graph() -> None:
    x = torch.tensor([0.5, -1.0], dtype=torch.float64, requires_grad=True)
    y = (x**3).sum()
    (g,) = torch.autograd.grad(y, x, create_graph=True)
    assert g.requires_grad
    (h,) = torch.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), 6 * np.array([0.5, -1.0]))
    # backward(create_graph=True) leaves a differentiable .grad
    z = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    (z**4).backward(create_graph=True)
    (h2,) = torch.autograd.grad(z.grad, z)
    assert h2.item() == pytest.approx(12 * 4.0)


def test_retain_grad_and_grad_fn_names() -> None:
    x = torch.ones(2, requires_grad=True)
    h = x * 2
    h.retain_grad()
    (h * h).sum().backward()
    assert h.grad.tolist() == [4.0, 4.0]
    assert h.grad_fn.name() == "MulBackward0" and x.grad_fn is None and x.is_leaf


def test_backward_inputs_restricts_accumulation() -> None:
    a = torch.ones(2, requires_grad=True)
    b = torch.ones(2, requires_grad=True)
    (a * b * 3).sum().backward(inputs=[a])
    assert a.grad.tolist() == [3.0, 3.0] and b.grad is None


def test_integer_results_do_not_require_grad() -> None:
    x = torch.tensor([1.5, -2.5], requires_grad=True)
    assert not x.long().requires_grad
    assert not (x > 0).requires_grad
    assert not x.argmax().requires_grad
    assert x.double().requires_grad
