"""NodeResourcesFit: requests (init containers, sidecars, overhead), every insufficient resource, scoring."""

from __future__ import annotations

from typing import Any

import pytest
from schedtest import container, filter_status, make_node, make_pod, scores

from minik.scheduler.plugins.node_resources_fit import NodeResourcesFit
from minik.scheduler.pod_info import DEFAULT_MEMORY_REQUEST, DEFAULT_MILLI_CPU_REQUEST, Resource

MI = 1024 * 1024


@pytest.mark.parametrize(("kw", "requests"), [
    ({}, Resource(0, 0)),
    ({"cpu": "500m", "memory": "64Mi"}, Resource(500, 64 * MI)),
    ({"containers": [container("a", "100m", "10Mi"), container("b", "200m", "20Mi")]}, Resource(300, 30 * MI)),
    # init containers run one at a time before the app: max(max(init), sum(app)) per resource
    ({"containers": [container("a", "100m", "10Mi"), container("b", "200m", "20Mi")],
      "init_containers": [container("i1", "1", "5Mi"), container("i2", "50m", "100Mi")]}, Resource(1000, 100 * MI)),
    ({"containers": [container("a", "100m", "10Mi")], "init_containers": [container("i1", "50m", "1Mi")]},
     Resource(100, 10 * MI)),
    # a sidecar (restartPolicy Always) keeps running: it adds to the app sum and to later init containers
    ({"containers": [container("a", "100m")],
      "init_containers": [container("side", "200m", restartPolicy="Always"), container("i1", "250m")]},
     Resource(450, 0)),
    ({"cpu": "1", "overhead": {"cpu": "250m", "memory": "120Mi"}}, Resource(1250, 120 * MI)),
], ids=["nothing", "one-container", "sum", "init-max", "app-sum-wins", "sidecar", "overhead"])
def test_pod_requests(kw: dict[str, Any], requests: Resource) -> None:
    assert make_pod(**kw).requests == requests


def test_non_zero_requests_only_fill_missing_values() -> None:
    assert make_pod().non_zero_requests == Resource(DEFAULT_MILLI_CPU_REQUEST, DEFAULT_MEMORY_REQUEST)
    assert make_pod(cpu="0").non_zero_requests == Resource(0, DEFAULT_MEMORY_REQUEST)


def _fit(codes: str, *reasons: str) -> tuple[str, tuple[str, ...]]:
    return codes, reasons


@pytest.mark.parametrize(("pod_kw", "node_kw", "existing", "expected"), [
    ({"cpu": "1", "memory": "1Gi"}, {"cpu": "2", "memory": "2Gi"}, [], None),
    ({"cpu": "2", "memory": "2Gi"}, {"cpu": "2", "memory": "2Gi"}, [], None),  # exactly full
    ({"cpu": "1"}, {"cpu": "2"}, [{"cpu": "1500m"}], _fit("Unschedulable", "Insufficient cpu")),
    ({"memory": "1Gi"}, {"memory": "2Gi"}, [{"memory": "1536Mi"}], _fit("Unschedulable", "Insufficient memory")),
    ({"cpu": "1", "memory": "1Gi"}, {"cpu": "1", "memory": "1Gi"}, [{"cpu": "1", "memory": "1Gi"}],
     _fit("Unschedulable", "Insufficient cpu", "Insufficient memory")),
    # larger than the whole node: no eviction could help
    ({"cpu": "100"}, {"cpu": "2"}, [], _fit("UnschedulableAndUnresolvable", "Insufficient cpu")),
    ({"cpu": "100", "memory": "1Gi"}, {"cpu": "2", "memory": "2Gi"}, [{"memory": "1536Mi"}],
     _fit("UnschedulableAndUnresolvable", "Insufficient cpu", "Insufficient memory")),
    ({}, {"pods": "1"}, [{}], _fit("Unschedulable", "Too many pods")),
    ({"cpu": "3"}, {"cpu": "2", "pods": "1"}, [{}],
     _fit("UnschedulableAndUnresolvable", "Too many pods", "Insufficient cpu")),
    ({}, {"cpu": "1"}, [{"cpu": "1"}], None),  # a pod requesting nothing fits a full node
    ({"cpu": "1"}, {"cpu": "1"}, [{"cpu": "0"}], None),
], ids=["fits", "exactly-full", "cpu", "memory", "cpu-and-memory", "bigger-than-node", "both-one-unresolvable",
        "pods", "pods-and-cpu", "best-effort", "zero-request-neighbour"])
def test_filter(pod_kw: dict[str, Any], node_kw: dict[str, Any], existing: list[dict[str, Any]],
                expected: Any) -> None:
    on_node = [make_pod(f"existing-{i}", **kw) for i, kw in enumerate(existing)]
    node = make_node(pods_on_node=on_node, **node_kw)
    assert filter_status(NodeResourcesFit(), make_pod(**pod_kw), node) == expected


def test_least_allocated_score_prefers_emptier_nodes() -> None:
    empty = make_node("empty", cpu="4", memory="4Gi")
    half = make_node("half", cpu="4", memory="4Gi", pods_on_node=[make_pod("x", cpu="2", memory="2Gi")])
    # pod 1 cpu/1Gi: empty -> (75 + 75) / 2; half -> (25 + 25) / 2
    assert scores(NodeResourcesFit(), make_pod(cpu="1", memory="1Gi"), [empty, half]) == {"empty": 75, "half": 25}
    # a BestEffort pod is scored with the non-zero defaults (100m, 200Mi)
    got = scores(NodeResourcesFit(), make_pod(), [empty])
    assert got == {"empty": ((4000 - 100) * 100 // 4000 + (4096 - 200) * 100 // 4096) // 2}
