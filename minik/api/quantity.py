"""Resource quantities (`500m`, `1Gi`, `129e6`), parsed and printed the way apimachinery does.

Values are exact Decimals (never floats), rounded up to nano units like Kubernetes. The canonical
string keeps the suffix family of the input (binary stays binary, exponent stays exponent,
otherwise decimal SI) and, like apimachinery, re-uses the input text when it is already canonical
enough, so `kubectl get -o yaml` shows the same strings a real cluster would.
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass
from decimal import ROUND_UP, Decimal

DECIMAL_EXPONENT = "DecimalExponent"  # 12e6
BINARY_SI = "BinarySI"  # 12Mi
DECIMAL_SI = "DecimalSI"  # 12M

_FORMAT_ERROR = ("quantities must match the regular expression "
                 "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
_SUFFIX_ERROR = "unable to parse quantity's suffix"

_DIGITS = frozenset("0123456789")
_SUFFIX_CHARS = frozenset("eEinumkKMGTP")
_DECIMAL_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL_BY_EXPONENT = {e: s for s, e in _DECIMAL_SUFFIXES.items()}
_BINARY_BY_POWER = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"]
_MAX_INT64 = 2**63 - 1
_MAX_INT64_DIGITS = 18  # digits that always fit an int64 (apimachinery's fast path)
_NANO = Decimal(1).scaleb(-9)


def _context(digits: int) -> decimal.Context:
    # Exact arithmetic: enough precision for every digit of the input plus a 2^60 multiplier.
    return decimal.Context(prec=digits + 64, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN)


def _scan(text: str) -> tuple[bool, str, str, str]:
    """Split `[sign] digits [. digits] suffix`; returns (positive, numerator, denominator, suffix)."""
    positive, pos, end = True, 0, len(text)
    if text[:1] in ("-", "+"):
        positive = text[0] == "+"
        pos = 1
    while pos < end and text[pos] == "0":  # leading zeros
        pos += 1
    if pos >= end:
        return positive, "0", "", ""
    start = pos
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    num = text[start:pos] or "0"
    denom = ""
    if pos < end and text[pos] == ".":
        pos += 1
        start = pos
        while pos < end and text[pos] in _DIGITS:
            pos += 1
        denom = text[start:pos]
    suffix_start = pos
    while pos < end and text[pos] in _SUFFIX_CHARS:
        pos += 1
    if pos < end and text[pos] in "+-":
        pos += 1
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    if pos < end:
        raise ValueError(_FORMAT_ERROR)
    return positive, num, denom, text[suffix_start:]


def _interpret(suffix: str) -> tuple[int, int, str]:
    """Suffix -> (base, exponent, format)."""
    if suffix in _DECIMAL_SUFFIXES:
        return 10, _DECIMAL_SUFFIXES[suffix], DECIMAL_SI
    if suffix in _BINARY_SUFFIXES:
        return 2, _BINARY_SUFFIXES[suffix], BINARY_SI
    if len(suffix) > 1 and suffix[0] in "eE":
        digits = suffix[1:]
        body = digits[1:] if digits[:1] in ("+", "-") else digits
        if body and all(c in _DIGITS for c in body):
            exponent = int(digits)
            if -(2**31) <= exponent < 2**31:
                return 10, exponent, DECIMAL_EXPONENT
    raise ValueError(_SUFFIX_ERROR)


@dataclass(frozen=True)
class Quantity:
    """An exact amount plus the format it prints in; `text` is the input when it was kept verbatim."""

    amount: Decimal
    format: str
    text: str | None = None

    @classmethod
    def parse(cls, v: str | int | float | Decimal) -> Quantity:
        text = _as_text(v)
        if not text:
            raise ValueError(_FORMAT_ERROR)
        if text == "0":
            return cls(Decimal(0), DECIMAL_SI, "0")
        positive, num, denom, suffix = _scan(text)
        base, exponent, fmt = _interpret(suffix)
        fast = cls._parse_int64(text, positive, num, denom, base, exponent, fmt)
        if fast is not None:
            return fast
        ctx = _context(len(num) + len(denom))
        amount = Decimal(f"{num}.{denom or '0'}")  # from text: exact however many digits
        amount = ctx.scaleb(amount, exponent) if base == 10 else ctx.multiply(amount, Decimal(2**exponent))
        if amount and amount.as_tuple().exponent < -9:  # type: ignore[operator]
            # Round up to whole nano units: asking for any amount at all gets at least some.
            amount = amount.quantize(_NANO, rounding=ROUND_UP, context=ctx)
        if fmt == BINARY_SI:
            amount = min(amount, Decimal(_MAX_INT64))
            if 0 < amount < 1:
                fmt = DECIMAL_SI
        return cls(amount if positive else -amount, fmt)

    @classmethod
    def _parse_int64(cls, text: str, positive: bool, num: str, denom: str, base: int, exponent: int,
                     fmt: str) -> Quantity | None:
        """apimachinery's int64 fast path, including its rule for keeping the input text verbatim."""
        scale, mantissa = 0, 1
        if base == 10:
            scale = exponent
            precision = _MAX_INT64_DIGITS - (len(num) + len(denom))
        elif exponent >= 0 and not denom:
            mantissa = 1 << exponent
            precision = 15 - len(num) - int(exponent * 3 / 10) - 1
        else:
            precision = -1
        if precision < 0:
            return None
        scale -= len(denom)
        if scale < -9:
            return None
        shifted = num + denom
        value = int(shifted)
        result = value * mantissa
        if result > _MAX_INT64:
            return None
        if not positive:
            result = -result
        if base == 2:
            keep = exponent % 10 == 0 and value & 0x07 != 0
        else:
            keep = scale % 3 == 0 and not shifted.endswith("000") and shifted[0] != "0"
        return cls(Decimal(result).scaleb(scale, _context(len(shifted))), fmt, text if keep else None)

    def __str__(self) -> str:
        if self.text is not None:
            return self.text
        amount = self.amount
        if not amount:
            return "0"
        fmt = self.format
        if fmt == BINARY_SI and (-1024 < amount < 1024 or amount != amount.to_integral_value()):
            fmt = DECIMAL_SI  # small or fractional binary amounts would need rounding: show as decimal
        if fmt == BINARY_SI:
            units, power = int(amount), 0
            while units % 1024 == 0 and power < len(_BINARY_BY_POWER) - 1:
                units //= 1024
                power += 1
            return f"{units}{_BINARY_BY_POWER[power]}"
        mantissa, exp = _base10(amount)
        if fmt == DECIMAL_SI and exp in _DECIMAL_BY_EXPONENT:
            return mantissa + _DECIMAL_BY_EXPONENT[exp]
        # Past `E` there is no SI suffix (apimachinery then drops the suffix and prints a wrong
        # number); the exponent form keeps the value right.
        return f"{mantissa}e{exp}" if exp else mantissa


