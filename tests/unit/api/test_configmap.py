"""ConfigMap: validated and printed like Kubernetes' (cluster-info is one; labs create their own)."""

from __future__ import annotations

from typing import Any

from minik.api.core import ConfigMap
from minik.api.resources import lookup
from minik.api.validation import validate
from minik.apiserver.printers import to_table


def configmap(**fields: Any) -> ConfigMap:
    return ConfigMap.from_dict({"apiVersion": "v1", "kind": "ConfigMap",
                                "metadata": {"name": "cfg", "namespace": "default"}, **fields})


def test_keys_must_be_file_names() -> None:
    assert validate(configmap(data={"app.properties": "a=b", "KEY_1": "x"})) == []
    errors = [str(e) for e in validate(configmap(data={"bad/key": "x", "..x": "y"}))]
    assert any(e.startswith('data: Invalid value: "bad/key": a valid config key') for e in errors)
    assert any("must not start with '..'" in e for e in errors)
    dup = validate(configmap(data={"k": "x"}, binaryData={"k": "eA=="}))
    assert [str(e) for e in dup] == ['data: Invalid value: "k": duplicate of key present in binaryData']


def test_immutable_data_cannot_change() -> None:
    old = configmap(data={"k": "x"}, immutable=True)
    new = configmap(data={"k": "y"}, immutable=True)
    assert [str(e) for e in validate(new, old)] == ["data: Forbidden: field is immutable when `immutable` is set"]


def test_table_shows_the_number_of_keys() -> None:
    resource = lookup("cm")
    assert resource is not None and resource.kind == "ConfigMap" and resource.namespaced
    table = to_table(resource, [{"metadata": {"name": "cfg"}, "data": {"a": "1"}, "binaryData": {"b": "eA=="}}])
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Data", "Age"]
    assert table["rows"][0]["cells"][:2] == ["cfg", 2]
