"""Money: cost estimates from token counts and prices, and how credits are written.

One credit is one US dollar. Prices are quoted per million tokens ($/M), as the gateway's
``/endpoint-details`` gives them.
"""

from __future__ import annotations

import math

TOKENS_PER_PRICE_UNIT = 1_000_000
_CHARS_PER_TOKEN = 4  # a rough English average; only used when nobody reports tokens


def estimate_cost(
    prompt_tokens: int | None,
    completion_tokens: int | None,
    input_cost_per_m: float,
    output_cost_per_m: float,
) -> float:
    """Credits (USD) for the given tokens at the given $/M prices; unknown counts count as 0."""
    prompt = prompt_tokens or 0
    completion = completion_tokens or 0
    return (prompt * input_cost_per_m + completion * output_cost_per_m) / TOKENS_PER_PRICE_UNIT


def blended_cost_per_m(input_cost_per_m: float, output_cost_per_m: float) -> float:
    """The router's single "cost" figure, (3 x input + output) / 4, in $/M tokens."""
    return (3 * input_cost_per_m + output_cost_per_m) / 4


def estimate_tokens(text: str) -> int:
    """A rough token count for ``text`` (about four characters a token), at least 1 if any."""
    if not text:
        return 0
    return max(1, math.ceil(len(text) / _CHARS_PER_TOKEN))


NO_FIGURE = "\u2013"  # an en dash: what the app shows for a figure not known yet


def format_credits(amount: float | None, missing: str = "unknown") -> str:
    """Credits with six decimals, as the seed prints them ("0.000014"); ``missing`` for None."""
    if amount is None:
        return missing
    return f"{amount:.6f}"


def spent_line(cost: float | None) -> str:
    """The seed's line after a reply: ``(spent 0.000014 credits)``."""
    return f"(spent {format_credits(cost)} credits)"
