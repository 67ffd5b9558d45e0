"""How a run is shown: non-finite outcomes, the differential plot, report.html, the schema,
and ``harness diff`` between two saved run folders."""

from __future__ import annotations

import copy
import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from harness import discovery, schemas
from harness.contract import History
from harness.trajectory import TOLERANCES, compare, scaled_differences

from .. import browser
from ..browser import needs_browser
from .conftest import load_report, only_run_dir, png_size, run_concurrently, run_harness

REFERENCE = discovery.default_reference()
needs_reference = pytest.mark.skipif(
    REFERENCE is None, reason="no available target volunteers as the reference"
)


def _history(step_loss: list[float]) -> History:
    n = len(step_loss)
    return History(
        step_loss=np.asarray(step_loss, dtype=np.float64),
        epoch_train_loss=np.ones(n),
        epoch_test_acc=np.ones(n),
        final_params=[np.zeros(2)],
        epoch_s=np.ones(n),
    )


# -- the verdict: non-finite apart from diverges (fast, no subprocess) ----------------------


def test_a_blow_up_at_the_same_step_as_the_reference_is_non_finite_in_both() -> None:
    v = compare(_history([1.0, 0.9, np.nan]), _history([1.0, 0.9, np.nan]), "float32")
    assert v.outcome == "non-finite" and v.nonfinite_in == "both"
    assert v.nonfinite_step == v.reference_nonfinite_step == v.run_nonfinite_step == 2
    assert "both" in v.summary()


def test_a_blow_up_in_the_run_only_is_non_finite_in_the_run() -> None:
    v = compare(_history([1.0, 0.9, 0.8]), _history([1.0, 0.9, np.inf]), "float32")
    assert (v.outcome, v.nonfinite_in, v.reference_nonfinite_step) == ("non-finite", "run", None)


def test_a_finite_disagreement_before_a_blow_up_diverges() -> None:
    v = compare(_history([1.0, 0.9, np.nan]), _history([1.0, 0.5, np.nan]), "float32")
    assert v.outcome == "diverges" and v.first_diverging_step == 1
    assert v.nonfinite_in == "both"


def test_scaled_differences_are_what_the_verdict_holds_against_the_tolerance() -> None:
    ref, got = [1.0, 1.0, 1.0], [1.0, 1.00005, 1.01]
    d = scaled_differences(np.array(ref), np.array(got), "float32")
    tol = TOLERANCES["float32"].rtol(np.arange(3))
    assert d == pytest.approx([0.0, 5e-5, 1e-2])
    v = compare(_history(ref), _history(got), "float32")
    assert v.first_diverging_step == int(np.argmax(d > tol)) == 2


# -- CLI runs, launched side by side once --------------------------------------------------


