"""``harness compare`` through the real entry point: defaults, outputs, verdicts, bad input."""

from __future__ import annotations

import csv
import importlib.util
import math
import os
import subprocess
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from harness import discovery
from harness import plan as plan_mod

from . import fake_backends
from .conftest import (
    assert_usage_error,
    error_lines,
    harness_command,
    load_report,
    only_run_dir,
    png_size,
    run_concurrently,
    run_harness,
    strict_json,
    subprocess_env,
)

REFERENCE = discovery.default_reference()
needs_reference = pytest.mark.skipif(
    REFERENCE is None, reason="no available target volunteers as the reference"
)

SUMMARY_KEYS = {
    "ok",
    "exit_code",
    "reference_nonfinite",
    "run_dir",
    "reference",
    "targets",
    "modes",
    "dtype",
    "target_loss",
    "rows",
    "versus",
    "skipped",
}
ROW_KEYS = {
    "target",
    "mode",
    "reference",
    "status",
    "verdict",
    "final_train_loss",
    "final_test_acc",
    "median_epoch_s",
    "steps_to_target",
    "seconds_to_target",
    "max_abs_diff",
    "max_rel_diff",
    "first_diverging_step",
    "nonfinite_step",
    "nonfinite_in",
    "baseline",
    "divergence",
    "summary",
}
REPORT_KEYS = {
    "schema",
    "run_id",
    "command",
    "started_utc",
    "finished_utc",
    "config",
    "workloads",
    "target_loss",
    "versions",
    "backends",
    "machine",
    "skipped",
    "runs",
    "summary",
    "threads",
}
BREAST_CANCER_TRAIN_ROWS = 455  # 80 % of 569, stratified
MINIBATCH_STEPS_PER_EPOCH = math.ceil(BREAST_CANCER_TRAIN_ROWS / 32)


def expected_targets(dtype: str = "float32") -> list[str]:
    """Every target the default selection must train: the reference first."""
    assert REFERENCE is not None
    able = [t.name for t in discovery.all_targets() if not plan_mod.cannot_train(t, dtype)]
    return [REFERENCE.name, *[n for n in able if n != REFERENCE.name]]


# -- the commands that train or discover, run side by side once -----------------------------

UNAVAILABLE = [t for t in discovery.all_targets() if not t.available and t.device != "*"]


FAKE_RUNS = ("faulty", "notrain")
"""The runs that see the fake backends (every other run must not: they join "every target")."""


@pytest.fixture(scope="module")
def runs(
    tmp_path_factory: pytest.TempPathFactory, fake_plugins: Path | None
) -> dict[str, dict[str, Any]]:
    """Every slow command of this module, run concurrently: name -> {proc, out}.

    ``default`` is ``harness compare`` with no arguments at all, in an empty working folder.
    """
    if REFERENCE is None:
        pytest.skip("no available target volunteers as the reference")
    root = tmp_path_factory.mktemp("runs")
    ref = REFERENCE.name
    small = ["--epochs", "3", "--json", "--no-plots"]
    plan: dict[str, list[str]] = {
        "json0": ["compare", *small],
        "json1": ["compare", *small],
        "nan": ["compare", "--targets", ref, "--lr", "1e38", "--epochs", "3"],
        "unknown_target": ["compare", "--targets", "nope"],
        "unknown_reference": ["compare", "--reference", "nope:cpu"],
    }
    if UNAVAILABLE:
        plan["unavailable"] = ["compare", "--targets", UNAVAILABLE[0].name]
    fakes: list[Path] = [fake_plugins] if fake_plugins is not None else []
    if fakes:
        plan["faulty"] = ["compare", "--targets", "wronglr,nanny,crashy", *small]
        plan["notrain"] = ["compare", "--targets", "notrain"]
    launches: dict[str, tuple[list[str], Path | None, Sequence[Path]]] = {
        name: ([*args, "--out", str(root / name)], None, fakes if name in FAKE_RUNS else [])
        for name, args in plan.items()
    }
    (root / "default").mkdir()
    launches["default"] = (["compare"], root / "default", [])
    done = run_concurrently(launches)
    out = {name: {"proc": proc, "out": root / name} for name, proc in done.items()}
    out["default"]["out"] = root / "default" / "results" / "runs"
    return out


