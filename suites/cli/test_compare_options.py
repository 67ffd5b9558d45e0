"""``harness compare`` options: threads, optimizer hyper-parameters, conflicts, progress lines."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.workload import DEFAULT_LR
from suites.cli.conftest import assert_usage_error, load_report, only_run_dir, run_harness

QUICK = ["--targets", "torch,numpy", "--epochs", "2", "--no-plots"]

CONFLICTS = [
    (["--mode", "batch", "--batch-size", "100"], "--batch-size applies to mini-batch only"),
    (["--optimizer", "sgd", "--betas", "0.8,0.9"], "--betas: adam options"),
    (["--optimizer", "momentum", "--eps", "1e-6"], "--eps: adam options"),
    (["--optimizer", "adam", "--momentum", "0.9"], "--momentum: SGD options"),
    (["--optimizer", "adam", "--nesterov"], "--nesterov: SGD options"),
    (["--optimizer", "sgd", "--nesterov"], "--nesterov needs --momentum > 0"),
    (["--optimizer", "nesterov", "--dampening", "0.1"], "--optimizer nesterov needs --dampening 0"),
    (["--nesterov", "--momentum", "0.9", "--dampening", "0.5"], "--nesterov needs --dampening 0"),
    (["--momentum", "-1"], "--momentum must be a number >= 0"),
    (["--dampening", "2"], "--dampening must be a number in [0, 1]"),
    (["--weight-decay", "x"], "--weight-decay must be a number >= 0"),
    (["--optimizer", "adam", "--betas", "0.9"], "--betas must be B1,B2"),
    (["--optimizer", "adam", "--betas", "0.9,1.0"], "--betas must be B1,B2"),
    (["--threads", "0"], "--threads must be an integer >= 1"),
    (["--activation", "tanh"], "--model logreg has none"),
    (["--model", "mlp:4", "--activation", "gelu"], "--activation must be one of relu, tanh"),
]


@pytest.mark.parametrize(("args", "fragment"), CONFLICTS, ids=lambda x: str(x))
def test_conflicting_or_bad_options_are_usage_errors(
    args: list[str], fragment: str, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    assert_usage_error(run_harness("compare", *args, "--out", str(out)), fragment, out)


def test_help_shows_the_defaults_and_every_learning_rate() -> None:
    text = " ".join(run_harness("compare", "--help").stdout.split())
    for name, lr in DEFAULT_LR.items():
        assert f"{name} {lr}" in text
    for option in (
        "--momentum",
        "--dampening",
        "--nesterov",
        "--weight-decay",
        "--betas",
        "--eps",
        "--threads",
        "--activation",
    ):
        assert option in text
    assert "default 0.9,0.999" in text and "default 1e-08" in text


def test_options_reach_the_workload_and_the_recorded_command(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = run_harness(
        "compare",
        *QUICK,
        "--optimizer",
        "sgd",
        "--momentum",
        "0.5",
        "--nesterov",
        "--weight-decay",
        "0.01",
        "--threads",
        "2",
        "--out",
        str(out),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rep = load_report(only_run_dir(out))
    opt = rep["workloads"]["minibatch"]["optimizer_params"]
    assert opt == {
        "kind": "sgd",
        "lr": 0.1,
        "momentum": 0.5,
        "dampening": 0.0,
        "nesterov": True,
        "weight_decay": 0.01,
        "betas": [0.9, 0.999],
        "eps": 1e-8,
    }
    cmd = rep["command"]
    assert "--targets=torch:cpu,numpy:cpu" in cmd
    for part in ("--momentum=0.5", "--nesterov", "--weight-decay=0.01", "--threads=2"):
        assert part in cmd
    threads = rep["threads"]
    assert threads["requested"] == 2 and threads["pinned"] == 2
    assert threads["env"]["OMP_NUM_THREADS"] == "2"
    assert threads["backends"]["torch"]["num_threads"] == 2


def test_activation_reaches_every_target_and_the_recorded_command(tmp_path: Path) -> None:
    losses = {}
    for act in ("relu", "tanh"):
        out = tmp_path / act
        args = ["--model", "mlp:4", "--activation", act, "--mode", "batch", "--out", str(out)]
        proc = run_harness("compare", *QUICK, *args)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        rep = load_report(only_run_dir(out))
        assert rep["workloads"]["batch"]["activation"] == act
        assert f"--activation={act}" in rep["command"]
        # Each target agrees with the reference, so it trained the same activation.
        assert {r["verdict"] for r in rep["runs"]} <= {"reference", "agrees"}
        losses[act] = {r["target"]: r["history"]["epoch_train_loss"][-1] for r in rep["runs"]}
    assert all(losses["relu"][t] != losses["tanh"][t] for t in losses["relu"])


def test_threads_default_to_one_and_targets_are_recorded_when_not_given(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = run_harness(
        "compare",
        "--epochs",
        "2",
        "--no-plots",
        "--optimizer",
        "adam",
        "--out",
        str(out),
        env={"OMP_NUM_THREADS": "", "OPENBLAS_NUM_THREADS": "", "MKL_NUM_THREADS": ""},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rep = load_report(only_run_dir(out))
    targets = [a for a in rep["command"] if a.startswith("--targets=")]
    assert targets == ["--targets=" + ",".join(rep["config"]["targets"])]
    assert "--betas=0.9,0.999" in rep["command"] and "--eps=1e-08" in rep["command"]
    threads = rep["threads"]
    assert threads["requested"] is None and threads["pinned"] == 1
    assert threads["backends"]["torch"]["num_threads"] == 1
    if threads["threadpools"] is not None:
        assert {p["num_threads"] for p in threads["threadpools"]} == {1}


# Six runs: the reference also trains in float64 (the one reference rule of trajectory.py).
LINE = re.compile(
    r"^\[(\d)/6\] (torch:cpu|numpy:cpu) (full batch|mini-batch)( float64)?: .+ \(\d+\.\d\d s\)$"
)


def test_without_a_terminal_one_progress_line_per_finished_run(tmp_path: Path) -> None:
    proc = run_harness("compare", *QUICK, "--out", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    progress = [m for m in map(LINE.match, lines[:6]) if m]
    assert [m.group(1) for m in progress] == ["1", "2", "3", "4", "5", "6"], lines[:6]
    assert "agrees" in lines[5]


def test_json_prints_no_progress_lines(tmp_path: Path) -> None:
    proc = run_harness("compare", *QUICK, "--json", "--out", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("{")


# -- the same options on harness check (one validation: plan.CompareConfig) ------------------

CHECK_REFUSES = [CONFLICTS[0], CONFLICTS[5], CONFLICTS[-1]]


@pytest.mark.parametrize(("args", "fragment"), CHECK_REFUSES, ids=lambda x: str(x))
def test_check_refuses_the_same_bad_options(args: list[str], fragment: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = run_harness("check", "--target", "numpy", *args, "--out", str(out))
    assert_usage_error(proc, fragment, out, command="check")


def test_check_pins_the_threads_it_is_given_and_records_them(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = run_harness(
        "check", "--target", "numpy", "--epochs", "2", "--no-plots", "--optimizer", "sgd",
        "--momentum", "0.5", "--threads", "2", "--quick", "--out", str(out),
        "--workers", "1", "--", "-k", "relu or breast_cancer-logreg-sgd-minibatch",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rep = load_report(only_run_dir(out))
    threads = rep["threads"]
    assert threads["requested"] == 2 and threads["pinned"] == 2
    assert threads["env"]["OMP_NUM_THREADS"] == "2"
    assert threads["backends"]["torch"]["num_threads"] == 2
    assert rep["workloads"]["minibatch"]["optimizer_params"]["momentum"] == 0.5
    assert "--threads=2" in rep["command"] and "--momentum=0.5" in rep["command"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--optimizer", "momentum", "--dampening", "0.5", "--weight-decay", "0.01"],
         {"kind": "sgd", "momentum": 0.9, "dampening": 0.5, "weight_decay": 0.01}),
        (["--optimizer", "adam", "--betas", "0.8,0.99", "--eps", "0.001"],
         {"kind": "adam", "betas": [0.8, 0.99], "eps": 0.001}),
    ],
)  # fmt: skip
def test_the_optimizer_fields_reach_the_workload(
    tmp_path: Path, args: list[str], expected: dict[str, object]
) -> None:
    """Each field the training suites' option cases train (suites/training) is settable here."""
    out = tmp_path / "out"
    proc = run_harness("compare", *QUICK, "--model", "mlp:8", "--activation", "tanh", *args,
                       "--out", str(out))  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    wl = load_report(only_run_dir(out))["workloads"]["minibatch"]
    assert wl["activation"] == "tanh"
    assert {k: wl["optimizer_params"][k] for k in expected} == expected