def _base10(amount: Decimal) -> tuple[str, int]:
    """(mantissa, exponent): no trailing zeros in the mantissa, exponent a multiple of 3, lowered.

    Works on the digit tuple, not int(), so huge inputs cannot hit Python's int/str size limit.
    """
    sign, digit_tuple, exp = amount.as_tuple()
    assert isinstance(exp, int)
    digits = "".join(map(str, digit_tuple)).lstrip("0") or "0"
    stripped = digits.rstrip("0")
    exp += len(digits) - len(stripped)
    shift = exp % 3
    mantissa = stripped + "0" * shift
    return ("-" if sign else "") + mantissa, exp - shift


def _as_text(v: str | int | float | Decimal) -> str:
    if isinstance(v, bool):
        raise ValueError(_FORMAT_ERROR)
    if isinstance(v, str):
        # The JSON decoder trims the string before parsing, so " 1 " on the wire is accepted.
        return v.strip()
    if isinstance(v, int | Decimal):
        return str(v)
    if isinstance(v, float):
        # repr() is exactly how the number appears in JSON, which is what Kubernetes parses.
        return repr(v)
    raise ValueError(_FORMAT_ERROR)


def parse_quantity(v: str | int | float | Decimal) -> Decimal:
    """The exact value of a quantity (`100Mi` -> 104857600), or ValueError with Kubernetes' message."""
    return Quantity.parse(v).amount


def canonical(v: str | int | float | Decimal) -> str:
    """The string Kubernetes stores and prints for a quantity: `0.5` -> `500m`, `1024Mi` -> `1Gi`."""
    return str(Quantity.parse(v))


def _scaled(v: str | int | float | Decimal, factor: int) -> int:
    amount = Quantity.parse(v).amount
    ctx = _context(60)
    scaled = ctx.multiply(amount, Decimal(factor)).to_integral_value(rounding=ROUND_UP, context=ctx)
    # Kubernetes returns int64; clamp instead of building an unbounded integer.
    return int(max(min(scaled, Decimal(_MAX_INT64)), Decimal(-_MAX_INT64 - 1)))


def milli_value(v: str | int | float | Decimal) -> int:
    """Value in thousandths (CPU millicores), rounded up (away from zero) like MilliValue()."""
    return _scaled(v, 1000)


def value(v: str | int | float | Decimal) -> int:
    """Whole units (bytes, pods), rounded up away from zero like Value()."""
    return _scaled(v, 1)


def format_cpu_millis(m: int) -> str:
    """Millicores as Kubernetes prints a DecimalSI quantity: 1500 -> `1500m`, 2000 -> `2`."""
    return str(Quantity(Decimal(m).scaleb(-3), DECIMAL_SI))
