"""``nn.LayerNorm``, ``nn.BatchNorm1d`` / ``BatchNorm2d`` and ``nn.GroupNorm``.

Batch normalization keeps PyTorch's buffers (``running_mean`` zeros, ``running_var`` ones,
``num_batches_tracked`` int64) in ``state_dict``; in training mode it normalizes with the
batch's statistics and moves the running ones by ``momentum`` (the unbiased variance), or by
the cumulative average ``1 / num_batches_tracked`` when ``momentum`` is None; in eval mode
(or with ``track_running_stats=False`` never) it normalizes with the running statistics.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import creation, dtypes
from ..grad_mode import no_grad
from ..nn import functional as F
from ..nn.module import Module
from ..nn.parameter import Parameter
from ..tensor import Tensor, check_device


def _dtype(dtype: Any) -> Any:
    return dtypes.get_default_dtype() if dtype is None else dtypes.canonical(dtype)


class LayerNorm(Module):
    """Normalize over the trailing ``normalized_shape`` dims; affine weight 1, bias 0."""

    def __init__(
        self,
        normalized_shape: Any,
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        check_device(device)
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else normalized_shape
        self.normalized_shape = tuple(shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        dt = _dtype(dtype)
        if elementwise_affine:
            self.weight = Parameter(creation.ones(*self.normalized_shape, dtype=dt))
            if bias:
                self.bias = Parameter(creation.zeros(*self.normalized_shape, dtype=dt))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, input: Tensor) -> Tensor:
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
        )


class _BatchNorm(Module):
    _ndims: tuple[int, ...] = ()
    running_mean: Tensor | None
    running_var: Tensor | None
    num_batches_tracked: Tensor | None

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        check_device(device)
        dt = _dtype(dtype)
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = Parameter(creation.ones(num_features, dtype=dt))
            self.bias = Parameter(creation.zeros(num_features, dtype=dt))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", creation.zeros(num_features, dtype=dt))
            self.register_buffer("running_var", creation.ones(num_features, dtype=dt))
            self.register_buffer("num_batches_tracked", creation.tensor(0, dtype=dtypes.int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        """Running mean 0, variance 1, no batches tracked."""
        rm, rv, nb = self.running_mean, self.running_var, self.num_batches_tracked
        if rm is not None and rv is not None and nb is not None:
            with no_grad():
                rm.zero_()
                rv.fill_(1.0)
                nb.zero_()

    def _check_input_dim(self, input: Tensor) -> None:
        if input.ndim not in self._ndims:
            want = " or ".join(f"{n}D" for n in self._ndims)
            raise ValueError(f"expected {want} input (got {input.ndim}D input)")

    def forward(self, input: Tensor) -> Tensor:
        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked._data = np.asarray(self.num_batches_tracked._data + 1)
            self.num_batches_tracked._version += 1
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked._data)
        batch_stats = self.training or self.running_mean is None
        track = not self.training or self.track_running_stats
        return F.batch_norm(
            input,
            self.running_mean if track else None,
            self.running_var if track else None,
            self.weight,
            self.bias,
            batch_stats,
            factor,
            self.eps,
        )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalization of ``(N, C)`` or ``(N, C, L)``."""

    _ndims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalization of ``(N, C, H, W)``."""

    _ndims = (4,)


class GroupNorm(Module):
    """Normalize ``num_groups`` groups of channels; per-channel affine weight 1, bias 0."""

    def __init__(
        self,
        num_groups: int,
        num_channels: int,
        eps: float = 1e-5,
        affine: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        check_device(device)
        if num_channels % num_groups:
            raise ValueError("num_channels must be divisible by num_groups")
        self.num_groups, self.num_channels, self.eps, self.affine = (
            num_groups,
            num_channels,
            eps,
            affine,
        )
        dt = _dtype(dtype)
        if affine:
            self.weight = Parameter(creation.ones(num_channels, dtype=dt))
            self.bias = Parameter(creation.zeros(num_channels, dtype=dt))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, input: Tensor) -> Tensor:
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"
