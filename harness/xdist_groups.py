"""pytest-xdist's ``loadgroup`` made to hold under every pytest the harness supports.

The harness plugin marks each check with an ``xdist_group`` (one op on one target, one
workload); the controller schedules by the ``@<group>`` suffix of a test's node id, which the
worker must add.
"""

from __future__ import annotations

import pytest


class GroupTags:
    """A plugin of one hook, registered on pytest-xdist workers by the harness plugin."""

    @pytest.hookimpl(trylast=True)  # after xdist's own tagging, which may not have taken
    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        tag_groups(config, items)


def tag_groups(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On a pytest-xdist worker under ``loadgroup``, make sure each grouped test's node id
    ends in ``@<group>``: that suffix is all the controller schedules by.

    pytest-xdist (3.8) tags by assigning ``item._nodeid``; pytest 9.2 keeps the node id in
    ``item._id`` instead, so the assignment is lost and every group silently spreads over
    the workers (measured: a training case's reference run trained once per worker, its
    accuracy test 16 s instead of 0). Here the suffix is set where the node id lives, once.
    """
    if not config.getvalue("loadgroup"):
        return
    for item in items:
        groups = sorted(
            str(m.args[0] if m.args else m.kwargs.get("name", "default"))
            for m in item.iter_markers("xdist_group")
        )
        suffix = "@" + "_".join(groups)
        # Not "@" in the id: a data-parallel target's name has one (torch:cpu@ddp2).
        if not groups or item.nodeid.endswith(suffix):
            continue
        tagged = item.nodeid + suffix
        if hasattr(item, "_id"):  # pytest >= 9.2: a structured NodeId
            try:
                from _pytest.nodeid import coerce_node_id
            except ImportError:  # a pytest that moved it: the groups spread, nothing breaks
                return
            item._id = coerce_node_id(tagged)
        else:  # older pytest: a string, where pytest-xdist's own assignment works too
            setattr(item, "_nodeid", tagged)  # noqa: B010
