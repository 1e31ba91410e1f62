"""Numbers read from JSON a server sent: a bool is never a number, a whole float is an int, a
numeric string is a float (OpenRouter sends prices as strings), and NaN or infinity is no number.

The figures the app shows and adds up are checked here, at the wire, against what such a figure
can be: anything else is unknown (None), so "nan credits", a negative cost that adds headroom
under a spend cap, or a 301-digit token count never reach the screen or a sum.
"""

from __future__ import annotations

import math

MAX_TOKENS = 100_000_000
"""More tokens than any model's context window holds: a count above it is not believed."""

MAX_COST = 10_000.0
"""Credits (USD) for one reply, or $/M tokens for a price: no real figure comes near it."""

MAX_BALANCE = 1e12
"""Credits either way of zero: a balance beyond it is not believed."""


def as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def as_float(value: object) -> float | None:
    """A finite float from a number or a numeric string; None for anything else."""
    if isinstance(value, bool):
        return None
    number: float
    if isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:  # an int too large for a float
            return None
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def as_token_count(value: object) -> int | None:
    """A token count: a whole number from 0 to ``MAX_TOKENS``; None otherwise."""
    count = as_int(value)
    return count if count is not None and 0 <= count <= MAX_TOKENS else None


def as_cost(value: object) -> float | None:
    """A cost or a price: finite, from 0 to ``MAX_COST``; None otherwise."""
    amount = as_float(value)
    return amount if amount is not None and 0 <= amount <= MAX_COST else None


def as_balance(value: object) -> float | None:
    """A balance: finite, within ``MAX_BALANCE`` of zero (it may be overdrawn); None otherwise."""
    amount = as_float(value)
    return amount if amount is not None and abs(amount) <= MAX_BALANCE else None
