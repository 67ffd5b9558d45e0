"""``jax:<device>@shard<N>``: data parallelism with ``jax.sharding`` and ``jax.shard_map``.

A one-dimensional ``Mesh`` of ``N`` devices (axis ``dp``) runs one compiled epoch: each
device takes its contiguous shard of every step (:func:`harness.parallel.shard`), padded to
the longest shard with a 0/1 mask (padded rows add exact zeros), computes the sum of its
rows' losses over the *global* batch size and its gradient, and ``lax.psum`` over ``dp``
(the explicit gradient all-reduce, a SUM) gives every device the global mean gradient;
the reported loss is the ``psum`` of the local losses. The parameters and the optimizer
state are *stacked* per device (a leading axis of length ``N`` sharded over ``dp``), so
every device keeps and updates its own copy -- nothing assumes the copies are equal, and
:func:`harness.parallel.find_desync` can compare them.

On the CPU the ``N`` devices are XLA's host-platform devices
(``--xla_force_host_platform_device_count=N``), which XLA reads once, at start-up: the run
therefore happens in a spawned worker process (:class:`harness.workers.WorkerGroup`) whose
``XLA_FLAGS`` carry the flag -- the harness process and the single-device ``jax:cpu``
target are untouched. On GPU the first ``N`` GPUs form the mesh (in the same kind of
worker, so the parent never holds GPU memory for it).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from harness import parallel, workers
from harness.contract import DeviceStatus, History, Unsupported
from harness.workload import Workload

SCHEME = "shard"
_GROUPS: dict[Any, workers.WorkerGroup] = {}


def status(device: str, world_size: int) -> DeviceStatus:
    """Whether an ``N``-device mesh can be built on ``device`` (``cpu`` or ``gpu``)."""
    name = parallel.dp_device(device, SCHEME, world_size)
    if world_size < 1:
        return DeviceStatus(name, False, "the world size must be at least 1")
    if device == "cpu":
        return DeviceStatus(name, True)  # host devices are made on demand in the worker
    if device == "gpu":
        import jax

        try:
            n = len(jax.devices("gpu"))
        except RuntimeError as e:
            return DeviceStatus(name, False, f"jax:gpu is not available: {e}")
        if n < world_size:
            return DeviceStatus(name, False, f"a {world_size}-device mesh needs {n} >= N GPUs")
        return DeviceStatus(name, True)
    return DeviceStatus(name, False, f"unknown jax device {device!r}; valid: cpu, gpu")


def sharded_batches(
    batches: list[list[np.ndarray]], world_size: int, dtype: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``idx (E, S, N, b)`` int32, ``mask (E, S, N, b)`` and ``count (E, S)`` in ``dtype``.

    Device ``r`` of step ``s`` gets :func:`harness.parallel.shard`'s rows, padded with row
    0 (mask 0) to ``b``, the longest shard; ``count`` is the global batch size.
    """
    n_steps = {len(epoch) for epoch in batches}
    if len(n_steps) != 1:
        raise ValueError(f"every epoch must have the same number of steps, got {n_steps}")
    width = max(1, max(-(-len(b) // world_size) for epoch in batches for b in epoch))
    shape = (len(batches), n_steps.pop(), world_size, width)
    idx = np.zeros(shape, dtype=np.int32)
    mask = np.zeros(shape, dtype=dtype)
    count = np.zeros(shape[:2], dtype=dtype)
    for e, epoch in enumerate(batches):
        for s, rows in enumerate(epoch):
            count[e, s] = len(rows)
            for r in range(world_size):
                part = parallel.shard(rows, r, world_size)
                idx[e, s, r, : len(part)] = part
                mask[e, s, r, : len(part)] = 1
    return idx, mask, count


class _Process:
    """The worker's state (nothing: JAX is imported by the first job, after XLA_FLAGS)."""


def _ready(rank: int, world_size: int) -> _Process:
    return _Process()


def _job(
    state: _Process,
    rank: int,
    world_size: int,
    emit: Callable[[Any], None],
    workload: Workload,
    device: str,
    n: int,
) -> dict[str, Any]:
    from harness.implementations.jax_backend.backend import scope

    with scope():
        return _train(workload, device, n, emit)


def _train(workload: Workload, device: str, n: int, emit: Callable[[Any], None]) -> dict[str, Any]:
    import jax
    import jax.numpy as jnp
    import optax
    from harness.implementations.jax_backend.train import make_optimizer, model_fns, programs
    from jax import lax
    from jax.sharding import Mesh, NamedSharding
    from jax.sharding import PartitionSpec as P

    devices = jax.devices(device)
    if len(devices) < n:
        raise RuntimeError(f"{n} {device} devices asked for, {len(devices)} present")
    mesh = Mesh(np.array(devices[:n]), ("dp",))
    forward, row_loss = model_fns(workload)
    tx = make_optimizer(workload.optimizer)
    ds = workload.dataset
    idx, mask, count = sharded_batches(workload.batches, n, workload.dtype)

    def local_epoch(params, opt_state, x, y, idx, mask, count):
        own = jax.tree.map(lambda a: a[0], (params, opt_state))  # this device's copy

        def body(carry, batch):
            p, s = carry
            i, m, c = batch

            def local_loss(q):
                # Sum over this device's real rows, over the GLOBAL batch size.
                return jnp.sum(row_loss(forward(q, x[i[0]]), y[i[0]]) * m[0]) / c

            loss, grads = jax.value_and_grad(local_loss)(p)
            grads = lax.psum(grads, "dp")  # the explicit all-reduce: SUM of the parts
            updates, s = tx.update(grads, s, p)
            p = optax.apply_updates(p, updates)
            sums = jnp.stack([jnp.sum(q.astype(jnp.float64)) for q in p])
            return (p, s), (lax.psum(loss, "dp"), sums)

        (p, s), (losses, sums) = lax.scan(body, own, (idx, mask, count))
        p, s = jax.tree.map(lambda a: a[None], (p, s))
        return p, s, losses, sums[None]

    epoch_fn = jax.jit(
        jax.shard_map(
            local_epoch,
            mesh=mesh,
            in_specs=(P("dp"), P("dp"), P(), P(), P(None, "dp"), P(None, "dp"), P()),
            out_specs=(P("dp"), P("dp"), P(), P("dp")),
        )
    )
    per_device = NamedSharding(mesh, P("dp"))
    replicated = NamedSharding(mesh, P())
    steps_split = NamedSharding(mesh, P(None, "dp"))
    params = [jax.device_put(np.stack([p] * n), per_device) for p in workload.init_params]
    opt_state = jax.device_put(jax.vmap(tx.init)(params), per_device)
    x_tr, y_tr = (jax.device_put(a, replicated) for a in (ds.x_train, ds.y_train))
    inputs = [
        (jax.device_put(idx[e], steps_split), jax.device_put(mask[e], steps_split),
         jax.device_put(count[e], replicated))
        for e in range(len(idx))
    ]  # fmt: skip
    dev0 = devices[0]
    x_ev = [jax.device_put(a, dev0) for a in (ds.x_train, ds.y_train, ds.x_test, ds.y_test)]
    jax.block_until_ready((params, opt_state, x_tr, y_tr, inputs, x_ev))

    t0 = time.perf_counter()
    run = epoch_fn.lower(params, opt_state, x_tr, y_tr, *inputs[0]).compile()
    first = [jax.device_put(np.asarray(p[0]), dev0) for p in params]
    evaluate = jax.jit(programs(workload, tx).evaluate).lower(first, *x_ev).compile()
    compile_s = time.perf_counter() - t0

    out: dict[str, Any] = {"epoch_params": [], "step_loss": [], "checksums": [], "epoch_s": []}
    train_loss, test_acc = [], []
    for e in range(workload.epochs):
        start = time.perf_counter()
        params, opt_state, losses, sums = run(params, opt_state, x_tr, y_tr, *inputs[e])
        jax.block_until_ready((params, opt_state, losses, sums))
        out["epoch_s"].append(time.perf_counter() - start)
        out["step_loss"].append(np.asarray(losses, dtype=np.float64))
        out["checksums"].append(np.asarray(sums).transpose(1, 0, 2))  # (steps, ranks, params)
        stacked = [np.asarray(p) for p in params]
        out["epoch_params"].append([[p[r].copy() for p in stacked] for r in range(n)])
        loss_e, correct = evaluate([jax.device_put(p[0], dev0) for p in stacked], *x_ev)
        train_loss.append(float(loss_e))
        test_acc.append(int(correct) / len(ds.y_test))
        emit(("epoch", e))
    return {
        **out,
        "train_loss": train_loss,
        "test_acc": test_acc,
        "compile_s": compile_s,
        "version": jax.__version__,
        "device_kind": dev0.device_kind,
        "n_devices": len(devices),
    }


def _start(device: str, world_size: int, timeout_s: float) -> workers.WorkerGroup:
    env = {}
    if device == "cpu":
        flags = os.environ.get("XLA_FLAGS", "")
        flags = " ".join(
            f for f in flags.split() if "xla_force_host_platform_device_count" not in f
        )
        env = {
            "XLA_FLAGS": f"{flags} --xla_force_host_platform_device_count={world_size}".strip(),
            "JAX_PLATFORMS": "cpu",
        }
    return workers.WorkerGroup(
        1,
        label=f"jax:{parallel.dp_device(device, SCHEME, world_size)}",
        init=_ready,
        env=env,
        timeout_s=timeout_s,
    )


def train(
    workload: Workload,
    device: str,
    world_size: int,
    *,
    timeout_s: float,
    on_epoch: Callable[[int], None] | None = None,
) -> History:
    """Train ``workload`` data-parallel over an ``N``-device mesh of ``device``."""
    st = status(device, world_size)
    if not st.available:
        raise Unsupported(f"jax:{st.device} is not available: {st.reason}")
    (res,) = workers.run_training(
        _GROUPS,
        (device, world_size),
        lambda: _start(device, world_size, timeout_s),
        _job,
        (workload, device, world_size),
        workload=workload,
        timeout_s=timeout_s,
        on_epoch=on_epoch,
    )
    epochs = res["epoch_params"]
    return History(
        step_loss=np.concatenate(res["step_loss"]),
        epoch_train_loss=np.asarray(res["train_loss"], dtype=np.float64),
        epoch_test_acc=np.asarray(res["test_acc"], dtype=np.float64),
        final_params=epochs[-1][0],
        epoch_s=np.asarray(res["epoch_s"], dtype=np.float64),
        compile_s=res["compile_s"],
        meta={
            "framework": "jax",
            "version": res["version"],
            "device": device,
            "device_name": res["device_kind"],
            "world_size": world_size,
            "data_parallel": "jax.shard_map over a 1-D Mesh, lax.psum of the gradients",
            "split": "contiguous shards padded and masked; loss sum / global batch; psum",
            "xla_host_devices": res["n_devices"] if device == "cpu" else None,
        },
        rank_epoch_params=epochs,
        rank_step_checksums=np.concatenate(res["checksums"]),
    )


def close() -> None:
    """Stop the cached worker processes (tests; the interpreter's exit does it too)."""
    for group in list(_GROUPS.values()):
        group.close()
    _GROUPS.clear()
