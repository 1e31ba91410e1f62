"""OpenRouterGateway and OpenRouterAccount against the embedded gateway's OpenRouter dialect."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tui_chat.core.events import Done, ServedEndpoint, StreamError, StreamEvent, TextDelta, Usage
from tui_chat.gateway_sim import Fault
from tui_chat.gateways.config import GatewaySettings
from tui_chat.gateways.errors import (
    AuthenticationError,
    BadRequestError,
    InsufficientCreditsError,
    NotFoundError,
    ServerError,
    UnsupportedByGateway,
)
from tui_chat.gateways.openrouter import OpenRouterAccount, OpenRouterGateway, translate

HELLO = [{"role": "user", "content": "Hi, my name is Ada."}]


def settings_for(sim: Any, key: str = "test-key") -> GatewaySettings:
    return GatewaySettings(base_url=sim.openrouter_base_url, api_key=key, timeout=10.0)


async def _collect(sim: Any, endpoint: str, key: str = "test-key") -> list[StreamEvent]:
    gateway = OpenRouterGateway(settings_for(sim, key))
    try:
        return [event async for event in gateway.stream_chat(endpoint, HELLO)]
    finally:
        await gateway.aclose()


def stream(sim: Any, endpoint: str, key: str = "test-key") -> list[StreamEvent]:
    return asyncio.run(_collect(sim, endpoint, key))


def sent(sim: Any) -> dict[str, Any]:
    """The last chat request body the OpenRouter dialect received."""
    return dict(sim.requests_for("openrouter")[-1].first)


def test_streams_text_served_endpoint_and_exact_cost(sim: Any) -> None:
    events = stream(sim, "openai/gpt-4o-mini")
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert "Ada" in text
    served = [e.endpoint for e in events if isinstance(e, ServedEndpoint)]
    assert served == ["openai/gpt-4o-mini@OpenAI"]
    usage = next(e for e in events if isinstance(e, Usage))
    assert usage.cost is not None and usage.cost > 0 and usage.estimated is False
    assert usage.prompt_tokens and usage.completion_tokens
    assert isinstance(events[-1], Done) and events[-1].finish_reason == "stop"


def test_request_carries_attribution_headers_and_include_usage(sim: Any) -> None:
    stream(sim, "openai/gpt-4o-mini")
    body = sent(sim)
    assert body["stream_options"] == {"include_usage": True}
    headers = sim.requests_for("openrouter")[-1].headers
    assert headers["x-title"] == "unify-tui"
    assert headers["http-referer"].startswith("https://")
    assert "authorization" not in headers


# -- translation, checked at the server: every row of specs/gateways.md's table ----------------


def test_concrete_endpoint_at_the_authors_own_provider_uses_only(sim: Any) -> None:
    events = stream(sim, "gpt-4o-mini@openai")
    assert sent(sim)["model"] == "openai/gpt-4o-mini"
    assert sent(sim)["provider"] == {"only": ["openai"]}
    assert ServedEndpoint("openai/gpt-4o-mini@OpenAI") in events


def test_concrete_endpoint_at_another_provider_uses_order_without_fallbacks(sim: Any) -> None:
    events = stream(sim, "llama-3.1-70b-instruct@together")
    assert sent(sim)["model"] == "meta-llama/llama-3.1-70b-instruct"
    assert sent(sim)["provider"] == {"order": ["together"], "allow_fallbacks": False}
    assert ServedEndpoint("meta-llama/llama-3.1-70b-instruct@Together") in events


@pytest.mark.parametrize(
    ("mode", "sort"),
    [
        ("highest-tks-per-sec", "throughput"),
        ("lowest-input-cost", "price"),
        ("lowest-output-cost", "price"),
        ("lowest-cost", "price"),
        ("lowest-ttft", "latency"),
        ("lowest-itl", "latency"),
    ],
)
def test_routing_modes_become_provider_sort(sim: Any, mode: str, sort: str) -> None:
    events = stream(sim, f"llama-3.1-8b-instruct@{mode}")
    assert sent(sim)["model"] == "meta-llama/llama-3.1-8b-instruct"
    assert sent(sim)["provider"] == {"sort": sort}
    assert isinstance(events[-1], Done)


def test_fallback_chain_becomes_models_and_provider_order(sim: Any) -> None:
    events = stream(sim, "gpt-4o-mini@openai->claude-3-haiku@anthropic")
    body = sent(sim)
    assert body["model"] == "openai/gpt-4o-mini"
    assert body["models"] == ["openai/gpt-4o-mini", "anthropic/claude-3-haiku"]
    assert body["provider"] == {"order": ["openai", "anthropic"]}
    assert isinstance(events[-1], Done)


def test_fallback_chain_moves_on_when_the_first_model_fails(sim: Any) -> None:
    sim.inject(Fault("status", status=503, endpoint="gpt-4o-mini@openai"))
    events = stream(sim, "gpt-4o-mini@openai->claude-3-haiku@anthropic")
    assert ServedEndpoint("anthropic/claude-3-haiku@Anthropic") in events


@pytest.mark.parametrize("native", ["openai/gpt-4o-mini", "meta-llama/llama-3.1-8b-instruct:nitro"])
def test_native_ids_pass_through_unchanged(sim: Any, native: str) -> None:
    events = stream(sim, native)
    body = sent(sim)
    assert body["model"] == native
    assert "provider" not in body and "models" not in body
    assert isinstance(events[-1], Done)


def test_untranslatable_routing_is_refused_before_sending() -> None:
    with pytest.raises(BadRequestError, match="thresholds"):
        translate(
            "llama-3.1-8b-instruct@lowest-itl<0.5input-cost", ["meta-llama/llama-3.1-8b-instruct"]
        )
    with pytest.raises(BadRequestError, match="openrouter/auto"):
        translate("router@q:1|c:0.5", [])


def test_unknown_bare_model_is_a_not_found_stream_error(sim: Any) -> None:
    events = stream(sim, "no-such-model@openai")
    assert len(events) == 1 and isinstance(events[0], StreamError)
    assert isinstance(events[0].error, NotFoundError)
    assert "no-such-model" in str(events[0].error)
    assert sim.requests_for("openrouter") == []  # nothing was sent


# -- errors and faults ------------------------------------------------------------------------


def test_wrong_key_error_carries_the_servers_message(sim: Any) -> None:
    [event] = stream(sim, "openai/gpt-4o-mini", key="wrong-key")
    assert isinstance(event, StreamError)
    assert isinstance(event.error, AuthenticationError)
    assert event.error.detail == "User not found."


def test_out_of_credits_is_insufficient_credits(sim: Any) -> None:
    sim.credits = 0
    [event] = stream(sim, "openai/gpt-4o-mini")
    assert isinstance(event, StreamError)
    assert isinstance(event.error, InsufficientCreditsError)
    assert "Insufficient credits" in event.error.detail


def test_provider_error_mid_stream_keeps_the_partial_reply(sim: Any) -> None:
    sim.inject(Fault("error_chunk", after_tokens=3, detail="Upstream provider went away"))
    events = stream(sim, "openai/gpt-4o-mini")
    assert sum(1 for e in events if isinstance(e, TextDelta)) == 3
    assert isinstance(events[-1], StreamError)
    assert isinstance(events[-1].error, ServerError)
    assert "Upstream provider went away" in str(events[-1].error)


def test_dropped_connection_mid_stream_is_an_error_not_a_hang(sim: Any) -> None:
    sim.inject(Fault("drop", after_tokens=2))
    events = stream(sim, "gpt-4o-mini@openai")
    assert isinstance(events[-1], StreamError)


# -- the account -------------------------------------------------------------------------------


def test_balance_is_total_credits_minus_usage(sim: Any) -> None:
    account = OpenRouterAccount(settings_for(sim))
    before = account.credits()
    assert before == pytest.approx(50.0)
    stream(sim, "openai/gpt-4o-mini")
    assert account.credits() == pytest.approx(sim.credits)
    assert account.credits() < before


def test_listings_and_endpoint_details(sim: Any) -> None:
    account = OpenRouterAccount(settings_for(sim))
    models = account.models()
    assert "openai/gpt-4o-mini" in models and "meta-llama/llama-3.1-70b-instruct" in models
    assert account.providers("claude-3-haiku") == ["amazon-bedrock", "anthropic", "google-vertex"]
    endpoints = account.endpoints(model="anthropic/claude-3-haiku")
    assert "anthropic/claude-3-haiku@anthropic" in endpoints
    assert account.has_endpoint("anthropic/claude-3-haiku@anthropic")
    assert not account.has_endpoint("anthropic/claude-3-haiku@groq")
    assert account.has_endpoint("gpt-4o-mini@lowest-ttft")
    details = account.endpoint_details("openai/gpt-4o-mini@openai")
    assert details.input_cost is not None and 0.1 < details.input_cost < 0.2  # $/M tokens
    assert details.context_window == 128000
    with pytest.raises(UnsupportedByGateway):
        account.providers()


def test_endpoint_listed_by_the_account_can_be_sent_back(sim: Any) -> None:
    account = OpenRouterAccount(settings_for(sim))
    endpoint = account.endpoints(model="meta-llama/llama-3.1-70b-instruct")[0]
    events = stream(sim, endpoint)
    provider = endpoint.rsplit("@", 1)[1]
    assert provider in (sent(sim)["provider"].get("only") or sent(sim)["provider"]["order"])
    assert isinstance(events[-1], Done)


def test_account_sends_attribution_headers(sim: Any) -> None:
    seen: list[dict[str, str]] = []

    class Recording:
        def get(self, url: str, **kwargs: Any) -> Any:
            import requests

            seen.append(dict(kwargs["headers"]))
            return requests.get(url, **kwargs)

        def close(self) -> None:
            pass

    account = OpenRouterAccount(settings_for(sim), session=Recording())  # type: ignore[arg-type]
    account.credits()
    assert seen[0]["X-Title"] == "unify-tui"
    assert seen[0]["HTTP-Referer"].startswith("https://")
