"""Small random programs of catalog ops: a DAG whose values feed several ops and broadcast.

A single-op check never sees what happens *between* ops: a gradient that reaches one value
along two paths must be accumulated (summed), a broadcast in one op must be reduced back
before the next op's gradient meets it. :class:`Program` is a list of catalog ops whose
inputs are earlier values (leaves, then the ops' results, numbered in order); the last
value is the output. :func:`programs` draws them (2 to :data:`MAX_OPS` ops, leaves of
mutually broadcastable shapes, later ops preferring recent values so that intermediates are
used again), and :func:`program_cases` adds the leaves' values and a seed.

The representation is the list itself, ``((op, (input indices...)), ...)``: Hypothesis
shrinks the choices behind it, so a failing program shrinks to fewer ops, earlier ops of
:data:`PROGRAM_OPS` and fewer leaves, and :meth:`Program.source` prints it back as Python.

Only smooth ops whose domain is every real number are used (no kinks, ties or domain
edges: no relu, abs, clamp, max, log, sqrt, div), so finite differences are valid at every
drawn point; programs whose intermediate
values leave ``[-BOUND, BOUND]`` are rejected, so nothing overflows. The catalog's
neural-network ops (:mod:`harness.catalog.nn`) are left out on purpose: their shapes depend
on drawn parameters (a convolution's weight on its input's channels and groups, a
normalization on its variance staying away from 0), which a DAG of broadcastable leaves
cannot feed; their single-op checks, covering sets and the training suites exercise them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from harness import catalog

Shape = tuple[int, ...]

UNARY = ("neg", "tanh", "sin", "cos", "sigmoid", "square", "softplus", "exp")
"""Elementwise ops on any shape."""
BINARY = ("mul", "add", "sub")
"""Broadcasting elementwise ops."""
ROWS = ("sum_dim", "logsumexp", "mean_dim", "softmax", "log_softmax")
"""Ops over the last dimension (at least one dimension, last one >= 1)."""
LINALG = ("matmul", "mv", "transpose")
"""``(m, k) @ (k, n)``, ``(m, k) @ (k,)`` and the transpose of a matrix."""
PROGRAM_OPS = BINARY + UNARY + ROWS + LINALG
"""The ops programs are drawn from, most useful first (shrinking moves towards the start)."""

LEAF_SHAPES: tuple[Shape, ...] = ((2, 3), (3,), (2, 1), (1, 3), ())
"""Leaf shapes: any two broadcast together (to at most (2, 3))."""
MIN_OPS, MAX_OPS = 2, 8
MAX_LEAVES = 3
BOUND = 1e3
"""Largest magnitude an intermediate value may take (larger draws are rejected)."""


def out_shape(op: str, shapes: Sequence[Shape]) -> Shape:
    """The result's shape of ``op`` on inputs of ``shapes`` (ValueError if they do not fit)."""
    if op in BINARY:
        return tuple(np.broadcast_shapes(*shapes))
    if op in ("matmul", "mv"):
        a, b = shapes
        if len(a) != 2 or len(b) != (2 if op == "matmul" else 1) or a[1] != b[0]:
            raise ValueError(f"{op} cannot multiply shapes {a} and {b}")
        return (a[0], b[1]) if op == "matmul" else (a[0],)
    (s,) = shapes
    if op == "transpose":
        if len(s) != 2:
            raise ValueError(f"transpose needs a matrix, got shape {s}")
        return (s[1], s[0])
    if op in UNARY:
        return s
    if op in ROWS:
        if not s or s[-1] < 1:
            raise ValueError(f"{op} needs at least one dimension of size >= 1, got {s}")
        return s[:-1] if op in ("sum_dim", "logsumexp", "mean_dim") else s
    raise ValueError(f"unknown program op {op!r}; valid: {', '.join(PROGRAM_OPS)}")


def _arity(op: str) -> int:
    return 2 if op in BINARY or op in ("matmul", "mv") else 1


