"""What every gateway kind offers the app: the ``Gateway`` protocol and its ``Capabilities``."""

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


UNIFY_CAPABILITIES = Capabilities(
    name="Unify",
    reports_cost=True,
    has_balance=True,
    provider_choice=True,
    routing_modes=True,
    listings=True,
    endpoint_details=True,
)


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
