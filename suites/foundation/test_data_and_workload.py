"""Datasets, seeded initial parameters and batch order, and the trajectory verdict."""

from __future__ import annotations

import numpy as np
import pytest

from harness import data, trajectory, workload
from harness.contract import History


def test_breast_cancer_split_is_stratified_and_standardized_on_train_rows() -> None:
    ds = data.load("breast_cancer", seed=0)
    assert ds.x_train.shape == (455, 30) and ds.x_test.shape == (114, 30)
    assert ds.n_classes == 2 and ds.y_train.dtype == np.float64
    np.testing.assert_allclose(ds.x_train.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(ds.x_train.std(axis=0), 1, atol=1e-12)
    assert abs(ds.x_test.mean()) > 1e-6  # the test rows were not used for the scaling
    assert abs(ds.y_train.mean() - ds.y_test.mean()) < 0.01  # stratified


def test_digits_and_synthetic() -> None:
    dg = data.load("digits", dtype="float32")
    assert dg.n_classes == 10 and dg.y_train.dtype == np.int64 and dg.x_train.dtype == np.float32
    assert np.isfinite(dg.x_train).all()  # constant pixels did not divide by zero
    syn = data.load("synthetic:1000x7", seed=3)
    assert syn.x_train.shape == (800, 7) and syn.n_classes == 2
    np.testing.assert_array_equal(syn.x_train, data.load("synthetic:1000x7", seed=3).x_train)
    assert not np.array_equal(syn.x_train, data.load("synthetic:1000x7", seed=4).x_train)


@pytest.mark.parametrize("bad", ["mnist", "synthetic:5x2", "synthetic:100", ""])
def test_unknown_dataset_names_valid_choices(bad: str) -> None:
    with pytest.raises(ValueError, match="valid choices: breast_cancer, digits"):
        data.validate_name(bad)


def test_initial_parameters_follow_torch_linear_bounds_and_seed() -> None:
    p = workload.init_params((30, 16, 1), seed=0, dtype="float64")
    assert [a.shape for a in p] == [(16, 30), (16,), (1, 16), (1,)]
    assert np.abs(p[0]).max() <= 1 / np.sqrt(30) and np.abs(p[2]).max() <= 1 / np.sqrt(16)
    assert np.abs(p[0]).max() > 0.9 / np.sqrt(30)  # uses the whole range
    again = workload.init_params((30, 16, 1), seed=0, dtype="float32")
    np.testing.assert_array_equal(again[0], p[0].astype(np.float32))
    assert not np.array_equal(workload.init_params((30, 16, 1), 1, "float64")[0], p[0])


def test_batch_order_full_and_mini() -> None:
    full = workload.batch_order(455, "batch", epochs=3, seed=0)
    assert [len(e) for e in full] == [1, 1, 1]
    np.testing.assert_array_equal(full[0][0], np.arange(455))
    mini = workload.batch_order(455, "minibatch", epochs=2, seed=0, batch_size=32)
    assert [len(b) for b in mini[0]] == [32] * 14 + [7]  # last partial batch kept
    for epoch in mini:
        np.testing.assert_array_equal(np.sort(np.concatenate(epoch)), np.arange(455))
    assert not np.array_equal(mini[0][0], mini[1][0])  # a fresh permutation per epoch
    again = workload.batch_order(455, "minibatch", epochs=2, seed=0, batch_size=32)
    np.testing.assert_array_equal(np.concatenate(mini[1]), np.concatenate(again[1]))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"model": "resnet"}, "valid choices: logreg, mlp"),
        ({"model": "cnn"}, "30 features; valid choices for it: logreg, mlp"),
        ({"model": "gpt"}, "valid choices for it: logreg, mlp.*text datasets: sonnets"),
        ({"dataset": "sonnets", "model": "mlp"}, "valid choices for it: gpt"),
        ({"optimizer": "rmsprop"}, "valid choices: sgd, momentum, nesterov, adam"),
        ({"mode": "online"}, "valid choices: batch, minibatch"),
        ({"dtype": "float16"}, "valid choices: float32, float64"),
        ({"epochs": 0}, "positive"),
        ({"lr": -0.1}, "positive"),
        ({"mode": "minibatch", "batch_size": 10_000}, "training set size"),
        ({"dataset": "cifar"}, "valid choices"),
    ],
)
def test_bad_workload_values_name_valid_choices(kwargs: dict, message: str) -> None:
    with pytest.raises(workload.WorkloadError, match=message):
        workload.build(**kwargs)


