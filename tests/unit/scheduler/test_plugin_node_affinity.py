"""NodeAffinity: nodeSelector and required terms (every operator), and preferred-term scoring."""

from __future__ import annotations

from typing import Any

import pytest
from schedtest import filter_status, make_node, make_pod, scores

from minik.scheduler.plugins.node_affinity import NodeAffinity

REJECTED = ("UnschedulableAndUnresolvable", ("node(s) didn't match Pod's node affinity/selector",))
LABELS = {"disk": "ssd", "zone": "a", "cores": "8"}


def required(*terms: list[dict[str, Any]], fields: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    node_terms: list[dict[str, Any]] = [{"matchExpressions": t} for t in terms]
    if fields is not None:
        node_terms.append({"matchFields": fields})
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": node_terms}}}


def expr(key: str, operator: str, *values: str) -> dict[str, Any]:
    e: dict[str, Any] = {"key": key, "operator": operator}
    if values:
        e["values"] = list(values)
    return e


@pytest.mark.parametrize(("kw", "expected"), [
    ({}, None),
    ({"node_selector": {"disk": "ssd"}}, None),
    ({"node_selector": {"disk": "ssd", "zone": "a"}}, None),
    ({"node_selector": {"disk": "hdd"}}, REJECTED),
    ({"node_selector": {"gpu": "true"}}, REJECTED),
    ({"affinity": required([expr("disk", "In", "hdd", "ssd")])}, None),
    ({"affinity": required([expr("disk", "In", "hdd")])}, REJECTED),
    ({"affinity": required([expr("disk", "NotIn", "hdd")])}, None),
    ({"affinity": required([expr("disk", "NotIn", "ssd")])}, REJECTED),
    ({"affinity": required([expr("gpu", "NotIn", "true")])}, None),  # absent key is "not in"
    ({"affinity": required([expr("disk", "Exists")])}, None),
    ({"affinity": required([expr("gpu", "Exists")])}, REJECTED),
    ({"affinity": required([expr("gpu", "DoesNotExist")])}, None),
    ({"affinity": required([expr("disk", "DoesNotExist")])}, REJECTED),
    ({"affinity": required([expr("cores", "Gt", "4")])}, None),
    ({"affinity": required([expr("cores", "Gt", "8")])}, REJECTED),
    ({"affinity": required([expr("cores", "Lt", "16")])}, None),
    ({"affinity": required([expr("cores", "Lt", "8")])}, REJECTED),
    ({"affinity": required([expr("disk", "Gt", "4")])}, REJECTED),  # not an integer label
    ({"affinity": required([expr("cores", "Gt", "four")])}, REJECTED),  # invalid term matches nothing
    ({"affinity": required([expr("disk", "In", "ssd"), expr("zone", "In", "b")])}, REJECTED),  # AND
    ({"affinity": required([expr("zone", "In", "b")], [expr("disk", "In", "ssd")])}, None),  # OR
    ({"affinity": required([])}, REJECTED),  # an empty term matches nothing
    ({"affinity": required(fields=[expr("metadata.name", "In", "node-1")])}, None),
    ({"affinity": required(fields=[expr("metadata.name", "NotIn", "node-1")])}, REJECTED),
    ({"node_selector": {"disk": "ssd"}, "affinity": required([expr("zone", "In", "b")])}, REJECTED),  # both apply
    ({"affinity": {"nodeAffinity": {}}}, None),
], ids=["nothing", "selector", "selector-two", "selector-value", "selector-missing", "in", "in-miss", "notin",
        "notin-miss", "notin-absent", "exists", "exists-miss", "doesnotexist", "doesnotexist-miss", "gt", "gt-equal",
        "lt", "lt-equal", "gt-non-integer-label", "gt-invalid", "and", "or", "empty-term", "field-in",
        "field-notin", "selector-and-affinity", "no-required"])
def test_filter(kw: dict[str, Any], expected: Any) -> None:
    assert filter_status(NodeAffinity(), make_pod(**kw), make_node("node-1", labels=LABELS)) == expected


def test_preferred_terms_score_by_weight() -> None:
    nodes = [make_node("ssd", labels={"disk": "ssd"}), make_node("ssd-a", labels={"disk": "ssd", "zone": "a"}),
             make_node("plain")]
    affinity = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 10, "preference": {"matchExpressions": [expr("disk", "In", "ssd")]}},
        {"weight": 30, "preference": {"matchExpressions": [expr("zone", "In", "a")]}},
        {"weight": 50, "preference": {}},  # empty preference matches nothing
    ]}}
    assert scores(NodeAffinity(), make_pod(affinity=affinity), nodes) == {"ssd": 25, "ssd-a": 100, "plain": 0}
    assert scores(NodeAffinity(), make_pod(), nodes) is None  # nothing preferred: skipped
