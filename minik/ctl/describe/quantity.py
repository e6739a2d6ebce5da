"""describe's use of resource quantities: lenient parsing and apimachinery's Quantity.Add.

Printing and parsing are minik.api.quantity's; describe must never fail on a bad value, and sums
(node allocations) follow Add's rule that a zero quantity takes the other operand's format.
"""

from __future__ import annotations

from decimal import ROUND_UP, Decimal

from minik.api.quantity import DECIMAL_SI, Quantity

ZERO = Quantity(Decimal(0), DECIMAL_SI)


def parse_quantity(value: object) -> Quantity:
    """The quantity, or zero when the value does not parse."""
    try:
        return Quantity.parse(value if isinstance(value, str | int | float) else str(value))
    except (ValueError, ArithmeticError):
        return ZERO


def add(a: Quantity, b: Quantity) -> Quantity:
    """Quantity.Add: 0 + 128Mi prints as 128Mi, 500m + 1 as 1500m."""
    fmt = b.format if a.amount == 0 else a.format
    return Quantity(a.amount + b.amount, fmt)


def milli(q: Quantity) -> int:
    """MilliValue: thousandths, rounded up."""
    return int((q.amount * 1000).to_integral_value(rounding=ROUND_UP))


def whole(q: Quantity) -> int:
    """Value: whole units, rounded up."""
    return int(q.amount.to_integral_value(rounding=ROUND_UP))
