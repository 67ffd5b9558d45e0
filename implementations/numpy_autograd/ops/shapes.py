"""Shapes and indexing: reshapes, views, concatenation, gather/scatter, casts and getitem.

Ops that return views of their input register them with :mod:`..views`, so in-place writes
through either side are seen by the other, as in PyTorch.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import dtypes, views
from ..tensor import Tensor
from .arithmetic import add
from .core import _int, _make, _operand, _record, _shape_args, norm_dim


def reshape(input: Tensor, *shape: Any) -> Tensor:
    """The same elements in a new shape (one dim may be -1)."""
    return _reshape(input, _shape_args(shape))


def _reshape(input: Tensor, shape: tuple[int, ...]) -> Tensor:
    xd = input._data
    try:
        out = xd.reshape(shape)
    except ValueError:
        raise RuntimeError(
            f"shape '{list(shape)}' is invalid for input of size {xd.size}"
        ) from None
    out = _record("reshape", out, (input,))
    return views.track(out, input, (_reshape, _unreshape, shape), check=True)


def _unreshape(base: Tensor, value: Tensor, shape: Any) -> Tensor:
    return _reshape(value, base._data.shape)


def view(input: Tensor, *shape: Any) -> Tensor:
    """:func:`reshape` that never copies: PyTorch's error when the strides do not allow it."""
    out = reshape(input, *shape)
    if out._data.size and out._view is None:  # reshape had to copy: views.track said so
        raise RuntimeError(
            "view size is not compatible with input tensor's size and stride (at least one "
            "dimension spans across two contiguous subspaces). Use .reshape(...) instead."
        )
    return out


def view_as(input: Tensor, other: Tensor) -> Tensor:
    """:func:`view` with ``other``'s shape."""
    return view(input, other._data.shape)


def reshape_as(input: Tensor, other: Tensor) -> Tensor:
    """Reshape to ``other``'s shape."""
    return reshape(input, other._data.shape)


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dims ``start_dim..end_dim`` into one."""
    shape = input._data.shape
    if not shape:
        return reshape(input, (1,))
    s, e = norm_dim(start_dim, len(shape)), norm_dim(end_dim, len(shape))
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    merged = builtins.int(np.prod(shape[s : e + 1], dtype=np.int64))
    return reshape(input, (*shape[:s], merged, *shape[e + 1 :]))


def squeeze(input: Tensor, dim: Any = None) -> Tensor:
    """Drop size-1 dims (all, or those in ``dim`` that have size 1)."""
    shape = input._data.shape
    if dim.__class__ is _int and -len(shape) <= dim < len(shape):  # the common case
        d = dim % len(shape)
        return _reshape(input, shape[:d] + shape[d + 1 :] if shape[d] == 1 else shape)
    if dim is None:
        drop = {i for i, n in enumerate(shape) if n == 1}
    else:
        dims = (dim,) if isinstance(dim, builtins.int) else dim
        drop = {norm_dim(d, len(shape)) for d in dims}
        drop = {d for d in drop if d < len(shape) and shape[d] == 1}
    return reshape(input, tuple(n for i, n in enumerate(shape) if i not in drop))


def unsqueeze(input: Tensor, dim: int) -> Tensor:
    """Insert a size-1 dim at ``dim``."""
    shape = list(input._data.shape)
    n = len(shape) + 1
    if not -n <= dim < n:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})"
        )
    shape.insert(dim % n, 1)
    return reshape(input, tuple(shape))


def permute(input: Tensor, *dims: Any) -> Tensor:
    """Reorder the dims."""
    dims = _shape_args(dims)
    nd = input._data.ndim
    axes = tuple(norm_dim(d, nd) for d in dims) if nd else ()
    if sorted(axes) != list(range(nd)):
        raise RuntimeError(
            f"permute(sparse_coo): number of dimensions in the tensor input does not match the "
            f"length of the desired ordering of dimensions i.e. input.dim() = {nd} is not equal "
            f"to len(dims) = {len(dims)}"
            if len(dims) != nd
            else f"permute(): dims {list(dims)} are not a permutation of {list(range(nd))}"
        )
    out = _record("permute", input._data.transpose(axes), (input,), axes)
    return views.track(out, input, (permute, _unpermute, axes))


def _unpermute(base: Tensor, value: Tensor, axes: tuple[int, ...]) -> Tensor:
    return permute(value, tuple(np.argsort(axes)))


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap two dims."""
    nd = input._data.ndim
    if nd == 0:
        return reshape(input, ())
    axes = list(range(nd))
    a, b = norm_dim(dim0, nd), norm_dim(dim1, nd)
    axes[a], axes[b] = axes[b], axes[a]
    return permute(input, tuple(axes))


