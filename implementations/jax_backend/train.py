"""Compiled training: many epochs with their evaluation as one program, an epoch as one
``lax.scan``, or a jit-compiled step.

The model is the workload's stack of linear layers (``h @ W.T + b``, PyTorch's layout), the
loss PyTorch's ``BCEWithLogitsLoss`` / ``CrossEntropyLoss`` with ``reduction="mean"``, the
optimizer :func:`make_optimizer` (optax following ``torch.optim``, below).

Batches of different sizes (the last, partial mini-batch) are padded to the largest batch
with row 0 and a 0/1 mask: the batch loss is ``sum(mask * row_loss) / n_real``, so padded
rows add exact zeros to the loss and to every gradient, and the mean divides by the real
row count, exactly PyTorch's mean over the real rows. Every step then has one shape, so the
epoch function is compiled once for the whole run and never again for the partial batch.
Both are decided at trace time from the batch order: when every batch has one size the
program is the plain mean with no mask, and a full batch in row order skips the row gather.

Compilation is explicit and ahead of time: ``jax.jit(f).lower(*args).compile()`` for the
epoch (or step) function and for the per-epoch evaluation, timed together as
:attr:`History.compile_s`; the compiled executables are then called directly (they cannot
retrace, so a shape change would raise rather than silently recompile). Each epoch's time
ends with ``jax.block_until_ready`` on the new parameters, optimizer state and losses.

The default loop, ``epochs``, compiles a run of epochs *with their evaluation* into one
program (:func:`epochs_program`: a ``lax.fori_loop`` over epochs whose trip count is an
argument, so one compilation serves every chunk): a tiny full-batch epoch otherwise costs
more in dispatch (one call to train, one to evaluate, two host reads) than in arithmetic.
Epoch 0 runs alone (its time carries the warm-up, as every backend's first epoch does);
the remaining epochs run in chunks sized from the previous chunk's time to last about
:data:`CHUNK_S` each, at most :data:`MAX_CHUNK` epochs. What that changes, and only that:

* ``History.epoch_s``: every epoch of a chunk gets the chunk's wall time divided evenly, and
  that time *includes* the per-epoch evaluation (one program cannot time its parts), so it
  overstates the training time by the evaluation's cost; ``meta["epoch_s"]`` says so and
  ``meta["chunks"]`` lists the chunk sizes.
* ``on_epoch(e)`` is called for every epoch, in order, once the chunk holding it has
  finished and been read back: progress advances (and Ctrl-C is honoured) per chunk.

The compilation (``History.compile_s``) is the one program's, its evaluation included
(``meta["compile_eval_s"]`` is 0). Every number is computed by the same functions as in
the ``scan`` loop (an epoch, then the evaluation of its parameters), in the same order;
``suites/jax/test_jax_epochs.py`` compares the two loops value by value: equal bit for bit
in float64 and in mini-batch; in float32 full batch a weight gradient differs by an ulp or
two in some epochs (the same HLO dot, its buffers placed differently by the two programs).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
from harness.implementations.jax_backend.backend import jax_device, scope

from harness.contract import History
from harness.workload import OptimizerSpec, Workload

LOOPS = ("epochs", "scan", "step")
"""``epochs``: one compiled call per chunk of epochs, evaluation included; ``scan``: one
compiled call per epoch (and one per evaluation); ``step``: one per optimizer step."""

CHUNK_S = 0.25
"""Wall seconds one chunk of the ``epochs`` loop aims at: progress and Ctrl-C wait no longer."""

MAX_CHUNK = 1024
"""Most epochs in one chunk (the size of the program's per-epoch output buffers)."""


def padded_batches(workload: Workload, dtype: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The batch order as fixed-shape arrays: indices, mask and real row counts.

    Returns ``idx (epochs, steps, B)`` int32 (padding rows point at row 0),
    ``mask (epochs, steps, B)`` in ``dtype`` (1 real, 0 padding) and
    ``count (epochs, steps)`` in ``dtype``, ``B`` being the largest batch.
    """
    steps = {len(b) for b in workload.batches}
    if len(steps) != 1:
        raise ValueError(f"every epoch must have the same number of steps, got {sorted(steps)}")
    width = max(len(b) for epoch in workload.batches for b in epoch)
    n_epochs, n_steps = workload.epochs, steps.pop()
    idx = np.zeros((n_epochs, n_steps, width), dtype=np.int32)
    mask = np.zeros((n_epochs, n_steps, width), dtype=dtype)
    count = np.zeros((n_epochs, n_steps), dtype=dtype)
    for e, epoch in enumerate(workload.batches):
        for s, rows in enumerate(epoch):
            idx[e, s, : len(rows)] = rows
            mask[e, s, : len(rows)] = 1
            count[e, s] = len(rows)
    return idx, mask, count


def batch_layout(workload: Workload) -> tuple[bool, bool]:
    """``(in_order, padded)``: every batch is all training rows in order (full batch);
    some batch is shorter than the largest (so batches are padded and masked)."""
    n = len(workload.dataset.x_train)
    rows = np.arange(n)
    sizes = {len(b) for epoch in workload.batches for b in epoch}
    in_order = sizes == {n} and all(
        np.array_equal(b, rows) for epoch in workload.batches for b in epoch
    )
    return in_order, len(sizes) > 1


def model_fns(workload: Workload) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """``forward(params, x) -> logits`` and ``row_loss(logits, y) -> per-row loss``."""
    import jax
    import jax.numpy as jnp
    from harness.implementations.jax_backend.ops import bce_with_logits_rows

    act = {"relu": jax.nn.relu, "tanh": jnp.tanh}[workload.model.activation]
    n_layers = workload.model.n_layers
    binary = workload.model.sizes[-1] == 1

    def forward(params: list[Any], x: Any) -> Any:
        h = x
        for k in range(n_layers):
            h = h @ params[2 * k].T + params[2 * k + 1]
            if k < n_layers - 1:
                h = act(h)
        return h

    def row_loss(logits: Any, y: Any) -> Any:
        if binary:
            return bce_with_logits_rows(logits[:, 0], y)
        logp = jax.nn.log_softmax(logits, axis=-1)
        return -jnp.take_along_axis(logp, y[:, None], axis=1)[:, 0]

    return forward, row_loss


class Programs(NamedTuple):
    """The pure functions one run compiles (all arguments are arrays or pytrees of them)."""

    batch_loss: Callable[..., Any]
    """``(params, xb, yb, mask, count) -> sum(mask * row_loss) / count``."""
    step: Callable[..., Any]
    """``(params, opt_state, x, y, idx, mask, count) -> (params, opt_state, loss)``."""
    epoch: Callable[..., Any]
    """``step`` scanned over ``(idx, mask, count)`` stacked per step: one epoch."""
    evaluate: Callable[..., Any]
    """``(params, x_train, y_train, x_test, y_test) -> (train loss, correct test count)``."""


def programs(workload: Workload, tx: Any) -> Programs:
    """The loss, step, epoch and evaluation functions of ``workload`` with optimizer ``tx``."""
    import jax
    import jax.numpy as jnp
    import optax
    from jax import lax

    forward, row_loss = model_fns(workload)
    binary = workload.model.sizes[-1] == 1
    in_order, padded = batch_layout(workload)

    def batch_loss(params: list[Any], xb: Any, yb: Any, mask: Any, count: Any) -> Any:
        # Padded rows are multiplied by an exact 0; the mean divides by the real row count.
        return jnp.sum(row_loss(forward(params, xb), yb) * mask) / count

    def plain_loss(params: list[Any], xb: Any, yb: Any, mask: Any, count: Any) -> Any:
        return jnp.mean(row_loss(forward(params, xb), yb))

    # Decided once, at trace time, from the batch order: a full batch in row order needs no
    # gather, and batches all of one size need no mask (the unused inputs are pruned by jit).
    loss_fn = batch_loss if padded else plain_loss

    def step(params: list[Any], opt_state: Any, x: Any, y: Any, idx: Any, mask: Any, count: Any):
        xb, yb = (x, y) if in_order else (x[idx], y[idx])
        loss, grads = jax.value_and_grad(loss_fn)(params, xb, yb, mask, count)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    def epoch(params: list[Any], opt_state: Any, x: Any, y: Any, idx: Any, mask: Any, count: Any):
        def body(carry: Any, batch: Any) -> Any:
            (p, s), (idx_b, mask_b, count_b) = carry, batch
            p, s, loss = step(p, s, x, y, idx_b, mask_b, count_b)
            return (p, s), loss

        (params, opt_state), losses = lax.scan(body, (params, opt_state), (idx, mask, count))
        return params, opt_state, losses

    def evaluate(params: list[Any], x_tr: Any, y_tr: Any, x_te: Any, y_te: Any):
        train_loss = jnp.mean(row_loss(forward(params, x_tr), y_tr))
        logits = forward(params, x_te)
        pred = (logits[:, 0] > 0).astype(y_te.dtype) if binary else jnp.argmax(logits, -1)
        return train_loss, jnp.sum(pred == y_te)

    return Programs(batch_loss, step, epoch, evaluate)


def epochs_program(prog: Programs, chunk: int) -> Callable[..., Any]:
    """``prog.epoch``, each followed by ``prog.evaluate``, for ``n`` epochs from epoch
    ``start``, as one function (a ``lax.fori_loop`` with a traced trip count ``n`` <= ``chunk``).

    ``(params, opt_state, x, y, x_te, y_te, idx, mask, count, start, n) -> (params,
    opt_state, step losses (chunk, steps), train losses (chunk,), correct counts (chunk,))``
    where ``idx, mask, count`` hold every epoch (:func:`padded_batches`) and rows ``n:`` of
    the outputs are zeros.

    Iteration ``i`` evaluates its incoming parameters (the result of epoch ``start + i - 1``)
    and then trains epoch ``start + i`` from them; the chunk's last parameters are evaluated
    after the loop. Each evaluation is still of the parameters after its epoch, but with a
    full batch in row order the evaluation and the epoch's step now begin with the same
    forward pass over the training split, in one iteration, and XLA computes it once (CSE).
    Iteration 0's evaluation (of the chunk's incoming parameters) is discarded.
    """
    import jax
    import jax.numpy as jnp
    from jax import lax

    def run(
        params: Any,
        opt_state: Any,
        x: Any,
        y: Any,
        x_te: Any,
        y_te: Any,
        idx: Any,
        mask: Any,
        count: Any,
        start: Any,
        n: Any,
    ) -> Any:
        def evaluate(p: Any) -> Any:
            return prog.evaluate(p, x, y, x_te, y_te)

        def epoch(p: Any, s: Any, e: Any) -> Any:
            return prog.epoch(p, s, x, y, idx[e], mask[e], count[e])

        losses_t = jax.eval_shape(epoch, params, opt_state, 0)[2]
        evals_t = jax.eval_shape(evaluate, params)
        losses = jnp.zeros((chunk, *losses_t.shape), losses_t.dtype)
        evals = [jnp.zeros((chunk + 1, *t.shape), t.dtype) for t in evals_t]

        def body(i: Any, carry: Any) -> Any:
            p, s, losses, evals = carry
            before = evaluate(p)
            p, s, loss = epoch(p, s, start + i)
            evals = [b.at[i].set(v) for b, v in zip(evals, before, strict=True)]
            return p, s, losses.at[i].set(loss), evals

        params, opt_state, losses, evals = lax.fori_loop(
            0, n, body, (params, opt_state, losses, evals)
        )
        evals = [b.at[n].set(v) for b, v in zip(evals, evaluate(params), strict=True)]
        return (params, opt_state, losses, *(b[1:] for b in evals))

    return run


def train(
    workload: Workload,
    device: str,
    *,
    loop: str = "epochs",
    on_epoch: Callable[[int], None] | None = None,
    max_chunk: int = MAX_CHUNK,
) -> History:
    """Train ``workload`` on ``jax:<device>``; ``loop`` is ``epochs`` (default), ``scan`` or
    ``step`` (:data:`LOOPS`); ``max_chunk`` caps the epochs of one ``epochs`` call."""
    if loop not in LOOPS:
        raise ValueError(f"unknown loop {loop!r}; valid choices: {', '.join(LOOPS)}")
    if max_chunk < 1:
        raise ValueError(f"max_chunk must be a positive number of epochs, got {max_chunk}")
    with scope():
        return _train(workload, device, loop, on_epoch, max_chunk)


# -- the optimizer: optax made to follow torch.optim's update rules exactly ------------
# optax optimizers made to follow ``torch.optim``'s update rules exactly.
#
# PyTorch's rules (``torch/optim/sgd.py``, ``torch/optim/adam.py``, single-tensor path):
#
# * SGD: ``g += wd * p``; with momentum ``mu``: ``b = g`` on the first step, then
#   ``b = mu * b + (1 - dampening) * g``; the step direction is ``g + mu * b`` (nesterov) or
#   ``b``; ``p -= lr * direction``.
# * Adam: ``g += wd * p`` (L2 on the gradient, not decoupled AdamW); ``m = b1 m + (1-b1) g``,
#   ``v = b2 v + (1-b2) g^2``; ``p -= lr * m_hat / (sqrt(v_hat) + eps)`` with the bias-corrected
#   ``m_hat = m / (1 - b1^t)``, ``v_hat = v / (1 - b2^t)``: eps added after the square root.
#
# How optax is made to match, transform by transform:
#
# * weight decay: ``optax.add_decayed_weights(wd)`` placed *first* in the chain adds ``wd * p``
#   to the raw gradient, before momentum or Adam's moments, as PyTorch does. (``optax.adamw``
#   and ``optax.sgd``'s chains would apply it elsewhere; they are not used.)
# * momentum without dampening: ``optax.trace(mu, nesterov)`` computes ``t = g + mu * t`` from
#   ``t = 0``, so its first step gives ``t = g`` exactly like PyTorch's ``b = g``, and its
#   nesterov form ``g + mu * t`` is PyTorch's. With ``dampening != 0`` optax has no equivalent
#   (``trace`` cannot damp, and PyTorch does not damp the first step), so
#   :func:`torch_momentum` implements PyTorch's rule as an optax transform.
# * Adam: ``optax.scale_by_adam(b1, b2, eps, eps_root=0)`` computes
#   ``m_hat / (sqrt(v_hat) + eps)``, which is PyTorch's formula: eps after the square root of
#   the bias-corrected ``v`` (``eps_root`` = 0 keeps nothing inside the root).
# * the step: ``optax.scale(-lr)`` then ``optax.apply_updates`` gives ``p + (-lr * d)``,
#   which equals PyTorch's ``p - lr * d`` (negation is exact).
#
# The remaining differences are rounding only (PyTorch's ``lerp`` for ``m``, its
# ``lr / bc1`` folded into one scalar, fused multiply-adds in its CPU kernels).


class TorchMomentumState(NamedTuple):
    """The momentum buffer and the number of steps taken."""

    buf: Any
    count: Any


def torch_momentum(momentum: float, dampening: float, nesterov: bool) -> Any:
    """PyTorch's SGD momentum (with dampening) as an ``optax.GradientTransformation``.

    First step: ``b = g`` (undamped); later: ``b = mu * b + (1 - dampening) * g``. The
    direction is ``g + mu * b`` with nesterov, else ``b``.
    """
    import jax
    import jax.numpy as jnp
    import optax

    def init(params: Any) -> TorchMomentumState:
        return TorchMomentumState(jax.tree.map(jnp.zeros_like, params), jnp.zeros([], jnp.int32))

    def update(updates: Any, state: TorchMomentumState, params: Any = None) -> Any:
        del params
        first = state.count == 0
        buf = jax.tree.map(
            lambda g, b: jnp.where(first, g, momentum * b + (1 - dampening) * g),
            updates,
            state.buf,
        )
        out = jax.tree.map(lambda g, b: g + momentum * b, updates, buf) if nesterov else buf
        return out, TorchMomentumState(buf, state.count + 1)

    return optax.GradientTransformation(init, update)


def make_optimizer(spec: OptimizerSpec) -> Any:
    """An ``optax.GradientTransformation`` following ``torch.optim`` for ``spec``."""
    import optax

    chain = []
    if spec.weight_decay and spec.kind != "adamw":  # L2 on the raw gradient
        chain.append(optax.add_decayed_weights(spec.weight_decay))
    if spec.kind in ("adam", "adamw"):
        chain.append(optax.scale_by_adam(b1=spec.betas[0], b2=spec.betas[1], eps=spec.eps))
        if spec.kind == "adamw" and spec.weight_decay:
            # -lr * (adam + wd * p) = torch.optim.AdamW's p * (1 - lr * wd) - lr * adam
            chain.append(optax.add_decayed_weights(spec.weight_decay))
    elif spec.kind == "sgd":
        if spec.nesterov and (spec.momentum <= 0 or spec.dampening != 0):
            # PyTorch raises the same error for this combination.
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        if spec.momentum and spec.dampening:
            chain.append(torch_momentum(spec.momentum, spec.dampening, spec.nesterov))
        elif spec.momentum:
            chain.append(optax.trace(decay=spec.momentum, nesterov=spec.nesterov))
    else:
        raise ValueError(f"unknown optimizer kind {spec.kind!r}; valid choices: sgd, adam, adamw")
    chain.append(optax.scale(-spec.lr))
    return optax.chain(*chain)


def optimizer_step(
    spec: OptimizerSpec,
    params: list[np.ndarray],
    grads: list[np.ndarray],
    state: Any,
    device: str,
) -> tuple[list[np.ndarray], Any]:
    """One step of :func:`make_optimizer`'s optax chain (the one :func:`train` compiles).

    The state is ``(transformation, optax state)``; the update runs eagerly (uncompiled:
    the same arithmetic, one step at a time) inside the backend's float64 scope.
    """
    import jax
    import optax

    with scope():
        dev = jax_device(device)
        if state is None:
            tx = make_optimizer(spec)
            state = (tx, tx.init([jax.device_put(p, dev) for p in params]))
        tx, opt_state = state
        ps = [jax.device_put(p, dev) for p in params]
        gs = [jax.device_put(g, dev) for g in grads]
        updates, opt_state = tx.update(gs, opt_state, ps)
        new = optax.apply_updates(ps, updates)
        return [np.array(p, copy=True) for p in new], (tx, opt_state)


def _train(
    workload: Workload,
    device: str,
    loop: str,
    on_epoch: Callable[[int], None] | None,
    max_chunk: int,
) -> History:
    import jax

    dev = jax_device(device)
    ds = workload.dataset
    tx = make_optimizer(workload.optimizer)
    if not workload.model.is_linear_stack:  # cnn, gpt...: plain-JAX layers, one step a call
        from harness.implementations.jax_backend import models

        history = models.train(workload, dev, tx, on_epoch)
        history.meta["device"] = device
        return history
    prog = programs(workload, tx)

    def put(a: Any) -> Any:
        return jax.device_put(a, dev)

    with jax.default_device(dev):
        x_tr, y_tr = put(ds.x_train), put(ds.y_train)
        x_te, y_te = put(ds.x_test), put(ds.y_test)
        params = [put(p) for p in workload.init_params]
        opt_state = jax.tree.map(put, tx.init(params))
        idx, mask, count = padded_batches(workload, workload.dtype)
        # Every batch is on the device before the clock starts: epochs time training only.
        # "epochs": every epoch's (idx, mask, count) stacked; "scan": one triple per epoch;
        # "step": per epoch, a list of them, one per step.
        inputs: Any
        if loop == "epochs":
            inputs = (put(idx), put(mask), put(count))
        elif loop == "scan":
            inputs = [(put(idx[e]), put(mask[e]), put(count[e])) for e in range(len(idx))]
        else:
            inputs = [
                [(put(idx[e, s]), put(mask[e, s]), put(count[e, s])) for s in range(idx.shape[1])]
                for e in range(len(idx))
            ]
        jax.block_until_ready((x_tr, y_tr, x_te, y_te, params, opt_state, inputs))

        step_loss: list[np.ndarray] = []
        train_loss: list[float] = []
        test_acc: list[float] = []
        epoch_s: list[float] = []
        meta: dict[str, Any] = {}
        if loop == "epochs":
            t0 = time.perf_counter()
            chunk = max(1, min(max_chunk, workload.epochs - 1))
            run = (
                jax.jit(epochs_program(prog, chunk))
                .lower(params, opt_state, x_tr, y_tr, x_te, y_te, *inputs, 0, 1)
                .compile()
            )
            t1 = t2 = time.perf_counter()  # the evaluation is compiled into the program
            sizes: list[int] = []
            e = 0
            while e < workload.epochs:
                # Epoch 0 alone (it carries the warm-up); then chunks of about CHUNK_S.
                n = 1 if e == 0 else min(chunk, workload.epochs - e, _chunk_size(epoch_s))
                start = time.perf_counter()
                params, opt_state, *outs = run(
                    params, opt_state, x_tr, y_tr, x_te, y_te, *inputs, e, n
                )
                jax.block_until_ready((params, opt_state, outs))
                epoch_s.extend([(time.perf_counter() - start) / n] * n)
                chunk_loss, tl, correct = (np.asarray(o)[:n] for o in outs)
                step_loss.extend(np.asarray(chunk_loss, dtype=np.float64))
                train_loss.extend(float(v) for v in tl)
                test_acc.extend(int(c) / len(ds.y_test) for c in correct)
                sizes.append(n)
                for k in range(e, e + n):
                    if on_epoch is not None:
                        on_epoch(k)
                e += n
            meta["chunks"] = sizes
            meta["epoch_s"] = (
                "each chunk's wall time divided evenly over its epochs, evaluation included"
            )
        else:
            t0 = time.perf_counter()
            fn = prog.epoch if loop == "scan" else prog.step
            example = inputs[0] if loop == "scan" else inputs[0][0]
            run = jax.jit(fn).lower(params, opt_state, x_tr, y_tr, *example).compile()
            t1 = time.perf_counter()
            evaluate_c = jax.jit(prog.evaluate).lower(params, x_tr, y_tr, x_te, y_te).compile()
            t2 = time.perf_counter()
            for e in range(workload.epochs):
                start = time.perf_counter()
                if loop == "scan":
                    params, opt_state, losses = run(params, opt_state, x_tr, y_tr, *inputs[e])
                else:
                    per_step = []
                    for batch in inputs[e]:
                        params, opt_state, loss = run(params, opt_state, x_tr, y_tr, *batch)
                        per_step.append(loss)
                    losses = per_step
                jax.block_until_ready((params, opt_state, losses))
                epoch_s.append(time.perf_counter() - start)
                step_loss.append(np.asarray(losses, dtype=np.float64).reshape(-1))
                loss_e, correct = evaluate_c(params, x_tr, y_tr, x_te, y_te)
                train_loss.append(float(loss_e))
                test_acc.append(int(correct) / len(ds.y_test))
                if on_epoch is not None:
                    on_epoch(e)
            meta["epoch_s"] = "each epoch's training steps, evaluation excluded"

    return History(
        step_loss=np.concatenate(step_loss),
        epoch_train_loss=np.asarray(train_loss, dtype=np.float64),
        epoch_test_acc=np.asarray(test_acc, dtype=np.float64),
        final_params=[np.array(p, copy=True) for p in params],
        epoch_s=np.asarray(epoch_s, dtype=np.float64),
        compile_s=t2 - t0,
        meta={
            "framework": "jax",
            "version": jax.__version__,
            "device": device,
            "device_name": dev.device_kind,
            "loop": loop,
            "padded_batch": int(idx.shape[2]),
            "in_order": batch_layout(workload)[0],
            "masked": batch_layout(workload)[1],
            "compile_train_s": t1 - t0,
            "compile_eval_s": t2 - t1,
            **meta,
            "x64": "scoped: jax.enable_x64(True) around the run, global flag untouched",
            "matmul_precision": "highest",
        },
    )


def _chunk_size(epoch_s: list[float]) -> int:
    """Epochs for the next chunk: :data:`CHUNK_S` at the last measured seconds per epoch."""
    return max(1, int(CHUNK_S / max(epoch_s[-1], 1e-9)))
