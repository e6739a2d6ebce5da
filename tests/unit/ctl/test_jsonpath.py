"""kubectl's JSONPath subset; expected outputs were taken from `kubectl config view -o jsonpath=...`."""

from __future__ import annotations

from typing import Any

import pytest

from minik.ctl.jsonpath import JSONPathError, parse, relaxed, render

CONFIG: dict[str, Any] = {
    "kind": "Config",
    "clusters": [{"name": "minik", "cluster": {"server": "https://127.0.0.1:6443", "insecure-skip-tls-verify": True}},
                 {"name": "other", "cluster": {"server": "https://10.0.0.1:6443"}}],
    "contexts": [{"name": "minik", "context": {"cluster": "minik", "user": "minik", "namespace": "cpu-example"}},
                 {"name": "other", "context": {"cluster": "other", "user": "bob"}}],
    "current-context": "minik",
}


@pytest.mark.parametrize(("template", "expected"), [
    ("{.contexts[*].name}", "minik other"),
    ("{.contexts[0]}", '{"context":{"cluster":"minik","namespace":"cpu-example","user":"minik"},"name":"minik"}'),
    ("{.contexts[-1:].name}", "other"),
    ('{range .contexts[*]}{.name}{"\\t"}{.context.cluster}{"\\n"}{end}', "minik\tminik\nother\tother\n"),
    ('{.contexts[?(@.name=="other")].context.user}', "bob"),
    ('{.contexts[?(@.name!="other")].name}', "minik"),
    ("{.contexts[?(@.context.namespace)].name}", "minik"),
    ("{.clusters[*].cluster.insecure-skip-tls-verify}", "true"),
    ("{..server}", "https://127.0.0.1:6443 https://10.0.0.1:6443"),
    ("{.contexts[0,1].name}", "minik other"),
    ("{.current-context}", "minik"),
    ("x{.missing}y", "xy"),
    ("{.contexts[*]['name']}", "minik other"),
    ("{.contexts[1:2].name}", "other"),
    ("{$.kind}", "Config"),
    ("{@.kind}", "Config"),
    ("no braces", "no braces"),
])
def test_templates_print_like_kubectl(template: str, expected: str) -> None:
    assert render(template, CONFIG) == expected


def test_escaped_dots_in_label_keys() -> None:
    obj = {"metadata": {"labels": {"app.kubernetes.io/name": "web", "app": "x"}}}
    assert render(r"{.metadata.labels.app\.kubernetes\.io/name}", obj) == "web"


def test_numeric_filters_and_nested_ranges() -> None:
    data = {"items": [{"n": "a", "c": [{"r": 1}, {"r": 5}]}, {"n": "b", "c": [{"r": 0}]}]}
    assert render("{.items[?(@.c[0].r>0)].n}", data) == "a"
    assert render("{range .items[*]}{.n}:{range .c[*]}{.r},{end};{end}", data) == "a:1,5,;b:0,;"


def test_scalars_print_as_go_does() -> None:
    assert render("{.a} {.b} {.c} {.d}", {"a": 1.0, "b": 0.5, "c": None, "d": False}) == "1 0.5 null false"


def test_parse_errors_name_the_template() -> None:
    with pytest.raises(JSONPathError, match=r"error parsing jsonpath \{.items\[, unterminated array"):
        parse("{.items[")
    with pytest.raises(JSONPathError, match="unclosed action"):
        parse("{.a")
    with pytest.raises(JSONPathError, match="not in range"):
        parse("{end}")


def test_relaxed_expressions_for_custom_columns_and_sort_by() -> None:
    assert relaxed(".metadata.name") == relaxed("metadata.name") == relaxed("{.metadata.name}") == "{.metadata.name}"
