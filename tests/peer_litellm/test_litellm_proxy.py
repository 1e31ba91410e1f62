"""Our OpenAI-compatible gateway through a real LiteLLM proxy, relaying to the embedded gateway.

Each test drives the product's own gateway (built by ``gateways.factory``) or the seed's
``Agent`` at the proxy's ``/v1`` and asserts the typed events it yields. The proxy's upstream is
the embedded gateway's plain OpenAI dialect, whose replies are deterministic, so what came
through the proxy can be compared with what the upstream says directly.
"""

from __future__ import annotations

import asyncio
import io
import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from tests.peer_litellm.conftest import MASTER_KEY, MODELS, LiteLLMProxy
from tui_chat import Agent
from tui_chat.config import GatewayProfile, ModelPrice
from tui_chat.connection import connect
from tui_chat.core.events import Done, ServedEndpoint, StreamError, StreamEvent, TextDelta, Usage
from tui_chat.gateway_sim import Fault
from tui_chat.gateways.config import GatewaySettings
from tui_chat.gateways.errors import (
    AuthenticationError,
    BadRequestError,
    MissingAPIKeyError,
    RateLimitError,
    from_response,
)
from tui_chat.gateways.factory import build_gateway

# One proxy per process: in a parallel run (--dist loadgroup) these share one worker.
pytestmark = [pytest.mark.peer, pytest.mark.xdist_group("litellm-proxy"), pytest.mark.timeout(300)]

HELLO = [{"role": "user", "content": "Hi, my name is Ada."}]
INTRODUCTION = "Hi, nice to meet you. My name is Foo Barrymore, and I am 25 years old."


def events_from(base_url: str, key: str, model: str, **gateway: Any) -> list[StreamEvent]:
    """Every event of one streamed reply from our OpenAI-compatible gateway at ``base_url``."""
    settings = GatewaySettings(base_url=base_url, api_key=key, timeout=30.0)
    client, account = build_gateway("openai-compatible", settings, **gateway)
    account.close()

    async def collect() -> list[StreamEvent]:
        try:
            return [event async for event in client.stream_chat(model, HELLO)]
        finally:
            await client.aclose()

    return asyncio.run(collect())


def through(proxy: LiteLLMProxy, model: str = "gpt-4o-mini", **gateway: Any) -> list[StreamEvent]:
    return events_from(proxy.base_url, proxy.key, model, **gateway)


def direct(proxy: LiteLLMProxy, model: str) -> list[StreamEvent]:
    """The same request straight to the proxy's upstream (the embedded gateway)."""
    return events_from(proxy.sim.openai_base_url, "test-key", model)


def text_of(events: list[StreamEvent]) -> str:
    return "".join(event.text for event in events if isinstance(event, TextDelta))


def only(events: list[StreamEvent], kind: type[Any]) -> Any:
    [event] = [event for event in events if isinstance(event, kind)]
    return event