@pytest.fixture(scope="module")
def views(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """name -> (process, run folder): small runs with plots, a NaN run, a diff pair."""
    if REFERENCE is None:
        pytest.skip("no available target volunteers as the reference")
    root = tmp_path_factory.mktemp("views")
    others = [t.name for t in discovery.all_targets() if t.available and t.name != REFERENCE.name]
    targets = ",".join([REFERENCE.name, *others[:1]])
    base = ["compare", "--targets", targets, "--epochs", "3"]
    plan = {
        "a": base,
        "same": [*base, "--no-plots"],
        "lr": [*base, "--no-plots", "--lr", "0.2"],
        "nan": [*base, "--lr", "1e38"],
    }
    done = run_concurrently({k: ([*v, "--out", str(root / k)], None, []) for k, v in plan.items()})
    out: dict[str, Any] = {"root": root}
    for name, proc in done.items():
        assert (root / name).is_dir(), proc.stdout + proc.stderr
        out[name] = (proc, only_run_dir(root / name))
    return out


@needs_reference
def test_non_finite_run_says_so_and_exits_1(views: dict[str, Any]) -> None:
    proc, run_dir = views["nan"]
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "cannot judge: the reference" in proc.stdout
    assert "diverges" not in proc.stdout
    rep = load_report(run_dir)
    for row in rep["summary"]["rows"]:
        assert row["verdict"] == "non-finite" and row["nonfinite_in"] == "both"
        assert row["final_test_acc"] is None, "no accuracy beside a NaN loss"
    for line in proc.stdout.splitlines():
        if line.startswith(REFERENCE.name):  # type: ignore[union-attr]
            assert line.split()[3] == "-", line  # the test acc column


@needs_reference
def test_the_table_names_the_tolerance(views: dict[str, Any]) -> None:
    proc, _ = views["a"]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "tolerance (float32): step k agrees when" in proc.stdout
    assert "<= 0.0001 (k+1)^0.5" in proc.stdout


@needs_reference
def test_the_differential_plot_is_written(views: dict[str, Any]) -> None:
    _, run_dir = views["a"]
    assert png_size(run_dir / "scaled_difference.png") == (1200, 450)
    _, nan_dir = views["nan"]
    assert png_size(nan_dir / "loss_vs_epoch.png") == (1200, 450)


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str, str]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for k, v in attrs:
            if k in ("src", "href", "action", "data", "poster") and v is not None:
                self.refs.append((tag, k, v))
        if tag in ("script", "link", "iframe", "object", "embed"):
            self.refs.append((tag, "tag", ""))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def assert_self_contained(page: Path) -> _Refs:
    """No network and no missing file: every reference is a data: URI or a file beside it."""
    text = page.read_text()
    assert "http://" not in text and "https://" not in text
    assert "url(" not in text, "no CSS url() either"
    p = _Refs()
    p.feed(text)
    for tag, attr, value in p.refs:
        assert attr != "tag", f"<{tag}> would load something"
        assert value.startswith("data:") or (page.parent / value).is_file(), (tag, attr, value)
    return p


@needs_reference
def test_report_html_is_self_contained_with_verdict_command_and_plots(
    views: dict[str, Any],
) -> None:
    _, run_dir = views["a"]
    rep = load_report(run_dir)
    p = assert_self_contained(run_dir / "report.html")
    imgs = [v for t, a, v in p.refs if t == "img"]
    assert len(imgs) == 3 and all(v.startswith("data:image/png;base64,") for v in imgs)
    text = "".join(p.text)
    assert "OK: every target agrees with" in text
    assert " ".join(rep["command"]) in text
    assert rep["config"]["dataset"] in text and "tolerance (float32)" in text
    _, nan_dir = views["nan"]
    nan_text = "".join(assert_self_contained(nan_dir / "report.html").text)
    assert "FAIL" in nan_text and "non-finite" in nan_text
    _, same_dir = views["same"]
    assert "no plots" in "".join(assert_self_contained(same_dir / "report.html").text)


@needs_reference
@needs_browser
def test_report_html_renders_offline_in_headless_chromium(
    views: dict[str, Any], tmp_path: Path
) -> None:
    _, run_dir = views["a"]
    url = (run_dir / "report.html").as_uri()
    shot = tmp_path / "shot.png"
    browser.screenshot(url, shot, tmp_path / "profile", size=(1300, 2000))
    assert png_size(shot) == (1300, 2000)
    pixels = _png_pixels(shot)
    assert len(np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0)) > 50, "blank page"
    # Script-free page: the DOM after load tells whether each image decoded.
    dom = browser.dump_dom(url, tmp_path / "profile")
    assert "OK: every target agrees with" in dom
    assert dom.count("<img") == 3


def _png_pixels(path: Path) -> np.ndarray:
    from matplotlib.image import imread

    return np.asarray(imread(str(path)))


@needs_reference
def test_every_report_fits_the_schema_and_a_broken_one_does_not(views: dict[str, Any]) -> None:
    _, run_dir = views["a"]
    rep = json.loads((run_dir / "report.json").read_text())
    schemas.validate(rep)
    broken = copy.deepcopy(rep)
    broken["runs"][0]["verdict"] = "kind of"
    with pytest.raises(ValueError, match="verdict"):
        schemas.validate(broken)
    broken = copy.deepcopy(rep)
    del broken["summary"]["rows"][0]["nonfinite_in"]
    with pytest.raises(ValueError, match="nonfinite_in"):
        schemas.validate(broken)


# -- harness diff --------------------------------------------------------------------------


