"""``torch.nn`` for the NumPy engine: Module, Parameter, layers, losses, functional, init."""

from __future__ import annotations

from harness.implementations.numpy_autograd.nn import functional, init
from harness.implementations.numpy_autograd.nn.activation import (
    LeakyReLU,
    LogSoftmax,
    ReLU,
    Sigmoid,
    Softmax,
    Softplus,
    Tanh,
)
from harness.implementations.numpy_autograd.nn.container import ModuleList, Sequential
from harness.implementations.numpy_autograd.nn.layers import Dropout, Flatten
from harness.implementations.numpy_autograd.nn.linear import Identity, Linear
from harness.implementations.numpy_autograd.nn.loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    MSELoss,
    NLLLoss,
)
from harness.implementations.numpy_autograd.nn.module import Module
from harness.implementations.numpy_autograd.nn.parameter import Parameter

__all__ = [
    "BCELoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "Dropout",
    "Flatten",
    "Identity",
    "LeakyReLU",
    "Linear",
    "LogSoftmax",
    "MSELoss",
    "Module",
    "ModuleList",
    "NLLLoss",
    "Parameter",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "Softplus",
    "Tanh",
    "functional",
    "init",
]
