"""JAX's ``epochs`` loop (chunks of epochs with their evaluation in one compiled program)
against the ``scan`` loop (one compiled call per epoch, one per evaluation), value by value."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from harness.implementations.jax_backend import train as train_module
from harness.implementations.jax_backend.train import train as jax_train

from harness import workload
from harness.contract import History

# float32 full batch is the one case that is not bit-for-bit: the weight gradient's
# 455-row contraction (the same HLO dot in both programs) rounds differently in some
# epochs, an ulp or two of a weight, with its buffers placed differently by the two
# programs. Measured on these workloads (20 epochs): largest relative difference 1.6e-7 in
# a loss, 9e-8 absolute in a parameter (6.5e-6 relative in a loss after 100 epochs of
# mlp / adam). A dropped or reordered epoch or evaluation moves a loss by more than 1e-3.
FLOAT32_RTOL = 1e-5
FLOAT32_ATOL = 1e-6  # parameters near zero: 9e-8 measured, ten times that allowed


def _compare(a: History, b: History, dtype: str, mode: str) -> None:
    pairs = [
        ("step_loss", a.step_loss, b.step_loss),
        ("epoch_train_loss", a.epoch_train_loss, b.epoch_train_loss),
        ("epoch_test_acc", a.epoch_test_acc, b.epoch_test_acc),
        *(
            (f"final_params[{k}]", p, q)
            for k, (p, q) in enumerate(zip(a.final_params, b.final_params, strict=True))
        ),
    ]
    for name, p, q in pairs:
        assert p.shape == q.shape, name
        if dtype == "float64" or mode == "minibatch":
            np.testing.assert_array_equal(q, p, err_msg=name)
        else:
            np.testing.assert_allclose(q, p, rtol=FLOAT32_RTOL, atol=FLOAT32_ATOL, err_msg=name)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(
    "model, optimizer, mode",
    [
        ("logreg", "sgd", "batch"),
        ("mlp", "adam", "batch"),
        ("mlp", "momentum", "minibatch"),
    ],
)
def test_epochs_loop_gives_the_scan_loops_numbers(
    model: str, optimizer: str, mode: str, dtype: str, jax_device: str
) -> None:
    epochs = 20 if mode == "batch" else 4
    w = workload.build("breast_cancer", model, optimizer, mode=mode, dtype=dtype, epochs=epochs)
    seen: list[int] = []
    # At most 6 epochs a call: epoch 0 alone, then chunks, the last one shorter.
    fused = jax_train(w, jax_device, loop="epochs", on_epoch=seen.append, max_chunk=6)
    per_epoch = jax_train(w, jax_device, loop="scan")
    _compare(per_epoch, fused, dtype, mode)
    chunks = fused.meta["chunks"]
    assert chunks[0] == 1 and sum(chunks) == epochs and max(chunks) <= 6 and len(chunks) >= 2
    assert seen == list(range(epochs))
    assert fused.epoch_s.shape == (epochs,) and (fused.epoch_s > 0).all()
    # Every epoch of a chunk is timed at the chunk's time divided evenly.
    ends = np.cumsum(chunks)
    for lo, hi in itertools.pairwise(ends):
        assert np.all(fused.epoch_s[lo:hi] == fused.epoch_s[lo])


def test_chunking_does_not_change_a_number(
    jax_device: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Chunks follow the measured epoch time; a target of a day makes max_chunk decide alone.
    monkeypatch.setattr(train_module, "CHUNK_S", 86400.0)
    w = workload.build("breast_cancer", "mlp", "adam", mode="batch", dtype="float32", epochs=12)
    one = jax_train(w, jax_device, loop="epochs", max_chunk=11)
    many = jax_train(w, jax_device, loop="epochs", max_chunk=2)
    assert one.meta["chunks"] == [1, 11] and many.meta["chunks"] == [1] + [2] * 5 + [1]
    # The same program (one compilation per run, trip count an argument) in both runs.
    _compare(one, many, "float64", "batch")


def test_max_chunk_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_chunk"):
        jax_train(workload.build(epochs=1), "cpu", max_chunk=0)
