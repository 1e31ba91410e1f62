"""What the provider list says beside each provider: price, context window, measured speed.

Prices and context windows come from the gateway (per endpoint); the speed is the user's own:
the median tokens per second of the replies that provider served for the model, in the
conversation on screen. Nothing here guesses: a figure the app does not have is left out.
"""

from __future__ import annotations

from collections.abc import Iterable
from statistics import median

from tui_chat.core.conversation import Message
from tui_chat.core.endpoint import EndpointError, parse_endpoint


def short_count(tokens: int) -> str:
    """A context window in a few characters: 8k, 128k, 1M, 1.05M, 512."""
    if tokens >= 1_000_000:
        return f"{tokens / 1_000_000:.3g}M"
    if tokens >= 1_000:
        return f"{tokens / 1_000:.3g}k"
    return str(tokens)


def _price(value: float) -> str:
    # Prices per million tokens: "0.15", "15", "0.129" (no exponent, at most 3 significant).
    text = f"{value:.3g}"
    if "e" in text:
        text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text


def facts_line(
    input_cost: float | None,
    output_cost: float | None,
    context_window: int | None,
    tokens_per_s: float | None = None,
) -> str:
    """ "$0.15/0.6 · 128k · 310 t/s": $ in/out per million tokens, context, measured speed.

    Unknown parts are left out; all unknown gives "".
    """
    parts = []
    if input_cost is not None and output_cost is not None:
        parts.append(f"${_price(input_cost)}/{_price(output_cost)}")
    if context_window:
        parts.append(short_count(context_window))
    if tokens_per_s is not None and tokens_per_s > 0:
        parts.append(f"{tokens_per_s:.0f} t/s")
    return " · ".join(parts)


def measured_speeds(messages: Iterable[Message], model: str) -> dict[str, float]:
    """The median tokens/s per provider of the finished replies served for ``model``."""
    speeds: dict[str, list[float]] = {}
    for message in messages:
        if message.role != "assistant" or not message.served_endpoint:
            continue
        rate = message.tokens_per_second
        if rate is None or message.tokens_estimated:
            continue
        try:
            served = parse_endpoint(message.served_endpoint)
        except EndpointError:
            continue
        # (OpenRouter's ids keep their "author/", which the seed's syntax drops)
        if model not in (served.model, *_with_author(message.served_endpoint)):
            continue
        if not served.provider:
            continue
        speeds.setdefault(served.provider, []).append(rate)
    return {provider: median(rates) for provider, rates in speeds.items()}


def _with_author(served_endpoint: str) -> tuple[str, ...]:
    name = served_endpoint.rsplit("@", 1)[0]
    return (name,) if "/" in name else ()
