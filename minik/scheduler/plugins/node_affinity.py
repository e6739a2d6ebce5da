"""NodeAffinity: `nodeSelector` and required node affinity filter; preferred terms add to the score.

Semantics of component-helpers' nodeaffinity: nodeSelector labels must all match; required terms
are ORed, the expressions and fields inside one term ANDed; a term with nothing in it matches no
node, and so does a term that does not parse (an invalid operator or a non-integer for Gt/Lt).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from minik.api.core import NodeSelectorTerm
from minik.api.labels import (
    DOES_NOT_EXIST,
    EXISTS,
    GREATER_THAN,
    IN,
    LESS_THAN,
    NOT_IN,
    Requirement,
    SelectorError,
    new_requirement,
)
from minik.api.meta import LabelSelectorRequirement
from minik.scheduler.framework import (
    MAX_NODE_SCORE,
    NODE_ADD,
    NODE_LABEL_CHANGE,
    ClusterEventWithHint,
    Code,
    CycleState,
    EnqueueExtensions,
    FilterPlugin,
    PreFilterPlugin,
    PreScorePlugin,
    ScorePlugin,
    Status,
)
from minik.scheduler.node_info import NodeInfo
from minik.scheduler.plugins.helper import default_normalize_score, passes_filter
from minik.scheduler.pod_info import PodInfo

log = logging.getLogger(__name__)

NAME = "NodeAffinity"
ERR_REASON_POD = "node(s) didn't match Pod's node affinity/selector"
_PRE_FILTER_KEY = "PreFilter" + NAME
_PRE_SCORE_KEY = "PreScore" + NAME
_OPERATORS = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": DOES_NOT_EXIST,
              "Gt": GREATER_THAN, "Lt": LESS_THAN}
_NODE_FIELDS = ("metadata.name",)
_SKIP = Status(Code.SKIP)


def _requirement(expr: LabelSelectorRequirement) -> Requirement:
    op = _OPERATORS.get(expr.operator)
    if op is None:
        raise SelectorError(f'"{expr.operator}" is not a valid node selector operator')
    return new_requirement(expr.key, op, expr.values or None)


@dataclass(frozen=True)
class CompiledTerm:
    """One NodeSelectorTerm, parsed; `None` lists mean the term could not be parsed (matches nothing)."""

    expressions: tuple[Requirement, ...]
    fields: tuple[Requirement, ...]
    valid: bool = True

    @classmethod
    def compile(cls, term: NodeSelectorTerm) -> CompiledTerm:
        try:
            exprs = tuple(_requirement(e) for e in term.match_expressions or [])
            fields = []
            for f in term.match_fields or []:
                if f.key not in _NODE_FIELDS or f.operator not in ("In", "NotIn"):
                    raise SelectorError(f"unsupported node field selector {f.key} {f.operator}")
                fields.append(Requirement(f.key, _OPERATORS[f.operator], tuple(f.values or ())))
            return cls(exprs, tuple(fields))
        except SelectorError as e:
            log.debug("node selector term does not parse (%s): it matches no node", e)
            return cls((), (), valid=False)

    def matches(self, labels: Mapping[str, str], node_name: str) -> bool:
        if not self.valid or (not self.expressions and not self.fields):
            return False
        if not all(r.matches(labels) for r in self.expressions):
            return False
        return not self.fields or all(r.matches({"metadata.name": node_name}) for r in self.fields)


@dataclass(frozen=True)
class RequiredNodeAffinity:
    """nodeaffinity.RequiredNodeAffinity: the pod's nodeSelector AND its required terms."""

    node_selector: tuple[tuple[str, str], ...]
    terms: tuple[CompiledTerm, ...] | None  # None: no required node affinity at all

    @classmethod
    def of(cls, pod: PodInfo) -> RequiredNodeAffinity:
        spec = pod.pod.spec
        affinity = spec.affinity.node_affinity if spec.affinity else None
        required = affinity.required_during_scheduling_ignored_during_execution if affinity else None
        terms = None if required is None else tuple(CompiledTerm.compile(t) for t in required.node_selector_terms)
        return cls(tuple(sorted((spec.node_selector or {}).items())), terms)

    def empty(self) -> bool:
        return not self.node_selector and self.terms is None

    def match(self, node: NodeInfo) -> bool:
        labels = node.labels
        for key, value in self.node_selector:
            if labels.get(key) != value:
                return False
        if self.terms is None:
            return True
        return any(t.matches(labels, node.name) for t in self.terms)


class NodeAffinity(PreFilterPlugin, FilterPlugin, PreScorePlugin, ScorePlugin, EnqueueExtensions):
    name = NAME
    _rejected = Status.unresolvable(ERR_REASON_POD, plugin=NAME)

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        required = RequiredNodeAffinity.of(pod)
        if required.empty():
            return _SKIP  # nothing to check: the filter does not even run
        state.write(_PRE_FILTER_KEY, required)
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        required: RequiredNodeAffinity = state.read(_PRE_FILTER_KEY)
        return None if required.match(node) else self._rejected

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status | None:
        spec = pod.pod.spec
        affinity = spec.affinity.node_affinity if spec.affinity else None
        preferred = affinity.preferred_during_scheduling_ignored_during_execution if affinity else None
        terms = [(t.weight, CompiledTerm.compile(t.preference)) for t in preferred or [] if t.weight]
        if not terms:
            return _SKIP
        state.write(_PRE_SCORE_KEY, terms)
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        terms: list[tuple[int, CompiledTerm]] = state.read(_PRE_SCORE_KEY)
        return sum(weight for weight, term in terms if term.matches(node.labels, node.name))

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        default_normalize_score(MAX_NODE_SCORE, False, scores)

    def events_to_register(self) -> list[ClusterEventWithHint]:
        hint = lambda pod, node: passes_filter(self, pod, node)  # noqa: E731
        return [ClusterEventWithHint(NODE_ADD, hint), ClusterEventWithHint(NODE_LABEL_CHANGE, hint)]
