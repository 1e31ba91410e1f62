"""OpenRouter: the seed's endpoint syntax translated to OpenRouter requests, and its account API.

How the seed's endpoint syntax is sent to OpenRouter:

==========================================  ================================================
the user writes                             sent to OpenRouter
==========================================  ================================================
``gpt-4o-mini@openai`` (provider = author)  ``model: openai/gpt-4o-mini``, ``provider.only``
``llama-3.1-70b-instruct@together``         ``model: meta-llama/llama-3.1-70b-instruct``,
                                            ``provider: {order: [together],
                                            allow_fallbacks: false}``
``<model>@highest-tks-per-sec``             ``provider.sort = "throughput"``
``@lowest-input-cost|output-cost|cost``     ``provider.sort = "price"``
``@lowest-ttft``, ``@lowest-itl``           ``provider.sort = "latency"``
``a@p->b@q``                                ``models: [a, b]``, ``provider.order: [p, q]``
``author/slug`` (``:nitro``, ``:floor``)    passed through unchanged
==========================================  ================================================

A bare model name gets its ``author/`` from the model listing (``GET /models``, fetched once per
gateway). Both ``only`` and ``order`` + ``allow_fallbacks: false`` pin one provider; ``only`` is
used when the provider is the model's own author (the first-party API), ``order`` otherwise.
``author/slug@provider`` (what the account's ``endpoints()`` lists) is pinned the same way.
Thresholds, factors and ``router@...`` have no OpenRouter equivalent and are refused with a
sentence saying so.

The served endpoint shown is ``<model>@<provider>`` from each chunk's ``model`` and ``provider``
fields; the cost is ``usage.cost``; the balance is ``total_credits - total_usage`` from
``GET /credits``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from tui_chat.core.endpoint import EndpointError, parse_endpoint
from tui_chat.gateways.account import AccountClient
from tui_chat.gateways.base import OPENROUTER_CAPABILITIES, EndpointDetails
from tui_chat.gateways.errors import (
    BadRequestError,
    MalformedResponse,
    NotFoundError,
    UnsupportedByGateway,
)
from tui_chat.gateways.json_values import as_balance, as_cost, as_float, as_token_count
from tui_chat.gateways.streaming import ChatRequest, StreamingGateway

DEFAULT_BASE_URL = "https://openrouter.ai/api/v1"
APP_URL = "https://github.com/unifyai/unify-tui"
APP_TITLE = "unify-tui"
ATTRIBUTION_HEADERS = {"HTTP-Referer": APP_URL, "X-Title": APP_TITLE}

# the seed's routing metric (after lowest-/highest-) -> OpenRouter's provider.sort
_SORT_FOR_METRIC: dict[str, str] = {
    "tks-per-sec": "throughput",
    "output-tks-per-sec": "throughput",
    "ots": "throughput",
    "input-cost": "price",
    "input-cost-per-token": "price",
    "ic": "price",
    "output-cost": "price",
    "output-cost-per-token": "price",
    "oc": "price",
    "cost": "price",
    "c": "price",
    "ttft": "latency",
    "time-to-first-token": "latency",
    "t": "latency",
    "itl": "latency",
    "inter-token-latency": "latency",
    "i": "latency",
}


def sort_for_mode(spec: str) -> str:
    """OpenRouter's ``provider.sort`` for a seed routing mode; raises ``BadRequestError``."""
    metric = spec.removeprefix("lowest-").removeprefix("highest-")
    sort = _SORT_FOR_METRIC.get(metric)
    if sort is None:
        raise BadRequestError(
            f"OpenRouter cannot route by {spec!r}: it sorts providers by throughput "
            "(@highest-tks-per-sec), price (@lowest-input-cost) or latency (@lowest-ttft) only, "
            "without thresholds or factors"
        )
    return sort


def _author(model_id: str) -> str:
    return model_id.split("/", 1)[0] if "/" in model_id else ""


def resolve_model_id(model: str, model_ids: Sequence[str]) -> str:
    """The OpenRouter id for ``model``: itself when it has an author, else looked up by slug.

    Raises ``NotFoundError`` when no listed model has that slug.
    """
    if "/" in model:
        return model
    base, colon, variant = model.partition(":")
    matches = [item for item in model_ids if item.split("/", 1)[-1] == base]
    if not matches:
        raise NotFoundError(
            f"OpenRouter lists no model called {base!r}; pick one from the model list or "
            "write its full id, e.g. openai/gpt-4o-mini"
        )
    return matches[0] + (colon + variant if colon else "")