swapaxes = transpose


def t(input: Tensor) -> Tensor:
    """Transpose of a matrix (vectors and scalars unchanged)."""
    if input.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {input.ndim}D")
    return transpose(input, 0, 1) if input.ndim == 2 else reshape(input, input._data.shape)


def movedim(input: Tensor, source: int, destination: int) -> Tensor:
    """Move dim ``source`` to position ``destination``."""
    nd = input._data.ndim
    order = [d for d in range(nd) if d != norm_dim(source, nd)]
    order.insert(norm_dim(destination, nd), norm_dim(source, nd))
    return permute(input, tuple(order))


def expand(input: Tensor, *sizes: Any) -> Tensor:
    """Broadcast to ``sizes`` (-1 keeps a dim; new dims go in front) without copying."""
    sizes = _shape_args(sizes)
    shape = input._data.shape
    if len(sizes) < len(shape):
        raise RuntimeError(
            f"expand(torch.FloatTensor{{{list(shape)}}}, size={list(sizes)}): the number of sizes "
            f"provided ({len(sizes)}) must be greater or equal to the number of dimensions in the "
            f"tensor ({len(shape)})"
        )
    lead = len(sizes) - len(shape)
    target = []
    for i, s in enumerate(sizes):
        if i >= lead and s == -1:
            s = shape[i - lead]
        elif i >= lead and shape[i - lead] != 1 and shape[i - lead] != s:
            raise RuntimeError(
                f"The expanded size of the tensor ({s}) must match the existing size "
                f"({shape[i - lead]}) at non-singleton dimension {i}.  Target sizes: "
                f"{list(sizes)}.  Tensor sizes: {list(shape)}"
            )
        target.append(s)
    return _record("expand", np.broadcast_to(input._data, tuple(target)), (input,))


def broadcast_to(input: Tensor, size: Sequence[int]) -> Tensor:
    """Same as :func:`expand`."""
    return expand(input, tuple(size))


def expand_as(input: Tensor, other: Tensor) -> Tensor:
    """Expand to ``other``'s shape."""
    return expand(input, other._data.shape)


def index_key(key: Any) -> tuple[tuple[Any, ...], bool]:
    """A NumPy index tuple for ``key`` and whether it has integer arrays (advanced indexing).

    Tensors and lists become arrays; boolean masks become their ``nonzero()`` arrays (the same
    selection, and a form ``np.add.at`` accepts in backward). A basic key gets a trailing
    ``...`` so that a fully indexed element stays a 0-d *view*, as in PyTorch.
    """
    if not isinstance(key, tuple):
        key = (key,)
    out: list[Any] = []
    advanced = ellipsis = False
    for k in key:
        if isinstance(k, Tensor):
            k = k._data
        elif isinstance(k, list):
            k = np.asarray(k)
        elif isinstance(k, np.integer):
            k = builtins.int(k)
        if isinstance(k, np.ndarray):
            if k.dtype == np.bool_:
                out.extend(np.nonzero(k))
                advanced = True
                continue
            if k.dtype.kind not in "iu":
                raise IndexError(
                    "tensors used as indices must be long, int, byte or bool tensors, got "
                    f"{k.dtype}"
                )
            advanced = True
        elif k is Ellipsis:
            ellipsis = True
        elif not isinstance(k, builtins.int | slice | type(None)):
            raise IndexError(
                f"only integers, slices (`:`), ellipsis (`...`), None and long or bool tensors "
                f"are valid indices (got {type(k).__name__})"
            )
        out.append(k)
    if not advanced and not ellipsis:
        out.append(Ellipsis)
    return tuple(out), advanced


def getitem(input: Tensor, key: Any) -> Tensor:
    """``input[key]`` for ints, slices, None, ``...``, integer arrays and boolean masks."""
    if key.__class__ is Tensor and key._data.dtype is dtypes.int64:  # a batch of row indices
        if not input._requires_grad:  # data, not parameters: nothing to record
            return _make(input._data[key._data])
        k = (key._data,)
        return _record("getitem", input._data[k], (input,), (k, True))
    k, advanced = index_key(key)
    out = _record("getitem", input._data[k], (input,), (k, advanced))
    if advanced:  # NumPy copied: not a view
        return out
    return views.track(out, input, (getitem, _write_item, k))


