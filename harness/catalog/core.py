"""The catalog's first ops: elementwise, broadcasting, linear algebra, reductions, shapes and
losses (:data:`OPS`), each with its float64 NumPy reference."""

from __future__ import annotations

import numpy as np

from harness.catalog.spec import INDEX, LARGE, MASK, POS, TARGET01, ArgSpec, F, OpSpec, Tolerance


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -x))


def _logsumexp(x: np.ndarray, axis: int = -1) -> np.ndarray:
    m = np.max(x, axis=axis, keepdims=True)
    return np.squeeze(m, axis) + np.log(np.sum(np.exp(x - m), axis=axis))


def _log_softmax(x: np.ndarray) -> np.ndarray:
    return x - np.expand_dims(_logsumexp(x), -1)


def _bce(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    # PyTorch clamps each log at -100 so that p = 0 or 1 gives a finite loss.
    logp = np.maximum(np.log(p), -100.0)
    log1mp = np.maximum(np.log1p(-p), -100.0)
    return np.mean(-(y * logp + (1 - y) * log1mp))


def _bce_logits(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z))))


def _nll(logp: np.ndarray, labels: np.ndarray) -> np.ndarray:
    return -np.mean(logp[np.arange(len(labels)), labels])


_LOOSE_TRANSCENDENTAL = {
    "float32": Tolerance(
        1e-5, 1e-5, "float32 transcendental kernels differ by a few ulp between vendors"
    )
}

RESHAPES: tuple[tuple[int, ...], ...] = ((-1,), (2, -1), (-1, 2, 3))
"""The target shapes drawn: flatten to 1-D (the default), merge all but a leading axis of 2
(a convolution's output to a linear head) and split the last axis in two (rows to images,
features to attention heads)."""

