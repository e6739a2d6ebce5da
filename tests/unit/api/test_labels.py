"""Label selectors: grammar, matching (including objects that lack the key) and kubectl's errors."""

from __future__ import annotations

import pytest

from minik.api.labels import (
    Requirement,
    Selector,
    SelectorError,
    from_label_selector,
    new_requirement,
    parse_selector,
    selector_from_set,
    validate_label_key,
    validate_label_value,
)
from minik.api.meta import LabelSelector, LabelSelectorRequirement

WEB = {"app": "web", "tier": "frontend", "env": "prod"}
DB = {"app": "db", "env": "staging"}
BARE: dict[str, str] = {}

NAME_PART = ("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
             "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
             "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")
VALUE_RULE = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
              "and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or "
              "'12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")


@pytest.mark.parametrize(("text", "web", "db", "bare"), [
    ("app=web", True, False, False),
    ("app==web", True, False, False),
    ("app!=web", False, True, True),  # lacking the key counts as "not equal"
    ("app in (web,db)", True, True, False),
    ("app in (cache)", False, False, False),
    ("app notin (web)", False, True, True),  # lacking the key counts as "not in"
    ("tier", True, False, False),
    ("!tier", False, True, True),
    ("app=web,env=prod", True, False, False),
    ("app in (web,db),!tier", False, True, False),
    ("env notin (prod),app", False, True, False),
    ("", True, True, True),
    ("  app  =  web  ,  env \t", True, False, False),
    ("tier=", False, False, False),
    ("app in (in,notin)", False, False, False),
])
def test_selector_matches_like_kubernetes(text: str, web: bool, db: bool, bare: bool) -> None:
    selector = parse_selector(text)
    assert (selector.matches(WEB), selector.matches(DB), selector.matches(BARE)) == (web, db, bare)


def test_matches_none_labels_as_empty() -> None:
    assert parse_selector("!app").matches(None)
    assert not parse_selector("app").matches(None)
    assert parse_selector("app!=x").matches(None)


def test_empty_value_is_a_real_value() -> None:
    selector = parse_selector("tier=")
    assert selector.matches({"tier": ""})
    assert not selector.matches({})
    assert parse_selector("a in ()").matches({"a": ""})


def test_gt_lt_compare_integers() -> None:
    assert parse_selector("n>5").matches({"n": "6"})
    assert not parse_selector("n>5").matches({"n": "5"})
    assert parse_selector("n<5").matches({"n": "-1"})
    assert not parse_selector("n<5").matches({"n": "x"})
    assert not parse_selector("n<5").matches({})


@pytest.mark.parametrize(("text", "canonical"), [
    ("b=1,a in (y,x)", "a in (x,y),b=1"),
    ("  a  =  b  ,  c  ", "a=b,c"),
    ("a in (x,,y)", "a in (,x,y)"),
    ("a in (,)", "a in ()"),
    ("!z,y notin (b,a,a)", "y notin (a,b),!z"),
    ("a==b,c!=d", "a==b,c!=d"),
    ("example.com/role=x", "example.com/role=x"),
    ("a>1", "a>1"),
])
def test_string_form_is_canonical(text: str, canonical: str) -> None:
    assert str(parse_selector(text)) == canonical
    assert str(parse_selector(canonical)) == canonical


@pytest.mark.parametrize(("text", "message"), [
    ("a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"),
    ("a in x", "unable to parse requirement: found 'x' expected: '('"),
    ("a in (x", "unable to parse requirement: found '', expected: ',' or ')'"),
    ("a in (x,", "unable to parse requirement: found '', expected: ',', or identifier"),
    ("a in ((x)", "unable to parse requirement: found '(', expected: ',', ')' or identifier"),
    ("a in (x y)", "unable to parse requirement: found 'y', expected: ',' or ')'"),
    ("a=b,", "found '', expected: identifier after ','"),
    ("a,,b", "found ',', expected: identifier after ','"),
    (",a", "found ',', expected: !, identifier, or 'end of string'"),
    ("(a)", "found '(', expected: !, identifier, or 'end of string'"),
    ("a=(b)", "unable to parse requirement: found '(', expected: identifier"),
    ("a!b", "unable to parse requirement: found '!', expected: in, notin, =, ==, !=, gt, lt"),
    ("a==b==c", "found '==', expected: ',' or 'end of string'"),
    ("a=b c", "found 'c', expected: ',' or 'end of string'"),
    ("!a=b", "found '=', expected: ',' or 'end of string'"),
    ("!!a", "unable to parse requirement: found '!', expected: identifier"),
    ("!", "unable to parse requirement: found '', expected: identifier"),
    ("a<x", 'unable to parse requirement: values[0]: Invalid value: "x": '
            "for 'Gt', 'Lt' operators, the value must be an integer"),
    ("a=-b", f'unable to parse requirement: values[0][a]: Invalid value: "-b": {VALUE_RULE}'),
    ("-a=b", f'unable to parse requirement: <nil>: Invalid value: "-a": {NAME_PART}'),
    ("a in (-x,y-)", f'unable to parse requirement: [values[0][a]: Invalid value: "-x": {VALUE_RULE}, '
                     f'values[1][a]: Invalid value: "y-": {VALUE_RULE}]'),
    ("/a=b", 'unable to parse requirement: <nil>: Invalid value: "/a": prefix part must be non-empty'),
    ("a" * 64 + "=b", f'unable to parse requirement: <nil>: Invalid value: "{"a" * 64}": '
                      "name part must be no more than 63 bytes"),
    ("a=" + "b" * 64, f'unable to parse requirement: values[0][a]: Invalid value: "{"b" * 64}": '
                      "must be no more than 63 bytes"),
])
def test_bad_selectors_fail_with_apimachinery_messages(text: str, message: str) -> None:
    with pytest.raises(SelectorError) as err:
        parse_selector(text)
    assert str(err.value) == message
    assert isinstance(err.value, ValueError)


