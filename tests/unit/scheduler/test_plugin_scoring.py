"""BalancedAllocation and SelectorSpread: the scores that spread and balance pods."""

from __future__ import annotations

from schedtest import make_node, make_pod, scores

from minik.scheduler.plugins.balanced_allocation import BalancedAllocation, balanced_resource_score
from minik.scheduler.plugins.helper import default_normalize_score
from minik.scheduler.plugins.selector_spread import SelectorSpread


def test_balanced_resource_score() -> None:
    assert balanced_resource_score((500, 500), (1000, 1000)) == 100
    assert balanced_resource_score((900, 100), (1000, 1000)) == 60  # std 0.4
    assert balanced_resource_score((2000, 0), (1000, 1000)) == 50  # fractions capped at 1
    assert balanced_resource_score((500, 100), (1000, 0)) == 100  # one resource: nothing to balance


def test_balanced_allocation_prefers_even_usage_and_skips_best_effort() -> None:
    cpu_heavy = make_node("cpu-heavy", cpu="4", memory="4Gi", pods_on_node=[make_pod("x", cpu="3")])
    even = make_node("even", cpu="4", memory="4Gi", pods_on_node=[make_pod("y", cpu="1", memory="1Gi")])
    got = scores(BalancedAllocation(), make_pod(cpu="1", memory="1Gi"), [cpu_heavy, even])
    assert got is not None and got["even"] == 100 and got["cpu-heavy"] < got["even"]
    assert scores(BalancedAllocation(), make_pod(), [even]) is None


def test_selector_spread_prefers_nodes_with_fewer_replicas_of_the_same_owner() -> None:
    rs = "rs-uid"
    nodes = [make_node("two", pods_on_node=[make_pod("a", owner_uid=rs), make_pod("b", owner_uid=rs)]),
             make_node("one", pods_on_node=[make_pod("c", owner_uid=rs), make_pod("d", owner_uid="other")]),
             make_node("none", pods_on_node=[make_pod("e", owner_uid="other")])]
    assert scores(SelectorSpread(), make_pod(owner_uid=rs), nodes) == {"two": 0, "one": 50, "none": 100}
    assert scores(SelectorSpread(), make_pod(owner_uid="new"), nodes) == {"two": 100, "one": 100, "none": 100}
    assert scores(SelectorSpread(), make_pod(), nodes) is None  # no controller: skipped


def test_default_normalize_score() -> None:
    s = [2, 4, 0]
    default_normalize_score(100, False, s)
    assert s == [50, 100, 0]
    s = [2, 4, 0]
    default_normalize_score(100, True, s)
    assert s == [50, 0, 100]
    s = [0, 0]
    default_normalize_score(100, True, s)
    assert s == [100, 100]
