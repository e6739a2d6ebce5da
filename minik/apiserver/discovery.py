"""Discovery documents kubectl and client libraries read before anything else."""

from __future__ import annotations

import platform
from typing import Any

from minik import KUBE_VERSION, __version__
from minik.api.resources import RESOURCES, groups


def version_info() -> dict[str, Any]:
    major, minor = KUBE_VERSION.lstrip("v").split(".")[:2]
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    return {"major": major, "minor": minor, "gitVersion": f"{KUBE_VERSION}-minik.{__version__}",
            "gitCommit": "", "gitTreeState": "clean", "buildDate": "", "goVersion": "",
            "compiler": "cpython", "platform": f"linux/{arch}"}


def api_versions(server_address: str) -> dict[str, Any]:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]}


def _group(name: str) -> dict[str, Any]:
    versions = sorted({r.version for r in RESOURCES if r.group == name})
    gvs = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": gvs, "preferredVersion": gvs[0]}


def api_group_list() -> dict[str, Any]:
    names = sorted({r.group for r in RESOURCES if r.group})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [_group(n) for n in names]}


def api_group(name: str) -> dict[str, Any] | None:
    if not any(r.group == name for r in RESOURCES if r.group):
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(name)}


def resource_list(group_version: str) -> dict[str, Any] | None:
    rs = groups().get(group_version)
    if rs is None:
        return None
    out: list[dict[str, Any]] = []
    for r in rs:
        entry: dict[str, Any] = {"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced,
                                 "kind": r.kind, "verbs": list(r.verbs)}
        if r.short_names:
            entry["shortNames"] = list(r.short_names)
        if r.categories:
            entry["categories"] = list(r.categories)
        out.append(entry)
        for sub in r.subresources:
            kind = {"scale": "Scale", "binding": "Binding", "log": "Pod", "exec": "PodExecOptions",
                    "token": "TokenRequest"}.get(sub, r.kind)
            verbs = {"status": ["get", "patch", "update"], "scale": ["get", "patch", "update"],
                     "binding": ["create"], "log": ["get"], "exec": ["create", "get"],
                     "finalize": ["update"], "token": ["create"]}[sub]
            sub_entry: dict[str, Any] = {"name": f"{r.plural}/{sub}", "singularName": "",
                                         "namespaced": r.namespaced, "kind": kind, "verbs": verbs}
            if sub == "scale":
                sub_entry.update(group="autoscaling", version="v1")
            elif sub == "token":  # like serviceaccounts/token
                sub_entry.update(group="authentication.k8s.io", version="v1")
            out.append(sub_entry)
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": out}
