"""label/annotate argument parsing and the overwrite rules, worded like kubectl."""

from __future__ import annotations

import pytest

from minik.ctl.commands.label import Changes, apply_changes, label_message, merge_patch, parse_changes
from minik.ctl.errors import CtlError


def test_resources_then_changes_including_removal() -> None:
    changes = parse_changes(["nodes", "worker1", "disk=ssd", "zone-"], "label")
    assert changes == Changes(["nodes", "worker1"], {"disk": "ssd"}, ["zone"])
    assert parse_changes(["node/worker1", "disk-"], "label").remove == ["disk"]


def test_resources_after_changes_is_kubectls_error() -> None:
    with pytest.raises(CtlError, match="error: all resources must be specified before label changes: pods"):
        parse_changes(["pod", "app", "x=1", "pods"], "label")


def test_label_values_are_checked_before_sending() -> None:
    with pytest.raises(CtlError, match=r'^error: invalid label value: "a=b!": a valid label must be an empty string'):
        parse_changes(["pod", "app", "a=b!"], "label")
    assert parse_changes(["pod", "app", "note=a b!"], "annotation").set == {"note": "a b!"}


def test_changing_an_existing_label_needs_overwrite() -> None:
    changes = parse_changes(["node", "worker1", "disk=hdd"], "label")
    with pytest.raises(CtlError) as err:
        apply_changes({"disk": "ssd"}, changes, overwrite=False, pair_type="label")
    assert err.value.message == "error: 'disk' already has a value (ssd), and --overwrite is false"
    assert apply_changes({"disk": "ssd"}, changes, overwrite=True, pair_type="label") == {"disk": "hdd"}
    same = parse_changes(["node", "worker1", "disk=ssd"], "label")
    assert apply_changes({"disk": "ssd"}, same, overwrite=False, pair_type="label") == {"disk": "ssd"}


def test_several_clashes_print_one_per_line() -> None:
    changes = parse_changes(["pod", "app", "a=3", "b=4"], "label")
    with pytest.raises(CtlError) as err:
        apply_changes({"a": "1", "b": "2"}, changes, overwrite=False, pair_type="label")
    assert err.value.message == ("'a' already has a value (1), and --overwrite is false\n"
                                 "'b' already has a value (2), and --overwrite is false")


def test_annotation_overwrite_error() -> None:
    changes = parse_changes(["pod", "app", "a=2"], "annotation")
    with pytest.raises(CtlError) as err:
        apply_changes({"a": "1"}, changes, overwrite=False, pair_type="annotation")
    assert err.value.message == ("error: --overwrite is false but found the following declared annotation(s): "
                                 "'a' already has a value (1)")


def test_removing_a_missing_label_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    changes = parse_changes(["pod", "app", "zz-"], "label")
    assert apply_changes({"app": "x"}, changes, overwrite=False, pair_type="label") == {"app": "x"}
    assert capsys.readouterr().out == 'label "zz" not found.\n'


def test_labeled_unlabeled_not_labeled() -> None:
    before = {"metadata": {"labels": {"app": "x"}}}
    assert label_message(before, {"metadata": {"labels": {"app": "x", "disk": "ssd"}}}, False) == "labeled"
    assert label_message(before, {"metadata": {"labels": {}}}, False) == "unlabeled"
    assert label_message(before, {"metadata": {"labels": {}}}, True) == "labeled"
    assert label_message(before, before, False) == "not labeled"


def test_merge_patch_sets_and_nulls() -> None:
    assert merge_patch("labels", {"a": "1", "b": "2"}, {"a": "1", "c": "3"}) == \
        {"metadata": {"labels": {"c": "3", "b": None}}}
    assert merge_patch("labels", {"a": "1"}, {"a": "1"}) == {}
