"""The controller-manager: builds the enabled controllers around one client and shared informers.

Controllers are constructed first (each registers handlers and indexes on the shared informers),
then the informers start, and only once every cache has synced do the workers start: a controller
acting on a half-filled cache would create pods that already exist.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from minik.client.events import EventRecorder
from minik.client.informer import Informer
from minik.client.rest import Client
from minik.controllers.informers import InformerFactory

log = logging.getLogger(__name__)

CACHE_SYNC_TIMEOUT = 120.0


@dataclass
class Options:
    """kube-controller-manager's flags that minik honours (durations in seconds)."""

    concurrent_replicaset_syncs: int = 5
    concurrent_deployment_syncs: int = 5
    concurrent_daemonset_syncs: int = 2
    concurrent_endpoint_syncs: int = 5
    concurrent_gc_syncs: int = 20
    node_monitor_grace_period: float = 40.0
    node_monitor_period: float = 5.0
    node_startup_grace_period: float = 60.0
    pod_eviction_timeout: float = 300.0  # deprecated in Kubernetes too: eviction follows tolerations
    terminated_pod_gc_threshold: int = 12500
    pod_gc_period: float = 20.0
    allocate_node_cidrs: bool = True
    cluster_cidr: str = "10.244.0.0/16"
    node_cidr_mask_size: int = 24


class Runnable(Protocol):
    def informers(self) -> list[Informer]: ...

    def start(self) -> None: ...

    def stop(self, timeout: float = 5.0) -> None: ...


@dataclass
class Context:
    """What a controller constructor gets: the client, shared informers, flags and event recorders."""

    client: Client
    factory: InformerFactory
    options: Options
    recorders: dict[str, EventRecorder]

    def recorder(self, component: str) -> EventRecorder:
        rec = self.recorders.get(component)
        if rec is None:
            rec = self.recorders[component] = EventRecorder(self.client, component)
        return rec


def _replicaset(ctx: Context) -> Runnable:
    from minik.controllers.replicaset import ReplicaSetController

    return ReplicaSetController(ctx.client, ctx.factory, ctx.recorder("replicaset-controller"),
                                workers=ctx.options.concurrent_replicaset_syncs)


def _deployment(ctx: Context) -> Runnable:
    from minik.controllers.deployment import DeploymentController

    return DeploymentController(ctx.client, ctx.factory, ctx.recorder("deployment-controller"),
                                workers=ctx.options.concurrent_deployment_syncs)


def _daemonset(ctx: Context) -> Runnable:
    from minik.controllers.daemonset import DaemonSetController

    return DaemonSetController(ctx.client, ctx.factory, ctx.recorder("daemonset-controller"),
                               workers=ctx.options.concurrent_daemonset_syncs)


def _endpoints(ctx: Context) -> Runnable:
    from minik.controllers.endpoints import EndpointsController

    return EndpointsController(ctx.client, ctx.factory, ctx.recorder("endpoint-controller"),
                               workers=ctx.options.concurrent_endpoint_syncs)


def _garbage_collector(ctx: Context) -> Runnable:
    from minik.controllers.garbagecollector import GarbageCollector

    return GarbageCollector(ctx.client, ctx.factory, workers=ctx.options.concurrent_gc_syncs)


def _node_lifecycle(ctx: Context) -> Runnable:
    from minik.controllers.nodelifecycle import NodeLifecycleController

    o = ctx.options
    return NodeLifecycleController(ctx.client, ctx.factory, ctx.recorder("node-controller"),
                                   monitor_period=o.node_monitor_period, grace_period=o.node_monitor_grace_period,
                                   startup_grace_period=o.node_startup_grace_period)


def _taint_eviction(ctx: Context) -> Runnable:
    from minik.controllers.taint_eviction import TaintEvictionController

    return TaintEvictionController(ctx.client, ctx.factory, ctx.recorder("taint-eviction-controller"))


def _pod_gc(ctx: Context) -> Runnable:
    from minik.controllers.podgc import PodGCController

    return PodGCController(ctx.client, ctx.factory, period=ctx.options.pod_gc_period,
                           terminated_pod_threshold=ctx.options.terminated_pod_gc_threshold)