def test_workload_spec_records_every_choice() -> None:
    w = workload.build("digits", "mlp:8", "adam", mode="minibatch", epochs=2, seed=5)
    assert w.model.sizes == (64, 8, 10) and w.model.loss == "cross_entropy"
    assert w.spec["seed"] == 5 and w.spec["optimizer_params"]["kind"] == "adam"
    assert w.steps == 2 * int(np.ceil(w.spec["n_train"] / 32))


def _history(loss: np.ndarray, params: list[np.ndarray] | None = None) -> History:
    return History(
        step_loss=loss, epoch_train_loss=loss[-1:], epoch_test_acc=np.ones(1),
        final_params=params if params is not None else [np.zeros((1, 2)), np.zeros(1)],
        epoch_s=np.ones(1),
    )  # fmt: skip


def test_trajectory_verdicts() -> None:
    ref = np.linspace(0.7, 0.1, 50)
    assert trajectory.compare(_history(ref), _history(ref.copy()), "float64").agrees
    bumped = ref.copy()
    bumped[20:] *= 1 + 1e-6
    v = trajectory.compare(_history(ref), _history(bumped), "float64")
    assert not v.agrees and v.first_diverging_step == 20
    assert trajectory.compare(_history(ref), _history(bumped), "float32").agrees
    nan = ref.copy()
    nan[7] = np.nan
    v = trajectory.compare(_history(ref), _history(nan), "float32")
    assert not v.agrees and v.first_diverging_step == v.nonfinite_step == 7
    v = trajectory.compare(_history(ref), _history(ref[:-1]), "float32")
    assert not v.agrees and "step count" in v.reason and "the common 49 steps agree" in v.reason
    assert v.first_diverging_step == 49 and v.max_rel_diff == 0.0
    # A shorter run that also differs inside the common prefix: located there.
    v = trajectory.compare(_history(ref), _history(bumped[:-5]), "float64")
    assert not v.agrees and v.first_diverging_step == 20 and "step 20 first differs" in v.reason
    v = trajectory.compare(_history(ref), _history(ref[:0]), "float32")
    assert not v.agrees and v.first_diverging_step == 0 and "no steps" in v.reason
    drift = [np.zeros((1, 2)), np.full(1, 0.5)]
    v = trajectory.compare(_history(ref), _history(ref, drift), "float32")
    assert v.most_drifted == "linear0.bias" and v.param_drift["linear0.bias"] == 0.5


_DIGEST = """
import hashlib, sys
from harness import data
h = hashlib.sha256()
for name in ("breast_cancer", "digits", "synthetic:40x5"):
    ds = data.load(name, seed=3)
    for a in (ds.x_train, ds.y_train, ds.x_test, ds.y_test):
        h.update(a.dtype.str.encode() + str(a.shape).encode() + a.tobytes())
    h.update(str(ds.n_classes).encode())
print(h.hexdigest(), "sklearn" in sys.modules)
"""


def _digest(cache: str) -> tuple[str, bool]:
    import os
    import subprocess
    import sys

    env = {**os.environ, data.ENV_DATA_CACHE: cache}
    out = subprocess.run(
        [sys.executable, "-c", _DIGEST], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    digest, imported = out.stdout.split()
    return digest, imported == "True"


def test_cached_datasets_are_the_computed_arrays_and_skip_scikit_learn(tmp_path) -> None:
    """A run that finds its arrays cached gets the same bits and imports no scikit-learn; an
    unreadable entry is computed afresh; ``off`` neither reads nor writes."""
    fresh, imported = _digest("off")
    assert imported, "without the cache the arrays come from scikit-learn"
    cache = tmp_path / "datasets"
    assert _digest(str(cache)) == (fresh, True)
    entries = sorted(cache.glob("*.npz"))
    assert len(entries) == 3, entries
    assert _digest(str(cache)) == (fresh, False)
    entries[0].write_bytes(b"not an npz")
    assert _digest(str(cache)) == (fresh, True)
    assert _digest(str(cache)) == (fresh, False), "the bad entry was rewritten"
    assert not (tmp_path / "off").exists()
