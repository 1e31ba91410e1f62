"""The embedded gateway's other APIs: OpenRouter's (``/api/v1``) and plain OpenAI's (``/v1``).

The Unify API under ``/v0`` is the default; routes.py says which path of each dialect reaches
which answer. A dialect here decides three things and leaves everything else (the reply
composer, pacing, faults, billing) to chat.py and completions.py:

* which catalog endpoints may serve a request, in order (``candidates``);
* how each streamed chunk and the whole response look (``StreamFormat``);
* how errors look (``error_body``).

OpenRouter: model ids ``<author>/<slug>`` (``:nitro`` sorts by
throughput, ``:floor`` by price), a ``provider`` object (``order``, ``only``, ``ignore``,
``allow_fallbacks``, ``sort``), a ``models`` fallback list, streams that start with the comment
``: OPENROUTER PROCESSING``, carry a top-level ``provider`` (display name) on every chunk, end with
a ``choices: []`` chunk whose ``usage`` has ``cost``, then ``data: [DONE]``; errors
``{"error": {"code", "message"}}``. Provider slugs follow OpenRouter's (``together``,
``fireworks``, ``amazon-bedrock``, ``google-vertex`` ...), and Llama 3 ``-chat`` models are
``-instruct`` there (``meta-llama/llama-3.1-70b-instruct``).

OpenAI-compatible (Ollama, vLLM, LM Studio, llama.cpp server): plain model names, no provider,
no cost; ``usage`` only with ``stream_options.include_usage`` (then ``"usage": null`` on every
chunk and a last chunk with ``choices: []``), ``data: [DONE]``; errors
``{"error": {"message", "type", "param", "code"}}``; nothing is billed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from . import errors
from .catalog import Catalog, EndpointMetrics, EndpointSpec

UNIFY = "unify"
OPENROUTER = "openrouter"
OPENAI = "openai"

#: An endpoint's figures (prices, speeds) as they are now.
MetricsOf = Callable[[EndpointSpec], EndpointMetrics]

OPENROUTER_PREFIX = "/api/v1"
OPENAI_PREFIX = "/v1"
OPENROUTER_PROCESSING = b": OPENROUTER PROCESSING\n\n"
MAX_OPENROUTER_MODELS = 3  # models: [...] beyond the main one (OpenRouter's limit)

# catalog provider -> OpenRouter slug (the rest keep their name)
_OPENROUTER_SLUGS: dict[str, str] = {
    "together-ai": "together",
    "fireworks-ai": "fireworks",
    "aws-bedrock": "amazon-bedrock",
    "vertex-ai": "google-vertex",
    "mistral-ai": "mistral",
    "perplexity-ai": "perplexity",
    "lepton-ai": "lepton",
}
_DISPLAY_NAMES: dict[str, str] = {
    "openai": "OpenAI",
    "anthropic": "Anthropic",
    "together": "Together",
    "fireworks": "Fireworks",
    "groq": "Groq",
    "deepinfra": "DeepInfra",
    "amazon-bedrock": "Amazon Bedrock",
    "google-vertex": "Google Vertex",
    "mistral": "Mistral",
    "perplexity": "Perplexity",
    "lepton": "Lepton",
    "anyscale": "Anyscale",
    "octoai": "OctoAI",
    "replicate": "Replicate",
    "deepseek": "DeepSeek",
    "xai": "xAI",
}
# model name prefix -> OpenRouter author; first match wins
_AUTHORS: tuple[tuple[str, str], ...] = (
    ("llama-3.1-sonar", "perplexity"),
    ("gpt-", "openai"),
    ("o1-", "openai"),
    ("o3-", "openai"),
    ("claude-", "anthropic"),
    ("gemini-", "google"),
    ("gemma", "google"),
    ("codegemma", "google"),
    ("llama-", "meta-llama"),
    ("codellama-", "meta-llama"),
    ("mistral", "mistralai"),
    ("mixtral", "mistralai"),
    ("codestral", "mistralai"),
    ("ministral", "mistralai"),
    ("pixtral", "mistralai"),
    ("qwen", "qwen"),
    ("qwq", "qwen"),
    ("codeqwen", "qwen"),
    ("deepseek", "deepseek"),
    ("grok", "x-ai"),
    ("command-", "cohere"),
    ("c4ai-", "cohere"),
    ("aya-", "cohere"),
    ("phi-", "microsoft"),
    ("nous-", "nousresearch"),
    ("hermes-", "nousresearch"),
)
_SORTS = frozenset({"price", "throughput", "latency"})


def openrouter_slug(provider: str) -> str:
    """OpenRouter's slug for a catalog provider (``together-ai`` -> ``together``)."""
    return _OPENROUTER_SLUGS.get(provider, provider)


