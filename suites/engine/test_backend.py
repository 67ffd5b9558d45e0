"""The engine as the harness' ``numpy:cpu`` backend: discovery, capabilities, every catalog
op through the contract, and ``train()`` against the PyTorch backend step by step."""

from __future__ import annotations

import functools
from typing import Any

import hypothesis
import numpy as np
import pytest
from harness.implementations.numpy_backend import NumpyBackend

from harness import catalog, covering, discovery, divergences, oracles, trajectory, workload
from harness.contract import History

NUMPY = NumpyBackend()


def _torch_backend() -> Any:
    pytest.importorskip("torch")
    return discovery.get_target("torch:cpu").backend


def test_discovered_through_the_entry_point() -> None:
    target = discovery.get_target("numpy:cpu")
    assert target.available and isinstance(target.backend, NumpyBackend)
    caps = target.backend.capabilities
    assert caps.dtypes == ("float32", "float64") and caps.training
    assert caps.jvp and caps.second_order and caps.reference_priority == 50
    # Without torch in the pool the engine is the default reference; with it, torch (100).
    assert discovery.default_reference([target]) is target
    with pytest.raises(ValueError, match="valid devices: cpu"):
        NUMPY.asarray(np.zeros(2), "cuda")


def test_every_catalog_op_is_mapped() -> None:
    assert sorted(NUMPY.ops()) == sorted(catalog.CATALOG)


def _case(name: str, seed: int) -> tuple[list[np.ndarray], dict[str, Any]]:
    """The catalog's seeded ordinary example of op ``name`` (float64, default parameters)."""
    case = covering.example(name, "float64", seed)
    return list(case.inputs), dict(case.params)


