"""``nn.Parameter``: a leaf tensor that a Module registers as one of its parameters."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Tensor


class Parameter(Tensor):
    """A tensor that requires grad by default and that Modules collect in ``parameters()``.

    It shares memory with the tensor it wraps, as in PyTorch.
    """

    __slots__ = ()

    def __init__(self, data: Tensor | None = None, requires_grad: bool = True) -> None:
        arr = np.zeros(0, dtype=np.float32) if data is None else data._data
        self._data = arr
        self._node = None
        self._requires_grad = False
        self.grad = None
        self._version = 0
        self._view = None
        self.requires_grad_(requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __reduce__(self) -> Any:
        return (Parameter, (Tensor(self._data.copy()), self._requires_grad))
