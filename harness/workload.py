"""Training workloads, built once from plain values and handed to every backend.

A :class:`Workload` holds everything a backend needs to do *the same work* as every other
backend: the split and standardized data, the model's layer sizes and loss, the optimizer
and its hyper-parameters, the dtype, the seeded initial parameters (NumPy, PyTorch's
``nn.Linear`` layout) and the seeded batch order (one int64 index array per step).

The model is a backend-neutral sequence of layers (:mod:`harness.architectures`): a stack of
linear layers (``logreg``, ``mlp``: ``sizes = (in, h1, ..., out)`` with the activation between
layers and none after the last), a small convolutional network on square images (``cnn``,
``cnn-bn`` with BatchNorm) or a tiny decoder-only transformer on a text corpus (``gpt``,
whose rows are token windows and whose loss is the mean over every position's next-token
cross-entropy). Its output is a logit: ``out == 1``
uses binary cross-entropy on logits (``BCEWithLogitsLoss``, labels float 0/1, prediction
``logit > 0``); ``out > 1`` uses softmax cross-entropy (``CrossEntropyLoss``, int64 labels,
prediction ``argmax``). Both losses use ``reduction="mean"`` over the batch.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from harness import architectures as arch
from harness import data as data_mod

MODELS = ("logreg", "mlp:H1,H2,...", "cnn", "cnn-bn", "gpt")
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "adamw")
MODES = ("batch", "minibatch")
DTYPES = ("float32", "float64")
ACTIVATIONS = ("relu", "tanh")

DEFAULT_LR = {"sgd": 0.1, "momentum": 0.05, "nesterov": 0.05, "adam": 0.01, "adamw": 0.01}
"""Learning rates used when none is given (chosen so 100 epochs converge on breast cancer)."""
ADAMW_WEIGHT_DECAY = 0.01
"""``torch.optim.AdamW``'s default weight decay, used when none is given."""

_MLP = re.compile(r"^mlp(?::(\d+(?:,\d+)*))?$")


class WorkloadError(ValueError):
    """A workload option has a value outside its valid choices (the message lists them)."""


@dataclass(frozen=True)
class ModelSpec:
    """The model: ``sizes = (in, h1, ..., out)`` (for layered models ``(in, out)``: input
    features or context length, and logits per row or position), the hidden activation, the
    loss and the layers every backend builds (default: the linear stack of ``sizes``)."""

    sizes: tuple[int, ...]
    activation: str = "relu"
    layers: tuple[arch.Layer, ...] = ()

    def __post_init__(self) -> None:
        if not self.layers:
            object.__setattr__(self, "layers", arch.linear_stack(self.sizes, self.activation))

    @property
    def is_linear_stack(self) -> bool:
        """Only linear layers and activations (``logreg``, ``mlp``)."""
        return self.layers == arch.linear_stack(self.sizes, self.activation)

    @property
    def sequence(self) -> bool:
        """Rows are token windows and the loss averages every position (``gpt``)."""
        return any(layer.kind == "embed" for layer in self.layers)

    @property
    def loss(self) -> str:
        """``"bce_with_logits"`` for one output, ``"cross_entropy"`` otherwise."""
        return "bce_with_logits" if self.sizes[-1] == 1 else "cross_entropy"

    @property
    def n_layers(self) -> int:
        """Number of linear layers."""
        return len(self.sizes) - 1


@dataclass(frozen=True)
class OptimizerSpec:
    """An optimizer with PyTorch's update rules and hyper-parameter names.

    ``kind`` is ``"sgd"`` (``torch.optim.SGD``: lr, momentum, dampening, nesterov,
    weight_decay) or ``"adam"`` (``torch.optim.Adam``: lr, betas, eps, weight_decay as L2
    added to the gradient, bias correction).
    """

    kind: str
    """``"sgd"``, ``"adam"`` or ``"adamw"`` (``torch.optim.AdamW``: weight decay decoupled,
    ``p *= 1 - lr * weight_decay`` before the Adam step)."""
    lr: float
    momentum: float = 0.0
    dampening: float = 0.0
    nesterov: bool = False
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8


@dataclass(frozen=True)
class Workload:
    """One training configuration with its data, initial parameters and batch order."""

    spec: dict[str, Any]
    """The plain values it was built from (dataset, model, optimizer, mode, dtype, seed...)."""
    dataset: data_mod.Dataset
    model: ModelSpec
    optimizer: OptimizerSpec
    dtype: str
    init_params: list[np.ndarray]
    """``[W1, b1, W2, b2, ...]``; ``Wk`` is ``(out, in)`` like ``nn.Linear.weight``."""
    batches: list[list[np.ndarray]] = field(repr=False)
    """``batches[epoch][step]``: int64 row indices into the training split."""

    @property
    def epochs(self) -> int:
        """Number of epochs."""
        return len(self.batches)

    @property
    def steps(self) -> int:
        """Total number of optimizer steps."""
        return sum(len(b) for b in self.batches)

    @property
    def steps_per_epoch(self) -> int:
        """Steps in one epoch (every epoch has the same number)."""
        return len(self.batches[0]) if self.batches else 0


