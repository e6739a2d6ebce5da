"""NodeUnschedulable: cordoned nodes reject pods unless they tolerate the unschedulable taint."""

from __future__ import annotations

from typing import Any

import pytest
from schedtest import filter_status, make_node, make_pod

from minik.scheduler.plugins.node_unschedulable import NodeUnschedulable

REJECTED = ("UnschedulableAndUnresolvable", ("node(s) were unschedulable",))
UNSCHEDULABLE_TOLERATION = {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}


@pytest.mark.parametrize(("tolerations", "unschedulable", "expected"), [
    (None, None, None),
    (None, False, None),
    (None, True, REJECTED),
    ([UNSCHEDULABLE_TOLERATION], True, None),
    ([{"operator": "Exists"}], True, None),  # tolerates everything
    ([{"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoExecute"}], True, REJECTED),
    ([{"key": "other", "operator": "Exists"}], True, REJECTED),
], ids=["schedulable", "explicitly-schedulable", "cordoned", "tolerates-unschedulable", "tolerates-all",
        "wrong-effect", "wrong-key"])
def test_filter(tolerations: list[dict[str, Any]] | None, unschedulable: bool | None, expected: Any) -> None:
    pod = make_pod(tolerations=tolerations)
    node = make_node(unschedulable=unschedulable)
    assert filter_status(NodeUnschedulable(), pod, node) == expected