@pytest.mark.parametrize("name", list(catalog.CATALOG))
def test_catalog_op_through_the_contract(name: str) -> None:
    op = catalog.get(name)
    rng = np.random.default_rng(0)
    xs, params = _case(name, 0)
    fn = functools.partial(NUMPY.ops()[name], **params)
    ref = catalog.reference(name, *xs, **params)
    v = rng.standard_normal(ref.shape)
    value, grads = NUMPY.vjp(fn, xs, v, device="cpu", argnums=op.diff_argnums)
    np.testing.assert_allclose(value, ref, rtol=1e-12, atol=1e-12)
    assert [g.shape for g in grads] == [xs[i].shape for i in op.diff_argnums]
    if not op.diff_argnums:
        return
    # Forward mode agrees with reverse mode: <J u, v> = <u, J^T v>.
    us = [rng.standard_normal(xs[i].shape) for i in op.diff_argnums]
    _, tangent = NUMPY.jvp(fn, xs, us, device="cpu", argnums=op.diff_argnums)
    lhs = float(np.sum(tangent * v))
    rhs = sum(float(np.sum(u * g)) for u, g in zip(us, grads, strict=True))
    assert lhs == pytest.approx(rhs, rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("name", [n for n, o in catalog.CATALOG.items() if o.diff_argnums])
def test_catalog_op_matches_the_torch_backend(name: str) -> None:
    torch_backend = _torch_backend()
    op = catalog.get(name)
    rng = np.random.default_rng(1)
    xs, params = _case(name, 1)
    mine_fn = functools.partial(NUMPY.ops()[name], **params)
    ref_fn = functools.partial(torch_backend.ops()[name], **params)
    v = rng.standard_normal(catalog.reference(name, *xs, **params).shape)
    ws = [rng.standard_normal(xs[i].shape) for i in op.diff_argnums]
    args = (xs, v)
    kw = {"device": "cpu", "argnums": op.diff_argnums}
    _, mine = NUMPY.vjp(mine_fn, *args, **kw)
    _, ref = torch_backend.vjp(ref_fn, *args, **kw)
    for g, r in zip(mine, ref, strict=True):
        np.testing.assert_allclose(g, r, rtol=1e-10, atol=1e-12)
    torch_target = discovery.get_target("torch:cpu")
    declared = divergences.load([torch_target]).match(
        torch_target.backend_name, torch_target.name, name, "second_order", "float64"
    )
    # Where torch itself declares no second order (its fused attention kernel), the engine's
    # is left to the parity suite's finite-difference oracle.
    if op.second_order and declared is None:
        mine2 = NUMPY.vjp_vjp(mine_fn, xs, v, ws, **kw)
        ref2 = torch_backend.vjp_vjp(ref_fn, xs, v, ws, **kw)
        for g, r in zip(mine2, ref2, strict=True):
            np.testing.assert_allclose(g, r, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("oracle", list(oracles.ORACLES))
def test_harness_oracles_accept_the_engine(oracle: str) -> None:
    # A few Hypothesis examples per oracle on ops with broadcasting, reductions and a loss
    # (the full catalog sweep over every target belongs to the shared op suites).
    target = discovery.get_target("numpy:cpu")
    settings = hypothesis.settings(
        max_examples=5, deadline=None, database=None, derandomize=True, print_blob=True
    )
    ops = [o for o in ("mul", "log_softmax", "cross_entropy") if o in oracles.ops_for(oracle)]
    if oracle == "vjp_reference":
        reference = discovery.get_target("torch:cpu") if _has_torch() else None
        if reference is None or not reference.available:
            pytest.skip("vjp_reference needs another backend (torch) as the reference")
    else:
        reference = target
    for op in ops:
        for dtype in ("float64", "float32"):
            obs = oracles.check_op(
                oracle, target, op, dtype, reference=reference, settings=settings
            )
            assert obs.examples > 0 and obs.worst.passed


def _has_torch() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


TRAIN_CASES = [
    # dataset, model, optimizer, mode, epochs, extra
    ("breast_cancer", "logreg", "sgd", "batch", 100, {}),
    ("breast_cancer", "logreg", "sgd", "minibatch", 100, {}),
    ("breast_cancer", "logreg", "momentum", "minibatch", 30, {"weight_decay": 1e-3}),
    ("breast_cancer", "mlp:16,8", "nesterov", "minibatch", 20, {"activation": "tanh"}),
    # 100 epochs: float32 Adam reaches tiny gradients, where an inaccurate fused loss VJP
    # once drifted (caught here at step 994).
    ("breast_cancer", "mlp:16", "adam", "minibatch", 100, {}),
    ("digits", "mlp:32", "adam", "minibatch", 5, {}),
    ("digits", "logreg", "sgd", "batch", 30, {}),
]


def _train_id(case: tuple) -> str:
    return "-".join(str(c) for c in case[:5])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", TRAIN_CASES, ids=[_train_id(c) for c in TRAIN_CASES])
def test_training_follows_the_torch_backend(case: tuple, dtype: str) -> None:
    torch_backend = _torch_backend()
    dataset, model, opt, mode, epochs, extra = case
    w = workload.build(dataset, model, opt, mode=mode, epochs=epochs, dtype=dtype, **extra)
    ref = torch_backend.train(w, device="cpu")
    got = NUMPY.train(w, device="cpu")
    verdict = trajectory.compare(ref, got, dtype)
    assert verdict.agrees, verdict.summary()
    if dtype == "float64":
        assert verdict.max_rel_diff <= 1e-9
        assert max(verdict.param_drift.values()) <= 1e-9
        np.testing.assert_allclose(got.epoch_train_loss, ref.epoch_train_loss, rtol=1e-9)
        np.testing.assert_array_equal(got.epoch_test_acc, ref.epoch_test_acc)


def test_history_shape_and_accuracy() -> None:
    w = workload.build("breast_cancer", "logreg", "sgd", mode="minibatch", epochs=100)
    h: History = NUMPY.train(w, device="cpu")
    assert h.step_loss.shape == (w.steps,) and h.step_loss.dtype == np.float64
    assert h.epoch_train_loss.shape == h.epoch_test_acc.shape == h.epoch_s.shape == (100,)
    assert h.epoch_test_acc[-1] >= 0.95 and h.compile_s is None
    assert (h.epoch_s > 0).all() and h.steady_epoch_s > 0
    assert [p.shape for p in h.final_params] == [p.shape for p in w.init_params]
    assert h.meta["framework"] == "numpy_autograd" and h.meta["device"] == "cpu"
    x, y = w.dataset.x_train[w.batches[0][0]], w.dataset.y_train[w.batches[0][0]]
    z = x.astype(np.float64) @ w.init_params[0].T[:, 0] + w.init_params[1][0]
    first = np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z))))
    assert h.step_loss[0] == pytest.approx(first, rel=1e-5)
    again = NUMPY.train(w, device="cpu")
    np.testing.assert_array_equal(again.step_loss, h.step_loss)


def test_trajectory_comparison_catches_a_wrong_gradient(monkeypatch: pytest.MonkeyPatch) -> None:
    # Guards the training comparison: a BCE gradient 1% too large must be flagged.
    from harness.implementations.numpy_autograd import vjps

    right = vjps.VJPS["bce_with_logits"]

    def wrong(g: Any, node: Any, xp: Any) -> tuple[Any, ...]:
        gz, gy = right(g, node, xp)
        return (gz * 1.01, gy)

    w = workload.build("breast_cancer", "logreg", "sgd", mode="batch", epochs=10, dtype="float64")
    good = NUMPY.train(w, device="cpu")
    monkeypatch.setitem(vjps.VJPS, "bce_with_logits", wrong)
    bad = NUMPY.train(w, device="cpu")
    verdict = trajectory.compare(good, bad, "float64")
    assert not verdict.agrees and verdict.first_diverging_step == 1
