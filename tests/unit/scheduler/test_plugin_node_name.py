"""NodeName: a pod naming its node fits only that node."""

from __future__ import annotations

from typing import Any

import pytest
from schedtest import filter_status, make_node, make_pod

from minik.scheduler.plugins.node_name import NodeName


@pytest.mark.parametrize(("node_name", "expected"), [
    (None, None),
    ("node-1", None),
    ("node-2", ("UnschedulableAndUnresolvable", ("node(s) didn't match the requested node name",))),
])
def test_filter(node_name: str | None, expected: Any) -> None:
    assert filter_status(NodeName(), make_pod(node_name=node_name), make_node("node-1")) == expected
