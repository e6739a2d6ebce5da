"""-o formats and the table printer's decorations (namespace, kind prefix, label columns)."""

from __future__ import annotations

import io
from typing import Any

import pytest

from minik.ctl.encoding import go_sprint, to_yaml
from minik.ctl.errors import CtlError
from minik.ctl.output import TablePrinter, custom_columns, parse_output, print_objects, sort_objects
from minik.ctl.tabwriter import kubectl_table_writer

PODS: list[dict[str, Any]] = [
    {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-1", "labels": {"app": "web", "tier": "fe"}},
     "spec": {"containers": [{"name": "a", "image": "nginx"}, {"name": "b", "image": "busybox"}]},
     "status": {"containerStatuses": [{"restartCount": 2}, {"restartCount": 0}]}},
    {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-10"}, "spec": {"containers": []}},
]


def test_custom_columns_join_values_and_show_none() -> None:
    out = io.StringIO()
    custom_columns("NAME:.metadata.name,IMAGES:.spec.containers[*].image,LABELS:.metadata.labels,"
                   "RESTARTS:.status.containerStatuses[*].restartCount", PODS, False, out)
    assert out.getvalue() == (
        "NAME     IMAGES          LABELS                 RESTARTS\n"
        "web-1    nginx,busybox   map[app:web tier:fe]   2,0\n"
        "web-10   <none>          <none>                 <none>\n")


def test_custom_columns_spec_errors() -> None:
    with pytest.raises(CtlError, match="unexpected custom-columns spec: NAME, expected <header>:<json-path-expr>"):
        parse_output("custom-columns=NAME")
    with pytest.raises(CtlError, match="custom-columns format specified but no custom columns given"):
        parse_output("custom-columns=")


def test_unknown_output_format_lists_the_allowed_ones() -> None:
    with pytest.raises(CtlError, match='unable to match a printer suitable for the output format "foo"'):
        parse_output("foo")


def test_single_object_prints_itself_and_several_print_a_list() -> None:
    fmt = parse_output("jsonpath={.kind}")
    out = io.StringIO()
    print_objects(fmt, PODS[:1], True, out)
    assert out.getvalue() == "Pod"
    out = io.StringIO()
    print_objects(fmt, PODS, False, out)
    assert out.getvalue() == "List"
    out = io.StringIO()
    print_objects(parse_output("yaml"), [], False, out)
    assert out.getvalue() == "apiVersion: v1\nitems: []\nkind: List\nmetadata:\n  resourceVersion: \"\"\n"


def test_name_output_uses_kind_and_group() -> None:
    out = io.StringIO()
    print_objects(parse_output("name"), PODS, False, out, ref=lambda o: f"pod/{o['metadata']['name']}")
    assert out.getvalue() == "pod/web-1\npod/web-10\n"


def test_yaml_quotes_like_kubectl() -> None:
    text = to_yaml({"data": {"n": "1", "b": "true", "t": "2024-01-01T00:00:00Z", "e": "", "colon": "a: b",
                             "multi": "x\ny\n"}, "list": [{"k": 1}]})
    assert text == ('data:\n  b: "true"\n  colon: \'a: b\'\n  e: ""\n  multi: |\n    x\n    y\n  n: "1"\n'
                    '  t: "2024-01-01T00:00:00Z"\nlist:\n- k: 1\n')


def test_go_sprint_formats() -> None:
    assert go_sprint({"b": 1, "a": [1, "x"]}) == "map[a:[1 x] b:1]"
    assert go_sprint(None) == "<nil>"
    assert go_sprint(2.0) == "2"


def test_sort_by_natural_order_and_numbers() -> None:
    names = [o["metadata"]["name"] for o in sort_objects(list(reversed(PODS)), ".metadata.name")]
    assert names == ["web-1", "web-10"]


def _table(rows: list[list[Any]], labels: list[dict[str, str]] | None = None) -> dict[str, Any]:
    cols = [{"name": "Name", "type": "string", "format": "name", "priority": 0},
            {"name": "Status", "type": "string", "format": "", "priority": 0},
            {"name": "IP", "type": "string", "format": "", "priority": 1}]
    out = []
    for i, cells in enumerate(rows):
        meta = {"name": cells[0], "namespace": "ns1", "labels": (labels or [{}] * len(rows))[i]}
        out.append({"cells": cells, "object": {"metadata": meta}})
    return {"columnDefinitions": cols, "rows": out}


def test_table_printer_decorations() -> None:
    out = io.StringIO()
    tw = kubectl_table_writer(out)
    printer = TablePrinter(tw, wide=False, with_namespace=True, kind="deployment.apps",
                           label_columns=["app.kubernetes.io/name"], show_labels=True)
    printer.print_table(_table([["web", "Running\nmore", "1.2.3.4"]],
                               [{"app.kubernetes.io/name": "w", "b": "2", "a": "1"}]))
    tw.flush()
    assert out.getvalue() == (
        "NAMESPACE   NAME                  STATUS       NAME   LABELS\n"
        "ns1         deployment.apps/web   Running...   w      a=1,app.kubernetes.io/name=w,b=2\n")


def test_table_printer_wide_headers_once_and_nothing_for_empty_tables() -> None:
    out = io.StringIO()
    tw = kubectl_table_writer(out)
    printer = TablePrinter(tw, wide=True)
    printer.print_table(_table([]))
    printer.print_table(_table([["a", "Running", "10.0.0.1"]]))
    printer.print_table(_table([["b", "Pending", None]]))
    tw.flush()
    assert out.getvalue() == "NAME   STATUS    IP\na      Running   10.0.0.1\nb      Pending   \n"
