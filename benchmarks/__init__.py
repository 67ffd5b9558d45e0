"""asv benchmarks of every discovered target (see ``asv.conf.json`` and ``benchmarks/README.md``).

Importing this package is cheap on purpose: asv imports it once in its fork server and
forks one child per parameter combination (``launch_method: forkserver``); see
:mod:`benchmarks.common` for why nothing here initialises a framework in that parent.
"""
