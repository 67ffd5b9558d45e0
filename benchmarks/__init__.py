"""asv benchmarks of every discovered target (see ``asv.conf.json`` and ``benchmarks/README.md``).

Importing this package is cheap on purpose: asv imports it once in its fork server and
forks one child per parameter combination (``launch_method: forkserver``); see
:mod:`benchmarks.common` for why nothing here initialises a framework in that parent.

One intra-op thread per process unless the caller sets ``OMP_NUM_THREADS``,
``OPENBLAS_NUM_THREADS`` or ``MKL_NUM_THREADS``: the workloads are small enough that extra
OpenMP / BLAS threads mostly spin, and on a shared machine they turn a benchmark into a
measure of the other processes (measured here under load: the floor's convergence runs took
26 s with NumPy's two BLAS threads against 4 s with one; ``suites/conftest.py`` makes the
same choice for the test suites). asv's runner has imported NumPy before this package, so
the variables come too late for its BLAS: ``threadpoolctl`` (a scikit-learn dependency)
limits the libraries already loaded, and the variables cover those loaded later (PyTorch's
OpenMP).
"""

import os

_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
THREADS_FROM_CALLER = any(v in os.environ for v in _VARS)
"""Whether the caller chose the thread counts (then they are left alone)."""

if not THREADS_FROM_CALLER:
    for _var in _VARS:
        os.environ[_var] = "1"
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1)
    except ImportError:  # without it only libraries loaded from now on are limited
        pass
