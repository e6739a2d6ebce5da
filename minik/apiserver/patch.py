"""PATCH bodies: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and strategic merge patch.

Semantics follow the apiserver (evanphx/json-patch v4 and apimachinery's strategicpatch), so
`kubectl patch`, `kubectl apply` and `kubectl edit` produce the same objects here as on a real
cluster. A patch that cannot be applied raises a StatusError (400 BadRequest for a malformed
patch, 422 Invalid when a well-formed patch does not fit the object) and never touches its input.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from minik.api.errors import (
    BadRequestError,
    InvalidError,
    RequestEntityTooLargeError,
    UnsupportedMediaTypeError,
    invalid,
)
from minik.api.resources import lookup

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
MAX_JSON_PATCH_OPERATIONS = 10000


def apply_patch(doc: dict[str, Any], patch: Any, content_type: str, kind: str) -> dict[str, Any]:
    """Dispatch on the request's Content-Type, as the apiserver's PATCH handler does."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type == JSON_PATCH:
        return apply_json_patch(doc, patch)
    if media_type == MERGE_PATCH:
        return apply_merge_patch(doc, patch)
    if media_type == STRATEGIC_MERGE_PATCH:
        if not isinstance(patch, dict):
            raise BadRequestError(f"json: cannot unmarshal {_json_kind(patch)} into Go value of type "
                                  "map[string]interface {}")
        return apply_strategic_merge_patch(doc, patch, kind)
    raise UnsupportedMediaTypeError(
        f"the body of the request was in an unknown format - accepted media types include: "
        f"{JSON_PATCH}, {MERGE_PATCH}, {STRATEGIC_MERGE_PATCH}")


# --- shared helpers ---------------------------------------------------------------------------


def _json_kind(value: Any) -> str:
    """The JSON type name encoding/json uses in "cannot unmarshal X into ..." messages."""
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    if value is None:
        return "null"
    return "number"


def _json_equal(a: Any, b: Any) -> bool:
    """Equality of JSON values: unlike Python's ==, true is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def _go_number(value: int | float) -> str:
    """Go's %v of a float64 (JSON numbers decode to float64): 80 -> 80, 1e21 -> 1e+21."""
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return "NaN" if value != value else ("+Inf" if value > 0 else "-Inf")
    number = Decimal(value) if isinstance(value, int) else Decimal(repr(value))
    exponent = number.adjusted()
    if -4 <= exponent < 21:
        fixed = format(number, "f")
        return fixed.rstrip("0").rstrip(".") if "." in fixed else fixed
    digits = format(number.scaleb(-exponent).normalize(), "f")
    sign = "-" if exponent < 0 else "+"
    return f"{digits}e{sign}{abs(exponent):02d}"


