"""Defaults as `kubectl get -o yaml` shows them on a real cluster, starting from the course's labs."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from minik.api.apps import DaemonSet, Deployment, ReplicaSet
from minik.api.core import Endpoints, Event, Namespace, Node, Pod, PodSpec, PodStatus, Service
from minik.api.defaults import image_pull_policy_for, pod_qos_class, set_defaults

REPO = Path(__file__).resolve().parents[3]
# The course manifests, unchanged (CONTRIBUTING: ../shared is the project's shared folder).
LABS = REPO.parent / "shared" / "labs"

NOT_READY = {
    "key": "node.kubernetes.io/not-ready",
    "operator": "Exists",
    "effect": "NoExecute",
    "tolerationSeconds": 300,
}
UNREACHABLE = {
    "key": "node.kubernetes.io/unreachable",
    "operator": "Exists",
    "effect": "NoExecute",
    "tolerationSeconds": 300,
}


def lab(name: str) -> list[dict[str, Any]]:
    with open(LABS / name) as f:
        return [doc for doc in yaml.safe_load_all(f) if doc]


def defaulted_pod(doc: dict[str, Any]) -> dict[str, Any]:
    pod = Pod.from_dict(doc)
    set_defaults(pod)
    return pod.to_dict()


def pod_with(**spec: Any) -> Pod:
    return Pod.from_dict(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p", "namespace": "default"},
            "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}], **spec},
        }
    )


# --- the labs ---------------------------------------------------------------------------------


def test_app_pod_gets_everything_get_pod_o_yaml_shows() -> None:
    out = defaulted_pod(lab("app-pod.yaml")[0])
    assert out["spec"] == {
        "containers": [
            {
                "name": "app-container",
                "image": "takytaky/app:v1",
                "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                "resources": {},
                "imagePullPolicy": "IfNotPresent",
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File",
            }
        ],
        "tolerations": [NOT_READY, UNREACHABLE],
        "restartPolicy": "Always",
        "schedulerName": "default-scheduler",
        "dnsPolicy": "ClusterFirst",
        "terminationGracePeriodSeconds": 30,
        "serviceAccountName": "default",
        "serviceAccount": "default",
        "priority": 0,
        "preemptionPolicy": "PreemptLowerPriority",
        "enableServiceLinks": True,
        "securityContext": {},
    }
    assert out["status"] == {"phase": "Pending", "qosClass": "BestEffort"}
    assert out["metadata"] == {"name": "app", "labels": {"app": "app"}}


def test_lab_deployments_default_strategy_and_template_but_not_pod_only_fields() -> None:
    for name in (
        "label-app01.yaml",
        "label-app02.yaml",
        "label-app03.yaml",
        "label-app04.yaml",
        "annotation-nodejs.yaml",
    ):
        deployment = Deployment.from_dict(lab(name)[0])
        selector = deployment.spec.selector.to_dict() if deployment.spec.selector else None
        set_defaults(deployment)
        spec = deployment.to_dict()["spec"]
        assert spec["replicas"] == 1
        assert spec["strategy"] == {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
        }
        assert spec["revisionHistoryLimit"] == 10
        assert spec["progressDeadlineSeconds"] == 600
        assert spec["selector"] == selector
        template = spec["template"]["spec"]
        container = template["containers"][0]
        # `takytaky/app` has no tag (latest) but `takytaky/app:v1` has one.
        assert container["imagePullPolicy"] == (
            "IfNotPresent" if container["image"].endswith(":v1") else "Always"
        )
        assert container["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
        assert container["resources"] == {}
        assert (template["restartPolicy"], template["dnsPolicy"], template["schedulerName"]) == (
            "Always",
            "ClusterFirst",
            "default-scheduler",
        )
        assert template["terminationGracePeriodSeconds"] == 30
        assert template["securityContext"] == {}
        for pod_only in (
            "tolerations",
            "serviceAccountName",
            "serviceAccount",
            "enableServiceLinks",
            "priority",
            "preemptionPolicy",
        ):
            assert pod_only not in template
        assert "status" not in deployment.to_dict()


def test_cpu_request_shows_canonical_quantity_and_qos() -> None:
    second, first = lab("cpu-request-limit.yaml")
    out = defaulted_pod(first)
    assert out["metadata"]["namespace"] == "cpu-example"
    assert out["spec"]["containers"][0]["resources"] == {"limits": {"cpu": "1"}, "requests": {"cpu": "500m"}}
    assert out["spec"]["containers"][0]["imagePullPolicy"] == "Always"
    assert out["status"]["qosClass"] == "Burstable"
    # cpu only, requests == limits: still Burstable because memory has no limit.
    assert defaulted_pod(second)["status"]["qosClass"] == "Burstable"


def test_memory_lab_is_burstable_and_keeps_its_quantities() -> None:
    out = defaulted_pod(lab("memory-request-limit.yaml")[0])
    assert out["spec"]["containers"][0]["resources"] == {
        "limits": {"memory": "100Mi"},
        "requests": {"memory": "50Mi"},
    }
    assert out["status"]["qosClass"] == "Burstable"


def test_init_containers_lab_defaults_both_kinds_and_keeps_dns_policy_and_empty_dir() -> None:
    out = defaulted_pod(lab("init-containers.yaml")[0])
    spec = out["spec"]
    assert spec["dnsPolicy"] == "Default"
    assert spec["volumes"] == [{"name": "workdir", "emptyDir": {}}]
    init = spec["initContainers"][0]
    assert init["imagePullPolicy"] == "Always"
    assert init["terminationMessagePath"] == "/dev/termination-log"
    assert init["terminationMessagePolicy"] == "File"
    assert init["resources"] == {}
    assert spec["containers"][0]["ports"] == [{"containerPort": 80, "protocol": "TCP"}]


def test_nodeselector_lab_keeps_its_selector() -> None:
    out = defaulted_pod(lab("nodeselector-pod.yaml")[0])
    assert out["spec"]["nodeSelector"] == {"disk": "ssd"}
    assert out["spec"]["tolerations"] == [NOT_READY, UNREACHABLE]


def test_static_pod_mirror_gets_no_service_account() -> None:
    doc = copy.deepcopy(lab("static-pod-app.yaml")[0])
    doc["metadata"]["name"] = "app-worker1"
    doc["metadata"]["annotations"] = {"kubernetes.io/config.mirror": "abc"}
    doc["spec"]["nodeName"] = "worker1"
    spec = defaulted_pod(doc)["spec"]
    assert "serviceAccountName" not in spec and "serviceAccount" not in spec
    assert spec["tolerations"] == [NOT_READY, UNREACHABLE]


# --- pods in detail -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("nginx:1.25", "IfNotPresent"),
        ("docker.io/library/nginx:1.25", "IfNotPresent"),
        ("localhost:5000/app", "Always"),
        ("localhost:5000/app:v2", "IfNotPresent"),
        ("nginx@sha256:" + "a" * 64, "IfNotPresent"),
        ("nginx:latest@sha256:" + "a" * 64, "Always"),
        ("Not A Reference", "IfNotPresent"),
        ("", "IfNotPresent"),
    ],
)
def test_image_pull_policy_follows_the_tag(image: str, policy: str) -> None:
    assert image_pull_policy_for(image) == policy


def test_explicit_values_are_kept() -> None:
    pod = pod_with(
        restartPolicy="Never",
        dnsPolicy="Default",
        terminationGracePeriodSeconds=5,
        schedulerName="other",
        enableServiceLinks=False,
        serviceAccountName="builder",
    )
    pod.spec.containers[0].image_pull_policy = "Never"
    set_defaults(pod)
    spec = pod.to_dict()["spec"]
    assert (spec["restartPolicy"], spec["dnsPolicy"], spec["terminationGracePeriodSeconds"]) == (
        "Never",
        "Default",
        5,
    )
    assert (spec["schedulerName"], spec["enableServiceLinks"]) == ("other", False)
    assert (spec["serviceAccountName"], spec["serviceAccount"]) == ("builder", "builder")
    assert spec["containers"][0]["imagePullPolicy"] == "Never"


def test_deprecated_service_account_fills_service_account_name() -> None:
    pod = pod_with(serviceAccount="legacy")
    set_defaults(pod)
    assert pod.spec.service_account_name == "legacy"


def test_requests_default_to_limits_per_resource_on_pods() -> None:
    pod = pod_with(
        containers=[
            {
                "name": "c",
                "image": "x:1",
                "resources": {"limits": {"cpu": "1", "memory": "128Mi"}, "requests": {"cpu": "0.25"}},
            }
        ],
        initContainers=[{"name": "i", "image": "x:1", "resources": {"limits": {"cpu": "2"}}}],
    )
    set_defaults(pod)
    out = pod.to_dict()
    assert out["spec"]["containers"][0]["resources"]["requests"] == {"cpu": "250m", "memory": "128Mi"}
    assert out["spec"]["initContainers"][0]["resources"] == {"limits": {"cpu": "2"}, "requests": {"cpu": "2"}}
    assert out["status"]["qosClass"] == "Burstable"


def test_limits_only_for_cpu_and_memory_make_a_guaranteed_pod() -> None:
    pod = pod_with(
        containers=[{"name": "c", "image": "x:1", "resources": {"limits": {"cpu": "500m", "memory": "64Mi"}}}]
    )
    set_defaults(pod)
    assert pod.status is not None and pod.status.qos_class == "Guaranteed"


def test_templates_do_not_copy_limits_to_requests() -> None:
    rs = ReplicaSet.from_dict(
        {
            "metadata": {"name": "r"},
            "spec": {
                "selector": {"matchLabels": {"a": "b"}},
                "template": {
                    "metadata": {"labels": {"a": "b"}},
                    "spec": {
                        "containers": [{"name": "c", "image": "x:1", "resources": {"limits": {"cpu": "1"}}}]
                    },
                },
            },
        }
    )
    set_defaults(rs)
    assert rs.to_dict()["spec"]["template"]["spec"]["containers"][0]["resources"] == {"limits": {"cpu": "1"}}
    assert rs.spec.replicas == 1


@pytest.mark.parametrize(
    ("containers", "init", "qos"),
    [
        ([{}], [], "BestEffort"),
        ([{"requests": {"cpu": "0"}}], [], "BestEffort"),
        ([{"requests": {"memory": "1Gi"}}], [], "Burstable"),
        (
            [{"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1000m", "memory": "1Gi"}}],
            [],
            "Guaranteed",
        ),
        (
            [{"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}}, {}],
            [],
            "Burstable",
        ),
        (
            [{"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}}],
            [{"limits": {"cpu": "2", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}}],
            "Burstable",
        ),
        (
            [
                {
                    "limits": {"cpu": "1", "memory": "1Gi", "nvidia.com/gpu": "1"},
                    "requests": {"cpu": "1", "memory": "1Gi"},
                }
            ],
            [],
            "Guaranteed",
        ),
        ([{"requests": {"ephemeral-storage": "1Gi"}}], [], "BestEffort"),
    ],
)
def test_pod_qos_class_is_computed_like_kubernetes(
    containers: list[dict[str, Any]], init: list[dict[str, Any]], qos: str
) -> None:
    spec = PodSpec.model_validate(
        {
            "containers": [{"name": f"c{i}", "image": "x", "resources": r} for i, r in enumerate(containers)],
            "initContainers": [{"name": f"i{i}", "image": "x", "resources": r} for i, r in enumerate(init)],
        }
    )
    assert pod_qos_class(spec) == qos


def test_default_tolerations_respect_what_the_pod_already_tolerates() -> None:
    pod = pod_with(
        tolerations=[
            {
                "key": "node.kubernetes.io/not-ready",
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 60,
            }
        ]
    )
    set_defaults(pod)
    assert pod.to_dict()["spec"]["tolerations"] == [
        {
            "key": "node.kubernetes.io/not-ready",
            "operator": "Exists",
            "effect": "NoExecute",
            "tolerationSeconds": 60,
        },
        UNREACHABLE,
    ]
    everything = pod_with(tolerations=[{"operator": "Exists"}])
    set_defaults(everything)
    assert everything.to_dict()["spec"]["tolerations"] == [{"operator": "Exists"}]


def test_probe_and_handler_defaults() -> None:
    pod = pod_with(
        containers=[
            {
                "name": "c",
                "image": "x:1",
                "livenessProbe": {"httpGet": {"port": 8080}},
                "readinessProbe": {"tcpSocket": {"port": 80}, "periodSeconds": 3},
                "startupProbe": {"grpc": {"port": 9000}},
                "lifecycle": {"preStop": {"httpGet": {"port": 80}}},
            }
        ]
    )
    set_defaults(pod)
    container = pod.to_dict()["spec"]["containers"][0]
    assert container["livenessProbe"] == {
        "httpGet": {"path": "/", "port": 8080, "scheme": "HTTP"},
        "timeoutSeconds": 1,
        "periodSeconds": 10,
        "successThreshold": 1,
        "failureThreshold": 3,
    }
    assert container["readinessProbe"]["periodSeconds"] == 3
    assert container["startupProbe"]["grpc"] == {"port": 9000, "service": ""}
    assert container["lifecycle"]["preStop"]["httpGet"] == {"port": 80, "path": "/", "scheme": "HTTP"}


def test_volume_defaults() -> None:
    pod = pod_with(
        volumes=[
            {"name": "a"},
            {"name": "b", "hostPath": {"path": "/data"}},
            {"name": "c", "secret": {"secretName": "s"}},
            {"name": "d", "emptyDir": {"sizeLimit": "0.5Gi"}},
        ]
    )
    set_defaults(pod)
    assert pod.to_dict()["spec"]["volumes"] == [
        {"name": "a", "emptyDir": {}},
        {"name": "b", "hostPath": {"path": "/data", "type": ""}},
        {"name": "c", "secret": {"secretName": "s", "defaultMode": 420}},
        {"name": "d", "emptyDir": {"sizeLimit": "512Mi"}},
    ]


def test_host_network_pods_get_host_ports_and_priority_from_system_classes() -> None:
    pod = pod_with(
        hostNetwork=True,
        priorityClassName="system-node-critical",
        containers=[{"name": "c", "image": "x:1", "ports": [{"containerPort": 10250}]}],
    )
    set_defaults(pod)
    spec = pod.to_dict()["spec"]
    assert spec["containers"][0]["ports"] == [{"containerPort": 10250, "hostPort": 10250, "protocol": "TCP"}]
    assert (spec["priority"], spec["preemptionPolicy"]) == (2000001000, "PreemptLowerPriority")


def test_existing_status_is_kept() -> None:
    pod = pod_with(restartPolicy="Never")
    pod.status = PodStatus(phase="Running", qos_class="Burstable")
    set_defaults(pod)
    assert pod.status is not None and (pod.status.phase, pod.status.qos_class) == ("Running", "Burstable")


def test_defaulting_is_idempotent_and_survives_a_round_trip() -> None:
    for doc in [*lab("app-pod.yaml"), *lab("init-containers.yaml"), *lab("cpu-request-limit.yaml")]:
        pod = Pod.from_dict(doc)
        set_defaults(pod)
        once = pod.to_dict()
        again = Pod.from_dict(once)
        set_defaults(again)
        assert again.to_dict() == once


# --- apps -----------------------------------------------------------------------------------


def test_recreate_deployment_gets_no_rolling_update() -> None:
    deployment = Deployment.from_dict(
        {
            "metadata": {"name": "d"},
            "spec": {
                "strategy": {"type": "Recreate"},
                "template": {"spec": {"containers": [{"name": "c", "image": "x"}]}},
            },
        }
    )
    set_defaults(deployment)
    assert deployment.to_dict()["spec"]["strategy"] == {"type": "Recreate"}
    assert deployment.spec.selector is None  # apps/v1 never defaults the selector from the template


def test_partial_rolling_update_is_completed() -> None:
    deployment = Deployment.from_dict(
        {"metadata": {"name": "d"}, "spec": {"strategy": {"rollingUpdate": {"maxSurge": 1}}}}
    )
    set_defaults(deployment)
    assert deployment.to_dict()["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": 1},
    }


def test_daemon_set_defaults() -> None:
    ds = DaemonSet.from_dict(
        {
            "metadata": {"name": "ds"},
            "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x:1"}]}}},
        }
    )
    set_defaults(ds)
    spec = ds.to_dict()["spec"]
    assert spec["updateStrategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0},
    }
    assert spec["revisionHistoryLimit"] == 10
    assert spec["template"]["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    assert "tolerations" not in spec["template"]["spec"]


# --- services, endpoints ----------------------------------------------------------------------


def service(**spec: Any) -> dict[str, Any]:
    svc = Service.from_dict({"metadata": {"name": "web", "namespace": "default"}, "spec": spec})
    set_defaults(svc)
    return svc.to_dict()["spec"]


def test_cluster_ip_service_defaults() -> None:
    spec = service(
        selector={"app": "web"}, ports=[{"port": 80}, {"name": "named", "port": 81, "targetPort": "http"}]
    )
    assert spec == {
        "type": "ClusterIP",
        "selector": {"app": "web"},
        "ports": [
            {"protocol": "TCP", "port": 80, "targetPort": 80},
            {"name": "named", "protocol": "TCP", "port": 81, "targetPort": "http"},
        ],
        "sessionAffinity": "None",
        "internalTrafficPolicy": "Cluster",
        "ipFamilies": ["IPv4"],
        "ipFamilyPolicy": "SingleStack",
    }


def test_node_port_and_load_balancer_services_get_external_traffic_policy() -> None:
    assert service(type="NodePort", ports=[{"port": 80}])["externalTrafficPolicy"] == "Cluster"
    lb = service(type="LoadBalancer", ports=[{"port": 80}])
    assert (lb["externalTrafficPolicy"], lb["allocateLoadBalancerNodePorts"]) == ("Cluster", True)
    assert "externalTrafficPolicy" not in service(ports=[{"port": 80}])


def test_cluster_ip_and_cluster_ips_are_kept_in_step() -> None:
    spec = service(clusterIP="10.96.0.10", ports=[{"port": 53}])
    assert (spec["clusterIP"], spec["clusterIPs"]) == ("10.96.0.10", ["10.96.0.10"])
    assert service(clusterIPs=["10.96.0.11"], ports=[{"port": 53}])["clusterIP"] == "10.96.0.11"


def test_headless_and_external_name_services() -> None:
    headless = service(clusterIP="None", ports=[{"port": 80}])
    assert (headless["ipFamilyPolicy"], headless["ipFamilies"]) == ("RequireDualStack", ["IPv4"])
    with_selector = service(clusterIP="None", selector={"a": "b"})
    assert with_selector["ipFamilyPolicy"] == "SingleStack"
    external = service(type="ExternalName", externalName="example.com")
    assert external == {"type": "ExternalName", "sessionAffinity": "None", "externalName": "example.com"}


def test_client_ip_affinity_gets_its_timeout() -> None:
    assert service(sessionAffinity="ClientIP", ports=[{"port": 80}])["sessionAffinityConfig"] == {
        "clientIP": {"timeoutSeconds": 10800}
    }


def test_endpoint_ports_default_to_tcp() -> None:
    endpoints = Endpoints.from_dict(
        {
            "metadata": {"name": "web"},
            "subsets": [{"addresses": [{"ip": "10.244.1.5"}], "ports": [{"port": 8080}]}],
        }
    )
    set_defaults(endpoints)
    assert endpoints.to_dict()["subsets"][0]["ports"] == [{"port": 8080, "protocol": "TCP"}]


# --- namespaces, nodes, events ----------------------------------------------------------------


def test_namespace_defaults() -> None:
    ns = Namespace.from_dict({"metadata": {"name": "cpu-example"}})
    set_defaults(ns)
    assert ns.to_dict() == {
        "metadata": {"name": "cpu-example", "labels": {"kubernetes.io/metadata.name": "cpu-example"}},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


def test_namespace_finalizer_is_not_brought_back_once_removed() -> None:
    deleting = Namespace.from_dict(
        {
            "metadata": {"name": "gone", "deletionTimestamp": "2024-01-01T00:00:00Z"},
            "spec": {"finalizers": []},
            "status": {"phase": "Terminating"},
        }
    )
    set_defaults(deleting)
    assert deleting.spec is not None and deleting.spec.finalizers == []
    assert deleting.status is not None and deleting.status.phase == "Terminating"
    updated = Namespace.from_dict({"metadata": {"name": "live"}, "spec": {"finalizers": []}})
    set_defaults(updated, old=Namespace.from_dict({"metadata": {"name": "live"}}))
    assert updated.spec is not None and updated.spec.finalizers == []


def test_node_defaults() -> None:
    node = Node.from_dict(
        {
            "metadata": {"name": "worker1"},
            "spec": {"podCIDR": "10.244.1.0/24"},
            "status": {"capacity": {"cpu": "2", "memory": "2048Mi", "pods": "110"}},
        }
    )
    set_defaults(node)
    out = node.to_dict()
    assert out["spec"] == {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24"]}
    assert out["status"]["allocatable"] == {"cpu": "2", "memory": "2Gi", "pods": "110"}


def test_events_are_not_defaulted() -> None:
    event = Event.from_dict(
        {
            "metadata": {"name": "e", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"},
        }
    )
    before = event.to_dict()
    set_defaults(event)
    assert event.to_dict() == before
