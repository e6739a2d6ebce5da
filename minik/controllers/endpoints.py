"""Endpoints controller: for each Service with a selector, the Endpoints object the proxy programs.

Every pod matching the selector with an IP and not terminating becomes an address (ip, nodeName,
targetRef): ready pods under `addresses`, the others under `notReadyAddresses` (all under
`addresses` with publishNotReadyAddresses). Service ports are resolved per pod: a number as is,
a name through the pod's container port of that name and protocol; a pod without the named port
is left out of that port. Addresses with the same ports are packed into one subset, like
Kubernetes' RepackSubsets. A deleted Service takes its Endpoints with it.
"""

from __future__ import annotations

import contextlib
import copy
import logging
from typing import Any, Protocol

from minik.api.errors import AlreadyExistsError, NotFoundError, StatusError
from minik.api.labels import selector_from_set
from minik.api.resources import Resource
from minik.client.informer import NAMESPACE_INDEX, Informer, split_key
from minik.controllers.controller import Controller
from minik.controllers.informers import InformerFactory, resource
from minik.controllers.pod_control import Recorder
from minik.controllers.podutil import is_pod_ready, is_pod_terminal

log = logging.getLogger(__name__)

Obj = dict[str, Any]

ENDPOINTS: Resource = resource("endpoints")
HEADLESS_LABEL = "service.kubernetes.io/headless"
# Pod fields whose change can change an Endpoints object.
_POD_FIELDS = ("podIP", "podIPs", "phase")


class Client(Protocol):
    def create(self, r: Resource, obj: Obj, namespace: str | None = None) -> Obj: ...

    def update(self, r: Resource, obj: Obj, subresource: str | None = None) -> Obj: ...

    def delete(self, r: Resource, name: str, namespace: str | None = None, *,
               propagation_policy: str | None = None, grace_period_seconds: int | None = None,
               preconditions: Any = None) -> Obj: ...


def find_port(pod: Obj, service_port: Obj) -> int | None:
    """podutil.FindPort: the container port a service port's targetPort means for this pod."""
    target = service_port.get("targetPort")
    if target is None:
        target = service_port.get("port")
    if isinstance(target, int):
        return target
    protocol = service_port.get("protocol") or "TCP"
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") == target and (port.get("protocol") or "TCP") == protocol:
                return int(port.get("containerPort") or 0)
    return None


def should_pod_be_in_endpoints(pod: Obj, include_terminating: bool) -> bool:
    if is_pod_terminal(pod):
        return False
    status = pod.get("status") or {}
    if not status.get("podIP") and not status.get("podIPs"):
        return False
    return include_terminating or not (pod.get("metadata") or {}).get("deletionTimestamp")


def pod_address(pod: Obj, service: Obj) -> Obj:
    m, spec, status = pod["metadata"], pod.get("spec") or {}, pod.get("status") or {}
    ip = status.get("podIP") or ((status.get("podIPs") or [{}])[0].get("ip"))
    addr: Obj = {"ip": ip}
    if spec.get("nodeName"):
        addr["nodeName"] = spec["nodeName"]
    addr["targetRef"] = {"kind": "Pod", "namespace": m.get("namespace"), "name": m.get("name"),
                         "uid": m.get("uid")}
    svc_name = (service.get("metadata") or {}).get("name")
    if spec.get("hostname") and spec.get("subdomain") == svc_name:
        addr["hostname"] = spec["hostname"]
    return addr


def _addr_key(addr: Obj) -> tuple[str, str]:
    return (str(addr.get("ip")), str((addr.get("targetRef") or {}).get("uid") or ""))


def _port_key(port: Obj) -> tuple[str, int, str]:
    return (str(port.get("name") or ""), int(port.get("port") or 0), str(port.get("protocol") or ""))


