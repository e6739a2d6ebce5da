"""The API server's state: storage, one registry and watch cache per resource, bootstrap objects."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from dataclasses import dataclass
from typing import Any

from minik.api import errors
from minik.api.resources import RESOURCES, Resource
from minik.apiserver.allocator import IPAllocator, PortAllocator
from minik.apiserver.auth import TokenAuthenticator
from minik.apiserver.registry import DeleteOptions, Registry
from minik.apiserver.storage import Obj, Storage
from minik.apiserver.strategies.namespaces import NamespaceStrategy, StatuslessStrategy
from minik.apiserver.strategies.pods import PodStrategy
from minik.apiserver.strategies.services import ServiceStrategy
from minik.apiserver.strategy import Strategy

log = logging.getLogger(__name__)

DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
KUBERNETES_SERVICE = "kubernetes"
ENDPOINT_RECONCILE_INTERVAL = 10.0  # seconds, Kubernetes' --endpoint-reconciler interval


@dataclass
class Config:
    etcd_servers: str = "http://127.0.0.1:2379"
    etcd_prefix: str = ""
    service_cidr: str = "10.96.0.0/12"
    node_port_range: str = "30000-32767"
    max_request_bytes: int = 3 * 1024 * 1024
    watch_cache_size: int = 1000
    bookmark_interval: float = 30.0
    token_auth_file: str | None = None
    advertise_address: str = "127.0.0.1"
    secure_port: int = 6443
    endpoint_reconcile_interval: float = ENDPOINT_RECONCILE_INTERVAL


class APIServer:
    def __init__(self, cfg: Config) -> None:
        from minik.apiserver.watchcache import WatchCache

        self.cfg = cfg
        self.storage = Storage(cfg.etcd_servers, cfg.etcd_prefix)
        self.auth = TokenAuthenticator.from_file(cfg.token_auth_file)
        self.ips = IPAllocator(self.storage, cfg.service_cidr)
        self.ports = PortAllocator(self.storage, cfg.node_port_range)
        self.registries: dict[tuple[str, str], Registry] = {}
        for r in RESOURCES:
            cache = WatchCache(self.storage, r, cfg.watch_cache_size, cfg.bookmark_interval)
            self.registries[(r.api_version, r.plural)] = Registry(
                self.storage, r, self._strategy(r), cache, self.namespace_lookup)
        self.ready = False
        self._tasks: list[asyncio.Task[Any]] = []

    def _strategy(self, r: Resource) -> Strategy:
        if r.plural == "pods":
            return PodStrategy(r)
        if r.plural == "services":
            return ServiceStrategy(r, self.ips, self.ports)
        if r.plural == "namespaces":
            return NamespaceStrategy(r)
        if r.plural in ("endpoints", "events", "leases", "controllerrevisions", "configmaps"):
            return StatuslessStrategy(r)
        return Strategy(r)

    def registry(self, api_version: str, plural: str) -> Registry | None:
        return self.registries.get((api_version, plural))

    @property
    def namespaces(self) -> Registry:
        return self.registries[("v1", "namespaces")]

    async def namespace_lookup(self, name: str) -> Obj | None:
        cached = self.namespaces.cache.get(None, name)
        if cached is not None:
            return cached
        cur = await self.storage.get(self.namespaces.key(None, name))
        return cur.obj if cur else None

    # --- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        for reg in self.registries.values():
            reg.cache.start()
        self._tasks.append(asyncio.create_task(self._bootstrap_loop()))

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        for reg in self.registries.values():
            await reg.cache.stop()
        with contextlib.suppress(Exception):
            await self.storage.close()

    async def _bootstrap_loop(self) -> None:
        """Wait for etcd, create the built-in objects, then run the namespace finalizer."""
        delay = 0.1
        while True:
            try:
                await self.storage.connect()
                await self.bootstrap()
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("waiting for etcd at %s: %s", self.cfg.etcd_servers, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
        for reg in self.registries.values():
            await reg.cache.ready.wait()
        self.ready = True
        log.info("apiserver ready")
        self._tasks.append(asyncio.create_task(self._kubernetes_service_loop()))
        await self._namespace_finalizer()

    async def bootstrap(self) -> None:
        for name in DEFAULT_NAMESPACES:
            with contextlib.suppress(errors.AlreadyExistsError):
                await self.namespaces.create(None, {"apiVersion": "v1", "kind": "Namespace",
                                                    "metadata": {"name": name}})
        await self.reconcile_kubernetes_service()

    # --- the `kubernetes` Service and its Endpoints ------------------------------------

    async def reconcile_kubernetes_service(self) -> None:
        """The bootstrap controller's job: the `kubernetes` Service exists in `default`, and its Endpoints
        list this apiserver's advertise address and secure port. Like Kubernetes' master-count reconciler
        with a count of 1, anything else in them is replaced. A loopback address is not published
        (Endpoints may not point at loopback): a local-only apiserver has no Endpoints."""
        services = self.registries[("v1", "services")]
        try:
            await services.get("default", KUBERNETES_SERVICE)
        except errors.NotFoundError:
            with contextlib.suppress(errors.AlreadyExistsError):
                await services.create("default", {
                    "apiVersion": "v1", "kind": "Service",
                    "metadata": {"name": KUBERNETES_SERVICE, "labels": {"component": "apiserver",
                                                                        "provider": "kubernetes"}},
                    "spec": {"clusterIP": self.ips.first_ip(), "type": "ClusterIP",
                             "ports": [{"name": "https", "port": 443, "protocol": "TCP",
                                        "targetPort": self.cfg.secure_port}]}})
        if ipaddress.ip_address(self.cfg.advertise_address).is_loopback:
            return
        endpoints = self.registries[("v1", "endpoints")]
        subsets = [{"addresses": [{"ip": self.cfg.advertise_address}],
                    "ports": [{"name": "https", "port": self.cfg.secure_port, "protocol": "TCP"}]}]

        def correct(obj: Obj) -> Obj | None:
            if _endpoints_match(obj, self.cfg.advertise_address, self.cfg.secure_port):
                return None
            log.info("kubernetes Endpoints: publishing %s:%s", self.cfg.advertise_address, self.cfg.secure_port)
            obj["subsets"] = subsets
            return obj

        try:
            await endpoints.update("default", KUBERNETES_SERVICE, mutate=correct)
        except errors.NotFoundError:
            with contextlib.suppress(errors.AlreadyExistsError):
                await endpoints.create("default", {
                    "apiVersion": "v1", "kind": "Endpoints",
                    "metadata": {"name": KUBERNETES_SERVICE,
                                 "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
                    "subsets": subsets})

    async def _kubernetes_service_loop(self) -> None:
        """Reconcile every endpoint_reconcile_interval, and at once when someone changes or deletes the
        Service or its Endpoints (our own writes come back once and change nothing)."""
        caches = [self.registries[("v1", plural)].cache for plural in ("services", "endpoints")]

        def named(obj: Obj) -> bool:
            return bool((obj.get("metadata") or {}).get("name") == KUBERNETES_SERVICE)

        watchers = [await cache.watch(None, "default", named, False) for cache in caches]
        try:
            while True:
                try:
                    await self.reconcile_kubernetes_service()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # etcd away, a conflict: the next round retries
                    log.warning("reconciling the kubernetes Service: %s", exc)
                gets = [asyncio.ensure_future(w.queue.get()) for w in watchers]
                try:
                    await asyncio.wait(gets, timeout=self.cfg.endpoint_reconcile_interval,
                                       return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for get in gets:
                        get.cancel()
                for index, (cache, w) in enumerate(zip(caches, watchers, strict=True)):
                    while not w.queue.empty():
                        w.queue.get_nowait()
                    if w.closed:
                        cache.unregister(w)
                        watchers[index] = await cache.watch(None, "default", named, False)
        finally:
            for cache, w in zip(caches, watchers, strict=True):
                cache.unregister(w)

    # --- namespace lifecycle -------------------------------------------------------------

    async def _namespace_finalizer(self) -> None:
        """Empty Terminating namespaces, then let them go (the namespace controller's job in k8s)."""
        w = await self.namespaces.cache.watch(
            None, None, lambda o: bool(o.get("metadata", {}).get("deletionTimestamp")), False)
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(w.queue.get(), timeout=2.0)
                if w.closed:
                    w = await self.namespaces.cache.watch(
                        None, None, lambda o: bool(o.get("metadata", {}).get("deletionTimestamp")), False)
                terminating = [e.obj for e in self.namespaces.cache.store.values()
                               if e.obj.get("metadata", {}).get("deletionTimestamp")]
                for ns in terminating:
                    try:
                        await self.finalize_namespace(ns["metadata"]["name"])
                    except Exception as exc:  # keep going; retried on the next round
                        log.warning("finalizing namespace %s: %s", ns["metadata"]["name"], exc)
        finally:
            self.namespaces.cache.unregister(w)

    async def finalize_namespace(self, name: str) -> None:
        remaining = 0
        for reg in self.registries.values():
            if not reg.resource.namespaced:
                continue
            listed = await reg.list(name)
            for item in listed["items"]:
                if not item["metadata"].get("deletionTimestamp"):
                    with contextlib.suppress(errors.NotFoundError):
                        await reg.delete(name, item["metadata"]["name"], DeleteOptions())
                remaining += 1
        if remaining:
            return

        def drop_finalizer(obj: Obj) -> Obj:
            obj.setdefault("spec", {})["finalizers"] = []
            return obj

        with contextlib.suppress(errors.NotFoundError):
            await self.namespaces.update(None, name, mutate=drop_finalizer, subresource="finalize")


def _endpoints_match(obj: Obj, ip: str, port: int) -> bool:
    """checkEndpointSubsetFormat: one subset, only our address, only our https port."""
    subsets = obj.get("subsets") or []
    if len(subsets) != 1 or not isinstance(subsets[0], dict):
        return False
    subset = subsets[0]
    addresses = [a.get("ip") for a in subset.get("addresses") or [] if isinstance(a, dict)]
    ports = [(p.get("name"), p.get("port"), p.get("protocol") or "TCP") for p in subset.get("ports") or []
             if isinstance(p, dict)]
    return addresses == [ip] and not subset.get("notReadyAddresses") and ports == [("https", port, "TCP")]
