"""JAX compiled training against PyTorch: per-step parity, optimizer rules, no recompiles."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
from harness.implementations.jax_backend.backend import scope
from harness.implementations.jax_backend.train import make_optimizer, padded_batches, programs
from harness.implementations.jax_backend.train import train as jax_train

from harness import trajectory, workload
from harness.contract import History
from harness.discovery import get_target
from harness.workload import OptimizerSpec

JAX = get_target("jax:cpu").backend


def _torch_history(w: workload.Workload) -> History:
    """The PyTorch reference run of ``w`` on one CPU thread.

    These models are tiny (at most 455 x 64), so PyTorch computes them on one thread anyway;
    pinning one thread only avoids idle OpenMP workers spinning on a shared CI machine.
    """
    torch = pytest.importorskip("torch")
    backend = get_target("torch:cpu").backend
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return backend.train(w, device="cpu")
    finally:
        torch.set_num_threads(threads)


# -- per-step parity with PyTorch over 100 epochs ------------------------------------------


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize("mode", ["batch", "minibatch"])
@pytest.mark.parametrize("model", ["logreg", "mlp"])
def test_breast_cancer_follows_torch_step_by_step(
    model: str, mode: str, optimizer: str, dtype: str, jax_device: str
) -> None:
    w = workload.build("breast_cancer", model, optimizer, mode=mode, dtype=dtype, epochs=100)
    ref = _torch_history(w)
    got = JAX.train(w, device=jax_device)
    verdict = trajectory.compare(ref, got, dtype)
    assert verdict.agrees, verdict.summary()
    assert verdict.steps == w.steps
    assert got.epoch_test_acc[-1] >= 0.95


@pytest.mark.parametrize(
    "spec",
    [
        OptimizerSpec("sgd", 0.05, momentum=0.9, nesterov=True),
        OptimizerSpec("sgd", 0.05, momentum=0.9, weight_decay=0.01),
        OptimizerSpec("sgd", 0.05, momentum=0.9, dampening=0.3),
        OptimizerSpec("sgd", 0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
        OptimizerSpec("adam", 0.01, weight_decay=0.01),
        OptimizerSpec("adam", 0.01, betas=(0.8, 0.99), eps=1e-6),
    ],
    ids=["nesterov", "momentum-wd", "dampening", "nesterov-wd", "adam-wd", "adam-betas-eps"],
)
def test_optimizer_variants_follow_torch_in_training(spec: OptimizerSpec, jax_device: str) -> None:
    base = workload.build("breast_cancer", "mlp:16", "sgd", mode="minibatch", dtype="float64")
    w = dataclasses.replace(base, optimizer=spec, batches=base.batches[:20])
    ref = _torch_history(w)
    verdict = trajectory.compare(ref, JAX.train(w, device=jax_device), "float64")
    assert verdict.agrees, verdict.summary()


def test_parity_check_catches_a_slightly_different_run(jax_device: str) -> None:
    # Guards the parity tests: a learning rate off by one part in 10^6 must fail float64.
    w = workload.build("breast_cancer", "logreg", "momentum", mode="minibatch", dtype="float64")
    w = dataclasses.replace(w, batches=w.batches[:5])
    off = dataclasses.replace(
        w, optimizer=dataclasses.replace(w.optimizer, lr=w.optimizer.lr * (1 + 1e-6))
    )
    verdict = trajectory.compare(_torch_history(w), JAX.train(off, device=jax_device), "float64")
    assert not verdict.agrees
    assert verdict.first_diverging_step is not None and verdict.first_diverging_step > 0


# -- the optimizer rules themselves, update by update ------------------------------------


@pytest.mark.parametrize(
    "spec",
    [
        OptimizerSpec("sgd", 0.1),
        OptimizerSpec("sgd", 0.1, weight_decay=0.05),
        OptimizerSpec("sgd", 0.1, momentum=0.9),
        OptimizerSpec("sgd", 0.1, momentum=0.9, dampening=0.3),
        OptimizerSpec("sgd", 0.1, momentum=0.9, dampening=0.3, weight_decay=0.05),
        OptimizerSpec("sgd", 0.1, momentum=0.9, nesterov=True),
        OptimizerSpec("sgd", 0.1, momentum=0.9, nesterov=True, weight_decay=0.05),
        OptimizerSpec("adam", 0.01),
        OptimizerSpec("adam", 0.01, weight_decay=0.05),
        OptimizerSpec("adam", 0.01, betas=(0.5, 0.9), eps=1e-3),
    ],
    ids=lambda s: "-".join(f"{k}={v}" for k, v in dataclasses.asdict(s).items() if k != "kind"),
)
def _torch_optimizer(spec: OptimizerSpec, params: list) -> object:
    import torch

    if spec.kind == "adam":
        return torch.optim.Adam(
            params, lr=spec.lr, betas=spec.betas, eps=spec.eps, weight_decay=spec.weight_decay
        )
    return torch.optim.SGD(
        params,
        lr=spec.lr,
        momentum=spec.momentum,
        dampening=spec.dampening,
        nesterov=spec.nesterov,
        weight_decay=spec.weight_decay,
    )


def _max_update_mismatch(spec: OptimizerSpec, tx: object, steps: int = 6) -> float:
    """Largest relative parameter difference between ``torch.optim`` (``spec``) and the
    optax transform ``tx`` fed the same parameters and gradients, over ``steps`` updates."""
    torch = pytest.importorskip("torch")
    import jax.numpy as jnp
    import optax

    rng = np.random.default_rng(0)
    params = [rng.standard_normal((3, 4)), rng.standard_normal(4)]
    grads = [[rng.standard_normal(p.shape) for p in params] for _ in range(steps)]
    tparams = [torch.tensor(p, requires_grad=True) for p in params]
    topt = _torch_optimizer(spec, tparams)
    worst = 0.0
    with scope():
        jparams = [jnp.asarray(p) for p in params]
        state = tx.init(jparams)  # type: ignore[attr-defined]
        for g in grads:
            for tp, gk in zip(tparams, g, strict=True):
                tp.grad = torch.tensor(gk)
            topt.step()
            updates, state = tx.update([jnp.asarray(x) for x in g], state, jparams)  # type: ignore[attr-defined]
            jparams = optax.apply_updates(jparams, updates)
            for tp, jp in zip(tparams, jparams, strict=True):
                ref = tp.detach().numpy()
                worst = max(worst, float(np.max(np.abs(np.asarray(jp) - ref) / np.abs(ref))))
    return worst


@pytest.mark.parametrize(
    "spec",
    [
        OptimizerSpec("sgd", 0.1),
        OptimizerSpec("sgd", 0.1, weight_decay=0.05),
        OptimizerSpec("sgd", 0.1, momentum=0.9),
        OptimizerSpec("sgd", 0.1, momentum=0.9, dampening=0.3),
        OptimizerSpec("sgd", 0.1, momentum=0.9, dampening=0.3, weight_decay=0.05),
        OptimizerSpec("sgd", 0.1, momentum=0.9, nesterov=True),
        OptimizerSpec("sgd", 0.1, momentum=0.9, nesterov=True, weight_decay=0.05),
        OptimizerSpec("adam", 0.01),
        OptimizerSpec("adam", 0.01, weight_decay=0.05),
        OptimizerSpec("adam", 0.01, betas=(0.5, 0.9), eps=1e-3),
    ],
    ids=lambda s: "-".join(f"{k}={v}" for k, v in dataclasses.asdict(s).items() if k != "kind"),
)
def test_optax_chain_follows_torch_optim_update_by_update(spec: OptimizerSpec) -> None:
    assert _max_update_mismatch(spec, make_optimizer(spec)) < 1e-12


def test_update_check_catches_optax_defaults_that_differ_from_torch() -> None:
    # Guards the test above: optax's own recipes place weight decay (adamw: decoupled) or
    # damp momentum differently from torch.optim, and the update-by-update check sees it.
    import optax

    adam_wd = OptimizerSpec("adam", 0.01, weight_decay=0.05)
    assert _max_update_mismatch(adam_wd, optax.adamw(0.01, weight_decay=0.05)) > 1e-4
    damped = OptimizerSpec("sgd", 0.1, momentum=0.9, dampening=0.3)
    assert _max_update_mismatch(damped, optax.sgd(0.1, momentum=0.9)) > 1e-4


def test_nesterov_without_momentum_is_rejected_like_torch() -> None:
    with pytest.raises(ValueError, match="Nesterov"):
        make_optimizer(OptimizerSpec("sgd", 0.1, nesterov=True))


# -- the partial mini-batch: padded, masked, compiled once ---------------------------------


def test_padding_and_mask_give_the_real_rows_loss_and_gradient() -> None:
    import jax
    import jax.numpy as jnp

    w = workload.build("breast_cancer", "mlp:8", "sgd", mode="minibatch", dtype="float64")
    idx, mask, count = padded_batches(w, "float64")
    last = w.batches[0][-1]
    assert 0 < len(last) < idx.shape[2]  # 455 rows in batches of 32: a partial batch of 7
    assert mask[0, -1].sum() == len(last) == count[0, -1]
    with scope():
        prog = programs(w, make_optimizer(w.optimizer))
        x, y = jnp.asarray(w.dataset.x_train), jnp.asarray(w.dataset.y_train)
        params = [jnp.asarray(p) for p in w.init_params]
        loss_and_grad = jax.jit(jax.value_and_grad(prog.batch_loss))
        padded = loss_and_grad(
            params, x[idx[0, -1]], y[idx[0, -1]], jnp.asarray(mask[0, -1]), count[0, -1]
        )
        real = loss_and_grad(params, x[last], y[last], jnp.ones(len(last)), float(len(last)))
    np.testing.assert_allclose(padded[0], real[0], rtol=1e-15)
    for a, b in zip(padded[1], real[1], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-14, atol=1e-17)


@contextmanager
def _count_compiles() -> Iterator[list[str]]:
    """Collect one entry per program XLA compiles, or loads from the persistent
    compilation cache the parity plugin turns on (``--compile-cache``: a loaded program
    fires no compile event), while the block runs."""
    import jax.monitoring

    events: list[str] = []

    def compiled(event: str, duration_secs: float, **kwargs: str | int) -> None:
        if event == "/jax/core/compile/backend_compile_duration":
            events.append(event)

    def loaded(event: str, **kwargs: str | int) -> None:
        if event == "/jax/compilation_cache/cache_hits":
            events.append(event)

    jax.monitoring.register_event_duration_secs_listener(compiled)
    jax.monitoring.register_event_listener(loaded)
    try:
        yield events
    finally:
        jax.monitoring.unregister_event_duration_listener(compiled)
        jax.monitoring.unregister_event_listener(loaded)


@pytest.mark.parametrize("loop", ["epochs", "scan", "step"])
def test_partial_batch_never_recompiles(loop: str, jax_device: str) -> None:
    def run(epochs: int) -> int:
        w = workload.build("breast_cancer", "logreg", "adam", mode="minibatch", epochs=epochs)
        with _count_compiles() as events:
            h = jax_train(w, jax_device, loop=loop)
        assert h.step_loss.shape == (w.steps,) and np.isfinite(h.step_loss).all()
        return len(events)

    run(1)  # warm JAX's caches of eager helpers (device_put, optimizer init)
    two, six = run(2), run(6)
    assert two >= 1  # the listener does see compilations: the run's own programs
    assert six == two, f"{six - two} extra compilations for 4 more epochs"


def test_step_loop_and_scan_loop_agree(jax_device: str) -> None:
    w = workload.build(
        "breast_cancer", "mlp:16", "momentum", mode="minibatch", dtype="float64", epochs=5
    )
    scan = jax_train(w, jax_device, loop="scan")
    step = jax_train(w, jax_device, loop="step")
    np.testing.assert_allclose(step.step_loss, scan.step_loss, rtol=1e-12)
    for a, b in zip(step.final_params, scan.final_params, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


def test_unknown_loop_names_the_valid_ones() -> None:
    w = workload.build(epochs=1)
    with pytest.raises(ValueError, match="valid choices: epochs, scan, step"):
        jax_train(w, "cpu", loop="python")


# -- the History itself ----------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_history_is_well_formed(dtype: str, jax_device: str) -> None:
    w = workload.build("digits", "mlp:16", "adam", mode="minibatch", dtype=dtype, epochs=3)
    h = JAX.train(w, device=jax_device)
    assert h.step_loss.shape == (w.steps,) and h.step_loss.dtype == np.float64
    assert h.epoch_train_loss.shape == h.epoch_test_acc.shape == h.epoch_s.shape == (w.epochs,)
    assert np.isfinite(h.step_loss).all() and np.isfinite(h.epoch_train_loss).all()
    assert ((h.epoch_test_acc >= 0) & (h.epoch_test_acc <= 1)).all()
    assert (h.epoch_s > 0).all() and np.isfinite(h.epoch_s).all()
    assert h.compile_s is not None and h.compile_s > 0
    assert h.compile_s == pytest.approx(h.meta["compile_train_s"] + h.meta["compile_eval_s"])
    assert [p.shape for p in h.final_params] == [p.shape for p in w.init_params]
    assert all(p.dtype == np.dtype(dtype) for p in h.final_params)
    assert not all(np.array_equal(a, b) for a, b in zip(h.final_params, w.init_params, strict=True))
    assert h.meta["device"] == jax_device and h.meta["loop"] == "epochs"
    assert h.meta["padded_batch"] == 32
    # The epoch loss is the train-split loss after that epoch: it falls as training goes on.
    assert h.epoch_train_loss[-1] < h.epoch_train_loss[0]
