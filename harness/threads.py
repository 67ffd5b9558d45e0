"""Pinning BLAS / OpenMP threads for a command, and recording what took effect.

``harness compare`` and ``harness check`` pin the intra-op thread count (``--threads``,
default 1) the way ``suites/conftest.py`` does for the suites: tiny training steps are
dominated by per-op overhead, and extra threads only spin and oversubscribe a shared machine.
:func:`pin` must run before any framework initialises its thread pools (first thing in a
command); backends that keep their own pool get :meth:`harness.contract.Backend.set_threads`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

ENV_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
"""The variables set, as in ``suites/conftest.py``."""

DEFAULT = 1


def pin(requested: int | None) -> int:
    """Set the thread variables; returns the pinned count.

    ``requested`` (``--threads``) overrides the environment. ``None`` keeps a variable the
    caller already set (as the suites do) and sets the others to :data:`DEFAULT`; the pinned
    count is then ``$OMP_NUM_THREADS`` when that is a positive integer, else the default.
    """
    if requested is not None:
        for var in ENV_VARS:
            os.environ[var] = str(requested)
        return requested
    for var in ENV_VARS:
        if not os.environ.get(var):
            os.environ[var] = str(DEFAULT)
    try:
        n = int(os.environ["OMP_NUM_THREADS"])
    except ValueError:
        return DEFAULT
    return n if n >= 1 else DEFAULT


def record(requested: int | None, pinned: int, backends: Iterable[Any]) -> dict[str, Any]:
    """The ``threads`` object of ``report.json``: asked, environment and effective counts.

    Calls each backend's ``set_threads(pinned)`` once (which applies the count to a pool
    the framework keeps itself and reports it) and, when threadpoolctl is installed, limits
    every native BLAS / OpenMP pool already loaded to ``pinned`` (NumPy's BLAS starts
    before the command can set the variables) and lists them. Call it after the backends
    loaded and before training.
    """
    effective: dict[str, Any] = {}
    seen: set[str] = set()
    for b in backends:
        if b.name in seen:
            continue
        seen.add(b.name)
        got = b.set_threads(pinned)
        if got:
            effective[b.name] = got
    return {
        "requested": requested,
        "pinned": pinned,
        "env": {var: os.environ.get(var) for var in (*ENV_VARS, "XLA_FLAGS")},
        "backends": effective,
        "threadpools": _threadpools(pinned),
    }


def _threadpools(limit: int) -> list[dict[str, Any]] | None:
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
    except ImportError:
        return None
    # Not used as a context manager: the limit holds for the rest of the command.
    threadpool_limits(limits=limit)
    keys = ("user_api", "internal_api", "prefix", "num_threads", "version")
    return [{k: p.get(k) for k in keys} for p in threadpool_info()]
