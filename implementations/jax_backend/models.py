"""Plain-JAX forward passes and training of the harness' layered models (cnn, gpt...).

Each layer of :mod:`harness.architectures` is written with ``jax.lax`` and ``jax.nn`` to
PyTorch's definitions (convolution as ``conv_general_dilated`` in NCHW/OIHW, max-pool as
``reduce_window``, BatchNorm with the biased batch variance for normalizing and the unbiased
one for the running statistics, LayerNorm, exact-erf GELU, causal softmax attention with
``-inf`` above the diagonal). flax is not installed here, so no library layer is used; the
parameters are the harness' list in ``state_dict`` order.

Training: one jit-compiled step (loss, gradients, the optax update of
:func:`..train.make_optimizer`, the new BatchNorm running statistics), compiled ahead of time
for each distinct batch size (the last partial mini-batch has its own program) and timed
apart as ``compile_s``; each epoch's time ends with ``block_until_ready``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from harness.architectures import BN_MOMENTUM, NORM_EPS, Layer
from harness.contract import History
from harness.workload import Workload


def _n_params(layer: Layer) -> int:
    return len(layer.param_shapes())


def _norm(x: Any, axes: tuple[int, ...]) -> tuple[Any, Any, Any]:
    import jax.numpy as jnp

    mean = jnp.mean(x, axis=axes, keepdims=True)
    var = jnp.mean((x - mean) ** 2, axis=axes, keepdims=True)
    return (x - mean) / jnp.sqrt(var + NORM_EPS), mean, var


def _block(p: list[Any], x: Any, heads: int) -> Any:
    import jax
    import jax.numpy as jnp
    from jax import lax

    hi = lax.Precision.HIGHEST
    ln1w, ln1b, qkvw, qkvb, projw, projb, ln2w, ln2b, fc1w, fc1b, fc2w, fc2b = p
    b, t, d = x.shape
    hd = d // heads
    h = _norm(x, (-1,))[0] * ln1w + ln1b
    qkv = jnp.matmul(h, qkvw.T, precision=hi) + qkvb
    q, k, v = (a.reshape(b, t, heads, hd).transpose(0, 2, 1, 3) for a in jnp.split(qkv, 3, axis=-1))
    scores = jnp.matmul(q, k.transpose(0, 1, 3, 2), precision=hi) * (1 / math.sqrt(hd))
    causal = jnp.tril(jnp.ones((t, t), dtype=bool))
    scores = jnp.where(causal, scores, -jnp.inf)
    att = jnp.matmul(jax.nn.softmax(scores, axis=-1), v, precision=hi)
    att = att.transpose(0, 2, 1, 3).reshape(b, t, d)
    x = x + jnp.matmul(att, projw.T, precision=hi) + projb
    h = _norm(x, (-1,))[0] * ln2w + ln2b
    h = jax.nn.gelu(jnp.matmul(h, fc1w.T, precision=hi) + fc1b, approximate=False)
    return x + jnp.matmul(h, fc2w.T, precision=hi) + fc2b


def forward(
    layers: tuple[Layer, ...], params: list[Any], stats: list[Any], x: Any, train: bool
) -> tuple[Any, list[Any]]:
    """``(logits, new running statistics)``; ``stats`` is ``[mean, var]`` per BatchNorm."""
    import jax
    import jax.numpy as jnp
    from jax import lax

    hi = lax.Precision.HIGHEST
    new_stats: list[Any] = []
    i = j = 0
    h = x
    for layer in layers:
        p = params[i : i + _n_params(layer)]
        i += len(p)
        a, k = dict(layer.args), layer.kind
        if k == "linear":
            h = jnp.matmul(h, p[0].T, precision=hi) + p[1]
        elif k == "conv2d":
            pad = a["padding"]
            h = lax.conv_general_dilated(
                h,
                p[0],
                (1, 1),
                ((pad, pad), (pad, pad)),
                dimension_numbers=("NCHW", "OIHW", "NCHW"),
                precision=hi,
            )
            h = h + p[1][None, :, None, None]
        elif k == "batchnorm2d":
            mean_r, var_r = stats[j], stats[j + 1]
            j += 2
            if train:
                normed, mean, var = _norm(h, (0, 2, 3))
                n = h.shape[0] * h.shape[2] * h.shape[3]
                unbiased = var.reshape(-1) * (n / (n - 1))
                new_stats += [
                    (1 - BN_MOMENTUM) * mean_r + BN_MOMENTUM * mean.reshape(-1),
                    (1 - BN_MOMENTUM) * var_r + BN_MOMENTUM * unbiased,
                ]
            else:
                shape = (1, -1, 1, 1)
                normed = (h - mean_r.reshape(shape)) / jnp.sqrt(var_r.reshape(shape) + NORM_EPS)
                new_stats += [mean_r, var_r]
            h = normed * p[0][None, :, None, None] + p[1][None, :, None, None]
        elif k == "layernorm":
            h = _norm(h, (-1,))[0] * p[0] + p[1]
        elif k == "relu":
            h = jax.nn.relu(h)
        elif k == "tanh":
            h = jnp.tanh(h)
        elif k == "gelu":
            h = jax.nn.gelu(h, approximate=False)
        elif k == "maxpool2d":
            w = a["kernel"]
            h = lax.reduce_window(h, -jnp.inf, lax.max, (1, 1, w, w), (1, 1, w, w), "VALID")
        elif k == "flatten":
            h = h.reshape(h.shape[0], -1)
        elif k == "unflatten":
            h = h.reshape(h.shape[0], a["c"], a["h"], a["w"])
        elif k == "embed":
            h = p[0][h] + p[1][: h.shape[1]]
        elif k == "block":
            h = _block(p, h, a["heads"])
        else:
            raise ValueError(f"unknown layer kind {k!r}")
    return h, new_stats


def initial_stats(layers: tuple[Layer, ...], dtype: str) -> list[np.ndarray]:
    """BatchNorm running statistics as PyTorch starts them: mean 0, variance 1."""
    out: list[np.ndarray] = []
    for layer in layers:
        if layer.kind == "batchnorm2d":
            c = layer["channels"]
            out += [np.zeros(c, dtype), np.ones(c, dtype)]
    return out


def _loss(logits: Any, y: Any) -> Any:
    import jax
    import jax.numpy as jnp

    logits = logits.reshape(-1, logits.shape[-1])
    logp = jax.nn.log_softmax(logits, axis=-1)
    return -jnp.mean(jnp.take_along_axis(logp, y.reshape(-1)[:, None], axis=1))


def train(workload: Workload, dev: Any, tx: Any, on_epoch: Callable[[int], None] | None) -> History:
    """Train a layered workload on the JAX device ``dev`` with optax transformation ``tx``."""
    import jax
    import jax.numpy as jnp
    import optax

    if workload.model.sizes[-1] == 1:
        raise ValueError("layered models take two or more classes (cross-entropy)")
    layers = workload.model.layers
    ds = workload.dataset

    def step(params: Any, stats: Any, opt_state: Any, x: Any, y: Any, idx: Any) -> Any:
        def loss_fn(p: Any) -> Any:
            logits, new_stats = forward(layers, p, stats, x[idx], True)
            return _loss(logits, y[idx]), new_stats

        (loss, new_stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), new_stats, opt_state, loss

    def evaluate(params: Any, stats: Any, x_tr: Any, y_tr: Any, x_te: Any, y_te: Any) -> Any:
        train_loss = _loss(forward(layers, params, stats, x_tr, False)[0], y_tr)
        logits = forward(layers, params, stats, x_te, False)[0]
        pred = jnp.argmax(logits, -1)
        return train_loss, jnp.mean((pred == y_te).astype(jnp.float64)), _loss(logits, y_te)

    def put(a: Any) -> Any:
        return jax.device_put(a, dev)

    with jax.default_device(dev):
        x_tr, y_tr, x_te, y_te = (put(a) for a in (ds.x_train, ds.y_train, ds.x_test, ds.y_test))
        params = [put(p) for p in workload.init_params]
        stats = [put(s) for s in initial_stats(layers, workload.dtype)]
        opt_state = jax.tree.map(put, tx.init(params))
        batches = [[put(b.astype(np.int32)) for b in epoch] for epoch in workload.batches]
        jax.block_until_ready((x_tr, y_tr, params, stats, opt_state, batches))
        t0 = time.perf_counter()
        compiled: dict[int, Any] = {}
        for epoch in batches:
            for b in epoch:
                if b.shape[0] not in compiled:
                    compiled[b.shape[0]] = (
                        jax.jit(step).lower(params, stats, opt_state, x_tr, y_tr, b).compile()
                    )
        evaluate_c = jax.jit(evaluate).lower(params, stats, x_tr, y_tr, x_te, y_te).compile()
        compile_s = time.perf_counter() - t0

        step_loss, train_loss, test_acc, test_loss, epoch_s = [], [], [], [], []
        for e, epoch in enumerate(batches):
            start = time.perf_counter()
            losses = []
            for b in epoch:
                params, stats, opt_state, loss = compiled[b.shape[0]](
                    params, stats, opt_state, x_tr, y_tr, b
                )
                losses.append(loss)
            jax.block_until_ready((params, stats, opt_state, losses))
            epoch_s.append(time.perf_counter() - start)
            step_loss.append(np.asarray(losses, dtype=np.float64))
            loss_e, acc, loss_te = evaluate_c(params, stats, x_tr, y_tr, x_te, y_te)
            train_loss.append(float(loss_e))
            test_loss.append(float(loss_te))
            test_acc.append(float(acc))
            if on_epoch is not None:
                on_epoch(e)

    return History(
        step_loss=np.concatenate(step_loss),
        epoch_train_loss=np.asarray(train_loss, dtype=np.float64),
        epoch_test_acc=np.asarray(test_acc, dtype=np.float64),
        epoch_test_loss=np.asarray(test_loss, dtype=np.float64),
        final_params=[np.array(p, copy=True) for p in params],
        epoch_s=np.asarray(epoch_s, dtype=np.float64),
        compile_s=compile_s,
        meta={
            "framework": "jax",
            "version": jax.__version__,
            "device_name": dev.device_kind,
            "loop": "step",
            "programs": sorted(compiled),
            "x64": "scoped: jax.enable_x64(True) around the run, global flag untouched",
            "matmul_precision": "highest",
        },
    )