def parse_model(
    text: str,
    n_features: int,
    n_classes: int,
    activation: str = "relu",
    *,
    dataset: str = "",
    is_text: bool = False,
) -> ModelSpec:
    """``"logreg"``, ``"mlp:H1,H2,..."`` (default ``mlp`` = ``mlp:64,32``), ``"cnn"``,
    ``"cnn-bn"`` (features an even-sided square image) or ``"gpt"`` (a text dataset,
    ``is_text``) to a ModelSpec; a model the dataset cannot feed is an error naming both."""
    if activation not in ACTIVATIONS:
        raise WorkloadError(
            f"unknown activation {activation!r}; valid choices: {', '.join(ACTIVATIONS)}"
        )
    out = 1 if n_classes == 2 else n_classes
    text_models, image_models = ("gpt",), ("cnn", "cnn-bn")
    if is_text != (text in text_models):
        fits = text_models if is_text else tuple(m for m in MODELS if m not in text_models)
        raise WorkloadError(
            f"model {text!r} does not fit dataset {dataset or '?'!r}"
            f" ({'a text corpus' if is_text else 'feature rows'}); valid choices for it: "
            f"{', '.join(fits)}; text datasets: {', '.join(data_mod.CORPORA)}"
        )
    if text == "gpt":
        return ModelSpec((n_features, n_classes), layers=arch.gpt(n_classes, n_features))
    if text in image_models:
        side = math.isqrt(n_features)
        if side * side != n_features or side % 2:
            raise WorkloadError(
                f"model {text!r} needs square images of even side (digits: 8x8); dataset "
                f"{dataset or '?'!r} has {n_features} features; valid choices for it: "
                f"logreg, mlp:H1,H2,..."
            )
        layers = arch.cnn(out, (1, side, side), batchnorm=text == "cnn-bn")
        return ModelSpec((n_features, out), layers=layers)
    if text == "logreg":
        return ModelSpec((n_features, out), activation)
    m = _MLP.match(text)
    if not m:
        raise WorkloadError(
            f"unknown model {text!r}; valid choices: {', '.join(MODELS)} (e.g. mlp:64,32)"
        )
    hidden = tuple(int(h) for h in m.group(1).split(",")) if m.group(1) else (64, 32)
    if any(h < 1 for h in hidden):
        raise WorkloadError(f"hidden sizes must be positive, got {text!r}")
    return ModelSpec((n_features, *hidden, out), activation)


def make_optimizer(
    name: str,
    lr: float | None = None,
    *,
    weight_decay: float | None = None,
    momentum: float | None = None,
    dampening: float = 0.0,
    nesterov: bool | None = None,
    betas: tuple[float, float] | None = None,
    eps: float | None = None,
) -> OptimizerSpec:
    """``sgd`` (plain), ``momentum`` (0.9), ``nesterov`` (0.9), ``adam`` or ``adamw`` (weight
    decay 0.01 unless given, as ``torch.optim.AdamW``) with PyTorch defaults.

    The keyword values override the preset's (``None``: keep it). PyTorch's own rules are
    enforced: SGD options with ``adam`` and Adam options with the SGD family are errors, and
    Nesterov needs a positive momentum and zero dampening.
    """
    if name not in OPTIMIZERS:
        raise WorkloadError(f"unknown optimizer {name!r}; valid choices: {', '.join(OPTIMIZERS)}")
    lr = DEFAULT_LR[name] if lr is None else lr
    weight_decay_given = weight_decay
    weight_decay = 0.0 if weight_decay is None else weight_decay
    if not (lr > 0 and np.isfinite(lr)):
        raise WorkloadError(f"learning rate must be a positive number, got {lr}")
    if not (weight_decay >= 0 and np.isfinite(weight_decay)):
        raise WorkloadError(f"weight decay must be a number >= 0, got {weight_decay}")
    if name in ("adam", "adamw"):
        if momentum is not None or nesterov is not None or dampening:
            raise WorkloadError(f"momentum, dampening and nesterov are SGD options, not {name}'s")
        b = (0.9, 0.999) if betas is None else betas
        if not all(0 <= x < 1 for x in b):
            raise WorkloadError(f"betas must each be in [0, 1), got {b}")
        e = 1e-8 if eps is None else eps
        if not (e >= 0 and np.isfinite(e)):
            raise WorkloadError(f"eps must be a number >= 0, got {e}")
        wd = ADAMW_WEIGHT_DECAY if name == "adamw" and weight_decay_given is None else weight_decay
        return OptimizerSpec(name, lr, weight_decay=wd, betas=b, eps=e)
    if betas is not None or eps is not None:
        raise WorkloadError(f"betas and eps are adam and adamw options, not {name}'s")
    mu = (0.0 if name == "sgd" else 0.9) if momentum is None else momentum
    nest = (name == "nesterov") if nesterov is None else nesterov
    if not (mu >= 0 and np.isfinite(mu)):
        raise WorkloadError(f"momentum must be a number >= 0, got {mu}")
    if not 0 <= dampening <= 1:
        raise WorkloadError(f"dampening must be in [0, 1], got {dampening}")
    if nest and (mu <= 0 or dampening != 0):
        raise WorkloadError(
            f"nesterov needs momentum > 0 and dampening 0 (PyTorch's rule), got momentum "
            f"{mu} and dampening {dampening}"
        )
    return OptimizerSpec(
        "sgd", lr, momentum=mu, dampening=dampening, nesterov=nest, weight_decay=weight_decay
    )


