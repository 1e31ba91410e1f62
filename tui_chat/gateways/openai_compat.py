"""Plain OpenAI-compatible servers: OpenAI itself, Ollama, vLLM, LM Studio, llama.cpp server.

The endpoint string is the server's model name, sent as is. Token counts come from
``stream_options.include_usage`` (always sent); such servers report no cost, so when the
profile's price table has the model, the cost is estimated from the tokens and marked
``Usage(..., estimated=True)``; otherwise the reply has no cost at all, never an unlabelled guess.
There is no balance, no provider choice and no routing: the account says so with
``UnsupportedByGateway``; only the model list (``GET /models``) exists.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Protocol

from tui_chat.core.accounting import estimate_cost
from tui_chat.core.events import StreamEvent, Usage
from tui_chat.gateways.account import AccountClient
from tui_chat.gateways.base import OPENAI_COMPATIBLE_CAPABILITIES, EndpointDetails
from tui_chat.gateways.config import GatewaySettings
from tui_chat.gateways.errors import MalformedResponse, UnsupportedByGateway
from tui_chat.gateways.streaming import ChatRequest, StreamingGateway

_CAPS = OPENAI_COMPATIBLE_CAPABILITIES


class ModelPriceLike(Protocol):
    """A price table entry: credits (USD) per million input and output tokens."""

    @property
    def input(self) -> float: ...

    @property
    def output(self) -> float: ...


PriceTable = Mapping[str, ModelPriceLike]


def estimated_usage(usage: Usage, model: str, prices: PriceTable) -> Usage:
    """``usage`` with a cost estimated from ``prices`` (marked estimated); unchanged if no price.

    A cost the server did report is kept as is.
    """
    if usage.cost is not None:
        return usage
    price = prices.get(model)
    if price is None or (usage.prompt_tokens is None and usage.completion_tokens is None):
        return usage
    cost = estimate_cost(usage.prompt_tokens, usage.completion_tokens, price.input, price.output)
    return dataclasses.replace(usage, cost=cost, estimated=True)


class OpenAICompatibleGateway(StreamingGateway):
    """Streams replies from an OpenAI-compatible ``/chat/completions``; ``prices`` ($/M tokens
    per model name) turn token counts into estimated costs."""

    CAPABILITIES = OPENAI_COMPATIBLE_CAPABILITIES

    def __init__(
        self,
        settings: GatewaySettings,
        *,
        prices: PriceTable | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(settings, **kwargs)
        self.prices: PriceTable = dict(prices or {})

    async def chat_request(self, endpoint: str) -> ChatRequest:
        return ChatRequest(model=endpoint.strip())

    def adjust(self, event: StreamEvent, request: ChatRequest) -> StreamEvent:
        if isinstance(event, Usage):
            return estimated_usage(event, request.model, self.prices)
        return event


class OpenAICompatibleAccount(AccountClient):
    """The model list of an OpenAI-compatible server (``GET /models``); nothing else exists."""

    def __init__(
        self,
        settings: GatewaySettings,
        *,
        prices: PriceTable | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(settings, **kwargs)
        self.prices: PriceTable = dict(prices or {})

    def credits(self) -> float:
        """Always raises ``UnsupportedByGateway``: these servers report no balance."""
        raise UnsupportedByGateway(_CAPS.reason("has_balance") or "")

    def models(self, provider: str | None = None) -> list[str]:
        """The server's model ids, sorted."""
        if provider:
            raise UnsupportedByGateway(_CAPS.reason("provider_choice") or "")
        data = self._cached_get("models")
        items = data.get("data") if isinstance(data, Mapping) else None
        if not isinstance(items, list):
            raise MalformedResponse("/models did not return a list of models")
        return sorted(
            str(item["id"])
            for item in items
            if isinstance(item, Mapping) and isinstance(item.get("id"), str)
        )

    def providers(self, model: str | None = None) -> list[str]:
        """Always raises ``UnsupportedByGateway``: the server is the only provider."""
        raise UnsupportedByGateway(_CAPS.reason("provider_choice") or "")

    def endpoints(self, model: str | None = None, provider: str | None = None) -> list[str]:
        """The model names (one server, one endpoint per model)."""
        if provider:
            raise UnsupportedByGateway(_CAPS.reason("provider_choice") or "")
        names = self.models()
        return [name for name in names if name == model] if model else names

    def has_endpoint(self, endpoint: str) -> bool:
        """True if the server lists a model of that name."""
        return endpoint.strip() in self.models()

    def endpoint_details(self, endpoint: str) -> EndpointDetails:
        """Prices from the profile's price table (the server has none); no context window."""
        price = self.prices.get(endpoint.strip())
        if price is None:
            raise UnsupportedByGateway(_CAPS.reason("endpoint_details") or "")
        return EndpointDetails(endpoint.strip(), price.input, price.output, None)


__all__ = [
    "ModelPriceLike",
    "OpenAICompatibleAccount",
    "OpenAICompatibleGateway",
    "PriceTable",
    "estimated_usage",
]
