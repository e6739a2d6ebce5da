"""apply's three-way strategic merge patch: deletions from last-applied, changes against live."""

from __future__ import annotations

import json
from typing import Any

from minik.ctl.threeway import LAST_APPLIED, last_applied, original_configuration, three_way_patch, with_last_applied


def deploy(replicas: int | None, image: str, env: list[dict[str, str]], labels: dict[str, str],
           extra_container: bool = False) -> dict[str, Any]:
    containers: list[dict[str, Any]] = [{"name": "web", "image": image, "env": env, "ports": [{"containerPort": 80}]}]
    if extra_container:
        containers.append({"name": "side", "image": "busybox"})
    spec: dict[str, Any] = {"template": {"spec": {"containers": containers}}}
    if replicas is not None:
        spec["replicas"] = replicas
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": labels}, "spec": spec}


def test_unchanged_manifest_gives_empty_patch_even_with_server_defaults() -> None:
    manifest = deploy(2, "nginx:1", [{"name": "A", "value": "1"}], {"app": "web"})
    live = with_last_applied(manifest)
    live["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = "IfNotPresent"
    live["status"] = {"replicas": 2}
    live["metadata"]["uid"] = "u1"
    assert three_way_patch(original_configuration(live), with_last_applied(manifest), live) == {}


def test_changes_deletions_and_list_merge_keys() -> None:
    old = deploy(2, "nginx:1", [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}], {"app": "web", "t": "a"},
                 extra_container=True)
    new = deploy(3, "nginx:2", [{"name": "A", "value": "1"}], {"app": "web"})
    live = with_last_applied(old)
    patch = three_way_patch(original_configuration(live), with_last_applied(new), live)
    assert patch["metadata"]["labels"] == {"t": None}
    assert patch["metadata"]["annotations"][LAST_APPLIED] == last_applied(new)
    assert patch["spec"]["replicas"] == 3
    pod_spec = patch["spec"]["template"]["spec"]
    assert pod_spec["$setElementOrder/containers"] == [{"name": "web"}]
    containers = pod_spec["containers"]
    assert {"$patch": "delete", "name": "side"} in containers
    web = next(c for c in containers if c.get("name") == "web" and "$patch" not in c)
    assert web["image"] == "nginx:2"
    assert web["env"] == [{"$patch": "delete", "name": "B"}]
    assert web["$setElementOrder/env"] == [{"name": "A"}]


def test_fields_the_manifest_never_set_survive() -> None:
    """`kubectl scale` then `apply` of a manifest without replicas keeps the scaled count."""
    manifest = deploy(None, "nginx:1", [], {"app": "web"})
    live = with_last_applied(manifest)
    live["spec"]["replicas"] = 5
    assert three_way_patch(original_configuration(live), with_last_applied(manifest), live) == {}


def test_added_port_is_an_element_patch_with_order() -> None:
    old = deploy(1, "nginx", [], {})
    new = deploy(1, "nginx", [], {})
    new["spec"]["template"]["spec"]["containers"][0]["ports"].append({"containerPort": 443})
    live = with_last_applied(old)
    web = three_way_patch(original_configuration(live), with_last_applied(new), live)["spec"]["template"]["spec"][
        "containers"][0]
    assert web["ports"] == [{"containerPort": 443}]
    assert web["$setElementOrder/ports"] == [{"containerPort": 80}, {"containerPort": 443}]


def test_last_applied_is_compact_sorted_json_with_empty_annotations() -> None:
    text = last_applied({"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "app", "namespace": "default"}})
    assert text == '{"apiVersion":"v1","kind":"Pod","metadata":{"annotations":{},"name":"app","namespace":"default"}}\n'
    assert json.loads(text)["metadata"]["annotations"] == {}


def test_objects_without_annotation_have_no_original() -> None:
    assert original_configuration({"metadata": {}}) is None
    assert original_configuration({"metadata": {"annotations": {LAST_APPLIED: "not json"}}}) is None
