"""kubectl apply's three-way strategic merge patch (strategicpatch.CreateThreeWayMergePatch).

original = the last-applied configuration (what the user applied before), modified = what the user
applies now, current = the live object. The patch is
  deletions (fields in original that modified dropped)  merged with
  delta     (fields of modified that differ from current, never deleting anything else),
so fields set by the server or other actors (status, defaults, replicas scaled by hand when the
manifest omits them) survive. Lists of objects with a Kubernetes patch merge key (containers by
name, ports by containerPort/port, ...) are merged element by element, removed elements are sent
as `{"$patch": "delete", key: value}`; other lists are replaced whole.
"""

from __future__ import annotations

import json
from typing import Any

from minik.ctl.encoding import go_json_compact

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"

# patchMergeKey of the list fields minik's kinds carry (k8s.io/api struct tags).
MERGE_KEYS: dict[str, tuple[str, ...]] = {
    "containers": ("name",),
    "initContainers": ("name",),
    "ephemeralContainers": ("name",),
    "env": ("name",),
    "volumes": ("name",),
    "volumeMounts": ("mountPath",),
    "volumeDevices": ("devicePath",),
    "imagePullSecrets": ("name",),
    "hostAliases": ("ip",),
    "ownerReferences": ("uid",),
    "ports": ("containerPort", "port"),
    "conditions": ("type",),
    "taints": ("key",),
}


def _merge_key(field: str, *lists: list[Any] | None) -> str | None:
    """The merge key for a list field, if every element is an object carrying it."""
    candidates = MERGE_KEYS.get(field)
    if not candidates:
        return None
    elements = [e for lst in lists if lst for e in lst]
    if not elements or not all(isinstance(e, dict) for e in elements):
        return None
    for key in candidates:
        if all(key in e for e in elements):
            return key
    return None


def _index(items: list[dict[str, Any]], key: str) -> dict[Any, dict[str, Any]]:
    return {json.dumps(e[key], sort_keys=True): e for e in items}


def _delta(current: Any, modified: Any) -> dict[str, Any]:
    """Changes that turn `current` into `modified`, ignoring fields only `current` has."""
    patch: dict[str, Any] = {}
    cur = current if isinstance(current, dict) else {}
    for field, new in modified.items():
        if field not in cur:
            patch[field] = new
            continue
        old = cur[field]
        if isinstance(new, dict) and isinstance(old, dict):
            sub = _delta(old, new)
            if sub:
                patch[field] = sub
        elif isinstance(new, list) and isinstance(old, list):
            key = _merge_key(field, old, new)
            if key is None:
                if new != old:
                    patch[field] = new
                continue
            by_key = _index(old, key)
            elements = []
            for item in new:
                match = by_key.get(json.dumps(item[key], sort_keys=True))
                if match is None:
                    elements.append(item)
                    continue
                sub = _delta(match, item)
                if sub:
                    elements.append({key: item[key], **sub})
            if elements:
                patch[field] = elements
        elif new != old:
            patch[field] = new
    return patch


def _deletions(original: Any, modified: Any) -> dict[str, Any]:
    """Fields present in `original` that `modified` no longer has (as null / $patch: delete)."""
    patch: dict[str, Any] = {}
    if not isinstance(original, dict):
        return patch
    for field, old in original.items():
        if field not in modified:
            patch[field] = None
            continue
        new = modified[field]
        if isinstance(old, dict) and isinstance(new, dict):
            sub = _deletions(old, new)
            if sub:
                patch[field] = sub
        elif isinstance(old, list) and isinstance(new, list):
            key = _merge_key(field, old, new)
            if key is None:
                continue
            by_key = _index(new, key)
            elements = []
            for item in old:
                match = by_key.get(json.dumps(item[key], sort_keys=True))
                if match is None:
                    elements.append({"$patch": "delete", key: item[key]})
                    continue
                sub = _deletions(item, match)
                if sub:
                    elements.append({key: item[key], **sub})
            if elements:
                patch[field] = elements
    return patch


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Combine two patches (deletions first, then changes) into one."""
    out = dict(a)
    for field, value in b.items():
        if field in out and isinstance(out[field], dict) and isinstance(value, dict):
            out[field] = _merge(out[field], value)
        elif field in out and isinstance(out[field], list) and isinstance(value, list) \
                and _is_element_patch(out[field]) and _is_element_patch(value):
            out[field] = _merge_elements(field, out[field], value)
        else:
            out[field] = value
    return out


def _merge_elements(field: str, a: list[dict[str, Any]], b: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Element patches from both sides; the two patches for the same element become one."""
    out = list(a)
    for element in b:
        for i, existing in enumerate(out):
            if "$patch" in existing or "$patch" in element:
                continue
            key = next((k for k in MERGE_KEYS.get(field, ()) if k in existing and k in element), None)
            if key is not None and existing[key] == element[key]:
                out[i] = _merge(existing, element)
                break
        else:
            out.append(element)
    return out


def _is_element_patch(items: list[Any]) -> bool:
    return all(isinstance(e, dict) for e in items)


def _element_order(patch: dict[str, Any], modified: dict[str, Any]) -> None:
    """Add `$setElementOrder/<list>` directives so merged lists keep the manifest's order."""
    for field, value in list(patch.items()):
        new = modified.get(field)
        if isinstance(value, dict) and isinstance(new, dict):
            _element_order(value, new)
        elif isinstance(value, list) and isinstance(new, list):
            key = _merge_key(field, new)
            if key is None or not _is_element_patch(value):
                continue
            patch[f"$setElementOrder/{field}"] = [{key: item[key]} for item in new]
            by_key = _index(new, key)
            for element in value:
                match = by_key.get(json.dumps(element.get(key), sort_keys=True))
                if match is not None and element.get("$patch") != "delete":
                    _element_order(element, match)


def three_way_patch(original: dict[str, Any] | None, modified: dict[str, Any],
                    current: dict[str, Any]) -> dict[str, Any]:
    """The strategic merge patch kubectl apply sends ({} when nothing changed)."""
    delta = _delta(current, modified)
    deletions = _deletions(original, modified) if original else {}
    patch = _merge(deletions, delta)
    _element_order(patch, modified)
    return patch


def last_applied(obj: dict[str, Any]) -> str:
    """GetModifiedConfiguration's annotation value: the object without the annotation, as compact
    sorted JSON plus a newline, with `metadata.annotations` present (maybe empty)."""
    data = json.loads(json.dumps(obj))
    meta = data.setdefault("metadata", {})
    annotations = dict(meta.get("annotations") or {})
    annotations.pop(LAST_APPLIED, None)
    meta["annotations"] = annotations
    return go_json_compact(data) + "\n"


def with_last_applied(obj: dict[str, Any]) -> dict[str, Any]:
    """The object to send: a copy carrying its own last-applied-configuration annotation."""
    applied = last_applied(obj)
    data = json.loads(json.dumps(obj))
    meta = data.setdefault("metadata", {})
    annotations = dict(meta.get("annotations") or {})
    annotations[LAST_APPLIED] = applied
    meta["annotations"] = annotations
    return data


def original_configuration(current: dict[str, Any]) -> dict[str, Any] | None:
    """The live object's last-applied configuration, if it has a readable one."""
    text = ((current.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED)
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
