"""Errors printed like kubectl's cmdutil.CheckErr."""

from __future__ import annotations

import pytest

from minik.api.errors import FieldError, already_exists, invalid_object, not_found, required
from minik.ctl.errors import CtlError, Errors, format_status_error, with_source


def test_server_errors_keep_their_reason() -> None:
    assert format_status_error(not_found("pods", "x")) == 'Error from server (NotFound): pods "x" not found'
    err = with_source("creating", "pod.yaml", already_exists("pods", "app"))
    assert format_status_error(err) == \
        'Error from server (AlreadyExists): error when creating "pod.yaml": pods "app" already exists'


def test_invalid_errors_list_their_causes() -> None:
    one = invalid_object("Pod", "x", [required("spec.containers[0].image")])
    assert format_status_error(one) == 'The Pod "x" is invalid: spec.containers[0].image: Required value'
    two = invalid_object("Pod", "x", [required("spec.containers[0].image"),
                                      FieldError("metadata.name", "FieldValueInvalid", "bad", "X")])
    assert format_status_error(two) == ('The Pod "x" is invalid: \n* spec.containers[0].image: Required value\n'
                                        '* metadata.name: Invalid value: "X": bad')


def test_collected_errors_one_or_many() -> None:
    errors = Errors()
    errors.plain("boom")
    with pytest.raises(CtlError) as err:
        errors.raise_any()
    assert err.value.message == "error: boom"
    errors.status(not_found("pods", "y"))
    with pytest.raises(CtlError) as err:
        errors.raise_any()
    assert err.value.message == 'boom\nError from server (NotFound): pods "y" not found'
