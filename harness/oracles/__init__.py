"""The comparisons behind every parity check: ops, gradients, model losses and training runs.

The package, by concept (each module imports only those above it):

* :mod:`~harness.oracles.agreement` -- :class:`Agreement`, :class:`OracleFailure`, the
  failure report and its reproducer;
* :mod:`~harness.oracles.ops` -- the op oracles and the opening they share;
* :mod:`~harness.oracles.broadcast` -- the broadcast-reduction oracle;
* :mod:`~harness.oracles.models` -- model losses and their metamorphic properties;
* :mod:`~harness.oracles.training` -- whole training runs (:func:`trajectory`,
  :func:`accuracy`);
* :mod:`~harness.oracles.optimizers` -- one optimizer's update rule, step by step
  (:func:`update_rule` over :data:`OPTIMIZER_CASES`);
* :mod:`~harness.oracles.programs` -- random programs of ops, value and reverse mode
  (:func:`program`, drawn by :mod:`harness.programs`);
* :mod:`~harness.oracles.registry` -- :data:`REGISTRY`, the one list of oracles (name, kind,
  capability, subjects, abbreviation, function) that the suites and the report read;
* :mod:`~harness.oracles.checks` -- running an oracle as a Hypothesis property
  (:func:`run_property`, :func:`check_op`, :func:`check_model`).

Every name below is importable from :mod:`harness.oracles` itself, which is what the printed
reproducers call.

Every op oracle has one signature, ``oracle(target, op, inputs, *, seed, reference)``,
returns an :class:`Agreement` (the largest error it saw) and raises :class:`OracleFailure`
(an AssertionError) when the target disagrees. The failure names the target, op, oracle and
dtype, gives the largest absolute and relative error with their index and both values, the
inputs, and a copy-paste reproducer (the inputs as literals and the seed that draws the
cotangents and directions). The suites drive these functions through :func:`run_property`
(Hypothesis), and so do the tests that prove the suites catch broken targets.

The op oracles (see :data:`REGISTRY`):

``forward``
    The value against the catalog's float64 NumPy reference, with the per-dtype tolerance
    (:func:`harness.tolerances.for_op`): shape and dtype must match exactly.
``vjp_reference``
    The VJP with a seeded standard-normal cotangent against the reference target's VJP,
    computed in float64 on the same (float32-representable) inputs and cotangent. A float32
    target is thus compared with the exact-to-rounding float64 answer using the float32
    tolerance; its ``atol`` is multiplied by ``max(1, max|v|)`` because a VJP is linear in
    the cotangent ``v``, so its values and its absolute rounding errors scale with ``|v|``
    while ``assert_close``'s atol presumes values of order one.
``finite_differences``
    Independent of every framework: ``<u, VJP(v)>`` of the target against the central
    difference ``<(f(x + h u) - f(x - h u)) / 2h, v>`` of the catalog's float64 NumPy
    reference ``f`` (JAX's ``check_grads`` identity). ``u`` is uniform in [-1, 1] and
    ``h <= margin / 4``, so no perturbation crosses a kink, a tie or a domain edge the
    strategies keep ``margin`` away. The difference is Richardson-extrapolated over
    ``h, h/2, h/4``; the tolerance is the target's elementwise tolerance carried through the
    inner product, plus twice the extrapolation's own error estimate and a generous float64
    round-off bound -- so a correct gradient is never failed for the step's sake.
``jvp_vjp``
    ``<JVP(u), v> = <u, VJP(v)>`` within the target (``Capabilities.jvp``).
``second_order``
    ``<u, d/dx <VJP(v), w>>`` from the target's :meth:`~harness.contract.Backend.vjp_vjp`
    against the central difference of ``<VJP(v), w>`` along ``u`` computed with a float64
    first-order VJP -- the reference target's when it has float64 (for the reference itself
    that is ``gradgradcheck``'s self-consistency), else the target's own
    (``Capabilities.second_order``).
``broadcast_reduction``
    Metamorphic: the gradient with respect to a broadcast input equals the gradient with
    respect to the materialized (``np.broadcast_to``) input, summed back over the broadcast
    dimensions.
``kink_convention``
    At exactly the op's non-differentiable points (kinks, ties; never a random draw), the
    VJP against the reference target's: the subgradient convention must match, unless the
    backend's known divergences list it.

Model-level metamorphic properties (:data:`MODEL_PROPERTIES`: ``minibatch_mean``,
``accumulate``, ``permutation``) and whole training runs (``trajectory``, ``accuracy``) are
registered beside them.
"""

from __future__ import annotations

from harness.oracles.agreement import (
    EPS64,
    Agreement,
    ComputationError,
    Context,
    NotApplicable,
    OracleFailure,
    assert_agree,
    assert_inner,
    compare_arrays,
    error_report,
    failure_report,
    literal,
    reproducer,
    with_strides,
)
from harness.oracles.broadcast import broadcast_reduction, reduce_to_shape
from harness.oracles.checks import (
    Observed,
    check_model,
    check_op,
    check_programs,
    check_seed,
    run_property,
)
from harness.oracles.differences import richardson
from harness.oracles.models import (
    MODEL_CASES,
    ModelCase,
    ModelDraw,
    accumulate,
    minibatch_mean,
    model_draws,
    model_loss,
    model_reproducer,
    permutation,
)
from harness.oracles.ops import (
    Call,
    OpOracle,
    finite_differences,
    forward,
    jvp_vjp,
    kink_convention,
    op_oracle,
    open_call,
    require,
    second_order,
    vjp_reference,
)
from harness.oracles.optimizers import (
    INVALID_CASES,
    OPTIMIZER_CASES,
    OptimizerCase,
    update_rule,
)
from harness.oracles.programs import program
from harness.oracles.registry import (
    ABBREV,
    KINDS,
    MODEL_PROPERTIES,
    ORACLES,
    REGISTRY,
    Oracle,
    get,
    names,
    ops_for,
)
from harness.oracles.training import (
    ACCURACY,
    QUICK_TRAINING_CASES,
    TRAINING_CASES,
    RunCache,
    TrainingCase,
    TrainingFailure,
    accuracy,
    trajectory,
)

__all__ = [
    "ABBREV",
    "ACCURACY",
    "EPS64",
    "INVALID_CASES",
    "KINDS",
    "MODEL_CASES",
    "MODEL_PROPERTIES",
    "OPTIMIZER_CASES",
    "ORACLES",
    "QUICK_TRAINING_CASES",
    "REGISTRY",
    "TRAINING_CASES",
    "Agreement",
    "Call",
    "ComputationError",
    "Context",
    "ModelCase",
    "ModelDraw",
    "NotApplicable",
    "Observed",
    "OpOracle",
    "OptimizerCase",
    "Oracle",
    "OracleFailure",
    "RunCache",
    "TrainingCase",
    "TrainingFailure",
    "accumulate",
    "accuracy",
    "assert_agree",
    "assert_inner",
    "broadcast_reduction",
    "check_model",
    "check_op",
    "check_programs",
    "check_seed",
    "compare_arrays",
    "error_report",
    "failure_report",
    "finite_differences",
    "forward",
    "get",
    "jvp_vjp",
    "kink_convention",
    "literal",
    "minibatch_mean",
    "model_draws",
    "model_loss",
    "model_reproducer",
    "names",
    "op_oracle",
    "open_call",
    "ops_for",
    "permutation",
    "program",
    "reduce_to_shape",
    "reproducer",
    "require",
    "richardson",
    "run_property",
    "second_order",
    "trajectory",
    "update_rule",
    "vjp_reference",
    "with_strides",
]
