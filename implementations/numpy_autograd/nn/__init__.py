"""``torch.nn`` for the NumPy engine: Module, Parameter, layers, losses, functional, init."""

from __future__ import annotations

from implementations.numpy_autograd.nn import functional, init
from implementations.numpy_autograd.nn.activation import (
    LeakyReLU,
    LogSoftmax,
    ReLU,
    Sigmoid,
    Softmax,
    Softplus,
    Tanh,
)
from implementations.numpy_autograd.nn.container import ModuleList, Sequential
from implementations.numpy_autograd.nn.layers import Dropout, Flatten
from implementations.numpy_autograd.nn.linear import Identity, Linear
from implementations.numpy_autograd.nn.loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    MSELoss,
    NLLLoss,
)
from implementations.numpy_autograd.nn.module import Module
from implementations.numpy_autograd.nn.parameter import Parameter

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
