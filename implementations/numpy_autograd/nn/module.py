"""``nn.Module``: parameters and submodules registered by attribute assignment.

Assigning a :class:`Parameter` or a Module to an attribute registers it (in insertion order)
and also stores it as a plain attribute, so ``self.weight`` in ``forward`` is an ordinary
attribute lookup with no ``__getattr__`` hook on the hot path.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .. import dtypes
from ..grad_mode import no_grad
from ..nn.parameter import Parameter
from ..tensor import Tensor, check_device


class Module:
    """Base class of every layer and model (PyTorch's ``nn.Module``)."""

    training: bool
    # Set in __init__ with object.__setattr__ (our __setattr__ needs them to exist first).
    _parameters: OrderedDict[str, Parameter | None]
    _buffers: OrderedDict[str, Tensor | None]
    _modules: OrderedDict[str, Module | None]

    def __init__(self) -> None:
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())

    # -- registration -----------------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"cannot assign {name!r} before Module.__init__() call (call "
                "super().__init__() first in your Module's __init__)"
            )
        params, modules, buffers = self._parameters, self._modules, self._buffers
        if isinstance(value, Parameter):
            modules.pop(name, None)
            buffers.pop(name, None)
            params[name] = value
        elif isinstance(value, Module):
            params.pop(name, None)
            buffers.pop(name, None)
            modules[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} as parameter {name!r} "
                    "(torch.nn.Parameter or None expected)"
                )
            params[name] = None
        elif name in modules:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as child module {name!r}")
            modules[name] = None
        elif name in buffers:
            buffers[name] = value
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        for registry in (self._parameters, self._modules, self._buffers):
            registry.pop(name, None)
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` (or ``None``) under ``name``."""
        if param is None:
            self._parameters[name] = None
            object.__setattr__(self, name, None)
        else:
            setattr(self, name, param)

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Register a non-parameter tensor that belongs to the module's state (and to its
        ``state_dict`` unless ``persistent=False``)."""
        self._buffers[name] = tensor
        transient = self.__dict__.setdefault("_non_persistent_buffers", set())
        (transient.discard if persistent else transient.add)(name)
        object.__setattr__(self, name, tensor)

    def add_module(self, name: str, module: Module | None) -> None:
        """Register ``module`` under ``name``."""
        if module is None:
            self._modules[name] = None
            object.__setattr__(self, name, None)
        else:
            setattr(self, name, module)

    register_module = add_module

    # -- calling ------------------------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The computation; subclasses define it."""
        raise NotImplementedError(
            f'Module [{type(self).__name__}] is missing the required "forward" function'
        )

    @property
    def __call__(self) -> Callable[..., Any]:
        # Calling a module calls its forward (there are no hooks): handing back the bound
        # forward, looked up on each call (so a forward replaced on the instance or the class
        # is used), costs no Python frame of its own.
        return self.forward

    # -- traversal ------------------------------------------------------------------------------
    def named_modules(
        self, memo: set[int] | None = None, prefix: str = ""
    ) -> Iterator[tuple[str, Module]]:
        """This module and every descendant, with dotted names, each once."""
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(memo, f"{prefix}.{name}" if prefix else name)

    def modules(self) -> Iterator[Module]:
        """This module and every descendant."""
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """Direct submodules with their names."""
        for name, child in self._modules.items():
            if child is not None:
                yield name, child

    def children(self) -> Iterator[Module]:
        """Direct submodules."""
        for _, child in self.named_children():
            yield child

    def named_parameters(
        self, prefix: str = "", recurse: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """Parameters with dotted names, each once, in registration order."""
        seen: set[int] = set()
        mods = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for mod_prefix, mod in mods:
            for name, p in mod._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{mod_prefix}.{name}" if mod_prefix else name), p

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Every parameter, each once, in registration order."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        """Buffers with dotted names."""
        for mod_prefix, mod in self.named_modules(prefix=prefix):
            for name, b in mod._buffers.items():
                if b is not None:
                    yield (f"{mod_prefix}.{name}" if mod_prefix else name), b

    def buffers(self) -> Iterator[Tensor]:
        """Every buffer."""
        for _, b in self.named_buffers():
            yield b

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call ``fn`` on every submodule (children first) and on ``self``."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # -- modes and gradients ---------------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Training mode (Dropout active) for this module and its descendants."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode (``train(False)``)."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Set ``requires_grad`` on every parameter."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every parameter's gradient (to None by default, as PyTorch 2)."""
        for p in self.parameters():
            if p.grad is not None:
                if set_to_none:
                    p.grad = None
                else:
                    p.grad = p.grad.detach()
                    p.grad.zero_()

    # -- state -------------------------------------------------------------------------------------
    def state_dict(self, prefix: str = "") -> OrderedDict[str, Tensor]:
        """Parameters and persistent buffers by dotted name, detached (sharing memory), in
        PyTorch's order: each module's parameters, then its buffers, then its children's."""
        return OrderedDict((k, t.detach()) for k, t in self._state_items(prefix))

    def _state_items(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        for mod_prefix, mod in self.named_modules(prefix=prefix):
            dot = f"{mod_prefix}." if mod_prefix else ""
            transient = mod.__dict__.get("_non_persistent_buffers", ())
            for name, p in mod._parameters.items():
                if p is not None:
                    yield dot + name, p
            for name, b in mod._buffers.items():
                if b is not None and name not in transient:
                    yield dot + name, b

    def load_state_dict(self, state_dict: Any, strict: bool = True) -> Any:
        """Copy values into the existing parameters and buffers (shapes must match)."""
        own: dict[str, Tensor] = dict(self._state_items())
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            raise RuntimeError(
                f"Error(s) in loading state_dict for {type(self).__name__}: missing keys "
                f"{missing}, unexpected keys {unexpected}"
            )
        with no_grad():
            for k, target in own.items():
                if k not in state_dict:
                    continue
                src = state_dict[k]
                src_arr = src._data if isinstance(src, Tensor) else np.asarray(src)
                if src_arr.shape != target._data.shape:
                    raise RuntimeError(
                        f"size mismatch for {k}: copying a param with shape {list(src_arr.shape)} "
                        f"from checkpoint, the shape in current model is "
                        f"{list(target._data.shape)}."
                    )
                target.copy_(Tensor(src_arr))
        return _IncompatibleKeys(missing, unexpected)

    # -- dtype and device ------------------------------------------------------------
    def to(self, *args: Any, **kwargs: Any) -> Module:
        """``to(dtype)`` casts floating parameters in place; devices other than cpu fail."""
        dtype = kwargs.pop("dtype", None)
        check_device(kwargs.pop("device", None))
        for a in args:
            if isinstance(a, str) or a is None or type(a).__name__ == "device":
                check_device(a)
            else:
                dtype = a
        if dtype is not None:
            dt = dtypes.canonical(dtype)
            for t in list(self.parameters()) + list(self.buffers()):
                if t._data.dtype.kind == "f":
                    t._data = t._data.astype(dt)
                    if t.grad is not None:
                        t.grad._data = t.grad._data.astype(dt)
        return self

    def float(self) -> Module:
        """Cast floating parameters to float32."""
        return self.to(dtypes.float32)

    def double(self) -> Module:
        """Cast floating parameters to float64."""
        return self.to(dtypes.float64)

    def cpu(self) -> Module:
        """``self``."""
        return self

    # -- printing ----------------------------------------------------------------------
    def extra_repr(self) -> str:
        """Extra text inside this module's repr parentheses."""
        return ""

    def __repr__(self) -> str:
        lines = []
        for name, child in self._modules.items():
            body = repr(child).replace("\n", "\n  ")
            lines.append(f"({name}): {body}")
        extra = self.extra_repr()
        if not lines:
            return f"{type(self).__name__}({extra})"
        inner = "\n  ".join(([extra] if extra else []) + lines)
        return f"{type(self).__name__}(\n  {inner}\n)"


class _IncompatibleKeys:
    """What ``load_state_dict`` returns: the missing and unexpected keys."""

    def __init__(self, missing_keys: list[str], unexpected_keys: list[str]) -> None:
        self.missing_keys = missing_keys
        self.unexpected_keys = unexpected_keys

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return (
            f"_IncompatibleKeys(missing_keys={self.missing_keys}, "
            f"unexpected_keys={self.unexpected_keys})"
        )
