"""Object-name validation texts and generateName."""

from __future__ import annotations

import re

import pytest

from minik.api.names import (
    generate_name,
    validate_dns1035_label,
    validate_dns1123_label,
    validate_dns1123_subdomain,
)

SUBDOMAIN = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
             "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
             "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
LABEL = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
         "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
         "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
DNS1035 = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
           "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', "
           "regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")


@pytest.mark.parametrize("name", ["web", "web-1", "a.b.c", "1abc", "x" * 253, "a" + ".b" * 126])
def test_valid_subdomains(name: str) -> None:
    assert validate_dns1123_subdomain(name) == []


@pytest.mark.parametrize("name", ["Web", "-web", "web-", "a..b", "a_b", "", "web.", "wéb"])
def test_invalid_subdomains(name: str) -> None:
    assert validate_dns1123_subdomain(name) == [SUBDOMAIN]


def test_subdomain_too_long() -> None:
    assert validate_dns1123_subdomain("a" * 254) == ["must be no more than 253 characters"]
    assert validate_dns1123_subdomain("-" * 254) == ["must be no more than 253 characters", SUBDOMAIN]


def test_dns1123_label() -> None:
    assert validate_dns1123_label("kube-system") == []
    assert validate_dns1123_label("9lives") == []
    assert validate_dns1123_label("a.b") == ["must not contain dots"]
    assert validate_dns1123_label("Bad") == [LABEL]
    assert validate_dns1123_label("a" * 64) == ["must be no more than 63 characters"]


def test_dns1035_label() -> None:
    assert validate_dns1035_label("my-svc") == []
    assert validate_dns1035_label("9svc") == [DNS1035]
    assert validate_dns1035_label("svc-") == [DNS1035]
    assert validate_dns1035_label("s" * 64) == ["must be no more than 63 characters"]


def test_generate_name_appends_five_safe_characters() -> None:
    names = {generate_name("web-") for _ in range(50)}
    assert all(re.fullmatch(r"web-[bcdfghjklmnpqrstvwxz2456789]{5}", n) for n in names)
    assert len(names) > 1


def test_generate_name_truncates_long_bases() -> None:
    name = generate_name("x" * 80)
    assert len(name) == 63
    assert name.startswith("x" * 58)
    assert validate_dns1123_label(name) == []
