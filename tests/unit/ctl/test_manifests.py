"""Reading -f inputs: kubectl's YAML error messages (file and go-yaml line) and object validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from minik.ctl.errors import CtlError, Errors
from minik.ctl.manifests import read_manifests, resolve_infos

LABS = Path(__file__).resolve().parents[4] / "shared" / "labs"


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def error_for(path: str) -> str:
    with pytest.raises(CtlError) as err:
        read_manifests([path])
    return err.value.message


@pytest.mark.parametrize(("text", "problem"), [
    ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n labels: y\n", "line 4: did not find expected key"),
    ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: x: y\n", "line 4: mapping values are not allowed in this context"),
    ("apiVersion: v1\nkind: Pod\nmetadata:\n\tname: x\n", "line 4: found character that cannot start any token"),
    ('apiVersion: v1\nkind: Pod\nmetadata:\n  name: "x\n', "line 5: found unexpected end of stream"),
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: [a}\n", "line 2: did not find expected ',' or ']'"),
])
def test_yaml_errors_name_file_and_line_like_kubectl(tmp_path: Path, text: str, problem: str) -> None:
    path = write(tmp_path, "pod.yaml", text)
    assert error_for(path) == f"error: error parsing {path}: error converting YAML to JSON: yaml: {problem}"


def test_line_numbers_restart_at_each_document(tmp_path: Path) -> None:
    path = write(tmp_path, "two.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n---\n"
                                       "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x: y\n")
    assert "yaml: line 4: mapping values" in error_for(path)


def test_missing_kind_and_api_version(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.yaml", "metadata:\n  name: x\n")
    assert error_for(path) == (f'error: error validating "{path}": error validating data: [apiVersion not set, '
                               "kind not set]; if you choose to ignore these errors, turn validation off with "
                               "--validate=false")


def test_missing_file_and_bad_separator(tmp_path: Path) -> None:
    assert error_for("nope.yaml") == 'error: the path "nope.yaml" does not exist'
    path = write(tmp_path, "sep.yaml", "--- foo\napiVersion: v1\n")
    assert error_for(path) == f"error: error parsing {path}: invalid Yaml document separator: foo"


def test_multi_document_lists_json_and_directories(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Pod, metadata: {name: a}}\n"
                              "- {apiVersion: v1, kind: Pod, metadata: {name: b}}\n---\n# only a comment\n")
    write(tmp_path, "b.json", '{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}}')
    write(tmp_path, "c.txt", "ignored")
    names = [m.obj["metadata"]["name"] for m in read_manifests([str(tmp_path)])]
    assert names == ["a", "b", "n"]


def test_lab_manifests_resolve_with_namespaces() -> None:
    manifests = read_manifests([str(LABS)])
    errors = Errors()
    infos = resolve_infos(manifests, "default", False, errors)
    assert not errors
    by_name = {(i.name, i.namespace) for i in infos}
    assert ("cpu-demo", "cpu-example") in by_name and ("label-app04", "default") in by_name
    assert {i.ref for i in infos if i.name == "label-app01"} == {"deployment.apps/label-app01"}


def test_explicit_namespace_conflict_is_collected_not_fatal() -> None:
    errors = Errors()
    infos = resolve_infos(read_manifests([str(LABS / "cpu-request-limit.yaml"), str(LABS / "app-pod.yaml")]),
                          "default", True, errors)
    assert [i.name for i in infos] == ["app"]
    with pytest.raises(CtlError) as err:
        errors.raise_any()
    assert err.value.message.splitlines() == [
        'the namespace from the provided object "cpu-example" does not match the namespace "default". You must '
        "pass '--namespace=cpu-example' to perform this operation."] * 2
