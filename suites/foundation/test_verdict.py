"""The overall verdict (:mod:`harness.verdict`): outcomes, exit codes, --min-ops, summaries."""

from __future__ import annotations

import pytest

from harness import catalog, verdict
from harness.parity_report import Row, build_json

T = "t:cpu"


def _report(*rows: Row) -> dict:
    return build_json(list(rows), {})


def _judge(*rows: Row, training: bool = True, declares: bool = True, **kw) -> verdict.Verdict:
    return verdict.judge(
        [T], _report(*rows), pytest_exit=kw.pop("pytest_exit", 0),
        declares_training={T: declares}, training_expected=training, **kw,
    )  # fmt: skip


def op(subject: str, status: str, oracle: str = "forward", dtype: str = "float32") -> Row:
    return Row(T, subject, oracle, dtype, "op", status=status)


def train(status: str, case: str = "digits-mlp-sgd-minibatch") -> Row:
    return Row(T, case, "trajectory", "float64", "training", status=status)


def test_pass_needs_an_exercised_op_and_training() -> None:
    v = _judge(op("tanh", "pass"), op("exp", "skip-unsupported"), train("pass"))
    assert (v.outcome, v.exit_code, v.ok) == ("PASS", 0, True)
    t = v.targets[0]
    assert t.ops.run == ["tanh"] and t.ops.unsupported == ["exp"]
    assert t.training is not None and t.training.run == ["digits-mlp-sgd-minibatch"]
    text = "\n".join(v.lines())
    assert (
        f"1 of {len(catalog.CATALOG)} ops run (tanh)" in text
        and "1 skipped-unsupported: exp" in text
    )


def test_machinery_passes_and_skips_alone_are_nothing_checked() -> None:
    """Only rows count: no row at all (machinery tests only), or only skips, is exit 3."""
    for rows in ((), (op("tanh", "skip-unsupported"), op("exp", "skip"))):
        v = _judge(*rows, pytest_exit=0)
        assert (v.outcome, v.exit_code) == ("NOTHING CHECKED", 3), rows
        assert "no op check exercised the target" in v.targets[0].reasons
    # pytest collected nothing at all (exit 5): still NOTHING CHECKED, not a failure
    assert _judge(pytest_exit=5).exit_code == 3


def test_declared_training_without_a_training_case_is_nothing_checked() -> None:
    v = _judge(op("tanh", "pass"), train("skip-unsupported"))
    assert v.outcome == "NOTHING CHECKED"
    assert "declares training" in v.targets[0].reasons[0]
    # not declared: fine; training not part of the run (harness parity): fine
    assert _judge(op("tanh", "pass"), declares=False).outcome == "PASS"
    assert _judge(op("tanh", "pass"), training=False).outcome == "PASS"
    assert _judge(op("tanh", "pass"), training=False).targets[0].training is None


def test_failures_and_errors_fail_and_are_named() -> None:
    v = _judge(
        op("tanh", "fail", "vjp_reference", "float64"),
        op("mul", "error", "finite_differences"),
        op("exp", "pass"),
        op("relu", "xfail"),
        train("fail"),
    )
    assert (v.outcome, v.exit_code) == ("FAIL", 1)
    t = v.targets[0]
    assert t.failures == [
        f"{T} tanh vjp_reference float64 (fail)",
        f"{T} mul finite_differences float32 (error)",
        f"{T} digits-mlp-sgd-minibatch trajectory float64 (fail)",
    ]
    order = list(catalog.CATALOG)
    assert t.ops.failed == sorted(["mul", "tanh"], key=order.index)  # catalog order
    assert set(t.oracles.failed) == {"vjp_reference", "finite_differences", "trajectory"}
    assert "relu" in t.ops.run  # a known divergence ran
    text = "\n".join(v.lines())
    assert f"failing   {T} mul finite_differences float32 (error)" in text


def test_pytest_failing_outside_the_checks_fails() -> None:
    v = _judge(op("tanh", "pass"), train("pass"), pytest_exit=1)
    assert v.outcome == "FAIL" and "no failing check recorded" in v.reasons[0]


def test_min_ops() -> None:
    rows = (op("tanh", "pass"), op("exp", "pass"), op("relu", "skip-unsupported"), train("pass"))
    assert _judge(*rows, min_ops=2).outcome == "PASS"
    v = _judge(*rows, min_ops=3)
    assert (v.outcome, v.exit_code) == ("TOO FEW OPS", 3)
    assert "2 ops exercised, --min-ops asks for 3" in v.targets[0].reasons[0]
    # a failure is worse than too few ops
    assert _judge(op("tanh", "fail"), train("pass"), min_ops=5).outcome == "FAIL"


@pytest.mark.parametrize("bad", ["0", "-1", "x", "2.5", str(len(catalog.CATALOG) + 1), ""])
def test_min_ops_validation_names_the_option_and_range(bad: str) -> None:
    with pytest.raises(
        verdict.MinOpsError, match=rf"--min-ops must be an integer from 1 to {len(catalog.CATALOG)}"
    ):
        verdict.validate_min_ops(bad)


def test_min_ops_accepts_its_range() -> None:
    assert verdict.validate_min_ops(None) is None
    assert verdict.validate_min_ops("1") == 1
    assert verdict.validate_min_ops(str(len(catalog.CATALOG))) == len(catalog.CATALOG)


def test_the_worst_target_decides() -> None:
    rows = [
        op("tanh", "pass"),
        train("pass"),
        Row("u:cpu", "tanh", "forward", "float32", status="skip-unsupported"),
    ]
    v = verdict.judge(
        [T, "u:cpu"], _report(*rows), pytest_exit=0,
        declares_training={T: True, "u:cpu": False}, training_expected=True,
    )  # fmt: skip
    assert [t.outcome for t in v.targets] == ["PASS", "NOTHING CHECKED"]
    assert v.outcome == "NOTHING CHECKED"
    assert v.to_dict()["targets"][1]["exit_code"] == 3
