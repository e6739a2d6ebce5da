"""Field selectors and each kind's selectable fields."""

from __future__ import annotations

import pytest

from minik.api.fields import FieldRequirement, check_supported, object_fields, parse_field_selector
from minik.api.labels import SelectorError

POD = {
    "metadata": {"name": "web-1", "namespace": "shop"},
    "spec": {"nodeName": "n1", "restartPolicy": "Always", "schedulerName": "default-scheduler",
             "serviceAccountName": "default"},
    "status": {"phase": "Running", "podIPs": [{"ip": "10.244.1.5"}], "podIP": "10.244.1.5"},
}


def test_parse_operators_and_order() -> None:
    selector = parse_field_selector("status.phase!=Failed,spec.nodeName==n1,metadata.name=web-1")
    assert selector.requirements == (
        FieldRequirement("metadata.name", "=", "web-1"),
        FieldRequirement("spec.nodeName", "=", "n1"),
        FieldRequirement("status.phase", "!=", "Failed"),
    )
    assert str(selector) == "metadata.name=web-1,spec.nodeName=n1,status.phase!=Failed"


def test_matches_against_object_fields() -> None:
    fields = object_fields("pods", POD)
    assert parse_field_selector("spec.nodeName=n1,status.phase=Running").matches(fields)
    assert not parse_field_selector("spec.nodeName=n2").matches(fields)
    assert parse_field_selector("spec.nodeName!=n2").matches(fields)
    assert parse_field_selector("").matches(fields)


def test_missing_values_are_empty_strings() -> None:
    fields = object_fields("pods", {"metadata": {"name": "p"}})
    assert fields["spec.nodeName"] == "" and fields["status.phase"] == ""
    assert fields["metadata.namespace"] == ""
    assert parse_field_selector("spec.nodeName=").matches(fields)  # unscheduled pods
    assert not parse_field_selector("spec.nodeName!=").matches(fields)


def test_value_for_narrows_only_equality() -> None:
    selector = parse_field_selector("metadata.name=a,spec.nodeName!=b")
    assert selector.value_for("metadata.name") == "a"
    assert selector.value_for("spec.nodeName") is None
    assert selector.value_for("status.phase") is None
    assert parse_field_selector("").empty()
    assert not selector.empty()


def test_escaped_values() -> None:
    selector = parse_field_selector(r"metadata.name=a\,b\=c\\d")
    assert selector.value_for("metadata.name") == "a,b=c\\d"
    assert str(selector) == r"metadata.name=a\,b\=c\\d"
    assert parse_field_selector("a=1,,b=2").value_for("b") == "2"


@pytest.mark.parametrize(("text", "message"), [
    ("spec.nodeName", "invalid selector: 'spec.nodeName'; can't understand 'spec.nodeName'"),
    ("a=b,c", "invalid selector: 'a=b,c'; can't understand 'c'"),
    ("a=b=c", "invalid field selector: unescaped character in value: 61"),
    (r"a=b\x", "invalid field selector: invalid escape sequence: \\x"),
    ("a=b\\", "invalid field selector: invalid escape sequence: \\"),
])
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(SelectorError) as err:
        parse_field_selector(text)
    assert str(err.value) == message


def test_check_supported_per_kind() -> None:
    check_supported("pods", parse_field_selector("spec.nodeName=n1,status.phase=Running,metadata.namespace=x"))
    check_supported("nodes", parse_field_selector("spec.unschedulable=false,metadata.name=n1"))
    check_supported("deployments", parse_field_selector("metadata.name=d"))
    with pytest.raises(SelectorError, match="^field label not supported: spec.bogus$"):
        check_supported("pods", parse_field_selector("spec.bogus=1"))
    with pytest.raises(SelectorError, match="^field label not supported: metadata.namespace$"):
        check_supported("nodes", parse_field_selector("metadata.namespace=x"))
    with pytest.raises(SelectorError) as err:
        check_supported("deployments", parse_field_selector("spec.replicas=1"))
    assert str(err.value) == '"spec.replicas" is not a known field selector: only "metadata.name", "metadata.namespace"'


def test_pod_fields() -> None:
    fields = object_fields("pods", POD)
    assert fields == {
        "metadata.name": "web-1", "metadata.namespace": "shop", "spec.nodeName": "n1",
        "spec.restartPolicy": "Always", "spec.schedulerName": "default-scheduler",
        "spec.serviceAccountName": "default", "spec.hostNetwork": "false", "status.phase": "Running",
        "status.podIP": "10.244.1.5", "status.nominatedNodeName": "",
    }


def test_node_namespace_service_replicaset_fields() -> None:
    assert object_fields("nodes", {"metadata": {"name": "n1"}, "spec": {"unschedulable": True}})[
        "spec.unschedulable"] == "true"
    assert object_fields("nodes", {"metadata": {"name": "n1"}})["spec.unschedulable"] == "false"
    assert object_fields("namespaces", {"metadata": {"name": "x"}, "status": {"phase": "Terminating"}})[
        "status.phase"] == "Terminating"
    svc = object_fields("services", {"metadata": {"name": "s"}, "spec": {"clusterIP": "10.96.0.1", "type": "NodePort"}})
    assert (svc["spec.clusterIP"], svc["spec.type"]) == ("10.96.0.1", "NodePort")
    assert object_fields("replicasets", {"status": {"replicas": 3}})["status.replicas"] == "3"
    assert object_fields("deployments", {"metadata": {"name": "d", "namespace": "n"}}) == {
        "metadata.name": "d", "metadata.namespace": "n"}


def test_event_fields() -> None:
    event = {
        "metadata": {"name": "e", "namespace": "default"},
        "involvedObject": {"kind": "Pod", "name": "web-1", "namespace": "default", "uid": "u1",
                           "apiVersion": "v1", "fieldPath": "spec.containers{c}"},
        "reason": "Pulled", "type": "Normal", "source": {"component": "kubelet", "host": "n1"},
    }
    fields = object_fields("events", event)
    assert fields["involvedObject.kind"] == "Pod"
    assert fields["involvedObject.name"] == "web-1"
    assert fields["involvedObject.fieldPath"] == "spec.containers{c}"
    assert fields["involvedObject.resourceVersion"] == ""
    assert (fields["reason"], fields["type"], fields["source"]) == ("Pulled", "Normal", "kubelet")
    selector = parse_field_selector("involvedObject.name=web-1,involvedObject.kind=Pod")
    check_supported("events", selector)
    assert selector.matches(fields)
    assert object_fields("events", {"reportingComponent": "scheduler"})["source"] == "scheduler"
