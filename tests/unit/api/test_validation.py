"""Validation errors with the paths, causes and words a kubectl user gets from Kubernetes."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from minik.api.apps import DaemonSet, Deployment, ReplicaSet
from minik.api.coordination import Lease
from minik.api.core import Endpoints, Event, Namespace, Node, Pod, Service, Volume
from minik.api.defaults import set_defaults
from minik.api.errors import FieldError, invalid_object
from minik.api.meta import LabelSelector, OwnerReference, TypedObject
from minik.api.resources import by_kind
from minik.api.validation import validate

REPO = Path(__file__).resolve().parents[3]
# The course manifests, unchanged (CONTRIBUTING: ../shared is the project's shared folder).
LABS = REPO.parent / "shared" / "labs"
DNS_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
    "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
PORT_RANGE = "must be between 1 and 65535, inclusive"


def messages(obj: TypedObject, old: TypedObject | None = None) -> list[str]:
    return [str(e) for e in validate(obj, old)]


def defaulted(model: Any) -> Any:
    set_defaults(model)
    return model


def make_pod(containers: list[dict[str, Any]] | None = None, **spec: Any) -> Pod:
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"containers": containers or [{"name": "c", "image": "busybox:1.36"}], **spec},
    }
    return defaulted(Pod.from_dict(body))


def container(**fields: Any) -> dict[str, Any]:
    return {"name": "c", "image": "busybox:1.36", **fields}


def make_deployment(**spec: Any) -> Deployment:
    body: dict[str, Any] = {
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]},
            },
        },
    }
    body["spec"].update(spec)
    return defaulted(Deployment.from_dict(body))


def make_service(**spec: Any) -> Service:
    body = {"metadata": {"name": "web", "namespace": "default"}, "spec": {"ports": [{"port": 80}], **spec}}
    return defaulted(Service.from_dict(body))


def stored(model: Any) -> Any:
    """A copy as the apiserver stored it: system metadata filled in."""
    copied = type(model).from_dict(copy.deepcopy(model.to_dict()))
    copied.metadata.uid = "u-1"
    copied.metadata.resource_version = "7"
    copied.metadata.creation_timestamp = "2024-01-01T00:00:00Z"
    return copied


# --- the labs and the Status message ------------------------------------------------------


def test_every_lab_manifest_validates_cleanly() -> None:
    seen = 0
    for path in sorted(LABS.glob("*.yaml")):
        with open(path) as f:
            for doc in yaml.safe_load_all(f):
                if not doc:
                    continue
                resource = by_kind(doc["apiVersion"], doc["kind"])
                assert resource is not None
                model = resource.model.from_dict(doc)
                if resource.namespaced and not model.metadata.namespace:
                    model.metadata.namespace = "default"  # what the apiserver does for the URL's namespace
                set_defaults(model)
                assert validate(model) == [], path.name
                seen += 1
    assert seen >= 10


def test_errors_render_into_a_kubernetes_status_message() -> None:
    pod = make_pod([{"name": "c"}])
    error = invalid_object("Pod", "web", validate(pod))
    assert error.message == 'Pod "web" is invalid: spec.containers[0].image: Required value'
    assert error.details["causes"] == [
        {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.containers[0].image"}
    ]


def test_undefaulted_pod_reports_the_required_defaults() -> None:
    pod = Pod.from_dict(
        {"metadata": {"name": "raw", "namespace": "default"}, "spec": {"containers": [container()]}}
    )
    assert messages(pod) == [
        "spec.terminationGracePeriodSeconds: Required value",
        "spec.containers[0].terminationMessagePolicy: Required value",
        "spec.containers[0].imagePullPolicy: Required value",
        "spec.restartPolicy: Required value",
        "spec.dnsPolicy: Required value",
    ]


# --- metadata ------------------------------------------------------------------------------


def test_name_is_required_unless_generate_name() -> None:
    pod = make_pod()
    pod.metadata.name = None
    errors = validate(pod)
    assert errors == [FieldError("metadata.name", "FieldValueRequired", "name or generateName is required")]
    assert str(errors[0]) == "metadata.name: Required value: name or generateName is required"
    pod.metadata.generate_name = "web-"
    assert messages(pod) == ["metadata.name: Required value: name or generateName is required"]
    pod.metadata.name = "web-x7k2p"
    assert messages(pod) == []


def test_name_syntax_depends_on_the_kind() -> None:
    pod = make_pod()
    pod.metadata.name = "Web_1"
    assert messages(pod) == [f'metadata.name: Invalid value: "Web_1": {SUBDOMAIN_MSG}']
    pod.metadata.name = "web.example.com"
    assert messages(pod) == []

    namespace = defaulted(Namespace.from_dict({"metadata": {"name": "team.a"}}))
    assert messages(namespace) == ['metadata.name: Invalid value: "team.a": must not contain dots']

    svc = make_service()
    svc.metadata.name = "1web"
    assert messages(svc) == [
        'metadata.name: Invalid value: "1web": a DNS-1035 label must consist of lower case alphanumeric '
        "characters or '-', start with an alphabetic character, and end with an alphanumeric character "
        "(e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
    ]


def test_namespace_is_required_and_must_be_a_label_for_namespaced_kinds() -> None:
    pod = make_pod()
    pod.metadata.namespace = None
    assert messages(pod) == ["metadata.namespace: Required value"]
    pod.metadata.namespace = "Default"
    assert messages(pod) == [f'metadata.namespace: Invalid value: "Default": {DNS_LABEL_MSG}']
    node = Node.from_dict({"metadata": {"name": "worker1", "namespace": "default"}})
    assert messages(node) == ["metadata.namespace: Forbidden: not allowed on this type"]


def test_labels_and_annotations() -> None:
    pod = make_pod()
    pod.metadata.labels = {"app": "web!", "-bad": "x"}
    pod.metadata.annotations = {"example.com/note": "x" * 300_000}
    assert messages(pod) == [
        'metadata.labels: Invalid value: "web!": a valid label must be an empty string or consist of '
        "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character "
        "(e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is "
        "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
        'metadata.labels: Invalid value: "-bad": name part must consist of alphanumeric characters, '
        "'-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or "
        "'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
        "metadata.annotations: Too long: must have at most 262144 bytes",
    ]


def test_owner_references() -> None:
    pod = make_pod()
    pod.metadata.owner_references = [OwnerReference(api_version="apps/v1", kind="ReplicaSet")]
    assert messages(pod) == [
        'metadata.ownerReferences.name: Invalid value: "": must not be empty',
        'metadata.ownerReferences.uid: Invalid value: "": must not be empty',
    ]
    pod = Pod.from_dict(
        {
            "metadata": {
                "name": "p",
                "namespace": "default",
                "ownerReferences": [
                    {"apiVersion": "v1", "kind": "Event", "name": "e", "uid": "1"},
                    {
                        "apiVersion": "apps/v1",
                        "kind": "ReplicaSet",
                        "name": "a",
                        "uid": "2",
                        "controller": True,
                    },
                    {
                        "apiVersion": "apps/v1",
                        "kind": "ReplicaSet",
                        "name": "b",
                        "uid": "3",
                        "controller": True,
                    },
                ],
            },
            "spec": {"containers": [container()]},
        }
    )
    errors = validate(defaulted(pod))
    assert [(e.field, e.detail) for e in errors] == [
        ("metadata.ownerReferences", "/v1, Kind=Event is disallowed from being an owner"),
        (
            "metadata.ownerReferences",
            'Only one reference can have Controller set to true. Found "true" in references for '
            "ReplicaSet/a and ReplicaSet/b",
        ),
    ]


def test_finalizer_names() -> None:
    pod = make_pod()
    pod.metadata.finalizers = ["example.com/cleanup", "cleanup"]
    assert messages(pod) == [
        'metadata.finalizers[1]: Invalid value: "cleanup": name is neither a standard finalizer name nor is '
        "it fully qualified"
    ]


# --- containers -----------------------------------------------------------------------------


def test_pod_needs_a_container() -> None:
    pod = make_pod()
    pod.spec.containers = []
    assert validate(pod) == [FieldError("spec.containers", "FieldValueRequired")]


def test_container_names_are_labels_and_unique_across_init_containers() -> None:
    pod = make_pod(
        [container(name="Main"), container(name="side"), container(name="side")],
        initContainers=[container(name="side"), container(name="init"), container(name="init")],
    )
    assert messages(pod) == [
        f'spec.containers[0].name: Invalid value: "Main": {DNS_LABEL_MSG}',
        'spec.containers[2].name: Duplicate value: "side"',
        'spec.initContainers[0].name: Duplicate value: "side"',
        'spec.initContainers[2].name: Duplicate value: "init"',
    ]
    assert validate(pod)[1].type == "FieldValueDuplicate"


def test_image_is_required_and_untrimmed_images_are_rejected_on_pods() -> None:
    pod = make_pod([container(image=""), container(name="d", image=" nginx")])
    assert messages(pod) == [
        "spec.containers[0].image: Required value",
        'spec.containers[1].image: Invalid value: " nginx": must not have leading or trailing whitespace',
    ]


def test_container_ports() -> None:
    pod = make_pod(
        [
            container(
                ports=[
                    {"containerPort": 0},
                    {"containerPort": 70000, "hostPort": 65536},
                    {"containerPort": 80, "protocol": "HTTP", "name": "a-very-long-port-name"},
                    {"containerPort": 81, "name": "Web"},
                    {"containerPort": 82, "name": "web"},
                    {"containerPort": 83, "name": "web"},
                ]
            )
        ]
    )
    assert messages(pod) == [
        "spec.containers[0].ports[0].containerPort: Required value",
        f"spec.containers[0].ports[1].containerPort: Invalid value: 70000: {PORT_RANGE}",
        f"spec.containers[0].ports[1].hostPort: Invalid value: 65536: {PORT_RANGE}",
        'spec.containers[0].ports[2].name: Invalid value: "a-very-long-port-name": must be no more than 15 '
        "characters",
        'spec.containers[0].ports[2].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", '
        '"UDP"',
        'spec.containers[0].ports[3].name: Invalid value: "Web": must contain only alpha-numeric characters '
        "(a-z, 0-9), and hyphens (-)",
        'spec.containers[0].ports[5].name: Duplicate value: "web"',
    ]
    not_supported = validate(pod)[4]
    assert (not_supported.type, not_supported.value) == ("FieldValueNotSupported", "HTTP")


def test_host_ports_may_not_collide() -> None:
    pod = make_pod(
        [
            container(ports=[{"containerPort": 80, "hostPort": 8080}]),
            container(name="d", ports=[{"containerPort": 81, "hostPort": 8080}]),
        ]
    )
    assert messages(pod) == ['spec.containers[1].ports[0].hostPort: Duplicate value: "TCP//8080"']


def test_enumerated_policies() -> None:
    pod = make_pod([container(imagePullPolicy="Sometimes")], restartPolicy="Maybe", dnsPolicy="Google")
    assert messages(pod) == [
        'spec.containers[0].imagePullPolicy: Unsupported value: "Sometimes": supported values: "Always", '
        '"IfNotPresent", "Never"',
        'spec.restartPolicy: Unsupported value: "Maybe": supported values: "Always", "OnFailure", "Never"',
        'spec.dnsPolicy: Unsupported value: "Google": supported values: "ClusterFirstWithHostNet", '
        '"ClusterFirst", "Default", "None"',
    ]


def test_requests_may_not_exceed_limits() -> None:
    pod = make_pod([container(resources={"limits": {"cpu": "1"}, "requests": {"cpu": "2"}})])
    errors = validate(pod)
    assert [str(e) for e in errors] == [
        'spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal to cpu '
        "limit of 1"
    ]
    assert (errors[0].type, errors[0].value) == ("FieldValueInvalid", "2")
    pod = make_pod([container(resources={"limits": {"memory": "1Gi"}, "requests": {"memory": "1025Mi"}})])
    assert messages(pod) == [
        'spec.containers[0].resources.requests: Invalid value: "1025Mi": must be less than or equal to '
        "memory "
        "limit of 1Gi"
    ]
    pod = make_pod([container(resources={"limits": {"cpu": "1"}, "requests": {"cpu": "1000m"}})])
    assert messages(pod) == []


def test_quantities_must_parse_and_be_non_negative() -> None:
    pod = make_pod([container(resources={"limits": {"cpu": "one", "memory": "-1Gi"}})])
    assert messages(pod) == [
        'spec.containers[0].resources.limits[cpu]: Invalid value: "one": quantities must match the regular '
        "expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
        'spec.containers[0].resources.limits[memory]: Invalid value: "-1Gi": must be greater than or equal '
        "to 0",
        'spec.containers[0].resources.requests[cpu]: Invalid value: "one": quantities must match the regular '
        "expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
        'spec.containers[0].resources.requests[memory]: Invalid value: "-1Gi": must be greater than or '
        "equal to 0",
    ]


def test_resource_names_are_standard_or_domain_qualified() -> None:
    pod = make_pod(
        [
            container(
                resources={
                    "limits": {"gpu": "1", "pods": "1", "nvidia.com/gpu": "1", "example.com/dongle": "0.5"},
                    "requests": {"nvidia.com/gpu": "1", "example.com/license": "1"},
                }
            )
        ]
    )
    requests = pod.spec.containers[0].resources.requests if pod.spec.containers[0].resources else None
    assert requests is not None
    for copied_from_limits in ("gpu", "pods", "example.com/dongle"):
        requests.pop(copied_from_limits)
    assert messages(pod) == [
        'spec.containers[0].resources.limits[gpu]: Invalid value: "gpu": must be a standard resource type or '
        "fully qualified",
        'spec.containers[0].resources.limits[gpu]: Invalid value: "gpu": must be a standard resource for '
        "containers",
        'spec.containers[0].resources.limits[pods]: Invalid value: "pods": must be a standard resource for '
        "containers",
        'spec.containers[0].resources.limits[example.com/dongle]: Invalid value: "500m": must be an integer',
        "spec.containers[0].resources.limits: Required value: Limit must be set for non overcommitable "
        "resources",
    ]


def test_env_names_and_value_from() -> None:
    pod = make_pod(
        [
            container(
                env=[
                    {"name": ""},
                    {"name": "A=B"},
                    {"name": "1st.var-ok", "value": "x"},
                    {"name": "X", "valueFrom": {}},
                    {"name": "Y", "value": "v", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                ]
            )
        ]
    )
    assert messages(pod) == [
        "spec.containers[0].env[0].name: Required value",
        'spec.containers[0].env[1].name: Invalid value: "A=B": a valid environment variable name must '
        "consist "
        "only of printable ASCII characters other than '='",
        'spec.containers[0].env[3].valueFrom: Invalid value: "": must specify one of: `fieldRef`, '
        "`resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
        'spec.containers[0].env[4].valueFrom: Invalid value: "": may not be specified when `value` is not '
        "empty",
    ]


def test_volume_mounts_must_name_a_declared_volume() -> None:
    pod = make_pod(
        [
            container(
                volumeMounts=[
                    {"name": "x", "mountPath": "/x"},
                    {"name": "data", "mountPath": ""},
                    {"name": "data", "mountPath": "/data", "subPath": "../up"},
                ]
            )
        ],
        volumes=[{"name": "data", "emptyDir": {}}],
    )
    errors = validate(pod)
    assert [str(e) for e in errors] == [
        'spec.containers[0].volumeMounts[0].name: Not found: "x"',
        "spec.containers[0].volumeMounts[1].mountPath: Required value",
        "spec.containers[0].volumeMounts.subPath: Invalid value: \"../up\": must not contain '..'",
    ]
    assert errors[0].type == "FieldValueNotFound"


def test_volumes() -> None:
    pod = make_pod(
        volumes=[
            {"name": "data", "emptyDir": {}},
            {"name": "data", "emptyDir": {}},
            {"name": "Bad", "emptyDir": {}},
            {"name": "both", "emptyDir": {}, "hostPath": {"path": "/srv"}},
            {"name": "host", "hostPath": {"path": "/srv/../etc", "type": "Folder"}},
            {"name": "cm", "configMap": {}},
        ]
    )
    assert pod.spec.volumes is not None
    pod.spec.volumes.append(Volume(name="none"))
    assert messages(pod) == [
        'spec.volumes[1].name: Duplicate value: "data"',
        f'spec.volumes[2].name: Invalid value: "Bad": {DNS_LABEL_MSG}',
        "spec.volumes[3].hostPath: Forbidden: may not specify more than 1 volume type",
        "spec.volumes[4].hostPath.path: Invalid value: \"/srv/../etc\": must not contain '..'",
        'spec.volumes[4].hostPath.type: Unsupported value: "Folder": supported values: "", "BlockDevice", '
        '"CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket"',
        "spec.volumes[5].configMap.name: Required value",
        "spec.volumes[6]: Required value: must specify a volume type",
    ]


def test_probes() -> None:
    pod = make_pod(
        [
            container(
                livenessProbe={"successThreshold": 2},
                readinessProbe={"exec": {"command": ["true"]}, "httpGet": {"port": 80}, "periodSeconds": -1},
                startupProbe={"tcpSocket": {"port": "http-alt-port-name"}, "successThreshold": 3},
            )
        ]
    )
    assert messages(pod) == [
        "spec.containers[0].livenessProbe: Required value: must specify a handler type",
        "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1",
        "spec.containers[0].readinessProbe.httpGet: Forbidden: may not specify more than 1 handler type",
        "spec.containers[0].readinessProbe.periodSeconds: Invalid value: -1: must be greater than or equal "
        "to 0",
        'spec.containers[0].startupProbe.tcpSocket.port: Invalid value: "http-alt-port-name": must be no '
        "more "
        "than 15 characters",
        "spec.containers[0].startupProbe.successThreshold: Invalid value: 3: must be 1",
    ]
    ok = make_pod([container(readinessProbe={"httpGet": {"port": "http"}, "successThreshold": 2})])
    assert messages(ok) == []


def test_lifecycle_hooks() -> None:
    pod = make_pod(
        [
            container(
                lifecycle={
                    "postStart": {"exec": {"command": ["sh", "-c", "date > /tmp/started"]}},
                    "preStop": {"sleep": {"seconds": 40}},
                }
            ),
            container(name="d", lifecycle={"postStart": {}, "preStop": {"exec": {}, "httpGet": {"port": 80}}}),
            container(name="e", lifecycle={"preStop": {"sleep": {"seconds": 0}}}),
        ],
        terminationGracePeriodSeconds=30,
    )
    assert messages(pod) == [
        "spec.containers[0].lifecycle.preStop.sleep: Invalid value: 40: must be greater than 0 and less than "
        "terminationGracePeriodSeconds (30)",
        "spec.containers[1].lifecycle.postStart: Required value: must specify a handler type",
        "spec.containers[1].lifecycle.preStop.exec.command: Required value",
        "spec.containers[1].lifecycle.preStop.httpGet: Forbidden: may not specify more than 1 handler type",
        "spec.containers[2].lifecycle.preStop.sleep: Invalid value: 0: must be greater than 0 and less than "
        "terminationGracePeriodSeconds (30)",
    ]
    hooks = {
        "postStart": {"httpGet": {"path": "/started", "port": "http", "httpHeaders": [{"name": "X-A", "value": "1"}]}},
        "preStop": {"sleep": {"seconds": 5}},
    }
    ok = make_pod([container(ports=[{"name": "http", "containerPort": 8080}], lifecycle=hooks)])
    assert messages(ok) == []
    init = make_pod(initContainers=[container(name="init", lifecycle=hooks)])
    assert messages(init) == [
        "spec.initContainers[0].lifecycle: Forbidden: may not be set for init containers without "
        "restartPolicy=Always"
    ]
    kept = ok.to_dict()["spec"]["containers"][0]["lifecycle"]
    assert kept == {
        "postStart": {
            "httpGet": {"path": "/started", "port": "http", "scheme": "HTTP",
                        "httpHeaders": [{"name": "X-A", "value": "1"}]}
        },
        "preStop": {"sleep": {"seconds": 5}},
    }


def test_init_containers_may_not_have_probes_unless_restartable() -> None:
    pod = make_pod(initContainers=[container(name="init", readinessProbe={"exec": {"command": ["true"]}})])
    assert messages(pod) == [
        "spec.initContainers[0].readinessProbe: Forbidden: may not be set for init containers without "
        "restartPolicy=Always"
    ]


def test_tolerations() -> None:
    pod = make_pod(
        tolerations=[
            {"key": "k", "operator": "Exists", "value": "v"},
            {"key": "k", "operator": "Sometimes"},
            {"key": "k", "value": "v", "effect": "Evict"},
            {"value": "v"},
            {"key": "k", "operator": "Exists", "effect": "NoSchedule", "tolerationSeconds": 5},
        ]
    )
    assert messages(pod) == [
        "spec.tolerations[0].operator: Invalid value: \"v\": value must be empty when `operator` is 'Exists'",
        'spec.tolerations[1].operator: Unsupported value: "Sometimes": supported values: "Equal", "Exists"',
        'spec.tolerations[2].effect: Unsupported value: "Evict": supported values: "NoSchedule", '
        '"PreferNoSchedule", "NoExecute"',
        'spec.tolerations[3].operator: Invalid value: "": operator must be Exists when `key` is empty, which '
        'means "match all values and all keys"',
        "spec.tolerations[4].effect: Invalid value: \"NoSchedule\": effect must be 'NoExecute' when "
        "`tolerationSeconds` is set",
    ]


def test_node_selector_and_node_affinity() -> None:
    path = "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]"
    pod = make_pod(
        nodeSelector={"disk": "ssd", "bad key": "x"},
        affinity={
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {"key": "disk", "operator": "In"},
                                {"key": "disk", "operator": "Exists", "values": ["ssd"]},
                                {"key": "cores", "operator": "Gt", "values": ["1", "2"]},
                                {"key": "disk", "operator": "Like", "values": ["ssd"]},
                                {"key": "zone", "operator": "NotIn", "values": ["a", "b"]},
                            ]
                        }
                    ]
                },
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {"weight": 0, "preference": {"matchExpressions": [{"key": "a", "operator": "Exists"}]}}
                ],
            }
        },
    )
    assert messages(pod) == [
        'spec.nodeSelector: Invalid value: "bad key": name part must consist of alphanumeric characters, '
        "'-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or "
        "'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
        f"{path}.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or "
        "'NotIn'",
        f"{path}.matchExpressions[1].values: Forbidden: may not be specified when `operator` is 'Exists' or "
        "'DoesNotExist'",
        f"{path}.matchExpressions[2].values: Required value: must be specified single value when "
        "`operator` is "
        "'Lt' or 'Gt'",
        f'{path}.matchExpressions[3].operator: Invalid value: "Like": not a valid selector operator',
        "spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight: Invalid "
        "value: 0: "
        "must be in the range 1-100",
    ]
    empty = make_pod(affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {}}})
    assert messages(empty) == [
        "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms: "
        "Required "
        "value: must have at least one node selector term"
    ]


def test_mirror_pods_need_a_node() -> None:
    pod = make_pod()
    pod.metadata.annotations = {"kubernetes.io/config.mirror": "hash"}
    assert messages(pod) == [
        'metadata.annotations[kubernetes.io/config.mirror]: Invalid value: "hash": must set spec.nodeName if '
        "mirror pod annotation is set"
    ]
    pod.spec.node_name = "worker1"
    assert messages(pod) == []


def test_spec_scalars() -> None:
    pod = make_pod(activeDeadlineSeconds=0, hostname="Host", serviceAccountName="Bad_SA")
    assert messages(pod) == [
        f'spec.serviceAccountName: Invalid value: "Bad_SA": {SUBDOMAIN_MSG}',
        "spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive",
        f'spec.hostname: Invalid value: "Host": {DNS_LABEL_MSG}',
    ]


# --- pod updates ----------------------------------------------------------------------------


def test_pod_update_may_change_images_deadline_and_add_tolerations() -> None:
    old = stored(make_pod(activeDeadlineSeconds=100))
    new = stored(old)
    new.spec.containers[0].image = "busybox:1.37"
    new.spec.active_deadline_seconds = 50
    new.spec.tolerations.append(new.spec.tolerations[0].model_copy(update={"key": "extra"}))
    new.metadata.labels = {"tier": "web"}
    assert validate(new, old) == []


def test_pod_update_may_not_change_other_spec_fields() -> None:
    old = stored(make_pod())
    new = stored(old)
    new.spec.restart_policy = "Never"
    errors = validate(new, old)
    assert len(errors) == 1
    assert (errors[0].field, errors[0].type) == ("spec", "FieldValueForbidden")
    assert errors[0].detail.startswith(
        "pod updates may not change fields other than `spec.containers[*].image`,"
        "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to "
        "existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was "
        "previously negative)\n"
    )
    assert '-   restartPolicy: "Always",' in errors[0].detail.replace("\t", "  ")
    assert '+   restartPolicy: "Never",' in errors[0].detail.replace("\t", "  ")


def test_pod_update_node_name_only_through_binding() -> None:
    old = stored(make_pod(nodeName="worker1"))
    new = stored(old)
    new.spec.node_name = "worker2"
    assert [e.field for e in validate(new, old)] == ["spec"]
    unbound = stored(make_pod())
    bound = stored(unbound)
    bound.spec.node_name = "worker1"
    assert [e.field for e in validate(bound, unbound)] == ["spec"]


def test_pod_update_rules_for_containers_tolerations_and_deadline() -> None:
    old = stored(make_pod(activeDeadlineSeconds=100))
    more = stored(old)
    more.spec.containers.append(more.spec.containers[0].model_copy(update={"name": "d"}))
    assert messages(more, old) == ["spec.containers: Forbidden: pod updates may not add or remove containers"]

    fewer = stored(old)
    fewer.spec.tolerations = fewer.spec.tolerations[:1]
    assert messages(fewer, old) == [
        "spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds"
    ]

    later = stored(old)
    later.spec.active_deadline_seconds = 200
    assert messages(later, old) == [
        "spec.activeDeadlineSeconds: Invalid value: 200: must be less than or equal to previous value"
    ]


def test_metadata_update_rules() -> None:
    old = stored(make_pod())
    renamed = stored(old)
    renamed.metadata.name = "other"
    assert messages(renamed, old) == ['metadata.name: Invalid value: "other": field is immutable']
    other_uid = stored(old)
    other_uid.metadata.uid = "u-2"
    assert messages(other_uid, old) == ['metadata.uid: Invalid value: "u-2": field is immutable']
    unconditional = stored(old)
    unconditional.metadata.resource_version = None
    unconditional.metadata.uid = None
    assert messages(unconditional, old) == []


# --- services -------------------------------------------------------------------------------


def test_service_ports() -> None:
    svc = make_service(
        ports=[
            {"name": "web", "port": 0},
            {"name": "web", "port": 80, "protocol": "ICMP"},
            {"port": 80, "targetPort": "HTTP"},
            {"name": "dup", "port": 80, "targetPort": 70000},
        ]
    )
    errors = validate(svc)
    assert [str(e) for e in errors] == [
        f"spec.ports[0].port: Invalid value: 0: {PORT_RANGE}",
        f"spec.ports[0].targetPort: Invalid value: 0: {PORT_RANGE}",
        'spec.ports[1].name: Duplicate value: "web"',
        'spec.ports[1].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"',
        "spec.ports[2].name: Required value",
        'spec.ports[2].targetPort: Invalid value: "HTTP": must contain only alpha-numeric characters (a-z, '
        "0-9), and hyphens (-)",
        'spec.ports[2].targetPort: Invalid value: "HTTP": must contain at least one letter (a-z)',
        f"spec.ports[3].targetPort: Invalid value: 70000: {PORT_RANGE}",
        'spec.ports[3]: Duplicate value: {"protocol": "TCP", "port": 80}',
    ]


def test_service_needs_ports_unless_headless() -> None:
    assert messages(make_service(ports=[])) == ["spec.ports: Required value"]
    assert messages(make_service(ports=[], clusterIP="None", selector={"app": "web"})) == []


def test_service_type_selector_affinity_and_node_ports() -> None:
    svc = make_service(type="Ingress", selector={"app": "web!"}, sessionAffinity="Sticky")
    assert messages(svc) == [
        'spec.selector: Invalid value: "web!": a valid label must be an empty string or consist of '
        "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character "
        "(e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is "
        "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
        'spec.sessionAffinity: Unsupported value: "Sticky": supported values: "ClientIP", "None"',
        'spec.type: Unsupported value: "Ingress": supported values: "ClusterIP", "ExternalName", '
        '"LoadBalancer", "NodePort"',
    ]
    cluster_ip = make_service(ports=[{"port": 80, "nodePort": 30080}])
    assert messages(cluster_ip) == [
        "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"
    ]
    node_port = make_service(type="NodePort", ports=[{"port": 80, "nodePort": 30080}])
    assert messages(node_port) == []


def test_external_name_and_headless_node_port() -> None:
    assert messages(make_service(type="ExternalName", ports=[])) == ["spec.externalName: Required value"]
    assert messages(make_service(type="ExternalName", externalName="db.example.com.", ports=[])) == []
    headless = make_service(type="NodePort", clusterIP="None")
    assert messages(headless) == [
        "spec.clusterIPs[0]: Invalid value: \"None\": may not be set to 'None' for NodePort services"
    ]


def test_cluster_ip_must_be_an_ip_and_may_not_change() -> None:
    bad = make_service(clusterIP="10.96.0.300")
    assert messages(bad) == [
        'spec.clusterIPs[0]: Invalid value: "10.96.0.300": must be a valid IP address, (e.g. 10.9.8.7 or '
        "2001:db8::ffff)"
    ]
    old = stored(make_service(clusterIP="10.96.0.10"))
    changed = stored(old)
    changed.spec.cluster_ip = "10.96.0.11"
    changed.spec.cluster_ips = ["10.96.0.11"]
    errors = validate(changed, old)
    assert [(e.field, e.type, e.detail, e.value) for e in errors] == [
        ("spec.clusterIPs[0]", "FieldValueInvalid", "may not change once set", ["10.96.0.11"])
    ]
    left_out = stored(old)
    left_out.spec.cluster_ip = None
    left_out.spec.cluster_ips = None
    assert validate(left_out, old) == []


# --- deployments, replica sets, daemon sets ----------------------------------------------------


def test_selector_must_match_template_labels() -> None:
    deployment = make_deployment(selector={"matchLabels": {"app": "x"}})
    errors = validate(deployment)
    assert errors == [
        FieldError(
            "spec.template.metadata.labels",
            "FieldValueInvalid",
            "`selector` does not match template `labels`",
            {"app": "web"},
        )
    ]


def test_selector_is_required_and_not_empty() -> None:
    missing = make_deployment()
    missing.spec.selector = None
    assert [(e.field, e.type) for e in validate(missing)] == [
        ("spec.selector", "FieldValueRequired"),
        ("spec.template.metadata.labels", "FieldValueInvalid"),
    ]
    empty = make_deployment(selector={})
    assert [(e.field, e.detail) for e in validate(empty)] == [
        ("spec.selector", "empty selector is invalid for deployment")
    ]
    bad = make_deployment(
        selector={"matchExpressions": [{"key": "app", "operator": "Near", "values": ["x"]}]}
    )
    assert [(e.field, e.detail) for e in validate(bad)] == [
        ("spec.selector.matchExpressions[0].operator", "not a valid selector operator"),
        ("spec.selector", "invalid label selector"),
    ]


def test_rolling_update_numbers() -> None:
    both_zero = make_deployment(strategy={"rollingUpdate": {"maxUnavailable": 0, "maxSurge": 0}})
    assert messages(both_zero) == [
        "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0"
    ]
    bad = make_deployment(strategy={"rollingUpdate": {"maxUnavailable": "200%", "maxSurge": "lots"}})
    assert messages(bad) == [
        'spec.strategy.rollingUpdate.maxSurge: Invalid value: "lots": a valid percent string must be a '
        "numeric "
        "string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
        'spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "200%": must not be greater than 100%',
    ]
    negative = make_deployment(strategy={"rollingUpdate": {"maxUnavailable": -1}})
    assert messages(negative) == [
        "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: -1: must be greater than or equal to 0"
    ]


def test_deployment_numbers_strategy_and_restart_policy() -> None:
    deployment = make_deployment(
        replicas=-1, minReadySeconds=-5, revisionHistoryLimit=-1, progressDeadlineSeconds=5
    )
    deployment.spec.template.spec.restart_policy = "Never"
    assert messages(deployment) == [
        "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
        'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"',
        "spec.minReadySeconds: Invalid value: -5: must be greater than or equal to 0",
        "spec.revisionHistoryLimit: Invalid value: -1: must be greater than or equal to 0",
    ]
    unknown = make_deployment(strategy={"type": "BlueGreen"})
    errors = validate(unknown)
    assert [(e.field, e.type, e.detail) for e in errors] == [
        ("spec.strategy", "FieldValueNotSupported", 'supported values: "Recreate", "RollingUpdate"')
    ]
    recreate = make_deployment(strategy={"type": "Recreate", "rollingUpdate": {"maxSurge": 1}})
    assert messages(recreate) == [
        "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"
    ]
    late = make_deployment(minReadySeconds=700)
    assert messages(late) == [
        "spec.progressDeadlineSeconds: Invalid value: 600: must be greater than minReadySeconds"
    ]


def test_template_errors_carry_the_template_path() -> None:
    deployment = make_deployment()
    deployment.spec.template.metadata = {"labels": {"app": "web", "bad key": "x"}}
    deployment.spec.template.spec.containers[0].image = None
    assert [e.field for e in validate(deployment)] == [
        "spec.template.labels",
        "spec.template.spec.containers[0].image",
    ]


def test_selector_is_immutable() -> None:
    old = stored(make_deployment())
    new = stored(old)
    new.spec.selector.match_labels = {"app": "web", "tier": "x"}
    new.spec.template.metadata = {"labels": {"app": "web", "tier": "x"}}
    errors = validate(new, old)
    assert [(e.field, e.type, e.detail) for e in errors] == [
        ("spec.selector", "FieldValueInvalid", "field is immutable")
    ]
    scaled = stored(old)
    scaled.spec.replicas = 5
    assert validate(scaled, old) == []


def test_replica_set() -> None:
    rs = defaulted(
        ReplicaSet.from_dict(
            {
                "metadata": {"name": "web-abc", "namespace": "default"},
                "spec": {
                    "replicas": -2,
                    "selector": {"matchLabels": {"app": "web"}},
                    "template": {
                        "metadata": {"labels": {"app": "other"}},
                        "spec": {"containers": [{"name": "c", "image": "x:1"}], "activeDeadlineSeconds": 5},
                    },
                },
            }
        )
    )
    assert [(e.field, e.type) for e in validate(rs)] == [
        ("spec.replicas", "FieldValueInvalid"),
        ("spec.template.metadata.labels", "FieldValueInvalid"),
        ("spec.template.spec.activeDeadlineSeconds", "FieldValueForbidden"),
    ]
    assert validate(rs)[2].detail == "activeDeadlineSeconds in ReplicaSet is not Supported"


def test_daemon_set_rolling_update() -> None:
    def ds(rolling: dict[str, Any]) -> DaemonSet:
        return defaulted(
            DaemonSet.from_dict(
                {
                    "metadata": {"name": "agent", "namespace": "kube-system"},
                    "spec": {
                        "selector": {"matchLabels": {"app": "agent"}},
                        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": rolling},
                        "template": {
                            "metadata": {"labels": {"app": "agent"}},
                            "spec": {"containers": [{"name": "c", "image": "x:1"}]},
                        },
                    },
                }
            )
        )

    assert messages(ds({})) == []
    assert messages(ds({"maxUnavailable": 1, "maxSurge": 1})) == [
        "spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: 1: may not be set when maxUnavailable is "
        "non-zero"
    ]
    assert messages(ds({"maxUnavailable": 0, "maxSurge": 0})) == [
        "spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0"
    ]
    empty = ds({})
    empty.spec.selector = LabelSelector()
    assert [(e.field, e.detail) for e in validate(empty)] == [
        ("spec.selector", "empty selector is invalid for daemonset")
    ]


# --- nodes, namespaces, endpoints, events, leases ----------------------------------------------


def test_node_taints_and_pod_cidr() -> None:
    node = defaulted(
        Node.from_dict(
            {
                "metadata": {"name": "worker1"},
                "spec": {
                    "podCIDR": "10.244.1.0/33",
                    "taints": [
                        {"key": "dedicated", "value": "db", "effect": "NoEvict"},
                        {"key": "bad key", "effect": "NoSchedule"},
                        {"key": "gpu", "effect": ""},
                        {"key": "dedicated", "value": "web", "effect": "NoEvict"},
                    ],
                },
            }
        )
    )
    errors = validate(node)
    assert [(e.field, e.type) for e in errors] == [
        ("metadata.taints[0].effect", "FieldValueNotSupported"),
        ("metadata.taints[1].key", "FieldValueInvalid"),
        ("metadata.taints[2].effect", "FieldValueRequired"),
        ("metadata.taints[3].effect", "FieldValueNotSupported"),
        ("metadata.taints[3]", "FieldValueDuplicate"),
        ("spec.podCIDRs[0]", "FieldValueInvalid"),
    ]
    assert str(errors[0]) == (
        'metadata.taints[0].effect: Unsupported value: "NoEvict": supported values: "NoSchedule", '
        '"PreferNoSchedule", "NoExecute"'
    )
    assert errors[4].detail == "taints must be unique by key and effect pair"
    assert str(errors[5]) == (
        'spec.podCIDRs[0]: Invalid value: "10.244.1.0/33": must be a valid CIDR value, (e.g. 10.9.8.0/24 or '
        "2001:db8::/64)"
    )


def test_node_pod_cidr_may_only_be_set_once() -> None:
    old = stored(
        defaulted(Node.from_dict({"metadata": {"name": "worker1"}, "spec": {"podCIDR": "10.244.1.0/24"}}))
    )
    new = stored(old)
    new.spec.pod_cidr = "10.244.2.0/24"
    new.spec.pod_cidrs = ["10.244.2.0/24"]
    assert messages(new, old) == [
        'spec.podCIDRs: Forbidden: node updates may not change podCIDR except from "" to valid'
    ]


def test_namespace() -> None:
    assert messages(defaulted(Namespace.from_dict({"metadata": {"name": "cpu-example"}}))) == []
    bad = defaulted(Namespace.from_dict({"metadata": {"name": "CPU"}, "spec": {"finalizers": ["cleanup"]}}))
    assert messages(bad) == [
        f'metadata.name: Invalid value: "CPU": {DNS_LABEL_MSG}',
        'spec.finalizers: Invalid value: "cleanup": name is neither a standard finalizer name nor is it '
        "fully "
        "qualified",
    ]


def test_endpoints() -> None:
    endpoints = defaulted(
        Endpoints.from_dict(
            {
                "metadata": {"name": "web", "namespace": "default"},
                "subsets": [
                    {
                        "addresses": [{"ip": "10.244.1.5"}, {"ip": "127.0.0.1"}, {"ip": "ten"}],
                        "ports": [{"port": 8080}, {"name": "metrics", "port": 0}],
                    },
                    {"ports": [{"port": 80}]},
                ],
            }
        )
    )
    assert messages(endpoints) == [
        'subsets[0].addresses[1].ip: Invalid value: "127.0.0.1": may not be in the loopback range '
        "(127.0.0.0/8, ::1/128)",
        'subsets[0].addresses[2].ip: Invalid value: "ten": must be a valid IP address, (e.g. 10.9.8.7 or '
        "2001:db8::ffff)",
        'subsets[0].addresses[2].ip: Invalid value: "ten": must be a valid IP address',
        "subsets[0].ports[0].name: Required value",
        f"subsets[0].ports[1].port: Invalid value: 0: {PORT_RANGE}",
        "subsets[1]: Required value: must specify `addresses` or `notReadyAddresses`",
    ]


def test_event_namespace_must_match_its_object() -> None:
    def event(namespace: str, involved: str | None) -> Event:
        return Event.from_dict(
            {
                "metadata": {"name": "web.17a", "namespace": namespace},
                "involvedObject": {"kind": "Pod", "name": "web", "namespace": involved},
                "reason": "Scheduled",
                "type": "Normal",
            }
        )

    assert messages(event("default", "default")) == []
    assert messages(event("default", None)) == []  # cluster-scoped objects report into "default"
    assert messages(event("team", "default")) == [
        'involvedObject.namespace: Invalid value: "default": does not match event.namespace'
    ]
    odd_name = event("default", "default")
    odd_name.metadata.name = "a/b"
    assert messages(odd_name) == ["metadata.name: Invalid value: \"a/b\": may not contain '/'"]


def test_lease_duration() -> None:
    lease = Lease.from_dict(
        {"metadata": {"name": "worker1", "namespace": "kube-node-lease"}, "spec": {"leaseDurationSeconds": 0}}
    )
    assert messages(lease) == ["spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"]
    lease.spec.lease_duration_seconds = 40
    assert messages(lease) == []


@pytest.mark.parametrize("kind", ["Pod", "Service", "Deployment"])
def test_identical_errors_are_reported_once(kind: str) -> None:
    makers: dict[str, Callable[[], TypedObject]] = {
        "Pod": make_pod,
        "Service": make_service,
        "Deployment": make_deployment,
    }
    model = makers[kind]()
    old = stored(model)
    new = stored(model)
    new.metadata.labels = {"bad key": "x"}
    fields = [e.field for e in validate(new, old)]
    assert fields.count("metadata.labels") == 1