def display_name(slug: str) -> str:
    """The provider name OpenRouter puts in responses (``together`` -> ``Together``)."""
    return _DISPLAY_NAMES.get(slug, slug.replace("-", " ").title())


def openrouter_model_id(model: str) -> str:
    """``<author>/<slug>`` for a catalog model.

    ``llama-3.1-70b-chat`` -> ``meta-llama/llama-3.1-70b-instruct``; unknown families -> ``sim/``.
    """
    author = next((a for prefix, a in _AUTHORS if model.startswith(prefix)), "sim")
    slug = model
    if author == "meta-llama" and model.startswith("llama-3") and model.endswith("-chat"):
        slug = model.removesuffix("-chat") + "-instruct"
    return f"{author}/{slug}"


def prefix(dialect: str) -> str:
    """The path every route of ``dialect`` starts with ("" for Unify: its paths are whole)."""
    return {OPENROUTER: OPENROUTER_PREFIX, OPENAI: OPENAI_PREFIX}.get(dialect, "")


def dialect_for_path(path: str) -> str:
    """Which API a request path belongs to."""
    if path == OPENROUTER_PREFIX or path.startswith(OPENROUTER_PREFIX + "/"):
        return OPENROUTER
    if path == OPENAI_PREFIX or path.startswith(OPENAI_PREFIX + "/"):
        return OPENAI
    return UNIFY


def _per_token(per_million: float) -> str:
    """A $/M price as OpenRouter's USD-per-token string ("0.00000015")."""
    text = f"{per_million / 1_000_000:.12f}".rstrip("0").rstrip(".")
    return text or "0"


# --- errors ---------------------------------------------------------------------------------

_OPENROUTER_MESSAGES: dict[int, str] = {
    400: "Provider returned error",
    401: "No auth credentials found",
    402: "Insufficient credits. Add more using https://openrouter.ai/settings/credits",
    403: "This key is disabled.",
    404: "No endpoints found for this model.",
    408: "Request timed out",
    429: "Rate limit exceeded: limit_rpm/openrouter. Please try again later.",
    502: "Provider returned error",
    503: "No available providers: all providers for this model are temporarily down.",
}
_OPENAI_MESSAGES: dict[int, tuple[str, str]] = {
    400: ("The server could not handle the request.", "invalid_request_error"),
    401: ("Incorrect API key provided.", "invalid_request_error"),
    403: ("You are not allowed to use this model.", "invalid_request_error"),
    404: ("The model does not exist.", "invalid_request_error"),
    429: ("Rate limit reached. Please try again later.", "rate_limit_exceeded"),
    500: ("The server had an error while processing your request.", "server_error"),
    503: ("The server is overloaded. Please try again later.", "server_error"),
}


def _message_text(detail: Any) -> str | None:
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list) and detail and isinstance(detail[0], Mapping):
        return "; ".join(str(item.get("msg", "")) for item in detail if isinstance(item, Mapping))
    return None


