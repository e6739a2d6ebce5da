"""The scheduling framework: extension points, plugin statuses, and the FitError users read.

Like kube-scheduler's framework, a scheduling cycle is a fixed pipeline of extension points
(pre-filter -> filter -> post-filter on failure | pre-score -> score -> normalize -> select -> bind)
and every policy lives in a plugin. A plugin returns a `Status`, or None for success (Go's nil
status), so the hot filter loop allocates nothing for nodes that fit.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from minik.scheduler.node_info import NodeInfo
from minik.scheduler.pod_info import PodInfo

MAX_NODE_SCORE = 100
MIN_NODE_SCORE = 0
NO_NODE_AVAILABLE_MSG = "0/{} nodes are available"
ERR_NO_NODES_AVAILABLE = "no nodes available to schedule pods"


class Code(enum.IntEnum):
    """Kubernetes' status codes (framework.Code), in the same order."""

    SUCCESS = 0
    ERROR = 1
    UNSCHEDULABLE = 2
    UNSCHEDULABLE_AND_UNRESOLVABLE = 3
    WAIT = 4
    SKIP = 5

    def __str__(self) -> str:
        return {0: "Success", 1: "Error", 2: "Unschedulable", 3: "UnschedulableAndUnresolvable",
                4: "Wait", 5: "Skip"}[int(self)]


@dataclass(frozen=True, slots=True)
class Status:
    """A plugin's verdict. Immutable so plugins can return shared constants for common rejections.

    `reasons` are the strings the FitError histogram counts; `plugin` names who said so, which the
    queue uses to decide which cluster events can make the pod schedulable.
    """

    code: Code
    reasons: tuple[str, ...] = ()
    plugin: str = ""
    err: BaseException | None = field(default=None, compare=False)

    @classmethod
    def unschedulable(cls, *reasons: str, plugin: str = "") -> Status:
        return cls(Code.UNSCHEDULABLE, reasons, plugin)

    @classmethod
    def unresolvable(cls, *reasons: str, plugin: str = "") -> Status:
        return cls(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, reasons, plugin)

    @classmethod
    def error(cls, message: str, plugin: str = "") -> Status:
        return cls(Code.ERROR, (message,), plugin)

    @classmethod
    def as_status(cls, err: BaseException, plugin: str = "") -> Status:
        """An Error status carrying the exception, so callers can tell a 409 from a timeout."""
        return cls(Code.ERROR, (str(err) or type(err).__name__,), plugin, err)

    def message(self) -> str:
        return ", ".join(self.reasons)


class CycleState:
    """Per-cycle scratch space: what pre-filter/pre-score computed once for every node of the cycle."""

    __slots__ = ("_data", "skip_filter_plugins", "skip_score_plugins", "filters")

    def __init__(self) -> None:
        self._data: dict[str, Any] = {}
        self.skip_filter_plugins: set[str] = set()
        self.skip_score_plugins: set[str] = set()
        # (plugin name, bound filter) of the plugins pre-filter did not skip: computed once per cycle
        self.filters: list[tuple[str, Callable[[CycleState, PodInfo, NodeInfo], Status | None]]] | None = None

    def write(self, key: str, value: Any) -> None:
        self._data[key] = value

    def read(self, key: str) -> Any:
        """The stored value; KeyError when the plugin's pre-step did not run (a framework bug)."""
        return self._data[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)


@dataclass(slots=True)
class NodeScore:
    name: str
    score: int


# --- cluster events (what can make an unschedulable pod schedulable) ----------------------


class ActionType(enum.Flag):
    """What happened to an object; node updates are split so plugins register only for what matters."""

    ADD = enum.auto()
    DELETE = enum.auto()
    UPDATE_NODE_ALLOCATABLE = enum.auto()
    UPDATE_NODE_LABEL = enum.auto()
    UPDATE_NODE_TAINT = enum.auto()  # taints, and spec.unschedulable, which behaves like a taint
    UPDATE_NODE_CONDITION = enum.auto()
    UPDATE = UPDATE_NODE_ALLOCATABLE | UPDATE_NODE_LABEL | UPDATE_NODE_TAINT | UPDATE_NODE_CONDITION
    ALL = ADD | DELETE | UPDATE


NODE = "Node"
ASSIGNED_POD = "AssignedPod"
WILDCARD = "*"


@dataclass(frozen=True)
class ClusterEvent:
    resource: str
    action: ActionType
    label: str = ""

    def matches(self, registered: ClusterEvent) -> bool:
        """True when this (concrete) event is covered by a plugin's registration."""
        if registered.resource not in (WILDCARD, self.resource):
            return False
        return bool(self.action & registered.action)

    def __str__(self) -> str:
        return self.label or f"{self.resource}{self.action.name}"


