"""Seeded random numbers: ``manual_seed``, ``Generator`` and the random tensor factories.

Every random choice of the engine (``rand``, ``randn``, ``randperm``, ``nn.Linear``'s
initialization, ``Dropout`` masks, ``DataLoader(shuffle=True)``) draws from a
:class:`Generator`, by default the global one that :func:`manual_seed` resets. The streams
are NumPy's PCG64, so they are reproducible run to run but are not PyTorch's numbers.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np

from . import dtypes
from .ops.core import _shape_args, _size_or_keyword
from .tensor import Tensor, check_device


class Generator:
    """A seedable random stream (``torch.Generator``)."""

    def __init__(self, device: Any = "cpu") -> None:
        check_device(device)
        self._seed = 67280421310721  # PyTorch's default seed, for familiarity
        self.rng = np.random.default_rng(self._seed)

    def manual_seed(self, seed: int) -> Generator:
        """Restart the stream from ``seed``; returns ``self``."""
        self._seed = int(seed)
        self.rng = np.random.default_rng(self._seed)
        return self

    def initial_seed(self) -> int:
        """The seed the stream was last started from."""
        return self._seed

    def seed(self) -> int:
        """Reseed from fresh OS entropy and return the new seed."""
        # Without an argument, SeedSequence draws its entropy from the OS: always an int.
        s = int(cast(int, np.random.SeedSequence().entropy)) % (2**63)
        self.manual_seed(s)
        return s


default_generator = Generator()


def manual_seed(seed: int) -> Generator:
    """Seed the global generator (everything random in the engine derives from it)."""
    return default_generator.manual_seed(seed)


def initial_seed() -> int:
    """The global generator's seed."""
    return default_generator.initial_seed()


def seed() -> int:
    """Reseed the global generator non-deterministically."""
    return default_generator.seed()


def numpy_rng(generator: Generator | None) -> np.random.Generator:
    """The NumPy generator behind ``generator`` (the global one for ``None``)."""
    return (generator or default_generator).rng


def _float(dtype: Any) -> np.dtype:
    d = dtypes.get_default_dtype() if dtype is None else dtypes.canonical(dtype)
    if d.kind != "f":
        raise TypeError(f"expected a floating dtype, got {dtypes.name(d)}")
    return d


def _finish(a: np.ndarray, requires_grad: bool) -> Tensor:
    t = Tensor(a)
    return t.requires_grad_(True) if requires_grad else t


def rand(
    *shape: Any,
    size: Any = None,
    generator: Generator | None = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Uniform samples in ``[0, 1)``."""
    check_device(device)
    a = (
        numpy_rng(generator)
        .random(_shape_args(_size_or_keyword(shape, size)))
        .astype(_float(dtype))
    )
    return _finish(a, requires_grad)


def randn(
    *shape: Any,
    size: Any = None,
    generator: Generator | None = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Standard normal samples."""
    check_device(device)
    a = (
        numpy_rng(generator)
        .standard_normal(_shape_args(_size_or_keyword(shape, size)))
        .astype(_float(dtype))
    )
    return _finish(a, requires_grad)


def randint(
    low: int,
    high: int | None = None,
    size: Any = (),
    *,
    generator: Generator | None = None,
    dtype: Any = None,
    device: Any = None,
) -> Tensor:
    """Integers uniform in ``[low, high)`` (``randint(high, size)`` also works)."""
    check_device(device)
    if high is None:
        low, high = 0, low
    a = numpy_rng(generator).integers(low, high, size=_shape_args((size,)))
    return Tensor(a.astype(dtypes.int64 if dtype is None else dtypes.canonical(dtype)))


def randperm(
    n: int, *, generator: Generator | None = None, dtype: Any = None, device: Any = None
) -> Tensor:
    """A random permutation of ``0..n-1`` (int64)."""
    check_device(device)
    a = numpy_rng(generator).permutation(int(n))
    return Tensor(a.astype(dtypes.int64 if dtype is None else dtypes.canonical(dtype)))


def rand_like(input: Tensor, *, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """:func:`rand` with ``input``'s shape (and dtype)."""
    return rand(input.shape, dtype=dtype or input.dtype, requires_grad=requires_grad)


def randn_like(input: Tensor, *, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """:func:`randn` with ``input``'s shape (and dtype)."""
    return randn(input.shape, dtype=dtype or input.dtype, requires_grad=requires_grad)


def normal(
    mean: float, std: float, size: Any, *, generator: Generator | None = None, dtype: Any = None
) -> Tensor:
    """Normal samples with scalar ``mean`` and ``std``."""
    a = numpy_rng(generator).normal(mean, std, _shape_args((size,))).astype(_float(dtype))
    return Tensor(a)
