"""RetryingGateway: retries only early 429/5xx/connection failures, with bounded backoff."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Iterator
from contextlib import aclosing
from typing import Any

import pytest

from tui_chat.core.conversation import Conversation, Outcome
from tui_chat.core.events import (
    Done,
    Retrying,
    ServedEndpoint,
    StreamError,
    StreamEvent,
    TextDelta,
    Usage,
)
from tui_chat.gateway_sim import Fault
from tui_chat.gateways.base import UNIFY_CAPABILITIES, Capabilities
from tui_chat.gateways.config import GatewaySettings
from tui_chat.gateways.errors import (
    AuthenticationError,
    BadRequestError,
    ConnectionFailed,
    GatewayError,
    InsufficientCreditsError,
    MalformedResponse,
    NoAnswer,
    NotFoundError,
    RateLimitError,
    ServerError,
    StreamInterrupted,
)
from tui_chat.gateways.retry import RetryingGateway, RetryPolicy, is_retryable
from tui_chat.gateways.unify import UnifyGateway

OK: list[StreamEvent] = [ServedEndpoint("m@p"), TextDelta("hi"), Usage(1, 1, 0.1), Done("stop")]


class ScriptedGateway:
    """A fake inner gateway: each call to stream_chat plays the next script."""

    def __init__(self, *scripts: list[StreamEvent]) -> None:
        self._scripts: Iterator[list[StreamEvent]] = iter(scripts)
        self.calls = 0
        self.closed = False

    @property
    def capabilities(self) -> Capabilities:
        return UNIFY_CAPABILITIES

    async def stream_chat(
        self, endpoint: str, messages: list[dict[str, str]], **options: Any
    ) -> AsyncGenerator[StreamEvent, None]:
        self.calls += 1
        for event in next(self._scripts):
            yield event

    async def aclose(self) -> None:
        self.closed = True


class FakeSleep:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def fail(error: GatewayError) -> list[StreamEvent]:
    return [StreamError(error)]


async def collect(gateway: Any) -> list[StreamEvent]:
    events: list[StreamEvent] = []
    stream = gateway.stream_chat("llama-3.1-8b-chat@groq", [{"role": "user", "content": "x"}])
    async with aclosing(stream):
        async for event in stream:
            events.append(event)
    return events


def run(gateway: Any) -> list[StreamEvent]:
    return asyncio.run(collect(gateway))


@pytest.mark.parametrize(
    "error",
    [
        RateLimitError("slow down", status=429),
        ServerError("boom", status=500),
        ServerError("bad gateway", status=502),
        ServerError("unavailable", status=503),
        ConnectionFailed("connection refused"),
    ],
    ids=["429", "500", "502", "503", "connection"],
)
def test_early_retryable_failure_is_retried_then_succeeds(error: GatewayError) -> None:
    inner = ScriptedGateway(fail(error), fail(error), OK)
    sleep = FakeSleep()
    events = run(RetryingGateway(inner, RetryPolicy(), sleep=sleep))
    retries = [e for e in events if isinstance(e, Retrying)]
    assert [r.attempt for r in retries] == [2, 3]
    assert all(r.max_attempts == 4 for r in retries)
    assert sleep.waits == [1.0, 2.0]  # exponential backoff
    assert events[-1] == Done("stop")
    assert not any(isinstance(e, StreamError) for e in events)
    assert inner.calls == 3


def test_backoff_doubles_and_is_capped_then_gives_up() -> None:
    error = ServerError("down", status=503)
    inner = ScriptedGateway(*(fail(error) for _ in range(6)))
    sleep = FakeSleep()
    policy = RetryPolicy(max_attempts=6, base_delay_s=1.0, max_delay_s=4.0)
    events = run(RetryingGateway(inner, policy, sleep=sleep))
    assert sleep.waits == [1.0, 2.0, 4.0, 4.0, 4.0]
    assert inner.calls == 6
    assert events[-1] == StreamError(error)


def test_retry_after_is_honoured_instead_of_backoff() -> None:
    inner = ScriptedGateway(fail(RateLimitError("wait", status=429, retry_after=3.0)), OK)
    sleep = FakeSleep()
    events = run(RetryingGateway(inner, RetryPolicy(), sleep=sleep))
    assert sleep.waits == [3.0]
    assert events[0] == Retrying(2, 4, 3.0, "429 rate limited")


def test_retry_after_longer_than_the_cap_is_not_waited_for() -> None:
    error = RateLimitError("come back tomorrow", status=429, retry_after=3600.0)
    inner = ScriptedGateway(fail(error), OK)
    sleep = FakeSleep()
    events = run(RetryingGateway(inner, RetryPolicy(max_retry_after_s=30.0), sleep=sleep))
    assert events == [StreamError(error)]
    assert sleep.waits == []
    assert inner.calls == 1


@pytest.mark.parametrize(
    "error",
    [
        AuthenticationError("bad key", status=401),
        InsufficientCreditsError("no credits", status=402),
        AuthenticationError("forbidden", status=403),
        BadRequestError("bad model", status=400),
        NotFoundError("nothing", status=404),
        BadRequestError("invalid", status=422),
        MalformedResponse("garbage"),
        StreamInterrupted("cut"),
        NoAnswer("no answer from http://127.0.0.1:9/v0 within 60 s"),
    ],
    # "no-answer": a server that takes the request and says nothing used to be waited for four
    # times over (about four minutes at the default read timeout).
    ids=["401", "402", "403", "400", "404", "422", "malformed", "interrupted", "no-answer"],
)
def test_errors_that_would_fail_again_are_not_retried(error: GatewayError) -> None:
    inner = ScriptedGateway(fail(error), OK)
    sleep = FakeSleep()
    assert run(RetryingGateway(inner, RetryPolicy(), sleep=sleep)) == [StreamError(error)]
    assert inner.calls == 1 and sleep.waits == []


def test_never_retried_after_text_arrived() -> None:
    """A 5xx after the first token is passed on: a retry could charge twice."""
    error = ServerError("provider died", status=500)
    inner = ScriptedGateway([TextDelta("partial"), StreamError(error)], OK)
    sleep = FakeSleep()
    events = run(RetryingGateway(inner, RetryPolicy(), sleep=sleep))
    assert events == [TextDelta("partial"), StreamError(error)]
    assert inner.calls == 1 and sleep.waits == []


def test_served_endpoint_before_an_early_failure_does_not_block_the_retry() -> None:
    error = ServerError("overloaded", status=503)
    inner = ScriptedGateway([ServedEndpoint("m@a"), StreamError(error)], OK)
    events = run(RetryingGateway(inner, RetryPolicy(), sleep=FakeSleep()))
    assert inner.calls == 2
    assert events[-1] == Done("stop")


def test_one_attempt_policy_never_retries() -> None:
    error = RateLimitError("slow", status=429)
    inner = ScriptedGateway(fail(error), OK)
    assert run(RetryingGateway(inner, RetryPolicy(max_attempts=1), sleep=FakeSleep())) == [
        StreamError(error)
    ]


def test_retrying_event_is_ignored_by_the_message() -> None:
    conversation = Conversation()
    conversation.add_user("hello")
    reply = conversation.start_reply("m@p")
    reply.apply(Retrying(2, 4, 1.0, "429 rate limited"))
    assert reply.content == "" and reply.outcome is None and reply.error is None
    for event in OK:
        reply.apply(event)
    assert reply.outcome is Outcome.COMPLETE and reply.content == "hi"


def test_cancelling_during_the_wait_stops_at_once() -> None:
    error = ServerError("down", status=503)
    inner = ScriptedGateway(fail(error), OK)
    wrapper = RetryingGateway(inner, RetryPolicy(base_delay_s=60.0, max_delay_s=60.0))

    async def scenario() -> list[StreamEvent]:
        seen: list[StreamEvent] = []

        async def consume() -> None:
            async for event in wrapper.stream_chat("m@p", []):
                seen.append(event)

        task = asyncio.create_task(consume())
        while not seen:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return seen

    seen = asyncio.run(scenario())
    assert isinstance(seen[0], Retrying) and seen[0].delay_s == 60.0
    assert inner.calls == 1


def test_wrapper_passes_through_capabilities_close_and_attributes() -> None:
    inner = ScriptedGateway()
    wrapper = RetryingGateway(inner)
    assert wrapper.capabilities is UNIFY_CAPABILITIES
    assert wrapper.calls == 0  # attributes of the inner gateway
    asyncio.run(wrapper.aclose())
    assert inner.closed


def test_is_retryable_classifies_status_codes() -> None:
    assert is_retryable(GatewayError("x", status=503))
    assert is_retryable(GatewayError("x", status=429))
    assert not is_retryable(GatewayError("x", status=418))
    assert not is_retryable(ServerError("provider error mid-stream", status=400))


# -- against the embedded gateway, through the real openai client -----------------------------


def test_real_429_with_retry_after_then_success(sim: Any) -> None:
    sim.inject(Fault("status", status=429, retry_after=2))
    settings = GatewaySettings(base_url=sim.base_url, api_key="test-key", timeout=5.0)
    sleep = FakeSleep()

    async def scenario() -> list[StreamEvent]:
        gateway = RetryingGateway(UnifyGateway(settings), RetryPolicy(), sleep=sleep)
        try:
            return await collect(gateway)
        finally:
            await gateway.aclose()

    events = asyncio.run(scenario())
    assert events[0] == Retrying(2, 4, 2.0, "429 rate limited")
    assert sleep.waits == [2.0]
    assert isinstance(events[-1], Done)
    assert "".join(e.text for e in events if isinstance(e, TextDelta))
    chats = [r for r in sim.requests if r.path.endswith("/chat/completions")]
    assert len(chats) == 2


def test_real_drop_mid_reply_is_not_retried(sim: Any) -> None:
    sim.inject(Fault("drop", after_tokens=3))
    settings = GatewaySettings(base_url=sim.base_url, api_key="test-key", timeout=5.0)

    async def scenario() -> list[StreamEvent]:
        gateway = RetryingGateway(UnifyGateway(settings), RetryPolicy(), sleep=FakeSleep())
        try:
            return await collect(gateway)
        finally:
            await gateway.aclose()

    events = asyncio.run(scenario())
    assert isinstance(events[-1], StreamError)
    assert isinstance(events[-1].error, StreamInterrupted)
    assert not any(isinstance(e, Retrying) for e in events)
    chats = [r for r in sim.requests if r.path.endswith("/chat/completions")]
    assert len(chats) == 1
