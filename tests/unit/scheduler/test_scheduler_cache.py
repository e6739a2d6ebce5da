"""The cache: assumed pods hold their slot until confirmed, forgotten, or expired."""

from __future__ import annotations

from schedtest import make_pod, node_obj, pod_obj

from minik.api.core import Node
from minik.scheduler.cache import Cache
from minik.scheduler.pod_info import PodInfo


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def test_assumed_pod_takes_its_slot_until_confirmed() -> None:
    cache = Cache()
    cache.add_node(Node.model_validate(node_obj("n1", cpu="1")))
    pod = make_pod(cpu="600m")
    cache.assume_pod(pod, "n1")
    node = cache.get_node("n1")
    assert node is not None and node.requested.milli_cpu == 600 and cache.is_assumed(pod.uid)
    bound = PodInfo(pod_obj(cpu="600m", node_name="n1"))
    cache.add_pod(bound)  # the watch confirms it
    assert not cache.is_assumed(pod.uid) and node.requested.milli_cpu == 600 and len(node.pods) == 1
    assert not cache.forget_pod(pod.uid)  # a confirmed pod is not forgotten by a late bind error
    assert node.requested.milli_cpu == 600


def test_failed_bind_is_forgotten() -> None:
    cache = Cache()
    cache.add_node(Node.model_validate(node_obj("n1")))
    pod = make_pod(cpu="1")
    cache.assume_pod(pod, "n1")
    assert cache.forget_pod(pod.uid)
    node = cache.get_node("n1")
    assert node is not None and node.requested.milli_cpu == 0 and not node.pods


def test_confirmation_elsewhere_moves_the_pod() -> None:
    cache = Cache()
    for n in ("n1", "n2"):
        cache.add_node(Node.model_validate(node_obj(n)))
    pod = make_pod(cpu="1")
    cache.assume_pod(pod, "n1")
    cache.add_pod(PodInfo(pod_obj(cpu="1", node_name="n2")))
    n1, n2 = cache.get_node("n1"), cache.get_node("n2")
    assert n1 is not None and n2 is not None
    assert (n1.requested.milli_cpu, n2.requested.milli_cpu) == (0, 1000)


def test_unconfirmed_binding_expires() -> None:
    clock = Clock()
    cache = Cache(clock=clock, ttl=30)
    cache.add_node(Node.model_validate(node_obj("n1")))
    pod = make_pod(cpu="1")
    cache.assume_pod(pod, "n1")
    clock.now = 100
    assert cache.cleanup_expired_assumed_pods() == []  # binding still in flight: never expires
    cache.finish_binding(pod.uid)
    clock.now = 129
    assert cache.cleanup_expired_assumed_pods() == []
    clock.now = 130
    assert cache.cleanup_expired_assumed_pods() == [pod]
    assert cache.pod_count() == 0


def test_nodes_and_pods_arrive_in_any_order() -> None:
    cache = Cache()
    cache.add_pod(PodInfo(pod_obj("early", cpu="1", node_name="n1")))  # bound before we saw the node
    assert cache.node_infos() == []
    info = cache.add_node(Node.model_validate(node_obj("n1", cpu="2")))
    assert cache.node_infos() == [info] and info.requested.milli_cpu == 1000
    cache.remove_node("n1")
    assert cache.node_infos() == []
    assert cache.remove_pod("uid-default-early") is not None
    assert cache.get_node("n1") is None
