"""The Unify gateway: streamed chat over the openai SDK, and the account API over ``requests``.

``UnifyGateway`` sends the endpoint string as the ``model`` unchanged; the streaming itself is
``StreamingGateway``'s (tui_chat.gateways.streaming). ``UnifyAccount`` is blocking
(``requests``); the app calls it from thread workers.
"""

from __future__ import annotations

from collections.abc import Mapping

from tui_chat.core.endpoint import model_of, parse_endpoint
from tui_chat.gateways.account import AccountClient
from tui_chat.gateways.base import UNIFY_CAPABILITIES, EndpointDetails
from tui_chat.gateways.errors import MalformedResponse, NotFoundError
from tui_chat.gateways.json_values import as_balance, as_cost, as_token_count
from tui_chat.gateways.streaming import StreamingGateway


class UnifyGateway(StreamingGateway):
    """Streams chat replies from a Unify-compatible ``/chat/completions``: the endpoint string
    is sent as the ``model`` unchanged (``model@provider``, routing modes, ``->`` fallbacks)."""

    CAPABILITIES = UNIFY_CAPABILITIES


class UnifyAccount(AccountClient):
    """Credits, listings and endpoint details of the Unify API over blocking ``requests``.

    Listings and endpoint details are cached for ``cache_ttl_s`` seconds; the balance never is.
    Every failure raises a ``GatewayError`` subclass with the status and the server's detail.
    """

    def credits(self) -> float:
        """The account balance in credits (USD), fresh from ``GET /credits``."""
        try:
            data = self._get("credits")
        except NotFoundError:
            data = self._get("get_credits")  # servers from before the 2024-08 rename
        balance = as_balance(data.get("credits")) if isinstance(data, dict) else None
        if balance is None:
            raise MalformedResponse("/credits did not contain a number of credits")
        return balance

    def _string_list(self, path: str, params: Mapping[str, str]) -> list[str]:
        data = self._cached_get(path, params)
        if not isinstance(data, list) or not all(isinstance(item, str) for item in data):
            raise MalformedResponse(f"/{path} did not return a list of names")
        return list(data)

    def models(self, provider: str | None = None) -> list[str]:
        """Model names, all or those one provider serves."""
        return self._string_list("models", {"provider": provider} if provider else {})

    def providers(self, model: str | None = None) -> list[str]:
        """Provider names, all or those serving one model."""
        return self._string_list("providers", {"model": model} if model else {})

    def endpoints(self, model: str | None = None, provider: str | None = None) -> list[str]:
        """``model@provider`` strings, all or filtered by one model or one provider."""
        if model and provider:
            raise ValueError("give a model or a provider, not both")
        params = {"model": model} if model else {"provider": provider} if provider else {}
        return self._string_list("endpoints", params)

    def has_endpoint(self, endpoint: str) -> bool:
        """True if a concrete ``model@provider`` is listed; routing strings are not checkable."""
        parsed = parse_endpoint(endpoint)
        if parsed.is_routing or parsed.is_fallback:
            return True
        return parsed.raw in self.endpoints(model=model_of(parsed.raw))

    def endpoint_details(self, endpoint: str) -> EndpointDetails:
        """Prices ($/M tokens) and context window of one ``model@provider``."""
        data = self._cached_get("endpoint-details", {"endpoint": endpoint})
        if not isinstance(data, dict):
            raise MalformedResponse("/endpoint-details did not return a JSON object")
        return EndpointDetails(
            endpoint=str(data.get("endpoint") or endpoint),
            input_cost=as_cost(data.get("input_cost")),
            output_cost=as_cost(data.get("output_cost")),
            context_window=as_token_count(data.get("context_window")),
        )
