"""Model losses and the metamorphic properties that tie mini-batch to full batch."""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from harness import strategies as strat
from harness import tolerances
from harness.contract import reused
from harness.oracles.agreement import Agreement, Context, OracleFailure, compare_arrays, fmt
from harness.oracles.model_ops import model_loss, needed_ops
from harness.oracles.ops import require

if TYPE_CHECKING:
    from harness.discovery import Target
    from harness.workload import ModelSpec


@dataclass(frozen=True)
class ModelCase:
    """A small model on a real dataset for the metamorphic properties."""

    dataset: str
    model: str

    @property
    def id(self) -> str:
        """``dataset-model`` (model hidden sizes joined by ``x``)."""
        return f"{self.dataset}-{self.model.replace(':', '').replace(',', 'x')}"


MODEL_CASES: tuple[ModelCase, ...] = (
    ModelCase("breast_cancer", "logreg"),
    ModelCase("digits", "mlp:16"),
    ModelCase("digits", "cnn"),
    ModelCase("sonnets", "gpt"),
)
"""Logistic regression (binary cross-entropy on logits) and a softmax MLP with a hidden layer
(cross-entropy): both losses and a hidden layer's backward pass. (A deeper MLP adds nothing
the properties can see and costs a JIT target a dozen compilations per batch size.) The
``cnn`` on digits images (convolutions, max-pool, the flatten to its linear head) and the
``gpt`` on sonnets windows (embeddings, causal attention, layer norms, residuals; the
properties' rows are whole sequences: mini-batches and permutations cut and reorder
sequences, never positions within one), in the training's arithmetic
(:mod:`harness.oracles.model_ops`). Their cost in the ``ci`` profile (6 checks of 5 compact
draws each, one process per target, one thread, load average 6-9 on 2 cores): the engine
0.4 s (cnn) and 1.0 s (gpt), PyTorch 0.5 s and 1.1 s, JAX 28 s and 101 s (3.7 s and 28 s once
its caches are warm: eager JAX compiles each primitive once per batch size and dtype; logreg
and mlp cost it 15 s and 18 s).

``cnn-bn`` is left out: BatchNorm in training mode normalizes with the batch's statistics,
so a row's loss depends on the other rows of its batch and the full-batch gradient is not
the mini-batch average (:func:`harness.architectures.has_batch_statistics`); permutation and
accumulation do hold for it, but a single ``batch_norm_train`` call's VJP, which the op
oracles check, already decides them. Its eval mode (the running statistics) is not the
arithmetic the model trains with."""


@dataclass(frozen=True)
class ModelDraw:
    """A drawn batch: its rows, how it is cut into mini-batches and a row permutation."""

    rows: int
    cuts: tuple[int, ...]
    permutation: tuple[int, ...]
    seed: int


_LOSSES: dict[tuple[int, str, ModelCase], tuple[Any, Callable[..., Any]]] = {}
"""One model loss per backend instance, device and case (the backend is kept beside it, so
its id is not reused): the same function object on every draw, which a compiling backend
compiles once per batch shape (:func:`harness.contract.reused`)."""


@functools.cache
def _spec(case: ModelCase) -> ModelSpec:
    """The case's model (the same in every dtype), built once per process."""
    from harness import workload as wl

    return wl.build(case.dataset, case.model, "sgd", epochs=1, seed=0).model


def _loss(target: Target, case: ModelCase) -> Callable[..., Any]:
    key = (id(target.backend), target.device, case)
    if key not in _LOSSES:
        spec = _spec(case)
        f = model_loss(
            target.backend.ops(), spec.layers, spec.loss, sequence=spec.sequence,
            constant=lambda a: target.backend.asarray(a, target.device),
        )  # fmt: skip
        _LOSSES[key] = (target.backend, reused(f))
    return _LOSSES[key][1]


