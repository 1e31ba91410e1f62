"""Money: cost estimates from token counts and prices, and how credits are written.

One credit is one US dollar. Prices are quoted per million tokens ($/M), as the gateway's
``/endpoint-details`` gives them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

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


class Prices(Protocol):
    """What an estimate needs of an endpoint's details: $/M tokens in and out (None: unknown)."""

    @property
    def input_cost(self) -> float | None: ...

    @property
    def output_cost(self) -> float | None: ...


def estimate_tokens_for_chars(chars: int) -> int:
    """About how many tokens ``chars`` characters of text are (four characters a token)."""
    return chars // _CHARS_PER_TOKEN


def estimate_reply_cost(prompt_text_chars: int, reply_tokens: int, prices: Prices) -> float | None:
    """The estimated credits of a reply from its endpoint's prices: the prompt counted from its
    length (about four characters a token), the reply from ``reply_tokens``. None when the
    endpoint's prices are not known."""
    if prices.input_cost is None or prices.output_cost is None:
        return None
    return estimate_cost(
        prompt_tokens=estimate_tokens_for_chars(prompt_text_chars),
        completion_tokens=reply_tokens,
        input_cost_per_m=prices.input_cost,
        output_cost_per_m=prices.output_cost,
    )


def blended_cost_per_m(input_cost_per_m: float, output_cost_per_m: float) -> float:
    """The router's single "cost" figure, (3 x input + output) / 4, in $/M tokens."""
    return (3 * input_cost_per_m + output_cost_per_m) / 4


def estimate_tokens(text: str) -> int:
    """A rough token count for ``text`` (about four characters a token), at least 1 if any."""
    if not text:
        return 0
    return max(1, math.ceil(len(text) / _CHARS_PER_TOKEN))


NO_FIGURE = "\u2013"  # an en dash: what the app shows for a figure not known yet


def plain_number(value: float) -> str:
    """A number as a person writes it, never in exponent form: 1e-05 is "0.00001", 2.0 is "2"."""
    from decimal import Decimal

    text = format(Decimal(repr(float(value))), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def format_credits(amount: float | None, missing: str = "unknown") -> str:
    """Credits with six decimals, as the seed prints them ("0.000014"); ``missing`` for None."""
    if amount is None:
        return missing
    return f"{amount:.6f}"


@dataclass(frozen=True)
class Spend:
    """What one reply or a conversation cost, as far as it is known.

    ``amount`` None: nothing is known (a reply came without a figure, and no price to estimate
    from), shown as "–", never as 0. ``estimated``: an estimate is in it ("~"). ``partial``: some
    replies' cost is unknown, so the amount is a lower bound ("≥").
    """

    amount: float | None
    estimated: bool = False
    partial: bool = False

    @property
    def mark(self) -> str:
        if self.amount is None:
            return ""
        return "\u2265" if self.partial else "~" if self.estimated else ""

    def __str__(self) -> str:
        """``0.000014``, ``~0.000014``, ``≥0.000014`` or ``–``."""
        return f"{self.mark}{format_credits(self.amount, NO_FIGURE)}"


def spent_line(cost: float | None, *, estimated: bool = False) -> str:
    """The seed's line after a reply: ``(spent 0.000014 credits)``; ``~`` marks an estimate."""
    mark = "~" if estimated and cost is not None else ""
    return f"(spent {mark}{format_credits(cost)} credits)"
