"""Figures and text from the wire are checked before anything shows, sums or resends them:
NaN, negative or absurd costs and counts are unknown, and a lone surrogate is made valid."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.gateways.scripted_server import ScriptedServer, chunk, sse, stream_script, whole_response
from tui_chat.core.conversation import Conversation
from tui_chat.core.events import Done, StreamEvent, TextDelta, Usage
from tui_chat.gateways.config import GatewaySettings, SecretStr
from tui_chat.gateways.errors import MalformedResponse
from tui_chat.gateways.json_values import MAX_COST, MAX_TOKENS, as_balance, as_cost, as_token_count
from tui_chat.gateways.streaming import parse_usage
from tui_chat.gateways.unify import UnifyAccount, UnifyGateway

MESSAGES = [{"role": "user", "content": "Hi"}]


def _gateway(server: ScriptedServer) -> UnifyGateway:
    return UnifyGateway(
        GatewaySettings(base_url=server.base_url, api_key=SecretStr("test-key"), timeout=5.0)
    )


async def _collect(gateway: UnifyGateway) -> list[StreamEvent]:
    try:
        return [event async for event in gateway.stream_chat("m@p", MESSAGES)]
    finally:
        await gateway.aclose()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"cost": NaN, "prompt_tokens": 3, "completion_tokens": 4}', (3, 4, None)),
        ('{"cost": -5.5, "prompt_tokens": 3, "completion_tokens": 4}', (3, 4, None)),
        ('{"cost": 1e300, "prompt_tokens": 3, "completion_tokens": 4}', (3, 4, None)),
        ('{"cost": Infinity, "completion_tokens": 1e20}', None),
        (
            '{"cost": 0.25, "prompt_tokens": -1, "completion_tokens": 100000000000000000000}',
            (None, None, 0.25),
        ),
        ('{"cost": "0.5", "prompt_tokens": 2.0, "completion_tokens": true}', (2, None, 0.5)),
        ('{"cost": 0, "prompt_tokens": 0, "completion_tokens": 0}', (0, 0, 0.0)),
    ],
)
def test_usage_figures_out_of_range_are_unknown(
    raw: str, expected: tuple[int | None, int | None, float | None] | None
) -> None:
    usage = parse_usage(json.loads(raw))
    if expected is None:
        assert usage is None
    else:
        assert usage is not None
        assert (usage.prompt_tokens, usage.completion_tokens, usage.cost) == expected


@given(st.one_of(st.floats(), st.integers(), st.text(max_size=8), st.booleans(), st.none()))
def test_a_checked_figure_is_finite_and_in_range_or_unknown(value: Any) -> None:
    cost = as_cost(value)
    assert cost is None or (math.isfinite(cost) and 0 <= cost <= MAX_COST)
    count = as_token_count(value)
    assert count is None or (isinstance(count, int) and 0 <= count <= MAX_TOKENS)
    balance = as_balance(value)
    assert balance is None or math.isfinite(balance)


async def test_a_nan_cost_in_a_stream_never_reaches_the_conversation_total(
    scripted: ScriptedServer,
) -> None:
    # Regression: "nan credits" on screen and a conversation total stuck at nan; a negative cost
    # added headroom under the spend cap.
    for cost in ("NaN", "-5.5"):
        usage = f'{{"prompt_tokens": 3, "completion_tokens": 2, "cost": {cost}}}'
        body = json.dumps(chunk("hi", finish_reason="stop")).replace(
            '"usage": {}', f'"usage": {usage}'
        )
        scripted.script(*stream_script([sse(body), b"data: [DONE]\n\n"]))
        events = await _collect(_gateway(scripted))
        conversation = Conversation()
        conversation.add_user("Hi")
        reply = conversation.start_reply("m@p")
        for event in events:
            reply.apply(event)
        assert isinstance(events[-1], Done)
        assert reply.cost is None and reply.completion_tokens == 2
        assert conversation.total_cost == 0.0


async def test_a_lone_surrogate_in_a_reply_does_not_break_the_next_request(
    scripted: ScriptedServer,
) -> None:
    # Regression: "\ud800" in one reply made every later send fail with UnicodeEncodeError.
    raw = json.dumps(chunk("half", finish_reason=None)).replace("half", "a\\ud800b")
    scripted.script(
        *stream_script([sse(raw), sse(chunk(finish_reason="stop")), b"data: [DONE]\n\n"])
    )
    events = await _collect(_gateway(scripted))
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text == "a\ufffdb"
    conversation = Conversation()
    conversation.add_user("Hi")
    reply = conversation.start_reply("m@p")
    for event in events:
        reply.apply(event)
    conversation.add_user("And?")
    scripted.script(*stream_script([sse(chunk("ok", finish_reason="stop")), b"data: [DONE]\n\n"]))
    gateway = _gateway(scripted)
    try:
        second = [e async for e in gateway.stream_chat("m@p", conversation.api_messages())]
    finally:
        await gateway.aclose()
    assert isinstance(second[-1], Done)
    sent = scripted.requests[-1]["body"]
    assert sent["messages"][1]["content"] == "a\ufffdb"


@pytest.mark.parametrize("credits", ["NaN", "Infinity", "1e300"])
def test_a_balance_that_is_no_number_is_malformed_not_shown(
    scripted: ScriptedServer, credits: str
) -> None:
    # Regression: "Balance nan" in the status bar.
    scripted.script(*whole_response(200, f'{{"id": "u", "credits": {credits}}}'))
    settings = GatewaySettings(base_url=scripted.base_url, api_key=SecretStr("k"), timeout=5)
    with pytest.raises(MalformedResponse):
        UnifyAccount(settings).credits()


def test_usage_event_type_is_unchanged_for_good_figures() -> None:
    assert parse_usage({"prompt_tokens": 1, "completion_tokens": 2, "cost": 3e-06}) == Usage(
        prompt_tokens=1, completion_tokens=2, cost=3e-06
    )