def _write_item(base: Tensor, value: Tensor, key: Any) -> Tensor:
    """``base`` with ``base[key]`` replaced by ``value`` (a view's write-back)."""
    return _setitem_op(key, False)(base, value)


def index_scatter(
    grad: Tensor, key: tuple[Any, ...], advanced: bool, shape: tuple[int, ...]
) -> Tensor:
    """Zeros of ``shape`` with ``grad`` added at ``key`` (repeats accumulate): the adjoint of
    ``getitem``, recorded so that indexing is twice differentiable."""
    return _record(
        "index_scatter",
        index_scatter_array(grad._data, key, advanced, shape),
        (grad,),
        (key, advanced),
    )


def index_scatter_array(
    g: np.ndarray, key: tuple[Any, ...], advanced: bool, shape: tuple[int, ...]
) -> np.ndarray:
    """NumPy body of :func:`index_scatter`."""
    z = np.zeros(shape, dtype=g.dtype)
    if advanced:
        np.add.at(z, key, g)
    else:
        z[key] = g
    return z


def _along_axis_key(idx: np.ndarray, ax: int) -> tuple[np.ndarray, ...]:
    """Index arrays selecting ``x[..., idx, ...]`` along ``ax`` (as take_along_axis does)."""
    key = []
    for d, n in enumerate(idx.shape):
        if d == ax:
            key.append(idx)
        else:
            shape = [1] * idx.ndim
            shape[d] = n
            key.append(np.arange(n).reshape(shape))
    return tuple(key)


def gather_array(xd: np.ndarray, ax: int, idx: np.ndarray) -> np.ndarray:
    """``torch.gather`` on arrays: ``out[i][j] = x[i][idx[i][j]]`` for ``ax == 1``."""
    return xd[_along_axis_key(idx, ax)]


def gather(input: Tensor, dim: int, index: Tensor | np.ndarray) -> Tensor:
    """Pick values along ``dim`` at ``index`` (an int64 tensor, or array, with input's ndim)."""
    xd, idx = input._data, _operand(index)._data
    if idx.dtype.kind not in "iu":
        raise RuntimeError(f"gather(): Expected dtype int64 for index, got {idx.dtype}")
    if idx.ndim != xd.ndim:
        raise RuntimeError(
            f"Index tensor must have the same number of dimensions as input tensor (shapes "
            f"{list(xd.shape)} and {list(idx.shape)})"
        )
    ax = norm_dim(dim, xd.ndim)
    for d in range(xd.ndim):
        if d != ax and idx.shape[d] > xd.shape[d]:
            raise RuntimeError(
                f"Size does not match at dimension {d} expected index {list(idx.shape)} to be "
                f"smaller than self {list(xd.shape)} apart from dimension {ax}"
            )
    return _record("gather", gather_array(xd, ax, idx), (input,), (ax, idx))


def scatter_add_zeros(src: Tensor, dim: int, idx: np.ndarray, shape: tuple[int, ...]) -> Tensor:
    """Zeros of ``shape`` with ``src`` added along ``dim`` at ``idx`` (gather's adjoint)."""
    z = np.zeros(shape, dtype=src._data.dtype)
    np.add.at(z, _along_axis_key(idx, dim), src._data)
    return _record("scatter_add_zeros", z, (src,), (dim, idx))


def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """``input`` with ``src`` added along ``dim`` at ``index`` (repeats accumulate)."""
    idx = _operand(index)._data
    ax = norm_dim(dim, input.ndim)
    src_sub = getitem(src, tuple(slice(0, n) for n in idx.shape))
    return add(input, scatter_add_zeros(src_sub, ax, idx, input._data.shape))


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Concatenate along ``dim``."""
    tensors = [_operand(t) for t in tensors]
    if not tensors:
        raise RuntimeError("torch.cat(): expected a non-empty list of Tensors")
    dt = dtypes.result_type(*tensors)
    arrays = [t._data.astype(dt, copy=False) for t in tensors]
    ax = norm_dim(dim, arrays[0].ndim)
    try:
        out = np.concatenate(arrays, axis=ax)
    except ValueError:
        ref = arrays[0].shape
        for i, a in enumerate(arrays):
            if a.ndim != len(ref):
                raise RuntimeError(
                    f"Tensors must have same number of dimensions: got {len(ref)} and {a.ndim}"
                ) from None
            for d, (p, q) in enumerate(zip(ref, a.shape, strict=True)):
                if d != ax and p != q:
                    raise RuntimeError(
                        f"Sizes of tensors must match except in dimension {ax}. Expected size "
                        f"{p} but got size {q} for tensor number {i} in the list (shapes "
                        f"{list(ref)} and {list(a.shape)})."
                    ) from None
        raise
    sizes = tuple(a.shape[ax] for a in arrays)
    return _record("cat", out, tuple(tensors), (ax, sizes))


concat = cat


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Stack equal-shaped tensors along a new dim."""
    tensors = [_operand(t) for t in tensors]
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    dt = dtypes.result_type(*tensors)
    arrays = [t._data.astype(dt, copy=False) for t in tensors]
    for i, a in enumerate(arrays):
        if a.shape != arrays[0].shape:
            raise RuntimeError(
                f"stack expects each tensor to be equal size, but got {list(arrays[0].shape)} at "
                f"entry 0 and {list(a.shape)} at entry {i}"
            )
    ax = norm_dim(dim, arrays[0].ndim + 1)
    return _record("stack", np.stack(arrays, axis=ax), tuple(tensors), ax)


