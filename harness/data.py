"""Datasets every workload uses: split, standardized, seeded.

scikit-learn ships breast_cancer and digits, so nothing is downloaded at run time.
``synthetic:NxD`` is ``make_classification`` with N rows and D features (binary).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

DATASETS = ("breast_cancer", "digits", "synthetic:NxD")
"""Valid dataset names (``synthetic:NxD`` with integers N >= 10 and D >= 2)."""

_SYNTHETIC = re.compile(r"^synthetic:(\d+)x(\d+)$")


@dataclass(frozen=True)
class Dataset:
    """A split, standardized dataset. Binary labels are float (0/1); multi-class int64."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    seed: int

    @property
    def n_features(self) -> int:
        """Number of input features."""
        return int(self.x_train.shape[1])

    def astype(self, dtype: str) -> Dataset:
        """The same data with features (and binary labels) in ``dtype``."""
        y_cast = (lambda y: y.astype(dtype)) if self.n_classes == 2 else (lambda y: y)
        return Dataset(
            self.name,
            self.x_train.astype(dtype),
            y_cast(self.y_train),
            self.x_test.astype(dtype),
            y_cast(self.y_test),
            self.n_classes,
            self.seed,
        )


def validate_name(name: str) -> None:
    """Raise ValueError naming the valid choices if ``name`` is not a dataset."""
    if name in ("breast_cancer", "digits"):
        return
    m = _SYNTHETIC.match(name)
    if m and int(m.group(1)) >= 10 and int(m.group(2)) >= 2:
        return
    raise ValueError(
        f"unknown dataset {name!r}; valid choices: {', '.join(DATASETS)} (e.g. synthetic:10000x30)"
    )


def _raw(name: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    # scikit-learn is imported lazily: `import harness` stays cheap.
    if name == "breast_cancer":
        from sklearn.datasets import load_breast_cancer

        x, y = load_breast_cancer(return_X_y=True)
        return x, y
    if name == "digits":
        from sklearn.datasets import load_digits

        x, y = load_digits(return_X_y=True)
        return x, y
    m = _SYNTHETIC.match(name)
    assert m, name
    from sklearn.datasets import make_classification

    n, d = int(m.group(1)), int(m.group(2))
    x, y = make_classification(
        n_samples=n,
        n_features=d,
        n_informative=max(2, d // 2),
        n_redundant=min(d - max(2, d // 2), d // 4),
        random_state=seed,
    )
    return x, y


@lru_cache(maxsize=16)
def _load64(name: str, seed: int) -> Dataset:
    from sklearn.model_selection import train_test_split

    validate_name(name)
    x, y = _raw(name, seed)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.2, stratify=y, random_state=seed)
    mean = x_tr.mean(axis=0)
    std = x_tr.std(axis=0)
    std[std == 0] = 1.0  # constant features (digits' blank corner pixels) stay 0
    x_tr = (x_tr - mean) / std
    x_te = (x_te - mean) / std
    n_classes = len(np.unique(y))
    ycast = np.float64 if n_classes == 2 else np.int64
    for a in (x_tr, x_te):
        a.setflags(write=False)
    return Dataset(
        name,
        np.ascontiguousarray(x_tr, dtype=np.float64),
        y_tr.astype(ycast),
        np.ascontiguousarray(x_te, dtype=np.float64),
        y_te.astype(ycast),
        n_classes,
        seed,
    )


def load(name: str = "breast_cancer", *, seed: int = 0, dtype: str = "float64") -> Dataset:
    """Load ``name`` with a stratified 80/20 split (``seed``), standardized on train rows.

    The split and the synthetic generator are both seeded by ``seed``.
    """
    return _load64(name, seed).astype(dtype)
