"""Loads the harness pytest plugin: target options, parametrization, profiles and reports."""

import os

# One intra-op thread per process unless the caller says otherwise. The parity checks run
# tiny arrays whose cost is per-op overhead; extra OpenMP / BLAS threads only spin, and under
# pytest-xdist (or on a shared CI machine) they oversubscribe the cores: measured on this
# project's 2-core machine, a torch digits run took 29 s of CPU with 2 threads under load
# against under 1 s with one. Set before the plugin imports any framework (and inherited by
# xdist workers).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

pytest_plugins = ["harness.pytest_plugin"]
