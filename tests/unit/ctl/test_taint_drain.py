"""Taint specs and drain's pod filters, without a server."""

from __future__ import annotations

import pytest

from minik.ctl.commands.cordon import pods_to_evict
from minik.ctl.commands.taint import TaintSpec, parse_args, reorganize_taints
from minik.ctl.errors import CtlError


def test_parse_taint_arguments() -> None:
    resources, add, remove = parse_args(["nodes", "w1", "a=b:NoSchedule", "c:NoExecute", "d-", "e:NoSchedule-"])
    assert resources == ["nodes", "w1"]
    assert add == [TaintSpec("a", "b", "NoSchedule"), TaintSpec("c", "", "NoExecute")]
    assert remove == [TaintSpec("d", "", ""), TaintSpec("e", "", "NoSchedule")]
    with pytest.raises(CtlError, match="unsupported taint effect"):
        parse_args(["nodes", "w1", "a=b:Sometimes"])
    with pytest.raises(CtlError, match="all resources must be specified before taint changes"):
        parse_args(["nodes", "a=b:NoSchedule", "w1"])


def test_reorganize_taints() -> None:
    node = {"metadata": {"name": "w1"}, "spec": {"taints": [{"key": "a", "value": "1", "effect": "NoSchedule"},
                                                           {"key": "a", "effect": "NoExecute"}]}}
    with pytest.raises(CtlError, match=r"node w1 already has a taint\(s\) with same effect"):
        reorganize_taints(node, False, [TaintSpec("a", "2", "NoSchedule")], [])
    verb, taints = reorganize_taints(node, True, [TaintSpec("a", "2", "NoSchedule")], [])
    assert verb == "tainted"
    assert {"key": "a", "value": "2", "effect": "NoSchedule"} in taints and len(taints) == 2
    verb, taints = reorganize_taints(node, False, [], [TaintSpec("a", "", "")])
    assert (verb, taints) == ("untainted", [])
    verb, taints = reorganize_taints(node, False, [TaintSpec("b", "", "NoExecute")],
                                     [TaintSpec("a", "", "NoExecute")])
    assert verb == "modified" and [t["key"] for t in taints] == ["a", "b"] and "timeAdded" in taints[1]
    with pytest.raises(CtlError, match='taint "z:NoSchedule" not found'):
        reorganize_taints(node, False, [], [TaintSpec("z", "", "NoSchedule")])


def _pod(name: str, owner: str | None = None, mirror: bool = False) -> dict[str, object]:
    meta: dict[str, object] = {"name": name, "namespace": "default"}
    if owner:
        meta["ownerReferences"] = [{"kind": owner, "name": "x", "controller": True}]
    if mirror:
        meta["annotations"] = {"kubernetes.io/config.mirror": "abc"}
    return {"metadata": meta}


def test_drain_filters() -> None:
    pods = [_pod("rs-pod", "ReplicaSet"), _pod("ds-pod", "DaemonSet"), _pod("bare"), _pod("static", mirror=True)]
    evict, problems = pods_to_evict(pods, ignore_daemonsets=False, force=False)
    assert [p["metadata"]["name"] for p in evict] == ["rs-pod"]  # type: ignore[index]
    assert len(problems) == 2 and "DaemonSet-managed" in problems[0] and "no controller" in problems[1]
    evict, problems = pods_to_evict(pods, ignore_daemonsets=True, force=True)
    assert [p["metadata"]["name"] for p in evict] == ["rs-pod", "bare"]  # type: ignore[index]
    assert problems == []
