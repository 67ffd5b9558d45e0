"""The catalog-op models of the metamorphic properties (:mod:`harness.oracles.model_ops`)
compute the training's model: the same loss and gradients as the ``nn.Module`` s PyTorch
trains (:mod:`harness.implementations.torch_models`), from the same parameters, on the
same batch, in float64."""

from __future__ import annotations

import numpy as np
import pytest

from harness import workload as wl
from harness.oracles import model_loss
from harness.oracles.model_ops import LAYER_OPS, needed_ops

torch = pytest.importorskip("torch")

MODELS = [("breast_cancer", "logreg"), ("digits", "mlp:16"), ("digits", "cnn"),
          ("digits", "cnn-bn"), ("sonnets", "gpt")]  # fmt: skip


def test_every_layer_kind_has_its_ops() -> None:
    from harness import catalog
    from harness.architectures import LAYER_KINDS

    assert set(LAYER_OPS) == set(LAYER_KINDS)
    for ops in LAYER_OPS.values():
        for op in ops:
            catalog.get(op)


@pytest.mark.parametrize(("dataset", "model"), MODELS, ids=[m for _, m in MODELS])
def test_the_catalog_op_model_is_the_trained_model(dataset: str, model: str) -> None:
    from harness.implementations import torch_models
    from harness.implementations.torch_backend.ops import build_ops

    built = wl.build(dataset, model, "sgd", dtype="float64", epochs=1, seed=3)
    spec, ds = built.model, built.dataset
    x, y = ds.x_train[:6], ds.y_train[:6]
    y = y.reshape(-1, 1).astype(np.float64) if spec.loss == "bce_with_logits" else y

    module = torch_models.build(spec.layers, built.init_params, torch, torch.float64)
    want = torch_models.loss_module(spec, torch.nn)(
        module(torch.from_numpy(x)), torch.from_numpy(y)
    )
    want.backward()
    want_grads = [p.grad.numpy() for p in module.parameters()]

    ops = build_ops()
    assert set(needed_ops(spec.layers, spec.loss, spec.sequence)) <= set(ops)
    f = model_loss(ops, spec.layers, spec.loss, sequence=spec.sequence, constant=torch.from_numpy)
    params = [torch.from_numpy(p.copy()).requires_grad_() for p in built.init_params]
    got = f(*params, torch.from_numpy(x), torch.from_numpy(y))
    got.backward()
    # Measured: equal bit for bit but for the gpt's gradients, 6e-16 of the largest apart
    # (its split qkv linears sum in another order than the fused one).
    np.testing.assert_allclose(got.item(), want.item(), rtol=1e-12)
    for p, w in zip(params, want_grads, strict=True):
        assert p.grad is not None
        np.testing.assert_allclose(p.grad.numpy(), w, rtol=1e-12, atol=1e-14)