def init_params(sizes: tuple[int, ...], seed: int, dtype: str) -> list[np.ndarray]:
    """PyTorch-Linear-style initial parameters, seeded.

    Every weight and bias of a layer with ``fan_in`` inputs is uniform in
    ``[-1/sqrt(fan_in), 1/sqrt(fan_in)]`` (the bound ``nn.Linear.reset_parameters`` gives).
    Drawn in float64, then cast, so float32 and float64 runs start from the same values.
    """
    rng = np.random.default_rng([seed, 1])
    params: list[np.ndarray] = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        bound = 1.0 / np.sqrt(fan_in)
        params.append(rng.uniform(-bound, bound, size=(fan_out, fan_in)).astype(dtype))
        params.append(rng.uniform(-bound, bound, size=(fan_out,)).astype(dtype))
    return params


def batch_order(
    n_rows: int, mode: str, epochs: int, seed: int, batch_size: int = 32
) -> list[list[np.ndarray]]:
    """The batch order: full batch = every row in order, one step per epoch; mini-batch =
    a fresh seeded permutation per epoch cut into ``batch_size`` rows, last partial batch kept.
    """
    if mode not in MODES:
        raise WorkloadError(f"unknown mode {mode!r}; valid choices: {', '.join(MODES)}")
    if epochs < 1:
        raise WorkloadError(f"epochs must be a positive integer, got {epochs}")
    if mode == "batch":
        full = np.arange(n_rows, dtype=np.int64)
        return [[full] for _ in range(epochs)]
    if not 1 <= batch_size <= n_rows:
        raise WorkloadError(
            f"batch size must be between 1 and the training set size ({n_rows}), got {batch_size}"
        )
    rng = np.random.default_rng([seed, 2])
    order = []
    for _ in range(epochs):
        perm = rng.permutation(n_rows).astype(np.int64)
        order.append([perm[i : i + batch_size] for i in range(0, n_rows, batch_size)])
    return order


def build(
    dataset: str = "breast_cancer",
    model: str = "logreg",
    optimizer: str = "sgd",
    *,
    mode: str = "batch",
    lr: float | None = None,
    epochs: int = 100,
    batch_size: int = 32,
    dtype: str = "float32",
    seed: int = 0,
    activation: str = "relu",
    weight_decay: float | None = None,
    momentum: float | None = None,
    dampening: float = 0.0,
    nesterov: bool | None = None,
    betas: tuple[float, float] | None = None,
    eps: float | None = None,
) -> Workload:
    """Build a workload from plain values; every random choice derives from ``seed``.

    Bad values raise :class:`WorkloadError` (or ValueError for the dataset) naming the
    valid choices.
    """
    if dtype not in DTYPES:
        raise WorkloadError(f"unknown dtype {dtype!r}; valid choices: {', '.join(DTYPES)}")
    try:
        data_mod.validate_name(dataset)
    except ValueError as e:
        raise WorkloadError(str(e)) from None
    opt = make_optimizer(
        optimizer,
        lr,
        weight_decay=weight_decay,
        momentum=momentum,
        dampening=dampening,
        nesterov=nesterov,
        betas=betas,
        eps=eps,
    )
    if mode not in MODES:
        raise WorkloadError(f"unknown mode {mode!r}; valid choices: {', '.join(MODES)}")
    if epochs < 1:
        raise WorkloadError(f"epochs must be a positive integer, got {epochs}")
    ds = data_mod.load(dataset, seed=seed, dtype=dtype)
    spec_model = parse_model(
        model, ds.n_features, ds.n_classes, activation, dataset=dataset, is_text=ds.is_text
    )
    batches = batch_order(len(ds.x_train), mode, epochs, seed, batch_size)
    spec = {
        "dataset": dataset,
        "model": model,
        "sizes": list(spec_model.sizes),
        "activation": activation,
        "loss": spec_model.loss,
        "optimizer": optimizer,
        "optimizer_params": asdict(opt),
        "mode": mode,
        "batch_size": len(ds.x_train) if mode == "batch" else batch_size,
        "epochs": epochs,
        "dtype": dtype,
        "seed": seed,
        "n_train": len(ds.x_train),
        "n_test": len(ds.x_test),
    }
    return Workload(
        spec=spec,
        dataset=ds,
        model=spec_model,
        optimizer=opt,
        dtype=dtype,
        init_params=arch.init_params(spec_model.layers, seed, dtype),
        batches=batches,
    )
