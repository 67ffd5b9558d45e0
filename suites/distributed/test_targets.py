"""Data-parallel targets in discovery and selection: the ``backend:device@<scheme><N>``
grammar, decided by ``Capabilities.data_parallel``; bare names and the default selection
keep meaning the single-process targets; op checks on a data-parallel target skip with a
reason instead of repeating the single-process ones."""

from __future__ import annotations

import numpy as np
import pytest

from harness import discovery, parallel
from harness.contract import Unsupported


def _dp_backends() -> list[discovery.Target]:
    return [
        t for t in discovery.all_targets(data_parallel=True)
        if not t.world_size and t.device != "*" and t.backend.capabilities.data_parallel
    ]  # fmt: skip


def test_every_data_parallel_backend_is_listed_at_its_world_sizes() -> None:
    """Each device of a backend with a scheme appears as ``device@<scheme><N>``."""
    names = {t.name for t in discovery.all_targets(data_parallel=True)}
    bases = _dp_backends()
    assert bases, "no backend declares a data-parallel scheme"
    for t in bases:
        caps = t.backend.capabilities
        for n in caps.world_sizes:
            assert f"{t.name}@{caps.data_parallel}{n}" in names


def test_bare_names_and_the_default_selection_exclude_data_parallel_targets() -> None:
    """``torch`` means what it meant before; so does selecting nothing."""
    assert not [t for t in discovery.select("").targets if t.world_size]
    for t in _dp_backends():
        assert not [x for x in discovery.select(t.backend_name).targets if x.world_size]


def test_any_world_size_can_be_named() -> None:
    """An unlisted ``N`` resolves through the backend's status, with the rank count."""
    base = next(t for t in _dp_backends() if t.available)
    scheme = base.backend.capabilities.data_parallel
    target = discovery.get_target(f"{base.name}@{scheme}3")
    assert target.world_size == 3 and target.name == f"{base.name}@{scheme}3"
    assert discovery.select(target.name).targets == [target]
    assert target.describe()["world_size"] == 3


@pytest.mark.parametrize("suffix", ["@nope2", "@ddp", "@shardx"])
def test_an_unknown_scheme_is_an_error_listing_the_grammar(suffix: str) -> None:
    """A wrong scheme or a missing N is an unknown target; the message shows the grammar."""
    base = _dp_backends()[0]
    with pytest.raises(discovery.UnknownTargetError, match=r"backend:device@<scheme><N>"):
        discovery.select(f"{base.name}{suffix}", option="--targets")


def test_parse_and_name_round_trip() -> None:
    """``cpu@ddp2`` <-> ``("cpu", "ddp", 2)``; plain devices are not data-parallel."""
    assert parallel.parse_device("cpu@ddp2") == ("cpu", "ddp", 2)
    assert parallel.dp_device("cuda", "ddp", 8) == "cuda@ddp8"
    assert parallel.parse_device("cpu") is None


def test_op_checks_on_a_data_parallel_target_skip_with_a_reason() -> None:
    """No op is offered, each with the reason; the VJP says so too."""
    target = next(t for t in discovery.all_targets(data_parallel=True) if t.world_size)
    assert dict(target.backend.ops()) == {}
    reasons = target.backend.unsupported_reasons()
    assert reasons and all("data-parallel training only" in r for r in reasons.values())
    with pytest.raises(Unsupported, match="data-parallel training only"):
        target.backend.vjp(lambda x: x, [], np.zeros(()), device=target.device)


def test_the_shard_rule_is_contiguous_and_covers_every_row_once() -> None:
    """Shards of 7 rows on 2 ranks: rows 0-3 and 4-6; of 1 row on 2: one empty shard."""
    rows = np.arange(10, 17)
    assert [list(parallel.shard(rows, r, 2)) for r in range(2)] == [[10, 11, 12, 13], [14, 15, 16]]
    assert [len(parallel.shard(rows[:1], r, 2)) for r in range(2)] == [1, 0]


def test_the_worker_timeout_is_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    """``$HARNESS_WORKER_TIMEOUT`` must be a positive number; the message names it."""
    monkeypatch.setenv(parallel.ENV_TIMEOUT, "soon")
    with pytest.raises(ValueError, match=r"\$HARNESS_WORKER_TIMEOUT must be a positive number"):
        parallel.timeout_s()
    monkeypatch.setenv(parallel.ENV_TIMEOUT, "12.5")
    assert parallel.timeout_s() == 12.5


def test_harness_backends_lists_data_parallel_targets(capsys: pytest.CaptureFixture[str]) -> None:
    """``harness backends`` shows the listed data-parallel targets with their rank count, and
    a named unlisted world size too; the default selection elsewhere still excludes them."""
    import json

    from harness.cli import main

    assert main(["backends", "--json"]) == 0
    rows = {r["target"]: r for r in json.loads(capsys.readouterr().out)}
    dp = [t for t in discovery.all_targets(data_parallel=True) if t.world_size]
    assert dp and all(rows[t.name]["world_size"] == t.world_size for t in dp)
    base = next(t for t in _dp_backends() if t.available)
    name = f"{base.name}@{base.backend.capabilities.data_parallel}5"
    assert main(["backends", "--targets", name]) == 0
    table = capsys.readouterr().out.splitlines()
    assert "ranks" in table[0] and table[1].split()[0] == name and " 5 " in table[1]