@needs_reference
def test_diff_of_two_runs_with_the_same_seed_agrees(views: dict[str, Any]) -> None:
    proc = run_harness("diff", str(views["a"][1]), str(views["same"][1]))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "OK: the two runs agree" in proc.stdout and "config: same" in proc.stdout


@needs_reference
def test_diff_of_runs_with_another_lr_differs_and_says_where(views: dict[str, Any]) -> None:
    proc = run_harness("diff", str(views["a"][1]), str(views["lr"][1]), "--json")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["config"]["lr"] == [0.1, 0.2]
    assert all(not r["agrees"] and r["first_differing_step"] == 1 for r in doc["rows"])
    assert all(r["time_ratio"] is not None for r in doc["rows"])
    # Beside each verdict, run A's baseline: its reference's own float32 vs float64 difference.
    runs = json.loads((views["a"][1] / "report.json").read_text())["runs"]
    recorded = {(r["target"], r["mode"]): r["comparison"]["baseline"] for r in runs}
    assert all(r["baseline"] == recorded[(r["target"], r["mode"])] for r in doc["rows"])
    assert all(r["baseline"]["scaled_diff"] >= 0 for r in doc["rows"])
    text = run_harness("diff", str(views["a"][1]), str(views["lr"][1])).stdout
    assert "baseline A" in text and "float32 vs float64 on this case" in text, text


@needs_reference
def test_diff_refuses_bad_input(views: dict[str, Any], tmp_path: Path) -> None:
    a = views["a"][1]
    proc = run_harness("diff", str(a), str(tmp_path / "missing"))
    assert proc.returncode == 2 and "is not a folder" in proc.stderr
    proc = run_harness("diff", str(a), str(tmp_path))
    assert proc.returncode == 2 and "not a run folder" in proc.stderr
    other = tmp_path / "other"
    other.mkdir()
    rep = json.loads((a / "report.json").read_text())
    rep["config"]["epochs"] = 4
    rep["config"]["model"] = "mlp"
    (other / "report.json").write_text(json.dumps(rep))
    proc = run_harness("diff", str(a), str(other))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "different workloads" in proc.stderr
    assert "model" in proc.stderr and "epochs" in proc.stderr


# -- TensorBoard ---------------------------------------------------------------------------


def _events(path: Path) -> dict[str, list[Any]]:
    """tag -> summary values of one event file (TFRecord framing, Event protos)."""
    import struct

    from tensorboardX.proto import event_pb2

    data, i, tags = path.read_bytes(), 0, {}  # type: ignore[var-annotated]
    while i < len(data):
        (n,) = struct.unpack("<Q", data[i : i + 8])
        e = event_pb2.Event()
        e.ParseFromString(data[i + 12 : i + 12 + n])
        i += 12 + n + 4
        for v in e.summary.value:
            tags.setdefault(v.tag, []).append(v)
    return tags


@needs_reference
def test_tensorboard_gets_hparams_the_scaled_difference_and_the_verdict(tmp_path: Path) -> None:
    pytest.importorskip("tensorboardX")
    others = [t.name for t in discovery.all_targets() if t.available and t.name != REFERENCE.name]  # type: ignore[union-attr]
    if not others:
        pytest.skip("one target only: nothing to difference")
    targets = f"{REFERENCE.name},{others[0]}"  # type: ignore[union-attr]
    args = ["--targets", targets, "--mode", "batch", "--epochs", "2", "--no-plots"]
    proc = run_harness(
        "compare", *args, "--out", str(tmp_path / "out"), "--tensorboard", str(tmp_path / "tb")
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (event,) = (tmp_path / "tb").rglob(f"{others[0].replace(':', '_')}/batch/events.*")
    tags = _events(event)
    assert len(tags["scaled_difference"]) == len(tags["tolerance"]) == 2
    assert tags["tolerance"][0].simple_value == pytest.approx(1e-4)
    (text,) = tags["verdict/text_summary"]
    assert text.tensor.string_val[0].startswith(b"**agrees**")
    exp = tags["_hparams_/experiment"][0].metadata.plugin_data.content
    for name in (b"lr", b"dataset", b"optimizer", b"seed", b"target"):
        assert name in exp
    assert "hparam/max_scaled_diff" in tags