def raw_stream(proxy: LiteLLMProxy, model: str = "gpt-4o-mini") -> tuple[dict[str, str], list[Any]]:
    """The proxy's own response headers and SSE messages (JSON objects, then "[DONE]")."""
    body = json.dumps(
        {
            "model": model,
            "stream": True,
            "stream_options": {"include_usage": True},
            "messages": HELLO,
        }
    ).encode()
    request = urllib.request.Request(
        proxy.base_url + "/chat/completions",
        data=body,
        headers={"Authorization": f"Bearer {proxy.key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        headers = {name.lower(): value for name, value in response.headers.items()}
        text = response.read().decode()
    messages: list[Any] = []
    for line in text.splitlines():
        if line.startswith("data:"):
            data = line[5:].strip()
            messages.append(data if data == "[DONE]" else json.loads(data))
    return headers, messages


def test_a_streamed_reply_ends_with_done_and_the_upstreams_usage(proxy: LiteLLMProxy) -> None:
    events = through(proxy)
    upstream = direct(proxy, "gpt-4o-mini")
    assert not [event for event in events if isinstance(event, StreamError)], events
    assert isinstance(events[-1], Done) and events[-1].finish_reason == "stop"
    assert isinstance(events[-2], Usage)  # the one Usage, just before Done
    assert events[0] == ServedEndpoint("gpt-4o-mini")
    assert "Ada" in text_of(events)
    assert text_of(events) == text_of(upstream)
    usage, expected = only(events, Usage), only(upstream, Usage)
    assert (usage.prompt_tokens, usage.completion_tokens) == (
        expected.prompt_tokens,
        expected.completion_tokens,
    )
    assert usage.prompt_tokens and usage.completion_tokens
    # LiteLLM asked its upstream for the usage too, with the model it maps the name to.
    sent = proxy.sim.requests_for("openai")[-2]  # [-1] is the direct request
    assert sent.model == "gpt-4o-mini"
    assert sent.first["stream_options"] == {"include_usage": True}


def test_litellms_usage_chunk_with_a_choice_adds_no_text_and_no_error(
    proxy: LiteLLMProxy,
) -> None:
    _headers, messages = raw_stream(proxy)
    assert messages[-1] == "[DONE]"
    with_usage = [m for m in messages[:-1] if m.get("usage")]
    # What makes LiteLLM differ from OpenAI: its usage chunk is not `choices: []`.
    assert len(with_usage) == 1 and with_usage[0]["choices"] == [{"index": 0, "delta": {}}]
    sent_text = "".join(
        choice["delta"].get("content") or ""
        for message in messages[:-1]
        for choice in message["choices"]
    )
    events = through(proxy)
    assert text_of(events) == sent_text  # every piece once, nothing added by the usage chunk
    assert not [event for event in events if isinstance(event, StreamError)]
    assert [type(event) for event in events[-2:]] == [Usage, Done]


def test_the_cost_litellm_reports_in_usage_is_the_cost_we_report(proxy: LiteLLMProxy) -> None:
    headers, messages = raw_stream(proxy)
    [reported] = [m["usage"]["cost"] for m in messages[:-1] if m.get("usage")]
    # A stream's headers go out before the reply is priced: LiteLLM's cost header says 0 there.
    assert float(headers.get("x-litellm-response-cost-original", "0")) == 0.0
    usage = only(through(proxy), Usage)
    assert reported > 0
    assert usage.cost == pytest.approx(reported)
    assert usage.estimated is False  # the proxy's own figure, not our estimate
    # LiteLLM's price for gpt-4o-mini ($0.15 / $0.60 per M tokens), on the upstream's tokens.
    assert usage.prompt_tokens is not None and usage.completion_tokens is not None
    expected = (usage.prompt_tokens * 0.15 + usage.completion_tokens * 0.6) / 1_000_000
    assert usage.cost == pytest.approx(expected)


def test_a_price_table_does_not_replace_the_proxys_cost(proxy: LiteLLMProxy) -> None:
    prices = {"gpt-4o-mini": ModelPrice(input=100.0, output=100.0)}
    usage = only(through(proxy, prices=prices), Usage)
    assert usage.estimated is False
    assert usage.prompt_tokens is not None and usage.completion_tokens is not None
    ours = (usage.prompt_tokens + usage.completion_tokens) * 100.0 / 1_000_000
    assert usage.cost is not None and usage.cost < ours / 100


def test_the_model_list_is_litellms_model_names(proxy: LiteLLMProxy) -> None:
    settings = GatewaySettings(base_url=proxy.base_url, api_key=proxy.key, timeout=30.0)
    _gateway, account = build_gateway("openai-compatible", settings)
    try:
        assert account.models() == sorted(MODELS)
        assert account.endpoints() == sorted(MODELS)
        assert account.has_endpoint("gpt-4o@openai")
        assert not account.has_endpoint("gpt-4o")  # the upstream's name is not the proxy's
    finally:
        account.close()


def test_a_model_name_with_an_at_sign_works_end_to_end(proxy: LiteLLMProxy) -> None:
    events = through(proxy, "gpt-4o@openai")
    assert not [event for event in events if isinstance(event, StreamError)], events
    assert events[0] == ServedEndpoint("gpt-4o@openai")
    assert text_of(events) == text_of(direct(proxy, "gpt-4o"))
    assert isinstance(events[-1], Done) and events[-1].finish_reason == "stop"
    assert only(events, Usage).cost > 0
    # The proxy sent the upstream its own name for the model, sent by us as typed.
    assert proxy.sim.requests_for("openai")[-2].model == "gpt-4o"


def test_an_upstream_429_is_our_rate_limit_error_with_its_message(proxy: LiteLLMProxy) -> None:
    proxy.sim.inject(Fault("status", status=429, detail="Slow down, the sim says.", times=None))
    [event] = through(proxy)
    assert isinstance(event, StreamError) and isinstance(event.error, RateLimitError)
    assert event.error.status == 429
    assert "Slow down, the sim says." in event.error.detail
    assert "Slow down, the sim says." in str(event.error)


def test_an_upstream_429s_retry_after_reaches_our_error(proxy: LiteLLMProxy) -> None:
    # LiteLLM relays the upstream's Retry-After only as `llm_provider-retry-after`; it used to be
    # lost, and our retry waited its own delay instead of the 3 s asked for.
    proxy.sim.inject(Fault("status", status=429, retry_after=3, times=None))
    [event] = through(proxy)
    assert isinstance(event, StreamError) and isinstance(event.error, RateLimitError)
    assert event.error.retry_after == 3


def test_the_master_key_opens_the_proxy_and_no_key_is_our_auth_error(
    proxy: LiteLLMProxy,
) -> None:
    request = urllib.request.Request(
        proxy.base_url + "/chat/completions",
        data=json.dumps({"model": "gpt-4o-mini", "messages": HELLO}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 401
    # Our gateway and account never send a request without a key (require_key), so the proxy's
    # refusal is read the way they read every error response: it is our AuthenticationError.
    error = from_response(401, refused.value.read(), refused.value.headers)
    assert isinstance(error, AuthenticationError)
    assert "No api key passed in." in error.detail
    assert isinstance(through(proxy)[-1], Done)  # the master key itself works


def test_a_wrong_key_gets_litellms_no_database_answer(proxy: LiteLLMProxy) -> None:
    # Without a database LiteLLM cannot look a virtual key up, and says so with a 400.
    [event] = events_from(proxy.base_url, "sk-not-the-master-key", "gpt-4o-mini")
    assert isinstance(event, StreamError) and isinstance(event.error, BadRequestError)
    assert event.error.status == 400
    assert "No connected db." in event.error.detail


def test_a_local_server_that_needs_a_key_says_so_when_none_is_set(proxy: LiteLLMProxy) -> None:
    # Regression: a 127.0.0.1 server got the placeholder `Bearer no-key` and answered about that
    # made-up key (LiteLLM: 400 `No connected db.`). A profile with needs_key = true is asked for
    # a key before anything is sent, and the key it is given works.
    profile = GatewayProfile(
        "litellm", "openai-compatible", base_url=proxy.base_url, key_env="", needs_key=True
    )
    with pytest.raises(MissingAPIKeyError):
        connect(profile, None, retrying=False, timeout=30.0)
    connection = connect(profile, MASTER_KEY, retrying=False, timeout=30.0)

    async def collect() -> list[StreamEvent]:
        try:
            return [event async for event in connection.gateway.stream_chat("gpt-4o-mini", HELLO)]
        finally:
            await connection.aclose()

    assert isinstance(asyncio.run(collect())[-1], Done)


def test_the_seed_agent_talks_through_the_proxy(proxy: LiteLLMProxy) -> None:
    settings = GatewaySettings(base_url=proxy.base_url, api_key=MASTER_KEY, timeout=30.0)
    gateway, account = build_gateway("openai-compatible", settings)
    account.close()
    out = io.StringIO()
    agent = Agent(
        "gpt-4o@openai",
        gateway=gateway,
        gateway_kind="openai-compatible",
        stdin=io.StringIO(f"{INTRODUCTION}\nHow old am I?\nquit\n"),
        stdout=out,
    )
    with agent:
        agent.run(show_credits=True, show_provider=True)
    text = out.getvalue()
    assert "Error" not in text
    assert "25" in text.split("> ")[2]  # the history went through the proxy too
    assert "(provider: openai)" in text
    assert "(spent " in text
    assert len(proxy.sim.requests_for("openai")[-1].messages) == 3


def test_the_proxy_reached_nothing_beyond_loopback(proxy: LiteLLMProxy) -> None:
    through(proxy)  # at least one relayed reply, whatever ran before
    assert proxy.guarded  # the proxy process ran under the loopback-only guard
    assert proxy.outside_calls() == []
    log = proxy.log.read_text(encoding="utf-8", errors="replace")
    assert "unify-tui peer guard" not in log
    assert "Uvicorn running on http://127.0.0.1:" in log


async def test_in_the_app_the_master_key_is_asked_for_and_the_proxys_cost_shown(
    proxy: LiteLLMProxy,
) -> None:
    # The whole road a person takes: a profile saying needs_key = true, the key dialog at
    # start-up, the master key typed in it, a reply through the proxy with its exact cost.
    from tests.app.conftest import APP_SIZE, send, wait_for_reply, wait_until
    from tui_chat.connection import PendingConnection
    from tui_chat.core.conversation import Outcome
    from tui_chat.gateways.config import SecretStr
    from tui_chat.ui.app import UnifyTUI
    from tui_chat.ui.screens.key_entry import KeyEntryScreen

    profile = GatewayProfile(
        "litellm", "openai-compatible", base_url=proxy.base_url, key_env="", needs_key=True
    )

    def connector(key: SecretStr | None) -> tuple[Any, Any]:
        connection = connect(profile, key, retrying=False, timeout=30.0)
        return connection.gateway, connection.account

    app = UnifyTUI(
        gateway=None,
        account=None,
        model="gpt-4o-mini",
        gateway_label=profile.label,
        profiles={"litellm": profile},
        profile_name="litellm",
        pending_connection=PendingConnection(
            profile=profile, base_url=proxy.base_url, connect=connector, label=profile.label
        ),
    )
    async with app.run_test(size=APP_SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, KeyEntryScreen), what="dialog")
        await pilot.press(*MASTER_KEY)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.gateway is not None, what="connected")
        await send(pilot, HELLO[0]["content"])
        await wait_for_reply(pilot, timeout=60)
        reply = app.conversation.messages[-1]
        assert reply.outcome is Outcome.COMPLETE and reply.content
        assert reply.cost is not None and reply.cost > 0 and not reply.cost_estimated
        assert f"Chat {reply.cost:.6f}" in app.status.text  # exact: no "~"
        assert "Balance n/a" in app.status.text
        assert MASTER_KEY not in app.export_screenshot()
