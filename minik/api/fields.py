"""Field selectors (`fieldSelector=spec.nodeName=n1`) and the selectable fields of each kind.

Grammar and messages follow apimachinery's `fields` package: comma-separated `field=value`,
`field==value` or `field!=value` terms, with `\\`, `\\,` and `\\=` escapes inside values. Which
fields a kind accepts follows the apiserver's field-label conversion functions, so a selector
kubectl accepts here is one Kubernetes would accept too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from minik.api.labels import SelectorError

EQUALS = "="
NOT_EQUALS = "!="
_TERM_OPERATORS = ("!=", "==", "=")  # "==" before "=" so no "=" is left on the value


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    operator: str  # EQUALS or NOT_EQUALS ("==" is stored as "=")
    value: str

    def matches(self, fields: Mapping[str, str]) -> bool:
        have = fields.get(self.field, "")
        return have == self.value if self.operator == EQUALS else have != self.value

    def __str__(self) -> str:
        return f"{self.field}{self.operator}{escape_value(self.value)}"


@dataclass(frozen=True)
class FieldSelector:
    """AND of field requirements, in the sorted order apimachinery keeps them."""

    requirements: tuple[FieldRequirement, ...] = ()

    @classmethod
    def everything(cls) -> FieldSelector:
        return cls()

    def matches(self, fields: Mapping[str, str]) -> bool:
        return all(r.matches(fields) for r in self.requirements)

    def empty(self) -> bool:
        return not self.requirements

    def value_for(self, field: str) -> str | None:
        """The value an `=` term requires for `field`, so the server can narrow its scan (e.g. by name)."""
        for r in self.requirements:
            if r.field == field and r.operator == EQUALS:
                return r.value
        return None

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def escape_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def _unescape_value(value: str) -> str:
    if not any(c in value for c in "\\,="):
        return value
    out: list[str] = []
    in_slash = False
    for c in value:
        if in_slash:
            if c not in "\\,=":
                raise SelectorError(f"invalid field selector: invalid escape sequence: \\{c}")
            out.append(c)
            in_slash = False
        elif c == "\\":
            in_slash = True
        elif c in ",=":
            # apimachinery prints the rune with %v, i.e. its code point.
            raise SelectorError(f"invalid field selector: unescaped character in value: {ord(c)}")
        else:
            out.append(c)
    if in_slash:
        raise SelectorError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def _split_terms(text: str) -> list[str]:
    """Split on commas that are not backslash-escaped; escapes stay in the terms."""
    if not text:
        return []
    terms: list[str] = []
    start, in_slash = 0, False
    for i, c in enumerate(text):
        if in_slash:
            in_slash = False
        elif c == "\\":
            in_slash = True
        elif c == ",":
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms


def _split_term(term: str) -> tuple[str, str, str] | None:
    for i in range(len(term)):
        for op in _TERM_OPERATORS:
            if term.startswith(op, i):
                return term[:i], op, term[i + len(op):]
    return None


def parse_field_selector(text: str) -> FieldSelector:
    """Parse a `fieldSelector` string; an empty string selects everything."""
    requirements: list[FieldRequirement] = []
    for term in sorted(_split_terms(text)):
        if not term:
            continue
        parts = _split_term(term)
        if parts is None:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{term}'")
        lhs, op, rhs = parts
        requirements.append(FieldRequirement(lhs, NOT_EQUALS if op == "!=" else EQUALS, _unescape_value(rhs)))
    return FieldSelector(tuple(requirements))


# --- selectable fields per kind -------------------------------------------------------------

_META = frozenset({"metadata.name", "metadata.namespace"})

# Kinds with their own field-label conversion in Kubernetes; the rest accept only _META.
SUPPORTED_FIELDS: dict[str, frozenset[str]] = {
    "pods": _META | {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
                     "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"},
    "nodes": frozenset({"metadata.name", "spec.unschedulable"}),
    "namespaces": frozenset({"metadata.name", "status.phase"}),
    "events": _META | {"involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
                       "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
                       "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type"},
    "services": _META | {"spec.clusterIP", "spec.type"},
    "replicasets": _META | {"status.replicas"},
}


def check_supported(plural: str, selector: FieldSelector) -> None:
    """Reject fields the kind cannot be selected by, with the apiserver's message for that kind."""
    allowed = SUPPORTED_FIELDS.get(plural)
    for r in selector.requirements:
        if allowed is None:
            if r.field not in _META:
                raise SelectorError(f'"{r.field}" is not a known field selector: '
                                    'only "metadata.name", "metadata.namespace"')
        elif r.field not in allowed:
            raise SelectorError(f"field label not supported: {r.field}")


def _get(obj: Mapping[str, Any], path: str) -> Any:
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(part)
    return cur


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def _flag(value: Any) -> str:
    # Go formats a bool field with strconv.FormatBool: absent means "false", not "".
    return "true" if value is True else "false"


def object_fields(plural: str, obj: Mapping[str, Any]) -> dict[str, str]:
    """The field set a selector is matched against for an object in wire (camelCase) form."""
    fields = {"metadata.name": _text(_get(obj, "metadata.name")),
              "metadata.namespace": _text(_get(obj, "metadata.namespace"))}
    if plural == "pods":
        pod_ips = _get(obj, "status.podIPs")
        first_ip = pod_ips[0].get("ip") if isinstance(pod_ips, list) and pod_ips and isinstance(
            pod_ips[0], Mapping) else None
        fields.update({
            "spec.nodeName": _text(_get(obj, "spec.nodeName")),
            "spec.restartPolicy": _text(_get(obj, "spec.restartPolicy")),
            "spec.schedulerName": _text(_get(obj, "spec.schedulerName")),
            "spec.serviceAccountName": _text(_get(obj, "spec.serviceAccountName")),
            "spec.hostNetwork": _flag(_get(obj, "spec.hostNetwork")),
            "status.phase": _text(_get(obj, "status.phase")),
            "status.podIP": _text(first_ip or _get(obj, "status.podIP")),
            "status.nominatedNodeName": _text(_get(obj, "status.nominatedNodeName")),
        })
    elif plural == "nodes":
        fields["spec.unschedulable"] = _flag(_get(obj, "spec.unschedulable"))
    elif plural == "namespaces":
        fields["status.phase"] = _text(_get(obj, "status.phase"))
    elif plural == "events":
        for name in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath"):
            fields[f"involvedObject.{name}"] = _text(_get(obj, f"involvedObject.{name}"))
        reporting = _text(obj.get("reportingComponent"))
        fields.update({
            "reason": _text(obj.get("reason")),
            "reportingComponent": reporting,
            # Events written through events.k8s.io only carry the reporting controller.
            "source": _text(_get(obj, "source.component")) or reporting,
            "type": _text(obj.get("type")),
        })
    elif plural == "services":
        fields["spec.clusterIP"] = _text(_get(obj, "spec.clusterIP"))
        fields["spec.type"] = _text(_get(obj, "spec.type"))
    elif plural == "replicasets":
        replicas = _get(obj, "status.replicas")
        fields["status.replicas"] = _text(replicas if replicas is not None else 0)
    return fields
