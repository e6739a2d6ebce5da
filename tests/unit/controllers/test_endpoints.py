"""Endpoints controller: addresses, port resolution, repacking, and the actions it takes."""

from __future__ import annotations

from typing import Any

from ctrlfake import Harness, pod

from minik.controllers.endpoints import EndpointsController, find_port, repack_subsets

Obj = dict[str, Any]


def service(name: str = "web", selector: dict[str, str] | None = None, ports: list[Obj] | None = None,
            **spec: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"},
            "spec": {"selector": {"app": "web"} if selector is None else selector,
                     "ports": ports if ports is not None else [{"name": "http", "port": 80, "targetPort": "http",
                                                                "protocol": "TCP"}], **spec}}


HTTP = [{"name": "http", "containerPort": 8080}]


def make(h: Harness) -> EndpointsController:
    return EndpointsController(h.client, h.factory, h.recorder, workers=1)


def test_find_port_by_number_and_by_name_and_protocol() -> None:
    p = pod("a", ports=[{"name": "dns", "containerPort": 53, "protocol": "UDP"}, {"name": "http", "containerPort": 80}])
    assert find_port(p, {"port": 80, "targetPort": 8080}) == 8080
    assert find_port(p, {"port": 80, "targetPort": "http", "protocol": "TCP"}) == 80
    assert find_port(p, {"port": 53, "targetPort": "dns", "protocol": "UDP"}) == 53
    assert find_port(p, {"port": 53, "targetPort": "dns", "protocol": "TCP"}) is None


def test_creates_endpoints_with_ready_and_not_ready_addresses(harness: Harness) -> None:
    ctrl = make(harness)
    harness.cache("services", service())
    harness.cache("pods",
                  pod("b", {"app": "web"}, node="n2", phase="Running", ready=True, ip="10.0.0.2", ports=HTTP),
                  pod("a", {"app": "web"}, node="n1", phase="Running", ready=True, ip="10.0.0.1", ports=HTTP),
                  pod("c", {"app": "web"}, node="n1", phase="Running", ip="10.0.0.3", ports=HTTP),
                  pod("no-ip", {"app": "web"}, node="n1", ports=HTTP),
                  pod("going", {"app": "web"}, node="n1", phase="Running", ready=True, ip="10.0.0.4", ports=HTTP,
                      deleting=True),
                  pod("done", {"app": "web"}, node="n1", phase="Succeeded", ip="10.0.0.5", ports=HTTP),
                  pod("other", {"app": "db"}, node="n1", phase="Running", ready=True, ip="10.0.0.6", ports=HTTP))
    ctrl.sync("default/web")
    (create,) = harness.client.writes()
    assert repr(create) == "create endpoints default/web"
    (subset,) = create.body["subsets"]
    assert [a["ip"] for a in subset["addresses"]] == ["10.0.0.1", "10.0.0.2"]
    assert [a["ip"] for a in subset["notReadyAddresses"]] == ["10.0.0.3"]
    assert subset["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    assert subset["addresses"][0] == {"ip": "10.0.0.1", "nodeName": "n1", "targetRef": {
        "kind": "Pod", "namespace": "default", "name": "a", "uid": "uid-a"}}


def test_no_write_when_nothing_changed_and_update_when_it_did(harness: Harness) -> None:
    ctrl = make(harness)
    harness.cache("services", service())
    harness.cache("pods", pod("a", {"app": "web"}, node="n1", phase="Running", ready=True, ip="10.0.0.1", ports=HTTP))
    ctrl.sync("default/web")
    harness.refresh("endpoints")
    harness.client.clear()
    ctrl.sync("default/web")
    assert harness.client.writes() == []
    harness.cache("pods", pod("b", {"app": "web"}, node="n1", phase="Running", ready=True, ip="10.0.0.2", ports=HTTP))
    ctrl.sync("default/web")
    assert harness.client.verbs("get") == ["update endpoints default/web"]


def test_service_without_selector_is_left_alone_and_deleted_service_takes_endpoints(harness: Harness) -> None:
    ctrl = make(harness)
    svc = service(name="manual")
    svc["spec"].pop("selector")
    harness.cache("services", svc)
    ctrl.sync("default/manual")
    assert harness.client.writes() == []
    harness.cache("endpoints", {"apiVersion": "v1", "kind": "Endpoints",
                                "metadata": {"name": "gone", "namespace": "default"}})
    ctrl.sync("default/gone")
    assert harness.client.verbs("get") == ["delete endpoints default/gone"]


def test_repack_groups_addresses_by_their_port_sets() -> None:
    a = {"ip": "10.0.0.1", "targetRef": {"uid": "a"}}
    b = {"ip": "10.0.0.2", "targetRef": {"uid": "b"}}
    http = {"name": "http", "port": 80, "protocol": "TCP"}
    metrics = {"name": "metrics", "port": 9100, "protocol": "TCP"}
    subsets = repack_subsets([(a, True, http), (a, True, metrics), (b, False, http)])
    assert subsets == [{"addresses": [a], "ports": [metrics]},
                       {"addresses": [a], "notReadyAddresses": [b], "ports": [http]}] or subsets == [
        {"addresses": [a], "notReadyAddresses": [b], "ports": [http]}, {"addresses": [a], "ports": [metrics]}]


def test_headless_service_without_ports_lists_addresses_only(harness: Harness) -> None:
    ctrl = make(harness)
    harness.cache("services", service(ports=[], clusterIP="None"))
    harness.cache("pods", pod("a", {"app": "web"}, node="n1", phase="Running", ready=True, ip="10.0.0.1"))
    ctrl.sync("default/web")
    (create,) = harness.client.writes()
    assert create.body["subsets"] == [{"addresses": [{"ip": "10.0.0.1", "nodeName": "n1", "targetRef": {
        "kind": "Pod", "namespace": "default", "name": "a", "uid": "uid-a"}}]}]
    assert create.body["metadata"]["labels"] == {"service.kubernetes.io/headless": ""}