def repack_subsets(entries: list[tuple[Obj, bool, Obj | None]]) -> list[Obj]:
    """(address, ready, port) triples into subsets: addresses offering the same ports share one."""
    by_port: dict[tuple[str, int, str], dict[tuple[str, str], tuple[Obj, bool]]] = {}
    ports: dict[tuple[str, int, str], Obj | None] = {}
    for addr, ready, port in entries:
        pk = _port_key(port) if port is not None else ("", -1, "")
        ports[pk] = port
        by_port.setdefault(pk, {})[_addr_key(addr)] = (addr, ready)
    groups: dict[tuple[tuple[tuple[str, str], bool], ...], list[Obj]] = {}
    group_addrs: dict[tuple[tuple[tuple[str, str], bool], ...], dict[tuple[str, str], tuple[Obj, bool]]] = {}
    for pk, addrs in by_port.items():
        key = tuple(sorted((k, r) for k, (_, r) in addrs.items()))
        group_addrs[key] = addrs
        port = ports[pk]
        groups.setdefault(key, [])
        if port is not None:
            groups[key].append(port)
    subsets: list[Obj] = []
    for key, group_ports in groups.items():
        addrs = group_addrs[key]
        ordered = [addrs[k] for k in sorted(addrs)]
        ready_addrs = [a for a, r in ordered if r]
        not_ready = [a for a, r in ordered if not r]
        subset: Obj = {}
        if ready_addrs:
            subset["addresses"] = ready_addrs
        if not_ready:
            subset["notReadyAddresses"] = not_ready
        if group_ports:
            subset["ports"] = sorted(group_ports, key=_port_key)
        subsets.append(subset)
    subsets.sort(key=lambda s: (sorted(_addr_key(a) for a in [*s.get("addresses", []),
                                                             *s.get("notReadyAddresses", [])]),
                                [_port_key(p) for p in s.get("ports", [])]))
    return subsets


