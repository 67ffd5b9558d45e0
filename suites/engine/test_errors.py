"""Bad input gets PyTorch-like errors that say what is wrong (both shapes, the dtype...)."""

from __future__ import annotations

import re

import harness.implementations.numpy_autograd as torch
import harness.implementations.numpy_autograd.nn.functional as F
import pytest


def test_matmul_mismatch_names_both_shapes() -> None:
    a, b = torch.ones(2, 3), torch.ones(4, 5)
    with pytest.raises(RuntimeError, match=re.escape("(2x3 and 4x5)")):
        a @ b
    with pytest.raises(RuntimeError, match=r"\[2, 3, 4\] and \[5, 6\]"):
        torch.ones(2, 3, 4) @ torch.ones(5, 6)
    with pytest.raises(RuntimeError, match="at least 1D"):
        torch.matmul(torch.tensor(1.0), torch.ones(3))


def test_linear_mismatch_names_both_shapes() -> None:
    layer = torch.nn.Linear(3, 2)
    with pytest.raises(RuntimeError, match=re.escape("(4x5 and 3x2)")):
        layer(torch.ones(4, 5))


def test_broadcast_mismatch_names_both_shapes() -> None:
    with pytest.raises(RuntimeError) as e:
        torch.ones(2, 3) + torch.ones(2, 4)
    msg = str(e.value)
    assert "size of tensor a (3) must match the size of tensor b (4)" in msg
    assert "[2, 3]" in msg and "[2, 4]" in msg
    with pytest.raises(RuntimeError, match=r"\[3\] and \[4\]"):
        torch.ones(3) * torch.ones(4)


def test_requires_grad_on_integer_tensor() -> None:
    with pytest.raises(RuntimeError, match="floating point"):
        torch.tensor([1, 2, 3], requires_grad=True)
    with pytest.raises(RuntimeError, match="floating point"):
        torch.arange(3).requires_grad_()


def test_backward_on_non_scalar_needs_gradient() -> None:
    x = torch.ones(3, requires_grad=True)
    with pytest.raises(
        RuntimeError, match="grad can be implicitly created only for scalar outputs"
    ):
        (x * 2).backward()
    (x * 2).backward(torch.ones(3))  # with the gradient it works
    assert x.grad.tolist() == [2.0, 2.0, 2.0]


def test_backward_without_grad_and_shape_mismatch_of_gradient() -> None:
    with pytest.raises(RuntimeError, match="does not require grad"):
        torch.ones(2).sum().backward()
    x = torch.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="Mismatch in shape"):
        (x * 2).backward(torch.ones(2))


def test_reshape_expand_cat_stack_messages() -> None:
    with pytest.raises(
        RuntimeError, match=re.escape("shape '[4, 2]' is invalid for input of size 6")
    ):
        torch.ones(2, 3).view(4, 2)
    with pytest.raises(RuntimeError, match="expanded size"):
        torch.ones(2, 3).expand(2, 4)
    with pytest.raises(RuntimeError, match=r"Sizes of tensors must match except in dimension 0"):
        torch.cat([torch.ones(2, 3), torch.ones(2, 4)])
    with pytest.raises(RuntimeError, match=r"stack expects each tensor to be equal size"):
        torch.stack([torch.ones(2), torch.ones(3)])
    with pytest.raises(IndexError, match="Dimension out of range"):
        torch.ones(2, 3).sum(dim=2)


def test_loss_input_errors() -> None:
    with pytest.raises(
        ValueError, match=re.escape("Target size (torch.Size([4])) must be the same")
    ):
        F.binary_cross_entropy_with_logits(torch.zeros(4, 1), torch.zeros(4))
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        F.binary_cross_entropy(torch.tensor([1.5]), torch.tensor([1.0]))
    with pytest.raises(IndexError, match="Target 3 is out of bounds"):
        F.cross_entropy(torch.zeros(2, 3), torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="batch_size"):
        F.cross_entropy(torch.zeros(2, 3), torch.tensor([0, 1, 2]))
    with pytest.raises(RuntimeError, match="int64"):
        F.cross_entropy(torch.zeros(2, 3), torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="valid: mean, sum, none"):
        torch.nn.MSELoss(reduction="avg")


def test_bad_dtype_device_and_optimizer_arguments() -> None:
    with pytest.raises(TypeError, match="valid dtypes"):
        torch.zeros(2, dtype="complex64")
    with pytest.raises(RuntimeError, match="cpu' only"):
        torch.zeros(2, device="cuda")
    with pytest.raises(TypeError, match="float64, float32, int64"):
        torch.from_numpy(__import__("numpy").zeros(2, dtype="float16"))
    with pytest.raises(ValueError, match="Invalid learning rate"):
        torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=-1)
    with pytest.raises(ValueError, match="Nesterov momentum requires a momentum"):
        torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="empty parameter list"):
        torch.optim.Adam([])
    with pytest.raises(ValueError, match="mutually exclusive"):
        torch.utils.data.DataLoader([1, 2], sampler=[0, 1], shuffle=True)


def test_numpy_of_a_tensor_that_requires_grad() -> None:
    with pytest.raises(RuntimeError, match=re.escape("Use tensor.detach().numpy()")):
        torch.ones(2, requires_grad=True).numpy()
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(torch.ones(2) > 0)


def test_module_without_super_init() -> None:
    class Broken(torch.nn.Module):
        def __init__(self) -> None:
            self.layer = torch.nn.Linear(2, 2)

    with pytest.raises(AttributeError, match=re.escape("super().__init__()")):
        Broken()
