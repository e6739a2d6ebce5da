"""A minimal OpenAPI v3 index: just enough for kubectl to see that we accept `fieldValidation`.

kubectl apply/create validate manifests either on the server (when the OpenAPI v3 document
says the PATCH operation of a kind takes `fieldValidation`) or on the client against the
OpenAPI v2 schema. We take the first road; the schemas themselves are not published.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from minik import KUBE_VERSION
from minik.api.resources import RESOURCES, groups


def _gv_path(group_version: str) -> str:
    return f"api/{group_version}" if "/" not in group_version else f"apis/{group_version}"


def group_version_doc(group_version: str) -> dict[str, Any] | None:
    rs = groups().get(group_version)
    if rs is None:
        return None
    paths: dict[str, Any] = {}
    field_validation = {"name": "fieldValidation", "in": "query", "schema": {"type": "string"},
                        "description": "accepted; unknown fields are preserved"}
    for r in rs:
        gvk = {"group": r.group, "version": r.version, "kind": r.kind}
        ns = "/namespaces/{namespace}" if r.namespaced else ""
        op = {"x-kubernetes-group-version-kind": gvk, "parameters": [field_validation],
              "responses": {"200": {"description": "OK"}}}
        paths[f"/{_gv_path(group_version)}{ns}/{r.plural}/{{name}}"] = {"patch": op, "put": op}
        paths[f"/{_gv_path(group_version)}{ns}/{r.plural}"] = {"post": op}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": KUBE_VERSION},
            "paths": paths, "components": {"schemas": {}}}


def root() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for gv in sorted({r.api_version for r in RESOURCES}):
        digest = hashlib.sha256(json.dumps(group_version_doc(gv), sort_keys=True).encode()).hexdigest()[:16]
        out[_gv_path(gv)] = {"serverRelativeURL": f"/openapi/v3/{_gv_path(gv)}?hash={digest}"}
    return {"paths": out}
