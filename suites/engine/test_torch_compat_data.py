"""DataLoader collation and grad-mode decorators, each compared with real torch where installed.

Found by an audit that ran tutorial-style code against both: datasets of NumPy rows and
NumPy scalars, tuple samples (PyTorch batches them as lists), ``batch_size=None`` and
``@torch.no_grad`` without parentheses.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterator
from typing import Any

import harness.implementations.numpy_autograd as engine
import numpy as np
import pytest

from .compare import comparable

Point = namedtuple("Point", "x y")


class Rows:
    """A Dataset the way tutorials write one: ``self.x[i], self.y[i]`` from NumPy arrays."""

    def __init__(self) -> None:
        self.x = np.arange(12, dtype=np.float32).reshape(4, 3)
        self.y = np.array([0, 1, 1, 0])

    def __len__(self) -> int:
        return 4

    def __getitem__(self, i: Any) -> tuple[Any, Any]:
        return self.x[i], self.y[i]


def _first(m: Any, data: Any, **kw: Any) -> Any:
    return next(iter(m.utils.data.DataLoader(data, **kw)))


BATCH_CASES: dict[str, Callable[[Any], Any]] = {
    "np_int64": lambda m: _first(m, [np.int64(1), np.int64(2)], batch_size=2),
    "np_float32": lambda m: _first(m, [np.float32(1.5), np.float32(2)], batch_size=2),
    "np_float64": lambda m: _first(m, [np.float64(1.5), np.float64(2)], batch_size=2),
    "np_bool": lambda m: _first(m, [np.bool_(True), np.bool_(False)], batch_size=2),
    "np_0d_arrays": lambda m: _first(m, [np.array(1.5), np.array(2.5)], batch_size=2),
    "py_ints": lambda m: _first(m, [1, 2], batch_size=2),
    "py_floats": lambda m: _first(m, [1.0, 2.5], batch_size=2),
    "py_int_then_float": lambda m: _first(m, [1, 2.5], batch_size=2),
    "py_bool_then_int": lambda m: _first(m, [True, 2], batch_size=2),
    "strings": lambda m: _first(m, ["a", "b"], batch_size=2),
    "np_strings": lambda m: _first(m, [np.str_("a"), np.str_("b")], batch_size=2),
    "tuple_samples": lambda m: _first(m, [(1, 2.0), (3, 4.0)], batch_size=2),
    "list_samples": lambda m: _first(m, [[1, 2.0], [3, 4.0]], batch_size=2),
    "namedtuple_samples": lambda m: _first(m, [Point(1, 2.0), Point(3, 4.0)], batch_size=2),
    "dict_samples": lambda m: _first(m, [{"a": np.int64(1)}, {"a": np.int64(2)}], batch_size=2),
    "numpy_dataset": lambda m: _first(m, Rows(), batch_size=3),
    "numpy_dataset_unbatched": lambda m: _first(m, Rows(), batch_size=None),
    "numpy_dataset_index_batches": lambda m: _first(
        m, Rows(), sampler=[np.array([3, 0])], batch_size=None
    ),
    "tensor_dataset_unbatched": lambda m: _first(
        m, m.utils.data.TensorDataset(m.arange(4) * 10), sampler=[m.tensor([2, 0])], batch_size=None
    ),
}  # fmt: skip

CONVERT_CASES: dict[str, Any] = {
    "np_int64": np.int64(3),
    "np_float32": np.float32(1.5),
    "np_float64": np.float64(2.5),
    "np_bool": np.bool_(True),
    "np_str": np.str_("a"),
    "np_str_array": np.array(["a", "b"]),
    "np_float32_array": np.arange(3, dtype=np.float32),
    "python_numbers": [3, 1.5],
    "tuple": (np.int64(1), np.arange(2)),
    "namedtuple": Point(np.arange(2), 1),
    "dict": {"a": np.float64(1), "b": "s"},
}


@pytest.mark.parametrize("case", list(BATCH_CASES))
def test_batches_match_torch(case: str, torch_mod: Any) -> None:
    assert comparable(BATCH_CASES[case](engine)) == comparable(BATCH_CASES[case](torch_mod))


@pytest.mark.parametrize("case", list(CONVERT_CASES))
def test_default_convert_matches_torch(case: str, torch_mod: Any) -> None:
    data = CONVERT_CASES[case]
    got = engine.utils.data.default_convert(data)
    assert comparable(got) == comparable(torch_mod.utils.data.default_convert(data))


def test_numpy_scalars_and_rows_collate() -> None:
    batch = _first(engine, [np.int64(1), np.int64(2)], batch_size=2)
    assert isinstance(batch, engine.Tensor) and batch.dtype == engine.int64
    assert batch.tolist() == [1, 2]
    assert _first(engine, [np.float32(1), np.float32(2)], batch_size=2).dtype == engine.float32
    assert _first(engine, [np.float64(1), np.float64(2)], batch_size=2).dtype == engine.float64
    assert _first(engine, [np.bool_(True), np.bool_(False)], batch_size=2).dtype == engine.bool

    xb, yb = _first(engine, Rows(), batch_size=2)
    assert xb.shape == (2, 3) and xb.dtype == engine.float32
    assert yb.tolist() == [0, 1] and yb.dtype == engine.int64
    # A Python int then a float: PyTorch infers float32, it does not truncate to int64.
    assert _first(engine, [1, 2.5], batch_size=2).tolist() == [1.0, 2.5]


def test_tuple_samples_batch_as_lists_and_namedtuples_survive() -> None:
    batch = _first(engine, Rows(), batch_size=2)
    assert type(batch) is list and len(batch) == 2
    point = _first(engine, [Point(1, 2.0), Point(3, 4.0)], batch_size=2)
    assert type(point) is Point and point.x.tolist() == [1, 3]


def test_unbatched_loading_converts_numpy_scalars() -> None:
    x, y = _first(engine, Rows(), batch_size=None)
    assert isinstance(x, engine.Tensor) and isinstance(y, engine.Tensor)
    assert y.shape == () and y.dtype == engine.int64
    ds = engine.utils.data.TensorDataset(engine.arange(4), engine.arange(4) * 2)
    sample = _first(engine, ds, sampler=[engine.tensor([3, 1])], batch_size=None)
    assert type(sample) is list and sample[1].tolist() == [6, 2]


def test_string_arrays_are_rejected_like_torch() -> None:
    with pytest.raises(TypeError, match="default_collate: batch must contain"):
        engine.utils.data.default_collate([np.array(["a"]), np.array(["b"])])


# -- grad-mode decorators ----------------------------------------------------------------------
def _decorated(m: Any, make: Callable[[Any], Any]) -> dict[str, Any]:
    """Grad mode and metadata seen through a function decorated by ``make(m)``."""
    x = m.ones(1, requires_grad=True)

    def f(a: Any) -> Any:
        """Double it."""
        return a * 2, m.is_grad_enabled()

    g = make(m)(f)
    with m.no_grad():
        inside_no_grad = g(x)[1]
    y, inside = g(x)
    return {
        "inside": inside,
        "inside_no_grad": inside_no_grad,
        "requires_grad": y.requires_grad,
        "after": m.is_grad_enabled(),
        "meta": (g.__name__, g.__doc__, g.__wrapped__ is f),
    }


DECORATORS: dict[str, Callable[[Any], Any]] = {
    "no_grad_bare": lambda m: m.no_grad,
    "no_grad_call": lambda m: m.no_grad(),
    "enable_grad_bare": lambda m: m.enable_grad,
    "enable_grad_call": lambda m: m.enable_grad(),
    "inference_mode_bare": lambda m: m.inference_mode,
    "inference_mode_call": lambda m: m.inference_mode(),
    "inference_mode_false": lambda m: m.inference_mode(False),
    "set_grad_enabled_false": lambda m: m.set_grad_enabled(False),
}


@pytest.mark.parametrize("case", list(DECORATORS))
def test_grad_mode_decorators_match_torch(case: str, torch_mod: Any) -> None:
    assert _decorated(engine, DECORATORS[case]) == _decorated(torch_mod, DECORATORS[case])


def test_bare_grad_mode_decorators() -> None:
    @engine.no_grad
    def frozen(a: Any) -> Any:
        """Doc."""
        return a * 2

    x = engine.ones(2, requires_grad=True)
    assert not frozen(x).requires_grad and frozen.__name__ == "frozen"
    assert frozen.__doc__ == "Doc."

    @engine.enable_grad
    def tracked() -> bool:
        return engine.is_grad_enabled()

    @engine.inference_mode
    def inferred() -> bool:
        return engine.is_grad_enabled()

    with engine.no_grad():
        assert tracked() and not inferred() and not engine.is_grad_enabled()
    assert engine.is_grad_enabled()
    with engine.inference_mode(False), engine.no_grad():
        assert not engine.is_grad_enabled()


def test_decorated_generator_sets_mode_only_while_running() -> None:
    def steps() -> Iterator[Any]:
        sent = yield engine.is_grad_enabled()
        yield sent, engine.is_grad_enabled()

    gen = engine.no_grad(steps)()
    assert next(gen) is False and engine.is_grad_enabled()
    assert gen.send(5) == (5, False) and engine.is_grad_enabled()


def test_decorated_generator_matches_torch(torch_mod: Any) -> None:
    def run(m: Any) -> list[Any]:
        @m.no_grad
        def steps() -> Iterator[Any]:
            sent = yield m.is_grad_enabled()
            yield sent, m.is_grad_enabled()

        gen = steps()
        return [next(gen), m.is_grad_enabled(), gen.send(5), m.is_grad_enabled()]

    assert run(engine) == run(torch_mod)
