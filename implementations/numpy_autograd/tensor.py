"""The Tensor: a NumPy array, a ``requires_grad`` flag, a ``.grad`` and the node that made it.

A Tensor is deliberately thin (``__slots__``, no per-op bookkeeping beyond one graph node):

* ``_data`` -- the NumPy array (float32, float64, int64 or bool), never a NumPy scalar.
* ``_node`` -- the :class:`~harness.implementations.numpy_autograd.node.Node` that produced it, or
  ``None`` for a leaf.
* ``_version`` -- bumped by every in-place operation, so backward can refuse to use a value
  that changed after it was saved.
* ``_view`` -- ``None``, or how this tensor views the memory of another
  (:class:`~harness.implementations.numpy_autograd.views.View`).

Arithmetic, reductions and shape methods are the functions of :mod:`.ops`; the method
table at the bottom of this module says which is which, and :func:`bind_methods` (which
:mod:`.ops` calls once its functions exist) attaches them.
"""

from __future__ import annotations

import builtins
import functools
import weakref
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from . import dtypes


class Size(tuple):
    """A tensor shape: a tuple that prints as ``torch.Size([2, 3])``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"torch.Size({list(self)})"

    def numel(self) -> int:
        """Number of elements of a tensor of this shape."""
        return int(np.prod(self, dtype=np.int64))


class device:
    """A device name; the engine has only ``cpu``."""

    __slots__ = ("type",)

    def __init__(self, type: str = "cpu") -> None:
        self.type = check_device(type)

    def __repr__(self) -> str:
        return f"device(type='{self.type}')"

    def __str__(self) -> str:
        return self.type

    def __eq__(self, other: object) -> bool:
        return str(other) == self.type

    def __hash__(self) -> int:
        return hash(self.type)


def check_device(d: Any) -> str:
    """``"cpu"`` for ``None``/``"cpu"``/a cpu device; any other device is a clear error."""
    name = "cpu" if d is None else str(d)
    if name != "cpu":
        raise RuntimeError(f"device {name!r} is not available: the numpy engine runs on 'cpu' only")
    return name


CPU = device("cpu")


class Tensor:
    """An n-dimensional array with autograd, shaped like ``torch.Tensor``.

    Create tensors with :func:`~harness.implementations.numpy_autograd.tensor` and friends; this
    class's constructor is the engine's internal one: ``Tensor(array, node)`` wraps an array
    without copying or checking (``node`` makes it a non-leaf that requires grad). Like
    PyTorch's legacy constructor, ``Tensor(list)`` makes a float tensor from nested lists.
    """

    __slots__ = ("__weakref__", "_data", "_node", "_requires_grad", "_version", "_view", "grad")

    # NumPy must defer to our reflected operators (ndarray * Tensor -> Tensor.__rmul__).
    __array_ufunc__ = None

    def __init__(self, data: Any, node: Any = None) -> None:
        if data.__class__ is not np.ndarray:
            data = _as_array(data)
        self._data = data
        self._node = node
        self._requires_grad = node is not None
        self.grad: Tensor | None = None
        self._version = 0
        self._view = None

    # -- attributes ---------------------------------------------------------------------
    @property
    def data(self) -> Tensor:
        """A tensor sharing this one's memory, detached from the graph (as in PyTorch).

        Modifying it in place changes this tensor without bumping its version, exactly the
        loophole ``.data`` is in PyTorch.
        """
        return Tensor(self._data)

    @data.setter
    def data(self, value: Tensor) -> None:
        if not isinstance(value, Tensor):
            raise TypeError(f"data must be a Tensor, got {type(value).__name__}")
        self._data = value._data

    @property
    def requires_grad(self) -> bool:
        """Whether gradients flow to (or through) this tensor."""
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        self.requires_grad_(value)

    @property
    def shape(self) -> Size:
        """The shape, as a :class:`Size`."""
        return Size(self._data.shape)

    @property
    def dtype(self) -> np.dtype:
        """The dtype (a NumPy dtype under PyTorch's name: ``float32`` ... ``bool``)."""
        return self._data.dtype

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return self._data.ndim

    @property
    def device(self) -> device:
        """Always ``cpu``."""
        return CPU

    @property
    def is_leaf(self) -> bool:
        """True for tensors not produced by a recorded operation."""
        return self._node is None

    @property
    def grad_fn(self) -> Any:
        """The graph node that produced this tensor (``None`` for leaves)."""
        return self._node

    @property
    def T(self) -> Tensor:
        """The tensor with its dimensions reversed."""
        return _ops.permute(self, tuple(range(self._data.ndim - 1, -1, -1)))

    @property
    def mT(self) -> Tensor:
        """The last two dimensions swapped (batched matrix transpose)."""
        return _ops.transpose(self, -2, -1)

    @property
    def is_cuda(self) -> bool:
        """Always False."""
        return False

    def size(self, dim: int | None = None) -> Any:
        """The shape, or the size of one dimension."""
        if dim is None:
            return self.shape
        return self._data.shape[_ops.norm_dim(dim, self._data.ndim)]

    def dim(self) -> int:
        """Number of dimensions."""
        return self._data.ndim

    def numel(self) -> int:
        """Number of elements."""
        return int(self._data.size)

    def element_size(self) -> int:
        """Bytes per element."""
        return int(self._data.itemsize)

    # -- conversion -----------------------------------------------------------------------
    def numpy(self, *, force: bool = False) -> np.ndarray:
        """The underlying NumPy array (shared memory, as in PyTorch); ``force`` detaches
        first (and copies, as PyTorch's ``numpy(force=True)`` may)."""
        if force:
            return self._data.copy()
        if self._requires_grad:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. "
                "Use tensor.detach().numpy() instead."
            )
        return self._data

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        a = self.numpy()
        return a if dtype is None else a.astype(dtype)

    def item(self) -> Any:
        """The value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise RuntimeError(
                f"a Tensor with {self._data.size} elements cannot be converted to Scalar"
            )
        return self._data.item()

    def tolist(self) -> Any:
        """Nested Python lists (a number for a zero-dim tensor)."""
        return self._data.tolist()

    def detach(self) -> Tensor:
        """A new leaf sharing this tensor's memory, outside the graph."""
        return Tensor(self._data)

    def detach_(self) -> Tensor:
        """Make this tensor a leaf that does not require grad (in place)."""
        self._node = None
        self._requires_grad = False
        return self

    def cpu(self) -> Tensor:
        """``self`` (everything is on the CPU)."""
        return self

    def cuda(self, *args: Any, **kwargs: Any) -> Tensor:
        """Always an error: the engine runs on the CPU only."""
        check_device("cuda")
        return self

    def contiguous(self) -> Tensor:
        """``self`` (layout is NumPy's business)."""
        return self

    def to(self, *args: Any, **kwargs: Any) -> Tensor:
        """``to(dtype)``, ``to(device)``, ``to(device, dtype)`` or ``to(other_tensor)``."""
        dtype = kwargs.pop("dtype", None)
        check_device(kwargs.pop("device", None))
        kwargs.pop("non_blocking", None)
        copy = kwargs.pop("copy", False)
        if kwargs:
            raise TypeError(f"to() got unexpected arguments {sorted(kwargs)}")
        for a in args:
            if isinstance(a, Tensor):
                dtype = a.dtype
            elif isinstance(a, str | device):
                check_device(a)
            elif a is not None:
                dtype = a
        if dtype is None:
            return _ops.clone(self) if copy else self
        return _ops.cast(self, dtypes.canonical(dtype), copy=copy)

    def type_as(self, other: Tensor) -> Tensor:
        """This tensor cast to ``other``'s dtype."""
        return self.to(other.dtype)

    def float(self) -> Tensor:
        """Cast to float32."""
        return _ops.cast(self, dtypes.float32)

    def double(self) -> Tensor:
        """Cast to float64."""
        return _ops.cast(self, dtypes.float64)

    def long(self) -> Tensor:
        """Cast to int64."""
        return _ops.cast(self, dtypes.int64)

    def int(self) -> Tensor:
        """Cast to int64 (the engine's only integer dtype)."""
        return _ops.cast(self, dtypes.int64)

    def bool(self) -> Tensor:
        """Cast to bool."""
        return _ops.cast(self, dtypes.bool_)

    # -- autograd ---------------------------------------------------------------------------
    def requires_grad_(self, requires_grad: builtins.bool = True) -> Tensor:
        """Set ``requires_grad`` on a leaf (floating dtypes only)."""
        if self._node is not None:
            if not requires_grad:
                raise RuntimeError(
                    "you can only change requires_grad flags of leaf variables. If you want "
                    "to use a computed variable in a subgraph that doesn't require "
                    "differentiation use var_no_grad = var.detach()."
                )
            return self
        if requires_grad and self._data.dtype.kind != "f":
            raise RuntimeError(
                "only Tensors of floating point dtype can require gradients "
                f"(got {dtypes.name(self._data.dtype)})"
            )
        self._requires_grad = bool(requires_grad)
        return self

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor during backward."""
        if not self._requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self._node is not None and self._node.retained is None:
            self._node.retained = weakref.ref(self)

    @property
    def retains_grad(self) -> builtins.bool:
        """True after :meth:`retain_grad` on a non-leaf."""
        return self._node is not None and self._node.retained is not None

    def backward(
        self,
        gradient: Any = None,
        retain_graph: builtins.bool | None = None,
        create_graph: builtins.bool = False,
        inputs: Any = None,
    ) -> None:
        """Accumulate the gradient of this tensor into the ``.grad`` of the graph's leaves.

        A non-scalar tensor needs ``gradient`` (the vector of the vector-Jacobian product).
        The graph's saved values are freed afterwards unless ``retain_graph`` (default:
        ``create_graph``). ``create_graph=True`` records the backward pass itself, so the
        gradients can be differentiated again.
        """
        _autograd().backward(self, gradient, retain_graph, create_graph, inputs)

    # -- Python protocol -----------------------------------------------------------------------
    def __repr__(self) -> str:
        body = np.array2string(
            self._data, separator=", ", precision=4, prefix="tensor(", floatmode="maxprec"
        )
        extras = []
        if self._data.dtype not in (dtypes.get_default_dtype(), dtypes.int64, dtypes.bool_):
            extras.append(f"dtype={dtypes.name(self._data.dtype)}")
        if self._node is not None:
            extras.append(f"grad_fn=<{self._node.name()}>")
        elif self._requires_grad:
            extras.append("requires_grad=True")
        return f"tensor({body}{''.join(', ' + e for e in extras)})"

    def __len__(self) -> builtins.int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        for i in range(self._data.shape[0]):
            yield self[i]

    def __bool__(self) -> builtins.bool:
        if self._data.size != 1:
            raise RuntimeError(
                f"Boolean value of Tensor with more than one value is ambiguous "
                f"(shape {tuple(self._data.shape)})"
            )
        return bool(self._data.item())

    def __float__(self) -> builtins.float:
        return float(self.item())

    def __int__(self) -> builtins.int:
        return int(self.item())

    def __index__(self) -> builtins.int:
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self._data.item())

    def __format__(self, spec: str) -> str:
        if self._data.ndim == 0:
            return format(self._data.item(), spec)
        return format(repr(self), spec)

    # Elementwise __eq__ (bound below) would make tensors unhashable; hash by identity as
    # PyTorch does, so tensors can key dicts (optimizer state, gradient maps).
    __hash__ = object.__hash__

    if TYPE_CHECKING:
        # Bound at import by :func:`bind_methods` from the method table below; declared here
        # (a subset: those the code base calls on Tensors) so the type checker knows them.
        def __getitem__(self, key: Any) -> Tensor: ...
        def __mul__(self, other: Any) -> Tensor: ...
        def __rmul__(self, other: Any) -> Tensor: ...
        def clone(self) -> Tensor: ...
        def fill_(self, value: Any) -> Tensor: ...
        def zero_(self) -> Tensor: ...
        def copy_(self, src: Any) -> Tensor: ...
        def uniform_(
            self, a: builtins.float = 0.0, b: builtins.float = 1.0, *, generator: Any = None
        ) -> Tensor: ...
        def normal_(
            self, mean: builtins.float = 0.0, std: builtins.float = 1.0, *, generator: Any = None
        ) -> Tensor: ...


def _as_array(data: Any) -> np.ndarray:
    """An array for the constructor: NumPy scalars as 0-d arrays (internal results), nested
    lists as float arrays (PyTorch's legacy ``torch.Tensor([...])``)."""
    if isinstance(data, np.generic):
        return np.asarray(data)
    if isinstance(data, list | tuple):
        return np.array(data, dtype=dtypes.get_default_dtype())
    raise TypeError(
        f"Tensor() takes an array or nested lists, got {type(data).__name__}; "
        "use torch.tensor(data) to create a tensor from data"
    )


@functools.cache
def _autograd() -> Any:
    # autograd imports the graph machinery, which imports this module: resolve it lazily.
    from . import autograd

    return autograd


# The method table: every method and operator of Tensor that is an op of :mod:`.ops`.
_SAME_NAME_METHODS = (
    "add sub mul div pow neg abs exp log log1p sqrt sin cos tanh sigmoid relu sign square "
    "round floor ceil trunc reciprocal rsqrt clamp maximum minimum matmul mm bmm mv dot "
    "sum mean var std max min amax amin argmax argmin all any logsumexp softmax log_softmax "
    "norm view_as reshape_as flatten squeeze unsqueeze permute transpose t movedim expand "
    "expand_as broadcast_to gather scatter_add split chunk clone eq ne lt le gt ge "
    "logical_and logical_or logical_not add_ sub_ mul_ div_ pow_ neg_ relu_ clamp_ fill_ "
    "zero_ copy_ uniform_ normal_ erf expm1 cumsum prod masked_fill index_add"
).split()
_RENAMED_METHODS = {
    "clip": "clamp", "swapaxes": "transpose", "clip_": "clamp_",
    "__add__": "add", "__sub__": "sub", "__mul__": "mul", "__truediv__": "div",
    "__pow__": "pow", "__matmul__": "matmul", "__neg__": "neg", "__abs__": "abs",
    "__floordiv__": "floor_divide", "__mod__": "remainder",
    "__eq__": "eq", "__ne__": "ne", "__lt__": "lt", "__le__": "le", "__gt__": "gt", "__ge__": "ge",
    "__and__": "logical_and", "__or__": "logical_or", "__invert__": "logical_not",
    "__iadd__": "add_", "__isub__": "sub_", "__imul__": "mul_", "__itruediv__": "div_",
    "__getitem__": "getitem", "__setitem__": "setitem",
}  # fmt: skip
# ``other OP tensor`` when ``other`` is not a Tensor: the op with its operands swapped.
_REFLECTED = {
    "__radd__": "add", "__rsub__": "sub", "__rmul__": "mul", "__rtruediv__": "div",
    "__rpow__": "pow", "__rmatmul__": "matmul", "__rfloordiv__": "floor_divide",
}  # fmt: skip


def _reflected(op: Any) -> Any:
    def method(self: Tensor, other: Any) -> Tensor:
        return op(other, self)

    return method


def bind_methods(ops: Any) -> None:
    """Attach the functions of :mod:`.ops` to :class:`Tensor` as methods and operators.

    :mod:`.ops` calls this once all its functions exist: they take and make Tensors, so they
    import this module and it cannot import them before ``Tensor`` is defined.
    """

    def _method_reshape(self: Tensor, *shape: Any) -> Tensor:
        return ops.reshape(self, *shape)

    def _method_view(self: Tensor, *shape: Any) -> Tensor:
        return ops.view(self, *shape)

    def where_method(self: Tensor, condition: Tensor, other: Any) -> Tensor:
        """``Tensor.where(condition, other)`` = ``where(condition, self, other)``."""
        return ops.where(condition, self, other)

    methods: dict[str, Any] = {name: getattr(ops, name) for name in _SAME_NAME_METHODS}
    methods |= {name: getattr(ops, op) for name, op in _RENAMED_METHODS.items()}
    methods |= {name: _reflected(getattr(ops, op)) for name, op in _REFLECTED.items()}
    methods |= {"reshape": _method_reshape, "view": _method_view, "where": where_method}
    methods["__pos__"] = lambda s: s
    for name, fn in methods.items():
        setattr(Tensor, name, fn)
    # Deliberate: hash by identity again after binding __eq__ (as the class body does).
    Tensor.__hash__ = object.__hash__  # type: ignore[method-assign,assignment]


# Imported last: the ops need Tensor, and call bind_methods when they load.
from . import ops as _ops  # noqa: E402