OPS: list[OpSpec] = [
    # --- unary elementwise --------------------------------------------------------
    OpSpec("neg", (F,), "any", np.negative, "-x", second_order=False),
    OpSpec("abs", (ArgSpec(kinks=(0.0,)),), "any", np.abs, "|x|", second_order=False),
    OpSpec(
        "exp",
        (ArgSpec(extremes=("exp_range",)),),
        "any",
        np.exp,
        "e**x",
        tolerances=_LOOSE_TRANSCENDENTAL,
    ),
    OpSpec(
        "log",
        (ArgSpec(domain=(0.1, 3.0), extremes=("tiny_huge",)),),
        "any",
        np.log,
        "natural log, x > 0",
        tolerances=_LOOSE_TRANSCENDENTAL,
    ),
    OpSpec(
        "sqrt",
        (ArgSpec(domain=(0.1, 3.0), extremes=("tiny_huge",)),),
        "any",
        np.sqrt,
        "square root, x > 0",
    ),
    OpSpec("sin", (F,), "any", np.sin, "sine", tolerances=_LOOSE_TRANSCENDENTAL),
    OpSpec("cos", (F,), "any", np.cos, "cosine", tolerances=_LOOSE_TRANSCENDENTAL),
    OpSpec(
        "tanh", (LARGE,), "any", np.tanh, "hyperbolic tangent", tolerances=_LOOSE_TRANSCENDENTAL
    ),
    OpSpec(
        "sigmoid", (LARGE,), "any", _sigmoid, "1 / (1 + e**-x)", tolerances=_LOOSE_TRANSCENDENTAL
    ),
    OpSpec(
        "relu",
        (ArgSpec(kinks=(0.0,)),),
        "any",
        lambda x: np.maximum(x, 0.0),
        "max(x, 0)",
        second_order=False,
    ),
    OpSpec(
        "leaky_relu",
        (ArgSpec(kinks=(0.0,)),),
        "any",
        lambda x: np.where(x > 0, x, 0.01 * x),
        "x if x > 0 else 0.01 x",
        second_order=False,
    ),
    OpSpec(
        "softplus",
        (LARGE,),
        "any",
        lambda x: np.logaddexp(0.0, x),
        "log(1 + e**x)",
        tolerances=_LOOSE_TRANSCENDENTAL,
    ),
    OpSpec("square", (F,), "any", np.square, "x ** 2 (scalar exponent 2)"),
    OpSpec(
        "pow_scalar",
        (POS,),
        "any",
        lambda x: x**2.5,
        "x ** 2.5 (scalar exponent)",
        tolerances=_LOOSE_TRANSCENDENTAL,
    ),
    OpSpec("reciprocal", (ArgSpec(domain=(0.5, 2.0)),), "any", lambda x: 1.0 / x, "1 / x"),
    OpSpec(
        "clamp",
        (ArgSpec(kinks=(-0.5, 0.5)),),
        "any",
        lambda x: np.clip(x, -0.5, 0.5),
        "clamp(x, -0.5, 0.5)",
        second_order=False,
    ),
    # --- binary elementwise, broadcasting -----------------------------------------
    OpSpec("add", (F, F), "broadcast", np.add, "x + y", second_order=False),
    OpSpec("sub", (F, F), "broadcast", np.subtract, "x - y", second_order=False),
    OpSpec("mul", (F, F), "broadcast", np.multiply, "x * y"),
    OpSpec("div", (F, ArgSpec(domain=(0.5, 2.0))), "broadcast", np.divide, "x / y"),
    OpSpec(
        "pow",
        (ArgSpec(domain=(0.5, 2.0)), F),
        "broadcast",
        np.power,
        "x ** y (tensor exponent), x > 0",
        tolerances=_LOOSE_TRANSCENDENTAL,
    ),
    OpSpec(
        "maximum",
        (F, F),
        "broadcast",
        np.maximum,
        "elementwise max",
        separate=True,
        second_order=False,
    ),
    OpSpec(
        "minimum",
        (F, F),
        "broadcast",
        np.minimum,
        "elementwise min",
        separate=True,
        second_order=False,
    ),
    OpSpec("where", (MASK, F, F), "broadcast", np.where, "where(mask, x, y)", second_order=False),
    # --- linear algebra -----------------------------------------------------------
    OpSpec("matmul", (F, F), "matmul", np.matmul, "(m, k) @ (k, n)"),
    OpSpec("bmm", (F, F), "bmm", np.matmul, "(b, m, k) @ (b, k, n)"),
    OpSpec("mv", (F, F), "mv", np.matmul, "(m, k) @ (k,)"),
    OpSpec(
        "linear",
        (F, F, F),
        "linear",
        lambda x, w, b: x @ w.T + b,
        "x @ weight.T + bias (nn.Linear)",
    ),
    # --- reductions and normalisations --------------------------------------------
    OpSpec(
        "sum",
        (F,),
        "any",
        lambda x: np.asarray(np.sum(x)),
        "sum of all elements",
        second_order=False,
    ),
    OpSpec(
        "mean",
        (F,),
        "nonempty",
        lambda x: np.asarray(np.mean(x)),
        "mean of all elements",
        second_order=False,
    ),
    OpSpec(
        "sum_dim",
        (F,),
        "vector",
        lambda x: np.sum(x, axis=-1),
        "sum over the last dim",
        second_order=False,
    ),
    OpSpec(
        "mean_dim",
        (F,),
        "rows",
        lambda x: np.mean(x, axis=-1),
        "mean over the last dim",
        second_order=False,
    ),
    OpSpec(
        "var_dim",
        (F,),
        "rows2",
        lambda x: np.var(x, axis=-1, ddof=1),
        "unbiased variance over the last dim (correction=1, PyTorch's default)",
    ),
    OpSpec(
        "max_dim",
        (F,),
        "rows",
        lambda x: np.max(x, axis=-1),
        "max over the last dim",
        distinct_last=True,
        second_order=False,
    ),
    OpSpec(
        "min_dim",
        (F,),
        "rows",
        lambda x: np.min(x, axis=-1),
        "min over the last dim",
        distinct_last=True,
        second_order=False,
    ),
    OpSpec(
        "max",
        (F,),
        "nonempty",
        lambda x: np.max(x),
        "max of all elements",
        distinct_all=True,
        second_order=False,
    ),
    OpSpec(
        "logsumexp",
        (LARGE,),
        "rows",
        _logsumexp,
        "log-sum-exp over the last dim",
        tolerances=_LOOSE_TRANSCENDENTAL,
    ),
    OpSpec(
        "softmax",
        (LARGE,),
        "rows",
        lambda x: np.exp(_log_softmax(x)),
        "softmax over the last dim",
        tolerances=_LOOSE_TRANSCENDENTAL,
    ),
    OpSpec(
        "log_softmax",
        (LARGE,),
        "rows",
        _log_softmax,
        "log-softmax over the last dim",
        tolerances=_LOOSE_TRANSCENDENTAL,
    ),
    # --- shape and indexing ---------------------------------------------------------
    OpSpec("transpose", (F,), "matrix", lambda x: x.T, "x.T of a matrix", second_order=False),
    OpSpec(
        "reshape",
        (F,),
        "reshape",
        lambda x, shape: x.reshape(shape),
        "x.reshape(shape): flatten to 1-D, or split and merge axes as models do between "
        "layers (a convolution's output to a linear head, attention heads)",
        second_order=False,
        params={"shape": RESHAPES},
    ),
    OpSpec(
        "expand",
        (F,),
        "any",
        lambda x: np.broadcast_to(x, (3, *x.shape)),
        "broadcast to (3, *x.shape)",
        second_order=False,
    ),
    OpSpec("slice", (F,), "vector", lambda x: x[..., 1:], "x[..., 1:]", second_order=False),
    OpSpec(
        "take",
        (F, INDEX),
        "take",
        lambda x, i: x[i],
        "x[indices] with an int64 index array on dim 0 (repeats accumulate)",
        second_order=False,
    ),
    OpSpec(
        "cat",
        (F, F),
        "cat",
        lambda x, y: np.concatenate([x, y], axis=0),
        "concatenate on dim 0",
        second_order=False,
    ),
    OpSpec(
        "stack",
        (F, F),
        "same",
        lambda x, y: np.stack([x, y], axis=0),
        "stack on dim 0",
        second_order=False,
    ),
    OpSpec(
        "gather",
        (F, INDEX),
        "gather",
        lambda x, i: np.take_along_axis(x, i, axis=1),
        "torch.gather(x, 1, indices)",
        second_order=False,
    ),
    # --- losses (reduction: mean) ------------------------------------------------------
    OpSpec("mse_loss", (F, F), "same", lambda x, y: np.mean((x - y) ** 2), "mean squared error"),
    OpSpec(
        "bce_loss",
        (ArgSpec(domain=(0.05, 0.95), extremes=("near01",)), TARGET01),
        "same",
        _bce,
        "binary cross-entropy on probabilities (logs clamped at -100)",
        tolerances=_LOOSE_TRANSCENDENTAL,
    ),
    OpSpec(
        "bce_with_logits",
        (LARGE, TARGET01),
        "same",
        _bce_logits,
        "binary cross-entropy on logits, numerically stable",
        tolerances=_LOOSE_TRANSCENDENTAL,
    ),
    OpSpec(
        "cross_entropy",
        (LARGE, INDEX),
        "classify",
        lambda z, t: _nll(_log_softmax(z), t),
        "softmax cross-entropy, int64 labels",
        tolerances=_LOOSE_TRANSCENDENTAL,
    ),
    OpSpec(
        "nll_loss",
        (F, INDEX),
        "classify",
        _nll,
        "negative log-likelihood of log-probabilities, int64 labels",
        second_order=False,
    ),
]