def default_message(dialect: str, status: int) -> str:
    """What ``dialect`` says for an error ``status`` when a fault gives no text."""
    if dialect == OPENROUTER:
        return _OPENROUTER_MESSAGES.get(status, "Provider returned error")
    message, _ = _OPENAI_MESSAGES.get(status, ("The server had an error.", "server_error"))
    return message


def error_body(dialect: str, status: int, detail: Any, *, default: bool = False) -> dict[str, Any]:
    """The JSON error object of ``dialect``; ``default`` uses the dialect's own text."""
    text = None if default else _message_text(detail)
    message = text or default_message(dialect, status)
    if dialect == OPENROUTER:
        return {"error": {"code": status, "message": message}}
    _, kind = _OPENAI_MESSAGES.get(
        status, ("", "server_error" if status >= 500 else "invalid_request_error")
    )
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


# --- stream and response shapes ------------------------------------------------------------


@dataclass(frozen=True)
class StreamFormat:
    """How one reply is written in one dialect.

    ``head`` is a chunk's JSON up to (not including) ``"choices"``, ending with ``", "``.
    ``usage_in_last_chunk``: Unify puts ``usage`` on the chunk with the last token; the others send
    a separate closing chunk (``closing_events``). ``bills``: the reply's cost is deducted.
    """

    dialect: str
    head: str
    preamble: bytes = b""
    usage_in_last_chunk: bool = False
    include_usage: bool = False
    bills: bool = True

    @property
    def chunk_usage(self) -> str:
        """What every content chunk says about usage before ``choices``."""
        if self.dialect == UNIFY:
            return '"usage": {}, '
        if self.dialect == OPENAI and self.include_usage:
            return '"usage": null, '
        return ""

    def closing_events(self, usage: Mapping[str, Any]) -> list[str]:
        """The SSE data after the chunk with the last token."""
        if self.dialect == UNIFY:
            return []
        events: list[str] = []
        if self.dialect == OPENROUTER:
            events.append(f'{self.head}"choices": [], "usage": {json.dumps(usage)}}}')
        elif self.include_usage:
            plain = {key: value for key, value in usage.items() if key != "cost"}
            events.append(f'{self.head}"choices": [], "usage": {json.dumps(plain)}}}')
        events.append("[DONE]")
        return events

    def whole_usage(self, usage: Mapping[str, Any]) -> dict[str, Any]:
        """``usage`` of a non-streamed response."""
        if self.dialect == OPENAI:
            return {key: value for key, value in usage.items() if key != "cost"}
        return dict(usage)


def stream_format(
    dialect: str, request: Mapping[str, Any], metrics: EndpointMetrics, created: int, ident: str
) -> StreamFormat:
    """The ``StreamFormat`` for one request served by ``metrics``'s endpoint."""
    if dialect == OPENROUTER:
        provider = display_name(openrouter_slug(metrics.provider))
        head = (
            f'{{"id": {json.dumps("gen-" + ident.removeprefix("chatcmpl-"))}, '
            f'"provider": {json.dumps(provider)}, '
            f'"model": {json.dumps(openrouter_model_id(metrics.model))}, '
            f'"object": "chat.completion.chunk", "created": {created}, '
        )
        return StreamFormat(OPENROUTER, head, preamble=OPENROUTER_PROCESSING)
    if dialect == OPENAI:
        options = request.get("stream_options")
        include = isinstance(options, Mapping) and options.get("include_usage") is True
        head = (
            f'{{"id": {json.dumps(ident)}, "object": "chat.completion.chunk", '
            f'"created": {created}, "model": {json.dumps(metrics.model)}, '
            '"system_fingerprint": null, '
        )
        return StreamFormat(OPENAI, head, include_usage=include, bills=False)
    head = (
        f'{{"model": {json.dumps(metrics.endpoint)}, "created": {created}, "id": '
        f'{json.dumps(ident)}, "object": "chat.completion.chunk", '
    )
    return StreamFormat(UNIFY, head, usage_in_last_chunk=True)


