"""Deliberately broken optimizers, one per :class:`harness.workload.OptimizerSpec` field.

:class:`BrokenOptimizer` wraps a real backend (:class:`~suites.broken.targets.Wrapped`) and
implements :meth:`~harness.contract.Backend.optimizer_step` in NumPy with PyTorch's update
rules (``torch/optim/sgd.py``, ``adam.py``, ``adamw.py``) and one switchable bug, the way
hand-written optimizers go wrong. :data:`BUGS` maps each bug to the cases of
:data:`harness.oracles.OPTIMIZER_CASES` that must catch it (the field it breaks is set) and
those that may (its optimizer kind): a bug the grid cannot see, or one reported on a case
that does not set its field, fails the tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from harness.contract import Backend
from harness.workload import OptimizerSpec

from .targets import Wrapped


@dataclass(frozen=True)
class Bug:
    """What a bug breaks: the field it names and which specs must / may reveal it."""

    field: str
    must: Callable[[OptimizerSpec], bool]
    may: Callable[[OptimizerSpec], bool]


def _sgd(s: OptimizerSpec) -> bool:
    return s.kind == "sgd"


def _adam(s: OptimizerSpec) -> bool:
    return s.kind in ("adam", "adamw")


def _adamw(s: OptimizerSpec) -> bool:
    return s.kind == "adamw"


BUGS: dict[str, Bug] = {
    # buf = mu * buf + g: the (1 - dampening) factor is forgotten.
    "ignores_dampening": Bug(
        "dampening", lambda s: _sgd(s) and s.momentum > 0 and s.dampening > 0, _sgd
    ),
    # buf = (1 - dampening) * g on the first step too (a zero-initialised buffer).
    "damps_first_step": Bug(
        "dampening", lambda s: _sgd(s) and s.momentum > 0 and s.dampening > 0, _sgd
    ),
    # The step direction is buf, as plain momentum, where nesterov wants g + mu * buf.
    "nesterov_ignored": Bug("nesterov", lambda s: s.nesterov, _sgd),
    # Nesterov's look-ahead with the buffer before this step's update: g + mu * buf_old.
    "nesterov_old_buffer": Bug("nesterov", lambda s: s.nesterov, _sgd),
    # weight_decay never applied (SGD, Adam, AdamW).
    "no_weight_decay": Bug("weight_decay", lambda s: s.weight_decay > 0, lambda s: True),
    # wd * p added to the step direction after momentum / Adam's scaling (decoupled), not
    # to the gradient; the same as PyTorch's rule for plain SGD and for AdamW only.
    "weight_decay_after_momentum": Bug(
        "weight_decay",
        lambda s: s.weight_decay > 0 and (s.kind == "adam" or s.momentum > 0),
        lambda s: s.weight_decay > 0,
    ),
    # AdamW's weight decay added to the gradient (Adam's L2 rule) instead of shrinking the
    # parameter by lr * wd before the step: the mistake AdamW was written to correct.
    "adamw_coupled_decay": Bug("weight_decay", lambda s: _adamw(s) and s.weight_decay > 0, _adamw),
    # beta1 and beta2 exchanged.
    "betas_swapped": Bug("betas", _adam, _adam),
    # sqrt(v_hat + eps) instead of sqrt(v_hat) + eps: visible where eps is large; with
    # eps 1e-8 only on gradients small enough that eps is comparable with v_hat.
    "eps_inside_sqrt": Bug("eps", lambda s: _adam(s) and s.eps > 1e-6, _adam),
    # Adam without its bias corrections 1 - beta**t.
    "no_bias_correction": Bug("betas", _adam, _adam),
}


class BrokenOptimizer(Wrapped):
    """A backend whose optimizer has one bug of :data:`BUGS` (None: PyTorch's rules)."""

    def __init__(self, inner: Backend, bug: str | None = None) -> None:
        if bug is not None and bug not in BUGS:
            raise ValueError(f"unknown bug {bug!r}; valid: {', '.join(BUGS)}")
        super().__init__(inner, f"optim-{bug or 'correct'}")
        self.capabilities = replace(inner.capabilities, optimizer_step=True)  # type: ignore[misc]
        self.bug = bug

    def optimizer_step(self, spec, params, grads, state, *, device):
        if state is None:
            state = {"t": 0, "buf": [None] * len(params), "m": None, "v": None}
        state["t"] += 1
        out = []
        for k, (p0, g0) in enumerate(zip(params, grads, strict=True)):
            p, g = np.asarray(p0, np.float64), np.asarray(g0, np.float64)
            if spec.kind == "adamw" and self.bug != "adamw_coupled_decay":
                # torch/optim/adamw.py: p *= 1 - lr * wd, then Adam's step without decay.
                keep = 1.0 if self.bug == "no_weight_decay" else 1 - spec.lr * spec.weight_decay
                new = p * keep - spec.lr * self._adam(spec, k, p, g, state, coupled=False)
            elif spec.kind in ("adam", "adamw"):
                new = p - spec.lr * self._adam(spec, k, p, g, state)
            else:
                new = p - spec.lr * self._sgd(spec, k, p, g, state)
            out.append(new.astype(np.asarray(p0).dtype))
        return out, state

    def _decay(self, spec: OptimizerSpec, p: np.ndarray, g: np.ndarray) -> np.ndarray:
        if self.bug in ("no_weight_decay", "weight_decay_after_momentum"):
            return g
        return g + spec.weight_decay * p

    def _after(self, spec: OptimizerSpec, p: np.ndarray, d: np.ndarray) -> np.ndarray:
        return d + spec.weight_decay * p if self.bug == "weight_decay_after_momentum" else d

    def _sgd(self, spec: OptimizerSpec, k: int, p: np.ndarray, g: np.ndarray, state: Any):
        g = self._decay(spec, p, g)
        if not spec.momentum:
            return self._after(spec, p, g)
        mu, damp, old = spec.momentum, spec.dampening, state["buf"][k]
        if self.bug == "ignores_dampening":
            damp = 0.0
        if old is None:
            buf = (1 - damp) * g if self.bug == "damps_first_step" else g.copy()
        else:
            buf = mu * old + (1 - damp) * g
        state["buf"][k] = buf
        if spec.nesterov and self.bug != "nesterov_ignored":
            prev = buf if old is None or self.bug != "nesterov_old_buffer" else old
            d = g + mu * prev
        else:
            d = buf
        return self._after(spec, p, d)

    def _adam(
        self,
        spec: OptimizerSpec,
        k: int,
        p: np.ndarray,
        g: np.ndarray,
        state: Any,
        coupled: bool = True,
    ):
        b1, b2 = spec.betas[::-1] if self.bug == "betas_swapped" else spec.betas
        if state["m"] is None:
            state["m"], state["v"] = [None] * len(state["buf"]), [None] * len(state["buf"])
        if coupled:
            g = self._decay(spec, p, g)
        m = state["m"][k] if state["m"][k] is not None else np.zeros_like(g)
        v = state["v"][k] if state["v"][k] is not None else np.zeros_like(g)
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
        state["m"][k], state["v"][k] = m, v
        t = state["t"]
        bc1, bc2 = (1.0, 1.0) if self.bug == "no_bias_correction" else (1 - b1**t, 1 - b2**t)
        m_hat, v_hat = m / bc1, v / bc2
        if self.bug == "eps_inside_sqrt":
            d = m_hat / np.sqrt(v_hat + spec.eps)
        else:
            d = m_hat / (np.sqrt(v_hat) + spec.eps)
        return self._after(spec, p, d) if coupled else d


class _Node:
    """A value on :class:`OverwritingTape`'s tape: the inner array and how it was made."""

    __slots__ = ("fn", "parents", "value")

    def __init__(self, value: Any, fn: Any = None, parents: tuple[Any, ...] = ()) -> None:
        self.value, self.fn, self.parents = value, fn, parents


class OverwritingTape(Wrapped):
    """A hand-written reverse mode whose gradient of a value is *overwritten* by each use.

    Its ops record a tape when given tape values (and run the inner backend's op on plain
    arrays, so forward values, forward mode and second order are the inner backend's); its
    :meth:`vjp` walks the tape backwards with the inner backend's per-op VJPs, but stores
    ``grad[parent] = g`` where it must add ``grad[parent] += g``. Every single-op check
    passes (each input of one op is a distinct leaf); a value used twice gets the gradient
    of one use only.
    """

    def __init__(self, inner: Backend, name: str = "overwriting-tape") -> None:
        super().__init__(inner, name)
        self._ops = {k: self._lift(fn) for k, fn in inner.ops().items()}

    @staticmethod
    def _lift(fn: Any) -> Any:
        def op(*args: Any) -> Any:
            if not any(isinstance(a, _Node) for a in args):
                return fn(*args)
            plain = [a.value if isinstance(a, _Node) else a for a in args]
            return _Node(fn(*plain), fn, tuple(args))

        return op

    def ops(self):
        return self._ops

    def vjp(self, fn, primals, cotangent, *, device, argnums=None):
        argnums = list(range(len(primals))) if argnums is None else list(argnums)
        inner = self.inner
        args: list[Any] = [inner.asarray(np.asarray(p), device) for p in primals]
        leaves = {i: _Node(args[i]) for i in argnums}
        out = fn(*[leaves.get(i, a) for i, a in enumerate(args)])
        if not isinstance(out, _Node):
            return inner.to_numpy(out), [np.zeros_like(primals[i]) for i in argnums]
        order: list[_Node] = []
        seen: set[int] = set()

        def visit(node: _Node) -> None:  # post-order: parents before children
            if id(node) in seen:
                return
            seen.add(id(node))
            for p in node.parents:
                if isinstance(p, _Node):
                    visit(p)
            order.append(node)

        visit(out)
        grads: dict[int, np.ndarray] = {id(out): np.asarray(cotangent)}
        for node in reversed(order):
            g = grads.get(id(node))
            if node.fn is None or g is None:
                continue
            diff = [k for k, p in enumerate(node.parents) if isinstance(p, _Node)]
            plain = [inner.to_numpy(p.value if isinstance(p, _Node) else p) for p in node.parents]
            _, pgrads = inner.vjp(node.fn, plain, g, device=device, argnums=diff)
            for k, pg in zip(diff, pgrads, strict=True):
                grads[id(node.parents[k])] = np.asarray(pg)  # the bug: = where += belongs
        return inner.to_numpy(out.value), [
            grads.get(id(leaves[i]), np.zeros_like(primals[i])) for i in argnums
        ]
