"""Just enough of resource.Quantity for describe: parse `500m`, `1`, `100Mi`; add; print canonically.

describe shows requests and limits the way Quantity.String() does (`0.5` -> `500m`) and sums them
per node; QoS classes compare them.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1),
            "k": Decimal("1e3"), "M": Decimal("1e6"), "G": Decimal("1e9"), "T": Decimal("1e12"),
            "P": Decimal("1e15"), "E": Decimal("1e18")}


@dataclass(frozen=True)
class Quantity:
    value: Decimal
    binary: bool = False

    def __add__(self, other: Quantity) -> Quantity:
        """Quantity.Add: a zero quantity takes the other's format (so 0 + 128Mi prints 128Mi)."""
        binary = other.binary if self.value == 0 else self.binary
        return Quantity(self.value + other.value, binary)

    def __str__(self) -> str:
        return format_quantity(self)


ZERO = Quantity(Decimal(0))


def parse_quantity(text: object) -> Quantity:
    """A quantity string (or number); unparsable input counts as zero, as describe should not fail."""
    s = str(text).strip()
    if not s:
        return ZERO
    for suffix, factor in _BINARY.items():
        if s.endswith(suffix):
            try:
                return Quantity(Decimal(s[: -len(suffix)]) * factor, True)
            except InvalidOperation:
                return ZERO
    try:
        if s[-1] in "numkMGTPE" and not s[-1].isdigit():
            return Quantity(Decimal(s[:-1]) * _DECIMAL[s[-1]])
        return Quantity(Decimal(s))
    except (InvalidOperation, KeyError):
        return ZERO


def format_quantity(q: Quantity) -> str:
    """Quantity.String(): the largest suffix that keeps the number whole."""
    v = q.value
    if v == 0:
        return "0"
    if q.binary and v == v.to_integral_value():
        for suffix, factor in reversed(list(_BINARY.items())):
            if v % factor == 0:
                return f"{int(v / factor)}{suffix}"
        return str(int(v))
    for suffix in ("E", "P", "T", "G", "M", "k", "", "m", "u", "n"):
        scaled = v / _DECIMAL[suffix]
        if scaled == scaled.to_integral_value() and abs(scaled) >= 1:
            return f"{int(scaled)}{suffix}"
    return f"{int((v / _DECIMAL['n']).to_integral_value())}n"


def milli(q: Quantity) -> int:
    """MilliValue, rounded up like Quantity does."""
    scaled = q.value * 1000
    integral = int(scaled)
    return integral + (1 if scaled > integral else 0)


def whole(q: Quantity) -> int:
    """Value(): rounded up to an integer."""
    integral = int(q.value)
    return integral + (1 if q.value > integral else 0)
