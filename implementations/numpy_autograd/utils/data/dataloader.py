"""``DataLoader``: batches from a dataset in a sampler's order, collated into tensors.

* ``batch_size=N`` (default 1): indices are grouped by a :class:`BatchSampler`, each sample
  fetched with ``dataset[i]`` and the list collated by :func:`default_collate` (tensors
  stacked, numbers and NumPy scalars made into tensors, dicts/lists/tuples collated field
  by field, tuples coming back as lists as in PyTorch).
* ``batch_size=None``: no automatic batching; each index the sampler yields (which may be a
  whole index tensor) is fetched as ``dataset[index]`` and only converted
  (:func:`default_convert`). This is how a sampler of precomputed batches is served.

Loading happens in the calling process; ``num_workers`` is accepted and ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from ... import creation, dtypes, ops
from ...random import Generator
from ...tensor import Tensor
from ...utils.data.sampler import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
)


def _from_numpy(data: np.ndarray | np.generic) -> Tensor:
    """A tensor of a NumPy array or scalar, keeping its dtype (other integer widths widen to
    int64); an array of an engine dtype is shared, not copied."""
    a = np.asarray(data)
    return Tensor(a.astype(dtypes.from_numpy_dtype(a.dtype), copy=False))


def _is_numpy_text(data: Any) -> bool:
    """NumPy strings, bytes and object arrays: PyTorch leaves these alone."""
    if isinstance(data, np.ndarray):
        return data.dtype.kind in "SUO"
    return isinstance(data, np.flexible)


def default_convert(data: Any) -> Any:
    """NumPy arrays and scalars become tensors, recursively in dicts, lists and tuples; as in
    PyTorch, a tuple comes back as a list (a namedtuple as itself)."""
    if data.__class__ is tuple:
        for d in data:
            if d.__class__ is not Tensor:
                return [default_convert(d) for d in data]
        return list(data)  # already tensors (the usual TensorDataset sample)
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray | np.generic):
        return data if _is_numpy_text(data) else _from_numpy(data)
    if isinstance(data, Mapping):
        return {k: default_convert(v) for k, v in data.items()}
    if isinstance(data, tuple):
        if hasattr(data, "_fields"):  # namedtuple
            return type(data)(*(default_convert(d) for d in data))
        return [default_convert(d) for d in data]
    if isinstance(data, list):
        return [default_convert(d) for d in data]
    return data


def default_collate(batch: Sequence[Any]) -> Any:
    """Stack a list of samples into a batch, as PyTorch's ``default_collate``: tensors and
    NumPy arrays stacked on a new dim 0, NumPy scalars keep their dtype, Python floats give
    float64 and ints/bools PyTorch's inferred dtype; dicts, namedtuples and lists are
    collated field by field, and tuples come back as lists."""
    elem = batch[0]
    if isinstance(elem, Tensor):
        return ops.stack(list(batch), 0)
    if isinstance(elem, np.ndarray | np.generic) and not isinstance(elem, str | bytes):
        if _is_numpy_text(elem):
            raise TypeError(_collate_error(elem.dtype))
        if isinstance(elem, np.ndarray):
            return ops.stack([_from_numpy(b) for b in batch], 0)
        return _from_numpy(np.array(batch))
    if isinstance(elem, float):
        return Tensor(np.array(batch, dtype=np.float64))
    if isinstance(elem, int):  # bool included: [True, 2] is an int64 batch, as in PyTorch
        return creation.tensor(batch)
    if isinstance(elem, str | bytes):
        return batch
    if isinstance(elem, Mapping):
        return {k: default_collate([b[k] for b in batch]) for k in elem}
    if isinstance(elem, tuple | list):
        if any(len(b) != len(elem) for b in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        fields = (default_collate(list(f)) for f in zip(*batch, strict=True))
        if hasattr(elem, "_fields"):  # namedtuple
            return type(elem)(*fields)
        return list(fields)
    raise TypeError(_collate_error(type(elem)))


def _collate_error(found: Any) -> str:
    return (
        "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
        f"found {found}"
    )


class DataLoader:
    """Iterate over ``dataset`` in batches (PyTorch's ``DataLoader``, in-process)."""

    def __init__(
        self,
        dataset: Any,
        batch_size: int | None = 1,
        shuffle: bool | None = None,
        sampler: Sampler | Any = None,
        batch_sampler: Any = None,
        num_workers: int = 0,
        collate_fn: Callable[[Any], Any] | None = None,
        pin_memory: bool = False,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn: Any = None,
        generator: Generator | None = None,
        **kwargs: Any,
    ) -> None:
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(
                    "batch_sampler option is mutually exclusive with batch_size, shuffle, "
                    "sampler, and drop_last"
                )
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError(
                "batch_size=None option disables auto-batching and is mutually exclusive with "
                "drop_last"
            )
        if sampler is None:
            sampler = (
                RandomSampler(dataset, generator=generator)
                if shuffle
                else SequentialSampler(dataset)
            )
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = num_workers
        self.generator = generator
        self.collate_fn = collate_fn or (
            default_collate if batch_sampler is not None else default_convert
        )

    def __iter__(self) -> Iterator[Any]:
        dataset, collate = self.dataset, self.collate_fn
        if self.batch_sampler is not None:
            for indices in self.batch_sampler:
                yield collate([dataset[i] for i in indices])
        else:
            for index in self.sampler:
                yield collate(dataset[index])

    def __len__(self) -> int:
        # Sampler declares no __len__ (as in PyTorch): one without it raises TypeError here.
        return len(self.batch_sampler if self.batch_sampler is not None else self.sampler)  # type: ignore[arg-type]
