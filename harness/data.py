"""Datasets every workload uses: split, standardized, seeded.

scikit-learn ships breast_cancer and digits, so nothing is downloaded at run time.
``synthetic:NxD`` is ``make_classification`` with N rows and D features (binary).
``sonnets`` is a text corpus written into the repository (``harness/corpora/sonnets.txt``:
fourteen of Shakespeare's sonnets, 1609, public domain) cut into fixed-length windows of
characters for next-character prediction (:func:`load_text`).

The split and standardized arrays of a scikit-learn dataset are kept in the user's cache
folder (``datasets/``; ``$HARNESS_DATA_CACHE`` names another folder, or ``off``): importing
scikit-learn's ``model_selection`` and ``datasets`` took 1.5-1.8 s of a 12 s ``harness
compare`` (load average 2), and a run that finds its arrays there imports none of it. An
entry's name holds a hash of this file, the scikit-learn and NumPy versions, the dataset and
the seed, so that a change to any of them computes the arrays afresh; the arrays are the
ones computed, bit for bit.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

DATASETS = ("breast_cancer", "digits", "synthetic:NxD", "sonnets")
"""Valid dataset names (``synthetic:NxD`` with integers N >= 10 and D >= 2)."""

CORPORA = ("sonnets",)
"""Text datasets: rows are windows of :data:`CONTEXT` character ids, labels the next ids."""
CONTEXT = 16
"""Characters per window (the transformer's context length)."""

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

    @property
    def is_text(self) -> bool:
        """Rows are int64 token windows (labels: the next token at every position)."""
        return self.x_train.dtype.kind == "i"

    def astype(self, dtype: str) -> Dataset:
        """The same data with float features (and binary labels) in ``dtype``; token ids
        stay int64."""
        y_cast = (lambda y: y.astype(dtype)) if self.n_classes == 2 else (lambda y: y)
        x_cast = (lambda x: x) if self.is_text else (lambda x: x.astype(dtype))
        return Dataset(
            self.name,
            x_cast(self.x_train),
            y_cast(self.y_train),
            x_cast(self.x_test),
            y_cast(self.y_test),
            self.n_classes,
            self.seed,
        )


def validate_name(name: str) -> None:
    """Raise ValueError naming the valid choices if ``name`` is not a dataset."""
    if name in ("breast_cancer", "digits") or name in CORPORA:
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


def corpus_text(name: str) -> str:
    """The text of corpus ``name`` (shipped in ``harness/corpora``)."""
    from importlib import resources

    return (resources.files("harness") / "corpora" / f"{name}.txt").read_text(encoding="utf-8")


def _load_text(name: str, seed: int) -> Dataset:
    """Non-overlapping windows of :data:`CONTEXT` characters (ids: the sorted distinct
    characters), labels the same windows shifted by one; a seeded 80/20 split of windows."""
    text = corpus_text(name)
    vocab = sorted(set(text))
    ids = np.array([vocab.index(c) for c in text], dtype=np.int64)
    starts = np.arange(0, len(ids) - CONTEXT - 1, CONTEXT)
    x = np.stack([ids[s : s + CONTEXT] for s in starts])
    y = np.stack([ids[s + 1 : s + CONTEXT + 1] for s in starts])
    perm = np.random.default_rng([seed, 3]).permutation(len(x))
    n_test = len(x) // 5
    test, train = perm[:n_test], perm[n_test:]
    return Dataset(name, x[train], y[train], x[test], y[test], len(vocab), seed)


ENV_DATA_CACHE = "HARNESS_DATA_CACHE"
"""Environment variable: the folder of cached dataset arrays, or ``off``."""

_FIELDS = ("x_train", "y_train", "x_test", "y_test")


def _cache_file(name: str, seed: int) -> Path | None:
    """Where the arrays of ``name`` / ``seed`` are cached (None: the cache is off)."""
    from importlib import metadata

    from harness import files

    where = os.environ.get(ENV_DATA_CACHE, "").strip()
    if where.lower() == "off":
        return None
    folder = Path(where).expanduser() if where else files.user_cache("datasets")
    key = hashlib.sha256(Path(__file__).read_bytes())
    key.update(f"{metadata.version('scikit-learn')}|{np.__version__}|{name}|{seed}".encode())
    return folder / f"{files.safe_name(name)}-{seed}-{key.hexdigest()[:20]}.npz"


def _read_cached(path: Path | None, name: str, seed: int) -> Dataset | None:
    if path is None or not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in _FIELDS}
            n_classes = int(z["n_classes"])
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return None  # unreadable (a crash mid-write cannot leave one; a disk fault can)
    for a in (arrays["x_train"], arrays["x_test"]):
        a.setflags(write=False)
    return Dataset(
        name,
        arrays["x_train"],
        arrays["y_train"],
        arrays["x_test"],
        arrays["y_test"],
        n_classes,
        seed,
    )


def _write_cached(path: Path | None, ds: Dataset) -> None:
    if path is None:
        return
    from harness import files

    buf = io.BytesIO()
    np.savez(buf, n_classes=ds.n_classes, **{k: getattr(ds, k) for k in _FIELDS})
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        files.atomic_write_bytes(path, buf.getvalue())
    except OSError:
        pass  # a read-only or full cache folder only costs the next run the imports


@lru_cache(maxsize=16)
def _load64(name: str, seed: int) -> Dataset:
    validate_name(name)
    if name in CORPORA:
        return _load_text(name, seed)
    path = _cache_file(name, seed)
    cached = _read_cached(path, name, seed)
    if cached is not None:
        return cached
    ds = _split(name, seed)
    _write_cached(path, ds)
    return ds


def _split(name: str, seed: int) -> Dataset:
    from sklearn.model_selection import train_test_split

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