def _model_setup(
    target: Target, case: ModelCase, dtype: str, draw: ModelDraw
) -> tuple[Callable[..., Any], list[np.ndarray], np.ndarray, np.ndarray, Context]:
    from harness import architectures as arch
    from harness import workload as wl

    built = wl.build(case.dataset, case.model, "sgd", dtype=dtype, epochs=1, seed=0)
    spec = built.model
    for op in needed_ops(spec.layers, spec.loss, spec.sequence):
        require(target, op, dtype)
    rng = np.random.default_rng([draw.seed, 3])
    ds = built.dataset
    idx = rng.choice(len(ds.x_train), size=draw.rows, replace=False)
    x = np.ascontiguousarray(ds.x_train[idx])
    y = ds.y_train[idx]
    y = y.reshape(-1, 1) if spec.loss == "bce_with_logits" else y
    params = arch.init_params(spec.layers, draw.seed, dtype)
    f = _loss(target, case)
    ctx = Context(target.name, case.id, "", dtype, (), draw.seed, None)
    return f, params, x, y, ctx


def _param_names(case: ModelCase) -> list[str]:
    """The gradients' names in failure reports: ``linear0.weight, ...`` for a linear stack
    (the trajectory reports' names), the ``state_dict`` names of a layered model."""
    from harness import architectures as arch
    from harness import trajectory

    spec = _spec(case)
    if spec.is_linear_stack:
        return trajectory.param_names(2 * spec.n_layers)
    return arch.param_names(spec.layers)


def _model_grads(
    target: Target, f: Callable[..., Any], params: list[np.ndarray], x: np.ndarray, y: np.ndarray
) -> tuple[float, list[np.ndarray]]:
    one = np.ones((), dtype=params[0].dtype)
    value, grads = target.backend.vjp(
        f, [*params, x, y], one, device=target.device, argnums=list(range(len(params)))
    )
    return float(np.asarray(value)), [np.asarray(g) for g in grads]


def model_reproducer(target: str, prop: str, case: ModelCase, dtype: str, draw: ModelDraw) -> str:
    """A short Python snippet that re-runs the model property ``prop`` on this drawn batch."""
    return "\n".join(
        [
            "from harness import discovery, oracles",
            f"oracles.{prop}(",
            f'    discovery.get_target("{target}"), oracles.{case!r},',
            f'    "{dtype}", oracles.{draw!r},',
            ")",
        ]
    )


def _model_fail(
    ctx: Context, case: ModelCase, prop: str, draw: ModelDraw, what: str, ag: Agreement
) -> None:
    lines = [
        f"{ctx.target}  {ctx.op}  {prop}  {ctx.dtype}: {what}",
        f"  largest error at index {ag.index}: got {fmt(ag.actual)}, expected "
        f"{fmt(ag.expected)}; absolute {ag.max_abs:.3e}, relative {ag.max_rel:.3e} "
        f"({ag.ratio:.3g}x allowed)",
        f"  drawn batch: {draw}",
        "reproducer:",
        model_reproducer(ctx.target, prop, case, ctx.dtype, draw),
    ]
    raise OracleFailure("\n".join(lines), ag)


def _compare_grads(
    ctx: Context,
    case: ModelCase,
    prop: str,
    draw: ModelDraw,
    got: Sequence[np.ndarray],
    want: Sequence[np.ndarray],
    rtol: float,
    atol: float,
    what: str,
) -> Agreement:
    results = []
    for name, g, w in zip(_param_names(case), got, want, strict=True):
        ag = compare_arrays(g, w, rtol=rtol, atol=atol)
        if not ag.passed:
            _model_fail(ctx, case, prop, draw, f"{what}: gradient of {name} disagrees", ag)
        results.append(ag)
    return Agreement.worst(results)


def _compare_loss_and_grads(
    ctx: Context,
    case: ModelCase,
    prop: str,
    draw: ModelDraw,
    tol: tuple[float, float],
    loss: tuple[Any, Any, str],
    grads: tuple[Sequence[np.ndarray], Sequence[np.ndarray], str],
) -> Agreement:
    """Loss then every parameter's gradient, each ``(got, want, what)``; the worst of them."""
    rtol, atol = tol
    got, want, what = loss
    ag = compare_arrays(np.array(got), np.array(want), rtol=rtol, atol=atol)
    if not ag.passed:
        _model_fail(ctx, case, prop, draw, what, ag)
    g_got, g_want, g_what = grads
    return Agreement.worst(
        [ag, _compare_grads(ctx, case, prop, draw, g_got, g_want, rtol, atol, g_what)]
    )