def _split(segment: str) -> tuple[str, str]:
    model, _, spec = segment.rpartition("@")
    return model, spec


def _is_routing(spec: str) -> bool:
    try:
        parsed = parse_endpoint(f"x@{spec}")
    except EndpointError:
        return False
    return parsed.is_routing


def translate(endpoint: str, model_ids: Sequence[str]) -> ChatRequest:
    """The OpenRouter request for an endpoint string (see the module docstring's table).

    ``model_ids`` is the model listing, used to find a bare model's author. Raises
    ``BadRequestError`` (untranslatable routing) or ``NotFoundError`` (unknown model).
    """
    text = endpoint.strip()
    if "@" not in text:
        return ChatRequest(model=text)  # a native OpenRouter id
    if "->" in text:
        return _translate_chain(text, model_ids)
    model_part, spec = _split(text)
    if model_part == "router" or model_part.startswith("router_"):
        raise BadRequestError(
            "OpenRouter has no router@… endpoint; use openrouter/auto to let it pick a model"
        )
    model_id = resolve_model_id(model_part, model_ids)
    if _is_routing(spec):
        return ChatRequest(model=model_id, extra_body={"provider": {"sort": sort_for_mode(spec)}})
    if spec == _author(model_id):
        return ChatRequest(model=model_id, extra_body={"provider": {"only": [spec]}})
    return ChatRequest(
        model=model_id, extra_body={"provider": {"order": [spec], "allow_fallbacks": False}}
    )


def _translate_chain(text: str, model_ids: Sequence[str]) -> ChatRequest:
    if "/" in text:
        steps = [_split(piece) for piece in text.split("->")]
        if any(not model or not spec for model, spec in steps):
            raise BadRequestError(
                "Write every step of an OpenRouter fallback chain as model@provider"
            )
    else:
        try:
            parsed = parse_endpoint(text)
        except EndpointError as error:
            raise BadRequestError(str(error)) from None
        steps = [_split(candidate) for candidate in parsed.candidates]
    models: list[str] = []
    order: list[str] = []
    sort: str | None = None
    for model, spec in steps:
        model_id = resolve_model_id(model, model_ids)
        if model_id not in models:
            models.append(model_id)
        if _is_routing(spec):
            sort = sort or sort_for_mode(spec)
        elif spec not in order:
            order.append(spec)
    provider: dict[str, Any] = {}
    if order:
        provider["order"] = order
    if sort:
        provider["sort"] = sort
    body: dict[str, Any] = {"models": models}
    if provider:
        body["provider"] = provider
    return ChatRequest(model=models[0], extra_body=body)


def _model_ids(listing: object) -> list[str]:
    data = listing.get("data") if isinstance(listing, Mapping) else None
    if not isinstance(data, list):
        raise MalformedResponse("/models did not return a list of models")
    return [
        item["id"] for item in data if isinstance(item, Mapping) and isinstance(item.get("id"), str)
    ]


class OpenRouterGateway(StreamingGateway):
    """Streams replies from OpenRouter, translating the seed's endpoint syntax (module docstring).

    The model listing is fetched once (only when a bare model name needs its author).
    """

    CAPABILITIES = OPENROUTER_CAPABILITIES

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._model_ids: list[str] | None = None
        self._listing_lock = asyncio.Lock()

    def client_headers(self) -> dict[str, str]:
        return dict(ATTRIBUTION_HEADERS)

    async def chat_request(self, endpoint: str) -> ChatRequest:
        if not _needs_listing(endpoint):
            return translate(endpoint, ())
        return translate(endpoint, await self._listed_models())

    async def _listed_models(self) -> list[str]:
        async with self._listing_lock:
            if self._model_ids is None:
                # failures propagate to stream_chat, which turns them into one StreamError
                response = await self._openai().get("models", cast_to=object)
                self._model_ids = _model_ids(response)
            return self._model_ids


def _needs_listing(endpoint: str) -> bool:
    """True when some model in ``endpoint`` lacks its ``author/``."""
    if "@" not in endpoint:
        return False
    steps = endpoint.split("->")
    return any("/" not in step.rpartition("@")[0] for step in steps if "@" in step) or any(
        "@" not in step for step in steps
    )


def _per_million(per_token: object) -> float | None:
    value = as_float(per_token)  # "-1" for a router's variable price: unknown, as below
    return None if value is None else as_cost(round(value * 1_000_000, 6))


