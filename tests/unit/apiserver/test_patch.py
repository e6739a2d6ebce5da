"""PATCH semantics. Expected objects were checked against `kubectl patch --local` (apimachinery)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from minik.api.errors import BadRequestError, InvalidError, UnsupportedMediaTypeError
from minik.apiserver.patch import (
    apply_json_patch,
    apply_merge_patch,
    apply_patch,
    apply_strategic_merge_patch,
)


def make_pod() -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "labels": {"app": "web", "tier": "fe"}, "finalizers": ["a", "b", "c"],
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "u1"}]},
        "spec": {
            "containers": [
                {"name": "c", "image": "nginx", "args": ["x", "y"],
                 "ports": [{"containerPort": 80, "name": "http"}, {"containerPort": 443}],
                 "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                 "volumeMounts": [{"name": "v", "mountPath": "/data"}]},
                {"name": "d", "image": "busybox", "command": ["sh"]},
            ],
            "volumes": [{"name": "v", "emptyDir": {}}, {"name": "w", "hostPath": {"path": "/tmp"}}],
            "tolerations": [{"key": "a", "operator": "Exists"}],
            "nodeSelector": {"disk": "ssd"},
        },
        "status": {"phase": "Running",
                   "conditions": [{"type": "Ready", "status": "True"}, {"type": "Initialized", "status": "True"}]},
    }


def smp(patch: dict[str, Any], doc: dict[str, Any] | None = None, kind: str = "Pod") -> dict[str, Any]:
    original = doc if doc is not None else make_pod()
    before = copy.deepcopy(original)
    result = apply_strategic_merge_patch(original, patch, kind)
    assert original == before, "the input object must not change"
    return result


def names(items: list[dict[str, Any]]) -> list[str]:
    return [i["name"] for i in items]


# --- JSON merge patch ------------------------------------------------------------------------


def test_merge_patch_merges_maps_deletes_nulls_replaces_lists() -> None:
    pod = make_pod()
    result = apply_merge_patch(pod, {"metadata": {"labels": {"app": None, "new": "1"}},
                                     "spec": {"containers": [{"name": "z", "image": "z", "tty": None}],
                                              "nodeSelector": None}})
    assert result["metadata"]["labels"] == {"tier": "fe", "new": "1"}
    assert result["spec"]["containers"] == [{"name": "z", "image": "z"}]
    assert "nodeSelector" not in result["spec"]
    assert pod == make_pod()


def test_merge_patch_replaces_non_objects_and_prunes_nulls_in_new_maps() -> None:
    result = apply_merge_patch(make_pod(), {"metadata": {"labels": "x"},
                                            "spec": {"extra": {"a": None, "b": {"c": None, "d": 1}}}})
    assert result["metadata"]["labels"] == "x"
    assert result["spec"]["extra"] == {"b": {"d": 1}}


@pytest.mark.parametrize("patch", ["x", 5, None, True])
def test_merge_patch_must_be_an_object(patch: Any) -> None:
    with pytest.raises(BadRequestError, match="^Invalid JSON Patch$"):
        apply_merge_patch(make_pod(), patch)


def test_merge_patch_array_is_invalid() -> None:
    with pytest.raises(InvalidError) as err:
        apply_merge_patch(make_pod(), [1])
    assert err.value.code == 422
    assert "must be a JSON object" in err.value.message


# --- JSON patch ------------------------------------------------------------------------------


def test_json_patch_operations_in_order() -> None:
    pod = make_pod()
    result = apply_json_patch(pod, [
        {"op": "test", "path": "/spec/containers/0/name", "value": "c"},
        {"op": "replace", "path": "/spec/containers/0/image", "value": "nginx:2"},
        {"op": "add", "path": "/metadata/labels/a~1b~0c", "value": "1"},
        {"op": "remove", "path": "/metadata/labels/tier"},
        {"op": "move", "from": "/metadata/labels/app", "path": "/metadata/labels/moved"},
        {"op": "copy", "from": "/spec/containers/1", "path": "/spec/containers/-"},
        {"op": "add", "path": "/spec/containers/1", "value": {"name": "ins", "image": "i"}},
        {"op": "test", "path": "/spec/nodeSelector", "value": {"disk": "ssd"}},
    ])
    assert result["spec"]["containers"][0]["image"] == "nginx:2"
    assert result["metadata"]["labels"] == {"a/b~c": "1", "moved": "web"}
    assert names(result["spec"]["containers"]) == ["c", "ins", "d", "d"]
    assert pod == make_pod()


def test_json_patch_negative_index_counts_from_end() -> None:
    result = apply_json_patch(make_pod(), [{"op": "remove", "path": "/spec/containers/-1"}])
    assert names(result["spec"]["containers"]) == ["c"]


@pytest.mark.parametrize(("ops", "message"), [
    ([{"op": "test", "path": "/spec/containers/0/name", "value": "x"}],
     "testing value /spec/containers/0/name failed: test failed"),
    ([{"op": "remove", "path": "/metadata/nope"}],
     "error in remove for path: '/metadata/nope': Unable to remove nonexistent key: nope: missing value"),
    ([{"op": "add", "path": "/metadata/nope/deeper", "value": 1}],
     'add operation does not apply: doc is missing path: "/metadata/nope/deeper": missing value'),
    ([{"op": "add", "path": "/spec/containers/9", "value": {}}],
     "error in add for path: '/spec/containers/9': Unable to access invalid index: 9: invalid index referenced"),
    ([{"op": "add", "path": "/spec/containers/x", "value": {}}],
     "error in add for path: '/spec/containers/x': value was not a proper array index: 'x': "
     'strconv.Atoi: parsing "x": invalid syntax'),
    ([{"op": "replace", "path": "/metadata/nope", "value": 1}],
     "replace operation does not apply: doc is missing key: /metadata/nope: missing value"),
    ([{"op": "move", "from": "/metadata/nope", "path": "/metadata/x"}],
     "move operation does not apply: doc is missing from path: /metadata/nope: missing value"),
    ([{"op": "bogus", "path": "/a"}], "Unexpected kind: bogus"),
    ([{"path": "/a"}], "Unexpected kind: unknown"),
    ([{"op": "add"}], "add operation failed to decode path: missing value"),
    ([{"op": "add", "path": "", "value": {}}], 'add operation does not apply: doc is missing path: "": missing value'),
])
def test_json_patch_that_does_not_apply_is_422(ops: list[dict[str, Any]], message: str) -> None:
    pod = make_pod()
    with pytest.raises(InvalidError) as err:
        apply_json_patch(pod, ops)
    assert err.value.message == message
    assert err.value.code == 422
    assert err.value.causes == [{"reason": "UnexpectedServerResponse", "message": message}]
    assert pod == make_pod()


def test_json_patch_failing_late_changes_nothing() -> None:
    pod = make_pod()
    with pytest.raises(InvalidError):
        apply_json_patch(pod, [{"op": "add", "path": "/metadata/labels/x", "value": "y"},
                               {"op": "test", "path": "/metadata/labels/x", "value": "z"}])
    assert pod == make_pod()


@pytest.mark.parametrize(("ops", "message"), [
    ({"op": "add"}, "json: cannot unmarshal object into Go value of type jsonpatch.Patch"),
    (["x"], "json: cannot unmarshal string into Go value of type jsonpatch.Operation"),
])
def test_json_patch_malformed_is_400(ops: Any, message: str) -> None:
    with pytest.raises(BadRequestError) as err:
        apply_json_patch(make_pod(), ops)
    assert err.value.message == message


def test_json_patch_test_distinguishes_bool_from_number() -> None:
    doc = {"spec": {"replicas": 1, "paused": True}}
    apply_json_patch(doc, [{"op": "test", "path": "/spec/replicas", "value": 1.0}])
    with pytest.raises(InvalidError):
        apply_json_patch(doc, [{"op": "test", "path": "/spec/paused", "value": 1}])


# --- strategic merge patch: lists with merge keys --------------------------------------------


def test_new_container_is_merged_in_front_like_kubernetes() -> None:
    result = smp({"spec": {"containers": [{"name": "new", "image": "x"}]}})
    assert names(result["spec"]["containers"]) == ["new", "c", "d"]
    assert result["spec"]["containers"][1]["ports"] == make_pod()["spec"]["containers"][0]["ports"]


def test_existing_container_merges_by_name() -> None:
    result = smp({"spec": {"containers": [{"name": "d", "image": "y", "command": None, "args": ["1"]}]}})
    assert result["spec"]["containers"][1] == {"name": "d", "image": "y", "args": ["1"]}
    assert result["spec"]["containers"][0] == make_pod()["spec"]["containers"][0]


def test_nested_env_ports_and_mounts_merge_by_their_keys() -> None:
    result = smp({"spec": {"containers": [{
        "name": "c",
        "env": [{"name": "C", "value": "3"}, {"name": "A", "value": None}],
        "ports": [{"containerPort": 8080}, {"containerPort": 80, "protocol": "TCP"}],
        "volumeMounts": [{"mountPath": "/other", "name": "w"}],
        "args": ["z"],
    }]}})
    c = result["spec"]["containers"][0]
    assert c["env"] == [{"name": "C", "value": "3"}, {"name": "A"}, {"name": "B", "value": "2"}]
    assert c["ports"] == [{"containerPort": 8080}, {"containerPort": 80, "name": "http", "protocol": "TCP"},
                          {"containerPort": 443}]
    assert c["volumeMounts"] == [{"mountPath": "/other", "name": "w"}, {"name": "v", "mountPath": "/data"}]
    assert c["args"] == ["z"]  # no merge key: replaced whole


def test_lists_without_merge_key_are_replaced() -> None:
    result = smp({"spec": {"tolerations": [{"key": "b", "operator": "Exists"}]}})
    assert result["spec"]["tolerations"] == [{"key": "b", "operator": "Exists"}]


def test_delete_and_replace_directives_in_lists() -> None:
    assert names(smp({"spec": {"containers": [{"name": "c", "$patch": "delete"}]}})["spec"]["containers"]) == ["d"]
    replaced = smp({"spec": {"containers": [{"name": "c", "image": "z"}, {"$patch": "replace"}]}})
    assert replaced["spec"]["containers"] == [{"name": "c", "image": "z"}]
    ports = smp({"spec": {"containers": [{"name": "c", "ports": [{"containerPort": 443, "$patch": "delete"},
                                                                  {"containerPort": 9000}]}]}})
    assert ports["spec"]["containers"][0]["ports"] == [{"containerPort": 9000}, {"containerPort": 80, "name": "http"}]


def test_merge_directive_is_the_default() -> None:
    result = smp({"spec": {"containers": [{"name": "c", "$patch": "merge", "image": "q"}]},
                  "metadata": {"labels": {"$patch": "merge", "x": "y"}}})
    assert result["spec"]["containers"][0]["image"] == "q"
    assert result["spec"]["containers"][0]["args"] == ["x", "y"]
    assert result["metadata"]["labels"] == {"app": "web", "tier": "fe", "x": "y"}


def test_map_directives_and_null_deletes() -> None:
    assert smp({"metadata": {"labels": {"$patch": "delete"}}})["metadata"]["labels"] == {}
    assert smp({"metadata": {"labels": {"$patch": "replace", "only": "me"}}})["metadata"]["labels"] == {"only": "me"}
    result = smp({"metadata": {"labels": {"app": None, "new": "1"}}, "spec": {"nodeSelector": None}})
    assert result["metadata"]["labels"] == {"tier": "fe", "new": "1"}
    assert "nodeSelector" not in result["spec"]


def test_kubectl_apply_body_with_set_element_order() -> None:
    # What `kubectl apply` sends after a container was added between two existing ones.
    result = smp({"spec": {"$setElementOrder/containers": [{"name": "c"}, {"name": "n"}, {"name": "d"}],
                           "containers": [{"name": "n", "image": "y"}]}})
    assert names(result["spec"]["containers"]) == ["c", "n", "d"]
    reordered = smp({"spec": {"$setElementOrder/containers": [{"name": "d"}, {"name": "c"}],
                              "containers": [{"name": "d", "image": "y"}]}})
    assert names(reordered["spec"]["containers"]) == ["d", "c"]
    assert reordered["spec"]["containers"][0]["image"] == "y"
    removed = smp({"spec": {"$setElementOrder/containers": [{"name": "d"}],
                            "containers": [{"name": "c", "$patch": "delete"}]}})
    assert names(removed["spec"]["containers"]) == ["d"]


def test_patch_list_must_follow_set_element_order() -> None:
    with pytest.raises(BadRequestError) as err:
        smp({"spec": {"$setElementOrder/containers": [{"name": "c"}, {"name": "d"}],
                      "containers": [{"name": "d", "image": "1"}, {"name": "c", "image": "2"}]}})
    assert err.value.message == ("The order in patch list:\n[map[image:1 name:d] map[image:2 name:c]]\n "
                                 "doesn't match $setElementOrder list:\n[map[name:c] map[name:d]]\n")


def test_finalizers_are_a_merged_set() -> None:
    assert smp({"metadata": {"finalizers": ["d"]}})["metadata"]["finalizers"] == ["d", "a", "b", "c"]
    assert smp({"metadata": {"finalizers": ["b", "e"]}})["metadata"]["finalizers"] == ["a", "b", "e", "c"]
    deleted = smp({"metadata": {"$setElementOrder/finalizers": ["a", "c"],
                                "$deleteFromPrimitiveList/finalizers": ["b"]}})
    assert deleted["metadata"]["finalizers"] == ["a", "c"]
    ordered = smp({"metadata": {"$setElementOrder/finalizers": ["c", "a", "x"], "finalizers": ["x"]}})
    assert ordered["metadata"]["finalizers"] == ["b", "c", "a", "x"]


def test_retain_keys_clears_other_fields() -> None:
    result = smp({"spec": {"volumes": [{"name": "v", "$retainKeys": ["name", "hostPath"],
                                        "hostPath": {"path": "/x"}}]}})
    assert result["spec"]["volumes"] == [{"name": "v", "hostPath": {"path": "/x"}},
                                         {"name": "w", "hostPath": {"path": "/tmp"}}]
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
                  "spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}}
    switched = smp({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": None}}},
                   deployment, "Deployment")
    assert switched["spec"]["strategy"] == {"type": "Recreate"}


def test_status_conditions_and_owner_references_merge() -> None:
    result = smp({"status": {"conditions": [{"type": "Ready", "status": "False"},
                                            {"type": "PodScheduled", "status": "True"}]},
                  "metadata": {"ownerReferences": [{"uid": "u2", "apiVersion": "v1", "kind": "X", "name": "x"}]}})
    assert result["status"]["conditions"] == [{"type": "Ready", "status": "False"},
                                              {"type": "PodScheduled", "status": "True"},
                                              {"type": "Initialized", "status": "True"}]
    assert [o["uid"] for o in result["metadata"]["ownerReferences"]] == ["u2", "u1"]


def test_pod_template_spec_of_workloads() -> None:
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
                  "spec": {"replicas": 2, "template": {"metadata": {"labels": {"app": "web"}},
                                                       "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}
    for kind in ("Deployment", "deployments", "deploy"):
        result = smp({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx:2"}]}}}},
                     deployment, kind)
        assert result["spec"]["template"]["spec"]["containers"] == [{"name": "c", "image": "nginx:2"}]
    daemonset = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "ds"},
                 "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i"}],
                                                "tolerations": [{"key": "a"}]}}}}
    result = smp({"spec": {"template": {"spec": {"containers": [{"name": "side", "image": "s"}],
                                                 "tolerations": [{"key": "b"}]}}}}, daemonset, "DaemonSet")
    assert names(result["spec"]["template"]["spec"]["containers"]) == ["side", "c"]
    assert result["spec"]["template"]["spec"]["tolerations"] == [{"key": "b"}]


def test_service_ports_and_node_lists() -> None:
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
               "spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443}], "externalIPs": ["1.1.1.1"]}}
    result = smp({"spec": {"ports": [{"port": 80, "targetPort": 9090}], "externalIPs": ["2.2.2.2"]}}, service,
                 "Service")
    assert result["spec"]["ports"] == [{"port": 80, "targetPort": 9090}, {"port": 443}]
    assert result["spec"]["externalIPs"] == ["2.2.2.2"]
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"},
            "spec": {"taints": [{"key": "a", "effect": "NoSchedule"}]},
            "status": {"addresses": [{"type": "InternalIP", "address": "1.2.3.4"},
                                     {"type": "Hostname", "address": "n"}]}}
    result = smp({"spec": {"taints": [{"key": "b", "effect": "NoExecute"}]},
                  "status": {"addresses": [{"type": "InternalIP", "address": "5.6.7.8"}]}}, node, "Node")
    assert result["spec"]["taints"] == [{"key": "b", "effect": "NoExecute"}]
    assert result["status"]["addresses"] == [{"type": "InternalIP", "address": "5.6.7.8"},
                                             {"type": "Hostname", "address": "n"}]


def test_fields_missing_from_the_object_are_added_without_directives() -> None:
    result = smp({"spec": {"initContainers": [{"name": "i", "image": "x", "env": [{"name": "Q", "value": None}]},
                                              {"name": "j", "$patch": "delete"}]}})
    assert result["spec"]["initContainers"] == [{"name": "i", "image": "x", "env": [{"name": "Q"}]}]


@pytest.mark.parametrize(("patch", "message"), [
    ({"spec": {"containers": [{"image": "noname"}]}},
     "map: map[image:noname] does not contain declared merge key: name"),
    ({"spec": {"containers": [{"$patch": "delete"}]}},
     "map: map[$patch:delete] does not contain declared merge key: name"),
    ({"metadata": {"labels": {"$patch": "bogus"}}}, "unknown patch type: bogus in map: map[$patch:bogus]"),
    ({"spec": {"$retainKeys": ["containers"], "nodeSelector": {"a": "b"}}}, "invalid patch format of retainKeys"),
    ({"spec": {"$retainKeys": "x"}}, "invalid patch format of retainKeys"),
    ({"metadata": {"finalizers": ["a", 1]}}, "list element types are not identical: [[a b c] [a 1]]"),
    ({"spec": {"$setElementOrder/containers": "x"}}, "expected a []interface {}, but received a string"),
])
def test_bad_strategic_patches_are_400(patch: dict[str, Any], message: str) -> None:
    pod = make_pod()
    with pytest.raises(BadRequestError) as err:
        apply_strategic_merge_patch(pod, patch, "Pod")
    assert err.value.message == message
    assert pod == make_pod()


def test_lists_of_lists_are_422() -> None:
    with pytest.raises(InvalidError, match="lists of lists are not supported"):
        smp({"metadata": {"finalizers": [["a"]]}}, {"metadata": {"finalizers": [["b"]]}}, "Pod")


def test_strategic_patch_must_be_an_object() -> None:
    with pytest.raises(BadRequestError, match=r"cannot unmarshal array into Go value of type map\[string\]"):
        apply_strategic_merge_patch(make_pod(), [], "Pod")  # type: ignore[arg-type]


def test_apply_patch_dispatches_on_content_type() -> None:
    patch = {"metadata": {"finalizers": ["z"]}}
    assert apply_patch(make_pod(), patch, "application/merge-patch+json", "Pod")["metadata"]["finalizers"] == ["z"]
    assert apply_patch(make_pod(), patch, "application/strategic-merge-patch+json; charset=utf-8",
                       "Pod")["metadata"]["finalizers"] == ["z", "a", "b", "c"]
    ops = [{"op": "remove", "path": "/metadata/finalizers"}]
    assert "finalizers" not in apply_patch(make_pod(), ops, "application/json-patch+json", "Pod")["metadata"]
    with pytest.raises(UnsupportedMediaTypeError) as err:
        apply_patch(make_pod(), patch, "application/apply-patch+yaml", "Pod")
    assert err.value.code == 415


def test_deeply_nested_patch_is_a_clean_error() -> None:
    deep: dict[str, Any] = {}
    cur = deep
    for _ in range(5000):
        cur["a"] = {}
        cur = cur["a"]
    with pytest.raises(BadRequestError, match="nested too deeply"):
        apply_strategic_merge_patch({}, deep, "Pod")