def _go(value: Any) -> str:
    """Go's %v of a decoded JSON value, as apimachinery embeds it in patch error messages."""
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_go(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(_go(v) for v in value) + "]"
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _go_number(value)
    return str(value)


def _go_type(value: Any) -> str:
    if isinstance(value, dict):
        return "map[string]interface {}"
    if isinstance(value, list):
        return "[]interface {}"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    if value is None:
        return "nil"
    return "float64"


# --- JSON merge patch (RFC 7386) ---------------------------------------------------------------


def _prune_nulls(value: Any) -> Any:
    """Nulls inside an added value mean nothing; drop them (arrays keep their null elements)."""
    if isinstance(value, dict):
        return {k: _prune_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_prune_nulls(v) for v in value]
    return value


def _merge_docs(doc: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    out = dict(doc)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge_docs(out[key], value)
        else:
            out[key] = _prune_nulls(value)
    return out


def _too_deep() -> BadRequestError:
    return BadRequestError("the patch or the object is nested too deeply")


def apply_merge_patch(doc: dict[str, Any], patch: Any) -> dict[str, Any]:
    """RFC 7386: objects merge recursively, null deletes, anything else (lists too) replaces."""
    if isinstance(patch, dict):
        try:
            return copy.deepcopy(_merge_docs(doc, patch))
        except RecursionError:
            raise _too_deep() from None
    if isinstance(patch, list):
        # The patch replaces the whole object with an array, which no kind can decode.
        error = invalid("patch", json.dumps(patch, separators=(",", ":")),
                        "the patched object must be a JSON object, got an array")
        raise InvalidError(str(error), details={"causes": [error.cause()]})
    raise BadRequestError("Invalid JSON Patch")


# --- JSON patch (RFC 6902) ---------------------------------------------------------------------


_INDEX_RE = re.compile(r"[+-]?[0-9]+")  # what Go's strconv.Atoi accepts


class _PatchFailed(Exception):
    """A well-formed operation that does not apply to this document."""


def _unprocessable(message: str) -> InvalidError:
    """What the apiserver answers when a JSON patch does not apply: 422 carrying json-patch's reason."""
    cause = {"reason": "UnexpectedServerResponse", "message": message}
    return InvalidError(message, details={"causes": [cause]})


def _decode_pointer(path: str) -> list[str] | None:
    if not path.startswith("/"):
        return None
    return [part.replace("~1", "/").replace("~0", "~") for part in path.split("/")[1:]]


def _array_index(key: str, size: int, *, allow_end: bool) -> int:
    """Index into an array of `size`; `allow_end` lets `add` address one past the end."""
    if not _INDEX_RE.fullmatch(key):
        raise _PatchFailed(f"value was not a proper array index: '{key}': "
                           f"strconv.Atoi: parsing {json.dumps(key)}: invalid syntax")
    idx = int(key)
    limit = size + 1 if allow_end else size
    if idx >= limit or idx < -limit:
        raise _PatchFailed(f"Unable to access invalid index: {idx}: invalid index referenced")
    return idx + limit if idx < 0 else idx  # negative indices count from the end (json-patch extension)


def _find_container(doc: Any, path: str) -> tuple[Any, str] | None:
    """The object or array holding the pointer's last segment, and that segment; None if absent."""
    parts = _decode_pointer(path)
    if not parts:
        return None
    cur = doc
    for part in parts[:-1]:
        if isinstance(cur, dict):
            if part not in cur:
                return None
            cur = cur[part]
        elif isinstance(cur, list):
            try:
                cur = cur[_array_index(part, len(cur), allow_end=False)]
            except _PatchFailed:
                return None
        else:
            return None
        if not isinstance(cur, dict | list):
            return None
    return cur, parts[-1]


def _get(container: Any, key: str) -> tuple[bool, Any]:
    if isinstance(container, dict):
        return (key in container), container.get(key)
    try:
        return True, container[_array_index(key, len(container), allow_end=False)]
    except _PatchFailed:
        return False, None


def _add(container: Any, key: str, value: Any) -> None:
    if isinstance(container, dict):
        container[key] = value
    elif key == "-":
        container.append(value)
    else:
        container.insert(_array_index(key, len(container), allow_end=True), value)


def _remove(container: Any, key: str) -> Any:
    if isinstance(container, dict):
        if key not in container:
            raise _PatchFailed(f"Unable to remove nonexistent key: {key}: missing value")
        return container.pop(key)
    return container.pop(_array_index(key, len(container), allow_end=False))


def _op_path(op: dict[str, Any], name: str, member: str = "path") -> str:
    value = op.get(member)
    if not isinstance(value, str):
        raise _PatchFailed(f"{name} operation failed to decode {member}: missing value")
    return value


def _apply_op(doc: dict[str, Any], op: dict[str, Any]) -> None:
    kind = op.get("op")
    if kind == "add":
        path = _op_path(op, "add")
        found = _find_container(doc, path)
        if found is None:
            raise _PatchFailed(f'add operation does not apply: doc is missing path: "{path}": missing value')
        try:
            _add(*found, copy.deepcopy(op.get("value")))
        except _PatchFailed as exc:
            raise _PatchFailed(f"error in add for path: '{path}': {exc}") from None
    elif kind == "remove":
        path = _op_path(op, "remove")
        found = _find_container(doc, path)
        if found is None:
            raise _PatchFailed(f'remove operation does not apply: doc is missing path: "{path}": '
                               "missing value")
        try:
            _remove(*found)
        except _PatchFailed as exc:
            raise _PatchFailed(f"error in remove for path: '{path}': {exc}") from None
    elif kind == "replace":
        path = _op_path(op, "replace")
        found = _find_container(doc, path)
        if found is None:
            raise _PatchFailed(f"replace operation does not apply: doc is missing path: {path}: "
                               "missing value")
        container, key = found
        if not _get(container, key)[0]:
            raise _PatchFailed(f"replace operation does not apply: doc is missing key: {path}: missing value")
        value = copy.deepcopy(op.get("value"))
        if isinstance(container, dict):
            container[key] = value
        else:
            container[_array_index(key, len(container), allow_end=False)] = value
    elif kind in ("move", "copy"):
        source = _op_path(op, kind, "from")
        path = _op_path(op, kind)
        found = _find_container(doc, source)
        if found is None or not _get(*found)[0]:
            raise _PatchFailed(f"{kind} operation does not apply: doc is missing from path: {source}: "
                               "missing value")
        if kind == "move":
            if path.startswith(source + "/"):
                raise _PatchFailed(f"move operation does not apply: cannot move {source} "
                                   f"into its own child {path}")
            value = _remove(*found)
        else:
            value = copy.deepcopy(_get(*found)[1])
        target = _find_container(doc, path)
        if target is None:
            raise _PatchFailed(f"{kind} operation does not apply: doc is missing destination path: {path}: "
                               "missing value")
        try:
            _add(*target, value)
        except _PatchFailed as exc:
            raise _PatchFailed(f"error in {kind} for path: '{path}': {exc}") from None
    elif kind == "test":
        path = _op_path(op, "test")
        found = _find_container(doc, path)
        if found is None:
            raise _PatchFailed(f"test operation does not apply: is missing path: {path}: missing value")
        present, current = _get(*found)
        if not present or not _json_equal(current, op.get("value")):
            raise _PatchFailed(f"testing value {path} failed: test failed")
    else:
        raise _PatchFailed(f"Unexpected kind: {kind if isinstance(kind, str) else 'unknown'}")


def apply_json_patch(doc: dict[str, Any], ops: Any) -> dict[str, Any]:
    """RFC 6902 operations applied in order to a copy; all or nothing."""
    if ops is None:
        ops = []
    if not isinstance(ops, list):
        raise BadRequestError(f"json: cannot unmarshal {_json_kind(ops)} into Go value of type "
                              "jsonpatch.Patch")
    for op in ops:
        if op is not None and not isinstance(op, dict):
            raise BadRequestError(f"json: cannot unmarshal {_json_kind(op)} into Go value of type "
                                  "jsonpatch.Operation")
    if len(ops) > MAX_JSON_PATCH_OPERATIONS:
        raise RequestEntityTooLargeError(f"The allowed maximum operations in a JSON patch is "
                                         f"{MAX_JSON_PATCH_OPERATIONS}, got {len(ops)}")
    try:
        result = copy.deepcopy(doc)
        for op in ops:
            _apply_op(result, op or {})
    except _PatchFailed as exc:
        raise _unprocessable(str(exc)) from None
    except RecursionError:
        raise _too_deep() from None
    return result


# --- strategic merge patch: which lists merge, and by what key --------------------------------


@dataclass(frozen=True, eq=False)
class _Schema:
    """Patch metadata for one struct: which fields are lists that merge instead of being replaced."""

    fields: dict[str, _Field] = field(default_factory=dict)

    def get(self, name: str) -> _Field:
        return self.fields.get(name, _PLAIN)


@dataclass(frozen=True, eq=False)
class _Field:
    # For a struct field: its schema. For a list field: the schema of its elements.
    schema: _Schema = field(default_factory=_Schema)
    # None: a list is replaced whole. "": a merged set of primitives. Otherwise: the patch merge key.
    merge_key: str | None = None


_PLAIN = _Field()


def _struct(**fields: _Field) -> _Field:
    return _Field(_Schema(dict(fields)))


def _merge_by(key: str, element: _Schema | None = None) -> _Field:
    return _Field(element or _Schema(), key)


_PRIMITIVE_SET = _Field(_Schema(), "")
_OBJECT_META = _struct(finalizers=_PRIMITIVE_SET, ownerReferences=_merge_by("uid"))
_CONTAINER = _Schema({"ports": _merge_by("containerPort"), "env": _merge_by("name"),
                      "volumeMounts": _merge_by("mountPath"), "volumeDevices": _merge_by("devicePath")})
_POD_SPEC = _struct(
    containers=_merge_by("name", _CONTAINER), initContainers=_merge_by("name", _CONTAINER),
    ephemeralContainers=_merge_by("name", _CONTAINER), volumes=_merge_by("name"),
    imagePullSecrets=_merge_by("name"), hostAliases=_merge_by("ip"),
    topologySpreadConstraints=_merge_by("topologyKey"), schedulingGates=_merge_by("name"),
    resourceClaims=_merge_by("name"))
_POD_STATUS = _struct(conditions=_merge_by("type"), podIPs=_merge_by("ip"), hostIPs=_merge_by("ip"))
_CONDITIONS_STATUS = _struct(conditions=_merge_by("type"))
_WORKLOAD_SPEC = _struct(template=_struct(metadata=_OBJECT_META, spec=_POD_SPEC))

# Where each kind keeps its merge lists; a PodSpec sits at `spec` of a Pod and at
# `spec.template.spec` of the workload kinds.
_KIND_SCHEMAS: dict[str, _Schema] = {
    "Pod": _Schema({"metadata": _OBJECT_META, "spec": _POD_SPEC, "status": _POD_STATUS}),
    "ReplicaSet": _Schema({"metadata": _OBJECT_META, "spec": _WORKLOAD_SPEC, "status": _CONDITIONS_STATUS}),
    "Deployment": _Schema({"metadata": _OBJECT_META, "spec": _WORKLOAD_SPEC, "status": _CONDITIONS_STATUS}),
    "DaemonSet": _Schema({"metadata": _OBJECT_META, "spec": _WORKLOAD_SPEC, "status": _CONDITIONS_STATUS}),
    "Node": _Schema({"metadata": _OBJECT_META, "spec": _struct(podCIDRs=_PRIMITIVE_SET),
                     "status": _struct(conditions=_merge_by("type"), addresses=_merge_by("type"))}),
    "Service": _Schema({"metadata": _OBJECT_META, "spec": _struct(ports=_merge_by("port")),
                        "status": _CONDITIONS_STATUS}),
    "Namespace": _Schema({"metadata": _OBJECT_META, "status": _CONDITIONS_STATUS}),
}
_GENERIC = _Schema({"metadata": _OBJECT_META})


def _schema_for(kind: str) -> _Schema:
    resource = lookup(kind)
    return _KIND_SCHEMAS.get(resource.kind if resource else kind, _GENERIC)


# --- strategic merge patch: the merge ----------------------------------------------------------

_DIRECTIVE = "$patch"
_RETAIN_KEYS = "$retainKeys"
_SET_ELEMENT_ORDER = "$setElementOrder/"
_DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList"


class _BadPatch(Exception):
    """A strategic merge patch that cannot be applied; `invalid` selects 422 over 400."""

    def __init__(self, message: str, *, invalid: bool = False) -> None:
        super().__init__(message)
        self.invalid = invalid


def _no_merge_key(element: Any, key: str) -> _BadPatch:
    return _BadPatch(f"map: {_go(element)} does not contain declared merge key: {key}")


def _bad_arg_type(expected: Any, actual: Any) -> _BadPatch:
    return _BadPatch(f"expected a {_go_type(expected)}, but received a {_go_type(actual)}")


def _category(value: Any) -> str:
    return "map" if isinstance(value, dict) else "list" if isinstance(value, list) else "scalar"


def _discard_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _discard_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_discard_nulls(v) for v in value]
    return value


def _fresh(value: Any, fld: _Field) -> Any:
    """A patch value with nothing to merge into: apply its directives to nothing, drop its nulls."""
    if isinstance(value, dict):
        return _merge_map({}, value, fld.schema)
    if isinstance(value, list) and fld.merge_key is not None:
        out = []
        for element in value:
            if isinstance(element, dict) and _DIRECTIVE in element:
                if element[_DIRECTIVE] in ("delete", "replace"):
                    continue  # deleting from / replacing an absent list leaves only the plain elements
                element = {k: v for k, v in element.items() if k != _DIRECTIVE}
            out.append(_fresh(element, _Field(fld.schema)))
        return out
    return _discard_nulls(value)


def _merge_map(original: dict[str, Any], patch: dict[str, Any], schema: _Schema) -> dict[str, Any]:
    patch = dict(patch)
    if _DIRECTIVE in patch:
        directive = patch.pop(_DIRECTIVE)
        if directive == "replace":
            return _merge_map({}, patch, schema)
        if directive == "delete":
            return {}
        if directive != "merge":  # "merge" is the default; apimachinery rejects it, we accept it
            patch[_DIRECTIVE] = directive
            raise _BadPatch(f"unknown patch type: {_go(directive)} in map: {_go(patch)}")
    original = dict(original)
    _apply_retain_keys(original, patch)
    _apply_set_element_order(original, patch, schema)
    for key, patch_value in patch.items():
        is_delete_list = key.startswith(_DELETE_FROM_PRIMITIVE_LIST)
        if is_delete_list:
            prefix, _, key = key.partition("/")
            if prefix != _DELETE_FROM_PRIMITIVE_LIST or not key:
                raise _BadPatch("invalid patch format of primitive list")
        fld = schema.get(key)
        if patch_value is None:
            original.pop(key, None)
            continue
        if key not in original:
            if not is_delete_list:
                original[key] = _fresh(patch_value, fld)
            continue
        current = original[key]
        if _category(current) != _category(patch_value):
            if not is_delete_list:
                original[key] = _fresh(patch_value, fld)
            continue
        if is_delete_list:
            if isinstance(current, list):
                original[key] = _delete_from_primitive_list(current, patch_value)
        elif isinstance(current, dict):
            original[key] = _merge_map(current, patch_value, fld.schema)
        elif isinstance(current, list):
            original[key] = (_merge_list(current, patch_value, fld) if fld.merge_key is not None
                             else _discard_nulls(patch_value))
        else:
            original[key] = patch_value
    return original


def _apply_retain_keys(original: dict[str, Any], patch: dict[str, Any]) -> None:
    """`$retainKeys`: keep only the listed fields of the live map (kubectl sends it for unions)."""
    if _RETAIN_KEYS not in patch:
        return
    retain = patch.pop(_RETAIN_KEYS)
    if not isinstance(retain, list):
        raise _BadPatch("invalid patch format of retainKeys")
    keep = {k for k in retain if isinstance(k, str)}
    for key, value in patch.items():
        if value is None or key.startswith((_DELETE_FROM_PRIMITIVE_LIST, _SET_ELEMENT_ORDER)):
            continue
        if key not in keep:
            raise _BadPatch("invalid patch format of retainKeys")
    for key in list(original):
        if key not in keep:
            del original[key]


def _apply_set_element_order(original: dict[str, Any], patch: dict[str, Any], schema: _Schema) -> None:
    """`$setElementOrder/<list>`: merge that list now and order it as kubectl asked."""
    for directive_key in [k for k in patch if k.startswith(_SET_ELEMENT_ORDER)]:
        order = patch.pop(directive_key)
        name = directive_key[len(_SET_ELEMENT_ORDER):]
        if not isinstance(order, list):
            raise _bad_arg_type([], order)
        original_list = original.get(name, [])
        patch_list = patch.get(name, [])
        if not isinstance(original_list, list):
            raise _bad_arg_type([], original_list)
        if not isinstance(patch_list, list):
            raise _bad_arg_type([], patch_list)
        patch.pop(name, None)
        if not original_list and not patch_list:
            continue
        fld = schema.get(name)
        key = fld.merge_key or ""
        _check_patch_follows_order(patch_list, order, key)
        if fld.merge_key is not None:
            merged = _merge_list(original_list, patch_list, fld)
        else:
            merged = _discard_nulls(patch_list)
        kind = _element_kind(original_list, patch_list)
        patch_items, server_only = _partition(merged, order, key, kind)
        original[name] = _normalize_order(patch_items, server_only, order, original_list, key, kind)


def _check_patch_follows_order(patch_list: list[Any], order: list[Any], key: str) -> None:
    """The patch list must name its items in the same relative order as `$setElementOrder`."""
    items = [i for i in patch_list if not (isinstance(i, dict) and i.get(_DIRECTIVE) == "delete")]
    p = o = 0
    while p < len(items) and o < len(order):
        item = items[p]
        if isinstance(item, dict) and _DIRECTIVE in item:
            p += 1
            continue
        if key:
            for value in (item, order[o]):
                if not isinstance(value, dict):
                    raise _bad_arg_type({}, value)
                if key not in value:
                    raise _no_merge_key(value, key)
        if _same(item, order[o], key, "map" if key else "scalar"):
            p += 1
        o += 1
    if p < len(items):
        raise _BadPatch(f"The order in patch list:\n{_go(patch_list)}\n doesn't match $setElementOrder list:\n"
                        f"{_go(order)}\n")


def _element_kind(*lists: list[Any]) -> str:
    """"map" or "scalar": every element of every list must be of one JSON type."""
    first: Any = None
    seen = False
    for lst in lists:
        for element in lst:
            if not seen:
                if isinstance(element, list):
                    raise _BadPatch("lists of lists are not supported", invalid=True)
                first, seen = element, True
            elif _go_type(element) != _go_type(first):
                raise _BadPatch(f"list element types are not identical: {_go(list(lists))}")
    return "map" if isinstance(first, dict) else "scalar"


def _same(a: Any, b: Any, key: str, kind: str) -> bool:
    if kind == "map":
        return (isinstance(a, dict) and isinstance(b, dict) and key in a and key in b
                and _json_equal(a[key], b[key]))
    return _json_equal(a, b)


def _index(items: list[Any], item: Any, key: str, kind: str) -> int:
    for i, candidate in enumerate(items):
        if _same(candidate, item, key, kind):
            return i
    return -1


def _delete_from_primitive_list(current: list[Any], delete: Any) -> list[Any]:
    """`$deleteFromPrimitiveList/<list>`: drop every occurrence of the listed values."""
    if not isinstance(delete, list) or any(isinstance(v, dict | list) for v in (*current, *delete)):
        raise _BadPatch("invalid patch format of primitive list")
    return [v for v in current if not any(_json_equal(v, d) for d in delete)]


def _merge_list(original: list[Any], patch: list[Any], fld: _Field) -> list[Any]:
    """A list with patch strategy "merge": primitives as a set, maps element-wise by merge key."""
    if not original and not patch:
        return []
    kind = _element_kind(original, patch)
    key = fld.merge_key or ""
    if kind == "scalar":
        merged: list[Any] = []
        for value in (*original, *patch):
            if _index(merged, value, "", kind) < 0:
                merged.append(value)
    else:
        if not key:
            raise _BadPatch("cannot merge lists without merge key")
        original, patch = _special_elements(original, patch, key, fld.schema)
        merged = list(original)
        for element in patch:
            if key not in element:
                raise _no_merge_key(element, key)
            i = _index(merged, element, key, kind)
            if i >= 0:
                merged[i] = _merge_map(merged[i], element, fld.schema)
            else:
                merged.append(_merge_map({}, element, fld.schema))
    patch_items, server_only = _partition(merged, patch, key, kind)
    return _normalize_order(patch_items, server_only, patch, original, key, kind)


def _special_elements(original: list[Any], patch: list[Any], key: str,
                      schema: _Schema) -> tuple[list[Any], list[Any]]:
    """Apply `$patch` list elements: delete by merge key, or replace the whole list."""
    plain: list[Any] = []
    replace = False
    for element in patch:
        if _DIRECTIVE not in element:
            plain.append(element)
            continue
        directive = element[_DIRECTIVE]
        if directive == "delete":
            if key not in element:
                raise _no_merge_key(element, key)
            original = [e for e in original if not _same(e, element, key, "map")]
        elif directive == "replace":
            replace = True
        elif directive == "merge":  # apimachinery: "merging lists cannot yet be specified"; it is the default
            plain.append({k: v for k, v in element.items() if k != _DIRECTIVE})
        else:
            raise _BadPatch(f"unknown patch type: {_go(directive)} in map: {_go(element)}")
    if replace:
        return [_merge_map({}, e, schema) for e in plain], []
    return original, plain


def _partition(merged: list[Any], present_in: list[Any], key: str, kind: str) -> tuple[list[Any], list[Any]]:
    """Split merged items into those named by the patch (or order list) and server-only ones."""
    named: list[Any] = []
    server_only: list[Any] = []
    for item in merged:
        if kind == "map":
            if not isinstance(item, dict):
                raise _bad_arg_type({}, item)
            if key not in item:
                raise _no_merge_key(item, key)
        (named if _index(present_in, item, key, kind) >= 0 else server_only).append(item)
    return named, server_only


def _normalize_order(patch_items: list[Any], server_only: list[Any], patch_order: list[Any],
                     server_order: list[Any], key: str, kind: str) -> list[Any]:
    """Patch items in patch order, server-only items in live order, interleaved by live position.

    This is apimachinery's normalizeElementOrder: new items come before the live items that
    follow them, and the relative order within each group is kept.
    """
    if kind == "map":
        for item in (*patch_order, *server_order):
            if not isinstance(item, dict) or key not in item:
                raise _no_merge_key(item, key)

    def by(order: list[Any]) -> Callable[[Any], int]:
        return lambda item: (i if (i := _index(order, item, key, kind)) >= 0 else len(order))

    left = sorted(server_only, key=by(server_order))
    right = sorted(patch_items, key=by(patch_order))
    out: list[Any] = []
    i = j = 0
    while i < len(left) or j < len(right):
        if j >= len(right):
            out.append(left[i])
            i += 1
        elif i >= len(left):
            out.append(right[j])
            j += 1
        else:
            li = _index(server_order, left[i], key, kind)
            ri = _index(server_order, right[j], key, kind)
            if li >= 0 and ri >= 0 and li < ri:
                out.append(left[i])
                i += 1
            else:
                out.append(right[j])
                j += 1
    return out


def apply_strategic_merge_patch(doc: dict[str, Any], patch: dict[str, Any], kind: str) -> dict[str, Any]:
    """Kubernetes strategic merge patch for `kind` (Pod, Deployment, ...), as kubectl sends it.

    Lists with a patch merge key (containers by name, ports by containerPort, conditions by
    type, ...) merge element-wise; finalizers merge as a set; every other list is replaced.
    Supports `$patch` (replace/delete/merge), `$retainKeys`, `$setElementOrder/<list>` and
    `$deleteFromPrimitiveList/<list>`; null deletes a field.
    """
    if not isinstance(patch, dict):
        raise BadRequestError(f"json: cannot unmarshal {_json_kind(patch)} into Go value of type "
                              "map[string]interface {}")
    try:
        merged = _merge_map(copy.deepcopy(doc), copy.deepcopy(patch), _schema_for(kind))
    except _BadPatch as exc:
        if exc.invalid:
            raise _unprocessable(str(exc)) from None
        raise BadRequestError(str(exc)) from None
    except RecursionError:
        raise _too_deep() from None
    return merged