class OpenRouterAccount(AccountClient):
    """OpenRouter's balance (``/credits``), models (``/models``) and per-model endpoints.

    Endpoint strings are ``author/slug@provider-tag``; ``OpenRouterGateway`` sends them pinned to
    that provider. Listings are cached for ``cache_ttl_s`` seconds; the balance never is.
    """

    def client_headers(self) -> dict[str, str]:
        return dict(ATTRIBUTION_HEADERS)

    def credits(self) -> float:
        """The balance in credits (USD): ``total_credits - total_usage``."""
        data = self._get("credits")
        inner = data.get("data") if isinstance(data, Mapping) else None
        total = as_balance(inner.get("total_credits")) if isinstance(inner, Mapping) else None
        used = as_balance(inner.get("total_usage")) if isinstance(inner, Mapping) else None
        if total is None or used is None:
            raise MalformedResponse("/credits did not contain total_credits and total_usage")
        return total - used

    def _listing(self) -> list[Mapping[str, Any]]:
        data = self._cached_get("models")
        items = data.get("data") if isinstance(data, Mapping) else None
        if not isinstance(items, list):
            raise MalformedResponse("/models did not return a list of models")
        return [
            item for item in items if isinstance(item, Mapping) and isinstance(item.get("id"), str)
        ]

    def models(self, provider: str | None = None) -> list[str]:
        """Model ids (``author/slug``), sorted; OpenRouter lists providers per model only."""
        if provider:
            raise UnsupportedByGateway(
                "OpenRouter lists providers per model, not models per provider"
            )
        return sorted(str(item["id"]) for item in self._listing())

    def _model_endpoints(self, model: str) -> tuple[str, list[Mapping[str, Any]]]:
        model_id = resolve_model_id(model, self.models())
        base = model_id.split(":", 1)[0]
        data = self._cached_get(f"models/{base}/endpoints")
        inner = data.get("data") if isinstance(data, Mapping) else None
        items = inner.get("endpoints") if isinstance(inner, Mapping) else None
        if not isinstance(items, list):
            raise MalformedResponse(f"/models/{base}/endpoints did not list endpoints")
        return base, [item for item in items if isinstance(item, Mapping)]

    @staticmethod
    def _tag(item: Mapping[str, Any]) -> str:
        tag = item.get("tag")
        if isinstance(tag, str) and tag:
            return tag.split("/", 1)[0]
        name = item.get("provider_name")
        return str(name or "").lower().replace(" ", "-")

    def providers(self, model: str | None = None) -> list[str]:
        """Provider slugs serving ``model``; OpenRouter has no listing of all providers."""
        if not model:
            raise UnsupportedByGateway("OpenRouter lists providers per model; pick a model first")
        _, items = self._model_endpoints(model)
        return sorted({self._tag(item) for item in items})

    def endpoints(self, model: str | None = None, provider: str | None = None) -> list[str]:
        """``author/slug@provider`` strings for one model."""
        if model and provider:
            raise ValueError("give a model or a provider, not both")
        if not model:
            raise UnsupportedByGateway("OpenRouter lists endpoints per model; pick a model first")
        base, items = self._model_endpoints(model)
        return sorted({f"{base}@{self._tag(item)}" for item in items})

    def has_endpoint(self, endpoint: str) -> bool:
        """True if ``author/slug@provider`` is listed; routing, chains and bare ids -> True."""
        if "@" not in endpoint or "->" in endpoint:
            return True
        model, spec = _split(endpoint)
        if _is_routing(spec):
            return True
        try:
            return spec in self.providers(model)
        except NotFoundError:
            return False

    def endpoint_details(self, endpoint: str) -> EndpointDetails:
        """Prices ($/M tokens) and context window of ``model@provider`` from its endpoints."""
        model, spec = _split(endpoint) if "@" in endpoint else (endpoint, "")
        base, items = self._model_endpoints(model)
        for item in items:
            if not spec or self._tag(item) == spec:
                pricing = item.get("pricing")
                prices = pricing if isinstance(pricing, Mapping) else {}
                return EndpointDetails(
                    endpoint=f"{base}@{self._tag(item)}",
                    input_cost=_per_million(prices.get("prompt")),
                    output_cost=_per_million(prices.get("completion")),
                    context_window=as_token_count(item.get("context_length")),
                )
        raise NotFoundError(f"OpenRouter lists no provider {spec!r} for {base}")