NODE_ADD = ClusterEvent(NODE, ActionType.ADD, "NodeAdd")
NODE_ALLOCATABLE_CHANGE = ClusterEvent(NODE, ActionType.UPDATE_NODE_ALLOCATABLE, "NodeAllocatableChange")
NODE_LABEL_CHANGE = ClusterEvent(NODE, ActionType.UPDATE_NODE_LABEL, "NodeLabelChange")
NODE_TAINT_CHANGE = ClusterEvent(NODE, ActionType.UPDATE_NODE_TAINT, "NodeTaintChange")
NODE_SPEC_UNSCHEDULABLE_CHANGE = ClusterEvent(NODE, ActionType.UPDATE_NODE_TAINT, "NodeSpecUnschedulableChange")
NODE_CONDITION_CHANGE = ClusterEvent(NODE, ActionType.UPDATE_NODE_CONDITION, "NodeConditionChange")
ASSIGNED_POD_DELETE = ClusterEvent(ASSIGNED_POD, ActionType.DELETE, "AssignedPodDelete")
ASSIGNED_POD_ADD = ClusterEvent(ASSIGNED_POD, ActionType.ADD, "AssignedPodAdd")
UNSCHEDULABLE_TIMEOUT = ClusterEvent(WILDCARD, ActionType.ALL, "UnschedulableTimeout")

# Whether the event may make this pod schedulable, judged on the node the event is about (the
# node as cached now, after the change). True means "requeue", like QueueingHint Queue.
QueueingHintFn = Callable[[PodInfo, "NodeInfo | None"], bool]


@dataclass(frozen=True)
class ClusterEventWithHint:
    event: ClusterEvent
    hint: QueueingHintFn | None = None


# --- plugin interfaces ---------------------------------------------------------------------


class Plugin:
    """Base of every plugin; `name` is the Kubernetes plugin name shown in logs and hints."""

    name: str = ""


class PreFilterPlugin(Plugin):
    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        """Compute per-pod state once; Skip disables this plugin's filter for the cycle."""
        raise NotImplementedError


class FilterPlugin(Plugin):
    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        raise NotImplementedError


class PostFilterPlugin(Plugin):
    def post_filter(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo],
                    node_to_status: dict[str, Status], fwk: Framework) -> Status | None:
        """Runs when no node fits; its message becomes the FitError's post-filter part."""
        raise NotImplementedError


class PreScorePlugin(Plugin):
    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status | None:
        """Skip disables this plugin's score for the cycle (nothing to prefer)."""
        raise NotImplementedError


class ScorePlugin(Plugin):
    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        raise NotImplementedError

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        """Map raw scores (in the order of the scored nodes) to 0..MAX_NODE_SCORE in place;
        plugins already in range keep the default no-op."""
        return None


class BindPlugin(Plugin):
    def bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        """Skip hands the pod to the next binder; anything else is final."""
        raise NotImplementedError


class EnqueueExtensions:
    """Implemented by plugins that can reject pods: the events after which a retry may succeed."""

    def events_to_register(self) -> list[ClusterEventWithHint]:
        raise NotImplementedError


# --- diagnosis and FitError ----------------------------------------------------------------


@dataclass
class Diagnosis:
    node_to_status: dict[str, Status] = field(default_factory=dict)
    unschedulable_plugins: set[str] = field(default_factory=set)
    pre_filter_msg: str = ""
    post_filter_msg: str = ""


class FitError(Exception):
    """No node fits: the message is the one `kubectl describe pod` shows under FailedScheduling."""

    def __init__(self, pod: PodInfo, num_all_nodes: int, diagnosis: Diagnosis) -> None:
        super().__init__()
        self.pod = pod
        self.num_all_nodes = num_all_nodes
        self.diagnosis = diagnosis

    def __str__(self) -> str:
        return fit_error_message(self.num_all_nodes, self.diagnosis)


def reasons_histogram(statuses: Iterable[Status]) -> str:
    """`1 node(s) had untolerated taint {k: }, 2 Insufficient cpu`: "count reason" strings sorted.

    Kubernetes sorts the formatted "count reason" strings, not the reasons, so smaller counts of
    the same digit width come first; we keep that exact order.
    """
    counts: dict[str, int] = {}
    for status in statuses:
        for reason in status.reasons:
            counts[reason] = counts.get(reason, 0) + 1
    return ", ".join(sorted(f"{n} {reason}" for reason, n in counts.items()))


def fit_error_message(num_all_nodes: int, diagnosis: Diagnosis) -> str:
    """FitError.Error(): `0/N nodes are available: <pre-filter or histogram>. <post-filter>`."""
    msg = NO_NODE_AVAILABLE_MSG.format(num_all_nodes) + ":"
    if diagnosis.pre_filter_msg:
        msg += f" {diagnosis.pre_filter_msg}."
    else:
        histogram = reasons_histogram(diagnosis.node_to_status.values())
        if histogram:
            msg += f" {histogram}."
    if diagnosis.post_filter_msg:
        msg += f" {diagnosis.post_filter_msg}"
    return msg