def whole_response_fields(dialect: str, metrics: EndpointMetrics) -> dict[str, Any]:
    """``model`` (and OpenRouter's ``provider``) of a non-streamed response."""
    if dialect == OPENROUTER:
        return {
            "model": openrouter_model_id(metrics.model),
            "provider": display_name(openrouter_slug(metrics.provider)),
        }
    if dialect == OPENAI:
        return {"model": metrics.model}
    return {"model": metrics.endpoint}


# --- which endpoints serve a request -------------------------------------------------------


def _string_list(value: Any, name: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise errors.SimHTTPError(400, f"provider.{name} must be a list of provider slugs")
    return list(value)


class OpenRouterNames:
    """OpenRouter's names for the catalog: model ids both ways, provider slugs both ways."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    @cached_property
    def model_by_id(self) -> dict[str, str]:
        """OpenRouter id -> catalog model."""
        mapping: dict[str, str] = {}
        for model in self.catalog.models:
            mapping.setdefault(openrouter_model_id(model), model)
        return mapping

    @cached_property
    def ids(self) -> list[str]:
        return sorted(self.model_by_id)

    def specs(self, model_id: str) -> tuple[EndpointSpec, ...]:
        model = self.model_by_id.get(model_id)
        return self.catalog.specs_for_model(model) if model else ()


def openrouter_candidates(
    request: Mapping[str, Any],
    names: OpenRouterNames,
    metrics_of: MetricsOf,
    prompt_tokens: int,
) -> list[EndpointMetrics]:
    """The endpoints to try for an OpenRouter request, in order; raises ``SimHTTPError``.

    ``metrics_of(spec)`` gives an endpoint's figures now. Each model of ``[model, *models]``
    contributes its providers: ``only`` and ``ignore`` filter, ``order`` goes first (and alone
    when ``allow_fallbacks`` is false), the rest follow sorted by ``sort`` (default: price).
    """
    model_ids = [request["model"]]
    extra = request.get("models")
    if extra is not None:
        if not isinstance(extra, list) or not all(isinstance(m, str) for m in extra):
            raise errors.SimHTTPError(400, "models must be a list of model ids")
        model_ids += [m for m in extra[:MAX_OPENROUTER_MODELS] if m not in model_ids]
    preferences = request.get("provider") or {}
    if not isinstance(preferences, Mapping):
        raise errors.SimHTTPError(400, "provider must be an object")
    order = _string_list(preferences.get("order"), "order")
    only = _string_list(preferences.get("only"), "only")
    ignore = _string_list(preferences.get("ignore"), "ignore")
    allow_fallbacks = preferences.get("allow_fallbacks", True)
    sort = preferences.get("sort")
    if isinstance(sort, Mapping):
        sort = sort.get("by")
    if sort is not None and sort not in _SORTS:
        raise errors.SimHTTPError(400, f"provider.sort must be one of {', '.join(sorted(_SORTS))}")

    ranked: list[EndpointMetrics] = []
    for model_id in model_ids:
        base_id, _, variant = model_id.partition(":")
        if base_id == "openrouter/auto":
            best = max(names.catalog.specs(), key=lambda spec: (spec.quality, -spec.input_cost))
            base_id = openrouter_model_id(best.model)
        specs = names.specs(base_id)
        if not specs:
            raise errors.SimHTTPError(400, f"{model_id} is not a valid model ID")
        model_sort = {"nitro": "throughput", "floor": "price"}.get(variant, sort)
        metrics = [metrics_of(spec) for spec in specs]
        metrics = [m for m in metrics if m.context_window > prompt_tokens]
        if only:
            metrics = [m for m in metrics if openrouter_slug(m.provider) in only]
        metrics = [m for m in metrics if openrouter_slug(m.provider) not in ignore]
        metrics.sort(key=_sort_key(model_sort))
        first = [m for slug in order for m in metrics if openrouter_slug(m.provider) == slug]
        rest = [m for m in metrics if m not in first]
        ranked += first if (order and allow_fallbacks is False) else first + rest
    if not ranked:
        raise errors.SimHTTPError(404, "No allowed providers are available for the selected model.")
    return ranked


def _sort_key(sort: str | None) -> Callable[[EndpointMetrics], float]:
    if sort == "throughput":
        return lambda m: m.itl
    if sort == "latency":
        return lambda m: m.ttft
    return lambda m: m.input_cost + m.output_cost


def openai_candidates(
    request: Mapping[str, Any], catalog: Catalog, metrics_of: MetricsOf
) -> list[EndpointMetrics]:
    """The one endpoint that plays a plain server's model: its cheapest provider."""
    model = request["model"]
    specs = catalog.specs_for_model(model)
    if not specs:
        raise errors.SimHTTPError(404, f"The model `{model}` does not exist.")
    metrics = sorted((metrics_of(spec) for spec in specs), key=_sort_key("price"))
    return metrics[:1]


def validate_body(body: Any) -> Mapping[str, Any]:
    """The request object of an OpenRouter or OpenAI chat request; raises a 400."""
    if not isinstance(body, Mapping):
        raise errors.SimHTTPError(400, "The request body must be a JSON object.")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise errors.SimHTTPError(400, "you must provide a model parameter")
    messages = body.get("messages")
    if (
        not isinstance(messages, list)
        or not messages
        or not all(isinstance(m, Mapping) and "role" in m for m in messages)
    ):
        raise errors.SimHTTPError(400, "messages must be a non-empty list of {role, content}")
    return body


# --- listings -------------------------------------------------------------------------------


def openrouter_models(names: OpenRouterNames, metrics_of: MetricsOf) -> dict[str, Any]:
    """``GET /api/v1/models``: every model with its cheapest endpoint's prices per token."""
    data = []
    for model_id in names.ids:
        metrics = [metrics_of(spec) for spec in names.specs(model_id)]
        cheapest = min(metrics, key=_sort_key("price"))
        data.append(
            {
                "id": model_id,
                "name": model_id.split("/", 1)[1].replace("-", " ").title(),
                "created": 1_700_000_000,
                "context_length": max(m.context_window for m in metrics),
                "pricing": {
                    "prompt": _per_token(cheapest.input_cost),
                    "completion": _per_token(cheapest.output_cost),
                    "request": "0",
                    "image": "0",
                },
            }
        )
    return {"data": data}


def openrouter_endpoints(
    model_id: str, names: OpenRouterNames, metrics_of: MetricsOf
) -> dict[str, Any] | None:
    """``GET /api/v1/models/{author}/{slug}/endpoints``; None for an unknown model."""
    specs = names.specs(model_id)
    if not specs:
        return None
    endpoints = []
    for spec in sorted(specs, key=lambda spec: openrouter_slug(spec.provider)):
        metrics = metrics_of(spec)
        slug = openrouter_slug(spec.provider)
        endpoints.append(
            {
                "name": f"{display_name(slug)} | {model_id}",
                "provider_name": display_name(slug),
                "tag": slug,
                "context_length": metrics.context_window,
                "pricing": {
                    "prompt": _per_token(metrics.input_cost),
                    "completion": _per_token(metrics.output_cost),
                    "request": "0",
                    "image": "0",
                },
                "status": 0,
            }
        )
    return {
        "data": {
            "id": model_id,
            "name": model_id.split("/", 1)[1].replace("-", " ").title(),
            "endpoints": endpoints,
        }
    }


def openai_models(catalog: Catalog, created: int) -> dict[str, Any]:
    """``GET /v1/models``: every model name the catalog serves."""
    return {
        "object": "list",
        "data": [
            {"id": model, "object": "model", "created": created, "owned_by": "gateway-sim"}
            for model in catalog.models
        ],
    }
