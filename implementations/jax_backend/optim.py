"""optax optimizers made to follow ``torch.optim``'s update rules exactly.

PyTorch's rules (``torch/optim/sgd.py``, ``torch/optim/adam.py``, single-tensor path):

* SGD: ``g += wd * p``; with momentum ``mu``: ``b = g`` on the first step, then
  ``b = mu * b + (1 - dampening) * g``; the step direction is ``g + mu * b`` (nesterov) or
  ``b``; ``p -= lr * direction``.
* Adam: ``g += wd * p`` (L2 on the gradient, not decoupled AdamW); ``m = b1 m + (1-b1) g``,
  ``v = b2 v + (1-b2) g^2``; ``p -= lr * m_hat / (sqrt(v_hat) + eps)`` with the bias-corrected
  ``m_hat = m / (1 - b1^t)``, ``v_hat = v / (1 - b2^t)``: eps added after the square root.

How optax is made to match, transform by transform:

* weight decay: ``optax.add_decayed_weights(wd)`` placed *first* in the chain adds ``wd * p``
  to the raw gradient, before momentum or Adam's moments, as PyTorch does. (``optax.adamw``
  and ``optax.sgd``'s chains would apply it elsewhere; they are not used.)
* momentum without dampening: ``optax.trace(mu, nesterov)`` computes ``t = g + mu * t`` from
  ``t = 0``, so its first step gives ``t = g`` exactly like PyTorch's ``b = g``, and its
  nesterov form ``g + mu * t`` is PyTorch's. With ``dampening != 0`` optax has no equivalent
  (``trace`` cannot damp, and PyTorch does not damp the first step), so
  :func:`torch_momentum` implements PyTorch's rule as an optax transform.
* Adam: ``optax.scale_by_adam(b1, b2, eps, eps_root=0)`` computes
  ``m_hat / (sqrt(v_hat) + eps)``, which is PyTorch's formula: eps after the square root of
  the bias-corrected ``v`` (``eps_root`` = 0 keeps nothing inside the root).
* the step: ``optax.scale(-lr)`` then ``optax.apply_updates`` gives ``p + (-lr * d)``,
  which equals PyTorch's ``p - lr * d`` (negation is exact).

The remaining differences are rounding only (PyTorch's ``lerp`` for ``m``, its
``lr / bc1`` folded into one scalar, fused multiply-adds in its CPU kernels).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from harness.workload import OptimizerSpec


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


def make(spec: OptimizerSpec) -> Any:
    """An ``optax.GradientTransformation`` following ``torch.optim`` for ``spec``."""
    import optax

    chain = []
    if spec.weight_decay:
        chain.append(optax.add_decayed_weights(spec.weight_decay))
    if spec.kind == "adam":
        chain.append(optax.scale_by_adam(b1=spec.betas[0], b2=spec.betas[1], eps=spec.eps))
    elif spec.kind == "sgd":
        if spec.nesterov and (spec.momentum <= 0 or spec.dampening != 0):
            # PyTorch raises the same error for this combination.
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        if spec.momentum and spec.dampening:
            chain.append(torch_momentum(spec.momentum, spec.dampening, spec.nesterov))
        elif spec.momentum:
            chain.append(optax.trace(decay=spec.momentum, nesterov=spec.nesterov))
    else:
        raise ValueError(f"unknown optimizer kind {spec.kind!r}; valid choices: sgd, adam")
    chain.append(optax.scale(-spec.lr))
    return optax.chain(*chain)