class SchedulingError(Exception):
    """A plugin failed (Code Error): the pod is retried with back-off, reason SchedulerError."""


# --- the framework -------------------------------------------------------------------------


class Framework:
    """One scheduling profile: the plugins of each extension point, in order, with score weights."""

    def __init__(self, plugins: Sequence[tuple[Plugin, int]]) -> None:
        self.plugins = [p for p, _ in plugins]
        self.weights = {p.name: w for p, w in plugins}
        self.pre_filter_plugins = [p for p in self.plugins if isinstance(p, PreFilterPlugin)]
        self.filter_plugins = [p for p in self.plugins if isinstance(p, FilterPlugin)]
        self.post_filter_plugins = [p for p in self.plugins if isinstance(p, PostFilterPlugin)]
        self.pre_score_plugins = [p for p in self.plugins if isinstance(p, PreScorePlugin)]
        self.score_plugins = [p for p in self.plugins if isinstance(p, ScorePlugin)]
        self.bind_plugins = [p for p in self.plugins if isinstance(p, BindPlugin)]
        for sp in self.score_plugins:
            if self.weights.get(sp.name, 0) <= 0:
                raise ValueError(f"score plugin {sp.name} needs a positive weight")
        # event -> [(plugin name, hint)], for the queue
        self.events: list[tuple[str, ClusterEventWithHint]] = []
        for p in self.plugins:
            if isinstance(p, EnqueueExtensions):
                self.events.extend((p.name, e) for e in p.events_to_register())

    def run_pre_filter_plugins(self, state: CycleState, pod: PodInfo) -> Status | None:
        for p in self.pre_filter_plugins:
            status = p.pre_filter(state, pod)
            if status is None or status.code == Code.SUCCESS:
                continue
            if status.code == Code.SKIP:
                state.skip_filter_plugins.add(p.name)
                state.filters = None
                continue
            return status if status.plugin else Status(status.code, status.reasons, p.name)
        return None

    def run_filter_plugins(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        """First rejection wins, as in kube-scheduler: a node reports one plugin's reasons."""
        filters = state.filters
        if filters is None:
            skip = state.skip_filter_plugins
            filters = state.filters = [(p.name, p.filter) for p in self.filter_plugins if p.name not in skip]
        for name, run in filters:
            status = run(state, pod, node)
            if status is not None and status.code != Code.SUCCESS:
                return status if status.plugin else Status(status.code, status.reasons, name)
        return None

    def run_post_filter_plugins(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo],
                                node_to_status: dict[str, Status]) -> Status | None:
        """The first plugin that does not answer Unschedulable decides (DefaultPreemption here)."""
        result: Status | None = Status(Code.UNSCHEDULABLE)
        for p in self.post_filter_plugins:
            result = p.post_filter(state, pod, nodes, node_to_status, self)
            if result is None or result.code != Code.UNSCHEDULABLE:
                return result
        return result

    def run_pre_score_plugins(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status | None:
        for p in self.pre_score_plugins:
            status = p.pre_score(state, pod, nodes)
            if status is None or status.code == Code.SUCCESS:
                continue
            if status.code == Code.SKIP:
                state.skip_score_plugins.add(p.name)
                continue
            return status
        return None

    def run_score_plugins(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[NodeScore]:
        """Weighted sum of every plugin's normalized score, per node, in the order of `nodes`.

        Scores travel as plain int lists aligned with `nodes`: with hundreds of nodes per cycle,
        an object per (plugin, node) would cost more than the scoring itself.
        """
        totals = [0] * len(nodes)
        skip = state.skip_score_plugins
        for p in self.score_plugins:
            if p.name in skip:
                continue
            score = p.score
            scores = [score(state, pod, n) for n in nodes]
            p.normalize_score(state, pod, scores)
            if scores and (min(scores) < MIN_NODE_SCORE or max(scores) > MAX_NODE_SCORE):
                bad = next(i for i, v in enumerate(scores) if not MIN_NODE_SCORE <= v <= MAX_NODE_SCORE)
                raise SchedulingError(f"plugin {p.name} returns an invalid score {scores[bad]} for node "
                                      f"{nodes[bad].name}; it should be in [{MIN_NODE_SCORE}, {MAX_NODE_SCORE}]")
            weight = self.weights[p.name]
            totals = [t + v * weight for t, v in zip(totals, scores, strict=True)]
        return [NodeScore(n.name, t) for n, t in zip(nodes, totals, strict=True)]

    def run_bind_plugins(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        for p in self.bind_plugins:
            status = p.bind(state, pod, node_name)
            if status is not None and status.code == Code.SKIP:
                continue
            return status
        return Status.error("no bind plugin bound the pod")
