"""Does a pod's nodeSelector and required node affinity allow a node? (component-helpers' nodeaffinity)

Terms are ORed, the requirements inside a term ANDed; matchExpressions look at labels
(In, NotIn, Exists, DoesNotExist, Gt, Lt), matchFields at `metadata.name`.
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]


def _requirement_matches(req: Obj, values_of: dict[str, str]) -> bool:
    key, op = req.get("key"), req.get("operator")
    values = [str(v) for v in req.get("values") or []]
    present = key in values_of
    value = values_of.get(str(key), "")
    if op == "In":
        return present and value in values
    if op == "NotIn":
        return not present or value not in values
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return not present
    if op in ("Gt", "Lt"):
        if not present or len(values) != 1:
            return False
        try:
            left, right = int(value), int(values[0])
        except ValueError:
            return False
        return left > right if op == "Gt" else left < right
    return False


def term_matches(term: Obj, node: Obj) -> bool:
    exprs = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not exprs and not fields:
        return False  # an empty term matches no node
    meta = node.get("metadata") or {}
    labels = {str(k): str(v) for k, v in (meta.get("labels") or {}).items()}
    field_values = {"metadata.name": str(meta.get("name") or "")}
    return (all(_requirement_matches(r, labels) for r in exprs)
            and all(_requirement_matches(r, field_values) for r in fields))


def required_terms(pod_spec: Obj) -> list[Obj] | None:
    """The required node selector terms, or None when the pod has no required node affinity."""
    required = (((pod_spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution"))
    if required is None:
        return None
    return list(required.get("nodeSelectorTerms") or [])


def matches_node(pod_spec: Obj, node: Obj) -> bool:
    labels = (node.get("metadata") or {}).get("labels") or {}
    for key, value in (pod_spec.get("nodeSelector") or {}).items():
        if labels.get(key) != value:
            return False
    terms = required_terms(pod_spec)
    if terms is None:
        return True
    return any(term_matches(t, node) for t in terms)


def target_node_name(pod: Obj) -> str | None:
    """The node a DaemonSet pod is for: spec.nodeName, or its matchFields metadata.name affinity."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return str(spec["nodeName"])
    for term in required_terms(spec) or []:
        for req in term.get("matchFields") or []:
            if req.get("key") == "metadata.name" and req.get("operator") == "In" and len(req.get("values") or []) == 1:
                return str(req["values"][0])
    return None


def replace_node_name_affinity(affinity: Obj | None, node_name: str) -> Obj:
    """ReplaceDaemonSetPodNodeNameNodeAffinity: require exactly this node (by metadata.name)."""
    term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node_name]}]}
    affinity = dict(affinity or {})
    node_affinity = dict(affinity.get("nodeAffinity") or {})
    node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": [term]}
    affinity["nodeAffinity"] = node_affinity
    return affinity