@dataclass(frozen=True)
class Program:
    """Leaves of ``leaves`` shapes (values 0..L-1), then ``nodes``: ``(op, inputs)`` each
    making the next value from earlier ones. The output is the last value."""

    leaves: tuple[Shape, ...]
    nodes: tuple[tuple[str, tuple[int, ...]], ...]

    def __post_init__(self) -> None:
        self.shapes()  # validates

    def shapes(self) -> list[Shape]:
        """The shape of every value, leaves first."""
        shapes = [tuple(s) for s in self.leaves]
        for k, (op, ins) in enumerate(self.nodes):
            n = len(shapes)
            if len(ins) != _arity(op) or any(not 0 <= i < n for i in ins):
                raise ValueError(f"node {k} ({op} of {ins}) must take {_arity(op)} of 0..{n - 1}")
            shapes.append(out_shape(op, [shapes[i] for i in ins]))
        return shapes

    def uses(self) -> list[int]:
        """How many op inputs each value feeds."""
        count = [0] * (len(self.leaves) + len(self.nodes))
        for _, ins in self.nodes:
            for i in ins:
                count[i] += 1
        return count

    def reused(self) -> list[int]:
        """The values that feed more than one op input (their gradients must accumulate)."""
        return [i for i, n in enumerate(self.uses()) if n > 1]

    def run(self, ops: Mapping[str, Callable[..., Any]], *leaves: Any) -> list[Any]:
        """Every value of the program, computing each node with ``ops[name]``."""
        if len(leaves) != len(self.leaves):
            raise ValueError(f"the program takes {len(self.leaves)} leaves, got {len(leaves)}")
        values = list(leaves)
        for op, ins in self.nodes:
            values.append(ops[op](*(values[i] for i in ins)))
        return values

    def function(self, ops: Mapping[str, Callable[..., Any]]) -> Callable[..., Any]:
        """The program as one function of its leaves (for a backend's ``vjp``)."""

        def program(*leaves: Any) -> Any:
            return self.run(ops, *leaves)[-1]

        return program

    def reference(self, *leaves: np.ndarray) -> list[np.ndarray]:
        """Every value in float64 with the catalog's NumPy references."""
        ref = {name: (lambda *a, _n=name: catalog.reference(_n, *a)) for name in PROGRAM_OPS}
        return self.run(ref, *(np.asarray(x, dtype=np.float64) for x in leaves))

    def source(self) -> str:
        """The constructor call that rebuilds this program."""
        nodes = "".join(f"({op!r}, {ins!r}), " for op, ins in self.nodes)
        return f"programs.Program(leaves={self.leaves!r}, nodes=({nodes.rstrip()}))"

    def listing(self) -> str:
        """One line per value: ``v3 = mul(v1, v2)  (2, 3)``, reused values marked."""
        shapes, uses = self.shapes(), self.uses()
        lines = []
        for i, s in enumerate(shapes):
            if i < len(self.leaves):
                text = f"v{i} = leaf"
            else:
                op, ins = self.nodes[i - len(self.leaves)]
                text = f"v{i} = {op}(" + ", ".join(f"v{j}" for j in ins) + ")"
            mark = f"  <- feeds {uses[i]} op inputs" if uses[i] > 1 else ""
            lines.append(f"{text:<28} {list(s)}{mark}")
        return "\n".join(lines)


@st.composite
def programs(draw: st.DrawFn, min_ops: int = MIN_OPS, max_ops: int = MAX_OPS) -> Program:
    """A valid program of ``min_ops`` to ``max_ops`` ops.

    Each op's first input is drawn most-recent-first among the values it accepts, its
    second (binary ops) among the values whose shape broadcasts with the first: a value is
    often picked again, so gradients meet along several paths (measured over 500 draws:
    78% of programs reuse a value, 38% an intermediate one; 11% have a binary op whose two
    inputs differ in shape and broadcast; 16% multiply or transpose a matrix).
    """
    n_leaves = draw(st.integers(1, MAX_LEAVES))
    leaves = tuple(draw(st.sampled_from(LEAF_SHAPES)) for _ in range(n_leaves))
    shapes: list[Shape] = list(leaves)
    nodes: list[tuple[str, tuple[int, ...]]] = []
    for _ in range(draw(st.integers(min_ops, max_ops))):
        op = draw(st.sampled_from(PROGRAM_OPS))
        if _arity(op) == 2:  # a first input some value can be the second of
            first = [
                i
                for i in reversed(range(len(shapes)))
                if any(_fits(op, [shapes[i], t]) for t in shapes)
            ]
        else:
            first = [i for i in reversed(range(len(shapes))) if _fits(op, [shapes[i]])]
        if not first:  # e.g. a rows op with only 0-d values so far
            op = "neg"
            first = list(reversed(range(len(shapes))))
        a = draw(st.sampled_from(first))
        ins: tuple[int, ...] = (a,)
        if _arity(op) == 2:
            second = [i for i in reversed(range(len(shapes))) if _fits(op, [shapes[a], shapes[i]])]
            ins = (a, draw(st.sampled_from(second)))
        nodes.append((op, ins))
        shapes.append(out_shape(op, [shapes[i] for i in ins]))
    return Program(leaves, tuple(nodes))


def _fits(op: str, shapes: Sequence[Shape]) -> bool:
    try:
        out_shape(op, shapes)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class ProgramCase:
    """A program, the values of its leaves, and the seed of its cotangent and directions."""

    program: Program
    inputs: tuple[np.ndarray, ...]
    seed: int


@st.composite
def program_cases(draw: st.DrawFn, dtype: str) -> ProgramCase:
    """A :func:`programs` draw with leaf values uniform in [-2, 2] in ``dtype`` and a seed;
    draws whose intermediate values exceed :data:`BOUND` are rejected."""
    if dtype not in ("float32", "float64"):
        raise ValueError(f"unknown dtype {dtype!r}; valid choices: float32, float64")
    program = draw(programs())
    elements = st.floats(
        -2.0, 2.0, width=32 if dtype == "float32" else 64, allow_nan=False, allow_infinity=False
    )
    inputs = tuple(draw(hnp.arrays(np.dtype(dtype), s, elements=elements)) for s in program.leaves)
    with np.errstate(all="ignore"):
        values = program.reference(*inputs)
    assume(all(np.all(np.abs(v) <= BOUND) for v in values))
    return ProgramCase(program, inputs, draw(st.integers(0, 2**32 - 1)))
