"""describe text for a lab-like pod (memory-demo-2, OOMKilled then CrashLoopBackOff), as kubectl prints it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from minik.ctl.describe.generic import smart_label
from minik.ctl.describe.pod import describe_pod, qos_class

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """describe prints times in local time, like kubectl: pin the zone."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


POD: dict[str, Any] = {
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "memory-demo-2", "namespace": "mem-example", "uid": "u1",
                 "creationTimestamp": "2024-05-01T11:50:00Z",
                 "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}\n"}},
    "spec": {
        "containers": [{
            "name": "memory-demo-2-ctr", "image": "polinux/stress", "command": ["stress"],
            "args": ["--vm", "1", "--vm-bytes", "250M", "--vm-hang", "1"],
            "resources": {"limits": {"memory": "100Mi"}, "requests": {"memory": "50Mi"}},
            "volumeMounts": [{"name": "kube-api-access", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                              "readOnly": True}]}],
        "nodeName": "worker2", "priority": 0, "serviceAccountName": "default",
        "volumes": [{"name": "data", "emptyDir": {}}],
        "tolerations": [
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
             "tolerationSeconds": 300},
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
             "tolerationSeconds": 300}]},
    "status": {
        "phase": "Running", "hostIP": "10.0.0.12", "podIP": "10.244.2.7", "podIPs": [{"ip": "10.244.2.7"}],
        "startTime": "2024-05-01T11:50:01Z", "qosClass": "Burstable",
        "conditions": [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "False"},
                       {"type": "ContainersReady", "status": "False"}, {"type": "PodScheduled", "status": "True"}],
        "containerStatuses": [{
            "name": "memory-demo-2-ctr", "ready": False, "restartCount": 4, "image": "polinux/stress",
            "imageID": "sha256:abc", "containerID": "minik://c1",
            "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off"}},
            "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled", "startedAt": "2024-05-01T11:57:00Z",
                                         "finishedAt": "2024-05-01T11:57:02Z"}}}]},
}

EVENTS = [
    {"type": "Normal", "reason": "Scheduled", "message": "Successfully assigned mem-example/memory-demo-2 to worker2",
     "source": {"component": "default-scheduler"}, "firstTimestamp": "2024-05-01T11:50:00Z",
     "lastTimestamp": "2024-05-01T11:50:00Z", "count": 1},
    {"type": "Warning", "reason": "BackOff",
     "message": "Back-off restarting failed container memory-demo-2-ctr in pod memory-demo-2",
     "source": {"component": "kubelet", "host": "worker2"}, "firstTimestamp": "2024-05-01T11:52:00Z",
     "lastTimestamp": "2024-05-01T11:58:00Z", "count": 7},
    {"type": "Normal", "reason": "Pulled", "message": 'Successfully pulled image "polinux/stress"',
     "source": {"component": "kubelet"}, "firstTimestamp": "2024-05-01T11:50:02Z",
     "lastTimestamp": "2024-05-01T11:50:02Z", "count": 1},
]

# Lines ending in "|" end in spaces in the real output (kubectl pads condition cells).
EXPECTED = """\
Name:             memory-demo-2
Namespace:        mem-example
Priority:         0
Service Account:  default
Node:             worker2/10.0.0.12
Start Time:       Wed, 01 May 2024 11:50:01 +0000
Labels:           <none>
Annotations:      <none>
Status:           Running
IP:               10.244.2.7
IPs:
  IP:  10.244.2.7
Containers:
  memory-demo-2-ctr:
    Container ID:  minik://c1
    Image:         polinux/stress
    Image ID:      sha256:abc
    Port:          <none>
    Host Port:     <none>
    Command:
      stress
    Args:
      --vm
      1
      --vm-bytes
      250M
      --vm-hang
      1
    State:          Waiting
      Reason:       CrashLoopBackOff
    Last State:     Terminated
      Reason:       OOMKilled
      Exit Code:    137
      Started:      Wed, 01 May 2024 11:57:00 +0000
      Finished:     Wed, 01 May 2024 11:57:02 +0000
    Ready:          False
    Restart Count:  4
    Limits:
      memory:  100Mi
    Requests:
      memory:     50Mi
    Environment:  <none>
    Mounts:
      /var/run/secrets/kubernetes.io/serviceaccount from kube-api-access (ro)
Conditions:
  Type              Status
  Initialized       True |
  Ready             False |
  ContainersReady   False |
  PodScheduled      True |
Volumes:
  data:
    Type:        EmptyDir (a temporary directory that shares a pod's lifetime)
    Medium:      |
    SizeLimit:   <unset>
QoS Class:       Burstable
Node-Selectors:  <none>
Tolerations:     node.kubernetes.io/not-ready:NoExecute op=Exists for 300s
                 node.kubernetes.io/unreachable:NoExecute op=Exists for 300s
Events:
  Type     Reason     Age              From               Message
  ----     ------     ----             ----               -------
  Normal   Scheduled  10m              default-scheduler  Successfully assigned mem-example/memory-demo-2 to worker2
  Normal   Pulled     9m58s            kubelet            Successfully pulled image "polinux/stress"
  Warning  BackOff    2m (x7 over 8m)  kubelet            Back-off restarting failed container \
memory-demo-2-ctr in pod memory-demo-2
""".replace("|\n", "\n")


def test_describe_oom_killed_pod_like_kubectl() -> None:
    assert describe_pod(POD, EVENTS, NOW) == EXPECTED


def test_no_events_prints_none_in_the_last_block() -> None:
    text = describe_pod(POD, [], NOW)
    assert text.endswith("                 node.kubernetes.io/unreachable:NoExecute op=Exists for 300s\n"
                         "Events:          <none>\n")


def test_init_containers_and_terminating_status() -> None:
    pod = {"metadata": {"name": "init-demo", "namespace": "default", "deletionTimestamp": "2024-05-01T11:59:00Z",
                        "deletionGracePeriodSeconds": 30, "labels": {"b": "2", "a": "1"}},
           "spec": {"initContainers": [{"name": "install", "image": "busybox"}],
                    "containers": [{"name": "nginx", "image": "nginx", "ports": [{"containerPort": 80}]}]},
           "status": {"phase": "Pending"}}
    text = describe_pod(pod, None, NOW)
    assert "Labels:                    a=1\n                           b=2\n" in text
    assert "Status:                    Terminating (lasts 60s)\nTermination Grace Period:  30s\n" in text
    assert "Init Containers:\n  install:\n    Image:        busybox\n" in text
    assert "    Port:         80/TCP\n    Host Port:    0/TCP\n" in text
    assert "Events" not in text


@pytest.mark.parametrize(("resources", "qos"), [
    ([{}], "BestEffort"),
    ([{"requests": {"memory": "50Mi"}, "limits": {"memory": "100Mi"}}], "Burstable"),
    ([{"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1000m", "memory": "1Gi"}}], "Guaranteed"),
    ([{"limits": {"cpu": "1", "memory": "1Gi"}}, {}], "Burstable"),
])
def test_qos_class_computed_when_status_has_none(resources: list[dict[str, Any]], qos: str) -> None:
    pod = {"spec": {"containers": [{"name": f"c{i}", "resources": r} for i, r in enumerate(resources)]}}
    assert qos_class(pod) == qos


def test_generic_describer_labels() -> None:
    assert smart_label("holderIdentity") == "Holder Identity"
    assert smart_label("apiVersion") == "API Version"
    assert smart_label("leaseDurationSeconds") == "Lease Duration Seconds"
    assert smart_label("some_field") == "some_field"
