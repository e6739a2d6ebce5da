"""describe for namespaces, and the generic describer every other kind falls back to."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from minik.ctl.describe.writer import Obj, PrefixWriter, annotations_multiline, describe_events, labels_multiline

_ACRONYMS = ("API", "URL", "UID", "OSB", "GUID")
_SKIP = (".metadata.managedFields", ".metadata.name", ".metadata.namespace", ".metadata.labels",
         ".metadata.annotations")


def describe_namespace(ns: Obj) -> str:
    """Name, labels, status (minik serves no quotas or limit ranges, so kubectl shows none either)."""
    meta = ns.get("metadata") or {}
    w = PrefixWriter()
    w.write(0, f"Name:\t{meta.get('name', '')}\n")
    labels_multiline(w, "Labels", meta.get("labels"))
    annotations_multiline(w, "Annotations", meta.get("annotations"))
    w.write(0, f"Status:\t{(ns.get('status') or {}).get('phase', '')}\n")
    return w.text()


def smart_label(field: str) -> str:
    """smartLabelFor: `holderIdentity` -> `Holder Identity`, `apiVersion` -> `API Version`."""
    if any(not (ch.isalpha() or ch == "-") for ch in field):
        return field
    parts = re.findall(r"[A-Z]+(?=[A-Z][a-z]|$)|[A-Z]?[a-z]+|[A-Z]+|[^A-Za-z]+", field)
    words = [p.upper() if p.upper() in _ACRONYMS else p[:1].upper() + p[1:] for p in parts if p != "_"]
    return " ".join(words)


def _content(w: PrefixWriter, level: int, content: dict[str, Any], prefix: str) -> None:
    """printUnstructuredContent: every field, sorted, nested maps and lists indented."""
    for field in sorted(content):
        value = content[field]
        path = f"{prefix}.{field}"
        if path in _SKIP:
            continue
        if isinstance(value, dict):
            w.write(level, f"{smart_label(field)}:\n")
            _content(w, level + 1, value, path)
        elif isinstance(value, list):
            w.write(level, f"{smart_label(field)}:\n")
            for child in value:
                if isinstance(child, dict):
                    _content(w, level + 1, child, path)
                else:
                    w.write(level + 1, f"{_go_value(child)}\n")
        else:
            w.write(level, f"{smart_label(field)}:\t{_go_value(value)}\n")


def _go_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "<nil>"
    return str(value)


def describe_generic(obj: Obj, events: list[Obj] | None, now: datetime) -> str:
    meta = obj.get("metadata") or {}
    w = PrefixWriter()
    w.write(0, f"Name:\t{meta.get('name', '')}\n")
    w.write(0, f"Namespace:\t{meta.get('namespace', '')}\n")
    labels_multiline(w, "Labels", meta.get("labels"))
    annotations_multiline(w, "Annotations", meta.get("annotations"))
    _content(w, 0, obj, "")
    describe_events(w, events, now)
    return w.text()