def _model_tol(dtype: str, rows: int) -> tuple[float, float]:
    rtol, atol = tolerances.for_dtype(dtype)
    # A mean over n rows summed in a different order (batches, permutation) moves by about
    # sqrt(n) ulp of the summands; the workloads' standardized features and O(1) losses keep
    # the summands of order one, so atol grows with sqrt(rows).
    return rtol, atol * max(1.0, math.sqrt(rows))


def minibatch_mean(target: Target, case: ModelCase, dtype: str, draw: ModelDraw) -> Agreement:
    """Full-batch loss and gradient = batch-size-weighted average of the mini-batch ones."""
    f, params, x, y, ctx = _model_setup(target, case, dtype, draw)
    loss, grads = _model_grads(target, f, params, x, y)
    bounds = [0, *draw.cuts, draw.rows]
    avg_loss = 0.0
    avg = [np.zeros(p.shape) for p in params]
    for a, b in itertools.pairwise(bounds):
        lb, gb = _model_grads(target, f, params, x[a:b], y[a:b])
        w = (b - a) / draw.rows
        avg_loss += w * lb
        avg = [s + w * g.astype(np.float64) for s, g in zip(avg, gb, strict=True)]
    return _compare_loss_and_grads(
        ctx, case, "minibatch_mean", draw, _model_tol(dtype, draw.rows),
        (loss, avg_loss, "full-batch loss != weighted mini-batch mean"),
        (grads, avg, "full-batch gradient != batch-size-weighted mini-batch average"),
    )  # fmt: skip


def accumulate(target: Target, case: ModelCase, dtype: str, draw: ModelDraw) -> Agreement:
    """The gradient of ``L + L`` (two backward contributions to each parameter) is twice L's."""
    f, params, x, y, ctx = _model_setup(target, case, dtype, draw)
    require(target, "add", dtype)
    add = target.backend.ops()["add"]
    n = len(params)

    def twice(*args: Any) -> Any:
        return add(f(*args), f(*args[:n], args[n], args[n + 1]))

    _, grads = _model_grads(target, f, params, x, y)
    _, grads2 = _model_grads(target, twice, params, x, y)
    rtol, atol = tolerances.for_dtype(dtype)
    want = [2 * g.astype(np.float64) for g in grads]
    return _compare_grads(
        ctx, case, "accumulate", draw, grads2, want, rtol, atol,
        "two accumulated backward passes != twice one",
    )  # fmt: skip


def permutation(target: Target, case: ModelCase, dtype: str, draw: ModelDraw) -> Agreement:
    """Permuting the rows leaves the full-batch loss and gradients unchanged."""
    f, params, x, y, ctx = _model_setup(target, case, dtype, draw)
    perm = np.asarray(draw.permutation, dtype=np.int64)
    loss, grads = _model_grads(target, f, params, x, y)
    loss_p, grads_p = _model_grads(target, f, params, x[perm], y[perm])
    return _compare_loss_and_grads(
        ctx, case, "permutation", draw, _model_tol(dtype, draw.rows),
        (loss_p, loss, "loss changed when the rows were permuted"),
        (grads_p, grads, "gradient changed when the rows were permuted"),
    )  # fmt: skip


def model_draws(max_rows: int = 48, compact: bool = False) -> Any:
    """Hypothesis strategy of :class:`ModelDraw` (rows, cut points, a permutation, a seed).

    ``compact``: 12 rows cut at 4 and/or 8, so every batch has 4, 8 or 12 rows and batch
    sizes still differ (a JIT compiles once per batch size; see
    :data:`harness.strategies.COMPACT`).
    """
    from hypothesis import strategies as st

    @st.composite
    def draws(draw: st.DrawFn) -> ModelDraw:
        if compact:
            rows = 12
            cuts = draw(st.lists(st.sampled_from((4, 8)), unique=True))
        else:
            rows = draw(st.integers(2, max_rows))
            cuts = draw(st.lists(st.integers(1, rows - 1), unique=True, max_size=6))
        perm = draw(st.permutations(range(rows)))
        seed = draw(st.integers(0, strat.SEED_MAX))
        return ModelDraw(rows, tuple(sorted(cuts)), tuple(perm), seed)

    return draws()