@pytest.fixture(scope="module")
def default_run(runs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The no-argument run: its process, base folder, run folder and report."""
    base = runs["default"]["out"]
    assert base.is_dir(), runs["default"]["proc"].stderr
    run_dir = only_run_dir(base)
    return {
        "proc": runs["default"]["proc"],
        "base": base,
        "dir": run_dir,
        "report": load_report(run_dir),
    }


@needs_reference
def test_default_run_agrees_and_prints_one_table_per_mode(default_run: dict[str, Any]) -> None:
    proc = default_run["proc"]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "full batch: 1 step(s)/epoch x 100 epochs" in out
    assert f"mini-batch: {MINIBATCH_STEPS_PER_EPOCH} step(s)/epoch x 100 epochs" in out
    for name in expected_targets():
        assert name in out
    assert "target loss reached" in out
    assert "OK: every target agrees with" in out
    assert "\x1b[" not in out, "no progress bars or colours when stdout is not a terminal"
    assert (
        f"wrote {default_run['dir']}" in out
        or f"wrote results/runs/{default_run['dir'].name}" in out
    )


@needs_reference
def test_default_configuration_is_recorded(default_run: dict[str, Any]) -> None:
    rep = default_run["report"]
    assert set(rep) == REPORT_KEYS
    assert rep["schema"] == "harness.compare/1"
    cfg = rep["config"]
    assert cfg["dataset"] == "breast_cancer"
    assert cfg["model"] == "logreg"
    assert cfg["optimizer"] == "sgd"
    assert cfg["lr"] == 0.1
    assert cfg["epochs"] == 100
    assert cfg["batch_size"] == 32
    assert cfg["dtype"] == "float32"
    assert cfg["modes"] == ["batch", "minibatch"]
    assert cfg["seeds"]["seed"] == 0
    assert cfg["seeds"]["init_params"] == [0, 1]
    assert cfg["seeds"]["batch_order"] == [0, 2]
    assert cfg["reference"] == REFERENCE.name  # type: ignore[union-attr]
    assert cfg["targets"] == expected_targets()
    assert rep["workloads"]["batch"]["batch_size"] == BREAST_CANCER_TRAIN_ROWS
    assert rep["workloads"]["minibatch"]["batch_size"] == 32
    assert rep["run_id"] == default_run["dir"].name


@needs_reference
def test_versions_and_machine_are_recorded(default_run: dict[str, Any]) -> None:
    rep = default_run["report"]
    versions = rep["versions"]
    for dist in ("numpy", "torch", "jax", "jaxlib", "scikit-learn", "matplotlib"):
        try:
            installed = metadata.version(dist)
        except metadata.PackageNotFoundError:
            assert dist not in versions
        else:
            assert versions[dist] == installed
    assert versions["python"].count(".") == 2
    m = rep["machine"]
    assert {"cpu", "cores", "gpus", "os", "python"} <= set(m)
    assert m["cores"] == os.cpu_count()
    assert m["gpus"] == "none" or (isinstance(m["gpus"], list) and m["gpus"])
    assert set(rep["backends"]) == set(expected_targets())


@needs_reference
def test_every_run_has_its_history_timings_and_verdict(default_run: dict[str, Any]) -> None:
    rep = default_run["report"]
    runs = rep["runs"]
    assert [(r["target"], r["mode"]) for r in runs] == [
        (t, m) for t in expected_targets() for m in ("batch", "minibatch")
    ]
    steps = {"batch": 100, "minibatch": 100 * MINIBATCH_STEPS_PER_EPOCH}
    for r in runs:
        assert r["status"] == "ok", r["error"]
        assert r["reference"] == (r["target"] == REFERENCE.name)  # type: ignore[union-attr]
        h = r["history"]
        assert len(h["step_loss"]) == steps[r["mode"]]
        assert len(h["epoch_train_loss"]) == len(h["epoch_test_acc"]) == 100
        assert len(h["elapsed_s"]) == 100
        assert all(b > a for a, b in zip(h["elapsed_s"], h["elapsed_s"][1:], strict=False))
        t = r["timings"]
        assert len(t["epoch_s"]) == 100
        assert {"wall_s", "compile_s", "first_epoch_s", "steady_epoch_s", "train_s"} <= set(t)
        assert t["wall_s"] >= t["train_s"] > 0
        v = r["comparison"]
        assert v["agrees"] is True and v["first_diverging_step"] is None
        assert v["steps"] == steps[r["mode"]]
        assert r["verdict"] == "agrees"
        # The learning path: the loss falls and the classifier beats chance by far.
        assert h["epoch_train_loss"][-1] < 0.5 * h["epoch_train_loss"][0]
        assert h["epoch_test_acc"][-1] > 0.9


@needs_reference
def test_target_loss_and_steps_to_target_follow_their_definition(
    default_run: dict[str, Any],
) -> None:
    rep = default_run["report"]
    ref_runs = [r for r in rep["runs"] if r["reference"]]
    finals = [r["history"]["epoch_train_loss"][-1] for r in ref_runs]
    goal = rep["target_loss"]["value"]
    assert goal == pytest.approx(1.1 * max(finals), rel=1e-12)
    assert rep["target_loss"]["factor"] == 1.1
    assert "reference" in rep["target_loss"]["definition"]
    for r in rep["runs"]:
        losses = r["history"]["epoch_train_loss"]
        first = next(e for e, loss in enumerate(losses) if loss <= goal)
        per_epoch = 1 if r["mode"] == "batch" else MINIBATCH_STEPS_PER_EPOCH
        assert r["epochs_to_target"] == first + 1
        assert r["steps_to_target"] == (first + 1) * per_epoch
        assert r["seconds_to_target"] == pytest.approx(r["history"]["elapsed_s"][first])
    summary = rep["summary"]
    assert set(summary) == SUMMARY_KEYS
    assert summary["ok"] is True and summary["exit_code"] == 0
    for v in summary["versus"]:
        assert v["first_in_steps"] in ("batch", "minibatch", "tie")
        assert v["first_in_seconds"] in ("batch", "minibatch", "tie")


@needs_reference
def test_default_plots_are_real_pngs_of_the_documented_size(default_run: dict[str, Any]) -> None:
    for name in ("loss_vs_epoch.png", "loss_vs_time.png"):
        assert png_size(default_run["dir"] / name) == (1200, 450)


@needs_reference
def test_curves_csv_is_long_format_and_matches_the_report(default_run: dict[str, Any]) -> None:
    rep = default_run["report"]
    with open(default_run["dir"] / "curves.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["target", "mode", "unit", "index", "metric", "value", "elapsed_s"]
    expected = sum(len(r["history"]["step_loss"]) + 2 * 100 for r in rep["runs"])
    assert len(rows) == expected
    run = rep["runs"][-1]
    steps = [
        float(x["value"])
        for x in rows
        if (x["target"], x["mode"], x["metric"]) == (run["target"], run["mode"], "batch_loss")
    ]
    assert steps == run["history"]["step_loss"]
    acc = [
        (int(x["index"]), float(x["value"]), float(x["elapsed_s"]))
        for x in rows
        if (x["target"], x["mode"], x["metric"]) == (run["target"], run["mode"], "test_acc")
    ]
    assert [a[0] for a in acc] == list(range(1, 101))
    assert [a[1] for a in acc] == run["history"]["epoch_test_acc"]
    assert [a[2] for a in acc] == pytest.approx(run["history"]["elapsed_s"])


@needs_reference
def test_nothing_but_the_run_folder_is_left(default_run: dict[str, Any]) -> None:
    assert sorted(p.name for p in default_run["base"].iterdir()) == [default_run["dir"].name]
    assert sorted(p.name for p in default_run["dir"].iterdir()) == [
        "curves.csv",
        "loss_vs_epoch.png",
        "loss_vs_time.png",
        "report.html",
        "report.json",
        "scaled_difference.png",
    ]


# -- small runs -------------------------------------------------------------------------------


@needs_reference
def test_json_output_is_valid_documented_and_the_same_seed_gives_the_same_numbers(
    runs: dict[str, dict[str, Any]],
) -> None:
    reports = []
    for name in ("json0", "json1"):
        proc, out = runs[name]["proc"], runs[name]["out"]
        assert proc.returncode == 0, proc.stderr
        doc = strict_json(proc.stdout)  # stdout is the JSON document and nothing else
        assert set(doc) == SUMMARY_KEYS
        assert all(set(row) == ROW_KEYS for row in doc["rows"])
        assert doc["ok"] is True and doc["exit_code"] == 0
        assert doc["targets"] == expected_targets()
        assert len(doc["rows"]) == 2 * len(doc["targets"])
        run_dir = Path(doc["run_dir"])
        assert run_dir.parent == out and run_dir.is_dir()
        assert not list(run_dir.glob("*.png")), "--no-plots writes no PNG"
        reports.append(load_report(run_dir))
    first, second = reports
    assert first["run_id"] != second["run_id"]
    for a, b in zip(first["runs"], second["runs"], strict=True):
        assert (a["target"], a["mode"]) == (b["target"], b["mode"])
        assert a["history"]["step_loss"] == b["history"]["step_loss"]
        assert a["history"]["epoch_train_loss"] == b["history"]["epoch_train_loss"]
        assert a["history"]["epoch_test_acc"] == b["history"]["epoch_test_acc"]
    assert first["target_loss"]["value"] == second["target_loss"]["value"]


@needs_reference
@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_progress_bars_on_a_terminal_one_mode_plot_and_tensorboard(tmp_path: Path) -> None:
    import pty

    ref = REFERENCE.name  # type: ignore[union-attr]
    tensorboard = importlib.util.find_spec("tensorboardX") is not None
    args = ["compare", "--targets", ref, "--mode", "batch", "--epochs", "2", "--out", "out"]
    if tensorboard:
        args += ["--tensorboard", "tb"]
    leader, follower = pty.openpty()
    env = subprocess_env(env={"COLUMNS": "120"})
    proc = subprocess.Popen(
        [*harness_command(), *args],
        cwd=tmp_path,
        stdin=follower,
        stdout=follower,
        stderr=subprocess.PIPE,
        env=env,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # the terminal closes when the process exits
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    rc = proc.wait(timeout=600)
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    out = b"".join(chunks).decode(errors="replace")
    assert rc == 0, out + stderr
    assert f"{ref} full batch" in out and "2/2" in out and "epochs" in out, out
    run_dir = only_run_dir(tmp_path / "out")
    assert png_size(run_dir / "loss_vs_epoch.png") == (600, 450)
    assert png_size(run_dir / "loss_vs_time.png") == (600, 450)
    rep = load_report(run_dir)
    assert rep["config"]["modes"] == ["batch"] and rep["summary"]["versus"] == []
    if tensorboard:
        events = list((tmp_path / "tb" / run_dir.name).rglob("events.out.tfevents.*"))
        assert len(events) == 1 and events[0].stat().st_size > 0
        assert events[0].parent.name == "batch"


@needs_reference
def test_a_huge_learning_rate_is_non_finite_at_the_nan_step_not_a_crash(
    runs: dict[str, dict[str, Any]],
) -> None:
    proc, out = runs["nan"]["proc"], runs["nan"]["out"]
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert "non-finite" in proc.stdout and "FAIL" in proc.stdout
    assert "diverges" not in proc.stdout
    assert "cannot judge: the reference" in proc.stdout
    assert "\x1b[" not in proc.stdout
    rep = load_report(only_run_dir(out))
    assert rep["summary"]["ok"] is False and rep["summary"]["exit_code"] == 1
    for r in rep["runs"]:
        v = r["comparison"]
        assert r["verdict"] == "non-finite"
        assert v["nonfinite_in"] == "both"
        assert v["nonfinite_step"] is not None
        assert v["first_diverging_step"] == v["nonfinite_step"]
        assert r["history"]["step_loss"][v["nonfinite_step"]] is None  # NaN -> null
        assert all(x is not None for x in r["history"]["step_loss"][: v["nonfinite_step"]])
    assert rep["target_loss"]["value"] is None
    assert set(rep["summary"]["reference_nonfinite"]) == {"batch", "minibatch"}
    assert all(row["final_test_acc"] is None for row in rep["summary"]["rows"])


@needs_reference
def test_faulty_backends_diverge_where_the_fault_is(runs: dict[str, dict[str, Any]]) -> None:
    if "faulty" not in runs:
        pytest.skip("the fake backends wrap PyTorch, which is not installed")
    proc = runs["faulty"]["proc"]
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    doc = strict_json(proc.stdout)
    assert doc["ok"] is False and doc["exit_code"] == 1
    rows = {(r["target"], r["mode"]): r for r in doc["rows"]}
    assert set(rows) == {
        (t, m)
        for t in (doc["reference"], "wronglr:cpu", "nanny:cpu", "crashy:cpu")
        for m in ("batch", "minibatch")
    }
    for mode in ("batch", "minibatch"):
        assert rows[(doc["reference"], mode)]["verdict"] == "agrees"
        wrong = rows[("wronglr:cpu", mode)]
        # Step 0 is the loss of the shared initial parameters; the first update differs.
        assert wrong["verdict"] == "diverges"
        assert wrong["first_diverging_step"] == 1 and wrong["nonfinite_step"] is None
        nan = rows[("nanny:cpu", mode)]
        assert nan["verdict"] == "non-finite" and nan["nonfinite_in"] == "run"
        assert nan["first_diverging_step"] == nan["nonfinite_step"] == fake_backends.NAN_STEP
        assert "non-finite" in nan["summary"]
        crash = rows[("crashy:cpu", mode)]
        assert crash["status"] == "error" and crash["verdict"] == "error"
        assert "simulated crash" in crash["summary"]


# -- bad input: exit 2, one line naming the valid choices, nothing written ------------------

FAST_BAD_INPUT = [
    (["--dataset", "iris"], "valid choices: breast_cancer, digits, synthetic:NxD"),
    (["--dataset", "synthetic:5x1"], "valid choices: breast_cancer, digits, synthetic:NxD"),
    (["--model", "resnet"], "valid choices: logreg, mlp:H1,H2,..."),
    (["--model", "gpt"], "valid choices for it: logreg, mlp:H1,H2,..., cnn, cnn-bn"),
    (["--optimizer", "rmsprop"], "valid choices: sgd, momentum, nesterov, adam"),
    (["--mode", "half"], "valid choices: batch, minibatch, both"),
    (["--dtype", "float16"], "valid choices: float32, float64"),
    (["--epochs", "0"], "--epochs must be an integer >= 1"),
    (["--epochs", "-3"], "--epochs must be an integer >= 1"),
    (["--epochs", "ten"], "--epochs must be an integer >= 1"),
    (["--lr", "0"], "--lr must be a positive number"),
    (["--lr", "-0.5"], "--lr must be a positive number"),
    (["--lr", "nan"], "--lr must be a positive number"),
    (["--batch-size", "456"], f"training set size ({BREAST_CANCER_TRAIN_ROWS})"),
    (["--batch-size", "0"], "--batch-size must be an integer >= 1"),
    (["--seed", "-1"], "--seed must be an integer >= 0"),
]


@pytest.mark.parametrize(("args", "fragment"), FAST_BAD_INPUT, ids=lambda x: str(x))
def test_bad_input_is_a_usage_error(args: list[str], fragment: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = run_harness("compare", *args, "--out", str(out))
    assert_usage_error(proc, fragment, out)


def test_batch_size_is_checked_against_the_training_set_of_the_chosen_dataset(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    proc = run_harness(
        "compare", "--dataset", "synthetic:100x4", "--batch-size", "81", "--out", str(out)
    )
    assert_usage_error(proc, "training set size (80)", out)


def test_an_unwritable_output_folder_is_a_usage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    out = blocker / "runs"
    proc = run_harness("compare", "--out", str(out))
    assert_usage_error(proc, "is not a folder", out)
    assert blocker.read_text() == "not a folder"


@pytest.mark.skipif(
    sys.platform == "win32" or os.geteuid() == 0, reason="root ignores folder permissions"
)
def test_a_read_only_output_folder_is_a_usage_error(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        proc = run_harness("compare", "--out", str(ro / "runs"))
        assert_usage_error(proc, "is not writable", ro / "runs")
        assert list(ro.iterdir()) == []
    finally:
        ro.chmod(0o700)


def test_missing_tensorboardx_is_a_clear_usage_error(tmp_path: Path) -> None:
    shadow = tmp_path / "shadow"
    (shadow / "tensorboardX").mkdir(parents=True)
    (shadow / "tensorboardX" / "__init__.py").write_text(
        'raise ImportError("simulated: tensorboardX is not installed")\n'
    )
    out, tb = tmp_path / "out", tmp_path / "tb"
    proc = run_harness("compare", "--tensorboard", str(tb), "--out", str(out), extra_path=[shadow])
    assert_usage_error(proc, "pip install", out)
    assert not tb.exists()


@needs_reference
def test_unknown_targets_and_references_list_the_valid_ones(
    runs: dict[str, dict[str, Any]],
) -> None:
    r = runs["unknown_target"]
    assert_usage_error(r["proc"], "unknown target 'nope'; valid targets: ", r["out"])
    assert REFERENCE.name in error_lines(r["proc"])[0]  # type: ignore[union-attr]
    r = runs["unknown_reference"]
    assert_usage_error(r["proc"], "unknown target 'nope:cpu'; valid targets: ", r["out"])


@pytest.mark.skipif(not UNAVAILABLE, reason="every device of every backend is available here")
def test_an_unavailable_target_named_explicitly_is_a_usage_error(
    runs: dict[str, dict[str, Any]],
) -> None:
    r = runs["unavailable"]
    name = UNAVAILABLE[0].name
    assert_usage_error(r["proc"], f"target {name} is not available", r["out"])
    assert "available targets:" in error_lines(r["proc"])[0]


@needs_reference
def test_a_target_that_cannot_train_is_a_usage_error(runs: dict[str, dict[str, Any]]) -> None:
    if "notrain" not in runs:
        pytest.skip("the fake backends wrap PyTorch, which is not installed")
    r = runs["notrain"]
    assert_usage_error(r["proc"], "does not implement training", r["out"])
    assert REFERENCE.name in error_lines(r["proc"])[0]  # type: ignore[union-attr]
