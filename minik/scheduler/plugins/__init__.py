"""The in-tree plugins and the default profile (kube-scheduler's default plugin set and weights).

Filter order matters: a node reports the reasons of the first filter that rejects it, and this
is kube-scheduler's order, so messages match a real cluster's.
"""

from __future__ import annotations

from minik.scheduler.framework import Framework, Plugin
from minik.scheduler.plugins.balanced_allocation import BalancedAllocation
from minik.scheduler.plugins.default_binder import Binder, DefaultBinder
from minik.scheduler.plugins.default_preemption import DefaultPreemption
from minik.scheduler.plugins.node_affinity import NodeAffinity
from minik.scheduler.plugins.node_name import NodeName
from minik.scheduler.plugins.node_resources_fit import NodeResourcesFit
from minik.scheduler.plugins.node_unschedulable import NodeUnschedulable
from minik.scheduler.plugins.selector_spread import SelectorSpread
from minik.scheduler.plugins.taint_toleration import TaintToleration


def default_plugins(binder: Binder | None = None) -> list[tuple[Plugin, int]]:
    """(plugin, score weight) in extension-point order; weight 0 for plugins that do not score."""
    plugins: list[tuple[Plugin, int]] = [
        (NodeUnschedulable(), 0),
        (NodeName(), 0),
        (TaintToleration(), 3),
        (NodeAffinity(), 2),
        (NodeResourcesFit(), 1),
        (SelectorSpread(), 2),  # the weight PodTopologySpread's default constraints have
        (DefaultPreemption(), 0),
        (BalancedAllocation(), 1),
    ]
    if binder is not None:
        plugins.append((DefaultBinder(binder), 0))
    return plugins


def default_framework(binder: Binder | None = None) -> Framework:
    return Framework(default_plugins(binder))


__all__ = ["BalancedAllocation", "DefaultBinder", "DefaultPreemption", "NodeAffinity", "NodeName",
           "NodeResourcesFit", "NodeUnschedulable", "SelectorSpread", "TaintToleration", "default_framework",
           "default_plugins"]
