"""IntOrString fields (maxSurge, maxUnavailable): an absolute number or a percentage of a total."""

from __future__ import annotations


def scaled_value(value: int | str | None, total: int, round_up: bool) -> int:
    """GetScaledValueFromIntOrPercent: `25%` of 10 is 3 rounded up, 2 rounded down."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if text.endswith("%"):
        try:
            percent = int(text[:-1])
        except ValueError:
            raise ValueError(f"invalid value for IntOrString: invalid value {text!r}") from None
        return -(-percent * total // 100) if round_up else percent * total // 100
    raise ValueError("invalid value for IntOrString: invalid type: string is not a percentage")
