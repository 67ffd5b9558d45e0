"""The first numbers of an autograd course, computed the way the course computes them."""

from __future__ import annotations

import harness.implementations.numpy_autograd as torch


def test_square_at_three_has_derivative_six() -> None:
    x = torch.tensor(3.0, requires_grad=True)
    y = x**2
    y.backward()
    assert x.grad.item() == 6.0
    assert y.item() == 9.0


def test_sigmoid_neuron_with_clamped_binary_cross_entropy() -> None:
    # x = 6.7, y = 0, w = 1, b = 0; prediction clamped to [1e-8, 1 - 1e-8].
    x, y = torch.tensor(6.7, dtype=torch.float64), torch.tensor(0.0, dtype=torch.float64)
    w = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    b = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
    p = torch.sigmoid(w * x + b).clamp(1e-8, 1 - 1e-8)
    loss = -(y * torch.log(p) + (1 - y) * torch.log(1 - p))
    loss.backward()
    assert round(w.grad.item(), 4) == 6.6918
    assert round(b.grad.item(), 4) == 0.9988


def test_sigmoid_neuron_with_the_bce_module_in_float32() -> None:
    # Same neuron through nn.BCELoss in the default dtype.
    w = torch.tensor([1.0], requires_grad=True)
    b = torch.tensor([0.0], requires_grad=True)
    p = torch.sigmoid(w * torch.tensor([6.7]) + b).clamp(1e-8, 1 - 1e-8)
    loss = torch.nn.BCELoss()(p, torch.tensor([0.0]))
    loss.backward()
    assert w.grad.dtype == torch.float32
    assert abs(w.grad.item() - 6.6918) < 5e-4
    assert abs(b.grad.item() - 0.9988) < 5e-5
