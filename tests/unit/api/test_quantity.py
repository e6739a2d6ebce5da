"""Resource quantities: values, Kubernetes' canonical strings (checked against kubectl) and errors."""

from __future__ import annotations

from decimal import Decimal

import pytest

from minik.api.quantity import canonical, format_cpu_millis, milli_value, parse_quantity, value

FORMAT_ERROR = ("quantities must match the regular expression "
                "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")


@pytest.mark.parametrize(("text", "amount"), [
    ("500m", "0.5"), ("0.5", "0.5"), (".5", "0.5"), ("1", "1"), ("+1", "1"), ("-1", "-1"),
    ("100Mi", "104857600"), ("1Gi", "1073741824"), ("1Ki", "1024"), ("123Mi", "128974848"),
    ("2e3", "2000"), ("1E2", "100"), ("129e6", "129000000"), ("128974848", "128974848"),
    ("1k", "1000"), ("1M", "1000000"), ("1E", "1000000000000000000"), ("1n", "0.000000001"),
    ("1.5Gi", "1610612736"), ("0", "0"), ("1e-3", "0.001"),
])
def test_parse_values(text: str, amount: str) -> None:
    assert parse_quantity(text) == Decimal(amount)


def test_parse_rounds_up_to_nano_and_caps_binary() -> None:
    assert parse_quantity("0.1n") == Decimal("0.000000001")
    assert parse_quantity("1e-10") == Decimal("0.000000001")
    assert parse_quantity("-0.1n") == Decimal("-0.000000001")
    assert parse_quantity("16Ei") == Decimal(2**63 - 1)


def test_parse_numbers() -> None:
    assert parse_quantity(2) == Decimal(2)
    assert parse_quantity(0.25) == Decimal("0.25")
    assert canonical(0.25) == "250m"
    assert canonical(1e-05) == "10e-6"  # repr is "1e-05": the exponent form is kept
    assert parse_quantity(" 1Gi ") == Decimal(2**30)


# Expected strings are what `kubectl set resources --local` (apimachinery) prints for each input.
@pytest.mark.parametrize(("text", "expected"), [
    ("0.5", "500m"), (".5", "500m"), ("1000m", "1"), ("1", "1"), ("1000", "1k"), ("1500", "1500"),
    ("1Gi", "1Gi"), ("1024Mi", "1Gi"), ("1.5Gi", "1536Mi"), ("2048Ki", "2Mi"), ("3000Mi", "3000Mi"),
    ("1.1Ki", "1126400m"), ("0.5Ki", "512"), ("1Ei", "1Ei"), ("8Ei", "9223372036854775807"),
    ("2e3", "2e3"), ("1E2", "100"), ("12e5", "1200e3"), ("1e7", "10e6"), ("1e-4", "100e-6"),
    ("5e-1", "500e-3"), ("2.5e-3", "2500e-6"), ("1e1000", "10e999"), ("1e-10", "1e-9"),
    ("0.0001", "100u"), ("0.1m", "100u"), ("1.5n", "2n"), ("1000n", "1u"), ("1.23456789", "1234567890n"),
    ("1.0", "1"), ("10.00", "10"), ("-1.5Gi", "-1536Mi"), ("-0", "0"), ("000.0", "0"), ("1E", "1E"),
    # apimachinery keeps an input that already looks canonical verbatim:
    ("+1", "+1"), ("100.035k", "100.035k"), ("1e03", "1e03"), ("1E-3", "1E-3"), ("1.234567891", "1.234567891"),
    ("129e6", "129e6"), ("128974848", "128974848"), ("123Mi", "123Mi"), ("1023Ki", "1023Ki"),
])
def test_canonical_matches_apimachinery(text: str, expected: str) -> None:
    assert canonical(text) == expected


@pytest.mark.parametrize("text", ["", "abc", "1gb", "1.2.3", "0x1", "1e3m", " ", "1e3.5"])
def test_malformed_quantities(text: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_quantity(text)
    assert str(err.value) == FORMAT_ERROR


@pytest.mark.parametrize("text", ["1ki", "1M1", "1Kii", "1i", "1e", "1e+", "+-1", "1m3"])
def test_unknown_suffixes(text: str) -> None:
    with pytest.raises(ValueError, match="^unable to parse quantity's suffix$"):
        parse_quantity(text)


def test_non_string_garbage_is_rejected() -> None:
    with pytest.raises(ValueError):
        parse_quantity(True)
    with pytest.raises(ValueError):
        parse_quantity(float("inf"))


def test_milli_value_and_value_round_up() -> None:
    assert milli_value("0.5") == 500
    assert milli_value("2") == 2000
    assert milli_value("1n") == 1
    assert milli_value("1500u") == 2
    assert value("1Ki") == 1024
    assert value("0.1") == 1
    assert value("100m") == 1
    assert value("1.5") == 2
    assert value("123Mi") == 128974848
    assert value("1e30") == 2**63 - 1  # clamped to int64 like Kubernetes' Value()


@pytest.mark.parametrize(("millis", "text"), [(0, "0"), (100, "100m"), (1500, "1500m"), (2000, "2"),
                                              (250, "250m"), (1500000, "1500"), (-500, "-500m")])
def test_format_cpu_millis(millis: int, text: str) -> None:
    assert format_cpu_millis(millis) == text
    assert milli_value(text) == millis
