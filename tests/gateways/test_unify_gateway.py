"""UnifyGateway against the embedded gateway, through the real openai client and real HTTP."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from tui_chat.core.events import Done, ServedEndpoint, StreamError, StreamEvent, TextDelta, Usage
from tui_chat.gateway_sim import Fault
from tui_chat.gateways.config import GatewaySettings, SecretStr
from tui_chat.gateways.errors import (
    AuthenticationError,
    BadRequestError,
    GatewayError,
    InsufficientCreditsError,
    MalformedResponse,
    NotFoundError,
    RateLimitError,
    ServerError,
    StreamInterrupted,
)
from tui_chat.gateways.unify import UnifyAccount, UnifyGateway

ENDPOINT = "llama-2-70b-chat@anyscale"
HELLO = [{"role": "user", "content": "Hi, nice to meet you."}]

INVALID_KEY = "Invalid API key. You can generate one at https://console.unify.ai/login"
NO_CREDITS = (
    "Whoops! It seems like this account doesn't have enough credits. "
    "To get a recharge, visit https://console.unify.ai/"
)
INVALID_MODEL = (
    "Invalid model. The expected format is <model-id>@<provider>. See "
    "https://unify.ai/docs/hub/reference/endpoints.html#post-chat-completions for more information."
)
INVALID_PROVIDER = (
    "Invalid provider. It must be a valid provider name or a valid metric configuration for "
    "dynamic routing.See https://unify.ai/docs/hub/concepts/endpoints.html and "
    "https://unify.ai/docs/hub/concepts/runtime_routing.html for more information."
)
NO_PROVIDERS = "No providers found within the specified thresholds."


def settings_for(sim: Any, key: str = "test-key", timeout: float = 10.0) -> GatewaySettings:
    return GatewaySettings(base_url=sim.base_url, api_key=SecretStr(key), timeout=timeout)


async def stream(
    sim: Any, endpoint: str = ENDPOINT, messages: list[dict[str, str]] | None = None, **kw: Any
) -> list[StreamEvent]:
    gateway = UnifyGateway(settings_for(sim, **kw))
    try:
        return [event async for event in gateway.stream_chat(endpoint, messages or HELLO)]
    finally:
        await gateway.aclose()


def text_of(events: list[StreamEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def error_of(events: list[StreamEvent]) -> GatewayError:
    assert isinstance(events[-1], StreamError), events[-1]
    assert sum(isinstance(e, StreamError) for e in events) == 1
    return events[-1].error


async def test_reply_is_served_endpoint_then_text_then_usage_then_done(sim: Any) -> None:
    events = await stream(sim)
    assert events[0] == ServedEndpoint(ENDPOINT)
    assert text_of(events)
    usage, done = events[-2], events[-1]
    assert isinstance(usage, Usage) and isinstance(done, Done)
    assert usage.cost is not None and usage.cost > 0
    assert usage.prompt_tokens and usage.completion_tokens
    assert done.finish_reason == "stop"
    assert all(isinstance(e, TextDelta) for e in events[1:-2])


async def test_request_on_the_wire_asks_for_a_stream_with_usage(sim: Any) -> None:
    await stream(sim)
    body = sim.requests[-1].body
    assert body["model"] == ENDPOINT
    assert body["messages"] == HELLO
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}


async def test_routing_mode_reports_the_concrete_endpoint_that_served(sim: Any) -> None:
    events = await stream(sim, "llama-2-70b-chat@lowest-ttft")
    served = [e.endpoint for e in events if isinstance(e, ServedEndpoint)]
    assert len(served) == 1
    model, provider = served[0].split("@")
    assert model == "llama-2-70b-chat" and provider != "lowest-ttft"
    assert isinstance(events[-1], Done)


async def test_fallback_chain_reports_the_endpoint_that_answered(sim: Any) -> None:
    sim.inject(Fault("status", status=503, endpoint=ENDPOINT))
    events = await stream(sim, f"{ENDPOINT}->llama-2-70b-chat@replicate")
    assert events[0] == ServedEndpoint("llama-2-70b-chat@replicate")
    assert isinstance(events[-1], Done)


async def test_wrong_key_is_authentication_error_with_exact_detail(sim: Any) -> None:
    error = error_of(await stream(sim, key="wrong-key"))
    assert isinstance(error, AuthenticationError)
    assert (error.status, error.detail) == (401, INVALID_KEY)
    assert str(error) == f"The gateway rejected the API key (HTTP 401): {INVALID_KEY}"


async def test_no_credits_is_insufficient_credits_with_exact_detail(sim: Any) -> None:
    sim.credits = 0.0
    error = error_of(await stream(sim))
    assert isinstance(error, InsufficientCreditsError)
    assert (error.status, error.detail) == (402, NO_CREDITS)


async def test_malformed_model_is_bad_request_with_exact_detail(sim: Any) -> None:
    error = error_of(await stream(sim, "nonsense"))
    assert isinstance(error, BadRequestError)
    assert (error.status, error.detail) == (400, INVALID_MODEL)


async def test_unknown_provider_is_bad_request_with_exact_detail(sim: Any) -> None:
    error = error_of(await stream(sim, "llama-2-70b-chat@nowhere"))
    assert isinstance(error, BadRequestError)
    assert (error.status, error.detail) == (400, INVALID_PROVIDER)


async def test_thresholds_that_exclude_everything_are_not_found(sim: Any) -> None:
    error = error_of(await stream(sim, "llama-2-70b-chat@itl|input-cost<0.0001"))
    assert isinstance(error, NotFoundError)
    assert (error.status, error.detail) == (404, NO_PROVIDERS)


async def test_rate_limit_fault_carries_retry_after(sim: Any) -> None:
    sim.inject(Fault("status", status=429, retry_after=3))
    error = error_of(await stream(sim))
    assert isinstance(error, RateLimitError)
    assert error.retry_after == 3.0


@pytest.mark.parametrize(
    ("fault", "status"),
    [(Fault("html_error"), 502), (Fault("non_json_error"), 500)],
)
async def test_non_json_error_bodies_become_short_sentences(
    sim: Any, fault: Fault, status: int
) -> None:
    sim.inject(fault)
    error = error_of(await stream(sim))
    assert isinstance(error, ServerError) and error.status == status
    assert "<" not in str(error) and len(str(error)) < 200


async def test_dropped_connection_mid_reply_keeps_the_partial_text(sim: Any) -> None:
    sim.inject(Fault("drop", after_tokens=3))
    events = await stream(sim)
    assert text_of(events)
    assert isinstance(error_of(events), StreamInterrupted)


@pytest.mark.parametrize("kind", ["malformed_chunk", "truncated_chunk"])
async def test_broken_chunks_are_malformed_responses(sim: Any, kind: str) -> None:
    sim.inject(Fault(kind, after_tokens=2))
    assert isinstance(error_of(await stream(sim)), MalformedResponse)


async def test_stall_mid_reply_is_interrupted_after_the_read_timeout(sim: Any) -> None:
    sim.inject(Fault("stall", after_tokens=2, seconds=5))
    started = time.monotonic()
    events = await stream(sim, timeout=0.5)
    assert isinstance(error_of(events), StreamInterrupted)
    assert time.monotonic() - started < 3


@pytest.mark.parametrize("kind", ["empty_choices", "tool_calls"])
async def test_odd_but_valid_chunks_do_not_break_the_reply(sim: Any, kind: str) -> None:
    sim.inject(Fault(kind, after_tokens=1))
    events = await stream(sim)
    assert isinstance(events[-1], Done)
    assert isinstance(events[-2], Usage)


@pytest.mark.parametrize("control", ["close_delimited", "omit_stream_content_type"])
async def test_2024_style_streams_are_read_to_the_end(sim: Any, control: str) -> None:
    setattr(sim.controls, control, True)
    events = await stream(sim)
    assert isinstance(events[-2], Usage) and isinstance(events[-1], Done)


async def test_huge_chunk_arrives_whole(sim: Any) -> None:
    sim.inject(Fault("huge_chunk", after_tokens=1, size=200_000))
    events = await stream(sim)
    assert isinstance(events[-1], Done)
    assert len(text_of(events)) >= 200_000


async def test_time_to_first_token_is_recorded(sim: Any) -> None:
    sim.controls.ttft_s = 0.2
    done = (await stream(sim))[-1]
    assert isinstance(done, Done) and done.ttft_ms is not None and done.duration_ms is not None
    assert 150 <= done.ttft_ms <= done.duration_ms


@pytest.mark.serial  # a wall-clock limit
async def test_cancellation_mid_stream_propagates_promptly(sim: Any) -> None:
    sim.controls.token_delay_s = 0.02
    sim.controls.reply_tokens = 2000
    gateway = UnifyGateway(settings_for(sim))
    received: list[str] = []
    first = asyncio.Event()

    async def consume() -> None:
        async for event in gateway.stream_chat(ENDPOINT, HELLO):
            if isinstance(event, TextDelta):
                received.append(event.text)
                first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), 5)
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - started < 0.5
    assert 0 < len(received) < 2000
    # The gateway stays usable after a cancelled reply.
    sim.controls.token_delay_s = 0.0
    sim.controls.reply_tokens = None
    events = [event async for event in gateway.stream_chat(ENDPOINT, HELLO)]
    assert isinstance(events[-1], Done)
    await gateway.aclose()


async def test_error_after_a_streamed_reply_on_the_same_connection_is_answered(sim: Any) -> None:
    gateway = UnifyGateway(settings_for(sim, timeout=5))
    try:
        outcomes = []
        for endpoint in (ENDPOINT, "nonsense", ENDPOINT, "llama-2-70b-chat@nowhere"):
            events = [event async for event in gateway.stream_chat(endpoint, HELLO)]
            last = events[-1]
            outcomes.append(type(last.error if isinstance(last, StreamError) else last).__name__)
    finally:
        await gateway.aclose()
    assert outcomes == ["Done", "BadRequestError", "Done", "BadRequestError"]


async def test_spent_credits_match_the_reported_cost(sim: Any) -> None:
    account = UnifyAccount(settings_for(sim))
    before = await asyncio.to_thread(account.credits)
    events = await stream(sim)
    usage = next(e for e in events if isinstance(e, Usage))
    after = await asyncio.to_thread(account.credits)
    assert usage.cost is not None
    assert before - after == pytest.approx(usage.cost, abs=1e-9)