def _node_ipam(ctx: Context) -> Runnable | None:
    if not ctx.options.allocate_node_cidrs:
        log.info("node-ipam-controller: --allocate-node-cidrs=false, not starting")
        return None
    from minik.controllers.nodeipam import NodeIpamController

    return NodeIpamController(ctx.client, ctx.factory, ctx.recorder("cidrAllocator"),
                              cluster_cidr=ctx.options.cluster_cidr, mask_size=ctx.options.node_cidr_mask_size)


# kube-controller-manager's names (1.29+), in start order, with the short aliases it still accepts.
CONTROLLERS: dict[str, Callable[[Context], Runnable | None]] = {
    "garbage-collector-controller": _garbage_collector,
    "replicaset-controller": _replicaset,
    "deployment-controller": _deployment,
    "daemonset-controller": _daemonset,
    "endpoints-controller": _endpoints,
    "node-ipam-controller": _node_ipam,
    "node-lifecycle-controller": _node_lifecycle,
    "taint-eviction-controller": _taint_eviction,
    "pod-garbage-collector-controller": _pod_gc,
}
ALIASES = {
    "garbagecollector": "garbage-collector-controller",
    "replicaset": "replicaset-controller",
    "deployment": "deployment-controller",
    "daemonset": "daemonset-controller",
    "endpoint": "endpoints-controller",
    "nodeipam": "node-ipam-controller",
    "nodelifecycle": "node-lifecycle-controller",
    "podgc": "pod-garbage-collector-controller",
}


def canonical(name: str) -> str:
    return ALIASES.get(name, name)


def enabled_controllers(spec: list[str]) -> list[str]:
    """`--controllers`: `*` enables all, `foo` enables foo, `-foo` disables foo (aliases accepted)."""
    wanted: set[str] = set()
    disabled: set[str] = set()
    for item in (s.strip() for s in spec):
        if not item:
            continue
        if item == "*":
            wanted.update(CONTROLLERS)
            continue
        negate = item.startswith("-")
        name = canonical(item[1:] if negate else item)
        if name not in CONTROLLERS:
            raise ValueError(f'"{item}" is not in the list of known controllers')
        (disabled if negate else wanted).add(name)
    return [n for n in CONTROLLERS if n in wanted and n not in disabled]


class ControllerManager:
    def __init__(self, client: Client, options: Options | None = None, controllers: list[str] | None = None) -> None:
        self.client = client
        self.options = options or Options()
        self.names = enabled_controllers(controllers if controllers is not None else ["*"])
        self.factory = InformerFactory(client)
        self.context = Context(client, self.factory, self.options, {})
        self.controllers: dict[str, Runnable] = {}
        self._built = False
        self._started = False
        self._lock = threading.Lock()

    def start(self, timeout: float = CACHE_SYNC_TIMEOUT) -> None:
        """Build the controllers, sync the caches, start the workers.

        Raises TimeoutError if the caches did not sync in time; calling start again keeps waiting.
        """
        with self._lock:
            if not self._built:
                self._built = True
                for name in self.names:
                    ctrl = CONTROLLERS[name](self.context)
                    if ctrl is not None:
                        self.controllers[name] = ctrl
                self.factory.start()
            if self._started:
                return
            if not self.factory.wait_for_cache_sync(timeout):
                raise TimeoutError("timed out waiting for the informer caches to sync")
            self._started = True
            for name, ctrl in self.controllers.items():
                log.info("starting %s", name)
                ctrl.start()

    @property
    def running(self) -> bool:
        """True once the caches synced and the workers started."""
        return self._started

    def get(self, name: str) -> Any:
        return self.controllers.get(canonical(name))

    def stop(self) -> None:
        """Stop workers, then informers, then flush the events already recorded."""
        for ctrl in reversed(list(self.controllers.values())):
            try:
                ctrl.stop()
            except Exception:
                log.exception("stopping a controller failed")
        self.factory.stop()
        for rec in self.context.recorders.values():
            rec.flush(5.0)
            rec.stop()