def test_key_with_too_many_slashes() -> None:
    assert validate_label_key("x/y/z") == [
        "a valid label key must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
        "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
        "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix "
        "and '/' (e.g. 'example.com/MyName')"]


@pytest.mark.parametrize("key", ["app", "a", "A.b_c-9", "example.com/app", "k8s.io/a" + "b" * 62])
def test_valid_label_keys(key: str) -> None:
    assert validate_label_key(key) == []


def test_invalid_label_keys() -> None:
    assert validate_label_key("-app") == [NAME_PART]
    assert validate_label_key("") == ["name part must be non-empty", NAME_PART]
    assert validate_label_key("Example.com/a") == [
        "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
        "or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
        "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"]
    assert validate_label_key("a" * 254 + "/b")[0] == "prefix part must be no more than 253 bytes"


def test_label_values() -> None:
    assert validate_label_value("") == []
    assert validate_label_value("v1.2_3-x") == []
    assert validate_label_value("bad value") == [VALUE_RULE]
    assert validate_label_value("x" * 64) == ["must be no more than 63 bytes"]


def test_everything_and_nothing() -> None:
    assert Selector.everything().matches(WEB) and Selector.everything().empty()
    assert not Selector.nothing().matches(WEB) and not Selector.nothing().matches({})
    assert not Selector.nothing().empty()
    assert parse_selector("").empty() and not parse_selector("a").empty()
    assert str(Selector.everything()) == "" and str(Selector.nothing()) == ""


def test_from_label_selector_none_and_empty() -> None:
    assert not from_label_selector(None).matches(WEB)
    assert from_label_selector({}).matches(WEB)
    assert from_label_selector(LabelSelector()).matches(BARE)


def test_from_label_selector_dict() -> None:
    selector = from_label_selector({
        "matchLabels": {"app": "web"},
        "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod", "qa"]},
                             {"key": "tier", "operator": "Exists"},
                             {"key": "legacy", "operator": "DoesNotExist"},
                             {"key": "zone", "operator": "NotIn", "values": ["b"]}],
    })
    assert selector.matches(WEB)
    assert not selector.matches({**WEB, "legacy": "1"})
    assert not selector.matches({**WEB, "zone": "b"})
    assert not selector.matches({"app": "web", "env": "prod"})
    assert str(selector) == "app=web,env in (prod,qa),!legacy,tier,zone notin (b)"


def test_from_label_selector_model() -> None:
    model = LabelSelector(match_labels={"app": "db"},
                          match_expressions=[LabelSelectorRequirement(key="env", operator="NotIn",
                                                                      values=["prod"])])
    selector = from_label_selector(model)
    assert selector.matches(DB)
    assert not selector.matches(WEB)


@pytest.mark.parametrize(("sel", "message"), [
    ({"matchExpressions": [{"key": "a", "operator": "Equals", "values": ["x"]}]},
     '"Equals" is not a valid label selector operator'),
    ({"matchExpressions": [{"key": "a", "operator": "In"}]},
     "values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty"),
    ({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]},
     'values: Invalid value: []string{"x"}: values set must be empty for exists and does not exist'),
    ({"matchLabels": {"-a": "b"}}, f'key: Invalid value: "-a": {NAME_PART}'),
    ({"matchLabels": {"a": "b c"}}, f'values[0][a]: Invalid value: "b c": {VALUE_RULE}'),
    ({"matchLabels": ["a"]}, "matchLabels must be an object of string keys and values"),
])
def test_from_label_selector_errors(sel: dict[str, object], message: str) -> None:
    with pytest.raises(SelectorError) as err:
        from_label_selector(sel)
    assert str(err.value) == message


def test_new_requirement_validates() -> None:
    assert new_requirement("a", "in", ["x"]) == Requirement("a", "in", ("x",))
    with pytest.raises(SelectorError, match="exact-match compatibility requires one single value"):
        new_requirement("a", "=", ["x", "y"])
    with pytest.raises(SelectorError, match='operator: Unsupported value: "~": supported values: "in"'):
        new_requirement("a", "~", ["x"])


def test_selector_from_set_and_exact_match() -> None:
    selector = selector_from_set({"b": "2", "a": "1"})
    assert str(selector) == "a=1,b=2"
    assert selector.matches({"a": "1", "b": "2", "c": "3"})
    assert not selector.matches({"a": "1"})
    assert selector_from_set(None).empty()
    assert selector.requires_exact_match("b") == "2"
    assert parse_selector("a in (x)").requires_exact_match("a") == "x"
    assert parse_selector("a in (x,y)").requires_exact_match("a") is None
    assert parse_selector("a!=x").requires_exact_match("a") is None


def test_add_keeps_requirements_sorted() -> None:
    selector = parse_selector("b=1").add(new_requirement("a", "exists"))
    assert str(selector) == "a,b=1"
    assert Selector.nothing().add(new_requirement("a", "exists")) == Selector.nothing()