def split(tensor: Tensor, split_size_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
    """Split into chunks of a size, or into the given sizes, along ``dim``."""
    ax = norm_dim(dim, tensor.ndim)
    n = tensor._data.shape[ax]
    if isinstance(split_size_or_sections, builtins.int):
        step = split_size_or_sections
        sizes = [builtins.min(step, n - s) for s in range(0, n, step)]
    else:
        sizes = list(split_size_or_sections)
    out, start = [], 0
    for s in sizes:
        out.append(getitem(tensor, (slice(None),) * ax + (slice(start, start + s),)))
        start += s
    return tuple(out)


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """Split into ``chunks`` nearly equal pieces along ``dim``."""
    n = input._data.shape[norm_dim(dim, input.ndim)]
    return split(input, -(-n // chunks), dim)


def clone(input: Tensor) -> Tensor:
    """A copy (gradient passes through)."""
    return _record("clone", input._data.copy(), (input,))


def cast(input: Tensor, dtype: np.dtype, copy: bool = False) -> Tensor:
    """``input`` in ``dtype``; differentiable between floating dtypes, a plain constant
    otherwise (as in PyTorch, integer results do not require grad)."""
    if input._data.dtype == dtype and not copy:
        return input
    out = input._data.astype(dtype)
    if dtype.kind == "f":
        return _record("cast", out, (input,))
    return _make(out)


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot encoding along a new last dim."""
    idx = tensor._data
    if idx.dtype.kind not in "iu":
        raise RuntimeError("one_hot is only applicable to index tensor")
    n = builtins.int(idx.max()) + 1 if num_classes == -1 else num_classes
    return _make((idx[..., None] == np.arange(n)).astype(dtypes.int64))


def _setitem_op(key: tuple[Any, ...], advanced: bool) -> Any:
    def op(a: Tensor, value: Any) -> Tensor:
        out = a._data.copy()
        out[key] = value._data if isinstance(value, Tensor) else value
        return _record("setitem", out, (a, value), (key, advanced))

    return op


def masked_fill(input: Tensor, mask: Any, value: Any) -> Tensor:
    """``input`` with ``value`` where the bool ``mask`` (broadcast to it) is True; no gradient
    flows to the filled positions."""
    from .arithmetic import where

    m = _operand(mask)._data
    if m.dtype != np.bool_:
        raise RuntimeError(
            f"masked_fill only supports boolean masks, but got mask with dtype {m.dtype}"
        )
    if isinstance(value, Tensor):
        value = value._data.item()
    return where(_make(m), value, input)


def index_add(input: Tensor, dim: int, index: Any, source: Tensor, *, alpha: float = 1) -> Tensor:
    """``input`` with ``alpha * source`` added along ``dim`` at the 1-D ``index`` (repeated
    indices accumulate)."""
    from .arithmetic import add, mul

    idx = _operand(index)._data
    if idx.ndim != 1 or idx.dtype.kind not in "iu":
        raise IndexError("index_add_(): Index is supposed to be a vector of int64")
    ax = norm_dim(dim, input.ndim)
    if source._data.shape[ax] != idx.shape[0]:
        raise RuntimeError(
            f"index_add_(): Number of indices ({idx.shape[0]}) should be equal to "
            f"source.size(dim) ({source._data.shape[ax]})"
        )
    key = (slice(None),) * ax + (idx,)
    src = source if alpha == 1 else mul(source, alpha)
    return add(input, index_scatter(src, key, True, input._data.shape))