class EndpointsController(Controller):
    name = "endpoint"

    def __init__(self, client: Client, factory: InformerFactory, recorder: Recorder, workers: int = 5) -> None:
        super().__init__(workers)
        self.client = client
        self.recorder = recorder
        self.service_informer: Informer = factory.informer("services")
        self.pod_informer: Informer = factory.informer("pods")
        self.endpoints_informer: Informer = factory.informer("endpoints")
        self.service_informer.add_event_handler(self.enqueue, lambda old, cur: self.enqueue(cur), self.enqueue)
        self.pod_informer.add_event_handler(self.add_pod, self.update_pod, self.delete_pod)
        self.endpoints_informer.add_event_handler(on_delete=self.on_endpoints_delete)

    def informers(self) -> list[Informer]:
        return [self.service_informer, self.pod_informer, self.endpoints_informer]

    def start(self) -> None:
        # checkLeftoverEndpoints: Endpoints whose Service went away while we were not running
        for ep in self.endpoints_informer.store.list():
            m = ep.get("metadata") or {}
            if not self.service_informer.store.get_by_key(f"{m.get('namespace')}/{m.get('name')}"):
                self.enqueue(ep)
        super().start()

    # --- handlers -------------------------------------------------------------------------

    def _services_for(self, pod: Obj) -> set[str]:
        m = pod.get("metadata") or {}
        labels = m.get("labels") or {}
        keys: set[str] = set()
        for svc in self.service_informer.store.by_index(NAMESPACE_INDEX, str(m.get("namespace"))):
            selector = (svc.get("spec") or {}).get("selector")
            if selector is None:
                continue
            if selector_from_set(selector).matches(labels):
                keys.add(f"{m.get('namespace')}/{svc['metadata']['name']}")
        return keys

    def add_pod(self, pod: Obj) -> None:
        for key in self._services_for(pod):
            self.queue.add(key)

    def update_pod(self, old: Obj, cur: Obj) -> None:
        om, cm = old.get("metadata") or {}, cur.get("metadata") or {}
        if om.get("resourceVersion") == cm.get("resourceVersion"):
            return
        keys = self._services_for(cur)
        if om.get("labels") != cm.get("labels"):
            keys |= self._services_for(old)
        elif not self._endpoint_changed(old, cur):
            return
        for key in keys:
            self.queue.add(key)

    @staticmethod
    def _endpoint_changed(old: Obj, cur: Obj) -> bool:
        os_, cs = old.get("status") or {}, cur.get("status") or {}
        if any(os_.get(f) != cs.get(f) for f in _POD_FIELDS):
            return True
        if is_pod_ready(old) != is_pod_ready(cur):
            return True
        ospec, cspec = old.get("spec") or {}, cur.get("spec") or {}
        if any(ospec.get(f) != cspec.get(f) for f in ("nodeName", "hostname", "subdomain")):
            return True
        return bool(old["metadata"].get("deletionTimestamp")) != bool(cur["metadata"].get("deletionTimestamp"))

    def delete_pod(self, pod: Obj) -> None:
        self.add_pod(pod)

    def on_endpoints_delete(self, ep: Obj) -> None:
        m = ep.get("metadata") or {}
        if self.service_informer.store.get_by_key(f"{m.get('namespace')}/{m.get('name')}"):
            self.enqueue(ep)  # someone deleted our Endpoints: put them back

    # --- sync -----------------------------------------------------------------------------

    def sync(self, key: str) -> None:
        self.sync_service(key)

    def sync_service(self, key: str) -> None:
        namespace, name = split_key(key)
        service = self.service_informer.store.get_by_key(key)
        if service is None:
            with contextlib.suppress(NotFoundError):
                self.client.delete(ENDPOINTS, name, namespace)
            return
        spec = service.get("spec") or {}
        if spec.get("selector") is None or spec.get("type") == "ExternalName":
            return  # endpoints of selector-less services are managed by their users
        selector = selector_from_set(spec["selector"])
        publish_not_ready = bool(spec.get("publishNotReadyAddresses"))
        entries: list[tuple[Obj, bool, Obj | None]] = []
        for pod in self.pod_informer.store.by_index(NAMESPACE_INDEX, namespace):
            if not selector.matches((pod.get("metadata") or {}).get("labels") or {}):
                continue
            if not should_pod_be_in_endpoints(pod, publish_not_ready):
                continue
            addr = pod_address(pod, service)
            ready = publish_not_ready or is_pod_ready(pod)
            ports = spec.get("ports") or []
            if not ports:
                if spec.get("clusterIP") == "None":
                    entries.append((addr, ready, None))  # headless without ports: addresses only
                continue
            for sp in ports:
                number = find_port(pod, sp)
                if number is None:
                    log.debug("service %s: pod %s has no port %r", key, pod["metadata"].get("name"),
                              sp.get("targetPort"))
                    continue
                port: Obj = {"port": number, "protocol": sp.get("protocol") or "TCP"}
                if sp.get("name"):
                    port["name"] = sp["name"]
                if sp.get("appProtocol"):
                    port["appProtocol"] = sp["appProtocol"]
                entries.append((addr, ready, port))
        subsets = repack_subsets(entries)
        labels = dict((service.get("metadata") or {}).get("labels") or {})
        if spec.get("clusterIP") == "None":
            labels[HEADLESS_LABEL] = ""
        current = self.endpoints_informer.store.get_by_key(key)
        if current is not None and (current.get("subsets") or []) == subsets \
                and ((current.get("metadata") or {}).get("labels") or {}) == labels:
            return
        if current is None:
            body: Obj = {"apiVersion": "v1", "kind": "Endpoints",
                         "metadata": {"name": name, "namespace": namespace}, "subsets": subsets}
            if labels:
                body["metadata"]["labels"] = labels
            try:
                self.client.create(ENDPOINTS, body, namespace)
            except AlreadyExistsError:
                raise  # our cache is behind: retry once it caught up
            except StatusError as e:
                self.recorder.event(service, "Warning", "FailedToCreateEndpoint",
                                    f"Failed to create endpoint for service {key}: {e.message}")
                raise
            return
        new = copy.deepcopy(current)
        new["subsets"] = subsets
        if labels:
            new["metadata"]["labels"] = labels
        else:
            new["metadata"].pop("labels", None)
        try:
            self.client.update(ENDPOINTS, new)
        except StatusError as e:
            if not isinstance(e, NotFoundError):
                self.recorder.event(service, "Warning", "FailedToUpdateEndpoint",
                                    f"Failed to update endpoint {key}: {e.message}")
            raise
