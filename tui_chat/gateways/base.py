"""What every gateway kind offers the app: the ``Gateway`` and ``Account`` protocols and the
``Capabilities`` of each kind (with a one-line reason for each thing a kind cannot do)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Protocol

from tui_chat.core.events import StreamEvent


@dataclass(frozen=True)
class Capabilities:
    """What a gateway kind can do, so the app can hide what it cannot (and say why)."""

    name: str
    reports_cost: bool  # usage.cost on the last chunk
    has_balance: bool  # a credits/balance endpoint
    provider_choice: bool  # "<model>@<provider>" picks the provider
    routing_modes: bool  # "@lowest-ttft" and friends, router@…, "->" fallbacks
    listings: bool  # models / providers / endpoints lists
    endpoint_details: bool  # $/M prices and context window per endpoint
    # feature name (a field above) -> why this kind lacks it, one line for the user
    reasons: tuple[tuple[str, str], ...] = ()
    estimates_cost: bool = False  # a price table may turn tokens into an estimated cost

    def reason(self, feature: str) -> str | None:
        """Why ``feature`` (e.g. "has_balance") is missing; None when the kind has it."""
        if getattr(self, feature, True) is True:
            return None
        for name, text in self.reasons:
            if name == feature:
                return text
        return f"{self.name} does not offer this"


UNIFY_CAPABILITIES = Capabilities(
    name="Unify",
    reports_cost=True,
    has_balance=True,
    provider_choice=True,
    routing_modes=True,
    listings=True,
    endpoint_details=True,
)


OPENROUTER_CAPABILITIES = Capabilities(
    name="OpenRouter",
    reports_cost=True,
    has_balance=True,
    provider_choice=True,
    routing_modes=True,  # as provider.sort: throughput, price or latency; no thresholds
    listings=True,
    endpoint_details=True,
)

OPENAI_COMPATIBLE_CAPABILITIES = Capabilities(
    name="OpenAI-compatible",
    reports_cost=False,
    has_balance=False,
    provider_choice=False,
    routing_modes=False,
    listings=True,  # models only, from /models
    endpoint_details=False,
    reasons=(
        (
            "reports_cost",
            "No cost: this server reports tokens only (prices in config.toml give estimates)",
        ),
        ("has_balance", "No balance: OpenAI-compatible servers do not report credits"),
        ("provider_choice", "This gateway picks no provider"),
        ("routing_modes", "No routing modes: the server runs the model you name"),
        ("endpoint_details", "No prices or context windows from this server"),
    ),
    estimates_cost=True,
)


@dataclass(frozen=True)
class EndpointDetails:
    """Prices in credits (USD) per million tokens, and the context window in tokens."""

    endpoint: str
    input_cost: float | None
    output_cost: float | None
    context_window: int | None


class Gateway(Protocol):
    """A chat gateway: streams a reply as typed events and never raises for gateway failures."""

    @property
    def capabilities(self) -> Capabilities: ...

    def stream_chat(
        self,
        endpoint: str,
        messages: list[dict[str, str]],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> AsyncGenerator[StreamEvent, None]: ...

    async def aclose(self) -> None: ...


class Account(Protocol):
    """Blocking account and listing calls (the app runs them in thread workers).

    Every failure raises a ``GatewayError``; a call the kind cannot answer raises
    ``UnsupportedByGateway`` with a one-line reason.
    """

    def credits(self) -> float: ...

    def models(self, provider: str | None = None) -> list[str]: ...

    def providers(self, model: str | None = None) -> list[str]: ...

    def endpoints(self, model: str | None = None, provider: str | None = None) -> list[str]: ...

    def has_endpoint(self, endpoint: str) -> bool: ...

    def endpoint_details(self, endpoint: str) -> EndpointDetails: ...

    def clear_cache(self) -> None: ...

    def close(self) -> None: ...
