"""``torch.nn`` for the NumPy engine: Module, Parameter, layers, attention, losses, functional,
init."""

from __future__ import annotations

from ..nn import functional, init, utils
from ..nn.activation import (
    GELU,
    LeakyReLU,
    LogSoftmax,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Tanh,
)
from ..nn.attention import MultiheadAttention
from ..nn.container import ModuleList, Sequential
from ..nn.conv import Conv1d, Conv2d
from ..nn.layers import Dropout, Flatten, Unflatten
from ..nn.linear import Identity, Linear
from ..nn.loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    MSELoss,
    NLLLoss,
)
from ..nn.module import Module
from ..nn.normalization import BatchNorm1d, BatchNorm2d, GroupNorm, LayerNorm
from ..nn.parameter import Parameter
from ..nn.pooling import AvgPool2d, MaxPool2d
from ..nn.sparse import Embedding
from ..nn.transformer import TransformerEncoderLayer

__all__ = [
    "GELU",
    "AvgPool2d",
    "BCELoss",
    "BCEWithLogitsLoss",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv1d",
    "Conv2d",
    "CrossEntropyLoss",
    "Dropout",
    "Embedding",
    "Flatten",
    "GroupNorm",
    "Identity",
    "LayerNorm",
    "LeakyReLU",
    "Linear",
    "LogSoftmax",
    "MSELoss",
    "MaxPool2d",
    "Module",
    "ModuleList",
    "MultiheadAttention",
    "NLLLoss",
    "Parameter",
    "ReLU",
    "Sequential",
    "SiLU",
    "Sigmoid",
    "Softmax",
    "Softplus",
    "Tanh",
    "TransformerEncoderLayer",
    "Unflatten",
    "functional",
    "init",
    "utils",
]
