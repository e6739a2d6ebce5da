"""Manager flags and wiring, expectations, the queue-and-worker base, small helpers."""

from __future__ import annotations

import argparse

import pytest
from ctrlfake import Harness

from minik.api.errors import ConflictError
from minik.controllers.controller import Controller
from minik.controllers.expectations import ControllerExpectations
from minik.controllers.intstr import scaled_value
from minik.controllers.main import duration, options_from, parse_args
from minik.controllers.manager import CONTROLLERS, Context, Options, enabled_controllers
from minik.controllers.taints import matching_tolerations, min_toleration_seconds, tolerates


def test_controllers_flag_star_names_aliases_and_negation() -> None:
    assert enabled_controllers(["*"]) == list(CONTROLLERS)
    assert enabled_controllers(["*", "-nodeipam", "-podgc"]) == [
        n for n in CONTROLLERS if n not in ("node-ipam-controller", "pod-garbage-collector-controller")]
    assert enabled_controllers(["replicaset", "deployment-controller"]) == ["replicaset-controller",
                                                                           "deployment-controller"]
    with pytest.raises(ValueError, match='"bogus" is not in the list of known controllers'):
        enabled_controllers(["bogus"])


def test_flags_and_durations() -> None:
    assert duration("40s") == 40 and duration("1m30s") == 90 and duration("500ms") == 0.5 and duration("2") == 2
    with pytest.raises(argparse.ArgumentTypeError):
        duration("5 parsecs")
    opts = options_from(parse_args(["--node-monitor-grace-period=2s", "--cluster-cidr", "10.9.0.0/16",
                                    "--node-cidr-mask-size", "26", "--concurrent-replicaset-syncs", "2",
                                    "--allocate-node-cidrs=false"]))
    assert (opts.node_monitor_grace_period, opts.cluster_cidr, opts.node_cidr_mask_size) == (2, "10.9.0.0/16", 26)
    assert opts.concurrent_replicaset_syncs == 2 and opts.allocate_node_cidrs is False
    assert Options().node_monitor_grace_period == 40


def test_every_controller_builds_on_shared_informers(harness: Harness) -> None:
    ctx = Context(harness.client, harness.factory, Options(), {})  # type: ignore[arg-type]
    built = [factory(ctx) for factory in CONTROLLERS.values()]
    assert all(c is not None for c in built)
    plurals = [i.resource.plural for i in harness.factory.informers()]
    assert len(plurals) == len(set(plurals))  # one informer per resource, shared
    assert "events" not in plurals


def test_expectations_lifecycle() -> None:
    now = [0.0]
    exp = ControllerExpectations(ttl=10, clock=lambda: now[0])
    assert exp.satisfied_expectations("k")
    exp.expect_creations("k", 2)
    assert not exp.satisfied_expectations("k")
    exp.creation_observed("k")
    exp.creation_observed("k")
    assert exp.satisfied_expectations("k")
    exp.expect_deletions("k", ["ns/a"])
    exp.deletion_observed("k", "ns/other")
    assert not exp.satisfied_expectations("k")
    now[0] = 11  # a lost watch event must not block the controller forever
    assert exp.satisfied_expectations("k")


class Flaky(Controller):
    def __init__(self) -> None:
        super().__init__(1)
        self.calls = 0

    def sync(self, key: str) -> None:
        self.calls += 1
        if self.calls == 1:
            raise ConflictError("stale")


def test_a_failed_sync_is_retried_and_a_good_one_forgotten() -> None:
    c = Flaky()
    c.queue.add("ns/x")
    assert c.process_next_work_item(timeout=1)
    assert c.queue.num_requeues("ns/x") == 1
    assert c.process_next_work_item(timeout=1)  # comes back after its short back-off
    assert c.calls == 2 and c.queue.num_requeues("ns/x") == 0


@pytest.mark.parametrize(("value", "total", "up", "expected"), [
    ("25%", 10, True, 3), ("25%", 10, False, 2), (3, 10, True, 3), ("0%", 10, True, 0), (None, 5, True, 0)])
def test_scaled_value(value: object, total: int, up: bool, expected: int) -> None:
    assert scaled_value(value, total, up) == expected  # type: ignore[arg-type]


def test_tolerations() -> None:
    taint = {"key": "k", "value": "v", "effect": "NoExecute"}
    assert tolerates({"key": "k", "operator": "Equal", "value": "v"}, taint)
    assert not tolerates({"key": "k", "operator": "Equal", "value": "w"}, taint)
    assert tolerates({"operator": "Exists"}, taint)
    assert not tolerates({"key": "k", "operator": "Exists", "effect": "NoSchedule"}, taint)
    ok, used = matching_tolerations([taint], [{"key": "k", "operator": "Exists", "tolerationSeconds": 30},
                                              {"operator": "Exists", "tolerationSeconds": 10}])
    assert ok and min_toleration_seconds(used) == 10
    assert min_toleration_seconds([{"operator": "Exists"}]) is None
