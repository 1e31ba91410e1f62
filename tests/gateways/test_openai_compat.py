"""OpenAICompatibleGateway and its account against the embedded gateway's plain /v1 dialect."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tui_chat.config import GatewayProfile, ModelPrice
from tui_chat.connection import connect
from tui_chat.core.conversation import Conversation
from tui_chat.core.events import Done, ServedEndpoint, StreamError, StreamEvent, TextDelta, Usage
from tui_chat.gateway_sim import Fault
from tui_chat.gateways.base import Gateway
from tui_chat.gateways.config import GatewaySettings
from tui_chat.gateways.errors import (
    AuthenticationError,
    NotFoundError,
    RateLimitError,
    UnsupportedByGateway,
)
from tui_chat.gateways.factory import build_gateway, capabilities_for
from tui_chat.gateways.openai_compat import OpenAICompatibleAccount, OpenAICompatibleGateway

HELLO = [{"role": "user", "content": "Hi, my name is Ada."}]
PRICES = {"gpt-4o-mini": ModelPrice(input=0.15, output=0.6)}


def settings_for(sim: Any, key: str = "test-key") -> GatewaySettings:
    return GatewaySettings(base_url=sim.openai_base_url, api_key=key, timeout=10.0)


async def _collect(
    gateway: Gateway, model: str, messages: list[dict[str, str]]
) -> list[StreamEvent]:
    try:
        return [event async for event in gateway.stream_chat(model, messages)]
    finally:
        await gateway.aclose()


def stream(
    sim: Any, model: str = "gpt-4o-mini", key: str = "test-key", prices: Any = None
) -> list[StreamEvent]:
    gateway = OpenAICompatibleGateway(settings_for(sim, key), prices=prices)
    return asyncio.run(_collect(gateway, model, HELLO))


def test_streams_text_and_asks_for_usage(sim: Any) -> None:
    events = stream(sim)
    assert "Ada" in "".join(e.text for e in events if isinstance(e, TextDelta))
    assert sim.requests_for("openai")[-1].first["stream_options"] == {"include_usage": True}
    assert sim.requests_for("openai")[-1].model == "gpt-4o-mini"
    assert [e.endpoint for e in events if isinstance(e, ServedEndpoint)] == ["gpt-4o-mini"]
    assert isinstance(events[-1], Done)


def test_tokens_without_cost_when_there_is_no_price(sim: Any) -> None:
    usage = next(e for e in stream(sim) if isinstance(e, Usage))
    assert usage.prompt_tokens and usage.completion_tokens
    assert usage.cost is None and usage.estimated is False


def test_price_table_gives_an_estimated_cost(sim: Any) -> None:
    usage = next(e for e in stream(sim, prices=PRICES) if isinstance(e, Usage))
    assert usage.estimated is True
    assert usage.prompt_tokens is not None and usage.completion_tokens is not None
    expected = (usage.prompt_tokens * 0.15 + usage.completion_tokens * 0.6) / 1_000_000
    assert usage.cost == pytest.approx(expected)


def test_price_for_another_model_gives_no_cost(sim: Any) -> None:
    usage = next(e for e in stream(sim, model="gpt-4o", prices=PRICES) if isinstance(e, Usage))
    assert usage.cost is None and usage.estimated is False


def test_unknown_model_error_has_the_servers_message(sim: Any) -> None:
    [event] = stream(sim, model="no-such-model")
    assert isinstance(event, StreamError) and isinstance(event.error, NotFoundError)
    assert event.error.detail == "The model `no-such-model` does not exist."


def test_wrong_key_and_rate_limit(sim: Any) -> None:
    [event] = stream(sim, key="wrong")
    assert isinstance(event, StreamError) and isinstance(event.error, AuthenticationError)
    assert "Incorrect API key" in event.error.detail
    sim.inject(Fault("status", status=429, retry_after=3))
    [event] = stream(sim)
    assert isinstance(event, StreamError) and isinstance(event.error, RateLimitError)
    assert event.error.retry_after == 3


def test_fault_mid_stream_ends_with_an_error(sim: Any) -> None:
    sim.inject(Fault("drop", after_tokens=2))
    events = stream(sim)
    assert sum(1 for e in events if isinstance(e, TextDelta)) == 2
    assert isinstance(events[-1], StreamError)


def test_account_lists_models_and_declines_the_rest(sim: Any) -> None:
    account = OpenAICompatibleAccount(settings_for(sim), prices=PRICES)
    models = account.models()
    assert "gpt-4o-mini" in models and models == sorted(models)
    assert account.has_endpoint("gpt-4o-mini") and not account.has_endpoint("nope")
    with pytest.raises(UnsupportedByGateway, match="No balance"):
        account.credits()
    with pytest.raises(UnsupportedByGateway, match="picks no provider"):
        account.providers("gpt-4o-mini")
    details = account.endpoint_details("gpt-4o-mini")
    assert (details.input_cost, details.output_cost) == (0.15, 0.6)
    with pytest.raises(UnsupportedByGateway):
        account.endpoint_details("gpt-4o")


def test_capabilities_say_what_is_missing_and_why() -> None:
    caps = capabilities_for("openai-compatible")
    assert not caps.has_balance and not caps.provider_choice and not caps.reports_cost
    assert caps.reason("has_balance") == (
        "No balance: OpenAI-compatible servers do not report credits"
    )
    assert caps.reason("provider_choice") == "This gateway picks no provider"
    assert caps.reason("listings") is None
    assert capabilities_for("unify").reason("has_balance") is None
    assert capabilities_for("openrouter").has_balance


def test_factory_builds_each_kind(sim: Any) -> None:
    for kind, url in (
        ("unify", sim.base_url),
        ("demo", sim.base_url),
        ("openrouter", sim.openrouter_base_url),
        ("openai-compatible", sim.openai_base_url),
    ):
        gateway, account = build_gateway(kind, GatewaySettings(base_url=url, api_key="test-key"))
        assert gateway.capabilities == capabilities_for(kind)
        assert account.models()


# -- one conversation, three gateways: history kept and resent -----------------------------------


def test_history_is_resent_across_unify_openai_compatible_and_back(sim: Any) -> None:
    conversation = Conversation()
    unify = GatewayProfile("demo", "demo", base_url=sim.base_url)
    local = GatewayProfile("local", "openai-compatible", base_url=sim.openai_base_url)

    async def run() -> None:
        for profile, endpoint, text in (
            (unify, "gpt-4o-mini@openai", "Hi, my name is Ada and I live in Lisbon."),
            (local, "gpt-4o-mini", "What is my name?"),
            (unify, "llama-3.1-8b-chat@together-ai", "Where do I live?"),
        ):
            connection = connect(profile, "test-key", retrying=False)
            try:
                conversation.add_user(text)
                reply = conversation.start_reply(endpoint)
                messages = conversation.api_messages()
                async for event in connection.gateway.stream_chat(endpoint, messages):
                    reply.apply(event)
                assert reply.error is None, reply.error
            finally:
                await connection.aclose()

    asyncio.run(run())
    first, second, third = (sim.requests_for(d) for d in ("unify", "openai", "unify"))
    assert len(first) == 2 and len(second) == 1
    sent_to_local = [m["content"] for m in second[0].messages]
    assert sent_to_local[0] == "Hi, my name is Ada and I live in Lisbon."
    assert sent_to_local[-1] == "What is my name?"
    assert len(sent_to_local) == 3  # user, assistant, user
    sent_back = [m["content"] for m in third[1].messages]
    assert sent_back[:3] == sent_to_local
    assert sent_back[-1] == "Where do I live?" and len(sent_back) == 5
    assert "Ada" in conversation.messages[3].content  # the local server saw the history
    assert "Lisbon" in conversation.messages[5].content
